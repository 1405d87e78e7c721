//! `blotter record ...`

use std::io::Read;
use std::path::Path;

use serde_json::json;

use super::args::RecordCmd;
use super::{append_one, append_with, fail, Backend, Ctx, Res};
use crate::format::{AccessTarget, Action, Date};
use crate::ledger::read::ListFilter;
use crate::ledger::Draft;

pub fn parse_id(s: &str) -> Res<[u8; 16]> {
    hex::decode(s.trim())
        .ok()
        .and_then(|v| v.try_into().ok())
        .map_or_else(
            || fail(format!("{s:?} is not a record id (32 hex digits)")),
            Ok,
        )
}

fn parse_date(s: &str) -> Res<Date> {
    Ok(s.parse()?)
}

/// Reads a JSON payload (file or `-`), refusing malformed JSON with line and column.
fn read_payload(p: &Path) -> Res<Vec<u8>> {
    let mut buf = Vec::new();
    let name = if p == Path::new("-") {
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| format!("stdin: {e}"))?;
        "stdin".to_string()
    } else {
        buf = std::fs::read(p).map_err(|e| format!("payload file {}: {e}", p.display()))?;
        p.display().to_string()
    };
    match serde_json::from_slice::<serde_json::Value>(&buf) {
        Ok(serde_json::Value::Object(_)) => Ok(buf),
        Ok(_) => fail(format!("{name}: the payload must be a JSON object")),
        Err(e) => fail(format!(
            "{name}:{}:{}: malformed JSON: {e}",
            e.line(),
            e.column()
        )),
    }
}

pub fn run(ctx: &Ctx, cmd: &RecordCmd) -> Res<i32> {
    match cmd {
        RecordCmd::Create {
            record_type,
            payload,
            case,
            created_on,
            confidential,
        } => {
            let content = read_payload(payload)?;
            let created_on = match created_on {
                Some(d) => parse_date(d)?,
                None => crate::ledger::append::today(),
            };
            let mut d = Draft::new_record(
                record_type,
                created_on,
                Action::RecordCreate {
                    confidential: *confidential,
                },
            );
            d.content = Some(content);
            d.case_number = case.clone();
            append_one(ctx, d, "created")
        }
        RecordCmd::Amend { id, payload } => {
            let content = read_payload(payload)?;
            change(ctx, id, Action::RecordAmend, "amended", |d| {
                d.content = Some(content)
            })
        }
        RecordCmd::Status { id, status, date } => {
            let status = status.parse()?;
            let date = match date {
                Some(d) => parse_date(d)?,
                None => crate::ledger::append::today(),
            };
            change(
                ctx,
                id,
                Action::RecordStatus { status, date },
                "status set on",
                |_| {},
            )
        }
        RecordCmd::Seal { id, court_order } => {
            let order = serde_json::to_vec(&json!({"court_order": court_order}))?;
            change(ctx, id, Action::RecordSeal, "sealed", |d| {
                d.side_doc = Some(order)
            })
        }
        RecordCmd::Unseal { id, court_order } => {
            let order = serde_json::to_vec(&json!({"court_order": court_order}))?;
            change(ctx, id, Action::RecordUnseal, "unsealed", |d| {
                d.side_doc = Some(order)
            })
        }
        RecordCmd::Confidential { id, set } => {
            let action = Action::RecordConfidential { confidential: *set };
            change(ctx, id, action, "marked", |_| {})
        }
        RecordCmd::Show { id } => show(ctx, id),
        RecordCmd::History { id } => {
            let h = ctx.backend()?.history(&parse_id(id)?)?;
            ctx.out(serde_json::to_value(&h)?, || {
                h.iter()
                    .map(|i| {
                        format!(
                            "{:>8}  {}  {:<20} {}",
                            i.seq,
                            i.time,
                            i.action,
                            i.person.as_deref().unwrap_or(&i.actor)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(0)
        }
        RecordCmd::List {
            record_type,
            status,
            case,
            from,
            to,
        } => {
            let l = ctx.backend()?;
            let f = ListFilter {
                record_type: record_type.clone(),
                status: status.clone(),
                case_number: case.clone(),
                created_from: from.as_deref().map(parse_date).transpose()?,
                created_to: to.as_deref().map(parse_date).transpose()?,
                internal: false,
            };
            let list = l.list(&f)?;
            ctx.out(serde_json::to_value(&list)?, || {
                list.iter()
                    .map(|s| {
                        let flags = format!(
                            "{}{}",
                            if s.sealed { " sealed" } else { "" },
                            if s.confidential { " confidential" } else { "" }
                        );
                        format!(
                            "{}  {:<16} {}  {:<8}{flags}",
                            hex::encode(s.id),
                            s.record_type,
                            s.created_on,
                            s.status.as_deref().unwrap_or("open")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(0)
        }
        RecordCmd::Attach { id, file } => {
            let rid = parse_id(id)?;
            let key = ctx.key()?;
            let mut l = ctx.backend_for_write()?;
            let staged = l.stage_attachment(&rid, file)?;
            let mut d = l.draft(
                &rid,
                Action::RecordAttach {
                    blob: staged.commitment,
                    size: staged.size,
                },
            )?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            d.side_doc = Some(serde_json::to_vec(&json!({"file_name": name}))?);
            d.attachment = Some(staged.clone());
            let sub = l.sign(&key, d)?;
            let (outcomes, _) = l.append(vec![sub])?;
            let seq = super::first_seq(&outcomes)?;
            let blob = hex::encode(staged.commitment);
            ctx.out(
                json!({"record": id, "seq": seq, "blob": blob, "size": staged.size}),
                || {
                    format!(
                        "attached {} ({} bytes) to {id} at entry {seq}; blob {blob}",
                        file.display(),
                        staged.size
                    )
                },
            );
            Ok(0)
        }
        RecordCmd::Attachments { id } => {
            let l = ctx.backend()?;
            let list = l.attachments(&parse_id(id)?)?;
            let v: Vec<_> = list.iter().map(|(c, b, s)| json!({"change": hex::encode(c), "blob": hex::encode(b), "size": s})).collect();
            ctx.out(json!(v), || {
                list.iter()
                    .map(|(_, b, s)| format!("{}  {s} bytes", hex::encode(b)))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(0)
        }
        RecordCmd::GetAttachment { id, blob, out } => {
            let rid = parse_id(id)?;
            let blob = super::parse_key(blob)?;
            let mut l = ctx.backend_for_write()?;
            let st = l
                .record(&rid)?
                .ok_or_else(|| format!("record {id} not found"))?;
            let (change, _, _) = l
                .attachments(&rid)?
                .into_iter()
                .find(|(_, b, _)| *b == blob)
                .ok_or("no such attachment")?;
            let access = if st.restricted() {
                Some(access_change(
                    ctx,
                    &l,
                    &rid,
                    AccessTarget::Attachment,
                    change,
                )?)
            } else {
                None
            };
            let mut tmp_name = out.as_os_str().to_owned();
            tmp_name.push(".partial");
            let tmp = std::path::PathBuf::from(tmp_name);
            let f = std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
            let mut w = std::io::BufWriter::new(f);
            let res = l.read_attachment(&rid, &blob, access, &mut w);
            let res = res.and_then(|n| {
                let f = w
                    .into_inner()
                    .map_err(|e| format!("{}: {}", tmp.display(), e.into_error()))?;
                f.sync_all()
                    .map_err(|e| format!("{}: {e}", tmp.display()))?;
                Ok(n)
            });
            match res {
                Ok(n) => {
                    std::fs::rename(&tmp, out).map_err(|e| format!("{}: {e}", out.display()))?;
                    ctx.out(json!({"out": out, "size": n}), || {
                        format!("wrote {} ({n} bytes, verified)", out.display())
                    });
                    Ok(0)
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    Err(e)
                }
            }
        }
    }
}

/// Appends `action` to record `id`, drafted on the ledger opened once for the append.
fn change(
    ctx: &Ctx,
    id: &str,
    action: Action,
    verb: &str,
    fill: impl FnOnce(&mut Draft),
) -> Res<i32> {
    let rid = parse_id(id)?;
    append_with(ctx, verb, |l| {
        let mut d = l.draft(&rid, action)?;
        fill(&mut d);
        Ok(d)
    })
}

/// The reader's signed access change, which the library appends before a restricted read.
fn access_change(
    ctx: &Ctx,
    l: &Backend,
    id: &[u8; 16],
    target: AccessTarget,
    change: [u8; 32],
) -> Res<crate::ledger::Submission> {
    let key = ctx.key().map_err(|_| super::Failure {
        code: 2,
        message: format!(
            "record {} is sealed or confidential: reading it is logged; pass --key of a supervisor or auditor",
            hex::encode(id)
        ),
    })?;
    l.sign(&key, l.draft(id, Action::Access { target, change })?)
}

fn show(ctx: &Ctx, id: &str) -> Res<i32> {
    let rid = parse_id(id)?;
    let mut l = ctx.backend_for_write()?;
    let st = l
        .record(&rid)?
        .ok_or_else(|| format!("record {id} not found"))?;
    let access = match (st.restricted(), st.content) {
        (true, Some(content)) => Some(access_change(
            ctx,
            &l,
            &rid,
            AccessTarget::Payload,
            content,
        )?),
        _ => None,
    };
    let (content, case) = l.read_content(&rid, access)?;
    let content: serde_json::Value = serde_json::from_slice(&content)?;
    let mut v = serde_json::to_value(&st)?;
    v["case_number"] = json!(case);
    v["content"] = content.clone();
    ctx.out(v, || {
        format!(
            "record {id}\ntype: {}\ncreated on: {}\nstatus: {}{}\ncase: {}\nsealed: {}  confidential: {}\nchanges: {} (entries {}..{})\n{}",
            st.record_type,
            st.created_on,
            st.status.as_deref().unwrap_or("open"),
            st.status_date.as_deref().map(|d| format!(" ({d})")).unwrap_or_default(),
            case.as_deref().unwrap_or("-"),
            st.sealed,
            st.confidential,
            st.changes,
            st.first_seq,
            st.last_seq,
            serde_json::to_string_pretty(&content).unwrap_or_default()
        )
    });
    Ok(0)
}
