//! Append rules for the ledger's people and witnesses: the genesis administrator, key
//! registration, rotation and revocation (never of the last active administrator), and
//! witness registration.

use std::collections::HashMap;

use super::BatchWriter;
use crate::format::{Action, Change, Role};
use crate::ledger::authority::KeyState;
use crate::ledger::LedgerError;
use crate::store::Space;

impl BatchWriter<'_> {
    /// Applies a key or witness action of `c`, signed by `person`, at `seq`.
    pub(super) fn key_action(
        &mut self,
        (i, seq): (usize, u64),
        c: &Change,
        person: &str,
    ) -> Result<(), LedgerError> {
        let refuse = |d: String| LedgerError::refused(i, d);
        let rid = hex::encode(c.record);
        match &c.action {
            Action::Genesis { .. } => {
                self.put_key(KeyState::registered(
                    c.actor,
                    person,
                    Role::Admin,
                    c.record,
                    seq,
                ))?;
            }
            Action::KeyRegister {
                key,
                person: p,
                role: r,
                replaces,
            } => {
                if self.key(key).is_some() {
                    return Err(refuse(format!(
                        "key {} is already registered",
                        hex::encode(key)
                    )));
                }
                if ed25519_dalek::VerifyingKey::from_bytes(key)
                    .map(|k| k.is_weak())
                    .unwrap_or(true)
                {
                    return Err(refuse(format!(
                        "{} is not a valid Ed25519 public key",
                        hex::encode(key)
                    )));
                }
                if let Some(old) = replaces {
                    let mut o = self.key(old).cloned().ok_or_else(|| {
                        refuse(format!(
                            "key {} to replace is not registered",
                            hex::encode(old)
                        ))
                    })?;
                    if o.person != *p || !o.active() {
                        return Err(refuse(format!(
                            "key {} is not an active key of person {p}",
                            hex::encode(old)
                        )));
                    }
                    o.replaced = Some(seq);
                    self.put_key(o)?;
                }
                self.put_key(KeyState::registered(*key, p, *r, c.record, seq))?;
            }
            Action::KeyRevoke {
                key,
                compromised_since,
            } => {
                let mut k = self
                    .key(key)
                    .cloned()
                    .ok_or_else(|| refuse(format!("key {} is not registered", hex::encode(key))))?;
                if k.record != c.record {
                    return Err(refuse(format!(
                        "key {} is not the key of record {rid}",
                        hex::encode(key)
                    )));
                }
                if k.revoked.is_some() {
                    return Err(refuse(format!(
                        "key {} is already revoked",
                        hex::encode(key)
                    )));
                }
                if k.active() && k.role() == Role::Admin {
                    let mut admins: HashMap<[u8; 32], bool> = self
                        .ledger
                        .keys
                        .iter()
                        .map(|(p, s)| (*p, s.active() && s.role() == Role::Admin))
                        .collect();
                    admins.extend(
                        self.keys
                            .iter()
                            .map(|(p, s)| (*p, s.active() && s.role() == Role::Admin)),
                    );
                    if admins.iter().filter(|(p, a)| **a && *p != key).count() == 0 {
                        return Err(refuse("refusing to revoke the last administrator's key; register another administrator first".into()));
                    }
                }
                k.revoked = Some(seq);
                k.compromised_since = *compromised_since;
                self.put_key(k)?;
            }
            Action::WitnessRegister { key, name } => {
                let w = crate::ledger::checkpoint::Witness::new(name, key, seq).map_err(refuse)?;
                if self.ledger.witness(key)?.is_some() || self.witnesses.contains(key) {
                    return Err(refuse(format!(
                        "witness key {} is already registered",
                        hex::encode(key)
                    )));
                }
                let json =
                    serde_json::to_vec(&w).map_err(|e| LedgerError::Invalid(e.to_string()))?;
                self.batch.put(Space::Witness, key, &json);
                self.witnesses.push(*key);
            }
            _ => {}
        }
        Ok(())
    }
}
