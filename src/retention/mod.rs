//! Retention schedules and the pure evaluation of records against them.
//!
//! - [`Schedule::parse`] reads a schedule file (TOML, format in `docs/RETENTION.md`)
//!   and checks all of it, or refuses it with `FILE:LINE:COL: what is wrong`;
//! - [`evaluate`] tells, for one record ([`RecordFacts`]) under one schedule and the
//!   agency's [`Policy`], which item governs it, its trigger and eligible dates, and
//!   what stops its disposition today ([`Outcome`]).
//!
//! What this module deliberately does not do: read files or the clock, know the
//! ledger or its store, place holds, or plan and apply purges. Those belong to the
//! ledger and the CLI, which build [`RecordFacts`] and [`Policy`] from plain values.
//!
//! Invariants:
//! - a schedule is adopted whole or not at all: `parse` returns no partial schedule;
//! - evaluation is a pure function of its arguments: no global state, no clock, no
//!   I/O, so a report streams over any number of records in constant memory;
//! - a hold never moves a computed date; it blocks;
//! - nothing in this module panics on a schedule file or a record payload.

mod dates;
mod eval;
mod facts;
mod parse;
mod rule;
mod schedule;

pub use dates::{add_period, date_of, FiscalStart};
pub use eval::{evaluate, Outcome, Status};
pub use facts::{HoldFact, Policy, RecordFacts};
pub use parse::MAX_DEPTH;
pub use rule::{Period, Rule, Trigger, MAX_YEARS};
pub use schedule::{
    Condition, Confidence, Disposition, FieldValue, Item, Schedule, FORMAT_VERSION,
};

/// A schedule file that cannot be adopted: where, and what is wrong.
/// Displays as `FILE:LINE:COL: what`; line and column count from 1.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {what}")]
pub struct ScheduleError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub what: String,
}

/// Errors of the retention layer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RetentionError {
    /// A schedule file was refused.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// Agency settings that retention cannot use (time zone, fiscal year start,
    /// "no longer needed" period).
    #[error("agency settings: {0}")]
    Policy(String),
}

impl Schedule {
    /// Parses and checks a schedule file's text. `name` (usually the file name) is
    /// what errors call the file. Nothing is returned unless the whole file is right.
    pub fn parse(name: &str, text: &str) -> Result<Schedule, ScheduleError> {
        parse::parse(name, text)
    }
}
