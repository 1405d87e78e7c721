//! Purges and court-ordered disposals: plan (or record an order), approve by another
//! person, apply, certify. The append rules (`batch/disposition.rs`) make every step
//! safe whoever calls them; this module builds the documents and drives the steps.
//!
//! Apply, for a plan or order, in this order (each step durable before the next):
//! 1. re-check every listed record: still there, not disposed, under no hold and, for a
//!    plan, still eligible under the plan's schedule today; the others are reported;
//! 2. append one `disposal` entry per record, in batches (each entry leaves a
//!    pending-destruction row in its own batch);
//! 3. destroy the data of every pending record of this plan or order in one pass
//!    (`Ledger::destroy_data`: one epoch rotation), then clear the pending rows;
//! 4. keep the certificate document and append the `certificate` entry.
//!
//! Resumable: after a crash, applying again skips records this plan already disposed,
//! finishes pending destruction and certifies; a certified plan is never applied again.

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use rayon::prelude::*;
use serde::Serialize;

use super::docs::{
    CertificateDoc, NotDisposed, OrderDoc, PlanDoc, PlanEntry, ScheduleRef, CERTIFICATE_FORMAT,
    ORDER_FORMAT, PLAN_FORMAT,
};
use super::report::status_name;
use super::state::RecordState;
use super::{Draft, Ledger, LedgerError};
use crate::format::{Action, Date, DisposalKind};
use crate::retention::{Disposition, Status};
use crate::store::Space;

/// A record disposed of whose data is not yet destroyed, and its plan or order.
pub type Pending = ([u8; 16], [u8; 16]);

/// A record an authority disposed of: id, state, disposal entry, planned disposition.
type DisposedMember = ([u8; 16], RecordState, u64, super::docs::Member);

/// What the re-check at apply found for one record of a plan.
enum Recheck {
    Transfer,
    Already,
    Skip(String),
    Dispose([u8; 16]),
}

/// Disposal entries per durable commit.
const BATCH: usize = 5000;

/// What applying a plan or order did.
#[derive(Clone, Debug, Serialize)]
pub struct Applied {
    pub authority: String,
    pub disposed_now: u64,
    pub already_disposed: u64,
    pub not_disposed: Vec<NotDisposed>,
    pub transfer_pending: u64,
    /// Records sealed (a seal order).
    pub sealed: u64,
    pub certificate: Option<String>,
    pub certificate_seq: Option<u64>,
}

fn invalid(what: impl std::fmt::Display) -> LedgerError {
    LedgerError::Invalid(what.to_string())
}

fn parse_id(s: &str) -> Result<[u8; 16], LedgerError> {
    crate::crypto::parse_hex(s).ok_or_else(|| invalid(format!("{s:?} is not a record id")))
}

impl Ledger {
    fn person_of(&self, key: &SigningKey) -> Result<String, LedgerError> {
        let pk = key.verifying_key().to_bytes();
        self.key_state(&pk)
            .map(|k| k.person.clone())
            .ok_or_else(|| invalid(format!("key {} is not registered", hex::encode(pk))))
    }

    /// Builds the plan of everything eligible as of `as_of` under the schedule in force,
    /// keeps its document and drafts its `purge.plan` entry for `planner` to sign.
    pub fn purge_plan_draft(
        &self,
        as_of: Date,
        planner: &SigningKey,
    ) -> Result<(Draft, PlanDoc), LedgerError> {
        let (adopted, schedule) = self.schedule_in_force()?.ok_or_else(|| {
            invalid("no retention schedule is adopted; run `blotter schedule adopt FILE` first")
        })?;
        let civil = jiff::civil::Date::new(as_of.year as i16, as_of.month as i8, as_of.day as i8)
            .map_err(invalid)?;
        let mut records = Vec::new();
        let mut left_out = BTreeMap::new();
        self.retention_report(&schedule, civil, &mut |o| {
            let transfer = matches!(
                o.disposition,
                Some(Disposition::TransferArchives | Disposition::TransferOther)
            );
            let destroy = matches!(o.disposition, Some(Disposition::Destroy));
            if o.status == Status::Eligible && (destroy || transfer) {
                records.push(PlanEntry {
                    record: hex::encode(o.record),
                    record_type: o.record_type,
                    item: o.item.unwrap_or_default(),
                    disposition: if destroy { "destroy" } else { "transfer" }.into(),
                    trigger_date: o.trigger_date.map(|d| d.to_string()),
                    eligible_on: o.eligible_on.map(|d| d.to_string()).unwrap_or_default(),
                    reason: o.reason,
                });
            } else {
                *left_out
                    .entry(status_name(o.status).to_string())
                    .or_insert(0) += 1;
            }
            Ok(())
        })?;
        if records.is_empty() {
            return Err(invalid(format!(
                "nothing is eligible for disposition as of {as_of}; nothing to plan"
            )));
        }
        let doc = PlanDoc {
            format: PLAN_FORMAT.into(),
            origin: self.origin.clone(),
            as_of: as_of.to_string(),
            schedule: ScheduleRef {
                record: adopted.record,
                document: adopted.document,
                state: adopted.state,
                title: adopted.title,
                version: adopted.version,
            },
            planned_by: self.person_of(planner)?,
            records,
            left_out,
        };
        let bytes = serde_json::to_vec_pretty(&doc).map_err(invalid)?;
        let document = self.put_document(&bytes)?;
        let d = Draft::new_record(
            "purge-plan",
            super::append::today(),
            Action::PurgePlan { document, as_of },
        );
        Ok((d, doc))
    }

    /// Keeps a court order's document and drafts its `order.record` entry.
    pub fn order_draft(
        &self,
        court_order: &str,
        action: &str,
        records: &[[u8; 16]],
        recorder: &SigningKey,
    ) -> Result<Draft, LedgerError> {
        if court_order.trim().is_empty() {
            return Err(invalid("a disposal order needs the court order reference"));
        }
        let mut ids: Vec<String> = records.iter().map(hex::encode).collect();
        ids.sort();
        ids.dedup();
        let doc = OrderDoc {
            format: ORDER_FORMAT.into(),
            origin: self.origin.clone(),
            court_order: court_order.into(),
            action: action.into(),
            recorded_by: self.person_of(recorder)?,
            records: ids,
        };
        let document = self.put_document(&serde_json::to_vec_pretty(&doc).map_err(invalid)?)?;
        Ok(Draft::new_record(
            "disposal-order",
            super::append::today(),
            Action::OrderRecord { document },
        ))
    }

    /// Drafts the approval of a plan (`want` = `purge-plan`) or an order
    /// (`disposal-order`); the approver signs it.
    pub fn approval_draft(&self, id: &[u8; 16], want: &str) -> Result<Draft, LedgerError> {
        let st = self.authority_state(id)?;
        if st.record_type != want {
            return Err(invalid(format!(
                "{} is a {}, not a {want}",
                hex::encode(id),
                st.record_type
            )));
        }
        let document = st.document.ok_or_else(|| invalid("no document"))?;
        let action = if st.record_type == "purge-plan" {
            Action::PurgeApprove { document }
        } else {
            Action::OrderApprove { document }
        };
        self.draft(id, action)
    }

    fn authority_state(&self, id: &[u8; 16]) -> Result<RecordState, LedgerError> {
        self.record(id)?
            .filter(|s| matches!(s.record_type.as_str(), "purge-plan" | "disposal-order"))
            .ok_or_else(|| {
                invalid(format!(
                    "{} is not a purge plan or disposal order",
                    hex::encode(id)
                ))
            })
    }

    /// The plan document of a plan record.
    pub fn plan_document(&self, id: &[u8; 16]) -> Result<PlanDoc, LedgerError> {
        let st = self.authority_state(id)?;
        let doc = self.document(&st.document.ok_or_else(|| invalid("no document"))?)?;
        serde_json::from_slice(&doc).map_err(|e| invalid(format!("plan document: {e}")))
    }

    /// The order document of a disposal-order record.
    pub fn order_document(&self, id: &[u8; 16]) -> Result<OrderDoc, LedgerError> {
        let st = self.authority_state(id)?;
        let doc = self.document(&st.document.ok_or_else(|| invalid("no document"))?)?;
        serde_json::from_slice(&doc).map_err(|e| invalid(format!("order document: {e}")))
    }

    /// Applies an approved plan or order (module doc); resumable.
    pub fn apply_disposition(
        &mut self,
        id: &[u8; 16],
        applier: &SigningKey,
        progress: &dyn Fn(u64, u64),
    ) -> Result<Applied, LedgerError> {
        let st = self.authority_state(id)?;
        let approval = st.approved.clone().ok_or_else(|| {
            invalid(format!(
                "{} {} is not approved; another person must approve it first",
                st.record_type,
                hex::encode(id)
            ))
        })?;
        let mut out = Applied {
            authority: hex::encode(id),
            disposed_now: 0,
            already_disposed: 0,
            not_disposed: Vec::new(),
            transfer_pending: 0,
            sealed: 0,
            certificate: None,
            certificate_seq: None,
        };
        if let Some(seq) = st.closed {
            self.finish_destruction(id)?;
            out.certificate_seq = Some(seq);
            return Err(invalid(format!(
                "{} {} was already applied and certified at entry {seq}",
                st.record_type,
                hex::encode(id)
            )));
        }
        let (targets, kind, mut cert_base) = self.targets(id, &st, &mut out)?;
        if kind.is_none() {
            // A seal order: seal each record, no destruction, no certificate.
            return self.apply_seal_order(id, applier, targets, out, progress);
        }
        let kind = kind.unwrap_or(DisposalKind::Destroy);
        let total = targets.len() as u64;
        for (n, chunk) in targets.chunks(BATCH).enumerate() {
            let action = Action::Disposal {
                kind,
                authority: *id,
            };
            // Drafted and signed in parallel (each a different record), appended in order.
            let subs = chunk
                .par_iter()
                .map(|rid| self.sign(applier, self.draft(rid, action.clone())?))
                .collect::<Result<Vec<_>, LedgerError>>()?;
            self.append(subs)?;
            out.disposed_now += chunk.len() as u64;
            progress((n * BATCH + chunk.len()) as u64, total);
        }
        self.finish_destruction(id)?;
        // A court order binds every record it names: while a hold keeps some back, the
        // order stays open (uncertified), to be applied again once the hold is released.
        // A plan is a snapshot as of its date and is certified with what it disposed of.
        if st.record_type == "disposal-order" && !out.not_disposed.is_empty() {
            return Ok(out);
        }
        cert_base.not_disposed = out.not_disposed.clone();
        cert_base.transfer_pending = out.transfer_pending;
        let cert = self.certify(id, &st, approval.person, applier, cert_base, kind)?;
        out.certificate = Some(cert.0);
        out.certificate_seq = Some(cert.1);
        Ok(out)
    }

    /// The records to dispose now, the disposal kind (None: a seal order), and the
    /// certificate's starting content. Fills the skipped and already-done counts.
    #[allow(clippy::type_complexity)]
    fn targets(
        &self,
        id: &[u8; 16],
        st: &RecordState,
        out: &mut Applied,
    ) -> Result<(Vec<[u8; 16]>, Option<DisposalKind>, CertificateDoc), LedgerError> {
        let mut cert = self.blank_certificate(id, st);
        let mut targets = Vec::new();
        let skip = |out: &mut Applied, rid: &str, why: String| {
            out.not_disposed.push(NotDisposed {
                record: rid.to_string(),
                why,
            })
        };
        if st.record_type == "purge-plan" {
            let plan = self.plan_document(id)?;
            let sdoc = crate::crypto::parse_hex32(&plan.schedule.document)
                .ok_or_else(|| invalid("plan: malformed schedule hash"))?;
            let schedule = self.schedule_document(&sdoc)?;
            let policy = self.policy()?;
            let today = jiff::Zoned::now()
                .with_time_zone(policy.time_zone.clone())
                .date();
            cert.schedule = Some(plan.schedule.clone());
            cert.left_out_at_planning = plan.left_out.clone();
            // Every record re-checked in parallel (reads only), the results taken in
            // plan order.
            let holds_exist = self.any_hold()?;
            let checks = plan
                .records
                .par_iter()
                .map(|e| self.recheck(e, &schedule, &policy, today, holds_exist))
                .collect::<Result<Vec<_>, LedgerError>>()?;
            for (e, check) in plan.records.iter().zip(checks) {
                match check {
                    Recheck::Transfer => out.transfer_pending += 1,
                    Recheck::Already => out.already_disposed += 1,
                    Recheck::Skip(why) => skip(out, &e.record, why),
                    Recheck::Dispose(rid) => targets.push(rid),
                }
            }
            return Ok((targets, Some(DisposalKind::Destroy), cert));
        }
        let order = self.order_document(id)?;
        cert.court_order = Some(order.court_order.clone());
        let kind = match order.action.as_str() {
            "destroy" => Some(DisposalKind::Destroy),
            "expunge" => Some(DisposalKind::Expunge),
            _ => None,
        };
        for r in &order.records {
            let rid = parse_id(r)?;
            let Some(rs) = self.record(&rid)? else {
                skip(out, r, "record no longer exists".into());
                continue;
            };
            if rs.disposed.is_some() {
                out.already_disposed += 1;
                continue;
            }
            if kind.is_none() {
                // Sealing is not disposal: a hold does not stand in its way.
                if !rs.sealed {
                    targets.push(rid);
                }
                continue;
            }
            let holds = self.holds_on(&rid)?;
            if let Some(h) = holds.first() {
                skip(out, r, format!("under legal hold {}", hex::encode(h)));
                continue;
            }
            targets.push(rid);
        }
        Ok((targets, kind, cert))
    }

    /// Whether the record a plan lists is to be disposed of now: still there, not
    /// disposed, and eligible today under the plan's schedule (a hold makes it blocked).
    fn recheck(
        &self,
        e: &PlanEntry,
        schedule: &crate::retention::Schedule,
        policy: &crate::retention::Policy,
        today: jiff::civil::Date,
        holds_exist: bool,
    ) -> Result<Recheck, LedgerError> {
        let rid = parse_id(&e.record)?;
        if e.disposition == "transfer" {
            // A record `archive transfer` already took is not pending any more.
            return Ok(match self.record(&rid)? {
                Some(rs) if rs.disposed.is_some() => Recheck::Already,
                _ => Recheck::Transfer,
            });
        }
        let Some(rs) = self.record(&rid)? else {
            return Ok(Recheck::Skip("record no longer exists".into()));
        };
        if rs.disposed.is_some() {
            return Ok(Recheck::Already);
        }
        let o = self.evaluate_with(schedule, policy, &rs, today, holds_exist)?;
        if o.status != Status::Eligible {
            return Ok(Recheck::Skip(format!(
                "{}: {}",
                status_name(o.status),
                o.reason
            )));
        }
        Ok(Recheck::Dispose(rid))
    }

    /// A certificate with what is known before any disposal: the authority and who made it.
    fn blank_certificate(&self, id: &[u8; 16], st: &RecordState) -> CertificateDoc {
        CertificateDoc {
            format: CERTIFICATE_FORMAT.into(),
            origin: self.origin.clone(),
            authority_kind: st.record_type.clone(),
            authority: hex::encode(id),
            authority_document: st.document.map(hex::encode).unwrap_or_default(),
            schedule: None,
            court_order: None,
            items: BTreeMap::new(),
            record_count: 0,
            records: Vec::new(),
            created_from: None,
            created_to: None,
            method: String::new(),
            planned_by: st.creator.clone(),
            approved_by: String::new(),
            applied_by: String::new(),
            disposal_entries: None,
            not_disposed: Vec::new(),
            transfer_pending: 0,
            left_out_at_planning: BTreeMap::new(),
            applied_on: String::new(),
        }
    }

    fn apply_seal_order(
        &mut self,
        id: &[u8; 16],
        applier: &SigningKey,
        targets: Vec<[u8; 16]>,
        mut out: Applied,
        progress: &dyn Fn(u64, u64),
    ) -> Result<Applied, LedgerError> {
        let order = self.order_document(id)?;
        let side = serde_json::to_vec(&serde_json::json!({"court_order": order.court_order}))
            .map_err(invalid)?;
        let total = targets.len() as u64;
        for (n, rid) in targets.iter().enumerate() {
            let mut d = self.draft(rid, Action::RecordSeal)?;
            d.side_doc = Some(side.clone());
            let s = self.sign(applier, d)?;
            self.append(vec![s])?;
            out.sealed += 1;
            progress(n as u64 + 1, total);
        }
        Ok(out)
    }

    /// Destroys the data of every record this authority disposed of that is still
    /// pending, then clears their pending rows.
    pub fn finish_destruction(&mut self, authority: &[u8; 16]) -> Result<u64, LedgerError> {
        let mut pending = Vec::new();
        for r in self.store.scan(Space::Pending, b"") {
            let (k, v) = r?;
            if v == authority[..] {
                pending.push(k.try_into().map_err(|_| invalid("malformed pending row"))?);
            }
        }
        if pending.is_empty() {
            return Ok(0);
        }
        self.destroy_data(&pending)?;
        for chunk in pending.chunks(10_000) {
            let mut b = crate::store::Batch::default();
            for rid in chunk {
                b.remove(Space::Pending, rid);
            }
            self.store.commit(b)?;
        }
        Ok(pending.len() as u64)
    }

    /// Records with a disposal entry whose data is not yet destroyed (a crash in the
    /// middle of an apply): `(record, authority)`.
    pub fn pending_destruction(&self) -> Result<Vec<Pending>, LedgerError> {
        self.store
            .scan(Space::Pending, b"")
            .map(|r| {
                let (k, v) = r?;
                let rec = k.try_into().map_err(|_| invalid("malformed pending row"))?;
                let auth = v.try_into().map_err(|_| invalid("malformed pending row"))?;
                Ok((rec, auth))
            })
            .collect()
    }

    /// Builds, keeps and appends the destruction certificate of an applied authority.
    fn certify(
        &mut self,
        id: &[u8; 16],
        st: &RecordState,
        approver: String,
        applier: &SigningKey,
        mut cert: CertificateDoc,
        kind: DisposalKind,
    ) -> Result<(String, u64), LedgerError> {
        let mut first_last: Option<(u64, u64)> = None;
        let rows = self
            .store
            .scan(Space::Member, &id[..])
            .collect::<Result<Vec<_>, _>>()?;
        // The members this authority disposed of, looked up in parallel, in row order.
        let disposed = rows
            .par_iter()
            .map(|(k, v)| self.disposed_by(id, k, v))
            .collect::<Result<Vec<_>, LedgerError>>()?;
        for (rid, rs, seq, m) in disposed.into_iter().flatten() {
            *cert
                .items
                .entry(m.item.unwrap_or_else(|| "order".into()))
                .or_insert(0) += 1;
            cert.records.push(hex::encode(rid));
            let c = rs.created_on.clone();
            if cert.created_from.as_ref().is_none_or(|f| c < *f) {
                cert.created_from = Some(c.clone());
            }
            if cert.created_to.as_ref().is_none_or(|t| c > *t) {
                cert.created_to = Some(c);
            }
            first_last = Some(match first_last {
                None => (seq, seq),
                Some((a, b)) => (a.min(seq), b.max(seq)),
            });
        }
        cert.record_count = cert.records.len() as u64;
        cert.disposal_entries = first_last;
        cert.method = format!(
            "{kind}: disposal entry appended, then the record's data key made unrecoverable (its epoch key retired from epochs.key after the surviving keys were re-wrapped), then its sealed content, side documents, case and source index rows and attachment files deleted; see docs/DESTRUCTION.md"
        );
        cert.approved_by = approver;
        cert.applied_by = self.person_of(applier)?;
        cert.applied_on = super::append::today().to_string();
        cert.planned_by = st.creator.clone();
        let bytes = serde_json::to_vec_pretty(&cert).map_err(invalid)?;
        let document = self.put_document(&bytes)?;
        let d = self.draft(id, Action::Certificate { document })?;
        let s = self.sign(applier, d)?;
        let seq = self.append(vec![s])?[0].seq();
        Ok((hex::encode(document), seq))
    }

    /// A member row of `authority` (`k`, `v`) whose record that authority disposed of:
    /// the record, its state, its disposal entry and its planned disposition.
    fn disposed_by(
        &self,
        authority: &[u8; 16],
        k: &[u8],
        v: &[u8],
    ) -> Result<Option<DisposedMember>, LedgerError> {
        let rid: [u8; 16] = k
            .get(16..32)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| invalid("malformed member row"))?;
        let Some(rs) = self.record(&rid)? else {
            return Ok(None);
        };
        let Some(seq) = rs.disposed else {
            return Ok(None);
        };
        if self.disposal_authority(seq)? != Some(*authority) {
            return Ok(None);
        }
        let m: super::docs::Member = serde_json::from_slice(v).map_err(invalid)?;
        Ok(Some((rid, rs, seq, m)))
    }

    /// The plan or order a disposal entry names.
    fn disposal_authority(&self, seq: u64) -> Result<Option<[u8; 16]>, LedgerError> {
        Ok(match self.entry(seq)?.signed.change.action {
            Action::Disposal { authority, .. } => Some(authority),
            _ => None,
        })
    }

    /// The certificate document of a certified plan or order.
    pub fn certificate(&self, id: &[u8; 16]) -> Result<(CertificateDoc, u64), LedgerError> {
        let st = self.authority_state(id)?;
        let seq = st
            .closed
            .ok_or_else(|| invalid(format!("{} has not been applied yet", hex::encode(id))))?;
        let Action::Certificate { document } = self.entry(seq)?.signed.change.action else {
            return Err(invalid(format!("entry {seq} is not a certificate")));
        };
        let doc = self.document(&document)?;
        Ok((serde_json::from_slice(&doc).map_err(invalid)?, seq))
    }
}
