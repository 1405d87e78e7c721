//! The retention report: every record evaluated against the schedule in force
//! (`crate::retention::evaluate`), streamed in record-id order: one scan reads the
//! record rows in chunks of consecutive rows, and a few chunks at a time are decoded and
//! evaluated in parallel while the scan reads the next ones. Memory follows the chunks
//! in flight (at most eight chunks of 2,048 rows: four evaluated, four read ahead, and
//! the four's outcomes), not the whole ledger, whatever the ids' distribution
//! (random before time-ordered ids, `crypto::new_record_id`; time-ordered since).
//!
//! Reading a record's payload fields to evaluate conditions (felony, sustained, dates)
//! is not a person's read: nothing of the content is returned, only the evaluation, so
//! no `access` entry is appended (DESIGN.md's rule is about returning content).

use rayon::prelude::*;
use serde::Serialize;

use super::read::parse_state;
use super::state::RecordState;
use super::{Ledger, LedgerError};
use crate::format::action::INTERNAL_TYPES;
use crate::format::CommitmentKind;
use crate::retention::{evaluate, HoldFact, Outcome, Policy, RecordFacts, Schedule, Status};
use crate::store::Space;

/// Chunks of consecutive record rows evaluated at once, in parallel (two per core on the
/// project's machine), while the next group is read.
const CHUNKS_IN_FLIGHT: usize = 4;

/// Record rows in a chunk.
const CHUNK_ROWS: usize = 2048;

/// A chunk of consecutive record rows (key, value).
type Chunk = Vec<(Vec<u8>, Vec<u8>)>;

/// Reads the next `CHUNKS_IN_FLIGHT` chunks of record rows (fewer, or none, at the end).
fn take_chunks(
    rows: &mut (impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), crate::store::StoreError>> + Send),
) -> Result<Vec<Chunk>, LedgerError> {
    let mut chunks = Vec::with_capacity(CHUNKS_IN_FLIGHT);
    while chunks.len() < CHUNKS_IN_FLIGHT {
        let chunk = rows
            .by_ref()
            .take(CHUNK_ROWS)
            .collect::<Result<Vec<_>, _>>()?;
        if chunk.is_empty() {
            break;
        }
        chunks.push(chunk);
    }
    Ok(chunks)
}

/// Record status names (record.status) → the payload field a retention trigger reads.
const STATUS_FIELDS: &[(&str, &str)] = &[
    ("closed", "closed_on"),
    ("served", "served_on"),
    ("recalled", "recalled_on"),
    ("superseded", "superseded_on"),
    ("final-disposition", "disposition_on"),
    ("appeals-exhausted", "appeals_exhausted_on"),
];

/// Totals of a report, by status: the `summary` of `retention report --json`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReportSummary {
    pub as_of: String,
    pub schedule: Option<super::schedules::Adopted>,
    pub records: u64,
    pub by_status: std::collections::BTreeMap<String, u64>,
}

impl Ledger {
    /// The agency's retention policy, from the settings in force.
    pub fn policy(&self) -> Result<Policy, LedgerError> {
        let s = &self.settings;
        Policy::new(
            &s.time_zone,
            &s.fiscal_year_start,
            s.no_longer_needed.as_deref(),
        )
        .map_err(|e| LedgerError::Invalid(e.to_string()))
    }

    /// What retention needs to know about a record: dates, latest payload fields (with
    /// the dates of its status changes filled in), and the holds on it.
    pub fn facts(&self, st: &RecordState, policy: &Policy) -> Result<RecordFacts, LedgerError> {
        self.facts_with(st, policy, true, true)
    }

    /// [`Self::facts`]; `holds_exist: false` skips the hold lookups (no hold in force
    /// anywhere in the ledger, known once per report), and `read_fields: false` skips
    /// decrypting the payload (the schedule reads no field for this record type).
    fn facts_with(
        &self,
        st: &RecordState,
        policy: &Policy,
        holds_exist: bool,
        read_fields: bool,
    ) -> Result<RecordFacts, LedgerError> {
        let bad =
            |what: String| LedgerError::Invalid(format!("record {}: {what}", hex::encode(st.id)));
        let created_on: jiff::civil::Date = st
            .created_on
            .parse()
            .map_err(|e| bad(format!("created_on: {e}")))?;
        let mut fields = match st.content.filter(|_| read_fields) {
            Some(h) => match self.open_sealed(&st.id, &h, CommitmentKind::Content)? {
                Some((_, bytes)) => match serde_json::from_slice(&bytes) {
                    Ok(serde_json::Value::Object(m)) => m,
                    _ => serde_json::Map::new(),
                },
                None => serde_json::Map::new(),
            },
            None => serde_json::Map::new(),
        };
        for (status, field) in STATUS_FIELDS {
            if let Some(d) = st.status_dates.get(*status) {
                fields
                    .entry(field.to_string())
                    .or_insert_with(|| serde_json::Value::String(d.clone()));
            }
        }
        let closed_on = match (st.status.as_deref(), &st.status_date) {
            (Some("closed"), Some(d)) => {
                Some(d.parse().map_err(|e| bad(format!("closed on: {e}")))?)
            }
            _ => None,
        };
        let last_ms = if st.last_change_ms > 0 {
            st.last_change_ms
        } else {
            self.entry(st.last_seq)?.time_ms
        };
        let last_action_on = jiff::Timestamp::from_millisecond(last_ms)
            .map(|t| t.to_zoned(policy.time_zone.clone()).date())
            .map_err(|e| bad(format!("last change time: {e}")))?;
        let mut holds = Vec::new();
        let held = if holds_exist {
            self.holds_on(&st.id)?
        } else {
            Vec::new()
        };
        for h in held {
            let hold = self.hold(&h)?;
            holds.push(HoldFact {
                id: hold.id,
                kind: hold.kind,
                authority: hold.authority,
            });
        }
        Ok(RecordFacts {
            id: st.id,
            record_type: st.record_type.clone(),
            created_on,
            closed_on,
            last_action_on,
            fields,
            holds,
        })
    }

    /// Evaluates one record.
    pub fn evaluate_record(
        &self,
        schedule: &Schedule,
        policy: &Policy,
        st: &RecordState,
        as_of: jiff::civil::Date,
    ) -> Result<Outcome, LedgerError> {
        Ok(evaluate(schedule, &self.facts(st, policy)?, policy, as_of))
    }

    /// [`Self::evaluate_record`], reading the payload only if the schedule reads a
    /// field for the record's type, and the holds only if `holds_exist` (some hold is
    /// in force somewhere in the ledger, [`Self::any_hold`]).
    pub(crate) fn evaluate_with(
        &self,
        schedule: &Schedule,
        policy: &Policy,
        st: &RecordState,
        as_of: jiff::civil::Date,
        holds_exist: bool,
    ) -> Result<Outcome, LedgerError> {
        let read_fields = schedule.reads_fields(&st.record_type);
        let facts = self.facts_with(st, policy, holds_exist, read_fields)?;
        Ok(evaluate(schedule, &facts, policy, as_of))
    }

    /// Whether any hold is in force anywhere in the ledger.
    pub(crate) fn any_hold(&self) -> Result<bool, LedgerError> {
        Ok(self
            .store
            .scan(Space::Hold, b"")
            .next()
            .transpose()?
            .is_some())
    }

    /// Evaluates a stored record state row; `None` for a disposed record or one of the
    /// ledger's own.
    fn evaluate_row(
        &self,
        k: &[u8],
        v: &[u8],
        schedule: &Schedule,
        policy: &Policy,
        as_of: jiff::civil::Date,
        holds_exist: bool,
    ) -> Option<Result<Outcome, LedgerError>> {
        let st = match parse_state(k.try_into().ok(), v) {
            Ok(st) => st,
            Err(e) => return Some(Err(e)),
        };
        if st.disposed.is_some() || INTERNAL_TYPES.contains(&st.record_type.as_str()) {
            return None;
        }
        Some(self.evaluate_with(schedule, policy, &st, as_of, holds_exist))
    }

    /// Today in the agency's time zone.
    pub fn today(&self) -> Result<jiff::civil::Date, LedgerError> {
        Ok(jiff::Zoned::now()
            .with_time_zone(self.policy()?.time_zone)
            .date())
    }

    /// The retention report under the schedule in force, as of `as_of` (default: today
    /// in the agency's time zone): `start` gets the adoption and the date before the
    /// first record, `each` every outcome in record-id order; returns the totals. What
    /// `retention report` prints, the daemon streams and its daily job writes.
    pub fn report_in_force(
        &self,
        as_of: Option<jiff::civil::Date>,
        start: &mut dyn FnMut(
            &super::schedules::Adopted,
            jiff::civil::Date,
        ) -> Result<(), LedgerError>,
        each: &mut dyn FnMut(Outcome) -> Result<(), LedgerError>,
    ) -> Result<ReportSummary, LedgerError> {
        let date = match as_of {
            Some(d) => d,
            None => self.today()?,
        };
        let (adopted, schedule) = self.schedule_in_force()?.ok_or_else(|| {
            LedgerError::Invalid(
                "no retention schedule is adopted; run `blotter schedule adopt FILE` first".into(),
            )
        })?;
        start(&adopted, date)?;
        let mut records = 0u64;
        let by_status = self.retention_report(&schedule, date, &mut |o| {
            records += 1;
            each(o)
        })?;
        Ok(ReportSummary {
            as_of: date.to_string(),
            schedule: Some(adopted),
            records,
            by_status,
        })
    }

    /// Streams the evaluation of every live record (not disposed, not the ledger's own)
    /// under `schedule` to `each`, in record-id order.
    pub fn retention_report(
        &self,
        schedule: &Schedule,
        as_of: jiff::civil::Date,
        each: &mut dyn FnMut(Outcome) -> Result<(), LedgerError>,
    ) -> Result<std::collections::BTreeMap<String, u64>, LedgerError> {
        let policy = self.policy()?;
        let holds_exist = self.any_hold()?;
        let mut by_status = std::collections::BTreeMap::new();
        let mut rows = self.store.scan(Space::Record, &[]);
        let mut next = take_chunks(&mut rows)?;
        while !next.is_empty() {
            // Evaluate this group of chunks in parallel while the next group is read.
            let (group, following) = rayon::join(
                || {
                    next.par_iter()
                        .map(|chunk| {
                            chunk
                                .iter()
                                .filter_map(|(k, v)| {
                                    self.evaluate_row(k, v, schedule, &policy, as_of, holds_exist)
                                })
                                .collect::<Vec<_>>()
                        })
                        .collect::<Vec<_>>()
                },
                || take_chunks(&mut rows),
            );
            for o in group.into_iter().flatten() {
                let o = o?;
                *by_status
                    .entry(status_name(o.status).to_string())
                    .or_insert(0) += 1;
                each(o)?;
            }
            next = following?;
        }
        Ok(by_status)
    }
}

/// Every status with the name reports, plans and `--status` use (as in the `--json`
/// outcome).
pub const STATUSES: [(Status, &str); 7] = [
    (Status::Eligible, "eligible"),
    (Status::NotYet, "not_yet"),
    (Status::Blocked, "blocked"),
    (Status::Permanent, "permanent"),
    (Status::Review, "review"),
    (Status::Uncovered, "uncovered"),
    (Status::NoTriggerYet, "no_trigger_yet"),
];

/// The status as reports and plans name it.
pub fn status_name(s: Status) -> &'static str {
    STATUSES
        .iter()
        .find(|(st, _)| *st == s)
        .map_or("unknown", |(_, n)| n)
}

#[cfg(test)]
mod tests {
    use crate::ledger::testing;
    use crate::retention::Schedule;

    /// More records than one group of chunks, half with random ids (as made before
    /// time-ordered ids) and half with time-ordered ones: every live record is reported
    /// exactly once, in record-id order, the ledger's own records left out.
    #[test]
    fn reports_every_record_once_in_id_order_across_chunks() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut l, clerk) = testing::with_clerk(&tmp.path().join("l"), "pd.example/report");
        let n = 2 * super::CHUNKS_IN_FLIGHT * super::CHUNK_ROWS + 77;
        let mut ids = Vec::new();
        let subs = (0..n)
            .map(|i| {
                let mut d = testing::incident();
                if i % 2 == 0 {
                    d.record = crate::crypto::random();
                }
                ids.push(d.record);
                l.sign(&clerk, d).unwrap()
            })
            .collect();
        l.append(subs).unwrap();
        let schedule = Schedule::parse(
            "test.toml",
            include_str!("../../tests/fixtures/schedule-test.toml"),
        )
        .unwrap();
        let mut seen = Vec::new();
        let totals = l
            .retention_report(&schedule, jiff::civil::date(2026, 6, 1), &mut |o| {
                seen.push(o.record);
                Ok(())
            })
            .unwrap();
        ids.sort();
        assert_eq!(seen, ids);
        assert_eq!(totals.values().sum::<u64>(), n as u64);
    }
}
