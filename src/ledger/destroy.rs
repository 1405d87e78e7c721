//! Destroying records' data: making their data keys unrecoverable by rotating epochs
//! (`docs/DESTRUCTION.md`, steps 2–5).
//!
//! [`Ledger::destroy_data`] runs after the caller has durably appended the records'
//! disposal entries (step 1). It handles a whole batch of records with one rotation, and
//! makes each step durable before the next:
//!
//! - **journal**: for every record to destroy, the index rows to delete later (`N`, `S`,
//!   found through its destroyable metadata `D`, which can be opened only now) go into
//!   `Space::Destroying`, one store commit per chunk;
//! - **step 2**: if the current epoch wraps one of those records' keys, a new epoch key is
//!   added and made current (`epochs.key` replaced atomically);
//! - **step 3**: every surviving data key wrapped under an epoch being retired is
//!   re-wrapped under the current epoch, in store commits of a bounded chunk;
//! - **step 4**: the retired epochs are dropped from `epochs.key`. This is the destruction;
//! - **step 5** (`destroy/sweep.rs`): housekeeping: ciphertext (`P`), wrapped keys (`K`),
//!   metadata (`D`), index rows (`N`, `S`), the journal row, and the attachment blobs.
//!
//! Invariants:
//! - A record being destroyed keeps its wrapped key (`K`) until its epoch is gone: that
//!   row is how a rerun finds the epoch still to retire.
//! - A record being destroyed is never re-wrapped. Records journalled by an earlier,
//!   interrupted call are destroyed by any later call, so a different batch cannot
//!   carry them into a new epoch and lose track of them.
//! - An epoch is dropped only after a full pass over `K` finds no survivor under it, and
//!   the new epoch is in `epochs.key` before any key is wrapped under it. A crash thus
//!   leaves every survivor with a usable key, and each destroyed record either still
//!   readable under its old epoch (a rerun completes the job) or already unrecoverable.
//! - The current epoch is never dropped.

mod sweep;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashSet};

use rayon::prelude::*;

use super::{Ledger, LedgerError};
use crate::crypto::seal::EpochKeys;
use crate::store::{Batch, Space};

/// What [`Ledger::destroy_data`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Destroyed {
    /// Records asked for whose data key this call made unrecoverable (record-id order,
    /// as are the other lists).
    pub destroyed: Vec<[u8; 16]>,
    /// Records asked for whose data key was already gone. Nothing is destroyed twice;
    /// housekeeping an interrupted call left undone is finished.
    pub already_destroyed: Vec<[u8; 16]>,
    /// Records not asked for, journalled by an earlier call that was interrupted before
    /// their epoch was dropped, whose destruction this call completed.
    pub resumed: Vec<[u8; 16]>,
    /// The epoch added and made current (step 2), if the current one had to be retired.
    pub new_epoch: Option<u32>,
    /// Epochs dropped from `epochs.key` (step 4).
    pub epochs_retired: Vec<u32>,
    /// Surviving data keys re-wrapped under the current epoch (step 3).
    pub rewrapped: u64,
    /// Records whose stored ciphertext, wrapped key, metadata and index rows were
    /// deleted (step 5), including any an interrupted call left.
    pub swept: u64,
    /// Attachment blobs unlinked from `blobs/` (step 5).
    pub blobs_unlinked: u64,
}

/// Points after which a test can stop a run, as a crash would, in the order reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Journalled,
    EpochAdded,
    RewrapChunk,
    Rewrapped,
    Retired,
    SweptSources,
    SweptChunk,
}

/// How a run is cut up: records or keys per store commit, and (tests only) where to stop.
#[derive(Clone, Copy, Debug)]
struct Tuning {
    chunk: usize,
    stop_after: Option<Step>,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            chunk: 20_000,
            stop_after: None,
        }
    }
}

impl Tuning {
    /// Fails (as a crash would stop the run) when a test asked to stop after `step`.
    fn reached(&self, step: Step) -> Result<(), LedgerError> {
        if self.stop_after == Some(step) {
            return Err(LedgerError::Invalid(format!("stopped after {step:?}")));
        }
        Ok(())
    }
}

/// Where a record's data key stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Standing {
    /// Wrapped under this epoch, which is still in `epochs.key`.
    Live(u32),
    /// No wrapped key, or its epoch is gone: the data is destroyed.
    Gone,
}

impl Ledger {
    /// Destroys the data of `records` (`docs/DESTRUCTION.md`, steps 2–5): one epoch
    /// rotation for the whole batch, each step durable before the next.
    ///
    /// The caller must have appended the records' disposal entries durably first: only
    /// `purge.rs` calls this, after the disposal entries the append rules allowed
    /// (an approved plan or order, no hold), so it is not public. Every
    /// record must exist and not be one of the ledger's own (genesis, key, witness)
    /// records; otherwise nothing is done. A record already destroyed is reported as
    /// such and left alone. After a crash at any point, calling this again (with the
    /// same records or any others) completes the interrupted destruction.
    pub(crate) fn destroy_data(&mut self, records: &[[u8; 16]]) -> Result<Destroyed, LedgerError> {
        self.destroy_with(records, Tuning::default())
    }

    fn destroy_with(&mut self, records: &[[u8; 16]], t: Tuning) -> Result<Destroyed, LedgerError> {
        let mut report = Destroyed::default();
        // Record-id order: the store's rows of neighbouring ids share pages.
        let mut asked = records.to_vec();
        asked.sort_unstable();
        asked.dedup();
        let protected = self.protected_records()?;
        let surveys = asked
            .par_iter()
            .map(|id| self.survey(id, &protected))
            .collect::<Result<Vec<_>, LedgerError>>()?;
        let mut doomed = Vec::new();
        for (id, survey) in asked.iter().zip(surveys) {
            match survey {
                Some(found) => {
                    doomed.push((*id, found));
                    report.destroyed.push(*id);
                }
                None => report.already_destroyed.push(*id),
            }
        }
        for id in self.journalled()? {
            if let (Err(_), Standing::Live(epoch)) = (asked.binary_search(&id), self.standing(&id)?)
            {
                let journal = sweep::Journal::gather(self, &id, &self.live_data_key(&id)?)?;
                doomed.push((id, (epoch, journal)));
                report.resumed.push(id);
            }
        }
        // Records whose key this call has made unrecoverable (no need to look again).
        let mut gone_now = HashSet::new();
        if !doomed.is_empty() {
            self.write_journal(&doomed, &t)?;
            t.reached(Step::Journalled)?;
            let retired: BTreeSet<u32> = doomed.iter().map(|(_, (e, _))| *e).collect();
            report.new_epoch = self.add_epoch_if_retiring_current(&retired)?;
            t.reached(Step::EpochAdded)?;
            let doomed: HashSet<[u8; 16]> = doomed.into_iter().map(|(id, _)| id).collect();
            report.rewrapped = self.rewrap_survivors(&retired, &doomed, &t)?;
            t.reached(Step::Rewrapped)?;
            self.retire_epochs(&retired)?;
            report.epochs_retired = retired.into_iter().collect();
            t.reached(Step::Retired)?;
            gone_now = doomed;
        }
        let (swept, blobs) = self.sweep_destroyed(&gone_now, &t)?;
        report.swept = swept;
        report.blobs_unlinked = blobs;
        Ok(report)
    }

    /// The ledger's own records: the genesis record and every key's and witness's
    /// registration record. Their data is never destroyed.
    fn protected_records(&self) -> Result<HashSet<[u8; 16]>, LedgerError> {
        let mut set: HashSet<[u8; 16]> = self.keys.values().map(|k| k.record).collect();
        if self.head.size > 0 {
            set.insert(self.entry(0)?.signed.change.record);
        }
        for kv in self.store.scan(Space::Witness, b"") {
            let w: super::checkpoint::Witness = serde_json::from_slice(&kv?.1).map_err(|e| {
                LedgerError::Invalid(format!("witness registry entry unreadable: {e}"))
            })?;
            set.insert(self.entry(w.registered)?.signed.change.record);
        }
        Ok(set)
    }

    /// Where a record asked for stands: `Some((epoch, journal))` if its key is still
    /// usable (to destroy now), `None` if its data is already destroyed. Refuses unknown
    /// and protected records, naming the record.
    fn survey(
        &self,
        id: &[u8; 16],
        protected: &HashSet<[u8; 16]>,
    ) -> Result<Option<(u32, sweep::Journal)>, LedgerError> {
        if protected.contains(id) {
            return Err(LedgerError::Invalid(format!(
                "record {} is one of the ledger's own records (genesis, key or witness); its data is never destroyed",
                hex::encode(id)
            )));
        }
        let Some(wrapped) = self.store.get(Space::DataKey, id)? else {
            return match self.store.get(Space::Record, id)? {
                Some(_) => Ok(None),
                None => Err(LedgerError::NoRecord(hex::encode(id))),
            };
        };
        let epoch = EpochKeys::epoch_of(&wrapped).ok_or_else(|| truncated(id))?;
        if !self.epochs.has_epoch(epoch) {
            return Ok(None);
        }
        let dk = self.epochs.unwrap_key(&wrapped, id).map_err(|e| {
            LedgerError::Invalid(format!(
                "record {}: cannot open its data key: {e}",
                hex::encode(id)
            ))
        })?;
        Ok(Some((epoch, sweep::Journal::gather(self, id, &dk)?)))
    }

    fn standing(&self, id: &[u8; 16]) -> Result<Standing, LedgerError> {
        let Some(wrapped) = self.store.get(Space::DataKey, id)? else {
            return Ok(Standing::Gone);
        };
        match EpochKeys::epoch_of(&wrapped) {
            Some(e) if self.epochs.has_epoch(e) => Ok(Standing::Live(e)),
            Some(_) => Ok(Standing::Gone),
            None => Err(truncated(id)),
        }
    }

    /// Records with a destruction journal row, in record-id order.
    fn journalled(&self) -> Result<Vec<[u8; 16]>, LedgerError> {
        self.store
            .scan(Space::Destroying, b"")
            .map(|kv| record_id(&kv?.0))
            .collect()
    }

    /// Writes the journal rows (gathered while the records' metadata could be opened),
    /// durably, before anything is destroyed.
    fn write_journal(
        &self,
        doomed: &[([u8; 16], (u32, sweep::Journal))],
        t: &Tuning,
    ) -> Result<(), LedgerError> {
        for part in doomed.chunks(t.chunk.max(1)) {
            let mut b = Batch::default();
            for (id, (_, journal)) in part {
                b.put(Space::Destroying, id, &journal.encode());
            }
            self.store.commit(b)?;
        }
        Ok(())
    }

    /// Step 2: when the current epoch is to be retired, adds a new current epoch and
    /// saves `epochs.key` (atomically) before any key is wrapped under it.
    fn add_epoch_if_retiring_current(
        &mut self,
        retired: &BTreeSet<u32>,
    ) -> Result<Option<u32>, LedgerError> {
        if !retired.contains(&self.epochs.current().0) {
            return Ok(None);
        }
        let (next, n) = self.epochs.with_new_epoch();
        next.save(&self.dir.join("epochs.key"))?;
        self.epochs = next;
        Ok(Some(n))
    }

    /// Step 3: re-wraps under the current epoch every data key wrapped under a retired
    /// epoch, except those being destroyed. Passes repeat until one finds nothing, so
    /// on return no survivor is left under a retired epoch, durably.
    fn rewrap_survivors(
        &self,
        retired: &BTreeSet<u32>,
        doomed: &HashSet<[u8; 16]>,
        t: &Tuning,
    ) -> Result<u64, LedgerError> {
        let current = self.epochs.current().0;
        if retired.contains(&current) {
            return Err(LedgerError::Invalid(format!(
                "refusing to re-wrap under epoch {current}: it is being retired"
            )));
        }
        let mut total = 0;
        loop {
            let mut pending = Vec::new();
            let mut found = 0;
            for kv in self.store.scan(Space::DataKey, b"") {
                let (k, wrapped) = kv?;
                let id = record_id(&k)?;
                let epoch = EpochKeys::epoch_of(&wrapped).ok_or_else(|| truncated(&id))?;
                if retired.contains(&epoch) && !doomed.contains(&id) {
                    pending.push((id, wrapped));
                }
                if pending.len() >= t.chunk.max(1) {
                    found += self.rewrap_commit(&mut pending, t)?;
                }
            }
            found += self.rewrap_commit(&mut pending, t)?;
            total += found;
            if found == 0 {
                return Ok(total);
            }
        }
    }

    /// Re-wraps and commits one chunk of survivors; empties `pending`.
    fn rewrap_commit(
        &self,
        pending: &mut Vec<([u8; 16], Vec<u8>)>,
        t: &Tuning,
    ) -> Result<u64, LedgerError> {
        if pending.is_empty() {
            return Ok(0);
        }
        let rewrapped: Vec<([u8; 16], Vec<u8>)> = pending
            .par_iter()
            .map(|(id, w)| {
                self.epochs.rewrap(w, id).map(|nw| (*id, nw)).map_err(|e| {
                    LedgerError::Invalid(format!(
                        "record {}: cannot re-wrap its data key: {e}",
                        hex::encode(id)
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        let mut b = Batch::default();
        for (id, w) in &rewrapped {
            b.put(Space::DataKey, id, w);
        }
        self.store.commit(b)?;
        let n = pending.len() as u64;
        pending.clear();
        t.reached(Step::RewrapChunk)?;
        Ok(n)
    }

    /// Step 4: drops the retired epochs from `epochs.key` (replaced atomically).
    fn retire_epochs(&mut self, retired: &BTreeSet<u32>) -> Result<(), LedgerError> {
        let kept = self.epochs.without(retired)?;
        kept.save(&self.dir.join("epochs.key"))?;
        self.epochs = kept;
        Ok(())
    }
}

fn truncated(id: &[u8; 16]) -> LedgerError {
    LedgerError::Invalid(format!(
        "record {}: its wrapped data key is truncated",
        hex::encode(id)
    ))
}

/// A record id from a store key.
fn record_id(k: &[u8]) -> Result<[u8; 16], LedgerError> {
    k.try_into().map_err(|_| {
        LedgerError::Invalid(format!("store key {} is not a record id", hex::encode(k)))
    })
}
