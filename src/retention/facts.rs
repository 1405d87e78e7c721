//! The inputs of an evaluation besides the schedule: what is known about one record,
//! and the agency's retention settings.
//!
//! These are plain values: this module does not know the ledger. The caller builds a
//! [`RecordFacts`] from a record's state, latest payload and active holds, and a
//! [`Policy`] from the agency settings in force.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use super::dates::FiscalStart;
use super::rule::Period;
use super::RetentionError;

/// What an evaluation needs to know about one record.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordFacts {
    /// The record id (128 bits; time-ordered since `crypto::new_record_id`, random before).
    pub id: [u8; 16],
    /// The record type, e.g. "incident".
    pub record_type: String,
    /// The date the record was made (the change's `created_on`).
    pub created_on: Date,
    /// The date its case was closed, if it is closed.
    pub closed_on: Option<Date>,
    /// The date of the last change to the record, in the agency's time zone.
    pub last_action_on: Date,
    /// The record's latest JSON payload (an empty map when it has none): conditions
    /// and field triggers read it. See `docs/RETENTION.md`, "Field names".
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Holds in force on the record. Any hold blocks disposition; none moves a date.
    pub holds: Vec<HoldFact>,
}

/// A hold in force on a record (litigation, public records request, investigation,
/// audit, court order...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HoldFact {
    /// The hold's id as the ledger names it.
    pub id: String,
    /// The kind of hold, e.g. "litigation".
    pub kind: String,
    /// Its authority reference, e.g. a case number or request number.
    pub authority: String,
}

/// The agency settings retention depends on. Build it once per report.
#[derive(Clone, Debug)]
pub struct Policy {
    /// The agency's time zone: timestamps in payload fields become dates in it.
    pub time_zone: TimeZone,
    /// The first day of the agency's fiscal year.
    pub fiscal_year_start: FiscalStart,
    /// The agency's period for "until no longer needed", counted from the record's last
    /// action; `None` until the agency sets one (such items then need review).
    pub no_longer_needed: Option<Period>,
}

impl Policy {
    /// Builds a policy from settings values: an IANA time zone name, a fiscal year
    /// start "MM-DD", and the optional "no longer needed" period (`"P2Y"`, `"2y 6m"`).
    pub fn new(
        time_zone: &str,
        fiscal_year_start: &str,
        no_longer_needed: Option<&str>,
    ) -> Result<Policy, RetentionError> {
        let tz = TimeZone::get(time_zone)
            .map_err(|_| RetentionError::Policy(format!("unknown time zone {time_zone:?}")))?;
        let fy = FiscalStart::parse(fiscal_year_start).ok_or_else(|| {
            RetentionError::Policy(format!(
                "fiscal year start {fiscal_year_start:?} must be MM-DD"
            ))
        })?;
        let nln = match no_longer_needed {
            None => None,
            Some(s) => Some(
                s.parse::<Period>()
                    .map_err(|e| RetentionError::Policy(format!("no longer needed: {e}")))?,
            ),
        };
        Ok(Policy {
            time_zone: tz,
            fiscal_year_start: fy,
            no_longer_needed: nln,
        })
    }

    /// Today's date in the agency's time zone at instant `now` (the caller's clock).
    pub fn today(&self, now: jiff::Timestamp) -> Date {
        now.to_zoned(self.time_zone.clone()).date()
    }
}
