//! `blotter schedule ...`, `blotter hold ...`, `blotter retention report`.

use std::io::Write;

use serde_json::json;

use super::args::{HoldCmd, RetentionCmd, ScheduleCmd};
use super::records::parse_id;
use super::{append_with, fail, Ctx, Res};
use crate::format::HoldKind;
use crate::ledger::holds::HoldTarget;
use crate::ledger::schedules;

fn read_text(p: &std::path::Path) -> Res<String> {
    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()).into())
}

pub(crate) fn schedule(ctx: &Ctx, cmd: &ScheduleCmd) -> Res<i32> {
    match cmd {
        ScheduleCmd::Check { file } => {
            let name = file.display().to_string();
            let s = schedules::check(&name, &read_text(file)?)?;
            ctx.out(
                json!({"file": name, "state": s.state, "title": s.title, "version": s.version, "items": s.items.len()}),
                || format!("ok: {name}: {} {} (version {}), {} items", s.state, s.title, s.version, s.items.len()),
            );
            Ok(0)
        }
        ScheduleCmd::Adopt { file } => {
            let name = file.display().to_string();
            let text = read_text(file)?;
            append_with(ctx, "adopted schedule", |l| {
                l.adopt_schedule_draft(&name, &text)
            })
        }
        ScheduleCmd::List => {
            let list = ctx.backend()?.schedules()?;
            ctx.out(serde_json::to_value(&list)?, || {
                if list.is_empty() {
                    return "no schedule adopted; `blotter schedule adopt FILE`".into();
                }
                list.iter()
                    .map(|a| {
                        format!(
                            "{}  entry {}  {} {} (version {}), {} items{}",
                            a.record,
                            a.seq,
                            a.state,
                            a.title,
                            a.version,
                            a.items,
                            if a.in_force { "  IN FORCE" } else { "" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(0)
        }
        ScheduleCmd::Show { id } => {
            let l = ctx.open()?;
            let list = l.schedules()?;
            let a = match id {
                None => list.last(),
                Some(id) => list.iter().find(|a| a.record == id.trim()),
            };
            let Some(a) = a else {
                return fail("no such adopted schedule; see `blotter schedule list`");
            };
            let doc = crate::crypto::parse_hex32(&a.document).ok_or("malformed document hash")?;
            let s = l.schedule_document(&doc)?;
            ctx.out(json!({"adoption": a, "schedule": s}), || {
                let mut out = format!(
                    "{} {} (version {}), adopted at entry {}, file BLAKE3 {}\nsource: {}\n",
                    s.state, s.title, s.version, a.seq, a.document, s.source
                );
                for i in &s.items {
                    out.push_str(&format!(
                        "\n{}  [{}]  {}  types: {}  ({:?})\n  {}\n",
                        i.id,
                        i.authority,
                        i.title,
                        i.record_types.join(", "),
                        i.confidence,
                        i.retention_text
                    ));
                }
                out
            });
            Ok(0)
        }
    }
}

pub(crate) fn hold(ctx: &Ctx, cmd: &HoldCmd) -> Res<i32> {
    match cmd {
        HoldCmd::Place {
            kind,
            authority,
            case,
            records,
        } => {
            let kind: HoldKind = kind.parse().map_err(|_| {
                format!("--kind {kind:?}: use litigation, records-request, investigation, audit or court-order")
            })?;
            let target = match case {
                Some(c) => HoldTarget::Case(c.clone()),
                None => HoldTarget::Records(
                    records
                        .iter()
                        .map(|r| parse_id(r))
                        .collect::<Res<Vec<_>>>()?,
                ),
            };
            append_with(ctx, "placed hold", |l| {
                l.hold_draft(kind, authority, target)
            })
        }
        HoldCmd::Release { hold } => {
            let id = parse_id(hold)?;
            append_with(ctx, "released hold", |l| {
                l.draft(&id, crate::format::Action::HoldRelease)
            })
        }
        HoldCmd::List { all } => {
            let holds: Vec<_> = ctx
                .backend()?
                .holds()?
                .into_iter()
                .filter(|h| *all || h.released.is_none())
                .collect();
            ctx.out(serde_json::to_value(&holds)?, || {
                holds
                    .iter()
                    .map(|h| {
                        let what = match &h.case_number {
                            Some(c) => format!("case {c}"),
                            None => format!("{} records", h.records.len()),
                        };
                        let state = h
                            .released
                            .map_or("active".to_string(), |s| format!("released at entry {s}"));
                        format!("{}  {}  {}  {what}  {state}", h.id, h.kind, h.authority)
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(0)
        }
    }
}

/// Today in the agency's time zone, or the date given.
pub(crate) fn as_of(l: &crate::ledger::Ledger, given: Option<&str>) -> Res<jiff::civil::Date> {
    match given {
        Some(s) => s
            .parse()
            .map_err(|e| format!("--as-of {s:?}: expected YYYY-MM-DD ({e})").into()),
        None => Ok(jiff::Zoned::now()
            .with_time_zone(l.policy()?.time_zone.clone())
            .date()),
    }
}

pub(crate) fn report(ctx: &Ctx, cmd: &RetentionCmd) -> Res<i32> {
    let RetentionCmd::Report {
        as_of: given,
        status,
    } = cmd;
    let names: Vec<&str> = crate::ledger::report::STATUSES
        .iter()
        .map(|(_, n)| *n)
        .collect();
    if let Some(s) = status.as_deref().filter(|s| !names.contains(s)) {
        return fail(format!("--status {s:?}: use one of {}", names.join(", ")));
    }
    let l = ctx.open()?;
    let date = as_of(&l, given.as_deref())?;
    let Some((adopted, schedule)) = l.schedule_in_force()? else {
        return fail("no retention schedule is adopted; run `blotter schedule adopt FILE` first");
    };
    let pb = ctx.progress(0, "retention report");
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    // With --json, one document written as it streams: {"records":[...],"summary":{...}};
    // a table for a person.
    let mut write = |line: String| -> Result<(), crate::ledger::LedgerError> {
        let _ = writeln!(out, "{line}");
        Ok(())
    };
    if ctx.cli.json {
        write("{\"records\":[".into())?;
    } else {
        write(format!(
            "retention report as of {date}: {} {} (version {}), adopted at entry {}",
            adopted.state, adopted.title, adopted.version, adopted.seq
        ))?;
    }
    let mut n = 0u64;
    let mut shown = 0u64;
    let result = l.retention_report(&schedule, date, &mut |o| {
        n += 1;
        pb.set_position(n);
        let name = crate::ledger::report::status_name(o.status);
        if status.as_deref().is_some_and(|s| s != name) {
            return Ok(());
        }
        if ctx.cli.json {
            let sep = if shown == 0 { "" } else { "," };
            shown += 1;
            write(format!(
                "{sep}{}",
                serde_json::to_string(&o).unwrap_or_default()
            ))
        } else {
            write(format!(
                "{}  {:<14} {:<15} item {:<12} trigger {:<10} eligible {:<10}  {}",
                hex::encode(o.record),
                o.record_type,
                name,
                o.item.as_deref().unwrap_or("-"),
                o.trigger_date.map(|d| d.to_string()).unwrap_or("-".into()),
                o.eligible_on.map(|d| d.to_string()).unwrap_or("-".into()),
                o.reason,
            ))
        }
    });
    pb.finish_and_clear();
    let by_status = match result {
        Ok(b) => b,
        // The records already written stay one JSON document: closed with the error.
        Err(e) if ctx.cli.json => {
            write(format!("],\"error\":{}}}", json!(e.to_string())))?;
            eprintln!("blotter: error: {e}");
            return Ok(2);
        }
        Err(e) => return Err(e.into()),
    };
    let summary = json!({"as_of": date.to_string(), "schedule": adopted, "records": n, "by_status": by_status});
    if ctx.cli.json {
        write(format!("],\"summary\":{summary}}}"))?;
    } else {
        let parts: Vec<String> = by_status.iter().map(|(k, v)| format!("{k} {v}")).collect();
        write(format!("{n} records: {}", parts.join(", ")))?;
    }
    Ok(0)
}
