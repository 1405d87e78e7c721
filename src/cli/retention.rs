//! `blotter schedule ...`, `blotter hold ...`, `blotter retention report`.

use std::io::Write;

use serde_json::json;

use super::args::{HoldCmd, RetentionCmd, ScheduleCmd};
use super::records::parse_id;
use super::{append_with, fail, Backend, Ctx, Res};
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
            let b = ctx.backend()?;
            let list = b.schedules()?;
            let a = match id {
                None => list.last(),
                Some(id) => list.iter().find(|a| a.record == id.trim()),
            };
            let Some(a) = a else {
                return fail("no such adopted schedule; see `blotter schedule list`");
            };
            let doc = crate::crypto::parse_hex32(&a.document).ok_or("malformed document hash")?;
            let s = crate::ledger::schedules::parse_document(&doc, &b.document(&doc)?)?;
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

/// A `--as-of` date.
fn parse_as_of(s: &str) -> Res<jiff::civil::Date> {
    s.parse()
        .map_err(|e| format!("--as-of {s:?}: expected YYYY-MM-DD ({e})").into())
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
    let mut p = Printer {
        json: ctx.cli.json,
        status: status.clone(),
        out: std::io::BufWriter::new(std::io::stdout().lock()),
        shown: 0,
    };
    let pb = ctx.progress(0, "retention report");
    let ended = match ctx.backend()? {
        Backend::Remote(c) => {
            let q = given
                .as_deref()
                .map_or(String::new(), |d| format!("?as_of={d}"));
            let lines = c.get_lines(&format!("/v1/retention/report{q}"))?;
            let mut started = false;
            let mut end = Err("the server's report stopped before its summary".to_string());
            for line in lines {
                let v: serde_json::Value = serde_json::from_str(&line?)?;
                if !started {
                    p.start(&v)?;
                    started = true;
                } else if let Some(s) = v.get("summary") {
                    end = Ok(s.clone());
                    break;
                } else if let Some(e) = v.get("error") {
                    end = Err(e.as_str().unwrap_or("the report failed").to_string());
                    break;
                } else {
                    p.record(&v);
                    pb.inc(1);
                }
            }
            if !started {
                return fail("the server sent an empty report");
            }
            end
        }
        Backend::Local(l) => {
            let date = given.as_deref().map(parse_as_of).transpose()?;
            let mut started = false;
            let mut n = 0u64;
            // Both callbacks print through the one printer.
            let printer = std::cell::RefCell::new(&mut p);
            let result = l.report_in_force(
                date,
                &mut |adopted, date| {
                    started = true;
                    printer
                        .borrow_mut()
                        .start(&json!({"as_of": date.to_string(), "schedule": adopted}))
                        .map_err(|f| crate::ledger::LedgerError::Invalid(f.message))
                },
                &mut |o| {
                    n += 1;
                    pb.set_position(n);
                    printer
                        .borrow_mut()
                        .record(&serde_json::to_value(&o).unwrap_or_default());
                    Ok(())
                },
            );
            match result {
                Ok(summary) => Ok(serde_json::to_value(&summary)?),
                // Nothing printed yet (no schedule, say): a plain failure.
                Err(e) if !started => return Err(e.into()),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    pb.finish_and_clear();
    match ended {
        Ok(summary) => {
            p.end(&summary);
            Ok(0)
        }
        // The records already written stay one JSON document: closed with the error.
        Err(e) if ctx.cli.json => {
            p.line(format!("],\"error\":{}}}", json!(e)));
            eprintln!("blotter: error: {e}");
            Ok(2)
        }
        Err(e) => fail(e),
    }
}

/// Prints a retention report as it streams: with --json one document
/// `{"records":[...],"summary":{...}}`, else a table for a person. Local and remote
/// reports go through it, from the same JSON values.
struct Printer<W: Write> {
    json: bool,
    status: Option<String>,
    out: W,
    shown: u64,
}

impl<W: Write> Printer<W> {
    fn line(&mut self, line: String) {
        // A closed pipe (`| head`) is not an error worth a panic.
        let _ = writeln!(self.out, "{line}");
    }

    /// `head`: `{"as_of", "schedule"}`.
    fn start(&mut self, head: &serde_json::Value) -> Res<()> {
        if self.json {
            self.line("{\"records\":[".into());
            return Ok(());
        }
        let a: crate::ledger::schedules::Adopted =
            serde_json::from_value(head["schedule"].clone())?;
        let date = head["as_of"].as_str().unwrap_or("?").to_string();
        self.line(format!(
            "retention report as of {date}: {} {} (version {}), adopted at entry {}",
            a.state, a.title, a.version, a.seq
        ));
        Ok(())
    }

    fn record(&mut self, o: &serde_json::Value) {
        let s = |k: &str| o[k].as_str().unwrap_or("-").to_string();
        if self
            .status
            .as_deref()
            .is_some_and(|want| want != s("status"))
        {
            return;
        }
        if self.json {
            let sep = if self.shown == 0 { "" } else { "," };
            self.shown += 1;
            self.line(format!("{sep}{o}"));
        } else {
            self.line(format!(
                "{}  {:<14} {:<15} item {:<12} trigger {:<10} eligible {:<10}  {}",
                s("record"),
                s("record_type"),
                s("status"),
                s("item"),
                s("trigger_date"),
                s("eligible_on"),
                s("reason"),
            ));
        }
    }

    fn end(&mut self, summary: &serde_json::Value) {
        if self.json {
            self.line(format!("],\"summary\":{summary}}}"));
        } else {
            let parts: Vec<String> = summary["by_status"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| format!("{k} {v}")).collect())
                .unwrap_or_default();
            self.line(format!(
                "{} records: {}",
                summary["records"],
                parts.join(", ")
            ));
        }
    }
}
