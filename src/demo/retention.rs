//! The demo's retention round (docs/PURGES.md): a supervisor adopts the schedule, places
//! a litigation hold on an eligible record and a records-request hold on a case, plans
//! a purge as of today; a second supervisor approves; the first applies it (destroying
//! what is eligible and not held) and the certificate is kept; then a court order to
//! expunge one record is recorded by a supervisor and approved and carried out by an
//! administrator.

use std::collections::HashMap;

use ed25519_dalek::SigningKey;
use serde::Serialize;

use super::DemoError;
use crate::format::HoldKind;
use crate::ledger::holds::HoldTarget;
use crate::ledger::{Draft, Ledger};
use crate::retention::Status;

/// The schedule the demo adopts (see its header: what it covers and on what authority).
pub const SCHEDULE_NAME: &str = "retention-schedules/demo-agency.toml";
const SCHEDULE: &str = include_str!("../../retention-schedules/demo-agency.toml");

/// What the round did.
#[derive(Debug, Serialize)]
pub struct RetentionRound {
    pub schedule: String,
    pub eligible: u64,
    pub held_record: Option<String>,
    pub held_case: Option<String>,
    pub plan: Option<String>,
    pub disposed: u64,
    /// Eligible records the plan left out because a hold blocks them.
    pub held_back: u64,
    pub order: Option<String>,
}

fn append(l: &mut Ledger, k: &SigningKey, d: Draft) -> Result<u64, DemoError> {
    let s = l.sign(k, d)?;
    Ok(l.append(vec![s])?[0].seq())
}

pub(super) fn round(
    l: &mut Ledger,
    people: &HashMap<&str, SigningKey>,
    made: &[([u8; 16], String)],
    log: &dyn Fn(&str),
) -> Result<RetentionRound, DemoError> {
    let (sup, sup2, admin2) = (
        &people["supervisor"],
        &people["supervisor2"],
        &people["admin2"],
    );
    let d = l.adopt_schedule_draft(SCHEDULE_NAME, SCHEDULE)?;
    append(l, sup, d)?;
    let (_, schedule) = l
        .schedule_in_force()?
        .ok_or_else(|| crate::ledger::LedgerError::Invalid("schedule not adopted".into()))?;
    let today = jiff::Zoned::now()
        .with_time_zone(l.policy()?.time_zone.clone())
        .date();
    let mut eligible = Vec::new();
    l.retention_report(&schedule, today, &mut |o| {
        if o.status == Status::Eligible {
            eligible.push(o.record);
        }
        Ok(())
    })?;
    let mut out = RetentionRound {
        schedule: format!(
            "{} {} (version {})",
            schedule.state, schedule.title, schedule.version
        ),
        eligible: eligible.len() as u64,
        held_record: None,
        held_case: None,
        plan: None,
        disposed: 0,
        held_back: 0,
        order: None,
    };
    log(&format!(
        "adopted {}; {} records eligible for disposition today",
        out.schedule, out.eligible
    ));
    // A litigation hold on one eligible record, a records-request hold on a case.
    if let Some(first) = eligible.first() {
        let d = l.hold_draft(
            HoldKind::Litigation,
            "Doe v. City of Demo, No. 26-2-00417-1",
            HoldTarget::Records(vec![*first]),
        )?;
        append(l, sup, d)?;
        out.held_record = Some(hex::encode(first));
    }
    let case = eligible
        .iter()
        .skip(1)
        .find_map(|id| l.case_number(id).ok().flatten());
    if let Some(case) = case {
        let d = l.hold_draft(
            HoldKind::RecordsRequest,
            "PRR-2026-0117",
            HoldTarget::Case(case.clone()),
        )?;
        append(l, sup, d)?;
        out.held_case = Some(case);
    }
    log("placed a litigation hold on a record and a records-request hold on a case");
    // Plan, approve by another supervisor, apply.
    let date = crate::format::Date::from_civil(today)
        .map_err(|e| crate::ledger::LedgerError::Invalid(e.to_string()))?;
    match l.purge_plan_draft(date, sup) {
        Ok((d, doc)) => {
            out.held_back = doc.left_out.get("blocked").copied().unwrap_or(0);
            let plan = d.record;
            append(l, sup, d)?;
            let a = l.approval_draft(&plan, "purge-plan")?;
            append(l, sup2, a)?;
            let applied = l.apply_disposition(&plan, sup, &|_, _| {})?;
            out.disposed = applied.disposed_now;
            out.plan = Some(hex::encode(plan));
            log(&format!(
                "purge plan {} approved by a second supervisor and applied: {} records destroyed, certificate kept",
                hex::encode(plan),
                applied.disposed_now
            ));
        }
        Err(e) => log(&format!("no purge: {e}")),
    }
    // A court order to expunge one live record, outside the schedule.
    let target = made.iter().rev().map(|(id, _)| *id).find(|id| {
        l.record(id)
            .ok()
            .flatten()
            .is_some_and(|s| s.disposed.is_none() && !s.sealed)
    });
    if let Some(id) = target {
        let d = l.order_draft(
            "CR-26-00042 (Demo County Superior Court)",
            "expunge",
            &[id],
            sup,
        )?;
        let order = d.record;
        append(l, sup, d)?;
        let a = l.approval_draft(&order, "disposal-order")?;
        append(l, admin2, a)?;
        l.apply_disposition(&order, admin2, &|_, _| {})?;
        out.order = Some(hex::encode(order));
        log("a court order to expunge a record, approved by an administrator, carried out and certified");
    }
    Ok(out)
}
