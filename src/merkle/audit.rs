//! Offline audit: checks an inclusion or consistency proof against checkpoints the
//! auditor holds, with nothing but the files and the ledger's verifier key. No ledger
//! folder, no store, no network: this is what `blotter audit` runs, and what an
//! auditor's own tools do (docs/FORMAT.md §11).
//!
//! Invariants:
//! - Every checkpoint is accepted only with a valid signature of the pinned verifier key,
//!   whose name must be the checkpoint's origin; other signature lines are ignored.
//! - [`AuditError::Wrong`] means the material is wrong (exit 1); [`AuditError::Unusable`]
//!   means the check could not run (exit 2), e.g. a malformed verifier key.

use serde::Serialize;

use super::checkpoint::Checkpoint;
use super::cosignature::WitnessKey;
use super::note::{Note, NoteVerifier, Verifier as _};
use super::proof_text::{AddCheckpoint, TlogProof};
use super::{leaf_hash, verify_consistency, verify_inclusion};
use crate::format::Entry;

/// Why an audit did not pass.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The checkpoint, proof or entry is wrong.
    #[error("{0}")]
    Wrong(String),
    /// The check could not run.
    #[error("{0}")]
    Unusable(String),
}

/// What a passed inclusion audit established.
#[derive(Debug, Serialize)]
pub struct Included {
    pub origin: String,
    pub seq: u64,
    pub tree_size: u64,
    pub record: String,
    pub action: String,
}

/// What a passed consistency audit established.
#[derive(Debug, Serialize)]
pub struct Consistent {
    pub origin: String,
    pub old_size: u64,
    pub new_size: u64,
}

/// What a passed cosignature audit established.
#[derive(Debug, Serialize)]
pub struct Witnessed {
    pub origin: String,
    pub tree_size: u64,
    /// Every witness asked for, with the (latest) time it cosigned, Unix seconds.
    pub witnesses: Vec<WitnessTime>,
}

#[derive(Debug, Serialize)]
pub struct WitnessTime {
    pub name: String,
    pub timestamp: u64,
}

/// Parses the pinned verifier key (`origin+keyid+base64`).
pub fn verifier(vkey: &str) -> Result<NoteVerifier, AuditError> {
    NoteVerifier::parse(vkey.trim())
        .map_err(|e| AuditError::Unusable(format!("ledger verifier key: {e}")))
}

/// Parses a signed checkpoint note and checks the ledger's signature on it.
pub fn open_checkpoint(
    what: &str,
    text: &str,
    ledger: &NoteVerifier,
) -> Result<Checkpoint, AuditError> {
    let wrong = |e: String| AuditError::Wrong(format!("{what}: {e}"));
    let note = Note::parse(text).map_err(|e| wrong(e.to_string()))?;
    checkpoint_of(&note, ledger).map_err(wrong)
}

fn checkpoint_of(note: &Note, ledger: &NoteVerifier) -> Result<Checkpoint, String> {
    note.verify(std::slice::from_ref(ledger))
        .map_err(|e| format!("not signed by the ledger key {}: {e}", ledger.to_vkey()))?;
    let cp = Checkpoint::from_note(note).map_err(|e| e.to_string())?;
    if cp.origin != ledger.name() {
        return Err(format!(
            "origin {:?} is not the verifier key's name {:?}",
            cp.origin,
            ledger.name()
        ));
    }
    Ok(cp)
}

fn same(a: &Checkpoint, b: &Checkpoint) -> bool {
    a.origin == b.origin && a.size == b.size && a.root == b.root
}

/// Checks that `entry` (stored entry bytes) is in the tree of the held `checkpoint`,
/// by the C2SP tlog-proof `proof`.
pub fn inclusion(
    vkey: &str,
    checkpoint: &str,
    entry: &[u8],
    proof: &str,
) -> Result<Included, AuditError> {
    let ledger = verifier(vkey)?;
    let held = open_checkpoint("the checkpoint you hold", checkpoint, &ledger)?;
    let wrong = |e: String| AuditError::Wrong(e);
    let p = TlogProof::parse(proof).map_err(|e| wrong(format!("the proof: {e}")))?;
    let cp = checkpoint_of(p.note(), &ledger)
        .map_err(|e| wrong(format!("the proof's checkpoint: {e}")))?;
    if !same(&cp, &held) {
        return Err(wrong(format!(
            "the proof is against a checkpoint of size {}, you hold size {} (or a different root); ask for a proof against yours: `blotter proof inclusion --seq {} --size {}`",
            cp.size, held.size, p.index(), held.size
        )));
    }
    let e = Entry::decode(entry).map_err(|e| wrong(format!("the entry file: {e}")))?;
    if e.seq != p.index() {
        return Err(wrong(format!(
            "the entry file holds entry {}, the proof is for entry {}",
            e.seq,
            p.index()
        )));
    }
    verify_inclusion(
        &leaf_hash(entry),
        p.index(),
        held.size,
        p.proof(),
        &held.root,
    )
    .map_err(|err| {
        wrong(format!(
            "entry {} is not in the tree of size {}: {err}",
            p.index(),
            held.size
        ))
    })?;
    Ok(Included {
        origin: held.origin,
        seq: e.seq,
        tree_size: held.size,
        record: hex::encode(e.signed.change.record),
        action: e.signed.change.action.name().to_string(),
    })
}

/// Checks that the held `new` checkpoint extends the held `old` one, by the
/// tlog-witness-form consistency `proof` (`old N`, hashes, blank line, checkpoint).
pub fn consistency(
    vkey: &str,
    old: &str,
    new: &str,
    proof: &str,
) -> Result<Consistent, AuditError> {
    let ledger = verifier(vkey)?;
    let c1 = open_checkpoint("the old checkpoint", old, &ledger)?;
    let c2 = open_checkpoint("the new checkpoint", new, &ledger)?;
    let wrong = |e: String| AuditError::Wrong(e);
    let p = AddCheckpoint::parse(proof).map_err(|e| wrong(format!("the proof: {e}")))?;
    let pc = checkpoint_of(p.note(), &ledger)
        .map_err(|e| wrong(format!("the proof's checkpoint: {e}")))?;
    if p.old_size() != c1.size || !same(&pc, &c2) {
        return Err(wrong(format!(
            "the proof goes from size {} to size {}, your checkpoints are sizes {} and {}; ask for `blotter proof consistency --from {} --to {}`",
            p.old_size(), pc.size, c1.size, c2.size, c1.size, c2.size
        )));
    }
    verify_consistency(c1.size, c2.size, p.proof(), &c1.root, &c2.root).map_err(|err| {
        wrong(format!(
            "the checkpoint of size {} does not extend the one of size {}: {err}",
            c2.size, c1.size
        ))
    })?;
    Ok(Consistent {
        origin: c1.origin,
        old_size: c1.size,
        new_size: c2.size,
    })
}

/// Checks that the held `checkpoint` is signed by the ledger and cosigned by every
/// witness in `witness_keys` (C2SP tlog-cosignature verifier keys, type 0x04). A witness
/// with no line, or with a line that does not verify, fails the audit; lines of other
/// keys are ignored, as the signed-note spec says.
pub fn cosignatures(
    vkey: &str,
    checkpoint: &str,
    witness_keys: &[String],
) -> Result<Witnessed, AuditError> {
    let ledger = verifier(vkey)?;
    if witness_keys.is_empty() {
        return Err(AuditError::Unusable(
            "name at least one witness key (--witness-key)".into(),
        ));
    }
    let keys = witness_keys
        .iter()
        .map(|k| {
            WitnessKey::parse(k.trim())
                .map_err(|e| AuditError::Unusable(format!("witness key {k:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let wrong = |e: String| AuditError::Wrong(format!("the checkpoint: {e}"));
    let note = Note::parse(checkpoint).map_err(|e| wrong(e.to_string()))?;
    let cp = checkpoint_of(&note, &ledger).map_err(wrong)?;
    let mut witnesses = Vec::with_capacity(keys.len());
    for k in &keys {
        let name = super::note::Verifier::name(k).to_string();
        match k.verify_note(&note) {
            Ok(Some(timestamp)) => witnesses.push(WitnessTime { name, timestamp }),
            Ok(None) => {
                return Err(AuditError::Wrong(format!(
                    "witness {name} did not cosign this checkpoint (size {})",
                    cp.size
                )))
            }
            Err(e) => {
                return Err(AuditError::Wrong(format!(
                    "witness {name}'s cosignature on this checkpoint (size {}) is bad: {e}",
                    cp.size
                )))
            }
        }
    }
    Ok(Witnessed {
        origin: cp.origin,
        tree_size: cp.size,
        witnesses,
    })
}
