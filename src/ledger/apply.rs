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

use std::collections::{BTreeMap, HashSet};

use ed25519_dalek::SigningKey;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::docs::{CertificateDoc, NotDisposed, OrderDoc, PlanDoc, PlanEntry, CERTIFICATE_FORMAT};
use super::purge::Applied;
use super::report::status_name;
use super::state::RecordState;
use super::{Draft, Ledger, LedgerError, Outcome, Submission};
use crate::format::{Action, DisposalKind};
use crate::retention::Status;
use crate::store::Space;

/// Changes per durable append while applying.
pub const BATCH: usize = 5000;

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
    let court_order = check_targets(host, id, &t)?;
    let ids = t
        .records
        .iter()
        .map(|r| parse_id(r))
        .collect::<Result<Vec<_>, _>>()?;
    let kind = disposal_kind(&t.action)?;
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
    let cert = check_certificate(host, id, &offer)?;
    let st = host
        .states(&[*id])?
        .pop()
        .ok_or_else(|| invalid("no authority state"))?;
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
    out.certificate_seq = outcomes.first().map(|o| o.seq());
    Ok(out)
}

fn disposal_kind(action: &str) -> Result<Option<DisposalKind>, LedgerError> {
    match action {
        "destroy" => Ok(Some(DisposalKind::Destroy)),
        "expunge" => Ok(Some(DisposalKind::Expunge)),
        "seal" => Ok(None),
        a => Err(invalid(format!("unknown disposition action {a:?}"))),
    }
}

/// The applier's check of step 1: the targets are the authority's, its document is the
/// one its entry commits to, and every record is named there for this action. Returns
/// an order's court order reference.
fn check_targets<H: Host>(host: &H, id: &[u8; 16], t: &Targets) -> Result<String, H::Error> {
    let auth = host
        .states(&[*id])?
        .pop()
        .filter(|s| s.id == *id && s.record_type == t.record_type)
        .ok_or_else(|| invalid(format!("{} is not a {}", hex::encode(id), t.record_type)))?;
    if t.authority != *id || auth.document != Some(t.document) {
        return Err(invalid("the targets are not for this authority's document").into());
    }
    let bytes = host.document(&t.document)?;
    if *blake3::hash(&bytes).as_bytes() != t.document {
        return Err(invalid("the authority's document does not match its hash").into());
    }
    let (named, court_order): (HashSet<String>, String) = match t.record_type.as_str() {
        "purge-plan" => {
            let plan: PlanDoc = serde_json::from_slice(&bytes).map_err(invalid)?;
            if t.action != "destroy" {
                return Err(invalid("a purge plan only destroys").into());
            }
            let named = plan
                .records
                .into_iter()
                .filter(|e| e.disposition == "destroy");
            (named.map(|e| e.record).collect(), String::new())
        }
        "disposal-order" => {
            let order: OrderDoc = serde_json::from_slice(&bytes).map_err(invalid)?;
            if order.action != t.action {
                return Err(
                    invalid(format!("the order says {}, not {}", order.action, t.action)).into(),
                );
            }
            (order.records.into_iter().collect(), order.court_order)
        }
        k => return Err(invalid(format!("{k} is not a plan or order")).into()),
    };
    let mut seen = HashSet::new();
    for r in &t.records {
        if !named.contains(r) || !seen.insert(r) {
            return Err(invalid(format!(
                "record {r} is not named (once) by {} {} for {}; nothing signed",
                t.record_type,
                hex::encode(id),
                t.action
            ))
            .into());
        }
    }
    Ok(court_order)
}

/// The applier's check of step 3: the certificate is this authority's, names the
/// applier, and is the document its hash says.
fn check_certificate<H: Host>(
    host: &H,
    id: &[u8; 16],
    offer: &Offered,
) -> Result<CertificateDoc, H::Error> {
    let cert: CertificateDoc = super::purge::offered(offer)?;
    let person = host.person()?;
    if cert.authority != hex::encode(id) || cert.applied_by != person {
        return Err(invalid(format!(
            "the certificate offered is for {} applied by {:?}, not for {} applied by {person:?}",
            cert.authority,
            cert.applied_by,
            hex::encode(id)
        ))
        .into());
    }
    Ok(cert)
}

/// A record a plan's re-check found.
enum Recheck {
    Transfer,
    Already,
    Skip(String),
    Dispose,
}

/// A record an authority disposed of: id, state, disposal entry, planned disposition.
type DisposedMember = ([u8; 16], RecordState, u64, super::docs::Member);

impl Ledger {
    /// Applies an approved plan or order in process (module doc), signing with `applier`.
    pub fn apply_disposition(
        &mut self,
        id: &[u8; 16],
        applier: &SigningKey,
        progress: &dyn Fn(u64, u64),
    ) -> Result<Applied, LedgerError> {
        apply_with(
            &mut InProcess {
                ledger: self,
                key: applier,
            },
            id,
            progress,
        )
    }

    /// Step 1: what an approved plan or order calls for now.
    pub fn disposition_targets(&self, id: &[u8; 16]) -> Result<Targets, LedgerError> {
        let st = self.authority_state(id)?;
        if st.approved.is_none() {
            return Err(invalid(format!(
                "{} {} is not approved; another person must approve it first",
                st.record_type,
                hex::encode(id)
            )));
        }
        let document = st.document.ok_or_else(|| invalid("no document"))?;
        let mut t = Targets {
            authority: *id,
            record_type: st.record_type.clone(),
            document,
            action: "destroy".into(),
            certified: st.closed,
            records: Vec::new(),
            already_disposed: 0,
            not_disposed: Vec::new(),
            transfer_pending: 0,
        };
        if st.closed.is_some() {
            return Ok(t);
        }
        if st.record_type == "purge-plan" {
            self.plan_targets(id, &mut t)?;
        } else {
            self.order_targets(id, &mut t)?;
        }
        Ok(t)
    }

    fn plan_targets(&self, id: &[u8; 16], t: &mut Targets) -> Result<(), LedgerError> {
        let plan = self.plan_document(id)?;
        let sdoc = crate::crypto::parse_hex32(&plan.schedule.document)
            .ok_or_else(|| invalid("plan: malformed schedule hash"))?;
        let schedule = self.schedule_document(&sdoc)?;
        let policy = self.policy()?;
        let today = jiff::Zoned::now()
            .with_time_zone(policy.time_zone.clone())
            .date();
        // Every record re-checked in parallel (reads only), the results taken in plan
        // order.
        let holds_exist = self.any_hold()?;
        let checks = plan
            .records
            .par_iter()
            .map(|e| self.recheck(e, &schedule, &policy, today, holds_exist))
            .collect::<Result<Vec<_>, LedgerError>>()?;
        for (e, check) in plan.records.into_iter().zip(checks) {
            match check {
                Recheck::Transfer => t.transfer_pending += 1,
                Recheck::Already => t.already_disposed += 1,
                Recheck::Skip(why) => t.not_disposed.push(NotDisposed {
                    record: e.record,
                    why,
                }),
                Recheck::Dispose => t.records.push(e.record),
            }
        }
        Ok(())
    }

    fn order_targets(&self, id: &[u8; 16], t: &mut Targets) -> Result<(), LedgerError> {
        let order = self.order_document(id)?;
        let seal = disposal_kind(&order.action)?.is_none();
        t.action = order.action;
        for r in order.records {
            let rid = parse_id(&r)?;
            let Some(rs) = self.record(&rid)? else {
                t.not_disposed.push(NotDisposed {
                    record: r,
                    why: "record no longer exists".into(),
                });
                continue;
            };
            if rs.disposed.is_some() {
                t.already_disposed += 1;
            } else if seal {
                // Sealing is not disposal: a hold does not stand in its way.
                if !rs.sealed {
                    t.records.push(r);
                }
            } else if let Some(h) = self.holds_on(&rid)?.first() {
                t.not_disposed.push(NotDisposed {
                    record: r,
                    why: format!("under legal hold {}", hex::encode(h)),
                });
            } else {
                t.records.push(r);
            }
        }
        Ok(())
    }

    /// Whether the record a plan lists is to be disposed of now: still there, not
    /// disposed, and eligible today under the plan's schedule (a hold makes it blocked).
    fn recheck(
        &self,
        e: &PlanEntry,
        schedule: &crate::retention::Schedule,
        policy: &crate::retention::Policy,
        today: jiff::civil::Date,
        holds_exist: bool,
    ) -> Result<Recheck, LedgerError> {
        let rid = parse_id(&e.record)?;
        if e.disposition == "transfer" {
            // A record `archive transfer` already took is not pending any more.
            return Ok(match self.record(&rid)? {
                Some(rs) if rs.disposed.is_some() => Recheck::Already,
                _ => Recheck::Transfer,
            });
        }
        let Some(rs) = self.record(&rid)? else {
            return Ok(Recheck::Skip("record no longer exists".into()));
        };
        if rs.disposed.is_some() {
            return Ok(Recheck::Already);
        }
        let o = self.evaluate_with(schedule, policy, &rs, today, holds_exist)?;
        if o.status != Status::Eligible {
            return Ok(Recheck::Skip(format!(
                "{}: {}",
                status_name(o.status),
                o.reason
            )));
        }
        Ok(Recheck::Dispose)
    }

    /// Step 3: destroys the data of this authority's pending records and, when it is
    /// done (nothing left to dispose of; for an order, nothing held back), keeps its
    /// certificate document, applied by `applier` (a person id), for them to sign.
    pub fn finish_disposition(
        &mut self,
        id: &[u8; 16],
        applier: &str,
    ) -> Result<Finish, LedgerError> {
        let destroyed = self.finish_destruction(id)?;
        let t = self.disposition_targets(id)?;
        let done = Finish {
            destroyed,
            certificate: None,
        };
        if t.certified.is_some() || t.action == "seal" {
            return Ok(done);
        }
        if !t.records.is_empty() {
            return Err(invalid(format!(
                "{} records of {} {} are still to be disposed of; apply it again",
                t.records.len(),
                t.record_type,
                hex::encode(id)
            )));
        }
        // A court order binds every record it names: while a hold keeps some back, the
        // order stays open (uncertified), to be applied again once the hold is released.
        // A plan is a snapshot as of its date and is certified with what it disposed of.
        if t.record_type == "disposal-order" && !t.not_disposed.is_empty() {
            return Ok(done);
        }
        let text = self.certificate_text(id, &t, applier)?;
        let document = self.put_document(text.as_bytes())?;
        Ok(Finish {
            certificate: Some(Offered { document, text }),
            ..done
        })
    }

    /// The destruction certificate of an authority whose disposals are all appended.
    fn certificate_text(
        &self,
        id: &[u8; 16],
        t: &Targets,
        applier: &str,
    ) -> Result<String, LedgerError> {
        let st = self.authority_state(id)?;
        let mut cert = CertificateDoc {
            format: CERTIFICATE_FORMAT.into(),
            origin: self.origin.clone(),
            authority_kind: st.record_type.clone(),
            authority: hex::encode(id),
            authority_document: hex::encode(t.document),
            schedule: None,
            court_order: None,
            items: BTreeMap::new(),
            record_count: 0,
            records: Vec::new(),
            created_from: None,
            created_to: None,
            method: String::new(),
            planned_by: st.creator.clone(),
            approved_by: st.approved.map(|a| a.person).unwrap_or_default(),
            applied_by: applier.to_string(),
            disposal_entries: None,
            not_disposed: t.not_disposed.clone(),
            transfer_pending: t.transfer_pending,
            left_out_at_planning: BTreeMap::new(),
            applied_on: super::append::today().to_string(),
        };
        if st.record_type == "purge-plan" {
            let plan = self.plan_document(id)?;
            cert.schedule = Some(plan.schedule);
            cert.left_out_at_planning = plan.left_out;
        } else {
            cert.court_order = Some(self.order_document(id)?.court_order);
        }
        let rows = self
            .store
            .scan(Space::Member, &id[..])
            .collect::<Result<Vec<_>, _>>()?;
        // The members this authority disposed of, looked up in parallel, in row order.
        let disposed = rows
            .par_iter()
            .map(|(k, v)| self.disposed_by(id, k, v))
            .collect::<Result<Vec<_>, LedgerError>>()?;
        let mut first_last: Option<(u64, u64)> = None;
        for (rid, rs, seq, m) in disposed.into_iter().flatten() {
            *cert
                .items
                .entry(m.item.unwrap_or_else(|| "order".into()))
                .or_insert(0) += 1;
            cert.records.push(hex::encode(rid));
            let c = rs.created_on.clone();
            if cert.created_from.as_ref().is_none_or(|f| c < *f) {
                cert.created_from = Some(c.clone());
            }
            if cert.created_to.as_ref().is_none_or(|t| c > *t) {
                cert.created_to = Some(c);
            }
            first_last = Some(match first_last {
                None => (seq, seq),
                Some((a, b)) => (a.min(seq), b.max(seq)),
            });
        }
        cert.record_count = cert.records.len() as u64;
        cert.disposal_entries = first_last;
        cert.method = format!(
            "{}: disposal entry appended, then the record's data key made unrecoverable (its epoch key retired from epochs.key after the surviving keys were re-wrapped), then its sealed content, side documents, case and source index rows and attachment files deleted; see docs/DESTRUCTION.md",
            t.action
        );
        serde_json::to_string_pretty(&cert).map_err(invalid)
    }

    /// A member row of `authority` (`k`, `v`) whose record that authority disposed of:
    /// the record, its state, its disposal entry and its planned disposition.
    fn disposed_by(
        &self,
        authority: &[u8; 16],
        k: &[u8],
        v: &[u8],
    ) -> Result<Option<DisposedMember>, LedgerError> {
        let rid: [u8; 16] = k
            .get(16..32)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| invalid("malformed member row"))?;
        let Some(rs) = self.record(&rid)? else {
            return Ok(None);
        };
        let Some(seq) = rs.disposed else {
            return Ok(None);
        };
        if self.disposal_authority(seq)? != Some(*authority) {
            return Ok(None);
        }
        let m: super::docs::Member = serde_json::from_slice(v).map_err(invalid)?;
        Ok(Some((rid, rs, seq, m)))
    }

    /// The plan or order a disposal entry names.
    fn disposal_authority(&self, seq: u64) -> Result<Option<[u8; 16]>, LedgerError> {
        Ok(match self.entry(seq)?.signed.change.action {
            Action::Disposal { authority, .. } => Some(authority),
            _ => None,
        })
    }
}

/// The ledger as a [`Host`], signing with one key.
pub struct InProcess<'a> {
    pub ledger: &'a mut Ledger,
    pub key: &'a SigningKey,
}

impl Host for InProcess<'_> {
    type Error = LedgerError;
    fn targets(&self, authority: &[u8; 16]) -> Result<Targets, LedgerError> {
        self.ledger.disposition_targets(authority)
    }
    fn document(&self, hash: &[u8; 32]) -> Result<Vec<u8>, LedgerError> {
        self.ledger.document(hash)
    }
    fn states(&self, ids: &[[u8; 16]]) -> Result<Vec<RecordState>, LedgerError> {
        self.ledger.states(ids)
    }
    fn person(&self) -> Result<String, LedgerError> {
        self.ledger.person_of(self.key)
    }
    fn sign_all(&self, drafts: Vec<Draft>) -> Result<Vec<Submission>, LedgerError> {
        drafts
            .into_par_iter()
            .map(|d| self.ledger.sign(self.key, d))
            .collect()
    }
    fn append(&mut self, subs: Vec<Submission>) -> Result<Vec<Outcome>, LedgerError> {
        self.ledger.append(subs)
    }
    fn finish(&mut self, authority: &[u8; 16]) -> Result<Finish, LedgerError> {
        let person = self.ledger.person_of(self.key)?;
        self.ledger.finish_disposition(authority, &person)
    }
}

impl Ledger {
    /// The states of `ids`, in order (looked up in parallel); a missing one is an error.
    pub fn states(&self, ids: &[[u8; 16]]) -> Result<Vec<RecordState>, LedgerError> {
        ids.par_iter()
            .map(|id| {
                self.record(id)?
                    .ok_or_else(|| invalid(format!("record {} not found", hex::encode(id))))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    //! A host cannot make the applier sign more than the authority's document says.

    use super::*;
    use crate::format::{Date, Role};
    use crate::ledger::{InitOptions, Settings};

    fn key() -> SigningKey {
        SigningKey::generate(&mut rand::rngs::OsRng)
    }

    /// An approved plan over three records, and one record it does not name.
    fn fixture(dir: &std::path::Path) -> (Ledger, SigningKey, [u8; 16], [u8; 16]) {
        let admin = key();
        let opts = InitOptions {
            origin: "pd.example/apply".into(),
            admin_person: "A-1".into(),
            settings: Settings::default(),
            ledger_key_path: None,
        };
        let mut l = Ledger::init(dir, &admin, opts).unwrap();
        let (clerk, sup1, sup2) = (key(), key(), key());
        for (k, p, r) in [
            (&clerk, "C-1", Role::Clerk),
            (&sup1, "S-1", Role::Supervisor),
            (&sup2, "S-2", Role::Supervisor),
        ] {
            let d = Draft::key_registration(k.verifying_key().to_bytes(), p, r);
            let s = l.sign(&admin, d).unwrap();
            l.append(vec![s]).unwrap();
        }
        let create = |l: &mut Ledger| {
            let action = Action::RecordCreate {
                confidential: false,
            };
            let mut d = Draft::new_record("incident", Date::new(2025, 5, 1).unwrap(), action);
            d.content = Some(b"{}".to_vec());
            let id = d.record;
            let s = l.sign(&clerk, d).unwrap();
            l.append(vec![s]).unwrap();
            id
        };
        for _ in 0..3 {
            create(&mut l);
        }
        let plan = crate::ledger::purge::approved_test_plan(&mut l, &sup1, &sup2);
        let outsider = create(&mut l);
        (l, sup1, plan, outsider)
    }

    /// The ledger as a host that lies in one way.
    struct Lying<'a> {
        inner: InProcess<'a>,
        extra: Option<[u8; 16]>,
        applied_by: Option<String>,
    }

    impl Host for Lying<'_> {
        type Error = LedgerError;
        fn targets(&self, a: &[u8; 16]) -> Result<Targets, LedgerError> {
            let mut t = self.inner.targets(a)?;
            t.records.extend(self.extra.map(hex::encode));
            Ok(t)
        }
        fn document(&self, h: &[u8; 32]) -> Result<Vec<u8>, LedgerError> {
            self.inner.document(h)
        }
        fn states(&self, ids: &[[u8; 16]]) -> Result<Vec<RecordState>, LedgerError> {
            self.inner.states(ids)
        }
        fn person(&self) -> Result<String, LedgerError> {
            self.inner.person()
        }
        fn sign_all(&self, d: Vec<Draft>) -> Result<Vec<Submission>, LedgerError> {
            self.inner.sign_all(d)
        }
        fn append(&mut self, s: Vec<Submission>) -> Result<Vec<Outcome>, LedgerError> {
            self.inner.append(s)
        }
        fn finish(&mut self, a: &[u8; 16]) -> Result<Finish, LedgerError> {
            let mut f = self.inner.finish(a)?;
            if let (Some(who), Some(offer)) = (&self.applied_by, f.certificate.as_mut()) {
                offer.text = offer.text.replace("\"S-1\"", &format!("{who:?}"));
                offer.document = *blake3::hash(offer.text.as_bytes()).as_bytes();
            }
            Ok(f)
        }
    }

    #[test]
    fn a_host_cannot_add_a_record_the_plan_does_not_name() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut l, sup1, plan, outsider) = fixture(tmp.path());
        let size = l.head().size;
        let mut host = Lying {
            inner: InProcess {
                ledger: &mut l,
                key: &sup1,
            },
            extra: Some(outsider),
            applied_by: None,
        };
        let e = apply_with(&mut host, &plan, &|_, _| {}).unwrap_err();
        assert!(e.to_string().contains("is not named"), "{e}");
        assert_eq!(l.head().size, size, "nothing signed, nothing appended");
        assert!(l.record(&outsider).unwrap().unwrap().disposed.is_none());
    }

    #[test]
    fn a_host_cannot_offer_a_certificate_naming_another_applier() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut l, sup1, plan, _) = fixture(tmp.path());
        let mut host = Lying {
            inner: InProcess {
                ledger: &mut l,
                key: &sup1,
            },
            extra: None,
            applied_by: Some("S-2".into()),
        };
        let e = apply_with(&mut host, &plan, &|_, _| {}).unwrap_err();
        assert!(e.to_string().contains("applied by \"S-2\""), "{e}");
        assert!(l.record(&plan).unwrap().unwrap().closed.is_none());
        // The disposals are durable; applying honestly again certifies.
        let a = l.apply_disposition(&plan, &sup1, &|_, _| {}).unwrap();
        assert_eq!((a.disposed_now, a.already_disposed), (0, 3));
        assert!(a.certificate_seq.is_some());
        let (cert, _) = l.certificate(&plan).unwrap();
        assert_eq!((cert.record_count, cert.applied_by.as_str()), (3, "S-1"));
    }
}
