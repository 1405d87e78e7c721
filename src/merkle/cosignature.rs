//! C2SP Ed25519 checkpoint cosignatures, `cosignature/v1`
//! (<https://c2sp.org/tlog-cosignature>): a witness's timestamped statement that a
//! checkpoint is the largest consistent tree head it has seen for that log.
//!
//! - Key ID: `SHA-256(name ‖ 0x0A ‖ 0x04 ‖ 32-byte public key)[:4]`.
//! - Signed message: `cosignature/v1\ntime <T>\n` then the whole checkpoint body
//!   (extension lines included), `T` in ASCII decimal without leading zeroes.
//! - Signature line: `— <name> base64(key ID(4) ‖ T as big-endian u64(8) ‖ Ed25519
//!   signature(64))`.
//!
//! Invariants:
//! - Timestamps above 2^63 − 1 are refused (spec: "It MUST NOT exceed 2^63 - 1"),
//!   when making and when verifying.
//! - Only checkpoint bodies that [`Checkpoint::parse`] accepts are cosigned.
//! - Verification uses `verify_strict`. The message does not commit to the witness
//!   name, so one key must never serve two witness names.
//! - Verifier keys use the vkey form with signature type 0x04.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use super::checkpoint::Checkpoint;
use super::note::{
    check_name, ed25519_key, format_vkey, key_id, parse_vkey, Note, NoteError, NoteSignature,
    Verifier,
};

/// Signature type byte of timestamped Ed25519 checkpoint cosignatures.
pub const SIG_TYPE_COSIGNATURE_V1: u8 = 0x04;

/// The largest timestamp allowed, 2^63 − 1.
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// Length of a cosignature payload after the key ID: timestamp and signature.
pub const COSIGNATURE_LEN: usize = 8 + 64;

/// The signed message for `body` at `timestamp` (POSIX seconds).
pub fn message(body: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{body}")
}

/// Makes a cosignature line (ending in `\n`) over checkpoint `body` at `timestamp`.
pub fn cosign(
    body: &str,
    name: &str,
    key: &SigningKey,
    timestamp: u64,
) -> Result<String, NoteError> {
    check_name(name)?;
    Checkpoint::parse(body)?;
    if timestamp > MAX_TIMESTAMP {
        return Err(NoteError::Cosignature {
            reason: "timestamp exceeds 2^63 - 1",
        });
    }
    let sig = key.sign(message(body, timestamp).as_bytes());
    let mut payload = Vec::with_capacity(COSIGNATURE_LEN);
    payload.extend_from_slice(&timestamp.to_be_bytes());
    payload.extend_from_slice(&sig.to_bytes());
    Ok(NoteSignature {
        name: name.to_string(),
        key_id: key_id(
            name,
            SIG_TYPE_COSIGNATURE_V1,
            key.verifying_key().as_bytes(),
        ),
        sig: payload,
    }
    .to_line())
}

/// A witness (cosigner): its name and Ed25519 public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessKey {
    name: String,
    key: VerifyingKey,
    key_id: u32,
}

impl WitnessKey {
    /// A witness key. Refuses invalid names and weak keys.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, NoteError> {
        check_name(name)?;
        ed25519_key(key.as_bytes())?;
        Ok(WitnessKey {
            key_id: key_id(name, SIG_TYPE_COSIGNATURE_V1, key.as_bytes()),
            name: name.to_string(),
            key,
        })
    }

    /// Parses a vkey `<name>+<hex8 key ID>+<base64(0x04 ‖ public key)>`.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        let (name, key) = parse_vkey(vkey, SIG_TYPE_COSIGNATURE_V1)?;
        WitnessKey::new(&name, key)
    }

    /// The vkey string form (type 0x04).
    pub fn to_vkey(&self) -> String {
        format_vkey(&self.name, SIG_TYPE_COSIGNATURE_V1, &self.key)
    }

    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Verifies a cosignature payload (timestamp ‖ signature, the bytes after the
    /// key ID) over checkpoint `body`, returning the timestamp.
    pub fn verify_payload(&self, body: &str, payload: &[u8]) -> Result<u64, NoteError> {
        let bad = |reason| NoteError::Cosignature { reason };
        if payload.len() != COSIGNATURE_LEN {
            return Err(bad("payload is not 8 + 64 bytes"));
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&payload[..8]);
        let timestamp = u64::from_be_bytes(ts);
        if timestamp > MAX_TIMESTAMP {
            return Err(bad("timestamp exceeds 2^63 - 1"));
        }
        let sig = Signature::from_slice(&payload[8..]).map_err(|_| bad("malformed signature"))?;
        self.key
            .verify_strict(message(body, timestamp).as_bytes(), &sig)
            .map_err(|_| bad("signature does not verify"))?;
        Ok(timestamp)
    }

    /// Verifies one cosignature line (with or without its `\n`) over checkpoint
    /// `body`, returning its timestamp. A line from another key is an error.
    pub fn verify_line(&self, body: &str, line: &str) -> Result<u64, NoteError> {
        let s = NoteSignature::parse_line(line, 1)?;
        if s.name != self.name || s.key_id != self.key_id {
            return Err(NoteError::NotThisWitness {
                name: s.name,
                key_id: s.key_id,
            });
        }
        self.verify_payload(body, &s.sig)
    }

    /// Finds this witness's cosignatures in `note` and verifies them all. Returns
    /// the latest timestamp, or `None` if the witness did not cosign; any of its
    /// cosignatures that fails to verify is an error.
    pub fn verify_note(&self, note: &Note) -> Result<Option<u64>, NoteError> {
        let mut latest = None;
        for s in note.signatures() {
            if s.name == self.name && s.key_id == self.key_id {
                let t = self.verify_payload(note.text(), &s.sig)?;
                latest = latest.max(Some(t));
            }
        }
        Ok(latest)
    }
}

/// A witness key is a note verifier for its cosignatures, so a witness can be
/// listed among the known keys passed to [`Note::verify`].
impl Verifier for WitnessKey {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn verify(&self, text: &str, sig: &[u8]) -> bool {
        self.verify_payload(text, sig).is_ok()
    }
}
