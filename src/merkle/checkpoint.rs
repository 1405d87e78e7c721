//! C2SP transparency-log checkpoints (<https://c2sp.org/tlog-checkpoint>): the note
//! text that a log signs to commit to its Merkle tree head.
//!
//! ```text
//! <origin>\n<tree size, decimal>\n<base64 root hash>\n[<extension line>\n]*
//! ```
//!
//! Invariants:
//! - A body is at least three non-empty lines, each ending in `\n`, with no ASCII
//!   control character other than `\n` (it is note text).
//! - The size is ASCII decimal with no leading zeroes (`0` only for the empty tree)
//!   and fits a `u64`; no sign, no spaces.
//! - The root is canonical standard base64 of exactly 32 bytes.
//! - Extension lines are opaque and non-empty.
//! - `parse(b).to_body() == b` for every accepted `b`, and `to_body` refuses any
//!   value that would not parse back.
//! - The origin is only required to be non-empty: the spec says clients MUST NOT
//!   assume it follows the recommended schema-less-URL form.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::note::{check_chars, Note, NoteError};
use super::Hash;

/// A checkpoint: the log's origin, tree size and root hash, plus opaque extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub extensions: Vec<String>,
}

/// Parses an ASCII decimal with no leading zeroes (the C2SP rule for sizes and
/// indexes). Returns `None` for anything else, including overflow.
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// Decodes one canonical standard-base64 32-byte hash.
pub(crate) fn parse_hash(s: &str) -> Option<Hash> {
    let raw = STANDARD.decode(s).ok()?;
    raw.try_into().ok()
}

impl Checkpoint {
    /// Parses a checkpoint body (the note text, ending in `\n`).
    pub fn parse(body: &str) -> Result<Self, NoteError> {
        check_chars(body, 1)?;
        let err = |line, reason| NoteError::Checkpoint { line, reason };
        let Some(body) = body.strip_suffix('\n') else {
            return Err(err(
                body.matches('\n').count() + 1,
                "does not end in a newline",
            ));
        };
        let lines: Vec<&str> = body.split('\n').collect();
        if lines.len() < 3 {
            return Err(err(lines.len() + 1, "fewer than three lines"));
        }
        if let Some(i) = lines.iter().position(|l| l.is_empty()) {
            return Err(err(i + 1, "empty line"));
        }
        let size = parse_decimal(lines[1]).ok_or(err(
            2,
            "tree size is not a decimal without leading zeroes that fits 64 bits",
        ))?;
        let root = parse_hash(lines[2]).ok_or(err(
            3,
            "root hash is not canonical standard base64 of 32 bytes",
        ))?;
        Ok(Checkpoint {
            origin: lines[0].to_string(),
            size,
            root,
            extensions: lines[3..].iter().map(|l| l.to_string()).collect(),
        })
    }

    /// The body (note text). Refuses an empty origin or extension line, or one
    /// holding a control character (including `\n`).
    pub fn to_body(&self) -> Result<String, NoteError> {
        let check = |s: &str, line: usize| {
            if s.is_empty() {
                return Err(NoteError::Checkpoint {
                    line,
                    reason: "empty line",
                });
            }
            if s.bytes().any(|b| b < 0x20) {
                return Err(NoteError::Checkpoint {
                    line,
                    reason: "control character or newline inside a line",
                });
            }
            Ok(())
        };
        check(&self.origin, 1)?;
        for (i, e) in self.extensions.iter().enumerate() {
            check(e, 4 + i)?;
        }
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        for e in &self.extensions {
            out.push_str(e);
            out.push('\n');
        }
        Ok(out)
    }

    /// The checkpoint in a parsed note's text (does not verify the note).
    pub fn from_note(note: &Note) -> Result<Self, NoteError> {
        Checkpoint::parse(note.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal() {
        assert_eq!(parse_decimal("0"), Some(0));
        assert_eq!(parse_decimal("18446744073709551615"), Some(u64::MAX));
        for s in [
            "",
            "00",
            "01",
            "+1",
            "-0",
            " 1",
            "1 ",
            "18446744073709551616",
            "1_0",
        ] {
            assert_eq!(parse_decimal(s), None, "{s:?}");
        }
    }
}
