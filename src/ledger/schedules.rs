//! Adopted retention schedules: `schedule.adopt` entries commit to a schedule file's
//! BLAKE3 hash; the file is kept in `documents/` (so it is provable which version was in
//! force when). The latest adoption is the schedule in force.
//!
//! Invariant: only a file that parses whole (`retention::Schedule::parse`) is adopted;
//! the ledger re-parses it at append, so no writer can adopt a broken one.

use serde::Serialize;

use super::{Draft, Ledger, LedgerError};
use crate::format::Action;
use crate::retention::{Schedule, ScheduleError};
use crate::store::Space;

/// Parses a schedule file's text, refusing it whole with `FILE:LINE:COL: what`.
pub fn check(name: &str, text: &str) -> Result<Schedule, ScheduleError> {
    Schedule::parse(name, text)
}

/// One adoption: the schedule record, when, and what it adopted.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Adopted {
    pub record: String,
    pub seq: u64,
    pub document: String,
    pub state: String,
    pub title: String,
    pub version: String,
    pub items: usize,
    /// Whether a later adoption replaced it.
    pub in_force: bool,
}

impl Ledger {
    /// Keeps the schedule file and drafts its `schedule.adopt` entry. The file must
    /// parse; the error names the file, line and column.
    pub fn adopt_schedule_draft(&self, name: &str, text: &str) -> Result<Draft, LedgerError> {
        check(name, text).map_err(|e| LedgerError::Invalid(e.to_string()))?;
        let document = self.put_document(text.as_bytes())?;
        Ok(Draft::new_record(
            "schedule",
            super::append::today(),
            Action::ScheduleAdopt { document },
        ))
    }

    /// Every adoption, oldest first; the last is in force.
    pub fn schedules(&self) -> Result<Vec<Adopted>, LedgerError> {
        Ok(self.adoptions()?.into_iter().map(|(a, _)| a).collect())
    }

    /// Every adoption with its parsed schedule, oldest first; the last is in force.
    fn adoptions(&self) -> Result<Vec<(Adopted, Schedule)>, LedgerError> {
        let mut out: Vec<(Adopted, Schedule)> = Vec::new();
        for id in self.internal_records("schedule")? {
            let st = self
                .record(&id)?
                .ok_or_else(|| LedgerError::NoRecord(hex::encode(id)))?;
            let doc = st.document.ok_or_else(|| {
                LedgerError::Invalid(format!("schedule {} has no document", hex::encode(id)))
            })?;
            let s = self.schedule_document(&doc)?;
            let a = Adopted {
                record: hex::encode(id),
                seq: st.first_seq,
                document: hex::encode(doc),
                state: s.state.clone(),
                title: s.title.clone(),
                version: s.version.clone(),
                items: s.items.len(),
                in_force: false,
            };
            out.push((a, s));
        }
        out.sort_by_key(|(a, _)| a.seq);
        if let Some((last, _)) = out.last_mut() {
            last.in_force = true;
        }
        Ok(out)
    }

    /// The schedule in force and its adoption, if any was adopted.
    pub fn schedule_in_force(&self) -> Result<Option<(Adopted, Schedule)>, LedgerError> {
        Ok(self.adoptions()?.pop())
    }

    /// The kept schedule file with this hash, parsed.
    pub fn schedule_document(&self, hash: &[u8; 32]) -> Result<Schedule, LedgerError> {
        parse_document(hash, &self.document(hash)?)
    }

    /// The ledger's own records of `kind` (schedule, hold, purge-plan, disposal-order).
    pub fn internal_records(&self, kind: &str) -> Result<Vec<[u8; 16]>, LedgerError> {
        let prefix = [kind.as_bytes(), &[0]].concat();
        self.store
            .scan(Space::Internal, &prefix)
            .map(|r| {
                let (k, _) = r?;
                k.get(prefix.len()..)
                    .and_then(|s| s.try_into().ok())
                    .ok_or_else(|| LedgerError::Invalid("malformed internal index row".into()))
            })
            .collect()
    }
}

/// A kept schedule document (`bytes`, whose BLAKE3 is `hash`), parsed and checked.
pub fn parse_document(hash: &[u8; 32], bytes: &[u8]) -> Result<Schedule, LedgerError> {
    let name = format!("schedule {}", hex::encode(hash));
    let text = std::str::from_utf8(bytes)
        .map_err(|_| LedgerError::Invalid(format!("{name} is not UTF-8")))?;
    check(&name, text).map_err(|e| LedgerError::Invalid(e.to_string()))
}
