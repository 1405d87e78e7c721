//! Evaluation: for one record, which item governs it, from which date, until when, and
//! what (if anything) stops its disposition today.
//!
//! Pure and streaming: [`evaluate`] takes one record, the schedule, the policy and the
//! date `as_of`, reads no clock and keeps no state, so a report over any number of
//! records runs in constant memory, one record at a time, in any order or in parallel.
//!
//! Invariants:
//! - an eligible date is never earlier than its trigger date plus the item's period
//!   (`eligible_on = dates::add_period(trigger_date, period)` for a simple rule, and a
//!   combinator returns one of its rules' dates);
//! - holds never change `trigger_date` or `eligible_on`; they only turn a status that
//!   would be `Eligible` (or `Review` for an item reviewed when due) into `Blocked`;
//! - when several items cover a record, the one retaining longest governs: permanent,
//!   then an unknown date (no trigger yet, or review), then the latest eligible date;
//!   ties go to the item first in the file; the others are listed in `also_covered_by`;
//! - nothing is `Eligible` without a covering item and a computed date on or before
//!   `as_of`.

use jiff::civil::Date;
use serde::{Serialize, Serializer};

use super::dates::{add_period, after_calendar_year, date_of};
use super::facts::{Policy, RecordFacts};
use super::rule::{Period, Rule, Trigger};
use super::schedule::{Confidence, Disposition, Item, Schedule};

/// Where a record stands as of the evaluation date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The eligible date has come, no hold: the disposition may be planned.
    Eligible,
    /// The eligible date is known and still ahead.
    NotYet,
    /// The eligible date has come but holds are in force (`Outcome::holds`).
    Blocked,
    /// The governing item keeps the record permanently.
    Permanent,
    /// A person must decide: the item's disposition is review/appraisal and it is due,
    /// or the date cannot be computed from data (text not captured, agency period not
    /// set, a field that is not a date).
    Review,
    /// No item of the schedule covers the record.
    Uncovered,
    /// The event that starts the period has not happened (case not closed, warrant not
    /// served...), or is not recorded yet.
    NoTriggerYet,
}

/// The result of evaluating one record. Serialised for `--json`: a compatibility
/// commitment, so fields are only ever added.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    #[serde(serialize_with = "hex::serde::serialize")]
    pub record: [u8; 16],
    pub record_type: String,
    /// The governing item's id.
    pub item: Option<String>,
    /// The governing item's disposition authority number.
    pub authority: Option<String>,
    pub confidence: Option<Confidence>,
    /// Other items that cover the record but retain it for less long.
    pub also_covered_by: Vec<String>,
    /// The date the period counts from.
    #[serde(serialize_with = "opt_date")]
    pub trigger_date: Option<Date>,
    /// The first day the record may be disposed of (trigger date + period).
    #[serde(serialize_with = "opt_date")]
    pub eligible_on: Option<Date>,
    pub disposition: Option<Disposition>,
    pub status: Status,
    /// Holds in force, as "kind id (authority)"; they block, whatever the status.
    pub holds: Vec<String>,
    /// The outcome in words, for a person.
    pub reason: String,
}

fn opt_date<S: Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.collect_str(d),
        None => s.serialize_none(),
    }
}

/// When a rule makes a record eligible.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Due {
    On {
        trigger: Date,
        eligible: Date,
    },
    /// The start event has not happened: the words say which.
    Missing(String),
    /// No date can be computed from data: the words say why.
    Review(String),
    Never,
}

impl Due {
    /// Longest retention first: never, unknown, then later dates.
    fn rank(&self) -> (u8, Option<Date>) {
        match self {
            Due::Never => (3, None),
            Due::Missing(_) | Due::Review(_) => (2, None),
            Due::On { eligible, .. } => (1, Some(*eligible)),
        }
    }
}

/// Evaluates one record against a schedule as of `as_of` (a date in the agency's
/// time zone; see [`Policy::today`]).
pub fn evaluate(schedule: &Schedule, facts: &RecordFacts, policy: &Policy, as_of: Date) -> Outcome {
    let mut best: Option<(&Item, Due)> = None;
    let mut others = Vec::new();
    for item in schedule.items_for(&facts.record_type, &facts.fields) {
        let due = due(&item.rule, facts, policy);
        if best.as_ref().is_none_or(|(_, b)| due.rank() > b.rank()) {
            if let Some((loser, _)) = best.replace((item, due)) {
                others.push(loser.id.clone());
            }
        } else {
            others.push(item.id.clone());
        }
    }
    let holds: Vec<String> = facts
        .holds
        .iter()
        .map(|h| format!("{} {} ({})", h.kind, h.id, h.authority))
        .collect();
    let mut out = Outcome {
        record: facts.id,
        record_type: facts.record_type.clone(),
        item: None,
        authority: None,
        confidence: None,
        also_covered_by: others,
        trigger_date: None,
        eligible_on: None,
        disposition: None,
        status: Status::Uncovered,
        holds,
        reason: String::new(),
    };
    let Some((item, due)) = best else {
        out.reason = uncovered_reason(schedule, &facts.record_type);
        return out;
    };
    out.item = Some(item.id.clone());
    out.authority = Some(item.authority.clone());
    out.confidence = Some(item.confidence);
    out.disposition = Some(item.disposition);
    judge(&mut out, item, due, as_of);
    out
}

fn uncovered_reason(schedule: &Schedule, record_type: &str) -> String {
    let mut s = format!(
        "no item of {} ({} {}) covers this {record_type} record",
        schedule.title, schedule.state, schedule.version
    );
    if schedule.covers_type(record_type) {
        s.push_str(": items for this type exist, but their conditions do not match its fields");
    }
    s
}

/// Sets status, dates and reason from the governing item's due date.
fn judge(out: &mut Outcome, item: &Item, due: Due, as_of: Date) {
    let head = format!("{} ({}): {}", item.id, item.authority, item.rule);
    let (status, words) = match due {
        Due::Never => (Status::Permanent, "retain permanently".to_string()),
        Due::Review(why) => (Status::Review, format!("{why}; a person must review it")),
        Due::Missing(what) => (Status::NoTriggerYet, format!("not started: {what}")),
        Due::On { trigger, eligible } => {
            out.trigger_date = Some(trigger);
            out.eligible_on = Some(eligible);
            if eligible > as_of {
                (
                    Status::NotYet,
                    format!(
                        "counted from {trigger}, eligible on {eligible} ({})",
                        item.disposition
                    ),
                )
            } else if !out.holds.is_empty() {
                (
                    Status::Blocked,
                    format!(
                        "eligible since {eligible} but held: {}",
                        out.holds.join(", ")
                    ),
                )
            } else if item.disposition == Disposition::Review {
                (
                    Status::Review,
                    format!("due for review or appraisal since {eligible}"),
                )
            } else {
                (
                    Status::Eligible,
                    format!("eligible since {eligible}: {}", item.disposition),
                )
            }
        }
    };
    out.status = status;
    out.reason = format!("{head}; {words}");
    if !out.also_covered_by.is_empty() {
        out.reason.push_str(&format!(
            "; also covered by {} (shorter retention)",
            out.also_covered_by.join(", ")
        ));
    }
}

/// The due date of a rule for a record.
fn due(rule: &Rule, facts: &RecordFacts, policy: &Policy) -> Due {
    match rule {
        Rule::Permanent => Due::Never,
        Rule::Review => Due::Review("the item gives no computable period".into()),
        Rule::After { trigger, period } => after(trigger, *period, facts, policy),
        Rule::WhicheverLonger(rules) | Rule::AndUntil(rules) => {
            let (mut unknown, mut latest) = (None, None::<Due>);
            for r in rules {
                match due(r, facts, policy) {
                    Due::Never => return Due::Never,
                    d @ (Due::Missing(_) | Due::Review(_)) => {
                        unknown.get_or_insert(d);
                    }
                    d => {
                        if latest.as_ref().is_none_or(|l| d.rank() > l.rank()) {
                            latest = Some(d);
                        }
                    }
                }
            }
            match (unknown, latest) {
                // Say how long the known parts keep the record at least.
                (Some(Due::Missing(w)), Some(Due::On { eligible, .. })) => {
                    Due::Missing(format!("{w}; not before {eligible} in any case"))
                }
                (Some(Due::Review(w)), Some(Due::On { eligible, .. })) => {
                    Due::Review(format!("{w}; not before {eligible} in any case"))
                }
                (unknown, latest) => unknown.or(latest).unwrap_or(Due::Never),
            }
        }
        Rule::WhicheverShorter(rules) => {
            let all: Vec<Due> = rules.iter().map(|r| due(r, facts, policy)).collect();
            let earliest = all
                .iter()
                .filter_map(|d| match d {
                    Due::On { eligible, .. } => Some((*eligible, d)),
                    _ => None,
                })
                .min_by_key(|(e, _)| *e);
            match earliest {
                Some((_, d)) => d.clone(),
                None => all
                    .into_iter()
                    .find(|d| *d != Due::Never)
                    .unwrap_or(Due::Never),
            }
        }
    }
}

/// `trigger date + period`.
fn after(trigger: &Trigger, period: Period, facts: &RecordFacts, policy: &Policy) -> Due {
    let (start, period) = match trigger {
        Trigger::NoLongerNeeded => {
            let Some(agency) = policy.no_longer_needed else {
                return Due::Review(
                    "the agency has not set its \"no longer needed\" period".into(),
                );
            };
            let Some(from) = add_period(facts.last_action_on, agency) else {
                return Due::Review("the date falls beyond the calendar".into());
            };
            // The agency period counts from the last action; the item's own period, if
            // any, is added after it. The trigger date is the last action.
            return match add_period(from, period) {
                Some(eligible) => Due::On {
                    trigger: facts.last_action_on,
                    eligible,
                },
                None => Due::Review("the date falls beyond the calendar".into()),
            };
        }
        t => match trigger_date(t, facts, policy) {
            Ok(d) => (d, period),
            Err(due) => return due,
        },
    };
    match add_period(start, period) {
        Some(eligible) => Due::On {
            trigger: start,
            eligible,
        },
        None => Due::Review("the date falls beyond the calendar".into()),
    }
}

/// The date a trigger names, or why there is none.
fn trigger_date(trigger: &Trigger, facts: &RecordFacts, policy: &Policy) -> Result<Date, Due> {
    match trigger {
        Trigger::Created => Ok(facts.created_on),
        Trigger::LastAction => Ok(facts.last_action_on),
        Trigger::CaseClosed => facts
            .closed_on
            .ok_or_else(|| Due::Missing("the case is not closed".into())),
        Trigger::CalendarYearEnd(inner) => {
            let d = trigger_date(inner, facts, policy)?;
            after_calendar_year(d)
                .ok_or_else(|| Due::Review("the date falls beyond the calendar".into()))
        }
        Trigger::FiscalYearEnd(inner) => {
            let d = trigger_date(inner, facts, policy)?;
            policy
                .fiscal_year_start
                .after_fiscal_year(d)
                .ok_or_else(|| Due::Review("the date falls beyond the calendar".into()))
        }
        Trigger::DispositionAndAppealsExhausted => {
            let a = field_date(facts, policy, "disposition_on", trigger)?;
            let b = field_date(facts, policy, "appeals_exhausted_on", trigger)?;
            Ok(a.max(b))
        }
        Trigger::NoLongerNeeded => {
            Err(Due::Review("\"no longer needed\" has no start date".into()))
        }
        t => earliest_field(t, facts, policy),
    }
}

/// The earliest of the trigger's fields that are set; a set field that is not a date
/// needs review rather than being skipped.
fn earliest_field(trigger: &Trigger, facts: &RecordFacts, policy: &Policy) -> Result<Date, Due> {
    let names = trigger.fields();
    let mut best: Option<Date> = None;
    for name in &names {
        match field_date(facts, policy, name, trigger) {
            Ok(d) => best = Some(best.map_or(d, |b| b.min(d))),
            Err(Due::Missing(_)) => {}
            Err(other) => return Err(other),
        }
    }
    best.ok_or_else(|| {
        let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        Due::Missing(format!(
            "waiting for {trigger} ({} not set)",
            list.join(" / ")
        ))
    })
}

fn field_date(
    facts: &RecordFacts,
    policy: &Policy,
    name: &str,
    trigger: &Trigger,
) -> Result<Date, Due> {
    use serde_json::Value;
    match facts.fields.get(name) {
        None | Some(Value::Null) => Err(Due::Missing(format!(
            "waiting for {trigger} (`{name}` not set)"
        ))),
        Some(Value::String(s)) if !s.trim().is_empty() => date_of(s, &policy.time_zone)
            .ok_or_else(|| Due::Review(format!("field `{name}` holds {s:?}, which is not a date"))),
        Some(Value::String(_)) => Err(Due::Missing(format!(
            "waiting for {trigger} (`{name}` is empty)"
        ))),
        Some(v) => Err(Due::Review(format!(
            "field `{name}` holds {v}, which is not a date"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use serde_json::json;

    fn facts(fields: serde_json::Value) -> RecordFacts {
        RecordFacts {
            id: [0; 16],
            record_type: "incident".into(),
            created_on: date(2020, 2, 29),
            closed_on: None,
            last_action_on: date(2021, 8, 31),
            fields: fields.as_object().cloned().unwrap_or_default(),
            holds: vec![],
        }
    }

    fn after(trigger: Trigger, years: u32) -> Rule {
        Rule::After {
            trigger,
            period: Period::years(years),
        }
    }

    #[test]
    fn ranks_put_the_longest_retention_first() {
        let on = |y| Due::On {
            trigger: date(2000, 1, 1),
            eligible: date(y, 1, 1),
        };
        assert!(Due::Never.rank() > Due::Missing("x".into()).rank());
        assert!(Due::Review("x".into()).rank() > on(2900).rank());
        assert!(on(2030).rank() > on(2029).rank());
    }

    #[test]
    fn combinators_pick_dates_and_unknowns() {
        let p = Policy::new("UTC", "10-01", None).unwrap();
        let f = facts(json!({"superseded_on": "2030-06-30"}));
        let long = Rule::WhicheverLonger(vec![
            after(Trigger::Created, 3),
            after(Trigger::Superseded, 0),
        ]);
        assert_eq!(
            due(&long, &f, &p),
            Due::On {
                trigger: date(2030, 6, 30),
                eligible: date(2030, 6, 30)
            }
        );
        let short =
            Rule::WhicheverShorter(vec![after(Trigger::Created, 3), after(Trigger::Death, 0)]);
        assert_eq!(
            due(&short, &f, &p),
            Due::On {
                trigger: date(2020, 2, 29),
                eligible: date(2023, 2, 28)
            }
        );
        let until = Rule::AndUntil(vec![
            after(Trigger::Created, 1),
            after(Trigger::CaseClosed, 0),
        ]);
        assert!(matches!(due(&until, &f, &p), Due::Missing(_)));
        let never = Rule::AndUntil(vec![after(Trigger::CaseClosed, 1), Rule::Permanent]);
        assert_eq!(due(&never, &f, &p), Due::Never);
        // Fiscal year from 10-01: Feb 29, 2020 is in FY 2019-20, which ends Sep 30, 2020.
        let fy = after(Trigger::FiscalYearEnd(Box::new(Trigger::Created)), 2);
        assert_eq!(
            due(&fy, &f, &p),
            Due::On {
                trigger: date(2020, 10, 1),
                eligible: date(2022, 10, 1)
            }
        );
    }

    #[test]
    fn bad_field_values_need_review_not_a_guess() {
        let p = Policy::new("UTC", "07-01", None).unwrap();
        for v in [json!(20240101), json!("soon"), json!(true)] {
            let f = facts(json!({ "died_on": v }));
            assert!(
                matches!(due(&after(Trigger::Death, 1), &f, &p), Due::Review(_)),
                "{v}"
            );
        }
        let f = facts(json!({ "died_on": null }));
        assert!(matches!(
            due(&after(Trigger::Death, 1), &f, &p),
            Due::Missing(_)
        ));
    }
}
