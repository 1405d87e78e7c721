//! The JSON documents that plan, order and certify dispositions. Each is kept in
//! `documents/` under its BLAKE3 hash and committed to by its entry (docs/RETENTION.md
//! "Documents"), so the exact text in force is provable.
//!
//! Invariants: a plan or order names each record at most once; its `origin` is the
//! ledger's; the person in `planned_by` / `recorded_by` is the signer's. The ledger
//! checks these when the entry is appended.

use serde::{Deserialize, Serialize};

pub const PLAN_FORMAT: &str = "blotter-purge-plan/1";
pub const ORDER_FORMAT: &str = "blotter-disposal-order/1";
pub const CERTIFICATE_FORMAT: &str = "blotter-destruction-certificate/1";

/// The adopted schedule a plan was made under.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScheduleRef {
    /// The schedule record (its `schedule.adopt` entry).
    pub record: String,
    /// BLAKE3 of the schedule file.
    pub document: String,
    pub state: String,
    pub title: String,
    pub version: String,
}

/// One record a plan would dispose of, and why.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlanEntry {
    pub record: String,
    pub record_type: String,
    /// The schedule item's id (authority number).
    pub item: String,
    /// `destroy` or `transfer`.
    pub disposition: String,
    pub trigger_date: Option<String>,
    pub eligible_on: String,
    pub reason: String,
}

/// A purge plan: every record eligible as of a date, under one adopted schedule.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlanDoc {
    pub format: String,
    pub origin: String,
    pub as_of: String,
    pub schedule: ScheduleRef,
    /// Person id of the planner (the signer of the plan entry).
    pub planned_by: String,
    pub records: Vec<PlanEntry>,
    /// Records left out, with why (held, not yet eligible, permanent, uncovered, ...),
    /// counted by reason.
    pub left_out: std::collections::BTreeMap<String, u64>,
}

/// A court order to destroy, expunge or seal records outside the schedule.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderDoc {
    pub format: String,
    pub origin: String,
    /// The court's order reference (docket and order number).
    pub court_order: String,
    /// `destroy`, `expunge` or `seal`.
    pub action: String,
    pub recorded_by: String,
    pub records: Vec<String>,
}

/// What a plan or order's member row (store space `Y`) records.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Member {
    /// `destroy`, `expunge`, `seal` or `transfer`.
    pub disposition: String,
    /// The schedule item, for plans.
    pub item: Option<String>,
}

/// A destruction certificate: what was destroyed, under what authority, by whom.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CertificateDoc {
    pub format: String,
    pub origin: String,
    /// `purge-plan` or `disposal-order`.
    pub authority_kind: String,
    /// The plan or order record id, and the BLAKE3 of its document.
    pub authority: String,
    pub authority_document: String,
    /// The schedule and version (plans), or the court order reference (orders).
    pub schedule: Option<ScheduleRef>,
    pub court_order: Option<String>,
    /// Records disposed, by schedule item (plans) or `order`.
    pub items: std::collections::BTreeMap<String, u64>,
    pub record_count: u64,
    pub records: Vec<String>,
    /// Earliest and latest `created_on` of the records disposed.
    pub created_from: Option<String>,
    pub created_to: Option<String>,
    /// How the data was destroyed.
    pub method: String,
    pub planned_by: String,
    pub approved_by: String,
    pub applied_by: String,
    /// Sequence numbers of the first and last disposal entries.
    pub disposal_entries: Option<(u64, u64)>,
    /// Records of the plan not disposed, with why (a hold placed after planning, ...).
    pub not_disposed: Vec<NotDisposed>,
    /// Records planned for transfer to the archives, left for `archive export`.
    pub transfer_pending: u64,
    /// Plans: the records the plan left out when it was made, counted by status
    /// (`blocked` = eligible but under a hold).
    pub left_out_at_planning: std::collections::BTreeMap<String, u64>,
    pub applied_on: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NotDisposed {
    pub record: String,
    pub why: String,
}
