//! `verify`'s replay of holds, plans, orders and disposals from the log itself: each
//! disposal must name a plan or order approved, before it, by a person other than the
//! one who made it, not yet certified, and its record must be under no record hold.
//!
//! Limit: case holds are not re-checked here. A case hold commits to a salted case
//! number and records carry their own salts, so the log alone cannot tell which records
//! a case hold covers; the ledger checks case holds at append through its keyed case
//! index (destroyable storage). Record holds are re-checked fully.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::format::{Action, Change, HoldScope};

/// A disposed record, as `verify` reports it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Disposed {
    pub record: String,
    pub seq: u64,
    /// `destroy`, `expunge` or `transfer`.
    pub kind: String,
    /// The plan or order record.
    pub authority: String,
    /// `purge-plan` or `disposal-order`.
    pub authority_kind: String,
    /// The schedule item (plans), from the plan's member rows.
    pub item: Option<String>,
}

struct Authority {
    kind: &'static str,
    creator: String,
    approved: bool,
    certified: bool,
}

#[derive(Default)]
pub(super) struct Dispositions {
    authorities: HashMap<[u8; 16], Authority>,
    /// hold → records it names (record-scope holds in force).
    holds: HashMap<[u8; 16], Vec<[u8; 16]>>,
    /// record → number of record holds in force on it.
    held: HashMap<[u8; 16], u32>,
    pub(super) disposed: Vec<Disposed>,
    released: HashSet<[u8; 16]>,
}

impl Dispositions {
    /// Re-applies the disposition rules to change `c` at `seq`, signed by `person`.
    pub(super) fn replay(&mut self, seq: u64, c: &Change, person: &str) -> Option<String> {
        let rid = hex::encode(c.record);
        match &c.action {
            Action::HoldPlace {
                scope: HoldScope::Records(ids),
                ..
            } => {
                for id in ids {
                    *self.held.entry(*id).or_insert(0) += 1;
                }
                self.holds.insert(c.record, ids.clone());
            }
            Action::HoldRelease => {
                if !self.released.insert(c.record) {
                    return Some(format!("hold {rid} is released twice"));
                }
                for id in self.holds.remove(&c.record).unwrap_or_default() {
                    if let Some(n) = self.held.get_mut(&id) {
                        *n = n.saturating_sub(1);
                    }
                }
            }
            Action::PurgePlan { .. } | Action::OrderRecord { .. } => {
                let kind = if matches!(c.action, Action::PurgePlan { .. }) {
                    "purge-plan"
                } else {
                    "disposal-order"
                };
                self.authorities.insert(
                    c.record,
                    Authority {
                        kind,
                        creator: person.to_string(),
                        approved: false,
                        certified: false,
                    },
                );
            }
            Action::PurgeApprove { .. } | Action::OrderApprove { .. } => {
                let Some(a) = self.authorities.get_mut(&c.record) else {
                    return Some(format!("approves {rid}, which is not a plan or order"));
                };
                if a.approved {
                    return Some(format!("{} {rid} is approved twice", a.kind));
                }
                if a.creator == person {
                    return Some(format!(
                        "{} {rid} is approved by {person}, the person who made it (two-person rule)",
                        a.kind
                    ));
                }
                a.approved = true;
            }
            Action::Certificate { .. } => match self.authorities.get_mut(&c.record) {
                Some(a) if a.approved && !a.certified => a.certified = true,
                _ => {
                    return Some(format!(
                    "certificate for {rid}, which is not an approved, uncertified plan or order"
                ))
                }
            },
            Action::Disposal { kind, authority } => {
                return self.dispose(seq, c, authority, kind.to_string());
            }
            Action::Transfer { authority, .. } => {
                return self.dispose(seq, c, authority, "transfer".into());
            }
            _ => {}
        }
        None
    }

    fn dispose(
        &mut self,
        seq: u64,
        c: &Change,
        authority: &[u8; 16],
        kind: String,
    ) -> Option<String> {
        let rid = hex::encode(c.record);
        let auth = hex::encode(authority);
        let Some(a) = self.authorities.get(authority) else {
            return Some(format!(
                "disposal of {rid} names {auth}, which is not a plan or order"
            ));
        };
        if !a.approved || a.certified {
            return Some(format!(
                "disposal of {rid} under {} {auth}, which is {}",
                a.kind,
                if a.certified {
                    "already certified"
                } else {
                    "not approved"
                }
            ));
        }
        if self.held.get(&c.record).is_some_and(|n| *n > 0) {
            return Some(format!("record {rid} is disposed while under a legal hold"));
        }
        self.disposed.push(Disposed {
            record: rid,
            seq,
            kind,
            authority: auth,
            authority_kind: a.kind.into(),
            item: None,
        });
        None
    }
}
