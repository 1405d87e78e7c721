//! Step 5 of destruction: housekeeping once a record's data key is gone.
//!
//! The journal row (`Space::Destroying`) written before the destruction names the index
//! rows that only the record's destroyable metadata could lead to. Everything else is
//! found from what stays: the record's history rows (`H`) name, for every change, its
//! `P` keys and the blob it attached (`ledger/history.rs`, written with the change). A
//! history row from before store layout 3 is empty: that change's entry is read and
//! decoded instead.
//!
//! Invariants:
//! - Only records whose key is already unrecoverable are swept.
//! - Blobs are unlinked (and `blobs/` fsynced) before the store commit that removes the
//!   journal row, so a crash never forgets a blob; the journal row goes in the same
//!   commit as the record's other rows, so a rerun redoes any part left undone.

use std::collections::HashSet;

use rayon::prelude::*;

use super::{record_id, Standing, Step, Tuning};
use crate::crypto::seal::DataKey;
use crate::ledger::history::Stored;
use crate::ledger::{Ledger, LedgerError};
use crate::store::{Batch, Space};

/// A record's destruction journal: the index rows to delete once its key is gone.
///
/// Encoding: `flags u8` (bit 0: imported, so its source-change rows must be found by a
/// scan of `S`) then, per row, `space u8 ‖ key length u8 ‖ key`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Journal {
    imported: bool,
    rows: Vec<(Space, Vec<u8>)>,
}

impl Journal {
    /// Reads the record's destroyable metadata with its data key `dk` and derives the
    /// index rows: its case-number row and its source-record row.
    pub(super) fn gather(l: &Ledger, id: &[u8; 16], dk: &DataKey) -> Result<Journal, LedgerError> {
        let d = l
            .destroyable_with(id, dk)
            .map_err(|e| {
                LedgerError::Invalid(format!(
                    "record {}: cannot read its destroyable metadata: {e}",
                    hex::encode(id)
                ))
            })?
            .unwrap_or_default();
        let mut rows = Vec::new();
        if let Some(n) = &d.case_number {
            let k = [&l.epochs.index_hash("case", n)[..], &id[..]].concat();
            rows.push((Space::CaseIndex, k));
        }
        if let Some(s) = &d.source_record {
            let k = l.epochs.index_hash("source-record", s);
            if l.store.get(Space::Source, &k)?.as_deref() == Some(&id[..]) {
                rows.push((Space::Source, k.to_vec()));
            }
        }
        Ok(Journal {
            imported: d.source_record.is_some(),
            rows,
        })
    }

    pub(super) fn encode(&self) -> Vec<u8> {
        let mut v = vec![u8::from(self.imported)];
        for (space, k) in &self.rows {
            v.push(*space as u8);
            v.push(k.len() as u8);
            v.extend_from_slice(k);
        }
        v
    }

    fn decode(id: &[u8; 16], b: &[u8]) -> Result<Journal, LedgerError> {
        let bad = || {
            LedgerError::Invalid(format!(
                "record {}: destruction journal row is malformed",
                hex::encode(id)
            ))
        };
        let (flags, mut rest) = b.split_first().ok_or_else(bad)?;
        let mut rows = Vec::new();
        while let [space, len, tail @ ..] = rest {
            let space = match *space {
                s if s == Space::CaseIndex as u8 => Space::CaseIndex,
                s if s == Space::Source as u8 => Space::Source,
                _ => return Err(bad()),
            };
            let (k, more) = tail.split_at_checked(*len as usize).ok_or_else(bad)?;
            rows.push((space, k.to_vec()));
            rest = more;
        }
        if !rest.is_empty() {
            return Err(bad());
        }
        Ok(Journal {
            imported: flags & 1 == 1,
            rows,
        })
    }
}

/// A journalled record whose key is gone, with the seqs of its changes and what each
/// stored beside the log (`None`: a history row from before layout 3).
struct Gone {
    id: [u8; 16],
    journal: Journal,
    changes: Vec<(u64, Option<Stored>)>,
}

impl Ledger {
    /// Step 5 for every journalled record whose key is gone (`gone_now`: records known
    /// to be gone, whose key need not be looked at again). Returns (records swept,
    /// blobs unlinked).
    pub(super) fn sweep_destroyed(
        &self,
        gone_now: &HashSet<[u8; 16]>,
        t: &Tuning,
    ) -> Result<(u64, u64), LedgerError> {
        let rows = self
            .store
            .scan(Space::Destroying, b"")
            .collect::<Result<Vec<_>, _>>()?;
        // Record-id order (the journal's), so that `K` and `H` are read in key order.
        let gone: Vec<Gone> = rows
            .par_iter()
            .map(|(k, v)| {
                let id = record_id(k)?;
                if !gone_now.contains(&id) && self.standing(&id)? != Standing::Gone {
                    return Ok(None);
                }
                Ok(Some(Gone {
                    id,
                    journal: Journal::decode(&id, v)?,
                    changes: self.history_rows(&id)?,
                }))
            })
            .filter_map(Result::transpose)
            .collect::<Result<_, LedgerError>>()?;
        drop(rows);
        if gone.iter().any(|g| g.journal.imported) {
            self.sweep_source_changes(&gone, t)?;
        }
        t.reached(Step::SweptSources)?;
        let mut blobs = 0;
        for part in gone.chunks(t.chunk.max(1)) {
            blobs += self.sweep_chunk(part)?;
            t.reached(Step::SweptChunk)?;
        }
        Ok((gone.len() as u64, blobs))
    }

    /// Deletes the source-change index rows (`S`, value = a seq) of imported records:
    /// their keys hash source references that only the source system knows, so they
    /// are found by their values, the seqs of the records' changes, in one scan of `S`.
    fn sweep_source_changes(&self, gone: &[Gone], t: &Tuning) -> Result<(), LedgerError> {
        let seqs: HashSet<u64> = gone
            .iter()
            .filter(|g| g.journal.imported)
            .flat_map(|g| g.changes.iter().map(|(s, _)| *s))
            .collect();
        let mut b = Batch::default();
        let mut n = 0;
        for kv in self.store.scan(Space::Source, b"") {
            let (k, v) = kv?;
            let seq = <[u8; 8]>::try_from(v.as_slice()).map(u64::from_be_bytes);
            if seq.is_ok_and(|s| seqs.contains(&s)) {
                b.remove(Space::Source, &k);
                n += 1;
                if n % t.chunk.max(1) == 0 {
                    self.store.commit(std::mem::take(&mut b))?;
                }
            }
        }
        self.store.commit(b)?;
        Ok(())
    }

    /// Sweeps a chunk of records: unlinks their blobs, then removes their rows and
    /// journal rows in one commit. Returns the blobs unlinked.
    fn sweep_chunk(&self, part: &[Gone]) -> Result<u64, LedgerError> {
        let mut sealed: Vec<([u8; 16], Stored)> = Vec::new();
        let mut old: Vec<(u64, [u8; 16])> = Vec::new();
        for g in part {
            for (seq, stored) in &g.changes {
                match stored {
                    Some(s) => sealed.push((g.id, s.clone())),
                    None => old.push((*seq, g.id)),
                }
            }
        }
        // Changes from before layout 3: their entries, in seq order (neighbouring reads
        // share pages).
        old.sort_unstable();
        let from_entries: Vec<([u8; 16], Stored)> = old
            .par_chunks(512)
            .map(|c| {
                c.iter()
                    .map(|(s, id)| self.sealed_of(*s).map(|st| (*id, st)))
                    .collect::<Vec<_>>()
            })
            .flatten()
            .collect::<Result<_, _>>()?;
        sealed.extend(from_entries);
        let dir = self.dir.join("blobs");
        let mut unlinked = 0;
        for blob in sealed.iter().filter_map(|(_, s)| s.blob()) {
            let path = dir.join(hex::encode(blob));
            match std::fs::remove_file(&path) {
                Ok(()) => unlinked += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(LedgerError::Io(path, e)),
            }
        }
        if unlinked > 0 {
            std::fs::File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| LedgerError::Io(dir.clone(), e))?;
        }
        let mut b = Batch::default();
        for k in sealed.iter().flat_map(|(id, s)| s.sealed_keys(id)) {
            b.remove(Space::Sealed, &k);
        }
        for g in part {
            for (space, k) in &g.journal.rows {
                b.remove(*space, k);
            }
            for space in [Space::DataKey, Space::Destroyable, Space::Destroying] {
                b.remove(space, &g.id);
            }
        }
        self.store.commit(b)?;
        Ok(unlinked)
    }

    /// A record's changes, in seq order, each with what it stored beside the log as its
    /// history row says (`None`: an empty row, from before layout 3).
    fn history_rows(&self, id: &[u8; 16]) -> Result<Vec<(u64, Option<Stored>)>, LedgerError> {
        self.store
            .scan(Space::History, id)
            .map(|kv| {
                let (k, v) = kv?;
                let bad = || {
                    LedgerError::Invalid(format!(
                        "record {}: history row {} is malformed",
                        hex::encode(id),
                        hex::encode(&k)
                    ))
                };
                let seq = k
                    .get(16..24)
                    .and_then(|s| <[u8; 8]>::try_from(s).ok())
                    .map(u64::from_be_bytes)
                    .ok_or_else(bad)?;
                Ok((seq, Stored::decode(&v).map_err(|()| bad())?))
            })
            .collect()
    }

    /// What change `seq` stored beside the log, from its entry (for a history row
    /// written before layout 3): exactly the `P` rows its entry commits to, and the blob
    /// it attached, if any.
    fn sealed_of(&self, seq: u64) -> Result<Stored, LedgerError> {
        let e = self.entry(seq)?;
        Ok(Stored::of_change(e.signed.hash(), &e.signed.change))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_round_trip_and_malformed() {
        let j = Journal {
            imported: true,
            rows: vec![
                (Space::CaseIndex, vec![1; 48]),
                (Space::Source, vec![2; 32]),
            ],
        };
        let id = [9; 16];
        assert_eq!(Journal::decode(&id, &j.encode()).unwrap(), j);
        assert_eq!(
            Journal::decode(&id, &Journal::default().encode()).unwrap(),
            Journal::default()
        );
        let mut bad = j.encode();
        bad.pop();
        assert!(Journal::decode(&id, &bad).is_err());
        assert!(Journal::decode(&id, &[0, b'E', 1, 0]).is_err());
        assert!(Journal::decode(&id, &[]).is_err());
    }
}
