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

/// A new record id in the UUID version 7 layout (RFC 9562 §5.7): the current Unix time in
/// milliseconds (48 bits, big-endian), the version and variant bits, and 74 random bits.
///
/// Ids made later sort later (to the millisecond), so a new record's store rows land at
/// the end of their key space instead of at random places in it: the store's B-tree
/// appends to its rightmost pages, which stay in its cache, however large the ledger
/// grows. Nothing relies on this order for correctness: verifiers treat record ids as
/// opaque, ids from before this layout are uniformly random, and a clock set back only
/// costs locality.
pub fn new_record_id() -> [u8; 16] {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut id: [u8; 16] = random();
    id[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    id[6] = 0x70 | (id[6] & 0x0f);
    id[8] = 0x80 | (id[8] & 0x3f);
    id
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Record ids carry UUIDv7's version and variant, the current time in their first
    /// six bytes, and sort by the millisecond they were made in.
    #[test]
    fn record_ids_are_uuid_v7_and_time_ordered() {
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let a = new_record_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_record_id();
        assert!(a < b);
        for id in [a, b] {
            assert_eq!(id[6] >> 4, 7, "version");
            assert_eq!(id[8] >> 6, 0b10, "variant");
        }
        let mut ms = [0u8; 8];
        ms[2..].copy_from_slice(&a[..6]);
        let ms = u64::from_be_bytes(ms);
        assert!(ms >= before && ms < before + 1000, "{ms} vs {before}");
        // The other 74 bits are random: two ids made in the same millisecond differ.
        assert_ne!(new_record_id()[9..], new_record_id()[9..]);
    }
}
