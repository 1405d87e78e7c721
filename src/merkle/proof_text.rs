//! Text encodings of Merkle proofs bundled with a signed checkpoint.
//!
//! (a) [`TlogProof`], the C2SP tlog-proof format (<https://c2sp.org/tlog-proof>) for
//! an inclusion proof:
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64 opaque extra data>      (optional line)
//! index <leaf index>
//! <base64 hash>                         (zero or more: leaf's sibling up to root's child)
//!
//! <signed checkpoint note, verbatim>
//! ```
//!
//! (b) [`AddCheckpoint`], the C2SP tlog-witness `add-checkpoint` request body
//! (<https://c2sp.org/tlog-witness>) carrying a consistency proof:
//!
//! ```text
//! old <old tree size>
//! <base64 hash>                         (zero to 63 lines)
//!
//! <signed checkpoint note, verbatim>
//! ```
//!
//! Invariants:
//! - Parsing is strict and never panics: exact header, decimals without leading
//!   zeroes, canonical standard base64 of exactly 32 bytes per hash line, every line
//!   ending in `\n`, no control character but `\n`, and a note that parses as a
//!   signed note whose text parses as a checkpoint. Errors give the 1-based line
//!   number in the whole input.
//! - `parse(format(x)) == x` and `format(parse(t)) == t` for every accepted `t`.
//! - Inclusion proofs hold at most 64 hashes (no tree of at most 2^64 − 1 leaves
//!   needs more) and the index must be below the checkpoint's size; consistency
//!   proofs at most 63 (the tlog-witness limit) and the old size must not exceed
//!   the checkpoint's size (the spec's "400 Bad Request" case).
//! - Nothing here verifies signatures or proofs; the checks the spec assigns to the
//!   witness ("422" cases: non-empty proof for old size 0, proof that does not
//!   verify, equal sizes with different roots) are left to the verifier.
//! - The `extra` data is unauthenticated; the spec: "Applications MUST NOT
//!   implicitly trust the extra data".

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::checkpoint::{parse_decimal, parse_hash, Checkpoint};
use super::note::{check_chars, Note, NoteError};
use super::Hash;

/// First line of a tlog-proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";
/// The most hashes an inclusion proof can need (tree sizes are `u64`).
pub const MAX_INCLUSION_HASHES: usize = 64;
/// The most consistency-proof lines tlog-witness allows.
pub const MAX_CONSISTENCY_HASHES: usize = 63;

/// Line-by-line reader that tracks 1-based line numbers.
struct Lines<'a> {
    rest: &'a str,
    line: usize,
}

impl<'a> Lines<'a> {
    /// The next line without its `\n`; a final line without `\n` is an error.
    fn next(&mut self) -> Result<&'a str, NoteError> {
        self.line += 1;
        let Some(end) = self.rest.find('\n') else {
            return Err(proof_err(self.line, "missing line or final newline"));
        };
        let l = &self.rest[..end];
        self.rest = &self.rest[end + 1..];
        Ok(l)
    }
}

fn proof_err(line: usize, reason: &'static str) -> NoteError {
    NoteError::Proof { line, reason }
}

fn bundle_err(reason: &'static str) -> NoteError {
    NoteError::ProofBundle { reason }
}

/// Re-numbers an error from the embedded note so its line is counted in the whole
/// input (`offset` lines come before the note).
fn shift(err: NoteError, offset: usize) -> NoteError {
    match err {
        NoteError::ControlChar { line, byte } => NoteError::ControlChar {
            line: line + offset,
            byte,
        },
        NoteError::MalformedSignatureLine { line, reason } => NoteError::MalformedSignatureLine {
            line: line + offset,
            reason,
        },
        NoteError::Checkpoint { line, reason } => NoteError::Checkpoint {
            line: line + offset,
            reason,
        },
        other => other,
    }
}

/// Reads hash lines up to the blank line, then the note and its checkpoint.
fn read_tail(mut lines: Lines<'_>, max: usize) -> Result<(Vec<Hash>, Note, Checkpoint), NoteError> {
    let mut proof = Vec::new();
    loop {
        let l = lines.next()?;
        if l.is_empty() {
            break;
        }
        if proof.len() == max {
            return Err(proof_err(lines.line, "too many proof hashes"));
        }
        proof.push(parse_hash(l).ok_or(proof_err(
            lines.line,
            "hash is not canonical standard base64 of 32 bytes",
        ))?);
    }
    let offset = lines.line;
    let note = Note::parse(lines.rest).map_err(|e| shift(e, offset))?;
    let checkpoint = Checkpoint::from_note(&note).map_err(|e| shift(e, offset))?;
    Ok((proof, note, checkpoint))
}

fn push_hashes(out: &mut String, proof: &[Hash]) {
    for h in proof {
        out.push_str(&STANDARD.encode(h));
        out.push('\n');
    }
}

/// A C2SP tlog-proof: optional extra data, leaf index, inclusion proof and the
/// signed checkpoint it proves inclusion in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlogProof {
    extra: Option<Vec<u8>>,
    index: u64,
    proof: Vec<Hash>,
    note: Note,
    checkpoint: Checkpoint,
}

impl TlogProof {
    /// Bundles a proof. `extra`, if present, must be non-empty (an absent line means
    /// no extra data); `note` must be signed and hold a checkpoint with
    /// `index < size`; the proof at most 64 hashes.
    pub fn new(
        extra: Option<Vec<u8>>,
        index: u64,
        proof: Vec<Hash>,
        note: Note,
    ) -> Result<Self, NoteError> {
        if extra.as_ref().is_some_and(|e| e.is_empty()) {
            return Err(bundle_err("extra data is empty (omit the line instead)"));
        }
        if proof.len() > MAX_INCLUSION_HASHES {
            return Err(bundle_err("more than 64 inclusion proof hashes"));
        }
        if note.signatures().is_empty() {
            return Err(NoteError::NoSignatures);
        }
        let checkpoint = Checkpoint::from_note(&note)?;
        if index >= checkpoint.size {
            return Err(bundle_err("index is not below the checkpoint size"));
        }
        Ok(TlogProof {
            extra,
            index,
            proof,
            note,
            checkpoint,
        })
    }

    /// Parses a tlog-proof (see the module docs).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        check_chars(text, 1)?;
        let mut lines = Lines {
            rest: text,
            line: 0,
        };
        if lines.next()? != TLOG_PROOF_HEADER {
            return Err(proof_err(1, "first line is not c2sp.org/tlog-proof@v1"));
        }
        let mut l = lines.next()?;
        let mut extra = None;
        if let Some(b64) = l.strip_prefix("extra ") {
            let raw = STANDARD
                .decode(b64)
                .map_err(|_| proof_err(lines.line, "extra is not canonical standard base64"))?;
            if raw.is_empty() {
                return Err(proof_err(lines.line, "extra data is empty"));
            }
            extra = Some(raw);
            l = lines.next()?;
        }
        let index_line = lines.line;
        let index = l
            .strip_prefix("index ")
            .and_then(parse_decimal)
            .ok_or(proof_err(
                index_line,
                "expected \"index \" and a decimal without leading zeroes",
            ))?;
        let (proof, note, checkpoint) = read_tail(lines, MAX_INCLUSION_HASHES)?;
        if index >= checkpoint.size {
            return Err(proof_err(
                index_line,
                "index is not below the checkpoint size",
            ));
        }
        Ok(TlogProof {
            extra,
            index,
            proof,
            note,
            checkpoint,
        })
    }

    /// The text form.
    pub fn format(&self) -> Result<String, NoteError> {
        let mut out = format!("{TLOG_PROOF_HEADER}\n");
        if let Some(extra) = &self.extra {
            out.push_str("extra ");
            out.push_str(&STANDARD.encode(extra));
            out.push('\n');
        }
        out.push_str(&format!("index {}\n", self.index));
        push_hashes(&mut out, &self.proof);
        out.push('\n');
        out.push_str(&self.note.encode()?);
        Ok(out)
    }

    /// The unauthenticated extra data, if any.
    pub fn extra(&self) -> Option<&[u8]> {
        self.extra.as_deref()
    }
    pub fn index(&self) -> u64 {
        self.index
    }
    /// The inclusion proof, from the leaf's sibling up to the root's child.
    pub fn proof(&self) -> &[Hash] {
        &self.proof
    }
    /// The signed checkpoint note (not verified here).
    pub fn note(&self) -> &Note {
        &self.note
    }
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }
}

/// A tlog-witness `add-checkpoint` request body: the size of the checkpoint the
/// witness last cosigned, a consistency proof from it, and the new signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    old_size: u64,
    proof: Vec<Hash>,
    note: Note,
    checkpoint: Checkpoint,
}

impl AddCheckpoint {
    /// Bundles a request. `note` must be signed and hold a checkpoint whose size is
    /// at least `old_size`; the proof at most 63 hashes.
    pub fn new(old_size: u64, proof: Vec<Hash>, note: Note) -> Result<Self, NoteError> {
        if proof.len() > MAX_CONSISTENCY_HASHES {
            return Err(bundle_err("more than 63 consistency proof lines"));
        }
        if note.signatures().is_empty() {
            return Err(NoteError::NoSignatures);
        }
        let checkpoint = Checkpoint::from_note(&note)?;
        if old_size > checkpoint.size {
            return Err(bundle_err("old size exceeds the checkpoint size"));
        }
        Ok(AddCheckpoint {
            old_size,
            proof,
            note,
            checkpoint,
        })
    }

    /// Parses a request body (see the module docs).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        check_chars(text, 1)?;
        let mut lines = Lines {
            rest: text,
            line: 0,
        };
        let old_size = lines
            .next()?
            .strip_prefix("old ")
            .and_then(parse_decimal)
            .ok_or(proof_err(
                1,
                "expected \"old \" and a decimal without leading zeroes",
            ))?;
        let (proof, note, checkpoint) = read_tail(lines, MAX_CONSISTENCY_HASHES)?;
        if old_size > checkpoint.size {
            return Err(proof_err(1, "old size exceeds the checkpoint size"));
        }
        Ok(AddCheckpoint {
            old_size,
            proof,
            note,
            checkpoint,
        })
    }

    /// The request body.
    pub fn format(&self) -> Result<String, NoteError> {
        let mut out = format!("old {}\n", self.old_size);
        push_hashes(&mut out, &self.proof);
        out.push('\n');
        out.push_str(&self.note.encode()?);
        Ok(out)
    }

    pub fn old_size(&self) -> u64 {
        self.old_size
    }
    /// The RFC 6962 consistency proof from `old_size` to the checkpoint's size.
    pub fn proof(&self) -> &[Hash] {
        &self.proof
    }
    /// The signed checkpoint note (not verified here).
    pub fn note(&self) -> &Note {
        &self.note
    }
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }
}
