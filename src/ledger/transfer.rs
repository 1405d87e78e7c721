//! Transfer to the archives: the `transfer` disposition of a purge plan's records whose
//! schedule item says `transfer-archives` or `transfer-other`. `purge apply` destroys a
//! plan's destroy items and certifies it, counting these as transfer-pending; the
//! archive export (`src/archive/`) writes and verifies the archive, then calls
//! [`Ledger::complete_transfer`].
//!
//! Order of the steps (each durable before the next):
//! 1. [`Ledger::transfer_targets`]: re-check every record the plan lists for transfer
//!    (still there, not disposed, under no hold, still eligible today under the plan's
//!    schedule); the caller exports those records;
//! 2. [`Ledger::complete_transfer`]: check the whole list first, then append one
//!    `transfer` entry per record naming the archive's hash, in batches (each entry
//!    leaves a pending-destruction row in its own batch, as a disposal does);
//! 3. only after every batch is durable, destroy the live copies of every pending record
//!    of the plan ([`Ledger::finish_destruction`]: one epoch rotation).
//!
//! Invariants: nothing is destroyed unless its transfer (or disposal) entry is durable;
//! if any append fails, this call destroys nothing. Resumable: a record this plan already
//! transferred is counted, not refused, and the pending destruction an interrupted call
//! left is finished by the next one.

use std::collections::{HashMap, HashSet};

use ed25519_dalek::SigningKey;
use serde::Serialize;

use super::docs::NotDisposed;
use super::report::status_name;
use super::state::RecordState;
use super::{Draft, Ledger, LedgerError};
use crate::format::Action;
use crate::retention::Status;

/// Transfer entries per durable commit.
const BATCH: usize = 2000;

/// A transfer entry's plan and archive hash.
type TransferOf = ([u8; 16], [u8; 32]);

/// What a plan has left to transfer, as [`Ledger::transfer_targets`] finds it today.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransferTargets {
    /// The records to export and transfer now, in the plan's order.
    pub records: Vec<[u8; 16]>,
    /// Records this plan already transferred: `(record, transfer entry seq)`.
    pub already_transferred: Vec<([u8; 16], u64)>,
    /// Records the plan lists for transfer that are left alone now, and why.
    pub left_out: Vec<NotDisposed>,
}

/// One record's transfer entry.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct TransferEntry {
    pub record: String,
    pub seq: u64,
    /// The BLAKE3 of the archive file the entry names.
    pub archive: String,
}

/// What [`Ledger::complete_transfer`] did.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Transferred {
    pub plan: String,
    pub archive: String,
    /// Transfer entries this call appended.
    pub transferred_now: u64,
    /// Records of the list this plan had already transferred (an earlier, interrupted
    /// call): counted, not transferred again.
    pub already_transferred: u64,
    /// Every listed record's transfer entry, in the order given.
    pub entries: Vec<TransferEntry>,
    /// Records whose live data this call destroyed: every pending record of the plan,
    /// including any an interrupted earlier call or apply left.
    pub destroyed: u64,
}

fn invalid(what: impl std::fmt::Display) -> LedgerError {
    LedgerError::Invalid(what.to_string())
}

fn parse_id(s: &str) -> Result<[u8; 16], LedgerError> {
    crate::crypto::parse_hex(s).ok_or_else(|| invalid(format!("{s:?} is not a record id")))
}

impl Ledger {
    /// The state of a purge plan that is approved (certified or not); anything else is
    /// refused.
    fn approved_plan(&self, plan: &[u8; 16]) -> Result<RecordState, LedgerError> {
        let p = hex::encode(plan);
        let st = self
            .record(plan)?
            .filter(|s| s.record_type == "purge-plan")
            .ok_or_else(|| invalid(format!("{p} is not a purge plan")))?;
        if st.approved.is_none() {
            return Err(invalid(format!(
                "purge plan {p} is not approved; another supervisor must approve it before anything is transferred"
            )));
        }
        Ok(st)
    }

    /// The authority and archive of a record's transfer entry at `seq`, if that entry is
    /// a transfer.
    fn transfer_at(&self, seq: u64) -> Result<Option<TransferOf>, LedgerError> {
        Ok(match self.entry(seq)?.signed.change.action {
            Action::Transfer { authority, archive } => Some((authority, archive)),
            _ => None,
        })
    }

    /// Re-checks every record an approved plan lists for transfer, as `purge apply` does
    /// for its destroy items: the record exists, is not disposed or transferred, is under
    /// no hold and is still eligible today under the plan's schedule. Returns the
    /// records to transfer and those left alone, with why.
    pub fn transfer_targets(&self, plan: &[u8; 16]) -> Result<TransferTargets, LedgerError> {
        self.approved_plan(plan)?;
        let doc = self.plan_document(plan)?;
        let sdoc = crate::crypto::parse_hex32(&doc.schedule.document).ok_or_else(|| {
            invalid(format!(
                "plan {}: malformed schedule hash",
                hex::encode(plan)
            ))
        })?;
        let schedule = self.schedule_document(&sdoc)?;
        let policy = self.policy()?;
        let today = jiff::Zoned::now()
            .with_time_zone(policy.time_zone.clone())
            .date();
        let mut out = TransferTargets::default();
        let mut leave = |record: &str, why: String| {
            out.left_out.push(NotDisposed {
                record: record.to_string(),
                why,
            })
        };
        let mut records = Vec::new();
        let mut already = Vec::new();
        for e in doc.records.iter().filter(|e| e.disposition == "transfer") {
            let rid = parse_id(&e.record)?;
            let Some(rs) = self.record(&rid)? else {
                leave(&e.record, "record no longer exists".into());
                continue;
            };
            if let Some(seq) = rs.disposed {
                match self.transfer_at(seq)? {
                    Some((auth, _)) if auth == *plan => already.push((rid, seq)),
                    Some((auth, _)) => leave(
                        &e.record,
                        format!(
                            "transferred at entry {seq} under plan {}",
                            hex::encode(auth)
                        ),
                    ),
                    None => leave(&e.record, format!("disposed at entry {seq}")),
                }
                continue;
            }
            if let Some(h) = self.holds_on(&rid)?.first() {
                leave(&e.record, format!("under legal hold {}", hex::encode(h)));
                continue;
            }
            let o = self.evaluate_record(&schedule, &policy, &rs, today)?;
            if o.status != Status::Eligible {
                leave(
                    &e.record,
                    format!("{}: {}", status_name(o.status), o.reason),
                );
                continue;
            }
            records.push(rid);
        }
        out.records = records;
        out.already_transferred = already;
        Ok(out)
    }

    /// Drafts the `transfer` entry of `record` under `plan`, naming the archive file's
    /// BLAKE3; an administrator signs it.
    pub fn transfer_draft(
        &self,
        record: &[u8; 16],
        plan: &[u8; 16],
        archive_hash: [u8; 32],
    ) -> Result<Draft, LedgerError> {
        self.draft(
            record,
            Action::Transfer {
                authority: *plan,
                archive: archive_hash,
            },
        )
    }

    /// Appends a transfer entry per record (module doc), then destroys the live copies
    /// of every pending record of the plan. Every record is checked before anything is
    /// appended; if an append fails, nothing is destroyed, and the entries of earlier
    /// batches stay pending until the next call. Resumable: records this plan already
    /// transferred are counted, and an empty list only finishes pending destruction.
    pub fn complete_transfer(
        &mut self,
        plan: &[u8; 16],
        records: &[[u8; 16]],
        archive_hash: [u8; 32],
        admin: &SigningKey,
        progress: &dyn Fn(u64, u64),
    ) -> Result<Transferred, LedgerError> {
        self.approved_plan(plan)?;
        if archive_hash == [0; 32] {
            return Err(invalid(
                "a transfer must name its archive (its hash is zero)",
            ));
        }
        let (todo, mut entries) = self.transfer_work(plan, records)?;
        let already = entries.len() as u64;
        let archive = hex::encode(archive_hash);
        let total = todo.len() as u64;
        for (n, chunk) in todo.chunks(BATCH).enumerate() {
            let mut subs = Vec::with_capacity(chunk.len());
            for rid in chunk {
                let d = self.transfer_draft(rid, plan, archive_hash)?;
                subs.push(self.sign(admin, d)?);
            }
            let done = self.append(subs)?;
            for (rid, o) in chunk.iter().zip(done) {
                entries.push(TransferEntry {
                    record: hex::encode(rid),
                    seq: o.seq(),
                    archive: archive.clone(),
                });
            }
            progress((n * BATCH + chunk.len()) as u64, total);
        }
        // INVARIANT: every transfer entry above is durable before any data is destroyed.
        let destroyed = self.finish_destruction(plan)?;
        Ok(Transferred {
            plan: hex::encode(plan),
            archive,
            transferred_now: total,
            already_transferred: already,
            entries,
            destroyed,
        })
    }

    /// Checks the whole list before anything is appended: each record exists, the plan
    /// lists it for transfer, and it is under no hold, or this plan already transferred
    /// it. Returns the records to transfer (duplicates dropped) and the entries of those
    /// already transferred.
    fn transfer_work(
        &self,
        plan: &[u8; 16],
        records: &[[u8; 16]],
    ) -> Result<(Vec<[u8; 16]>, Vec<TransferEntry>), LedgerError> {
        let p = hex::encode(plan);
        let doc = self.plan_document(plan)?;
        let listed: HashMap<&str, &str> = doc
            .records
            .iter()
            .map(|e| (e.record.as_str(), e.disposition.as_str()))
            .collect();
        let mut seen = HashSet::new();
        let (mut todo, mut already) = (Vec::new(), Vec::new());
        for rid in records.iter().filter(|r| seen.insert(**r)) {
            let r = hex::encode(rid);
            match listed.get(r.as_str()) {
                Some(&"transfer") => {}
                Some(other) => {
                    return Err(invalid(format!(
                    "plan {p} lists record {r} for {other}, not transfer; nothing was transferred"
                )))
                }
                None => {
                    return Err(invalid(format!(
                        "plan {p} does not list record {r}; nothing was transferred"
                    )))
                }
            }
            let st = self
                .record(rid)?
                .ok_or_else(|| LedgerError::NoRecord(r.clone()))?;
            if let Some(seq) = st.disposed {
                match self.transfer_at(seq)? {
                    Some((auth, archive)) if auth == *plan => already.push(TransferEntry {
                        record: r,
                        seq,
                        archive: hex::encode(archive),
                    }),
                    _ => {
                        return Err(invalid(format!(
                            "record {r} was disposed at entry {seq}, not transferred under plan {p}; nothing was transferred"
                        )))
                    }
                }
                continue;
            }
            if let Some(h) = self.holds_on(rid)?.first() {
                return Err(invalid(format!(
                    "record {r} is under legal hold {}: nothing under hold is ever transferred; nothing was transferred",
                    hex::encode(h)
                )));
            }
            todo.push(*rid);
        }
        Ok((todo, already))
    }
}
