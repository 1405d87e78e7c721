//! Proofs as their C2SP texts, against kept checkpoints: what `blotter proof` prints and
//! the daemon serves, from one place.

use super::checkpoint::Kept;
use super::{Ledger, LedgerError};
use crate::merkle::note::Note;
use crate::merkle::proof_text::{AddCheckpoint, TlogProof};

fn bad(e: impl std::fmt::Display) -> LedgerError {
    LedgerError::Invalid(e.to_string())
}

impl Ledger {
    /// The kept checkpoint of `size`, or the latest; an error that says what to do if
    /// there is none.
    pub fn kept_checkpoint(&self, size: Option<u64>) -> Result<Kept, LedgerError> {
        let k = match size {
            Some(s) => self.checkpoint_at(s)?,
            None => self.latest_checkpoint()?,
        };
        k.ok_or_else(|| {
            bad(match size {
                Some(s) => format!("no checkpoint of size {s} is kept (proofs are against signed checkpoints); see `blotter checkpoint list`"),
                None => "no checkpoint is kept yet; make one with `blotter checkpoint`".into(),
            })
        })
    }

    /// A C2SP tlog-proof of entry `seq` in the kept checkpoint of `size` (default the
    /// latest); returns the checkpoint's size and the text.
    pub fn inclusion_text(
        &self,
        seq: u64,
        size: Option<u64>,
    ) -> Result<(u64, String), LedgerError> {
        let k = self.kept_checkpoint(size)?;
        if seq >= k.size {
            return Err(bad(format!(
                "entry {seq} is not in the checkpoint of size {}",
                k.size
            )));
        }
        let hashes = self.inclusion_proof(seq, k.size)?;
        let note = Note::parse(&k.note).map_err(bad)?;
        let text = TlogProof::new(None, seq, hashes, note)
            .and_then(|p| p.format())
            .map_err(bad)?;
        Ok((k.size, text))
    }

    /// A consistency proof from tree size `from` to the kept checkpoint of `to` (default
    /// the latest), in the C2SP tlog-witness `old N` form; `from` 0 has no proof (a
    /// witness's first request). Returns the checkpoint's size and the text.
    pub fn consistency_text(
        &self,
        from: u64,
        to: Option<u64>,
    ) -> Result<(u64, String), LedgerError> {
        let k = self.kept_checkpoint(to)?;
        if from > k.size {
            return Err(bad(format!(
                "--from must be at most the checkpoint's size {}",
                k.size
            )));
        }
        let hashes = if from == 0 {
            Vec::new()
        } else {
            self.consistency_proof(from, k.size)?
        };
        let note = Note::parse(&k.note).map_err(bad)?;
        let text = AddCheckpoint::new(from, hashes, note)
            .and_then(|p| p.format())
            .map_err(bad)?;
        Ok((k.size, text))
    }
}
