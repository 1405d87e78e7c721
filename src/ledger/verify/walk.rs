//! The sequential half of `verify`: the walk over checked entries in order, which
//! locates a broken link, replays keys, roles and record chains from the log itself,
//! checks recomputed tree roots against the checkpoints, and finishes against the held
//! head. The parallel half (decoding, hashes, signatures, payloads) is `check_one`.

use std::collections::{BTreeMap, HashMap};

use super::disposition;
use super::{Checked, Problem};
use crate::format::entry::entry_hash;
use crate::format::{Action, Entry, Role};
use crate::ledger::authority::allowed;
use crate::ledger::Ledger;
use crate::ledger::LedgerError;
use crate::merkle::checkpoint::Checkpoint;
use crate::merkle::CompactRange;

pub(super) struct KeyInfo {
    pub(super) person: String,
    pub(super) role: Role,
    pub(super) active: bool,
    pub(super) record: [u8; 16],
    pub(super) compromised_since: Option<u64>,
}

pub(super) struct Rec {
    pub(super) latest: [u8; 32],
    pub(super) record_type: String,
    pub(super) created_on: String,
    pub(super) missing: Option<u64>,
    pub(super) disposed: bool,
    /// Access changes since the latest advancing change: they do not move `latest`, so a
    /// replayed one would otherwise pass the record chain.
    pub(super) accesses: Vec<[u8; 32]>,
}

pub(super) struct Walk<'a> {
    pub(super) ledger: &'a Ledger,
    /// The tree recomputed from the stored entry bytes.
    pub(super) tree: CompactRange,
    /// Tree size → (root to find there, whose checkpoint it is).
    pub(super) roots: BTreeMap<u64, ([u8; 32], String)>,
    pub(super) expected: u64,
    pub(super) prev_hash: [u8; 32],
    pub(super) prev_time: i64,
    /// The link into this sequence number was broken.
    pub(super) pending_break: Option<u64>,
    pub(super) origin: Option<String>,
    pub(super) keys: HashMap<[u8; 32], KeyInfo>,
    pub(super) records: HashMap<[u8; 16], Rec>,
    pub(super) disp: disposition::Dispositions,
}

impl Walk<'_> {
    pub(super) fn step(&mut self, c: Checked) -> Option<Problem> {
        let p = |seq: u64, what: String| Some(Problem { seq, what });
        let pos = c.pos;
        if pos != self.expected {
            return p(
                self.expected,
                format!(
                    "entry {} is missing: the log jumps from {} to {pos}",
                    self.expected,
                    self.expected.wrapping_sub(1) as i64
                ),
            );
        }
        let e = match c.entry {
            Ok(e) => e,
            Err(err) => return p(pos, format!("stored bytes are not a valid entry: {err}")),
        };
        if e.seq != pos {
            return p(pos, format!("entry stored at position {pos} says it is entry {}: entries were reordered, inserted or altered", e.seq));
        }
        let broken = e.prev != self.prev_hash;
        if let Some(k) = self.pending_break.take() {
            return if broken {
                p(k, format!("entry {k} was altered: its previous-hash field does not match entry {} and its hash does not match what entry {pos} records", k.wrapping_sub(1)))
            } else {
                p(
                    k - 1,
                    format!(
                        "entry {}'s stored bytes no longer hash to what entry {k} records",
                        k - 1
                    ),
                )
            };
        }
        if broken {
            if pos == 0 {
                return p(0, "entry 0's previous hash is not zero".into());
            }
            self.pending_break = Some(pos);
        }
        if !c.sig_ok {
            return p(
                pos,
                format!("bad signature (key {})", hex::encode(e.signed.change.actor)),
            );
        }
        if !broken && e.time_ms < self.prev_time {
            return p(
                pos,
                "ledger time is earlier than the previous entry's".into(),
            );
        }
        if let Err(what) = c.payload {
            return p(pos, what);
        }
        if let Some(what) = self.replay(pos, &e, c.missing) {
            return p(pos, what);
        }
        self.prev_hash = c.hash;
        self.prev_time = e.time_ms;
        self.expected = pos + 1;
        self.tree.append(c.leaf, |_, _, _| {});
        // With the link into `pos` broken, the altered entry is `pos - 1` or `pos`; the
        // next step (or `finish`) tells which, so a root mismatch here must not name it.
        let root_at_size = if self.pending_break.is_none() {
            self.roots.get(&self.tree.size())
        } else {
            None
        };
        if let Some((root, whose)) = root_at_size {
            if *root != self.tree.root() {
                let n = self.tree.size();
                return p(
                    pos,
                    format!("the root of the first {n} entries differs from {whose} (size {n}): the log was rewritten or rolled back (it now has {} entries)", self.ledger.head.size),
                );
            }
        }
        None
    }

    /// Re-applies the ledger's rules with the keys and records in force at `seq`.
    fn replay(&mut self, seq: u64, e: &Entry, missing: bool) -> Option<String> {
        let c = &e.signed.change;
        let actor = hex::encode(c.actor);
        match (&c.action, seq) {
            (Action::Genesis { person, .. }, 0) => {
                self.origin = Some(c.origin.clone());
                self.keys.insert(
                    c.actor,
                    KeyInfo {
                        person: person.clone(),
                        role: Role::Admin,
                        active: true,
                        record: c.record,
                        compromised_since: None,
                    },
                );
            }
            (Action::Genesis { .. }, _) => return Some("a genesis entry after entry 0".into()),
            (_, 0) => return Some("entry 0 is not a genesis entry".into()),
            _ => {
                if self.origin.as_deref() != Some(c.origin.as_str()) {
                    return Some(format!("change is for ledger {:?}, not this one", c.origin));
                }
                let Some(k) = self.keys.get(&c.actor) else {
                    return Some(format!(
                        "signed by key {actor}, which is not registered at this point"
                    ));
                };
                if !k.active {
                    return Some(format!(
                        "signed by key {actor}, which was revoked or replaced before this entry"
                    ));
                }
                if !allowed(k.role, &c.action) {
                    return Some(format!(
                        "key {actor} ({}) may not sign {} changes",
                        k.role,
                        c.action.name()
                    ));
                }
            }
        }
        let creates = c.action.creates_record();
        let rid = hex::encode(c.record);
        match (self.records.get_mut(&c.record), creates) {
            (Some(_), true) => return Some(format!("record {rid} is created twice")),
            (None, false) => return Some(format!("record {rid} is changed before it is created")),
            (None, true) => {
                if c.record_prev != [0; 32] {
                    return Some(format!(
                        "record {rid}: first change has a non-zero record_prev"
                    ));
                }
                self.records.insert(
                    c.record,
                    Rec {
                        latest: [0; 32],
                        record_type: c.record_type.clone(),
                        created_on: c.created_on.to_string(),
                        missing: None,
                        disposed: false,
                        accesses: Vec::new(),
                    },
                );
            }
            (Some(r), false) => {
                if r.disposed {
                    return Some(format!(
                        "record {rid} takes a {} change after its disposal",
                        c.action.name()
                    ));
                }
                if c.record_prev != r.latest {
                    return Some(format!("record {rid}: record_prev does not name the record's previous change (a change is missing, reordered or inserted)"));
                }
                if c.record_type != r.record_type || c.created_on.to_string() != r.created_on {
                    return Some(format!(
                        "record {rid}: type or created_on differ from the record's"
                    ));
                }
            }
        }
        let hash = e.signed.hash();
        let r = self.records.get_mut(&c.record)?;
        if matches!(c.action, Action::Access { .. }) {
            if r.accesses.contains(&hash) {
                return Some(format!(
                    "record {rid}: this access change is already recorded earlier: replayed"
                ));
            }
            r.accesses.push(hash);
        } else {
            r.latest = hash;
            r.accesses.clear();
        }
        if missing && r.missing.is_none() {
            r.missing = Some(seq);
        }
        match &c.action {
            Action::KeyRegister {
                key,
                role,
                replaces,
                person,
            } => {
                if let Some(old) = replaces.and_then(|o| self.keys.get_mut(&o)) {
                    old.active = false;
                }
                self.keys.insert(
                    *key,
                    KeyInfo {
                        person: person.clone(),
                        role: *role,
                        active: true,
                        record: c.record,
                        compromised_since: None,
                    },
                );
            }
            Action::KeyRevoke {
                key,
                compromised_since,
            } => match self.keys.get_mut(key) {
                Some(k) if k.record == c.record => {
                    let was_admin = k.active && k.role == Role::Admin;
                    k.active = false;
                    k.compromised_since = *compromised_since;
                    if was_admin
                        && !self
                            .keys
                            .values()
                            .any(|k| k.active && k.role == Role::Admin)
                    {
                        return Some(format!(
                            "revokes key {}, the last active administrator's: the ledger refuses that",
                            hex::encode(key)
                        ));
                    }
                }
                _ => {
                    return Some(format!(
                        "revokes key {}, which is not this key record's",
                        hex::encode(key)
                    ))
                }
            },
            Action::Disposal { .. } | Action::Transfer { .. } => r.disposed = true,
            _ => {}
        }
        let person = self.keys.get(&c.actor).map(|k| k.person.clone());
        self.disp
            .replay(seq, c, person.as_deref().unwrap_or(""), self.ledger)
    }

    /// The held checkpoint is beyond the log: truncated or rolled back.
    pub(super) fn beyond_held(&self, held: Option<&Checkpoint>) -> Option<Problem> {
        let n = self.tree.size();
        let cp = held.filter(|cp| cp.size > n)?;
        Some(Problem {
            seq: n,
            what: format!("the log has {n} entries but the checkpoint you hold has size {}: the log was truncated or rolled back", cp.size),
        })
    }

    /// After a clean walk: the stored tree
    /// (what proofs are made from) agrees with the tree recomputed from the entries.
    pub(super) fn finish_tree(&self) -> Result<Option<Problem>, LedgerError> {
        let n = self.tree.size();
        let stored =
            CompactRange::from_reader(n, &crate::ledger::tree::StoreNodes(&self.ledger.store));
        if stored.as_ref().ok() != Some(&self.tree) {
            return Ok(Some(Problem {
                seq: n.saturating_sub(1),
                what: "the stored Merkle tree does not match the entries (proofs made from it would not verify)".into(),
            }));
        }
        Ok(None)
    }

    pub(super) fn finish(&mut self, expect: Option<(u64, [u8; 32])>) -> Option<Problem> {
        let stored = Some((self.ledger.head.size, self.ledger.head.hash));
        let n = self.expected;
        let held = expect.or(stored);
        let last = n.checked_sub(1);
        if let Some((size, hash)) = held {
            if n < size {
                return Some(Problem { seq: n, what: format!("the log has {n} entries but the held head has {size}: entries {n}..{} were truncated", size - 1) });
            }
            if let Some(k) = self.pending_break {
                let culprit = if n == size && self.prev_hash != hash {
                    k
                } else {
                    k - 1
                };
                return Some(Problem { seq: culprit, what: format!("entry {culprit}'s stored bytes no longer hash to what its successor records") });
            }
            if n == size && self.prev_hash != hash {
                let l = last.unwrap_or(0);
                return Some(Problem {
                    seq: l,
                    what: format!("entry {l}'s stored bytes no longer hash to the held head"),
                });
            }
            if n > size && size > 0 && expect.is_some() {
                // Longer than the held head: the held head must be a prefix.
                match self
                    .ledger
                    .entry_bytes(size - 1)
                    .ok()
                    .flatten()
                    .map(|b| entry_hash(&b))
                {
                    Some(h) if h == hash => {}
                    _ => {
                        return Some(Problem {
                            seq: size.saturating_sub(1),
                            what: format!(
                                "entry {} does not match the held head: the log was rewritten",
                                size.saturating_sub(1)
                            ),
                        })
                    }
                }
            }
        }
        for (id, r) in &self.records {
            if let (Some(seq), false) = (r.missing, r.disposed) {
                return Some(Problem {
                    seq,
                    what: format!(
                        "content of record {} is missing and no disposal entry accounts for it",
                        hex::encode(id)
                    ),
                });
            }
        }
        None
    }
}
