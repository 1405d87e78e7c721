//! Checkpoints: C2SP tlog-checkpoint bodies (origin, size, root of the RFC 6962 tree)
//! in C2SP signed notes, signed by the ledger key under the origin as key name, and kept
//! in the store by tree size with any witness cosignatures (C2SP tlog-cosignature).
//!
//! Invariants:
//! - The ledger never signs two inconsistent checkpoints: before it signs size n, the
//!   root at the latest kept size m ≤ n is recomputed from the stored tree and must equal
//!   the kept root (the tree is append-only, so every earlier one then agrees too).
//! - Only the ledger key signs checkpoints, and it signs nothing else.
//! - A kept note carries the ledger's signature and only cosignatures that verified
//!   against a registered witness; other signature lines are dropped, never stored.
//! - Kept: one checkpoint per signing (every local write command, every `checkpoint`
//!   command, every timer tick of the daemon), and the cosigned ones with their
//!   cosignatures; nothing is ever removed.

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::format::{Action, Entry};
use crate::merkle::checkpoint::Checkpoint;
use crate::merkle::cosignature::WitnessKey;
use crate::merkle::note::{Note, NoteError, NoteVerifier, Verifier as _};
use crate::store::{Batch, Space};

use super::{Ledger, LedgerError};

/// A witness registered by an admin's `witness.register` entry.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Witness {
    pub name: String,
    #[serde(with = "hex::serde")]
    pub key: [u8; 32],
    /// Sequence number of the registration entry.
    pub registered: u64,
}

impl Witness {
    /// A witness as registered at `seq`; refuses a name that is not a valid note key
    /// name or a key that is not a usable Ed25519 key.
    pub fn new(name: &str, key: &[u8; 32], seq: u64) -> Result<Witness, String> {
        let w = Witness {
            name: name.to_string(),
            key: *key,
            registered: seq,
        };
        w.key().map_err(|e| format!("witness {name:?}: {e}"))?;
        Ok(w)
    }

    /// The cosignature verifier (key type 0x04) of this witness.
    pub fn key(&self) -> Result<WitnessKey, NoteError> {
        let vk = VerifyingKey::from_bytes(&self.key).map_err(|_| NoteError::Cosignature {
            reason: "not an Ed25519 public key",
        })?;
        WitnessKey::new(&self.name, vk)
    }
}

/// A kept checkpoint: its tree size and the signed note.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Kept {
    pub size: u64,
    pub note: String,
}

/// What [`Ledger::checkpoint_note`] made.
pub(crate) enum Signed {
    /// The latest kept checkpoint is already of the size asked for.
    AlreadyKept(Kept),
    /// A freshly signed note, not yet kept.
    New(String),
}

/// What `checkpoint cosign` stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cosigned {
    pub size: u64,
    /// `(witness name, cosignature timestamp)` of every registered witness that cosigned.
    pub witnesses: Vec<(String, u64)>,
    pub note: String,
}

fn bad(what: impl std::fmt::Display) -> LedgerError {
    LedgerError::Invalid(what.to_string())
}

impl Ledger {
    /// The ledger's public key, from the genesis entry.
    pub fn ledger_public_key(&self) -> Result<[u8; 32], LedgerError> {
        let bytes = self
            .store
            .get(Space::Entry, &0u64.to_be_bytes())?
            .ok_or_else(|| bad("entry 0 (the genesis) is missing; run `blotter verify`"))?;
        let e = Entry::decode(&bytes).map_err(|e| bad(format!("entry 0: {e}")))?;
        match e.signed.change.action {
            Action::Genesis { ledger_key, .. } => Ok(ledger_key),
            _ => Err(bad("entry 0 is not a genesis entry; run `blotter verify`")),
        }
    }

    /// The signed-note verifier of the ledger key (key name = origin).
    pub fn note_verifier(&self) -> Result<NoteVerifier, LedgerError> {
        let vk = VerifyingKey::from_bytes(&self.ledger_public_key()?)
            .map_err(|_| bad("the ledger public key in the genesis entry is not usable"))?;
        NoteVerifier::new(&self.origin, vk).map_err(bad)
    }

    /// The verifier key string `origin+keyid+base64(0x01 ‖ key)` an auditor pins.
    pub fn verifier_key(&self) -> Result<String, LedgerError> {
        Ok(self.note_verifier()?.to_vkey())
    }

    /// Where the checkpoint-signing key is kept by default.
    pub fn checkpoint_key_path(&self) -> std::path::PathBuf {
        self.dir.join("ledger.key")
    }

    /// Arms checkpoints: from now on every append that adds entries keeps a checkpoint
    /// of its new head in its own atomic batch (one durable commit, not two). Refuses a
    /// key that is not the ledger key named in the genesis entry.
    pub fn keep_checkpoints_with(&mut self, key: SigningKey) -> Result<(), LedgerError> {
        self.check_ledger_key(&key)?;
        self.checkpoint_key = Some(key);
        Ok(())
    }

    /// Why the last append kept no checkpoint although armed (the store disagrees with a
    /// kept checkpoint, say); the append itself was durable.
    pub fn take_checkpoint_warning(&mut self) -> Option<String> {
        self.checkpoint_warning.take()
    }

    fn check_ledger_key(&self, key: &SigningKey) -> Result<(), LedgerError> {
        if key.verifying_key().to_bytes() != self.ledger_public_key()? {
            return Err(bad(
                "this key is not the ledger key named in the genesis entry; checkpoints are signed only by the ledger key",
            ));
        }
        Ok(())
    }

    /// Signs and keeps a checkpoint of the current head, unless the latest kept one is
    /// already of this size. Returns the latest kept checkpoint.
    pub fn sign_checkpoint(&mut self, key: &SigningKey) -> Result<Kept, LedgerError> {
        self.check_ledger_key(key)?;
        let size = self.head.size;
        match self.checkpoint_note(key, size, self.tree.root())? {
            Signed::AlreadyKept(k) => Ok(k),
            Signed::New(note) => {
                let mut b = Batch::default();
                b.put(Space::Checkpoint, &size.to_be_bytes(), note.as_bytes());
                self.store.commit(b)?;
                Ok(Kept { size, note })
            }
        }
    }

    /// The signed note of a checkpoint of the tree of `size` leaves with `root`, after
    /// checking that the latest kept checkpoint is consistent with the stored tree.
    ///
    /// INVARIANT: the ledger never signs a checkpoint inconsistent with a kept one. The
    /// latest kept size m must be at most `size` and the stored tree's root at m must be
    /// the kept root; the tree is append-only, so every earlier kept one agrees too.
    /// The caller guarantees that `root` extends the stored tree (the stored nodes up to
    /// the current head, plus this batch's appends).
    pub(crate) fn checkpoint_note(
        &self,
        key: &SigningKey,
        size: u64,
        root: crate::merkle::Hash,
    ) -> Result<Signed, LedgerError> {
        if let Some(last) = self.latest_checkpoint()? {
            let held = self.parse_kept(&last)?;
            if held.size > size || self.root_at(held.size)? != held.root {
                return Err(bad(format!(
                    "refusing to sign: the kept checkpoint of size {} does not match the tree (now {size} entries); the store was altered or rolled back, run `blotter verify`",
                    held.size
                )));
            }
            if held.size == size {
                return Ok(Signed::AlreadyKept(last));
            }
        }
        let body = Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
            extensions: Vec::new(),
        }
        .to_body()
        .map_err(bad)?;
        let note = crate::merkle::note::sign(&body, &self.origin, key).map_err(bad)?;
        Ok(Signed::New(note))
    }

    /// Every kept checkpoint, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<Kept>, LedgerError> {
        self.store
            .scan(Space::Checkpoint, b"")
            .map(|r| {
                let (k, v) = r?;
                kept(&k, v)
            })
            .collect()
    }

    /// The kept checkpoint of tree size `size`, if any.
    pub fn checkpoint_at(&self, size: u64) -> Result<Option<Kept>, LedgerError> {
        match self.store.get(Space::Checkpoint, &size.to_be_bytes())? {
            Some(v) => Ok(Some(kept(&size.to_be_bytes(), v)?)),
            None => Ok(None),
        }
    }

    /// The kept checkpoint of the largest size.
    pub fn latest_checkpoint(&self) -> Result<Option<Kept>, LedgerError> {
        match self.store.last(Space::Checkpoint)? {
            Some((k, v)) => Ok(Some(kept(&k, v)?)),
            None => Ok(None),
        }
    }

    /// Parses a kept note and checks the ledger's signature on it.
    pub(crate) fn parse_kept(&self, k: &Kept) -> Result<Checkpoint, LedgerError> {
        self.parse_kept_with(k, &self.note_verifier()?)
    }

    /// [`Self::parse_kept`] with the verifier given.
    pub(crate) fn parse_kept_with(
        &self,
        k: &Kept,
        v: &NoteVerifier,
    ) -> Result<Checkpoint, LedgerError> {
        let note =
            Note::parse(&k.note).map_err(|e| bad(format!("kept checkpoint {}: {e}", k.size)))?;
        note.verify(std::slice::from_ref(v))
            .map_err(|e| bad(format!("kept checkpoint {}: {e}", k.size)))?;
        Checkpoint::from_note(&note).map_err(|e| bad(format!("kept checkpoint {}: {e}", k.size)))
    }

    /// The registered witnesses.
    pub fn witnesses(&self) -> Result<Vec<Witness>, LedgerError> {
        self.store
            .scan(Space::Witness, b"")
            .map(|r| {
                let (_, v) = r?;
                serde_json::from_slice(&v).map_err(|e| bad(format!("witness registry: {e}")))
            })
            .collect()
    }

    /// The witness registered with `key`, if any.
    pub fn witness(&self, key: &[u8; 32]) -> Result<Option<Witness>, LedgerError> {
        match self.store.get(Space::Witness, key)? {
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| bad(format!("witness registry: {e}"))),
            None => Ok(None),
        }
    }

    /// Accepts a checkpoint note carrying witness cosignatures: it must be signed by this
    /// ledger, match the tree at its size, and carry at least one cosignature of a
    /// registered witness; every registered witness's line must verify. Merges the
    /// verified cosignatures into the kept checkpoint of that size.
    pub fn add_cosignatures(&mut self, text: &str) -> Result<Cosigned, LedgerError> {
        let note = Note::parse(text).map_err(|e| bad(format!("checkpoint note: {e}")))?;
        note.verify(&[self.note_verifier()?]).map_err(|e| match e {
            NoteError::NoKnownSignature => bad(format!(
                "the note is not signed by this ledger's key ({})",
                self.origin
            )),
            e => bad(format!("checkpoint note: {e}")),
        })?;
        let cp = Checkpoint::from_note(&note).map_err(|e| bad(format!("checkpoint: {e}")))?;
        if cp.origin != self.origin {
            return Err(bad(format!(
                "the checkpoint is for {:?}, this ledger is {:?}",
                cp.origin, self.origin
            )));
        }
        if cp.size > self.head.size || self.root_at(cp.size)? != cp.root {
            return Err(bad(format!(
                "the checkpoint of size {} does not match this ledger's tree ({} entries)",
                cp.size, self.head.size
            )));
        }
        let mut kept = match self.checkpoint_at(cp.size)? {
            Some(k) => Note::parse(&k.note).map_err(|e| bad(format!("kept checkpoint: {e}")))?,
            None => {
                let mut n = Note::new(note.text()).map_err(bad)?;
                let ours = self.note_verifier()?;
                for s in note.signatures() {
                    // INVARIANT: only the ledger key's own (verified) line is kept.
                    if s.name == ours.name() && s.key_id == ours.key_id() {
                        n.push_signature(s.clone()).map_err(bad)?;
                    }
                }
                n
            }
        };
        let mut witnesses = Vec::new();
        for w in self.witnesses()? {
            let wk = w.key().map_err(bad)?;
            match wk.verify_note(&note) {
                Ok(Some(t)) => witnesses.push((w.name.clone(), t, wk)),
                Ok(None) => {}
                Err(e) => {
                    return Err(bad(format!(
                        "witness {:?} cosignature on checkpoint {} is invalid: {e}",
                        w.name, cp.size
                    )))
                }
            }
        }
        if witnesses.is_empty() {
            return Err(bad(format!(
                "checkpoint {} carries no cosignature of a registered witness (register one with `blotter witness register`)",
                cp.size
            )));
        }
        for (_, _, wk) in &witnesses {
            for s in note.signatures() {
                let known = kept
                    .signatures()
                    .iter()
                    .any(|k| k.name == s.name && k.key_id == s.key_id && k.sig == s.sig);
                if s.name == wk.name() && s.key_id == wk.key_id() && !known {
                    kept.push_signature(s.clone()).map_err(bad)?;
                }
            }
        }
        let encoded = kept.encode().map_err(bad)?;
        let mut b = Batch::default();
        b.put(
            Space::Checkpoint,
            &cp.size.to_be_bytes(),
            encoded.as_bytes(),
        );
        self.store.commit(b)?;
        Ok(Cosigned {
            size: cp.size,
            witnesses: witnesses.into_iter().map(|(n, t, _)| (n, t)).collect(),
            note: encoded,
        })
    }
}

fn kept(k: &[u8], v: Vec<u8>) -> Result<Kept, LedgerError> {
    let size = k
        .try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| bad("checkpoint key is not a tree size"))?;
    let note =
        String::from_utf8(v).map_err(|_| bad(format!("kept checkpoint {size} is not UTF-8")))?;
    Ok(Kept { size, note })
}
