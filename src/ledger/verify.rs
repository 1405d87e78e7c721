//! `verify`: walks the log and re-checks everything without trusting derived state.
//!
//! Checks, per entry: stored at its own sequence number (nothing missing, reordered or
//! inserted); decodes canonically; links to its predecessor's hash; ledger time does not
//! go back; strict signature; the signer's key registered, active and allowed the action
//! at that sequence number (replayed from the log itself), and no revocation of the last
//! active administrator; the record's own chain (`record_prev`); content, side documents
//! and attachments against their commitments (a payload missing without a disposal
//! entry is a failure). At the end the last
//! entry's hash is compared with the held head.
//!
//! Locating an altered entry: if entry k's bytes changed, the link from k to k+1 breaks;
//! if its previous-hash field changed, the link from k-1 to k breaks too. So a single
//! broken link into k names k-1, and two broken links in a row (into k and into k+1)
//! name k. Memory: one batch of entries plus per-record chain heads.

mod disposition;
mod walk;

use walk::{KeyInfo, Walk};

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Ledger, LedgerError};
use crate::crypto::{commit, verify_change_with};
use crate::format::entry::entry_hash;
use crate::format::{Action, CommitmentKind, Entry, FormatError};
use crate::merkle::checkpoint::Checkpoint;
use crate::merkle::note::{Note, NoteVerifier};
use crate::merkle::CompactRange;

const BATCH: usize = 4096;

#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// Check signatures and payloads from this sequence number on (the chain is always walked from 0).
    pub from: u64,
    /// The head the auditor holds: `(size, hash)`.
    pub expect_head: Option<(u64, [u8; 32])>,
    /// A checkpoint note the auditor holds; its signature is checked against
    /// `ledger_key` (or, without one, the ledger key named in the genesis entry).
    pub checkpoint: Option<String>,
    /// The ledger's verifier key as the auditor pinned it (`origin+keyid+base64`).
    pub ledger_key: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Problem {
    pub seq: u64,
    pub what: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub entries: u64,
    pub head: String,
    pub records: u64,
    /// The first problem found (verification stops there), if any.
    pub problem: Option<Problem>,
    /// Entries signed by a key later revoked as compromised since before them.
    pub flagged: Vec<Problem>,
    /// Every disposed record: by which entry, plan or order, under which item.
    pub disposed: Vec<disposition::Disposed>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }
}

struct Checked {
    pos: u64,
    hash: [u8; 32],
    entry: Result<Entry, FormatError>,
    /// RFC 6962 leaf hash of the stored bytes.
    leaf: crate::merkle::Hash,
    sig_ok: bool,
    /// A content mismatch, or `Some("missing")`-style note.
    payload: Result<(), String>,
    missing: bool,
}

/// Decompressed verifying keys by actor: a ledger has few signers and many entries.
#[derive(Default)]
struct KeyCache(std::sync::RwLock<HashMap<[u8; 32], Option<ed25519_dalek::VerifyingKey>>>);

impl KeyCache {
    fn get(&self, actor: &[u8; 32]) -> Option<ed25519_dalek::VerifyingKey> {
        if let Some(k) = self.0.read().ok().and_then(|m| m.get(actor).copied()) {
            return k;
        }
        let k = ed25519_dalek::VerifyingKey::from_bytes(actor).ok();
        if let Ok(mut m) = self.0.write() {
            if m.len() < 100_000 {
                m.insert(*actor, k);
            }
        }
        k
    }
}

impl Ledger {
    /// Verifies the whole log. `progress` is called with the count of entries checked.
    pub fn verify(
        &self,
        opts: &VerifyOptions,
        progress: &dyn Fn(u64),
    ) -> Result<Report, LedgerError> {
        let (held, roots) = self.checkpoints_to_check(opts)?;
        let mut w = Walk {
            ledger: self,
            tree: CompactRange::new(),
            roots,
            expected: 0,
            prev_hash: [0; 32],
            prev_time: i64::MIN,
            pending_break: None,
            origin: None,
            keys: HashMap::new(),
            records: HashMap::new(),
            disp: Default::default(),
        };
        let mut iter = self.store.entries(0);
        let vkeys = KeyCache::default();
        let mut problem = None;
        'outer: loop {
            let mut chunk = Vec::with_capacity(BATCH);
            for r in iter.by_ref().take(BATCH) {
                chunk.push(r?);
            }
            if chunk.is_empty() {
                break;
            }
            let checked: Vec<Checked> = chunk
                .into_par_iter()
                .map(|(pos, bytes)| self.check_one(pos, &bytes, opts.from, &vkeys))
                .collect();
            for c in checked {
                if let Some(p) = w.step(c) {
                    problem = Some(p);
                    break 'outer;
                }
            }
            progress(w.expected);
        }
        if problem.is_none() {
            // Truncation against a held checkpoint first: it is the finding that names
            // the cause when a cut-off tail also took a disposal entry with it.
            problem = w.beyond_held(held.as_ref());
        }
        if problem.is_none() {
            problem = w.finish(opts.expect_head);
        }
        if problem.is_none() {
            problem = w.finish_tree()?;
        }
        let flagged = if problem.is_none() {
            self.flag_compromised(&w.keys)?
        } else {
            Vec::new()
        };
        let mut disposed = std::mem::take(&mut w.disp.disposed);
        for d in &mut disposed {
            d.item = self.disposal_item(&d.authority, &d.record);
        }
        Ok(Report {
            entries: w.expected,
            head: hex::encode(w.prev_hash),
            records: w.records.len() as u64,
            problem,
            flagged,
            disposed,
        })
    }

    /// The per-entry checks that need no ordering: decoding, hashing, signature, payloads.
    fn check_one(&self, pos: u64, bytes: &[u8], from: u64, vkeys: &KeyCache) -> Checked {
        let hash = entry_hash(bytes);
        let entry = Entry::decode(bytes);
        let (mut sig_ok, mut payload, mut missing) = (true, Ok(()), false);
        if let (Ok(e), true) = (&entry, pos >= from) {
            let s = &e.signed;
            sig_ok = vkeys
                .get(&s.change.actor)
                .is_some_and(|vk| verify_change_with(&vk, s.change_bytes(), &s.signature()));
            let ch = s.hash();
            let c = &s.change;
            let mut wanted: Vec<(CommitmentKind, [u8; 32])> = Vec::new();
            if let Some(p) = c.payload {
                wanted.push((CommitmentKind::Content, p.hash));
            }
            if let Some(h) = c.side_doc {
                wanted.push((CommitmentKind::SideDocument, h));
            }
            for (kind, h) in wanted {
                match self.open_sealed(&c.record, &ch, kind) {
                    Ok(Some((salt, plain))) if commit(&salt, kind, &plain) == h => {}
                    Ok(Some(_)) => {
                        payload = Err(format!(
                            "{kind} of record {} does not match its commitment",
                            hex::encode(c.record)
                        ))
                    }
                    // Destroyed (its key gone, its rows maybe not yet swept after a
                    // crash): missing, which a disposal entry must account for.
                    Ok(None) | Err(LedgerError::Destroyed(_)) => missing = true,
                    Err(LedgerError::Seal(crate::crypto::seal::SealError::EpochGone(_))) => {
                        missing = true
                    }
                    Err(e) => {
                        payload = Err(format!(
                            "{kind} of record {} cannot be opened: {e}",
                            hex::encode(c.record)
                        ))
                    }
                }
            }
            if let Action::RecordAttach { blob, .. } = c.action {
                match self.stream_blob(&c.record, &ch, &blob, |_| Ok(())) {
                    Ok(_) => {}
                    Err(LedgerError::Io(_, e)) if e.kind() == std::io::ErrorKind::NotFound => {
                        missing = true
                    }
                    Err(LedgerError::Destroyed(_))
                    | Err(LedgerError::Seal(crate::crypto::seal::SealError::EpochGone(_))) => {
                        missing = true
                    }
                    Err(e) => {
                        payload = Err(format!(
                            "attachment {} of record {}: {e}",
                            hex::encode(blob),
                            hex::encode(c.record)
                        ))
                    }
                }
            }
        }
        Checked {
            pos,
            hash,
            leaf: crate::merkle::leaf_hash(bytes),
            entry,
            sig_ok,
            payload,
            missing,
        }
    }

    /// The held checkpoint (signature checked) and every root to look for on the walk:
    /// the held checkpoint's and each kept checkpoint's.
    #[allow(clippy::type_complexity)]
    fn checkpoints_to_check(
        &self,
        opts: &VerifyOptions,
    ) -> Result<(Option<Checkpoint>, BTreeMap<u64, ([u8; 32], String)>), LedgerError> {
        let bad = |w: String| LedgerError::Invalid(w);
        // Without a pinned key, the genesis entry names it; if that entry is damaged the
        // walk reports it at entry 0, so signatures cannot be checked here.
        let verifier = match &opts.ledger_key {
            Some(v) => Some(NoteVerifier::parse(v).map_err(|e| bad(format!("--ledger-key: {e}")))?),
            None => self.note_verifier().ok(),
        };
        let mut roots = BTreeMap::new();
        for k in self.checkpoints()? {
            // A kept checkpoint that does not verify is reported by the walk at its size.
            let entry = match verifier.as_ref().map(|v| self.parse_kept_with(&k, v)) {
                Some(Ok(cp)) => (cp.root, "the ledger's kept checkpoint".to_string()),
                _ => (
                    [0; 32],
                    "a kept checkpoint with a bad signature".to_string(),
                ),
            };
            roots.insert(k.size, entry);
        }
        let held = match &opts.checkpoint {
            None => None,
            Some(text) => {
                let note =
                    Note::parse(text).map_err(|e| bad(format!("the checkpoint you hold: {e}")))?;
                if let Some(v) = &verifier {
                    note.verify(std::slice::from_ref(v)).map_err(|e| {
                        bad(format!(
                            "the checkpoint you hold is not signed by the ledger key {}: {e}",
                            v.to_vkey()
                        ))
                    })?;
                }
                let cp = Checkpoint::from_note(&note)
                    .map_err(|e| bad(format!("the checkpoint you hold: {e}")))?;
                if cp.origin != self.origin {
                    return Err(bad(format!(
                        "the checkpoint you hold is for {:?}, this ledger is {:?}",
                        cp.origin, self.origin
                    )));
                }
                roots.insert(cp.size, (cp.root, "the checkpoint you hold".into()));
                Some(cp)
            }
        };
        Ok((held, roots))
    }

    /// Second pass, only when some key was revoked as compromised.
    fn flag_compromised(
        &self,
        keys: &HashMap<[u8; 32], KeyInfo>,
    ) -> Result<Vec<Problem>, LedgerError> {
        let bad: HashMap<[u8; 32], u64> = keys
            .iter()
            .filter_map(|(k, i)| i.compromised_since.map(|s| (*k, s)))
            .collect();
        let mut out = Vec::new();
        if bad.is_empty() {
            return Ok(out);
        }
        for r in self.store.entries(0) {
            let (pos, bytes) = r?;
            if let Ok(e) = Entry::decode(&bytes) {
                if let Some(&since) = bad.get(&e.signed.change.actor) {
                    if pos >= since {
                        out.push(Problem {
                            seq: pos,
                            what: format!(
                                "signed by key {} after it was compromised (since {since})",
                                hex::encode(e.signed.change.actor)
                            ),
                        });
                    }
                }
            }
        }
        Ok(out)
    }
}

impl Ledger {
    /// The schedule item a plan's member row names for a record (derived state, for the
    /// report only).
    fn disposal_item(&self, authority: &str, record: &str) -> Option<String> {
        let auth: [u8; 16] = crate::crypto::parse_hex(authority)?;
        let rec: [u8; 16] = crate::crypto::parse_hex(record)?;
        let key = [auth, rec].concat();
        let v = self.store.get(crate::store::Space::Member, &key).ok()??;
        serde_json::from_slice::<super::docs::Member>(&v).ok()?.item
    }
}
