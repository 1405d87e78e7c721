//! The validating batch writer behind [`Ledger::append`]: it checks each change of a
//! batch against the ledger's rules (authority, record chain, commitments, action
//! effects), with an overlay of the state the batch's earlier changes produce, and
//! gathers the store writes. It writes nothing itself: `append` commits the batch.

mod disposition;
mod keys;

use std::collections::HashMap;

use super::append::{now_ms, Opening, Outcome, Submission, MAX_CONTENT_BYTES};
use super::authority::{allowed, KeyState};
use super::history::{change_key, sealed_key};
use super::state::{Destroyable, RecordState};
use super::{Head, Ledger, LedgerError};
use crate::crypto::seal::{self, DataKey};
use crate::format::action::INTERNAL_TYPES;
use crate::format::entry::entry_hash;
use crate::format::{Action, CommitmentKind, Entry, Role, SignedChange, MAX_ENTRY_BYTES};
use crate::merkle::CompactRange;
use crate::store::{Batch, Space};

/// Accumulates one batch, with an overlay of the state its earlier changes produced.
pub(super) struct BatchWriter<'a> {
    ledger: &'a Ledger,
    batch: Batch,
    head: Head,
    records: HashMap<[u8; 16], RecordState>,
    keys: HashMap<[u8; 32], KeyState>,
    data_keys: HashMap<[u8; 16], DataKey>,
    changes: HashMap<[u8; 32], u64>,
    destroyables: HashMap<[u8; 16], Destroyable>,
    tree: CompactRange,
    witnesses: Vec<[u8; 32]>,
    /// Rows this batch wrote (`Some`) or removed (`None`), keyed by space byte ‖ key, for
    /// the rules that read them back before the batch is committed.
    overlay: HashMap<Vec<u8>, Option<Vec<u8>>>,
    /// Plans and orders read from the store by this batch's disposals (their own
    /// changes in this batch are in `records`).
    authorities: HashMap<[u8; 16], RecordState>,
    /// The store's hold rows, read once when a rule first needs them.
    hold_rows: std::cell::OnceCell<Vec<Vec<u8>>>,
}

impl BatchWriter<'_> {
    pub(super) fn new(ledger: &Ledger) -> BatchWriter<'_> {
        BatchWriter {
            ledger,
            batch: Batch::default(),
            head: ledger.head,
            records: HashMap::new(),
            keys: HashMap::new(),
            data_keys: HashMap::new(),
            changes: HashMap::new(),
            destroyables: HashMap::new(),
            tree: ledger.tree.clone(),
            witnesses: Vec::new(),
            overlay: HashMap::new(),
            authorities: HashMap::new(),
            hold_rows: std::cell::OnceCell::new(),
        }
    }

    /// The gathered writes, the new head, the keys changed and the grown tree.
    pub(super) fn finish(self) -> (Batch, Head, HashMap<[u8; 32], KeyState>, CompactRange) {
        (self.batch, self.head, self.keys, self.tree)
    }

    fn record(&self, id: &[u8; 16]) -> Result<Option<RecordState>, LedgerError> {
        match self.records.get(id) {
            Some(r) => Ok(Some(r.clone())),
            None => self.ledger.record(id),
        }
    }
    fn key(&self, k: &[u8; 32]) -> Option<&KeyState> {
        self.keys.get(k).or_else(|| self.ledger.keys.get(k))
    }
    fn data_key(&mut self, id: &[u8; 16]) -> Result<DataKey, LedgerError> {
        if let Some(k) = self.data_keys.get(id) {
            return Ok(k.clone());
        }
        let k = self
            .ledger
            .data_key(id)?
            .ok_or_else(|| LedgerError::NoRecord(hex::encode(id)))?;
        self.data_keys.insert(*id, k.clone());
        Ok(k)
    }

    pub(super) fn add(
        &mut self,
        i: usize,
        sub: &Submission,
        sc: SignedChange,
    ) -> Result<Outcome, LedgerError> {
        let hash = sc.hash();
        if let Some(&seq) = self.changes.get(&hash) {
            return Ok(Outcome::AlreadyRecorded(seq));
        }
        if let Some(seq) = self.ledger.seq_of_change(&sc.change.record, &hash)? {
            return Ok(Outcome::AlreadyRecorded(seq));
        }
        let change = sc.change.clone();
        let c = &change;
        let refuse = |d: String| LedgerError::refused(i, d);
        if c.origin != self.ledger.origin {
            return Err(refuse(format!(
                "change is for ledger {:?}, this ledger is {:?}",
                c.origin, self.ledger.origin
            )));
        }
        let seq = self.head.size;
        let actor_hex = hex::encode(c.actor);
        // Authority: the actor's key must be registered, active and allowed the action.
        let (person, role) = match &c.action {
            Action::Genesis { person, .. } if seq == 0 => (person.clone(), Role::Admin),
            Action::Genesis { .. } => {
                return Err(refuse("a genesis change can only be entry 0".into()))
            }
            _ if seq == 0 => return Err(refuse("entry 0 must be the genesis".into())),
            _ => {
                let k = self.key(&c.actor).ok_or_else(|| {
                    refuse(format!("key {actor_hex} is not registered in this ledger"))
                })?;
                if !k.active() {
                    return Err(refuse(format!(
                        "key {actor_hex} ({}) was revoked or replaced",
                        k.person
                    )));
                }
                (k.person.clone(), k.role())
            }
        };
        if !allowed(role, &c.action) {
            return Err(refuse(format!(
                "key {actor_hex} ({person}, {role}) may not sign {} changes",
                c.action.name()
            )));
        }
        let creates = c.action.creates_record();
        let supported = creates
            || matches!(
                c.action,
                Action::KeyRevoke { .. }
                    | Action::WitnessRegister { .. }
                    | Action::RecordAmend
                    | Action::RecordAttach { .. }
                    | Action::RecordStatus { .. }
                    | Action::RecordSeal
                    | Action::RecordUnseal
                    | Action::RecordConfidential { .. }
                    | Action::Access { .. }
                    | Action::HoldRelease
                    | Action::PurgeApprove { .. }
                    | Action::OrderApprove { .. }
                    | Action::Disposal { .. }
                    | Action::Transfer { .. }
                    | Action::Certificate { .. }
            );
        if !supported {
            return Err(refuse(format!(
                "{} changes are not supported by this version of blotter yet",
                c.action.name()
            )));
        }
        let rid = hex::encode(c.record);
        let existing = self.record(&c.record)?;
        let mut st = match (&existing, creates) {
            (Some(_), true) => return Err(refuse(format!("record {rid} already exists"))),
            (None, false) => return Err(refuse(format!("record {rid} does not exist"))),
            (None, true) => {
                if c.record_prev != [0; 32] {
                    return Err(refuse(format!(
                        "record {rid} is new: record_prev must be zero"
                    )));
                }
                if let Some(t @ ("schedule" | "hold" | "purge-plan" | "disposal-order")) =
                    c.action.internal_type()
                {
                    let k = [t.as_bytes(), &[0], &c.record].concat();
                    self.batch.put(Space::Internal, &k, &[]);
                }
                match c.action.internal_type() {
                    Some(t) if c.record_type != t => {
                        return Err(refuse(format!(
                            "{} records must have type {t:?}",
                            c.action.name()
                        )))
                    }
                    None if !self.ledger.settings.is_user_type(&c.record_type) => {
                        return Err(refuse(format!(
                            "unknown record type {:?}; the agency settings allow: {}",
                            c.record_type,
                            self.ledger.settings.record_types.join(", ")
                        )))
                    }
                    _ => {}
                }
                RecordState {
                    id: c.record,
                    record_type: c.record_type.clone(),
                    created_on: c.created_on.to_string(),
                    latest: [0; 32],
                    first_seq: seq,
                    last_seq: seq,
                    changes: 0,
                    status: None,
                    status_date: None,
                    sealed: false,
                    confidential: self
                        .ledger
                        .settings
                        .confidential_types
                        .contains(&c.record_type),
                    creator: person.clone(),
                    case: None,
                    content: None,
                    disposed: None,
                    document: None,
                    approved: None,
                    closed: None,
                    status_dates: Default::default(),
                    last_change_ms: 0,
                }
            }
            (Some(s), false) => {
                if s.disposed.is_some() {
                    return Err(refuse(format!(
                        "record {rid} was disposed at entry {}",
                        s.disposed.unwrap_or(0)
                    )));
                }
                let record_change = matches!(
                    c.action,
                    Action::RecordAmend
                        | Action::RecordAttach { .. }
                        | Action::RecordStatus { .. }
                        | Action::RecordSeal
                        | Action::RecordUnseal
                        | Action::RecordConfidential { .. }
                );
                if record_change && INTERNAL_TYPES.contains(&s.record_type.as_str()) {
                    return Err(refuse(format!(
                        "record {rid} is the ledger's own {} record; {} does not apply to it",
                        s.record_type,
                        c.action.name()
                    )));
                }
                if c.record_prev != s.latest {
                    return Err(refuse(format!(
                        "record {rid} has changed since this change was made (record_prev is not its latest change); reload and retry"
                    )));
                }
                if c.record_type != s.record_type || c.created_on.to_string() != s.created_on {
                    return Err(refuse(format!(
                        "record {rid}: type or created_on differ from the record's"
                    )));
                }
                s.clone()
            }
        };
        // Commitments: every commitment must come with its opening, and match it.
        let dk = if creates {
            let k = DataKey::generate();
            self.batch.put(
                Space::DataKey,
                &c.record,
                &self.ledger.epochs.wrap(&k, &c.record),
            );
            self.data_keys.insert(c.record, k.clone());
            k
        } else {
            self.data_key(&c.record)?
        };
        check_opening(
            i,
            "content",
            c.payload.map(|p| p.hash),
            sub.content.as_ref(),
            CommitmentKind::Content,
        )?;
        check_opening(
            i,
            "side document",
            c.side_doc,
            sub.side_doc.as_ref(),
            CommitmentKind::SideDocument,
        )?;
        let needs_content = matches!(
            c.action,
            Action::Genesis { .. } | Action::RecordCreate { .. } | Action::RecordAmend
        );
        if needs_content != c.payload.is_some() {
            return Err(refuse(format!(
                "{} changes {} content",
                c.action.name(),
                if needs_content {
                    "must carry"
                } else {
                    "carry no"
                }
            )));
        }
        for (what, o) in [("content", &sub.content), ("side document", &sub.side_doc)] {
            if o.as_ref()
                .is_some_and(|o| o.bytes.len() > MAX_CONTENT_BYTES)
            {
                return Err(refuse(format!(
                    "record {rid}: {what} is larger than {MAX_CONTENT_BYTES} bytes; attach large material as a file"
                )));
            }
        }
        if let Some(o) = &sub.content {
            if !matches!(c.action, Action::Genesis { .. }) {
                match serde_json::from_slice::<serde_json::Value>(&o.bytes) {
                    Ok(serde_json::Value::Object(_)) => {}
                    Ok(_) => {
                        return Err(refuse(format!(
                            "record {rid}: content must be a JSON object"
                        )))
                    }
                    Err(e) => {
                        return Err(refuse(format!("record {rid}: content is not JSON: {e}")))
                    }
                }
            }
        }
        // Case number: carried unchanged, or changed with its opening.
        let mut destroyable = None;
        match (&sub.case_number, c.case) {
            (Some(o), Some(h)) if o.commitment(CommitmentKind::CaseNumber) == h => {
                let num = String::from_utf8(o.bytes.clone()).map_err(|_| refuse("case number is not UTF-8".into()))?;
                if let Some(old) = self.destroyable(&c.record, &dk)?.and_then(|d| d.case_number) {
                    // A case hold covers the record through its case number: while one
                    // stands, the record cannot leave the case.
                    if old != num {
                        if let Some(hold) = self.case_hold(&old)? {
                            return Err(refuse(format!(
                                "record {rid} is under legal hold {} by its case number; its case number cannot change while the hold stands",
                                hex::encode(hold)
                            )));
                        }
                    }
                    let key = [&self.ledger.epochs.index_hash("case", &old)[..], &c.record].concat();
                    self.batch.remove(Space::CaseIndex, &key);
                }
                let key = [&self.ledger.epochs.index_hash("case", &num)[..], &c.record].concat();
                self.batch.put(Space::CaseIndex, &key, &[]);
                let mut d = self.destroyable(&c.record, &dk)?.unwrap_or_default();
                d.case_number = Some(num);
                d.case_salt = Some(o.salt);
                destroyable = Some(d);
                st.case = Some(h);
            }
            (Some(_), _) => return Err(refuse(format!("record {rid}: case number does not match its commitment"))),
            (None, h) if h != st.case => {
                return Err(refuse(format!("record {rid}: case commitment differs from the record's and no case number was given")))
            }
            _ => {}
        }
        if let Some((src_record, src_change)) = &sub.source {
            let mut d = destroyable.take().map(Ok).unwrap_or_else(|| {
                self.destroyable(&c.record, &dk)
                    .map(Option::unwrap_or_default)
            })?;
            d.source_record = Some(src_record.clone());
            destroyable = Some(d);
            let e = &self.ledger.epochs;
            self.batch.put(
                Space::Source,
                &e.index_hash("source-record", src_record),
                &c.record,
            );
            self.batch.put(
                Space::Source,
                &e.index_hash("source-change", src_change),
                &seq.to_be_bytes(),
            );
        }
        if let Some(d) = destroyable {
            let json = serde_json::to_vec(&d).map_err(|e| LedgerError::Invalid(e.to_string()))?;
            self.batch.put(
                Space::Destroyable,
                &c.record,
                &seal::seal(&dk, &c.record, &json),
            );
            self.destroyables.insert(c.record, d);
        }
        // Action-specific rules and state changes.
        let mut advances = true;
        match &c.action {
            Action::Genesis { .. }
            | Action::KeyRegister { .. }
            | Action::KeyRevoke { .. }
            | Action::WitnessRegister { .. } => self.key_action((i, seq), c, &person)?,
            Action::RecordCreate { confidential } => st.confidential |= *confidential,
            Action::RecordAttach { blob, size } => {
                let b = sub
                    .attachment
                    .as_ref()
                    .ok_or_else(|| refuse("attachment change without its staged file".into()))?;
                if b.commitment != *blob || b.size != *size || b.record != c.record {
                    return Err(refuse(format!(
                        "record {rid}: staged attachment does not match the change"
                    )));
                }
                let blob_path = self.ledger.dir.join("blobs").join(hex::encode(blob));
                if !blob_path.is_file() {
                    // Named by its hash, not its path: the daemon passes refusals on.
                    return Err(refuse(format!(
                        "record {rid}: the staged attachment {} is missing from the ledger's blobs",
                        hex::encode(blob)
                    )));
                }
                self.batch.put(
                    Space::Sealed,
                    &sealed_key(&c.record, &hash, CommitmentKind::Attachment),
                    &seal::seal(&dk, &c.record, &b.salt),
                );
            }
            Action::RecordStatus { status, date } => {
                st.status = Some(status.to_string());
                st.status_date = Some(date.to_string());
                st.status_dates.insert(status.to_string(), date.to_string());
            }
            Action::RecordSeal => {
                if c.side_doc.is_none() {
                    return Err(refuse(
                        "a seal must carry the court order reference as its side document".into(),
                    ));
                }
                st.sealed = true;
            }
            Action::RecordUnseal => st.sealed = false,
            Action::RecordConfidential { confidential } => st.confidential = *confidential,
            Action::Access { .. } => advances = false,
            _ => self.disposition((i, seq), c, sub, &mut st, &person, &dk)?,
        }
        for (o, kind) in [
            (&sub.content, CommitmentKind::Content),
            (&sub.side_doc, CommitmentKind::SideDocument),
        ] {
            if let Some(o) = o {
                let mut plain = o.salt.to_vec();
                plain.extend_from_slice(&o.bytes);
                let aad = [&c.record[..], &[kind.code()]].concat();
                self.batch.put(
                    Space::Sealed,
                    &sealed_key(&c.record, &hash, kind),
                    &seal::seal(&dk, &aad, &plain),
                );
            }
        }
        if c.payload.is_some() {
            st.content = Some(hash);
        }
        if advances {
            st.latest = hash;
        }
        st.last_seq = seq;
        st.changes += 1;
        // The entry itself.
        let now = now_ms().max(self.head.time_ms);
        if advances {
            st.last_change_ms = now;
        }
        let entry = Entry {
            seq,
            time_ms: now,
            prev: self.head.hash,
            signed: sc,
        };
        let bytes = entry
            .encode()
            .map_err(|e| refuse(format!("{e} (the limit is {MAX_ENTRY_BYTES} bytes)")))?;
        let eh = entry_hash(&bytes);
        self.batch.put(Space::Entry, &seq.to_be_bytes(), &bytes);
        // INVARIANT: the tree nodes go into the entry's own batch.
        super::tree::append_leaf(&mut self.tree, &mut self.batch, &bytes);
        self.batch.put(
            Space::Change,
            &change_key(&c.record, &hash),
            &seq.to_be_bytes(),
        );
        // What the change stored beside the log, for destruction's housekeeping.
        self.batch.put(
            Space::History,
            &[&c.record[..], &seq.to_be_bytes()].concat(),
            &super::history::Stored::of_change(hash, c).encode(),
        );
        let bytes = st
            .encode()
            .map_err(|e| refuse(format!("record {rid}: state: {e}")))?;
        self.batch.put(Space::Record, &c.record, &bytes);
        self.records.insert(c.record, st);
        self.changes.insert(hash, seq);
        self.head = Head {
            size: seq + 1,
            hash: eh,
            time_ms: now,
        };
        Ok(Outcome::Appended(seq))
    }

    fn put_key(&mut self, k: KeyState) -> Result<(), LedgerError> {
        let json = serde_json::to_vec(&k).map_err(|e| LedgerError::Invalid(e.to_string()))?;
        self.batch.put(Space::Key, &k.key, &json);
        self.keys.insert(k.key, k);
        Ok(())
    }

    fn destroyable(&self, id: &[u8; 16], dk: &DataKey) -> Result<Option<Destroyable>, LedgerError> {
        match self.destroyables.get(id) {
            Some(d) => Ok(Some(d.clone())),
            None => self.ledger.destroyable_with(id, dk),
        }
    }
}

fn check_opening(
    i: usize,
    what: &str,
    commitment: Option<[u8; 32]>,
    opening: Option<&Opening>,
    kind: CommitmentKind,
) -> Result<(), LedgerError> {
    match (commitment, opening) {
        (None, None) => Ok(()),
        (Some(h), Some(o)) if o.commitment(kind) == h => Ok(()),
        (Some(_), Some(_)) => Err(LedgerError::refused(
            i,
            format!("{what} does not match its commitment"),
        )),
        (Some(_), None) => Err(LedgerError::refused(
            i,
            format!("{what} committed to but not supplied"),
        )),
        (None, Some(_)) => Err(LedgerError::refused(
            i,
            format!("{what} supplied but not committed to"),
        )),
    }
}
