//! Keys, signatures, salted commitments and the sealing of stored content.
//!
//! - Signatures are Ed25519, accepted only under `verify_strict` (one rule everywhere:
//!   append, verify, archive verify). Batch verification is never used.
//! - Commitments are `BLAKE3-keyed(salt, kind || plaintext)` with a random 32-byte salt,
//!   so a short, guessable payload cannot be recovered from the log.
//! - Content at rest is sealed under per-record data keys (see [`seal`]).

pub mod keyfile;
pub mod seal;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand::RngCore;

use crate::format::change::signing_message;
use crate::format::CommitmentKind;

/// Fills an array with bytes from the operating system's CSPRNG.
pub fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// Signs change bytes, returning `change bytes || signature`.
pub fn sign_change(key: &SigningKey, change_bytes: &[u8]) -> Vec<u8> {
    let sig = key.sign(&signing_message(change_bytes));
    let mut out = Vec::with_capacity(change_bytes.len() + 64);
    out.extend_from_slice(change_bytes);
    out.extend_from_slice(&sig.to_bytes());
    out
}

/// Strict Ed25519 verification of a change signature by `actor`.
pub fn verify_change(actor: &[u8; 32], change_bytes: &[u8], signature: &[u8; 64]) -> bool {
    let Ok(vk) = VerifyingKey::from_bytes(actor) else {
        return false;
    };
    vk.verify_strict(
        &signing_message(change_bytes),
        &Signature::from_bytes(signature),
    )
    .is_ok()
}

/// Strict verification with an already decompressed key (verify caches them per actor).
pub fn verify_change_with(vk: &VerifyingKey, change_bytes: &[u8], signature: &[u8; 64]) -> bool {
    vk.verify_strict(
        &signing_message(change_bytes),
        &Signature::from_bytes(signature),
    )
    .is_ok()
}

/// A streaming salted commitment.
pub struct Committer(blake3::Hasher);

impl Committer {
    pub fn new(salt: &[u8; 32], kind: CommitmentKind) -> Self {
        let mut h = blake3::Hasher::new_keyed(salt);
        h.update(&[kind.code()]);
        Committer(h)
    }
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    pub fn finish(&self) -> [u8; 32] {
        *self.0.finalize().as_bytes()
    }
}

/// `BLAKE3-keyed(salt, kind || data)`.
pub fn commit(salt: &[u8; 32], kind: CommitmentKind, data: &[u8]) -> [u8; 32] {
    let mut c = Committer::new(salt, kind);
    c.update(data);
    c.finish()
}

/// Plain BLAKE3 of a document (schedules, settings, plans): a content address.
pub fn document_hash(data: &[u8]) -> [u8; 32] {
    *blake3::hash(data).as_bytes()
}

/// Lowercase hex of a key or hash, as the CLI prints and parses them.
pub fn hex32(b: &[u8; 32]) -> String {
    hex::encode(b)
}

/// Parses exactly 2·N hex digits (no surrounding whitespace).
pub fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    hex::decode(s).ok()?.try_into().ok()
}

/// Parses 64 hex digits, ignoring surrounding whitespace.
pub fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    parse_hex(s.trim())
}
