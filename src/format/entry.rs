//! The entry: what the ledger appends. Version, sequence number, ledger time, the
//! previous entry's hash, and the signed change as bytes (`docs/FORMAT.md` §3).

use super::change::SignedChange;
use super::codec::{Reader, Writer};
use super::{read_version, tags, FormatError, FORMAT_VERSION, MAX_ENTRY_BYTES};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    /// Ledger time, Unix milliseconds; never earlier than the previous entry's.
    pub time_ms: i64,
    /// Hash of the previous entry; zero for sequence 0.
    pub prev: [u8; 32],
    pub signed: SignedChange,
}

impl Entry {
    pub fn encode(&self) -> Result<Vec<u8>, FormatError> {
        let mut w = Writer::default();
        w.u8(FORMAT_VERSION);
        w.u64(self.seq);
        w.i64(self.time_ms);
        w.bytes(&self.prev);
        w.long(&self.signed.bytes)?;
        if w.buf.len() > MAX_ENTRY_BYTES {
            return Err(FormatError::TooLong("entry", w.buf.len()));
        }
        Ok(w.buf)
    }

    pub fn decode(bytes: &[u8]) -> Result<Entry, FormatError> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(FormatError::TooLong("entry", bytes.len()));
        }
        let mut r = Reader::new(bytes);
        read_version(&mut r)?;
        let seq = r.u64("sequence number")?;
        let time_ms = r.i64("ledger time")?;
        let prev = r.array("previous hash")?;
        let signed = SignedChange::decode(r.long("signed change")?)?;
        r.finish("entry")?;
        Ok(Entry {
            seq,
            time_ms,
            prev,
            signed,
        })
    }
}

/// The chain link: `BLAKE3-derive-key(ENTRY_HASH, entry bytes)`.
pub fn entry_hash(entry_bytes: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key(tags::ENTRY_HASH);
    h.update(entry_bytes);
    *h.finalize().as_bytes()
}
