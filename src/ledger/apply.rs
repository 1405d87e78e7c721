//! Applying an approved purge plan or disposal order, in steps that a client drives
//! through a daemon exactly as the CLI does in process ([`apply_with`] over a [`Host`]):
//!
//! 1. the host re-checks every record the authority names and lists the ones to change
//!    now ([`Targets`]): still there, not disposed, under no hold and, for a plan, still
//!    eligible under the plan's schedule today; the others are reported;
//! 2. the applier checks that list against the authority's document (every record is
//!    named there, for this action) and signs one `disposal` (or, for a seal order,
//!    `record.seal`) change per record, appended in batches of [`BATCH`], each durable
//!    before the next (each disposal leaves a pending-destruction row in its own batch);
//! 3. the host destroys the data of every pending record of this authority in one pass
//!    (`Ledger::destroy_data`: one epoch rotation), clears the pending rows and, when
//!    the authority is done, keeps the certificate document ([`Finish`]);
//! 4. the applier checks the certificate names this authority and the applier, and
//!    signs its `certificate` entry.
//!
//! Invariants: the host's append rules (`batch/disposition.rs`) make every step safe
//! whoever drives it; the applier's checks mean a host cannot make it sign a change the
//! authority's document does not call for. Resumable: applying again skips records
//! already disposed of, finishes pending destruction and certifies; a certified
//! authority is never applied again.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::docs::{CertificateDoc, NotDisposed, OrderDoc, PlanDoc, CERTIFICATE_FORMAT};
use super::purge::Applied;
use super::state::RecordState;
use super::{Draft, KeyState, LedgerError, Outcome, Submission};
use crate::format::{Action, Change, DisposalKind, Entry};

/// Changes per durable append while applying: as many as one request may carry.
pub const BATCH: usize = crate::api::MAX_BATCH;

/// What an authority calls for now (step 1).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Targets {
    #[serde(with = "hex::serde")]
    pub authority: [u8; 16],
    /// `purge-plan` or `disposal-order`.
    pub record_type: String,
    /// BLAKE3 of the authority's document.
    #[serde(with = "hex::serde")]
    pub document: [u8; 32],
    /// `destroy`, `expunge` or `seal`.
    pub action: String,
    /// The certificate's entry, if the authority was already applied and certified.
    pub certified: Option<u64>,
    /// Records to change now (hex ids), in the document's order.
    pub records: Vec<String>,
    pub already_disposed: u64,
    pub not_disposed: Vec<NotDisposed>,
    /// Plan records whose disposition is a transfer (`archive transfer` takes them).
    pub transfer_pending: u64,
}

/// What the host did after the changes (step 3).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Finish {
    /// Records whose data was destroyed now.
    pub destroyed: u64,
    /// The certificate to sign, if the authority is done.
    pub certificate: Option<Offered>,
}

/// A document the host kept, for the applier to check and commit to.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Offered {
    #[serde(with = "hex::serde")]
    pub document: [u8; 32],
    /// The document's exact bytes (JSON text); `document` is their BLAKE3.
    pub text: String,
}

/// Where an apply runs: the ledger in process, or a daemon (`crate::client`).
pub trait Host {
    type Error: From<LedgerError>;
    fn targets(&self, authority: &[u8; 16]) -> Result<Targets, Self::Error>;
    fn document(&self, hash: &[u8; 32]) -> Result<Vec<u8>, Self::Error>;
    /// The states of `ids`, in that order.
    fn states(&self, ids: &[[u8; 16]]) -> Result<Vec<RecordState>, Self::Error>;
    /// The stored bytes of entry `seq`.
    fn entry(&self, seq: u64) -> Result<Vec<u8>, Self::Error>;
    /// Every registered key.
    fn keys(&self) -> Result<Vec<KeyState>, Self::Error>;
    /// The applier's person id.
    fn person(&self) -> Result<String, Self::Error>;
    fn sign_all(&self, drafts: Vec<Draft>) -> Result<Vec<Submission>, Self::Error>;
    /// Appends durably; the outcomes in order.
    fn append(&mut self, subs: Vec<Submission>) -> Result<Vec<Outcome>, Self::Error>;
    fn finish(&mut self, authority: &[u8; 16]) -> Result<Finish, Self::Error>;
}

fn invalid(what: impl std::fmt::Display) -> LedgerError {
    LedgerError::Invalid(what.to_string())
}

fn parse_id(s: &str) -> Result<[u8; 16], LedgerError> {
    crate::crypto::parse_hex(s).ok_or_else(|| invalid(format!("{s:?} is not a record id")))
}

/// What the applier checked of an authority before signing anything for it.
struct Checked {
    /// The records its document names for this action.
    named: HashSet<String>,
    /// An order's court order reference.
    court_order: String,
    /// The document's ledger origin.
    origin: String,
}

/// Applies an approved plan or order through `host` (module doc); `progress(done, total)`.
pub fn apply_with<H: Host>(
    host: &mut H,
    id: &[u8; 16],
    progress: &dyn Fn(u64, u64),
) -> Result<Applied, H::Error> {
    let t = host.targets(id)?;
    let mut out = Applied {
        authority: hex::encode(id),
        disposed_now: 0,
        already_disposed: t.already_disposed,
        not_disposed: t.not_disposed.clone(),
        transfer_pending: t.transfer_pending,
        sealed: 0,
        certificate: None,
        certificate_seq: None,
    };
    if let Some(seq) = t.certified {
        // Only finish a destruction a crash interrupted.
        host.finish(id)?;
        return Err(invalid(format!(
            "{} {} was already applied and certified at entry {seq}",
            t.record_type,
            hex::encode(id)
        ))
        .into());
    }
    let checked = check_targets(host, id, &t)?;
    let kind = disposal_kind(&t.action)?;
    let total = sign_changes(host, id, &t, kind, &checked.court_order, progress)?;
    if kind.is_none() {
        // A seal order: no destruction, no certificate.
        out.sealed = total;
        return Ok(out);
    }
    out.disposed_now = total;
    let f = host.finish(id)?;
    let Some(offer) = f.certificate else {
        // An order some hold keeps back stays open.
        return Ok(out);
    };
    let cert = check_certificate(host, id, &t, &checked, &offer)?;
    let st = authority_state(host, id, &t.record_type)?;
    let d = Draft::for_record(
        &st,
        Action::Certificate {
            document: offer.document,
        },
    )?;
    let subs = host.sign_all(vec![d])?;
    let outcomes = host.append(subs)?;
    out.not_disposed = cert.not_disposed;
    out.certificate = Some(hex::encode(offer.document));
    out.certificate_seq = Some(
        outcomes
            .first()
            .ok_or_else(|| invalid("the certificate change was not answered"))?
            .seq(),
    );
    Ok(out)
}

/// Signs and appends one change per target (`disposal`, or `record.seal` with the court
/// order as its side document), [`BATCH`] at a time; returns how many.
fn sign_changes<H: Host>(
    host: &mut H,
    id: &[u8; 16],
    t: &Targets,
    kind: Option<DisposalKind>,
    court_order: &str,
    progress: &dyn Fn(u64, u64),
) -> Result<u64, H::Error> {
    let ids = t
        .records
        .iter()
        .map(|r| parse_id(r))
        .collect::<Result<Vec<_>, _>>()?;
    let side = match kind {
        Some(_) => None,
        None => Some(
            serde_json::to_vec(&serde_json::json!({ "court_order": court_order }))
                .map_err(invalid)?,
        ),
    };
    let total = ids.len() as u64;
    let mut done = 0u64;
    for chunk in ids.chunks(BATCH) {
        let states = host.states(chunk)?;
        if states.len() != chunk.len() {
            return Err(invalid("the host answered for other records than asked").into());
        }
        let drafts = chunk
            .iter()
            .zip(states)
            .map(|(rid, st)| {
                if st.id != *rid {
                    return Err(invalid(format!(
                        "asked for record {}, got {}",
                        hex::encode(rid),
                        hex::encode(st.id)
                    )));
                }
                let action = match kind {
                    Some(kind) => Action::Disposal {
                        kind,
                        authority: *id,
                    },
                    None => Action::RecordSeal,
                };
                let mut d = Draft::for_record(&st, action)?;
                d.side_doc = side.clone();
                Ok(d)
            })
            .collect::<Result<Vec<_>, LedgerError>>()?;
        let subs = host.sign_all(drafts)?;
        host.append(subs)?;
        done += chunk.len() as u64;
        progress(done, total);
    }
    Ok(total)
}

fn disposal_kind(action: &str) -> Result<Option<DisposalKind>, LedgerError> {
    match action {
        "destroy" => Ok(Some(DisposalKind::Destroy)),
        "expunge" => Ok(Some(DisposalKind::Expunge)),
        "seal" => Ok(None),
        a => Err(invalid(format!("unknown disposition action {a:?}"))),
    }
}

/// The authority's state, checked to be the record asked for, of the kind expected.
fn authority_state<H: Host>(host: &H, id: &[u8; 16], kind: &str) -> Result<RecordState, H::Error> {
    Ok(host
        .states(&[*id])?
        .pop()
        .filter(|s| s.id == *id && s.record_type == kind)
        .ok_or_else(|| invalid(format!("{} is not a {kind}", hex::encode(id))))?)
}

/// The applier's check of step 1, before anything is signed: the authority's making and
/// approving entries are validly signed changes on it by two registered people and
/// commit to the document offered; the document is those bytes; every target is named
/// there, once, for this action.
fn check_targets<H: Host>(host: &H, id: &[u8; 16], t: &Targets) -> Result<Checked, H::Error> {
    let auth = authority_state(host, id, &t.record_type)?;
    if t.authority != *id || auth.document != Some(t.document) {
        return Err(invalid("the targets are not for this authority's document").into());
    }
    check_authority_entries(host, &auth, &t.document)?;
    let bytes = host.document(&t.document)?;
    if *blake3::hash(&bytes).as_bytes() != t.document {
        return Err(invalid("the authority's document does not match its hash").into());
    }
    let checked = match t.record_type.as_str() {
        "purge-plan" => {
            let plan: PlanDoc = serde_json::from_slice(&bytes).map_err(invalid)?;
            if t.action != "destroy" {
                return Err(invalid("a purge plan only destroys").into());
            }
            let named = plan
                .records
                .into_iter()
                .filter(|e| e.disposition == "destroy");
            Checked {
                named: named.map(|e| e.record).collect(),
                court_order: String::new(),
                origin: plan.origin,
            }
        }
        "disposal-order" => {
            let order: OrderDoc = serde_json::from_slice(&bytes).map_err(invalid)?;
            if order.action != t.action {
                return Err(
                    invalid(format!("the order says {}, not {}", order.action, t.action)).into(),
                );
            }
            Checked {
                named: order.records.into_iter().collect(),
                court_order: order.court_order,
                origin: order.origin,
            }
        }
        k => return Err(invalid(format!("{k} is not a plan or order")).into()),
    };
    let mut seen = HashSet::new();
    for r in &t.records {
        if !checked.named.contains(r) || !seen.insert(r) {
            return Err(invalid(format!(
                "record {r} is not named (once) by {} {} for {}; nothing signed",
                t.record_type,
                hex::encode(id),
                t.action
            ))
            .into());
        }
    }
    Ok(checked)
}

/// The entries that made and approved the authority, read and checked here rather than
/// taken from the host's state: each decodes, is at its sequence number, is a change on
/// this record with a valid signature, and commits to `document`; their signers are
/// registered keys of two different people. (The key list is still the host's word; an
/// auditor's `verify` checks the whole chain.)
pub(crate) fn check_authority_entries<H: Host>(
    host: &H,
    auth: &RecordState,
    document: &[u8; 32],
) -> Result<(), H::Error> {
    let approval = auth
        .approved
        .as_ref()
        .ok_or_else(|| invalid(format!("{} is not approved", hex::encode(auth.id))))?;
    let made = signed_change(host, auth.first_seq, &auth.id)?;
    let approved = signed_change(host, approval.seq, &auth.id)?;
    let commits = match (&made.action, &approved.action) {
        (Action::PurgePlan { document: a, .. }, Action::PurgeApprove { document: b })
        | (Action::OrderRecord { document: a }, Action::OrderApprove { document: b }) => {
            a == document && b == document
        }
        _ => false,
    };
    if !commits {
        return Err(invalid(format!(
            "entries {} and {} do not make and approve the document offered; nothing signed",
            auth.first_seq, approval.seq
        ))
        .into());
    }
    let keys = host.keys()?;
    let person = |k: &[u8; 32]| keys.iter().find(|s| s.key == *k).map(|s| s.person.clone());
    match (person(&made.actor), person(&approved.actor)) {
        (Some(a), Some(b)) if a != b => Ok(()),
        _ => Err(invalid(format!(
            "entries {} and {} are not signed by two registered people; nothing signed",
            auth.first_seq, approval.seq
        ))
        .into()),
    }
}

/// Entry `seq`'s change, checked to be on `record` and validly signed by its actor.
fn signed_change<H: Host>(host: &H, seq: u64, record: &[u8; 16]) -> Result<Change, H::Error> {
    let bytes = host.entry(seq)?;
    let e = Entry::decode(&bytes).map_err(|e| invalid(format!("entry {seq}: {e}")))?;
    let sc = &e.signed;
    let ok = e.seq == seq
        && sc.change.record == *record
        && crate::crypto::verify_change(&sc.change.actor, sc.change_bytes(), &sc.signature());
    if !ok {
        return Err(invalid(format!(
            "entry {seq} is not a signed change on record {}; nothing signed",
            hex::encode(record)
        ))
        .into());
    }
    Ok(e.signed.change)
}

/// The applier's check of step 3: the certificate is the document its hash says, in the
/// certificate format, for this ledger, authority and document, applied by the applier,
/// and lists only records the authority names, once each, counted right.
fn check_certificate<H: Host>(
    host: &H,
    id: &[u8; 16],
    t: &Targets,
    checked: &Checked,
    offer: &Offered,
) -> Result<CertificateDoc, H::Error> {
    let cert: CertificateDoc = super::purge::offered(offer)?;
    let person = host.person()?;
    let mut seen = HashSet::new();
    let records_ok = cert
        .records
        .iter()
        .all(|r| checked.named.contains(r) && seen.insert(r));
    let ok = cert.format == CERTIFICATE_FORMAT
        && cert.origin == checked.origin
        && cert.authority == hex::encode(id)
        && cert.authority_kind == t.record_type
        && cert.authority_document == hex::encode(t.document)
        && cert.applied_by == person
        && records_ok
        && cert.record_count == cert.records.len() as u64;
    if !ok {
        return Err(invalid(format!(
            "the certificate offered (for {} applied by {:?}, {} records) is not this authority's, applied by {person:?}, over records it names; nothing signed",
            cert.authority,
            cert.applied_by,
            cert.records.len()
        ))
        .into());
    }
    Ok(cert)
}

mod host;
pub use host::InProcess;

#[cfg(test)]
mod tests;
