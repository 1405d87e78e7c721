//! Who could sign what, and when, replayed from the key entries an archive carries
//! (its `data/ledger/` part: the genesis entry and every key record's entries).
//!
//! Invariant: a key signs validly at sequence number `s` only if its registration
//! is at a lower sequence number, no revocation or replacement is at or below `s`,
//! and its role allows the action (`ledger::authority::allowed`, the same table the
//! ledger enforces). The replay is in sequence order, so each key change is itself
//! checked against the keys in force at its own place.

use std::collections::HashMap;

use crate::format::{Action, Change, Role};
use crate::ledger::authority::allowed;

struct KeyInfo {
    person: String,
    role: Role,
    record: [u8; 16],
    registered: u64,
    /// The first sequence number at which the key no longer signs.
    until: Option<u64>,
    compromised_since: Option<u64>,
}

/// The key timeline of an archive.
#[derive(Default)]
pub(super) struct Keys {
    origin: Option<String>,
    keys: HashMap<[u8; 32], KeyInfo>,
    last: Option<u64>,
}

impl Keys {
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// Applies a genesis or key-record change at `seq`; entries must come in ascending
    /// order, the genesis first.
    pub fn apply(&mut self, seq: u64, c: &Change) -> Result<(), String> {
        if self.last.is_some_and(|l| seq <= l) {
            return Err("the ledger part's entries are not in ascending order".into());
        }
        match (&c.action, self.last) {
            (Action::Genesis { person, .. }, None) if seq == 0 => {
                self.origin = Some(c.origin.clone());
                self.keys.insert(
                    c.actor,
                    KeyInfo {
                        person: person.clone(),
                        role: Role::Admin,
                        record: c.record,
                        registered: 0,
                        until: None,
                        compromised_since: None,
                    },
                );
                self.last = Some(0);
                return Ok(());
            }
            (_, None) => return Err("the ledger part does not start with the genesis entry".into()),
            _ => {}
        }
        self.authorize(seq, c)?;
        self.last = Some(seq);
        match &c.action {
            Action::KeyRegister {
                key,
                person,
                role,
                replaces,
            } => {
                if let Some(old) = replaces.and_then(|o| self.keys.get_mut(&o)) {
                    old.until = Some(old.until.map_or(seq, |u| u.min(seq)));
                }
                self.keys.insert(
                    *key,
                    KeyInfo {
                        person: person.clone(),
                        role: *role,
                        record: c.record,
                        registered: seq,
                        until: None,
                        compromised_since: None,
                    },
                );
            }
            Action::KeyRevoke {
                key,
                compromised_since,
            } => match self.keys.get_mut(key) {
                Some(k) if k.record == c.record => {
                    k.until = Some(k.until.map_or(seq, |u| u.min(seq)));
                    k.compromised_since = *compromised_since;
                }
                _ => {
                    return Err(format!(
                        "revokes key {}, which is not this key record's",
                        hex::encode(key)
                    ))
                }
            },
            _ => {}
        }
        Ok(())
    }

    /// Checks that `c`'s signer could sign it at `seq`. Returns the signer's person id
    /// and whether the key was later declared compromised from `seq` or earlier.
    pub fn authorize(&self, seq: u64, c: &Change) -> Result<(String, bool), String> {
        if self.origin.as_deref() != Some(c.origin.as_str()) {
            return Err(format!("change is for ledger {:?}, not this one", c.origin));
        }
        let actor = hex::encode(c.actor);
        let k = self.keys.get(&c.actor).ok_or_else(|| {
            format!("signed by key {actor}, which no key entry in the archive registers")
        })?;
        if k.registered >= seq && seq != 0 {
            return Err(format!(
                "signed by key {actor}, registered only at entry {}",
                k.registered
            ));
        }
        if k.until.is_some_and(|u| seq >= u) {
            return Err(format!(
                "signed by key {actor}, which was revoked or replaced at entry {}",
                k.until.unwrap_or_default()
            ));
        }
        if !allowed(k.role, &c.action) && !matches!(c.action, Action::Genesis { .. }) {
            return Err(format!(
                "key {actor} ({}) may not sign {} changes",
                k.role,
                c.action.name()
            ));
        }
        let flagged = k.compromised_since.is_some_and(|s| seq >= s);
        Ok((k.person.clone(), flagged))
    }
}
