//! Legal holds (litigation, public records request, investigation, audit, court order):
//! `hold.place` creates a hold record naming records or a case number, `hold.release`
//! ends it. A hold blocks disposition whatever the computed eligible date; it never
//! moves the date (docs/RETENTION.md).
//!
//! Invariant: a case hold covers every record whose case number is the hold's, by the
//! keyed case index, so records added to the case after the hold are covered too.

use serde::{Deserialize, Serialize};

use super::{Draft, Ledger, LedgerError};
use crate::crypto::seal::EpochKeys;
use crate::format::{Action, CommitmentKind, HoldKind, HoldScope};
use crate::store::Space;

/// The `L` row prefix of the holds naming `record`; a row is the prefix ‖ hold id.
pub(crate) fn record_prefix(record: &[u8; 16]) -> Vec<u8> {
    [&b"r"[..], record].concat()
}

/// The `L` row prefix of the holds on the case `case_number` (keyed, like the case index).
pub(crate) fn case_prefix(epochs: &EpochKeys, case_number: &str) -> Vec<u8> {
    [&b"c"[..], &epochs.index_hash("case", case_number)].concat()
}

/// The prefixes under which holds on a record stand: its own, and its case's.
pub(crate) fn prefixes_of(
    epochs: &EpochKeys,
    record: &[u8; 16],
    case_number: Option<&str>,
) -> Vec<Vec<u8>> {
    let mut out = vec![record_prefix(record)];
    out.extend(case_number.map(|n| case_prefix(epochs, n)));
    out
}

/// The hold id an `L` row ends with.
pub(crate) fn hold_of_row(row: &[u8]) -> Option<[u8; 16]> {
    row.get(row.len().checked_sub(16)?..)?.try_into().ok()
}

/// What a hold covers, as the supervisor names it.
#[derive(Clone, Debug)]
pub enum HoldTarget {
    Records(Vec<[u8; 16]>),
    Case(String),
}

/// The hold's side document.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct HoldDoc {
    authority: String,
}

/// An active or released hold, as `hold list` shows it.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Hold {
    pub id: String,
    pub kind: String,
    pub authority: String,
    /// `records` or `case`.
    pub scope: String,
    /// The records named (record scope), or the case number (case scope).
    pub records: Vec<String>,
    pub case_number: Option<String>,
    pub placed: u64,
    pub released: Option<u64>,
}

impl Ledger {
    /// Drafts a `hold.place`; the authority reference (docket, request number) is the
    /// sealed side document.
    pub fn hold_draft(
        &self,
        kind: HoldKind,
        authority: &str,
        target: HoldTarget,
    ) -> Result<Draft, LedgerError> {
        if let HoldTarget::Records(ids) = &target {
            for id in ids {
                if self.record(id)?.is_none() {
                    return Err(LedgerError::NoRecord(hex::encode(id)));
                }
            }
        }
        hold_draft(kind, authority, target)
    }

    /// Every hold, oldest first, with what it covers.
    pub fn holds(&self) -> Result<Vec<Hold>, LedgerError> {
        let mut out = Vec::new();
        for id in self.internal_records("hold")? {
            out.push(self.hold(&id)?);
        }
        out.sort_by_key(|h| h.placed);
        Ok(out)
    }

    /// One hold, read from its `hold.place` entry and sealed side document.
    pub fn hold(&self, id: &[u8; 16]) -> Result<Hold, LedgerError> {
        let st = self
            .record(id)?
            .filter(|s| s.record_type == "hold")
            .ok_or_else(|| LedgerError::Invalid(format!("{} is not a hold", hex::encode(id))))?;
        let e = self.entry(st.first_seq)?;
        let c = &e.signed.change;
        let Action::HoldPlace { kind, scope } = &c.action else {
            return Err(LedgerError::Invalid(format!(
                "hold {}: its first entry is not hold.place",
                hex::encode(id)
            )));
        };
        let hash = crate::format::change::change_hash(e.signed.change_bytes());
        let authority = match self.open_sealed(id, &hash, CommitmentKind::SideDocument)? {
            Some((_, b)) => serde_json::from_slice::<HoldDoc>(&b)
                .map(|d| d.authority)
                .unwrap_or_default(),
            None => String::new(),
        };
        let (scope_name, records, case_number) = match scope {
            HoldScope::Records(ids) => ("records", ids.iter().map(hex::encode).collect(), None),
            HoldScope::Case(_) => ("case", Vec::new(), self.case_number(id)?),
        };
        Ok(Hold {
            id: hex::encode(id),
            kind: kind.to_string(),
            authority,
            scope: scope_name.into(),
            records,
            case_number,
            placed: st.first_seq,
            released: st.closed,
        })
    }

    /// The active holds on a record: by record id, and by its case number.
    pub fn holds_on(&self, record: &[u8; 16]) -> Result<Vec<[u8; 16]>, LedgerError> {
        let case = self.case_number(record)?;
        let mut out = Vec::new();
        for p in prefixes_of(&self.epochs, record, case.as_deref()) {
            for r in self.store.scan(Space::Hold, &p) {
                out.extend(hold_of_row(&r?.0));
            }
        }
        Ok(out)
    }
}

/// Drafts a `hold.place` with no ledger at hand (the daemon's client): the ledger checks
/// the records when it appends.
pub fn hold_draft(
    kind: HoldKind,
    authority: &str,
    target: HoldTarget,
) -> Result<Draft, LedgerError> {
    if authority.trim().is_empty() {
        return Err(LedgerError::Invalid(
            "a hold needs its authority reference (--authority)".into(),
        ));
    }
    let (scope, case_number) = match target {
        HoldTarget::Records(mut ids) => {
            if ids.is_empty() {
                return Err(LedgerError::Invalid(
                    "name the records to hold, or --case".into(),
                ));
            }
            ids.sort_unstable();
            ids.dedup();
            (HoldScope::Records(ids), None)
        }
        // The scope's commitment is filled in when the draft is prepared.
        HoldTarget::Case(n) => (HoldScope::Case([0; 32]), Some(n)),
    };
    let mut d = Draft::new_record(
        "hold",
        super::append::today(),
        Action::HoldPlace { kind, scope },
    );
    d.case_number = case_number;
    d.side_doc = Some(
        serde_json::to_vec(&HoldDoc {
            authority: authority.to_string(),
        })
        .map_err(|e| LedgerError::Invalid(e.to_string()))?,
    );
    Ok(d)
}
