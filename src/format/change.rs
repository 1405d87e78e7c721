//! The change: what an actor signs, before the ledger assigns it a place.
//!
//! Layout (see `docs/FORMAT.md` §2): version, origin, actor key, action code, record id,
//! record type, case commitment, `record_prev`, `created_on`, payload commitment, side
//! document commitment, actor clock, nonce, body. The signed form is the change bytes
//! followed by a 64-byte Ed25519 signature over `SIGNED_CHANGE_PREFIX || change bytes`.

use super::action::{check_note_name, check_type, Action, CommitmentKind};
use super::codec::{Reader, Writer};
use super::{read_version, tags, Date, FormatError, FORMAT_VERSION, SIGNATURE_LEN};

/// A salted commitment: `BLAKE3-keyed(salt, kind || plaintext)`, with its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Commitment {
    pub kind: CommitmentKind,
    pub hash: [u8; 32],
}

/// An unsigned change, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub origin: String,
    pub actor: [u8; 32],
    pub record: [u8; 16],
    pub record_type: String,
    /// Salted commitment to the agency's case or report number, if any.
    pub case: Option<[u8; 32]>,
    /// Hash of this record's previous change; zero for the first.
    pub record_prev: [u8; 32],
    pub created_on: Date,
    pub payload: Option<Commitment>,
    pub side_doc: Option<[u8; 32]>,
    /// The actor's clock, Unix milliseconds.
    pub clock_ms: i64,
    pub nonce: [u8; 16],
    pub action: Action,
}

impl Change {
    /// The canonical encoding (what is hashed and signed).
    pub fn encode(&self) -> Result<Vec<u8>, FormatError> {
        check_note_name(&self.origin)?;
        check_type(&self.record_type)?;
        let mut w = Writer::default();
        w.u8(FORMAT_VERSION);
        w.short(self.origin.as_bytes())?;
        w.bytes(&self.actor);
        w.u16(self.action.code());
        w.bytes(&self.record);
        w.short(self.record_type.as_bytes())?;
        w.opt32(&self.case);
        w.bytes(&self.record_prev);
        self.created_on.write(&mut w);
        match &self.payload {
            None => w.u8(0),
            Some(c) => {
                w.u8(c.kind.code());
                w.bytes(&c.hash);
            }
        }
        w.opt32(&self.side_doc);
        w.i64(self.clock_ms);
        w.bytes(&self.nonce);
        let mut body = Writer::default();
        self.action.write_body(&mut body)?;
        w.long(&body.buf)?;
        Ok(w.buf)
    }

    /// Decodes canonical change bytes; refuses anything else.
    pub fn decode(bytes: &[u8]) -> Result<Change, FormatError> {
        let mut r = Reader::new(bytes);
        read_version(&mut r)?;
        let origin =
            String::from_utf8(r.short("origin")?.to_vec()).map_err(|_| FormatError::Invalid {
                field: "origin",
                detail: "not UTF-8".into(),
            })?;
        check_note_name(&origin)?;
        let actor = r.array("actor key")?;
        let code = r.u16("action code")?;
        let record = r.array("record id")?;
        let record_type = String::from_utf8(r.short("record type")?.to_vec()).map_err(|_| {
            FormatError::Invalid {
                field: "record type",
                detail: "not UTF-8".into(),
            }
        })?;
        check_type(&record_type)?;
        let case = r.opt32("case commitment")?;
        let record_prev = r.array("record_prev")?;
        let created_on = Date::read(&mut r, "created_on")?;
        let payload = match r.u8("payload kind")? {
            0 => None,
            k => Some(Commitment {
                kind: CommitmentKind::from_code(k)?,
                hash: r.array("payload commitment")?,
            }),
        };
        let side_doc = r.opt32("side document commitment")?;
        let clock_ms = r.i64("actor clock")?;
        let nonce = r.array("nonce")?;
        let body = r.long("body")?;
        let action = Action::read_body(code, body)?;
        r.finish("change")?;
        Ok(Change {
            origin,
            actor,
            record,
            record_type,
            case,
            record_prev,
            created_on,
            payload,
            side_doc,
            clock_ms,
            nonce,
            action,
        })
    }
}

/// The hash that identifies a change: `BLAKE3-derive-key(CHANGE_HASH, change bytes)`.
pub fn change_hash(change_bytes: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key(tags::CHANGE_HASH);
    h.update(change_bytes);
    *h.finalize().as_bytes()
}

/// A change with its signature, as embedded in an entry. The bytes are kept exactly
/// as received; `change` is their decoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedChange {
    pub bytes: Vec<u8>,
    pub change: Change,
}

impl SignedChange {
    /// Splits and decodes `change bytes || signature`. Does not verify the signature.
    pub fn decode(bytes: &[u8]) -> Result<SignedChange, FormatError> {
        if bytes.len() < SIGNATURE_LEN + 1 {
            return Err(FormatError::Truncated {
                field: "signed change",
                offset: bytes.len(),
            });
        }
        let change = Change::decode(&bytes[..bytes.len() - SIGNATURE_LEN])?;
        Ok(SignedChange {
            bytes: bytes.to_vec(),
            change,
        })
    }
    pub fn change_bytes(&self) -> &[u8] {
        &self.bytes[..self.bytes.len() - SIGNATURE_LEN]
    }
    pub fn signature(&self) -> [u8; 64] {
        let mut s = [0u8; 64];
        s.copy_from_slice(&self.bytes[self.bytes.len() - SIGNATURE_LEN..]);
        s
    }
    pub fn hash(&self) -> [u8; 32] {
        change_hash(self.change_bytes())
    }
}

/// The message an actor signs for `change_bytes`.
pub fn signing_message(change_bytes: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(tags::SIGNED_CHANGE_PREFIX.len() + change_bytes.len());
    m.extend_from_slice(tags::SIGNED_CHANGE_PREFIX);
    m.extend_from_slice(change_bytes);
    m
}
