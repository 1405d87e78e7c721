//! `blotter purge ...` and `blotter order ...`.

use serde_json::json;

use super::args::{OrderCmd, PurgeCmd};
use super::backend::Backend;
use super::records::parse_id;
use super::{append_with, fail, first_seq, Ctx, Res};
use crate::ledger::docs::CertificateDoc;
use crate::ledger::purge::Applied;

pub(crate) fn purge(ctx: &Ctx, cmd: &PurgeCmd) -> Res<i32> {
    match cmd {
        PurgeCmd::Plan { as_of } => {
            let date: crate::format::Date = as_of
                .parse()
                .map_err(|e| format!("--as-of {as_of:?}: {e}"))?;
            let key = ctx.key()?;
            let mut b = ctx.backend_for_write()?;
            let (d, doc) = b.plan_draft(date, &key)?;
            let record = hex::encode(d.record);
            let sub = b.sign(&key, d)?;
            let seq = first_seq(&b.append(vec![sub])?.0)?;
            let transfer = doc
                .records
                .iter()
                .filter(|r| r.disposition == "transfer")
                .count();
            ctx.out(
                json!({"plan": record, "seq": seq, "as_of": doc.as_of, "records": doc.records.len(), "transfer": transfer, "left_out": doc.left_out}),
                || {
                    format!(
                        "planned {record} at entry {seq}: {} records eligible as of {} under {} {} (version {}), {transfer} of them for transfer; another supervisor must approve: `blotter purge approve {record}`",
                        doc.records.len(), doc.as_of, doc.schedule.state, doc.schedule.title, doc.schedule.version
                    )
                },
            );
            Ok(0)
        }
        PurgeCmd::Approve { plan } => {
            let id = parse_id(plan)?;
            append_with(ctx, "approved", |l| l.approval_draft(&id, "purge-plan"))
        }
        PurgeCmd::Apply { plan } => apply(ctx, plan, "purge-plan"),
        PurgeCmd::Certificate { plan, text } => certificate(ctx, plan, *text),
        PurgeCmd::List => list(ctx, "purge-plan"),
        PurgeCmd::Show { plan } => {
            let v = ctx.backend()?.plan_value(&parse_id(plan)?)?;
            let text = serde_json::to_string_pretty(&v["plan"]).unwrap_or_default();
            ctx.out(v, || text);
            Ok(0)
        }
    }
}

pub(crate) fn order(ctx: &Ctx, cmd: &OrderCmd) -> Res<i32> {
    match cmd {
        OrderCmd::Record {
            court_order,
            action,
            records,
        } => {
            if !matches!(action.as_str(), "destroy" | "expunge" | "seal") {
                return fail(format!("--action {action:?}: use destroy, expunge or seal"));
            }
            let ids = records
                .iter()
                .map(|r| parse_id(r))
                .collect::<Res<Vec<_>>>()?;
            let key = ctx.key()?;
            append_with(ctx, "recorded order", |b| {
                b.order_draft(court_order, action, &ids, &key)
            })
        }
        OrderCmd::Approve { order } => {
            let id = parse_id(order)?;
            let key = ctx.key()?;
            let mut b = ctx.backend_for_write()?;
            let d = b.approval_draft(&id, "disposal-order")?;
            let s = b.sign(&key, d)?;
            let seq = first_seq(&b.append(vec![s])?.0)?;
            // Sealing is a supervisor's change (record.seal): an administrator's approval
            // of a seal order is recorded, and a supervisor carries it out.
            let seal = b.order_document(&id)?.action == "seal";
            let role = b
                .key_state(&key.verifying_key().to_bytes())?
                .map(|k| k.role());
            if seal && role != Some(crate::format::Role::Supervisor) {
                ctx.out(json!({"order": order, "approved_seq": seq, "applied": false}), || {
                    format!("approved order {order} at entry {seq}; a supervisor carries out a seal order: `blotter order apply {order}`")
                });
                return Ok(0);
            }
            run_apply(ctx, b, &id, &key)
        }
        OrderCmd::Apply { order } => apply(ctx, order, "disposal-order"),
        OrderCmd::List => list(ctx, "disposal-order"),
    }
}

fn apply(ctx: &Ctx, id: &str, want: &str) -> Res<i32> {
    let rid = parse_id(id)?;
    let key = ctx.key()?;
    let b = ctx.backend_for_write()?;
    let kind = b.record(&rid)?.map(|s| s.record_type);
    if kind.as_deref() != Some(want) {
        return fail(format!("{id} is not a {want}"));
    }
    run_apply(ctx, b, &rid, &key)
}

fn run_apply(
    ctx: &Ctx,
    mut b: Backend,
    id: &[u8; 16],
    key: &ed25519_dalek::SigningKey,
) -> Res<i32> {
    let pb = ctx.progress(0, "apply");
    let res = b.apply(id, key, &|n, total| {
        pb.set_length(total);
        pb.set_position(n);
    });
    pb.finish_and_clear();
    let a: Applied = res?;
    ctx.out(serde_json::to_value(&a)?, || {
        let mut s = format!(
            "applied {}: {} records disposed now, {} already disposed, {} not disposed, {} left for transfer (archive export), {} sealed",
            a.authority,
            a.disposed_now,
            a.already_disposed,
            a.not_disposed.len(),
            a.transfer_pending,
            a.sealed
        );
        for n in &a.not_disposed {
            s.push_str(&format!("\n  not disposed: {}: {}", n.record, n.why));
        }
        match a.certificate_seq {
            Some(seq) => s.push_str(&format!(
                "\ncertificate at entry {seq}: `blotter purge certificate {}`",
                a.authority
            )),
            None if !a.not_disposed.is_empty() => s.push_str(&format!(
                "\nthe order stays open: run `blotter order apply {}` once the holds are released",
                a.authority
            )),
            None => {}
        }
        s
    });
    Ok(0)
}

fn list(ctx: &Ctx, kind: &str) -> Res<i32> {
    let rows = ctx.backend()?.authority_rows(kind)?;
    ctx.out(serde_json::Value::Array(rows.clone()), || {
        rows.iter()
            .map(|r| {
                let state = if r["certified"].is_u64() {
                    format!("applied, certificate at entry {}", r["certified"])
                } else if r["approved"].is_object() {
                    format!(
                        "approved by {}",
                        r["approved"]["person"].as_str().unwrap_or("")
                    )
                } else {
                    "awaiting approval".into()
                };
                format!(
                    "{}  entry {}  by {}  {state}",
                    r["id"].as_str().unwrap_or(""),
                    r["entry"],
                    r["by"].as_str().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(0)
}

fn certificate(ctx: &Ctx, id: &str, text: bool) -> Res<i32> {
    let signed = ctx.backend()?.certificate_value(&parse_id(id)?)?;
    let cert: CertificateDoc = serde_json::from_value(signed["certificate"].clone())?;
    let seq = signed["entry"]["seq"].as_u64().unwrap_or_default();
    if text && !ctx.cli.json {
        ctx.out(signed, || page(&cert, seq));
    } else {
        ctx.out(signed.clone(), || {
            serde_json::to_string_pretty(&signed).unwrap_or_default()
        });
    }
    Ok(0)
}

/// The certificate as a page a records manager files.
fn page(c: &CertificateDoc, seq: u64) -> String {
    let mut s = String::new();
    s.push_str("CERTIFICATE OF RECORDS DESTRUCTION\n\n");
    s.push_str(&format!("Agency ledger:     {}\n", c.origin));
    match (&c.schedule, &c.court_order) {
        (Some(sch), _) => s.push_str(&format!(
            "Authority:         retention schedule {} {} (version {}), plan {}\n",
            sch.state, sch.title, sch.version, c.authority
        )),
        (None, Some(o)) => s.push_str(&format!(
            "Authority:         court order {o}, disposal order {}\n",
            c.authority
        )),
        _ => {}
    }
    s.push_str(&format!("Records destroyed: {}\n", c.record_count));
    if let (Some(a), Some(b)) = (&c.created_from, &c.created_to) {
        s.push_str(&format!("Records dated:     {a} to {b}\n"));
    }
    for (item, n) in &c.items {
        s.push_str(&format!("  item {item}: {n}\n"));
    }
    s.push_str(&format!("Planned by:        {}\n", c.planned_by));
    s.push_str(&format!("Approved by:       {}\n", c.approved_by));
    s.push_str(&format!(
        "Applied by:        {} on {}\n",
        c.applied_by, c.applied_on
    ));
    s.push_str(&format!(
        "Hold check:        {} eligible records held back at planning; {} planned records not destroyed at apply (holds or no longer eligible)\n",
        c.left_out_at_planning.get("blocked").copied().unwrap_or(0),
        c.not_disposed.len()
    ));
    if let Some((a, b)) = c.disposal_entries {
        s.push_str(&format!("Disposal entries:  {a} to {b}\n"));
    }
    s.push_str(&format!(
        "Certificate entry: {seq}\n\nMethod: {}\n\nRecords:\n",
        c.method
    ));
    for r in &c.records {
        s.push_str(&format!("  {r}\n"));
    }
    s
}
