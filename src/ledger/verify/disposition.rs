//! `verify`'s replay of holds, plans, orders, disposals and transfers from the log
//! itself: each disposal must name a plan or order approved, before it, by a person
//! other than the one who made it, not yet certified, and its record must be under no
//! record hold. A transfer must name an approved purge plan (certified or not) whose
//! document, kept under the hash its plan entry commits to, lists the record for
//! transfer, and its record must be under no record hold.
//!
//! Limit: case holds are not re-checked here. A case hold commits to a salted case
//! number and records carry their own salts, so the log alone cannot tell which records
//! a case hold covers; the ledger checks case holds at append through its keyed case
//! index (destroyable storage). Record holds are re-checked fully.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::format::{Action, Change, HoldScope};
use crate::ledger::docs::{PlanDoc, PLAN_FORMAT};
use crate::ledger::Ledger;

/// A disposed record, as `verify` reports it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
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
    /// Transfers: the BLAKE3 of the archive file the record went to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
}

struct Authority {
    kind: &'static str,
    creator: String,
    approved: bool,
    certified: bool,
    /// The document the plan or order entry committed to.
    document: [u8; 32],
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
    /// plan → the records its document lists for transfer, read at its first transfer.
    transfer_lists: HashMap<[u8; 16], HashSet<[u8; 16]>>,
}

impl Dispositions {
    /// Re-applies the disposition rules to change `c` at `seq`, signed by `person`;
    /// `ledger` holds the plan documents a transfer is checked against.
    pub(super) fn replay(
        &mut self,
        seq: u64,
        c: &Change,
        person: &str,
        ledger: &Ledger,
    ) -> Option<String> {
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
            Action::PurgePlan { document, .. } | Action::OrderRecord { document } => {
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
                        document: *document,
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
            Action::Transfer { authority, archive } => {
                return self.transfer(seq, c, authority, archive, ledger);
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
            archive: None,
        });
        None
    }

    /// A transfer: an approved purge plan, certified or not, whose document lists the
    /// record for transfer; no record hold.
    fn transfer(
        &mut self,
        seq: u64,
        c: &Change,
        authority: &[u8; 16],
        archive: &[u8; 32],
        ledger: &Ledger,
    ) -> Option<String> {
        let rid = hex::encode(c.record);
        let auth = hex::encode(authority);
        let Some(a) = self.authorities.get(authority) else {
            return Some(format!(
                "transfer of {rid} names {auth}, which is not a purge plan"
            ));
        };
        if a.kind != "purge-plan" {
            return Some(format!(
                "transfer of {rid} names {} {auth}; only a purge plan lists records for transfer",
                a.kind
            ));
        }
        if !a.approved {
            return Some(format!(
                "transfer of {rid} under purge-plan {auth}, which is not approved"
            ));
        }
        if *archive == [0; 32] {
            return Some(format!("transfer of {rid} names no archive"));
        }
        if self.held.get(&c.record).is_some_and(|n| *n > 0) {
            return Some(format!(
                "record {rid} is transferred while under a legal hold"
            ));
        }
        if !self.transfer_lists.contains_key(authority) {
            match transfer_list(ledger, &a.document) {
                Ok(list) => self.transfer_lists.insert(*authority, list),
                Err(why) => {
                    return Some(format!("transfer of {rid} under purge-plan {auth}: {why}"))
                }
            };
        }
        if !self
            .transfer_lists
            .get(authority)
            .is_some_and(|l| l.contains(&c.record))
        {
            return Some(format!(
                "transfer of {rid} under purge-plan {auth}, whose document does not list it for transfer"
            ));
        }
        self.disposed.push(Disposed {
            record: rid,
            seq,
            kind: "transfer".into(),
            authority: auth,
            authority_kind: "purge-plan".into(),
            item: None,
            archive: Some(hex::encode(archive)),
        });
        None
    }
}

/// The records a plan document lists for transfer. The document is read by the hash
/// its plan entry committed to, so its content is the log's, not derived state.
fn transfer_list(ledger: &Ledger, document: &[u8; 32]) -> Result<HashSet<[u8; 16]>, String> {
    let doc = hex::encode(document);
    let bytes = ledger
        .document(document)
        .map_err(|e| format!("its document {doc} cannot be read ({e})"))?;
    let plan: PlanDoc = serde_json::from_slice(&bytes)
        .map_err(|e| format!("its document {doc} is not a plan ({e})"))?;
    if plan.format != PLAN_FORMAT {
        return Err(format!(
            "its document {doc} is not a {PLAN_FORMAT} document"
        ));
    }
    let mut out = HashSet::new();
    for e in plan.records.iter().filter(|e| e.disposition == "transfer") {
        let id = crate::crypto::parse_hex(&e.record)
            .ok_or_else(|| format!("its document {doc} lists {:?}, not a record id", e.record))?;
        out.insert(id);
    }
    Ok(out)
}
