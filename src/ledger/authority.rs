//! Who may sign what: DESIGN.md's roles table, enforced by the library at append and
//! re-checked by `verify` against the keys in force at each sequence number.

use serde::{Deserialize, Serialize};

use crate::format::{Action, Role};

/// Whether `role` may sign `action` (the two-person rules are checked separately).
pub fn allowed(role: Role, action: &Action) -> bool {
    use Action::*;
    use Role::*;
    match action {
        Genesis { .. }
        | KeyRegister { .. }
        | KeyRevoke { .. }
        | WitnessRegister { .. }
        | Transfer { .. } => role == Admin,
        RecordCreate { .. } | RecordAmend | RecordAttach { .. } | RecordStatus { .. } => {
            matches!(role, Clerk | Supervisor)
        }
        RecordSeal | RecordUnseal | RecordConfidential { .. } | HoldPlace { .. } | HoldRelease => {
            role == Supervisor
        }
        PurgePlan { .. } | PurgeApprove { .. } => role == Supervisor,
        Access { .. } => matches!(role, Supervisor | Auditor),
        ScheduleAdopt { .. } | Settings { .. } | OrderRecord { .. } | OrderApprove { .. } => {
            matches!(role, Supervisor | Admin)
        }
        Disposal { .. } | Certificate { .. } => matches!(role, Supervisor | Admin),
    }
}

/// A registered key as the ledger knows it at the current head.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyState {
    #[serde(with = "hex::serde")]
    pub key: [u8; 32],
    pub person: String,
    pub role: String,
    #[serde(with = "hex::serde")]
    pub record: [u8; 16],
    pub registered: u64,
    /// Sequence number of the revocation entry.
    pub revoked: Option<u64>,
    /// Entries signed by this key from this sequence number on are flagged.
    pub compromised_since: Option<u64>,
    /// Sequence number of the rotation that replaced this key.
    pub replaced: Option<u64>,
}

impl KeyState {
    /// A key registered at `seq` by the change to key record `record`.
    pub fn registered(key: [u8; 32], person: &str, role: Role, record: [u8; 16], seq: u64) -> Self {
        KeyState {
            key,
            person: person.to_string(),
            role: role.to_string(),
            record,
            registered: seq,
            revoked: None,
            compromised_since: None,
            replaced: None,
        }
    }
    pub fn role(&self) -> Role {
        self.role.parse().unwrap_or(Role::Auditor)
    }
    pub fn active(&self) -> bool {
        self.revoked.is_none() && self.replaced.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_design() {
        assert!(allowed(Role::Clerk, &Action::RecordAmend));
        assert!(!allowed(Role::Clerk, &Action::RecordSeal));
        assert!(!allowed(
            Role::Auditor,
            &Action::RecordCreate {
                confidential: false
            }
        ));
        assert!(allowed(
            Role::Auditor,
            &Action::Access {
                target: crate::format::AccessTarget::Payload,
                change: [0; 32]
            }
        ));
        assert!(!allowed(
            Role::Clerk,
            &Action::Access {
                target: crate::format::AccessTarget::Payload,
                change: [0; 32]
            }
        ));
        assert!(!allowed(
            Role::Supervisor,
            &Action::KeyRevoke {
                key: [0; 32],
                compromised_since: None
            }
        ));
        assert!(allowed(
            Role::Admin,
            &Action::KeyRevoke {
                key: [0; 32],
                compromised_since: None
            }
        ));
        assert!(!allowed(
            Role::Admin,
            &Action::RecordCreate {
                confidential: false
            }
        ));
    }
}
