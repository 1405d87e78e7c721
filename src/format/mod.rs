//! The bytes that are hashed and signed: changes, entries, and their typed bodies.
//!
//! Everything here is hand-written, deterministic and versioned; nothing is derived
//! with serde. `docs/FORMAT.md` is the specification and `tests/vectors/` pins it.
//!
//! Invariants:
//! - Encoding is a function: one value has exactly one encoding.
//! - Decoding accepts only canonical encodings and refuses trailing bytes, so
//!   `encode(decode(b)) == b` for every accepted `b`. Stored bytes are what is hashed
//!   and signed; nothing is ever re-serialised for verification.
//! - Decoding never panics, whatever the input.

pub mod action;
pub mod change;
mod codec;
pub mod entry;

pub use action::{
    AccessTarget, Action, CommitmentKind, DisposalKind, HoldKind, HoldScope, RecordStatus, Role,
};
pub use change::{Change, Commitment, SignedChange};
pub use codec::{Reader, Writer};
pub use entry::Entry;

/// The format version written by this build, in every change and entry.
pub const FORMAT_VERSION: u8 = 1;
/// The largest encoded entry, in bytes (the C2SP tlog-tiles entry bundle limit).
pub const MAX_ENTRY_BYTES: usize = 65_535;
/// Ed25519 signature length.
pub const SIGNATURE_LEN: usize = 64;

/// Domain-separation contexts (BLAKE3 `derive_key` mode) and the signature prefix.
pub mod tags {
    /// BLAKE3 derive-key context for the hash of an unsigned change (its identity).
    pub const CHANGE_HASH: &str = "blotter 2026 change v1";
    /// BLAKE3 derive-key context for the hash of an entry (the chain link).
    pub const ENTRY_HASH: &str = "blotter 2026 entry v1";
    /// Prefix of the message an actor signs: `SIGNED_CHANGE_PREFIX || change bytes`.
    pub const SIGNED_CHANGE_PREFIX: &[u8] = b"blotter change signature v1\0";
}

/// A calendar date (proleptic Gregorian), encoded as year `u16`, month `u8`, day `u8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// Builds a date, refusing one that does not exist in the calendar.
    pub fn new(year: u16, month: u8, day: u8) -> Result<Self, FormatError> {
        let y = i16::try_from(year)
            .map_err(|_| FormatError::BadDate(format!("{year}-{month}-{day}")))?;
        jiff::civil::Date::new(y, month as i8, day as i8)
            .map_err(|_| FormatError::BadDate(format!("{year:04}-{month:02}-{day:02}")))?;
        Ok(Date { year, month, day })
    }
    pub fn to_civil(self) -> jiff::civil::Date {
        // Validated at construction and at decoding.
        jiff::civil::Date::new(self.year as i16, self.month as i8, self.day as i8)
            .unwrap_or(jiff::civil::Date::MIN)
    }
    pub fn from_civil(d: jiff::civil::Date) -> Result<Self, FormatError> {
        let year = u16::try_from(d.year()).map_err(|_| FormatError::BadDate(d.to_string()))?;
        Date::new(year, d.month() as u8, d.day() as u8)
    }
    pub(crate) fn write(&self, w: &mut Writer) {
        w.u16(self.year);
        w.u8(self.month);
        w.u8(self.day);
    }
    pub(crate) fn read(r: &mut Reader<'_>, what: &'static str) -> Result<Self, FormatError> {
        let year = r.u16(what)?;
        let month = r.u8(what)?;
        let day = r.u8(what)?;
        Date::new(year, month, day)
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl std::str::FromStr for Date {
    type Err = FormatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let d: jiff::civil::Date = s
            .parse()
            .map_err(|_| FormatError::BadDate(format!("{s:?} (expected YYYY-MM-DD)")))?;
        Date::from_civil(d)
    }
}

/// Why bytes are not a valid change or entry.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    #[error("truncated: {field} runs past the end (at byte {offset})")]
    Truncated { field: &'static str, offset: usize },
    #[error("{count} trailing byte(s) after the {what}")]
    TrailingBytes { what: &'static str, count: usize },
    #[error("non-canonical {field} at byte {offset}: {detail}")]
    NonCanonical {
        field: &'static str,
        offset: usize,
        detail: String,
    },
    #[error("format version {0} was written by a newer blotter; upgrade to read it")]
    NewerVersion(u8),
    #[error("unknown format version {0}")]
    UnknownVersion(u8),
    #[error("unknown action code {0:#06x} (reserved for a later version)")]
    UnknownAction(u16),
    #[error("{0} is too long ({1} bytes)")]
    TooLong(&'static str, usize),
    #[error("invalid date {0}")]
    BadDate(String),
    #[error("invalid {field}: {detail}")]
    Invalid { field: &'static str, detail: String },
}

/// Reads a version byte, distinguishing "newer than us" from garbage.
pub(crate) fn read_version(r: &mut Reader<'_>) -> Result<u8, FormatError> {
    let v = r.u8("version")?;
    match v {
        FORMAT_VERSION => Ok(v),
        0 => Err(FormatError::UnknownVersion(v)),
        v if v > FORMAT_VERSION && v < 0x80 => Err(FormatError::NewerVersion(v)),
        v => Err(FormatError::UnknownVersion(v)),
    }
}

/// Checks a record type or other identifier: 1 to 32 of `[a-z0-9-]`, starting with a letter.
pub fn check_name(field: &'static str, s: &str) -> Result<(), FormatError> {
    let ok = !s.is_empty()
        && s.len() <= 32
        && s.as_bytes()[0].is_ascii_lowercase()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(FormatError::Invalid {
            field,
            detail: format!(
                "{s:?} must be 1-32 characters of a-z, 0-9 and '-', starting with a letter"
            ),
        })
    }
}
