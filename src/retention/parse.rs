//! Reading a schedule file (TOML, `docs/RETENTION.md`) into a checked [`Schedule`].
//!
//! Two steps: serde reads the text into `Raw*` structs that keep every value's byte
//! span; `check_*` turns them into the model and refuses anything wrong, naming the
//! file, line and column of the offending value. The first problem found is reported
//! and nothing of the file is returned: a schedule is adopted whole or not at all.
//!
//! This module never panics on input: every lookup is checked, periods are bounded by
//! [`MAX_YEARS`], and nested combinators by [`MAX_DEPTH`].

use std::collections::HashSet;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::rule::{Period, Rule, Trigger, MAX_YEARS};
use super::schedule::{
    Condition, Confidence, Disposition, FieldValue, Item, Schedule, FORMAT_VERSION,
};
use super::ScheduleError;

/// The deepest nesting of combinators a rule may use.
pub const MAX_DEPTH: usize = 4;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    format: Option<Spanned<i64>>,
    state: Option<Spanned<String>>,
    title: Option<Spanned<String>>,
    version: Option<Spanned<String>>,
    source: Option<Spanned<String>>,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    item: Vec<Spanned<RawItem>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    id: Option<Spanned<String>>,
    authority: Option<Spanned<String>>,
    title: Option<Spanned<String>>,
    record_types: Option<Spanned<Vec<Spanned<String>>>>,
    when: Option<Spanned<toml::Table>>,
    unless: Option<Spanned<toml::Table>>,
    retention_text: Option<Spanned<String>>,
    rule: Option<Spanned<RawRule>>,
    disposition: Option<Spanned<String>>,
    confidence: Option<Spanned<String>>,
    source: Option<Spanned<String>>,
    #[serde(default)]
    notes: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    trigger: Option<Spanned<String>>,
    field: Option<Spanned<String>>,
    of: Option<Spanned<String>>,
    years: Option<Spanned<i64>>,
    months: Option<Spanned<i64>>,
    days: Option<Spanned<i64>>,
    whichever_longer: Option<Spanned<Vec<Spanned<RawRule>>>>,
    whichever_shorter: Option<Spanned<Vec<Spanned<RawRule>>>>,
    whichever_first: Option<Spanned<Vec<Spanned<RawRule>>>>,
    and_until: Option<Spanned<Vec<Spanned<RawRule>>>>,
}

/// Positions errors in one file.
struct Ctx<'a> {
    name: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, span: Range<usize>, what: impl Into<String>) -> ScheduleError {
        let at = span.start.min(self.text.len());
        let before = self.text.get(..at).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        ScheduleError {
            file: self.name.to_string(),
            line,
            column,
            what: what.into(),
        }
    }

    /// A required, non-empty string.
    fn text_of(
        &self,
        v: Option<Spanned<String>>,
        whole: &Range<usize>,
        key: &str,
    ) -> Result<String, ScheduleError> {
        let v = v.ok_or_else(|| self.err(whole.clone(), format!("missing `{key}`")))?;
        let s = v.get_ref().trim();
        if s.is_empty() {
            return Err(self.err(v.span(), format!("`{key}` is empty")));
        }
        Ok(s.to_string())
    }
}

/// Parses and checks a schedule file. `name` is what errors call the file.
pub fn parse(name: &str, text: &str) -> Result<Schedule, ScheduleError> {
    let cx = Ctx { name, text };
    let raw: RawSchedule = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        cx.err(span, e.message().trim().to_string())
    })?;
    let whole = 0..0;
    let format = raw
        .format
        .ok_or_else(|| cx.err(whole.clone(), "missing `format = 1` at the top"))?;
    match *format.get_ref() {
        FORMAT_VERSION => {}
        v if v > FORMAT_VERSION => {
            return Err(cx.err(
                format.span(),
                format!("format {v} was written for a newer blotter (this one reads format {FORMAT_VERSION})"),
            ))
        }
        v => return Err(cx.err(format.span(), format!("unknown format {v}"))),
    }
    let mut schedule = Schedule {
        name: name.to_string(),
        state: cx.text_of(raw.state, &whole, "state")?,
        title: cx.text_of(raw.title, &whole, "title")?,
        version: cx.text_of(raw.version, &whole, "version")?,
        source: cx.text_of(raw.source, &whole, "source")?,
        notes: raw.notes.trim().to_string(),
        items: Vec::with_capacity(raw.item.len()),
    };
    if raw.item.is_empty() {
        return Err(cx.err(whole, "the schedule has no `[[item]]`"));
    }
    let mut ids = HashSet::new();
    for item in raw.item {
        let span = item.span();
        let item = check_item(&cx, item.into_inner(), span)?;
        if !ids.insert(item.id.clone()) {
            return Err(cx.err(
                span_of_id(text, &item.id),
                format!("item id {:?} is used twice", item.id),
            ));
        }
        schedule.items.push(item);
    }
    Ok(schedule)
}

/// Where the second use of a duplicate id is (best effort: its last occurrence).
fn span_of_id(text: &str, id: &str) -> Range<usize> {
    let quoted = format!("\"{id}\"");
    text.rfind(&quoted).map_or(0..0, |i| i..i + quoted.len())
}

fn check_item(cx: &Ctx, raw: RawItem, span: Range<usize>) -> Result<Item, ScheduleError> {
    let id = cx.text_of(raw.id.clone(), &span, "id")?;
    check_item_body(cx, raw, &span, id.clone()).map_err(|e| ScheduleError {
        what: format!("item {id:?}: {}", e.what),
        ..e
    })
}

/// Everything of an item but its id; errors are prefixed with the id by the caller.
fn check_item_body(
    cx: &Ctx,
    raw: RawItem,
    span: &Range<usize>,
    id: String,
) -> Result<Item, ScheduleError> {
    let missing = |key: &str| cx.err(span.clone(), format!("missing `{key}`"));
    let authority = cx.text_of(raw.authority, span, "authority")?;
    let title = cx.text_of(raw.title, span, "title")?;
    let retention_text = cx.text_of(raw.retention_text, span, "retention_text")?;
    let source = cx.text_of(raw.source, span, "source")?;
    let types = raw.record_types.ok_or_else(|| missing("record_types"))?;
    if types.get_ref().is_empty() {
        return Err(cx.err(types.span(), "`record_types` is empty"));
    }
    let mut record_types = Vec::new();
    for t in types.into_inner() {
        if let Err(e) = crate::format::check_name("record type", t.get_ref()) {
            return Err(cx.err(t.span(), e.to_string()));
        }
        record_types.push(t.into_inner());
    }
    let confidence = check_confidence(cx, raw.confidence.ok_or_else(|| missing("confidence"))?)?;
    let disp = raw.disposition.ok_or_else(|| missing("disposition"))?;
    let disposition = Disposition::from_name(disp.get_ref()).ok_or_else(|| {
        cx.err(
            disp.span(),
            format!(
                "unknown disposition {:?} (expected destroy, transfer-archives, transfer-other, permanent, review or appraise)",
                disp.get_ref()
            ),
        )
    })?;
    let rule = raw.rule.ok_or_else(|| missing("rule"))?;
    let rule_span = rule.span();
    let rule = check_rule(cx, rule.into_inner(), rule_span, 0)?;
    if (rule == Rule::Permanent) != (disposition == Disposition::Permanent) {
        return Err(cx.err(
            disp.span(),
            "`disposition = \"permanent\"` goes with `rule = { trigger = \"permanent\" }`, and only with it",
        ));
    }
    Ok(Item {
        when: check_conditions(cx, raw.when)?,
        unless: check_conditions(cx, raw.unless)?,
        id,
        authority,
        title,
        record_types,
        retention_text,
        rule,
        disposition,
        confidence,
        source,
        notes: raw.notes.trim().to_string(),
    })
}

fn check_confidence(cx: &Ctx, conf: Spanned<String>) -> Result<Confidence, ScheduleError> {
    match conf.get_ref().as_str() {
        "M" => Err(cx.err(
            conf.span(),
            "confidence M (unverified) may not be shipped as a schedule item; leave the item out",
        )),
        s => Confidence::from_name(s).ok_or_else(|| {
            cx.err(
                conf.span(),
                format!("unknown confidence {s:?} (expected V, P, S or A)"),
            )
        }),
    }
}

fn check_conditions(
    cx: &Ctx,
    table: Option<Spanned<toml::Table>>,
) -> Result<Vec<Condition>, ScheduleError> {
    let Some(table) = table else {
        return Ok(Vec::new());
    };
    let span = table.span();
    let mut out = Vec::new();
    for (field, value) in table.into_inner() {
        let one = |v: &toml::Value| match v {
            toml::Value::String(s) => Some(FieldValue::Text(s.trim().to_string())),
            toml::Value::Boolean(b) => Some(FieldValue::Bool(*b)),
            toml::Value::Integer(i) => Some(FieldValue::Integer(*i)),
            _ => None,
        };
        let values: Option<Vec<FieldValue>> = match &value {
            toml::Value::Array(a) if !a.is_empty() => a.iter().map(one).collect(),
            v => one(v).map(|v| vec![v]),
        };
        let values = values.ok_or_else(|| {
            cx.err(
                span.clone(),
                format!("condition on `{field}` must be a string, boolean, integer or a non-empty list of them"),
            )
        })?;
        out.push(Condition { field, values });
    }
    Ok(out)
}

fn check_rule(
    cx: &Ctx,
    raw: RawRule,
    span: Range<usize>,
    depth: usize,
) -> Result<Rule, ScheduleError> {
    let combos = [
        (raw.whichever_longer, "whichever_longer"),
        (raw.whichever_shorter, "whichever_shorter"),
        (raw.whichever_first, "whichever_first"),
        (raw.and_until, "and_until"),
    ];
    let mut present: Vec<(Spanned<Vec<Spanned<RawRule>>>, &str)> = combos
        .into_iter()
        .filter_map(|(v, k)| v.map(|v| (v, k)))
        .collect();
    let has_trigger = raw.trigger.is_some();
    if present.len() + usize::from(has_trigger) != 1 {
        return Err(cx.err(
            span,
            "a rule has exactly one of `trigger`, `whichever_longer`, `whichever_shorter`, `whichever_first` or `and_until`",
        ));
    }
    let Some((list, key)) = present.pop() else {
        return check_simple(
            cx,
            raw.trigger,
            raw.field,
            raw.of,
            [raw.years, raw.months, raw.days],
            span,
        );
    };
    if let Some(extra) = raw.field.or(raw.of) {
        return Err(cx.err(extra.span(), format!("`{key}` takes no `field` or `of`")));
    }
    if let Some(extra) = raw.years.or(raw.months).or(raw.days) {
        return Err(cx.err(
            extra.span(),
            format!("`{key}` takes no period; put periods on its rules"),
        ));
    }
    if depth >= MAX_DEPTH {
        return Err(cx.err(
            list.span(),
            format!("rules nest deeper than {MAX_DEPTH} levels"),
        ));
    }
    if list.get_ref().len() < 2 {
        return Err(cx.err(list.span(), format!("`{key}` needs at least two rules")));
    }
    let mut rules = Vec::new();
    for r in list.into_inner() {
        let s = r.span();
        rules.push(check_rule(cx, r.into_inner(), s, depth + 1)?);
    }
    Ok(match key {
        "whichever_longer" => Rule::WhicheverLonger(rules),
        "and_until" => Rule::AndUntil(rules),
        _ => Rule::WhicheverShorter(rules),
    })
}

fn check_simple(
    cx: &Ctx,
    trigger: Option<Spanned<String>>,
    field: Option<Spanned<String>>,
    of: Option<Spanned<String>>,
    period: [Option<Spanned<i64>>; 3],
    span: Range<usize>,
) -> Result<Rule, ScheduleError> {
    let trigger = trigger.ok_or_else(|| cx.err(span.clone(), "missing `trigger`"))?;
    let period = check_period(cx, period)?;
    let has_period = period.as_ref().is_some_and(|(p, _)| !p.is_zero());
    let (period, period_span) = period.unwrap_or((Period::default(), span.clone()));
    let name = trigger.get_ref().as_str();
    if matches!(name, "permanent" | "review") {
        if has_period {
            return Err(cx.err(period_span, format!("trigger {name:?} takes no period")));
        }
        if let Some(x) = field.or(of) {
            return Err(cx.err(
                x.span(),
                format!("trigger {name:?} takes no `field` or `of`"),
            ));
        }
        return Ok(if name == "permanent" {
            Rule::Permanent
        } else {
            Rule::Review
        });
    }
    let trigger = match name {
        "calendar_year_end" | "fiscal_year_end" => {
            let inner = match of {
                None => Trigger::Created,
                Some(of) => {
                    let not_a_date = [
                        "calendar_year_end",
                        "fiscal_year_end",
                        "no_longer_needed",
                        "permanent",
                        "review",
                    ];
                    if not_a_date.contains(&of.get_ref().as_str()) {
                        return Err(cx.err(
                            of.span(),
                            format!("`of` cannot be {:?}: it names no event date", of.get_ref()),
                        ));
                    }
                    check_trigger(cx, &of, field)?
                }
            };
            if name == "calendar_year_end" {
                Trigger::CalendarYearEnd(Box::new(inner))
            } else {
                Trigger::FiscalYearEnd(Box::new(inner))
            }
        }
        _ => {
            if let Some(of) = of {
                return Err(cx.err(
                    of.span(),
                    format!("only year-end triggers take `of`, not {name:?}"),
                ));
            }
            check_trigger(cx, &trigger, field)?
        }
    };
    Ok(Rule::After { trigger, period })
}

/// A trigger name other than the year ends, `permanent` and `review`.
fn check_trigger(
    cx: &Ctx,
    name: &Spanned<String>,
    field: Option<Spanned<String>>,
) -> Result<Trigger, ScheduleError> {
    let t = match name.get_ref().as_str() {
        "date_field" => {
            let f = field.ok_or_else(|| {
                cx.err(
                    name.span(),
                    "trigger \"date_field\" needs `field = \"...\"`",
                )
            })?;
            if f.get_ref().trim().is_empty() {
                return Err(cx.err(f.span(), "`field` is empty"));
            }
            return Ok(Trigger::DateField(f.get_ref().trim().to_string()));
        }
        other => Trigger::from_name(other).ok_or_else(|| {
            cx.err(
                name.span(),
                format!("unknown trigger {other:?} (see docs/RETENTION.md, \"Rules\")"),
            )
        })?,
    };
    if let Some(f) = field {
        return Err(cx.err(
            f.span(),
            format!(
                "only \"date_field\" takes `field`, not {:?}",
                name.get_ref()
            ),
        ));
    }
    Ok(t)
}

/// `years`, `months`, `days`: each absent or 0..=bound. `None` when all are absent.
fn check_period(
    cx: &Ctx,
    parts: [Option<Spanned<i64>>; 3],
) -> Result<Option<(Period, Range<usize>)>, ScheduleError> {
    let names = ["years", "months", "days"];
    let bounds = [
        i64::from(MAX_YEARS),
        i64::from(MAX_YEARS) * 12,
        i64::from(MAX_YEARS) * 366,
    ];
    let mut out = [0u32; 3];
    let mut first = None;
    for (i, part) in parts.into_iter().enumerate() {
        let Some(v) = part else { continue };
        first.get_or_insert(v.span());
        let n = *v.get_ref();
        if n < 0 {
            return Err(cx.err(v.span(), format!("negative period: `{} = {n}`", names[i])));
        }
        let n = u32::try_from(n)
            .ok()
            .filter(|n| i64::from(*n) <= bounds[i])
            .ok_or_else(|| {
                cx.err(
                    v.span(),
                    format!(
                        "`{} = {n}` is longer than {MAX_YEARS} years; use trigger \"permanent\"",
                        names[i]
                    ),
                )
            })?;
        out[i] = n;
    }
    Ok(first.map(|s| {
        (
            Period {
                years: out[0],
                months: out[1],
                days: out[2],
            },
            s,
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str =
        "format = 1\nstate = \"XX\"\ntitle = \"T\"\nversion = \"1\"\nsource = \"s\"\n";

    fn item(body: &str) -> String {
        format!(
            "{HEAD}\n[[item]]\nid = \"a\"\nauthority = \"A-1\"\ntitle = \"t\"\nrecord_types = [\"incident\"]\nretention_text = \"x\"\nconfidence = \"V\"\nsource = \"s\"\n{body}\n"
        )
    }

    fn refused(text: &str) -> ScheduleError {
        match parse("f.toml", text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e,
        }
    }

    #[test]
    fn a_minimal_item_parses() {
        let s = parse(
            "f.toml",
            &item("disposition = \"destroy\"\nrule = { trigger = \"created\", years = 5 }"),
        )
        .unwrap();
        assert_eq!(s.items.len(), 1);
        assert_eq!(
            s.items[0].rule.to_string(),
            "5 years after the record was created"
        );
    }

    #[test]
    fn errors_point_at_the_value() {
        let e = refused(&item(
            "disposition = \"destroy\"\nrule = { trigger = \"created\", years = -5 }",
        ));
        assert_eq!((e.line, e.column), (16, 39), "{e}");
        assert!(e.what.contains("negative period"), "{e}");
        let e = refused(&item(
            "disposition = \"destroy\"\nrule = { trigger = \"whenever\" }",
        ));
        assert_eq!((e.line, e.column), (16, 20), "{e}");
        assert!(e.what.contains("unknown trigger \"whenever\""), "{e}");
        let e = refused(&item(
            "disposition = \"shred\"\nrule = { trigger = \"created\" }",
        ));
        assert_eq!(e.line, 15, "{e}");
        assert!(e.what.contains("unknown disposition \"shred\""), "{e}");
    }

    #[test]
    fn bad_rules_are_refused() {
        let cases = [
            (
                "rule = { trigger = \"created\", whichever_longer = [] }",
                "exactly one",
            ),
            (
                "rule = { whichever_longer = [{ trigger = \"created\" }] }",
                "at least two",
            ),
            ("rule = { trigger = \"date_field\" }", "needs `field"),
            (
                "rule = { trigger = \"created\", field = \"x\" }",
                "only \"date_field\"",
            ),
            (
                "rule = { trigger = \"created\", of = \"created\" }",
                "only year-end",
            ),
            (
                "rule = { trigger = \"calendar_year_end\", of = \"fiscal_year_end\" }",
                "`of` cannot",
            ),
            (
                "rule = { trigger = \"review\", years = 1 }",
                "takes no period",
            ),
            (
                "rule = { trigger = \"created\", years = 5000 }",
                "longer than",
            ),
            (
                "rule = { trigger = \"created\", fortnights = 2 }",
                "unknown field",
            ),
            ("rule = { trigger = \"permanent\" }", "goes with"),
        ];
        for (rule, want) in cases {
            let e = refused(&item(&format!("disposition = \"destroy\"\n{rule}")));
            assert!(e.what.contains(want), "{rule}: {e}");
        }
        let deep = "rule = { and_until = [{ and_until = [{ and_until = [{ and_until = [{ and_until = [{ trigger = \"created\" }, { trigger = \"created\" }] }, { trigger = \"created\" }] }, { trigger = \"created\" }] }, { trigger = \"created\" }] }, { trigger = \"created\" }] }";
        let e = refused(&item(&format!("disposition = \"destroy\"\n{deep}")));
        assert!(e.what.contains("nest deeper"), "{e}");
    }

    #[test]
    fn unverified_items_and_duplicates_are_refused() {
        let text = item("disposition = \"destroy\"\nrule = { trigger = \"created\" }")
            .replace("\"V\"", "\"M\"");
        assert!(refused(&text).what.contains("confidence M"));
        let one = item("disposition = \"destroy\"\nrule = { trigger = \"created\" }");
        let twice = format!("{one}\n{}", one.trim_start_matches(HEAD));
        let e = refused(&twice);
        assert!(e.what.contains("used twice"), "{e}");
        assert_eq!((e.line, e.column), (20, 6), "{e}");
    }

    #[test]
    fn a_newer_format_says_so() {
        let e = refused(
            &item("disposition = \"destroy\"\nrule = { trigger = \"created\" }")
                .replace("format = 1", "format = 2"),
        );
        assert_eq!((e.line, e.column), (1, 10));
        assert!(e.what.contains("newer blotter"), "{e}");
    }
}
