//! The structured retention rule of a schedule item: periods, triggers and combinators.
//!
//! This module only *describes* rules (as data and in words); `eval.rs` computes dates
//! from them. A rule never holds a date: it names where a date comes from (the record's
//! creation, a field of its payload, the agency's settings) and how long to keep.
//!
//! Invariants:
//! - a [`Period`] is never negative (the parser refuses a negative number);
//! - a combinator holds at least two rules (the parser refuses fewer);
//! - `Permanent` and `Review` carry no period.

use std::fmt;

use serde::Serialize;

/// The longest period a schedule may state, in years. Longer periods are refused at
/// parse time so that date arithmetic never leaves the calendar (year 9999) for any
/// record made in a plausible year; a record kept longer is "permanent".
pub const MAX_YEARS: u32 = 1000;

/// A retention period in calendar units. Added to a date years first, then months,
/// then days; see `dates::add_period` for the month-end convention.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Period {
    pub years: u32,
    pub months: u32,
    pub days: u32,
}

impl Period {
    /// A period of `years` years.
    pub fn years(years: u32) -> Period {
        Period {
            years,
            ..Period::default()
        }
    }

    /// True for a zero-length period (eligible on the trigger date itself).
    pub fn is_zero(&self) -> bool {
        self.years == 0 && self.months == 0 && self.days == 0
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = |n: u32, one: &str| {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {one}s")
            }
        };
        let mut parts = Vec::new();
        if self.years > 0 {
            parts.push(unit(self.years, "year"));
        }
        if self.months > 0 {
            parts.push(unit(self.months, "month"));
        }
        if self.days > 0 || parts.is_empty() {
            parts.push(unit(self.days, "day"));
        }
        f.write_str(&parts.join(" "))
    }
}

/// Parses an agency-set period: ISO 8601 (`P2Y6M`, `P30D`) or short (`2y 6m 30d`).
impl std::str::FromStr for Period {
    type Err = String;

    fn from_str(s: &str) -> Result<Period, String> {
        let bad = || format!("{s:?} is not a period (write e.g. \"P2Y6M\" or \"2y 6m\")");
        let body = s.trim();
        let body = body
            .strip_prefix('P')
            .or_else(|| body.strip_prefix('p'))
            .unwrap_or(body);
        let (mut p, mut num, mut any) = (Period::default(), String::new(), false);
        for c in body.chars().filter(|c| !c.is_whitespace()) {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            let n: u32 = num.parse().map_err(|_| bad())?;
            num.clear();
            any = true;
            match c.to_ascii_lowercase() {
                'y' => p.years = n,
                'm' => p.months = n,
                'w' => p.days = n.checked_mul(7).ok_or_else(bad)?,
                'd' => p.days = n,
                _ => return Err(bad()),
            }
        }
        if !num.is_empty() || !any || p.years > MAX_YEARS {
            return Err(bad());
        }
        Ok(p)
    }
}

/// Where a rule's start date comes from. Field-based triggers read the record's latest
/// payload (see `docs/RETENTION.md`, "Field names"); the others read [`RecordFacts`]
/// or the agency [`Policy`].
///
/// [`RecordFacts`]: super::RecordFacts
/// [`Policy`]: super::Policy
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "trigger", content = "of")]
pub enum Trigger {
    /// The date the record was made (`created_on`). `case_opened` in a file means this.
    Created,
    /// The date the record's case was closed (`closed_on`).
    CaseClosed,
    /// The date of the last change to the record (`last_action_on`).
    LastAction,
    /// Payload field `disposition_on`: final disposition of the case.
    FinalDisposition,
    /// Payload field `appeals_exhausted_on`.
    AppealsExhausted,
    /// The later of `disposition_on` and `appeals_exhausted_on`; both must be set.
    DispositionAndAppealsExhausted,
    /// Payload field `final_action_on` (Utah: usually adjudication).
    FinalAction,
    /// Payload field `investigation_concluded_on`.
    InvestigationConcluded,
    /// Payload field `resolved_on` (complaints, internal reviews).
    Resolved,
    /// Payload field `superseded_on` ("until superseded or obsolete").
    Superseded,
    /// The earliest of payload fields `served_on`, `recalled_on`, `cancelled_on`.
    ServedOrRecalled,
    /// The earliest of payload fields `expires_on`, `revoked_on`.
    Expired,
    /// Payload field `sentence_completed_on`.
    SentenceCompleted,
    /// Payload field `date_of_birth`.
    DateOfBirth,
    /// Payload field `died_on`.
    Death,
    /// Any payload field holding a date.
    DateField(String),
    /// The day after the last day of the calendar year that contains the inner trigger.
    CalendarYearEnd(Box<Trigger>),
    /// The day after the last day of the fiscal year (agency setting) containing the
    /// inner trigger.
    FiscalYearEnd(Box<Trigger>),
    /// The agency's "no longer needed" period, counted from `last_action_on`.
    NoLongerNeeded,
}

impl Trigger {
    /// The trigger's name as written in a schedule file.
    pub fn name(&self) -> &'static str {
        match self {
            Trigger::Created => "created",
            Trigger::CaseClosed => "case_closed",
            Trigger::LastAction => "last_action",
            Trigger::FinalDisposition => "final_disposition",
            Trigger::AppealsExhausted => "appeals_exhausted",
            Trigger::DispositionAndAppealsExhausted => "disposition_and_appeals_exhausted",
            Trigger::FinalAction => "final_action",
            Trigger::InvestigationConcluded => "investigation_concluded",
            Trigger::Resolved => "resolved",
            Trigger::Superseded => "superseded",
            Trigger::ServedOrRecalled => "served_or_recalled",
            Trigger::Expired => "expired",
            Trigger::SentenceCompleted => "sentence_completed",
            Trigger::DateOfBirth => "date_of_birth",
            Trigger::Death => "death",
            Trigger::DateField(_) => "date_field",
            Trigger::CalendarYearEnd(_) => "calendar_year_end",
            Trigger::FiscalYearEnd(_) => "fiscal_year_end",
            Trigger::NoLongerNeeded => "no_longer_needed",
        }
    }

    /// A trigger named in a schedule file, for the names that take no argument
    /// (`date_field`, the year ends, `permanent` and `review` are read by the parser).
    pub fn from_name(name: &str) -> Option<Trigger> {
        Some(match name {
            "created" | "case_opened" => Trigger::Created,
            "case_closed" => Trigger::CaseClosed,
            "last_action" => Trigger::LastAction,
            "final_disposition" => Trigger::FinalDisposition,
            "appeals_exhausted" => Trigger::AppealsExhausted,
            "disposition_and_appeals_exhausted" => Trigger::DispositionAndAppealsExhausted,
            "final_action" => Trigger::FinalAction,
            "investigation_concluded" => Trigger::InvestigationConcluded,
            "resolved" => Trigger::Resolved,
            "superseded" => Trigger::Superseded,
            "served_or_recalled" => Trigger::ServedOrRecalled,
            "expired" => Trigger::Expired,
            "sentence_completed" => Trigger::SentenceCompleted,
            "date_of_birth" => Trigger::DateOfBirth,
            "death" => Trigger::Death,
            "no_longer_needed" => Trigger::NoLongerNeeded,
            _ => return None,
        })
    }

    /// The payload fields this trigger reads, earliest-wins when several (empty for
    /// triggers that read [`RecordFacts`](super::RecordFacts) or the policy).
    pub fn fields(&self) -> Vec<&str> {
        match self {
            Trigger::FinalDisposition => vec!["disposition_on"],
            Trigger::AppealsExhausted => vec!["appeals_exhausted_on"],
            Trigger::DispositionAndAppealsExhausted => {
                vec!["disposition_on", "appeals_exhausted_on"]
            }
            Trigger::FinalAction => vec!["final_action_on"],
            Trigger::InvestigationConcluded => vec!["investigation_concluded_on"],
            Trigger::Resolved => vec!["resolved_on"],
            Trigger::Superseded => vec!["superseded_on"],
            Trigger::ServedOrRecalled => vec!["served_on", "recalled_on", "cancelled_on"],
            Trigger::Expired => vec!["expires_on", "revoked_on"],
            Trigger::SentenceCompleted => vec!["sentence_completed_on"],
            Trigger::DateOfBirth => vec!["date_of_birth"],
            Trigger::Death => vec!["died_on"],
            Trigger::DateField(f) => vec![f.as_str()],
            Trigger::CalendarYearEnd(t) | Trigger::FiscalYearEnd(t) => t.fields(),
            _ => vec![],
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Created => f.write_str("the record was created"),
            Trigger::CaseClosed => f.write_str("the case was closed"),
            Trigger::LastAction => f.write_str("the last action on the record"),
            Trigger::FinalDisposition => f.write_str("final disposition"),
            Trigger::AppealsExhausted => f.write_str("appeals were exhausted"),
            Trigger::DispositionAndAppealsExhausted => {
                f.write_str("disposition of the case and exhaustion of appeals")
            }
            Trigger::FinalAction => f.write_str("final action"),
            Trigger::InvestigationConcluded => f.write_str("the investigation concluded"),
            Trigger::Resolved => f.write_str("resolution"),
            Trigger::Superseded => f.write_str("the record was superseded"),
            Trigger::ServedOrRecalled => f.write_str("service, recall or cancellation"),
            Trigger::Expired => f.write_str("expiration or revocation"),
            Trigger::SentenceCompleted => f.write_str("the sentence was completed"),
            Trigger::DateOfBirth => f.write_str("the subject's date of birth"),
            Trigger::Death => f.write_str("the subject's death"),
            Trigger::DateField(name) => write!(f, "the date in field `{name}`"),
            Trigger::CalendarYearEnd(t) => write!(f, "the end of the calendar year in which {t}"),
            Trigger::FiscalYearEnd(t) => write!(f, "the end of the fiscal year in which {t}"),
            Trigger::NoLongerNeeded => f.write_str("the record is no longer needed"),
        }
    }
}

/// A structured retention rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Eligible on `trigger date + period`.
    After { trigger: Trigger, period: Period },
    /// Never eligible.
    Permanent,
    /// No date can be computed: a person must decide (the schedule text was not
    /// captured in full, or the item leaves the period to judgement).
    Review,
    /// The latest of the inner dates; unknown while any inner date is unknown.
    WhicheverLonger(Vec<Rule>),
    /// The earliest of the inner dates that are known (an unknown event could only
    /// make it earlier, so the known ones are the conservative answer).
    WhicheverShorter(Vec<Rule>),
    /// "N years after X and until Y": every inner condition must be met, so the
    /// latest date; unknown while any inner date is unknown.
    AndUntil(Vec<Rule>),
}

impl Rule {
    /// Whether evaluating the rule reads any payload field (a named trigger's fields or
    /// a `date_field`); `false` means the record's dates and holds suffice.
    pub fn reads_fields(&self) -> bool {
        match self {
            Rule::After { trigger, .. } => !trigger.fields().is_empty(),
            Rule::Permanent | Rule::Review => false,
            Rule::WhicheverLonger(rs) | Rule::WhicheverShorter(rs) | Rule::AndUntil(rs) => {
                rs.iter().any(Rule::reads_fields)
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |rules: &[Rule], sep: &str| {
            rules
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(sep)
        };
        match self {
            Rule::After {
                trigger: Trigger::NoLongerNeeded,
                period,
            } if period.is_zero() => f.write_str("until no longer needed (agency setting)"),
            Rule::After { trigger, period } if period.is_zero() => write!(f, "until {trigger}"),
            Rule::After { trigger, period } => write!(f, "{period} after {trigger}"),
            Rule::Permanent => f.write_str("permanently"),
            Rule::Review => f.write_str("as a person decides (review)"),
            Rule::WhicheverLonger(r) => write!(f, "{}, whichever is longer", join(r, " or ")),
            Rule::WhicheverShorter(r) => write!(f, "{}, whichever is shorter", join(r, " or ")),
            Rule::AndUntil(rules) => {
                for (i, r) in rules.iter().enumerate() {
                    match r {
                        _ if i == 0 => write!(f, "{r}")?,
                        Rule::After { trigger, period } if period.is_zero() => {
                            write!(f, ", and until {trigger}")?
                        }
                        _ => write!(f, ", and until {r}")?,
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_in_both_forms() {
        let p: Period = "P2Y6M".parse().unwrap();
        assert_eq!((p.years, p.months, p.days), (2, 6, 0));
        let p: Period = "1y 30d".parse().unwrap();
        assert_eq!((p.years, p.months, p.days), (1, 0, 30));
        for bad in ["", "P", "5", "-1y", "2x", "1001y"] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
    }

    #[test]
    fn rules_read_as_words() {
        let r = Rule::AndUntil(vec![
            Rule::After {
                trigger: Trigger::InvestigationConcluded,
                period: Period::years(20),
            },
            Rule::After {
                trigger: Trigger::AppealsExhausted,
                period: Period::default(),
            },
        ]);
        assert_eq!(
            r.to_string(),
            "20 years after the investigation concluded, and until appeals were exhausted"
        );
    }
}
