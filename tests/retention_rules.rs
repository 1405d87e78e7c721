//! Retention rules end to end through the public API: every trigger and combinator
//! around leap years and month ends, the date conventions of `docs/RETENTION.md`,
//! item choice, holds, the shipped schedule files and malformed ones.
//!
//! Reads only files inside the repository (`retention-schedules/`, `docs/`).

use std::path::{Path, PathBuf};

use blotter::retention::{evaluate, HoldFact, Outcome, Policy, RecordFacts, Schedule, Status};
use jiff::civil::{date, Date};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

// The ledger's default record types: what the shipped schedules are measured against.
use blotter::ledger::state::DEFAULT_TYPES;

fn policy() -> Policy {
    Policy::new("America/Los_Angeles", "07-01", None).unwrap()
}

fn facts(record_type: &str, created: Date, fields: Value) -> RecordFacts {
    let fields: Map<String, Value> = match fields {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    RecordFacts {
        id: [7; 16],
        record_type: record_type.into(),
        created_on: created,
        closed_on: None,
        last_action_on: created,
        fields,
        holds: vec![],
    }
}

/// A one-item schedule with `rule` (TOML inline table) and `disposition`.
fn one_item(rule: &str, disposition: &str) -> Schedule {
    let text = format!(
        r#"format = 1
state = "XX"
title = "Test schedule"
version = "1"
source = "tests"

[[item]]
id = "T-1"
authority = "T-1"
title = "test item"
record_types = ["incident"]
retention_text = "as the test says"
rule = {rule}
disposition = "{disposition}"
confidence = "A"
source = "tests"
"#
    );
    Schedule::parse("test.toml", &text).unwrap_or_else(|e| panic!("{e}"))
}

fn eval(rule: &str, f: &RecordFacts, as_of: Date) -> Outcome {
    evaluate(&one_item(rule, "destroy"), f, &policy(), as_of)
}

#[test]
fn every_trigger_around_leap_years_and_month_ends() {
    let leap = date(2024, 2, 29);
    let f = |fields: Value| facts("incident", leap, fields);
    let mut closed = f(json!({}));
    closed.closed_on = Some(date(2023, 8, 31));
    closed.last_action_on = date(2024, 1, 31);
    let cases: Vec<(&str, RecordFacts, Option<Date>)> = vec![
        (
            r#"{ trigger = "created", years = 1 }"#,
            f(json!({})),
            Some(date(2025, 2, 28)),
        ),
        (
            r#"{ trigger = "created", years = 4 }"#,
            f(json!({})),
            Some(date(2028, 2, 29)),
        ),
        (
            r#"{ trigger = "case_opened", months = 12 }"#,
            f(json!({})),
            Some(date(2025, 2, 28)),
        ),
        (
            r#"{ trigger = "case_closed", months = 6 }"#,
            closed.clone(),
            Some(date(2024, 2, 29)),
        ),
        (
            r#"{ trigger = "last_action", months = 1 }"#,
            closed.clone(),
            Some(date(2024, 2, 29)),
        ),
        (
            r#"{ trigger = "calendar_year_end", years = 5 }"#,
            f(json!({})),
            Some(date(2030, 1, 1)),
        ),
        (
            r#"{ trigger = "calendar_year_end", of = "case_closed", years = 3 }"#,
            closed.clone(),
            Some(date(2027, 1, 1)),
        ),
        // fiscal year from 07-01: Feb 29, 2024 is in FY 2023-24, which ends Jun 30, 2024.
        (
            r#"{ trigger = "fiscal_year_end", years = 5 }"#,
            f(json!({})),
            Some(date(2029, 7, 1)),
        ),
        (
            r#"{ trigger = "final_disposition", years = 3 }"#,
            f(json!({"disposition_on": "2021-02-28"})),
            Some(date(2024, 2, 28)),
        ),
        (
            r#"{ trigger = "appeals_exhausted", years = 1 }"#,
            f(json!({"appeals_exhausted_on": "2020-02-29"})),
            Some(date(2021, 2, 28)),
        ),
        (
            r#"{ trigger = "disposition_and_appeals_exhausted", years = 3 }"#,
            f(json!({"disposition_on": "2020-01-31", "appeals_exhausted_on": "2020-08-31"})),
            Some(date(2023, 8, 31)),
        ),
        (
            r#"{ trigger = "final_action", years = 10 }"#,
            f(json!({"final_action_on": "2016-02-29"})),
            Some(date(2026, 2, 28)),
        ),
        (
            r#"{ trigger = "investigation_concluded", months = 6 }"#,
            f(json!({"investigation_concluded_on": "2023-08-31"})),
            Some(date(2024, 2, 29)),
        ),
        (
            r#"{ trigger = "resolved", years = 7 }"#,
            f(json!({"resolved_on": "2019-12-31"})),
            Some(date(2026, 12, 31)),
        ),
        (
            r#"{ trigger = "superseded" }"#,
            f(json!({"superseded_on": "2025-03-31"})),
            Some(date(2025, 3, 31)),
        ),
        (
            r#"{ trigger = "served_or_recalled" }"#,
            f(json!({"recalled_on": "2025-05-02", "served_on": "2025-04-30"})),
            Some(date(2025, 4, 30)),
        ),
        (
            r#"{ trigger = "expired", years = 3 }"#,
            f(json!({"revoked_on": "2022-02-28", "expires_on": "2023-01-01"})),
            Some(date(2025, 2, 28)),
        ),
        (
            r#"{ trigger = "sentence_completed" }"#,
            f(json!({"sentence_completed_on": "2030-10-31"})),
            Some(date(2030, 10, 31)),
        ),
        (
            r#"{ trigger = "date_of_birth", years = 21 }"#,
            f(json!({"date_of_birth": "2004-02-29"})),
            Some(date(2025, 2, 28)),
        ),
        (
            r#"{ trigger = "death", years = 7 }"#,
            f(json!({"died_on": "2020-02-29"})),
            Some(date(2027, 2, 28)),
        ),
        (
            r#"{ trigger = "date_field", field = "stop_on", days = 90 }"#,
            f(json!({"stop_on": "2023-12-02"})),
            Some(date(2024, 3, 1)),
        ),
        // A timestamp is read in the agency's zone: 03:00 UTC Mar 1 is Feb 29 in LA.
        (
            r#"{ trigger = "date_field", field = "recorded_on", days = 1 }"#,
            f(json!({"recorded_on": "2024-03-01T03:00:00Z"})),
            Some(date(2024, 3, 1)),
        ),
    ];
    for (rule, f, want) in cases {
        let out = eval(rule, &f, date(2200, 1, 1));
        assert_eq!(out.eligible_on, want, "{rule}: {}", out.reason);
        assert_eq!(out.status, Status::Eligible, "{rule}: {}", out.reason);
    }
}

#[test]
fn triggers_that_have_not_happened_wait() {
    let f = facts(
        "incident",
        date(2020, 1, 1),
        json!({"disposition_on": "2021-01-01"}),
    );
    for (rule, words) in [
        (
            r#"{ trigger = "case_closed", years = 1 }"#,
            "the case is not closed",
        ),
        (
            r#"{ trigger = "served_or_recalled" }"#,
            "`served_on` / `recalled_on` / `cancelled_on` not set",
        ),
        (
            r#"{ trigger = "disposition_and_appeals_exhausted", years = 3 }"#,
            "`appeals_exhausted_on` not set",
        ),
        (
            r#"{ trigger = "date_field", field = "stop_on" }"#,
            "`stop_on` not set",
        ),
    ] {
        let out = eval(rule, &f, date(2200, 1, 1));
        assert_eq!(out.status, Status::NoTriggerYet, "{rule}");
        assert_eq!(out.eligible_on, None);
        assert!(out.reason.contains(words), "{rule}: {}", out.reason);
    }
    // A field that is set but is not a date needs a person, not a guess.
    let bad = facts(
        "incident",
        date(2020, 1, 1),
        json!({"stop_on": "last week"}),
    );
    let out = eval(
        r#"{ trigger = "date_field", field = "stop_on" }"#,
        &bad,
        date(2200, 1, 1),
    );
    assert_eq!(out.status, Status::Review, "{}", out.reason);
}

#[test]
fn combinators() {
    let f = |fields: Value| facts("incident", date(2020, 2, 29), fields);
    let longer = r#"{ whichever_longer = [{ trigger = "created", years = 3 }, { trigger = "superseded" }] }"#;
    let shorter = r#"{ whichever_shorter = [{ trigger = "created", years = 5 }, { trigger = "date_field", field = "audited_on" }] }"#;
    let first =
        r#"{ whichever_first = [{ trigger = "created", years = 20 }, { trigger = "death" }] }"#;
    let until = r#"{ and_until = [{ trigger = "investigation_concluded", years = 20 }, { trigger = "appeals_exhausted" }] }"#;
    let cases: Vec<(&str, Value, Status, Option<Date>)> = vec![
        (
            longer,
            json!({"superseded_on": "2021-06-30"}),
            Status::Eligible,
            Some(date(2023, 2, 28)),
        ),
        (
            longer,
            json!({"superseded_on": "2024-02-29"}),
            Status::Eligible,
            Some(date(2024, 2, 29)),
        ),
        (longer, json!({}), Status::NoTriggerYet, None),
        (
            shorter,
            json!({}),
            Status::Eligible,
            Some(date(2025, 2, 28)),
        ),
        (
            shorter,
            json!({"audited_on": "2022-08-31"}),
            Status::Eligible,
            Some(date(2022, 8, 31)),
        ),
        (
            shorter,
            json!({"audited_on": "2029-01-01"}),
            Status::Eligible,
            Some(date(2025, 2, 28)),
        ),
        (
            first,
            json!({"died_on": "2021-01-31"}),
            Status::Eligible,
            Some(date(2021, 1, 31)),
        ),
        (first, json!({}), Status::Eligible, Some(date(2040, 2, 29))),
        (
            until,
            json!({"investigation_concluded_on": "2000-02-29", "appeals_exhausted_on": "2023-08-31"}),
            Status::Eligible,
            Some(date(2023, 8, 31)),
        ),
        (
            until,
            json!({"investigation_concluded_on": "2000-02-29", "appeals_exhausted_on": "2003-08-31"}),
            Status::Eligible,
            Some(date(2020, 2, 29)),
        ),
        (
            until,
            json!({"investigation_concluded_on": "2000-02-29"}),
            Status::NoTriggerYet,
            None,
        ),
    ];
    for (rule, fields, status, want) in cases {
        let out = eval(rule, &f(fields.clone()), date(2200, 1, 1));
        assert_eq!(
            (out.status, out.eligible_on),
            (status, want),
            "{rule} {fields}: {}",
            out.reason
        );
    }
}

#[test]
fn eligible_on_the_day_the_period_ends_not_before() {
    let f = facts("incident", date(2019, 8, 31), json!({}));
    let rule = r#"{ trigger = "created", months = 6 }"#;
    assert_eq!(eval(rule, &f, date(2020, 2, 28)).status, Status::NotYet);
    let out = eval(rule, &f, date(2020, 2, 29));
    assert_eq!(out.status, Status::Eligible);
    assert_eq!(out.trigger_date, Some(date(2019, 8, 31)));
    assert!(
        out.reason.contains("eligible since 2020-02-29: destroy"),
        "{}",
        out.reason
    );
}

#[test]
fn holds_block_without_moving_the_date() {
    let mut f = facts("incident", date(2015, 1, 1), json!({}));
    let rule = r#"{ trigger = "created", years = 5 }"#;
    let free = eval(rule, &f, date(2024, 1, 1));
    f.holds.push(HoldFact {
        id: "H-9".into(),
        kind: "litigation".into(),
        authority: "Doe v. City".into(),
    });
    let held = eval(rule, &f, date(2024, 1, 1));
    assert_eq!(held.status, Status::Blocked);
    assert_eq!(held.eligible_on, free.eligible_on);
    assert_eq!(held.trigger_date, free.trigger_date);
    assert_eq!(held.holds, vec!["litigation H-9 (Doe v. City)".to_string()]);
    assert!(
        held.reason.contains("held: litigation H-9"),
        "{}",
        held.reason
    );
    // Not yet due: still NotYet, the hold is listed.
    let early = eval(rule, &f, date(2019, 12, 31));
    assert_eq!(early.status, Status::NotYet);
    assert_eq!(early.holds.len(), 1);
}

#[test]
fn permanent_review_and_no_longer_needed() {
    let f = facts("incident", date(2000, 1, 1), json!({}));
    let perm = evaluate(
        &one_item(r#"{ trigger = "permanent" }"#, "permanent"),
        &f,
        &policy(),
        date(2200, 1, 1),
    );
    assert_eq!((perm.status, perm.eligible_on), (Status::Permanent, None));
    let review = eval(r#"{ trigger = "review" }"#, &f, date(2200, 1, 1));
    assert_eq!(review.status, Status::Review);
    let appraise = evaluate(
        &one_item(r#"{ trigger = "created", years = 1 }"#, "appraise"),
        &f,
        &policy(),
        date(2200, 1, 1),
    );
    assert_eq!(
        (appraise.status, appraise.eligible_on),
        (Status::Review, Some(date(2001, 1, 1)))
    );
    // Until no longer needed: review until the agency sets its period.
    let nln = r#"{ trigger = "no_longer_needed" }"#;
    let unset = eval(nln, &f, date(2200, 1, 1));
    assert_eq!(unset.status, Status::Review);
    assert!(unset.reason.contains("has not set"), "{}", unset.reason);
    let mut g = f.clone();
    g.last_action_on = date(2020, 2, 29);
    let set = Policy::new("America/Los_Angeles", "07-01", Some("P2Y")).unwrap();
    let out = evaluate(&one_item(nln, "destroy"), &g, &set, date(2200, 1, 1));
    assert_eq!(
        (out.status, out.trigger_date, out.eligible_on),
        (
            Status::Eligible,
            Some(date(2020, 2, 29)),
            Some(date(2022, 2, 28))
        )
    );
}

#[test]
fn the_longest_retention_wins_and_the_others_are_named() {
    let text = r#"format = 1
state = "XX"
title = "Two items"
version = "1"
source = "tests"

[[item]]
id = "short"
authority = "S-1"
title = "short"
record_types = ["arrest"]
retention_text = "5 years"
rule = { trigger = "created", years = 5 }
disposition = "destroy"
confidence = "A"
source = "tests"

[[item]]
id = "felony"
authority = "F-1"
title = "felonies"
record_types = ["arrest"]
when = { offense_class = ["felony", "homicide"] }
retention_text = "10 years"
rule = { trigger = "created", years = 10 }
disposition = "destroy"
confidence = "A"
source = "tests"

[[item]]
id = "same"
authority = "S-2"
title = "same as short"
record_types = ["arrest"]
retention_text = "5 years"
rule = { trigger = "created", years = 5 }
disposition = "destroy"
confidence = "A"
source = "tests"
"#;
    let s = Schedule::parse("two.toml", text).unwrap();
    let felony = facts(
        "arrest",
        date(2010, 1, 1),
        json!({"offense_class": " Felony "}),
    );
    let out = evaluate(&s, &felony, &policy(), date(2030, 1, 1));
    assert_eq!(out.item.as_deref(), Some("felony"));
    assert_eq!(
        out.also_covered_by,
        vec!["short".to_string(), "same".to_string()]
    );
    let misd = facts(
        "arrest",
        date(2010, 1, 1),
        json!({"offense_class": "misdemeanor"}),
    );
    let out = evaluate(&s, &misd, &policy(), date(2030, 1, 1));
    assert_eq!(
        out.item.as_deref(),
        Some("short"),
        "a tie goes to the first in the file"
    );
    let other = facts("warrant", date(2010, 1, 1), json!({}));
    let out = evaluate(&s, &other, &policy(), date(2030, 1, 1));
    assert_eq!((out.status, out.item), (Status::Uncovered, None));
}

#[test]
fn outcomes_serialise_for_json() {
    let f = facts("incident", date(2020, 1, 1), json!({}));
    let out = eval(
        r#"{ trigger = "created", years = 1 }"#,
        &f,
        date(2024, 1, 1),
    );
    let v = serde_json::to_value(&out).unwrap();
    assert_eq!(v["record"], "07070707070707070707070707070707");
    assert_eq!(v["status"], "eligible");
    assert_eq!(v["eligible_on"], "2021-01-01");
    assert_eq!(v["disposition"], "destroy");
    assert_eq!(v["confidence"], "A");
}

proptest! {
    /// Eligibility never precedes the trigger date plus the period, whatever the dates.
    #[test]
    fn never_before_trigger_plus_period(
        days in 0i64..40_000,
        years in 0u32..80,
        months in 0u32..30,
        extra in 0u32..400,
        field_days in 0i64..40_000,
    ) {
        let created = date(1950, 1, 1).checked_add(jiff::Span::new().days(days)).unwrap();
        let field = date(1950, 1, 1).checked_add(jiff::Span::new().days(field_days)).unwrap();
        let f = facts("incident", created, json!({"x_on": field.to_string()}));
        let simple = format!("{{ trigger = \"created\", years = {years}, months = {months}, days = {extra} }}");
        let out = eval(&simple, &f, date(2200, 1, 1));
        let e = out.eligible_on.unwrap();
        let t = out.trigger_date.unwrap();
        prop_assert_eq!(t, created);
        prop_assert!(e >= t);
        // Never before the naive day count of the smallest possible months.
        let min = created
            .checked_add(jiff::Span::new().days(i64::from(years) * 365 + i64::from(months) * 28 + i64::from(extra)))
            .unwrap();
        prop_assert!(e >= min, "{} < {}", e, min);
        prop_assert_eq!(Some(e), blotter::retention::add_period(t, blotter::retention::Period { years, months, days: extra }));
        for rule in [
            format!("{{ whichever_longer = [{simple}, {{ trigger = \"date_field\", field = \"x_on\", years = {years} }}] }}"),
            format!("{{ whichever_shorter = [{simple}, {{ trigger = \"date_field\", field = \"x_on\", years = {years} }}] }}"),
            format!("{{ and_until = [{simple}, {{ trigger = \"fiscal_year_end\", of = \"date_field\", field = \"x_on\", years = {years} }}] }}"),
        ] {
            let out = eval(&rule, &f, date(2200, 1, 1));
            let (t, e) = (out.trigger_date.unwrap(), out.eligible_on.unwrap());
            prop_assert!(e >= t);
            prop_assert!(blotter::retention::add_period(t, blotter::retention::Period::years(years)).is_some_and(|m| e >= m));
        }
    }

    /// Holds never move dates; any hold turns an eligible record into a blocked one.
    #[test]
    fn holds_never_move_dates(days in 0i64..20_000, n in 1usize..4) {
        let created = date(1970, 1, 1).checked_add(jiff::Span::new().days(days)).unwrap();
        let mut f = facts("incident", created, json!({}));
        let rule = r#"{ trigger = "calendar_year_end", years = 3 }"#;
        let free = eval(rule, &f, date(2200, 1, 1));
        f.holds = (0..n).map(|i| HoldFact { id: format!("H{i}"), kind: "audit".into(), authority: "A".into() }).collect();
        let held = eval(rule, &f, date(2200, 1, 1));
        prop_assert_eq!(free.eligible_on, held.eligible_on);
        prop_assert_eq!(free.status, Status::Eligible);
        prop_assert_eq!(held.status, Status::Blocked);
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn shipped() -> Vec<(String, Schedule)> {
    let dir = repo().join("retention-schedules");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let s = Schedule::parse(&name, &text).unwrap_or_else(|e| panic!("{e}"));
        out.push((name, s));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn every_shipped_schedule_parses() {
    let all = shipped();
    let states: Vec<&str> = all.iter().map(|(_, s)| s.state.as_str()).collect();
    for st in ["WA", "TX", "OR", "UT", "NC", "FL"] {
        assert!(states.contains(&st), "no schedule for {st}");
    }
    for (name, s) in &all {
        for item in &s.items {
            assert!(
                !item.retention_text.is_empty() && !item.source.is_empty(),
                "{name} {}",
                item.id
            );
        }
        // Every shipped file covers at least one of Blotter's default types.
        assert!(DEFAULT_TYPES.iter().any(|t| s.covers_type(t)), "{name}");
    }
}

/// Which default types each shipped file covers. The reference notes lack items for
/// the rest, and a type no item names is reported as uncovered rather than invented:
/// this test pins the gaps so that a file that closes one updates it on purpose.
#[test]
fn coverage_of_the_default_types_is_pinned() {
    let want: &[(&str, &[&str])] = &[
        // The demo agency's own invented schedule (confidence A): every default type.
        ("demo-agency.toml", DEFAULT_TYPES),
        ("us-fl-gs2.toml", &["collision"]),
        (
            "us-nc-2021-standard-20.toml",
            &[
                "incident",
                "citation",
                "collision",
                "court-order",
                "evidence",
            ],
        ),
        (
            "us-or-oar-166-150-2025.toml",
            &["incident", "arrest", "evidence", "property", "call"],
        ),
        (
            "us-or-oar-166-200-2025.toml",
            &["arrest", "warrant", "evidence", "records-request"],
        ),
        ("us-tx-gr-2016.toml", &["records-request"]),
        ("us-tx-ps-2019.toml", &["collision", "evidence", "call"]),
        (
            "us-ut-grs.toml",
            &[
                "incident",
                "arrest",
                "citation",
                "collision",
                "warrant",
                "subpoena",
                "evidence",
                "call",
                "records-request",
                "juvenile",
            ],
        ),
        (
            "us-wa-lerrs-7.2.toml",
            &["incident", "citation", "evidence", "juvenile"],
        ),
    ];
    let all = shipped();
    assert_eq!(
        all.len(),
        want.len(),
        "a schedule file was added or removed: update this table"
    );
    for ((name, s), (wname, covered)) in all.iter().zip(want) {
        assert_eq!(name, wname);
        let got: Vec<&str> = DEFAULT_TYPES
            .iter()
            .copied()
            .filter(|t| s.covers_type(t))
            .collect();
        assert_eq!(&got, covered, "{name}");
    }
}

#[test]
fn the_demo_state_reports_what_it_does_not_cover() {
    let (_, wa) = shipped()
        .into_iter()
        .find(|(n, _)| n.starts_with("us-wa-"))
        .unwrap();
    let p = policy();
    for t in DEFAULT_TYPES {
        let f = facts(t, date(2019, 5, 1), json!({"offense_class": "felony"}));
        let out = evaluate(&wa, &f, &p, date(2026, 11, 1));
        if !wa.covers_type(t) {
            assert_eq!(out.status, Status::Uncovered, "{t}");
            assert!(out.reason.contains("no item of"), "{}", out.reason);
        }
    }
    // A felony incident that is not a homicide, notorious or a sex offence: the LERRS
    // series for it was not read, so it is uncovered, with words that say items exist.
    let f = facts(
        "incident",
        date(2019, 5, 1),
        json!({"offense_class": "felony"}),
    );
    let out = evaluate(&wa, &f, &p, date(2026, 11, 1));
    assert_eq!(out.status, Status::Uncovered);
    assert!(
        out.reason.contains("conditions do not match"),
        "{}",
        out.reason
    );
    // A solved homicide waits for appeals to be exhausted.
    let f = facts(
        "incident",
        date(1990, 5, 1),
        json!({"offense_class": "homicide", "solved": true, "investigation_concluded_on": "1991-02-28"}),
    );
    let out = evaluate(&wa, &f, &p, date(2026, 11, 1));
    assert_eq!(
        (out.item.as_deref(), out.status),
        (Some("wa-homicide-solved"), Status::NoTriggerYet),
        "{}",
        out.reason
    );
    assert!(
        out.reason.contains("not before 2011-02-28 in any case"),
        "{}",
        out.reason
    );
}

#[test]
fn malformed_schedules_are_refused_with_file_line_and_message() {
    let good =
        std::fs::read_to_string(repo().join("retention-schedules/us-or-oar-166-200-2025.toml"))
            .unwrap();
    assert!(Schedule::parse("or.toml", &good).is_ok());
    let cases: &[(&str, &str, &str, &str)] = &[
        // (what to replace, with what, expected message part, expected line text)
        ("title = \"Arrest Warrant Records\"", "title = \"Arrest Warrant Records", "", "title = \"Arrest Warrant Records"),
        ("rule = { trigger = \"served_or_recalled\" }", "rule = { trigger = \"when_served\" }", "unknown trigger \"when_served\"", "rule = { trigger = \"when_served\" }"),
        ("rule = { trigger = \"created\", years = 20 }", "rule = { trigger = \"created\", years = -20 }", "negative period", "rule = { trigger = \"created\", years = -20 }"),
        ("authority = \"OAR 166-200-0350(8)\"\n", "", "missing `authority`", "[[item]]"),
        ("disposition = \"destroy\"\nconfidence = \"V\"\nsource = \"https://oregon.public.law/rules/oar_166-200-0350\"\n\n[[item]]\nid = \"166-200-0350(7)\"", "disposition = \"burn\"\nconfidence = \"V\"\nsource = \"https://oregon.public.law/rules/oar_166-200-0350\"\n\n[[item]]\nid = \"166-200-0350(7)\"", "unknown disposition \"burn\"", "disposition = \"burn\""),
    ];
    for (from, to, what, line_text) in cases {
        assert!(good.contains(from), "fixture lost: {from}");
        let bad = good.replacen(from, to, 1);
        let e = Schedule::parse("or.toml", &bad).expect_err(from);
        let shown = e.to_string();
        eprintln!("{shown}");
        assert!(
            shown.starts_with(&format!("or.toml:{}:{}: ", e.line, e.column)),
            "{shown}"
        );
        assert!(e.what.contains(what), "{shown}");
        let line = bad.lines().nth(e.line - 1).unwrap_or("");
        assert!(
            line.contains(line_text),
            "{shown}: line {} is {line:?}",
            e.line
        );
        assert!(
            e.column >= 1 && e.column <= line.chars().count() + 1,
            "{shown}"
        );
    }
}

#[test]
fn the_example_in_the_docs_parses() {
    let doc = std::fs::read_to_string(repo().join("docs/RETENTION.md")).unwrap();
    let start = doc
        .find("```toml\n")
        .expect("a ```toml example in docs/RETENTION.md")
        + 8;
    let len = doc[start..].find("```").unwrap();
    let s = Schedule::parse("RETENTION.md example", &doc[start..start + len])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!s.items.is_empty());
}

/// `Schedule::reads_fields(type) == false` lets the ledger skip decrypting payloads: for
/// such a type, evaluating with the payload or without it must give the same outcome.
#[test]
fn a_type_whose_items_read_no_field_evaluates_the_same_without_the_payload() {
    let p = policy();
    let payload = json!({
        "offense_class": "felony", "solved": true, "finding": "sustained", "kind": "firearm",
        "sex_offense": true, "served_on": "2020-01-02", "disposition_on": "2020-03-04",
        "appeals_exhausted_on": "2021-01-01", "date_of_birth": "2001-02-28",
        "superseded_on": "2020-05-05", "recorded_on": "2020-06-06", "resolved_on": "2020-07-07",
    });
    let mut checked = 0;
    for (name, s) in shipped() {
        for t in DEFAULT_TYPES {
            if s.reads_fields(t) {
                continue;
            }
            for created in [date(2012, 2, 29), date(2019, 5, 1), date(2025, 12, 31)] {
                let with = evaluate(
                    &s,
                    &facts(t, created, payload.clone()),
                    &p,
                    date(2026, 11, 1),
                );
                let without = evaluate(&s, &facts(t, created, json!({})), &p, date(2026, 11, 1));
                assert_eq!(with, without, "{name}: {t}");
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "some type of some file reads no field");
}
