//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys, and the
//! verifier-key ("vkey") text form shared by note keys and witness keys.
//!
//! A signed note is a text ending in `\n`, a blank line, and one or more signature
//! lines `— <key name> <base64(key ID ‖ signature)>\n`.
//!
//! Invariants:
//! - Parsing never panics, whatever the input, and accepts only what the spec allows:
//!   valid UTF-8 with no ASCII control character other than `\n`; the text is
//!   everything up to and including the `\n` before the *last* blank line; at least
//!   one signature line, each well formed (em dash, space, valid key name, space,
//!   canonical standard base64 of at least 5 bytes), the last one ending in `\n`;
//!   at most [`MAX_SIGNATURES`] signature lines.
//! - A parsed [`Note`] re-encodes to exactly the bytes it was parsed from: names are
//!   kept verbatim and strict base64 decoding admits one encoding per byte string.
//! - Verification follows the spec's MUSTs: signatures from unknown (name, key ID)
//!   pairs are ignored; every signature from a known key is verified (a bad one
//!   rejects the whole note, also when the same key has a good one); at least one
//!   known signature must verify. Ed25519 uses `verify_strict`.
//! - Key IDs are `SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]`, big-endian `u32`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Signature type byte of Ed25519 note signatures.
pub const SIG_TYPE_ED25519: u8 = 0x01;

/// The most signature lines a note may carry. The spec requires accepting at least
/// 16 and recommends a limit; 100 is the limit of Go's `golang.org/x/mod/sumdb/note`.
pub const MAX_SIGNATURES: usize = 100;

/// The prefix of every signature line: U+2014 EM DASH and a space.
pub const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Why a note, key string, checkpoint, cosignature or proof text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("note is not valid UTF-8")]
    NotUtf8,
    #[error("line {line}: ASCII control character {byte:#04x} (only newline is allowed)")]
    ControlChar { line: usize, byte: u8 },
    #[error("text does not end in a newline")]
    TextNoFinalNewline,
    #[error("no blank line separating the text from the signatures")]
    NoBlankLine,
    #[error("no signature lines after the blank line")]
    NoSignatures,
    #[error("last signature line does not end in a newline")]
    NoFinalNewline,
    #[error("line {line}: malformed signature line: {reason}")]
    MalformedSignatureLine { line: usize, reason: &'static str },
    #[error("empty signature from {name}")]
    EmptySignature { name: String },
    #[error("more than {max} signature lines")]
    TooManySignatures { max: usize },
    #[error("invalid key name {name:?}: must be non-empty, without spaces or '+'")]
    InvalidKeyName { name: String },
    #[error("invalid signature from known key {name}+{key_id:08x} (line {line})")]
    InvalidSignature {
        name: String,
        key_id: u32,
        line: usize,
    },
    #[error("ambiguous key {name}+{key_id:08x}: more than one known verifier has it")]
    AmbiguousKey { name: String, key_id: u32 },
    #[error("no signature from a known key")]
    NoKnownSignature,
    #[error("malformed verifier key: {reason}")]
    MalformedVerifierKey { reason: &'static str },
    #[error("verifier key type {found:#04x}, expected {expected:#04x}")]
    WrongKeyType { expected: u8, found: u8 },
    #[error("verifier key ID {found:08x} does not match the key (expected {expected:08x})")]
    KeyIdMismatch { expected: u32, found: u32 },
    #[error("invalid Ed25519 public key: {reason}")]
    BadPublicKey { reason: &'static str },
    #[error("checkpoint line {line}: {reason}")]
    Checkpoint { line: usize, reason: &'static str },
    #[error("cosignature: {reason}")]
    Cosignature { reason: &'static str },
    #[error("cosignature line names {name}+{key_id:08x}, not this witness")]
    NotThisWitness { name: String, key_id: u32 },
    #[error("proof line {line}: {reason}")]
    Proof { line: usize, reason: &'static str },
    #[error("invalid proof bundle: {reason}")]
    ProofBundle { reason: &'static str },
}

/// Reports whether `name` is a valid key name: non-empty, no Unicode white space,
/// no `+` (and, since it sits in a note, no control characters).
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c < ' ')
}

pub(crate) fn check_name(name: &str) -> Result<(), NoteError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(NoteError::InvalidKeyName { name: name.into() })
    }
}

/// The key ID of a key: `SHA-256(name ‖ 0x0A ‖ sig_type ‖ public_key)[:4]`, big-endian.
pub fn key_id(name: &str, sig_type: u8, public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', sig_type]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Formats a verifier key: `<name>+<hex8 key ID>+<base64(sig_type ‖ public key)>`.
pub(crate) fn format_vkey(name: &str, sig_type: u8, key: &VerifyingKey) -> String {
    let mut material = Vec::with_capacity(33);
    material.push(sig_type);
    material.extend_from_slice(key.as_bytes());
    format!(
        "{name}+{:08x}+{}",
        key_id(name, sig_type, key.as_bytes()),
        STANDARD.encode(material)
    )
}

/// Parses a verifier key of the given signature type holding a 32-byte Ed25519 key.
/// The key ID must be 8 lowercase hex digits and match the name and key.
pub(crate) fn parse_vkey(vkey: &str, sig_type: u8) -> Result<(String, VerifyingKey), NoteError> {
    let bad = |reason| NoteError::MalformedVerifierKey { reason };
    let mut parts = vkey.splitn(3, '+');
    let (Some(name), Some(hex8), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("expected <name>+<key ID>+<key>"));
    };
    check_name(name)?;
    if hex8.len() != 8 || !hex8.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(bad("key ID is not 8 lowercase hex digits"));
    }
    let found = u32::from_str_radix(hex8, 16).map_err(|_| bad("key ID is not hex"))?;
    let material = STANDARD
        .decode(b64)
        .map_err(|_| bad("key is not canonical standard base64"))?;
    let Some((&found_type, raw)) = material.split_first() else {
        return Err(bad("empty key"));
    };
    if found_type != sig_type {
        return Err(NoteError::WrongKeyType {
            expected: sig_type,
            found: found_type,
        });
    }
    let raw: [u8; 32] = raw
        .try_into()
        .map_err(|_| bad("Ed25519 public key is not 32 bytes"))?;
    let expected = key_id(name, sig_type, &raw);
    if expected != found {
        return Err(NoteError::KeyIdMismatch { expected, found });
    }
    let key = ed25519_key(&raw)?;
    Ok((name.to_string(), key))
}

/// Decodes an Ed25519 public key, refusing invalid and small-order (weak) points.
pub(crate) fn ed25519_key(raw: &[u8; 32]) -> Result<VerifyingKey, NoteError> {
    let key = VerifyingKey::from_bytes(raw).map_err(|_| NoteError::BadPublicKey {
        reason: "not a valid curve point",
    })?;
    if key.is_weak() {
        return Err(NoteError::BadPublicKey {
            reason: "small-order (weak) key",
        });
    }
    Ok(key)
}

/// Something that can check note signatures by one key, identified by (name, key ID).
pub trait Verifier {
    /// The key name.
    fn name(&self) -> &str;
    /// The key ID.
    fn key_id(&self) -> u32;
    /// Reports whether `sig` (the signature bytes after the 4-byte key ID) is a
    /// valid signature of the note text `text` by this key.
    fn verify(&self, text: &str, sig: &[u8]) -> bool;
}

impl<T: Verifier + ?Sized> Verifier for &T {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn key_id(&self) -> u32 {
        (**self).key_id()
    }
    fn verify(&self, text: &str, sig: &[u8]) -> bool {
        (**self).verify(text, sig)
    }
}

/// An Ed25519 note verifier key (signature type 0x01).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key: VerifyingKey,
    key_id: u32,
}

impl NoteVerifier {
    /// A verifier for `name` and an Ed25519 public key. Refuses invalid names and
    /// weak keys.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, NoteError> {
        check_name(name)?;
        ed25519_key(key.as_bytes())?;
        Ok(NoteVerifier {
            key_id: key_id(name, SIG_TYPE_ED25519, key.as_bytes()),
            name: name.to_string(),
            key,
        })
    }

    /// Parses a vkey `<name>+<hex8 key ID>+<base64(0x01 ‖ public key)>`.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        let (name, key) = parse_vkey(vkey, SIG_TYPE_ED25519)?;
        NoteVerifier::new(&name, key)
    }

    /// The vkey string form.
    pub fn to_vkey(&self) -> String {
        format_vkey(&self.name, SIG_TYPE_ED25519, &self.key)
    }

    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }
}

impl Verifier for NoteVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn verify(&self, text: &str, sig: &[u8]) -> bool {
        let Ok(sig) = Signature::from_slice(sig) else {
            return false;
        };
        self.key.verify_strict(text.as_bytes(), &sig).is_ok()
    }
}

/// One signature line of a note: key name, key ID and the signature bytes that
/// follow the key ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_id: u32,
    pub sig: Vec<u8>,
}

impl NoteSignature {
    /// Parses one signature line, with or without its final `\n`. `line` is the
    /// 1-based line number used in errors.
    pub fn parse_line(text: &str, line: usize) -> Result<Self, NoteError> {
        let bad = |reason| NoteError::MalformedSignatureLine { line, reason };
        let text = text.strip_suffix('\n').unwrap_or(text);
        if let Some(pos) = text.bytes().position(|b| b < 0x20) {
            return Err(NoteError::ControlChar {
                line,
                byte: text.as_bytes()[pos],
            });
        }
        let rest = text
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or(bad("does not start with an em dash and a space"))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(bad("no space between key name and signature"))?;
        if !is_valid_name(name) {
            return Err(bad("invalid key name"));
        }
        if b64.is_empty() {
            return Err(bad("empty signature"));
        }
        let raw = STANDARD
            .decode(b64)
            .map_err(|_| bad("signature is not canonical standard base64"))?;
        if raw.len() < 5 {
            return Err(bad("signature shorter than key ID plus one byte"));
        }
        Ok(NoteSignature {
            name: name.to_string(),
            key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
            sig: raw[4..].to_vec(),
        })
    }

    /// The signature line, ending in `\n`.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.sig.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.sig);
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, STANDARD.encode(raw))
    }
}

/// A parsed signed note: its text (ending in `\n`) and its signature lines, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

/// Checks the characters allowed anywhere in a note: no control character but `\n`.
pub(crate) fn check_chars(s: &str, first_line: usize) -> Result<(), NoteError> {
    let mut line = first_line;
    for b in s.bytes() {
        if b == b'\n' {
            line += 1;
        } else if b < 0x20 {
            return Err(NoteError::ControlChar { line, byte: b });
        }
    }
    Ok(())
}

/// Checks a note text: allowed characters, ends in `\n`.
pub fn check_text(text: &str) -> Result<(), NoteError> {
    check_chars(text, 1)?;
    if !text.ends_with('\n') {
        return Err(NoteError::TextNoFinalNewline);
    }
    Ok(())
}

impl Note {
    /// Parses a signed note strictly (see the module invariants). Does not verify.
    pub fn parse(msg: &str) -> Result<Self, NoteError> {
        check_chars(msg, 1)?;
        let split = msg.rfind("\n\n").ok_or(NoteError::NoBlankLine)?;
        let (text, sigs) = (&msg[..split + 1], &msg[split + 2..]);
        if sigs.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        if !sigs.ends_with('\n') {
            return Err(NoteError::NoFinalNewline);
        }
        // Line number of the first signature line: text lines, then the blank line.
        let first = text.matches('\n').count() + 2;
        let mut signatures = Vec::new();
        for (i, line) in sigs[..sigs.len() - 1].split('\n').enumerate() {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures {
                    max: MAX_SIGNATURES,
                });
            }
            signatures.push(NoteSignature::parse_line(line, first + i)?);
        }
        Ok(Note {
            text: text.to_string(),
            signatures,
        })
    }

    /// Parses a signed note from bytes, refusing invalid UTF-8.
    pub fn parse_bytes(msg: &[u8]) -> Result<Self, NoteError> {
        Note::parse(std::str::from_utf8(msg).map_err(|_| NoteError::NotUtf8)?)
    }

    /// An unsigned note (not encodable until a signature is added).
    pub fn new(text: &str) -> Result<Self, NoteError> {
        check_text(text)?;
        Ok(Note {
            text: text.to_string(),
            signatures: Vec::new(),
        })
    }

    /// The signed text, including its final `\n`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Appends a signature line (e.g. a witness cosignature).
    pub fn push_signature(&mut self, sig: NoteSignature) -> Result<(), NoteError> {
        check_name(&sig.name)?;
        if sig.sig.is_empty() {
            return Err(NoteError::EmptySignature { name: sig.name });
        }
        if self.signatures.len() == MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                max: MAX_SIGNATURES,
            });
        }
        self.signatures.push(sig);
        Ok(())
    }

    /// Appends signature lines as a witness returns them (each `— name b64\n`).
    pub fn push_signature_lines(&mut self, lines: &str) -> Result<(), NoteError> {
        if !lines.ends_with('\n') {
            return Err(NoteError::NoFinalNewline);
        }
        for (i, line) in lines[..lines.len() - 1].split('\n').enumerate() {
            self.push_signature(NoteSignature::parse_line(line, i + 1)?)?;
        }
        Ok(())
    }

    /// Adds an Ed25519 signature by `key` under `name`.
    pub fn sign(&mut self, name: &str, key: &SigningKey) -> Result<(), NoteError> {
        check_name(name)?;
        let sig = key.sign(self.text.as_bytes());
        self.push_signature(NoteSignature {
            name: name.to_string(),
            key_id: key_id(name, SIG_TYPE_ED25519, key.verifying_key().as_bytes()),
            sig: sig.to_bytes().to_vec(),
        })
    }

    /// The encoded note: text, blank line, signature lines. A note without
    /// signatures is refused, since it would not parse back.
    pub fn encode(&self) -> Result<String, NoteError> {
        if self.signatures.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        let mut out = String::with_capacity(self.text.len() + 1 + 100 * self.signatures.len());
        out.push_str(&self.text);
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.to_line());
        }
        Ok(out)
    }

    /// Verifies the note against `known` verifiers and returns the indices (into
    /// `known`, ascending) of those with a valid signature. Signatures whose
    /// (name, key ID) matches no known verifier are ignored; one matching a known
    /// verifier must verify, or the note is rejected; at least one must match.
    pub fn verify<V: Verifier>(&self, known: &[V]) -> Result<Vec<usize>, NoteError> {
        let first = self.text.matches('\n').count() + 2;
        let mut signed = Vec::new();
        for (i, s) in self.signatures.iter().enumerate() {
            let mut matching = known
                .iter()
                .enumerate()
                .filter(|(_, v)| v.name() == s.name && v.key_id() == s.key_id);
            let Some((idx, v)) = matching.next() else {
                continue;
            };
            if matching.next().is_some() {
                return Err(NoteError::AmbiguousKey {
                    name: s.name.clone(),
                    key_id: s.key_id,
                });
            }
            if !v.verify(&self.text, &s.sig) {
                return Err(NoteError::InvalidSignature {
                    name: s.name.clone(),
                    key_id: s.key_id,
                    line: first + i,
                });
            }
            signed.push(idx);
        }
        if signed.is_empty() {
            return Err(NoteError::NoKnownSignature);
        }
        signed.sort_unstable();
        signed.dedup();
        Ok(signed)
    }
}

/// Signs `text` (which must end in `\n` and hold no control character but `\n`) with
/// `key` under `name`, returning the encoded signed note.
pub fn sign(text: &str, name: &str, key: &SigningKey) -> Result<String, NoteError> {
    let mut note = Note::new(text)?;
    note.sign(name, key)?;
    note.encode()
}

/// Parses `msg` and verifies it against `known`; see [`Note::verify`].
pub fn open<V: Verifier>(msg: &str, known: &[V]) -> Result<(Note, Vec<usize>), NoteError> {
    let note = Note::parse(msg)?;
    let signed = note.verify(known)?;
    Ok((note, signed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_line_numbers() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let msg = sign("a\n\nb\n", "example.com/k", &key).unwrap();
        let note = Note::parse(&msg).unwrap();
        assert_eq!(note.text(), "a\n\nb\n");
        assert_eq!(note.encode().unwrap(), msg);
        let bad = format!("{msg}x\n");
        assert_eq!(
            Note::parse(&bad),
            Err(NoteError::MalformedSignatureLine {
                line: 6,
                reason: "does not start with an em dash and a space"
            })
        );
    }

    #[test]
    fn names() {
        assert!(is_valid_name("example.com/log"));
        for n in ["", "a b", "a+b", "a\u{a0}b", "a\u{3000}b", "a\tb"] {
            assert!(!is_valid_name(n), "{n:?}");
        }
    }
}
