//! Archives of inactive records: one file, `tar | zstd | age`, holding a BagIt bag
//! (RFC 8493) that proves its own integrity against the ledger's verifier key.
//! The layout is docs/FORMAT.md §12.
//!
//! - `export`: selects records and writes the archive, streaming, each stage on its
//!   own thread (`pipe`); a failure leaves no file behind.
//! - `check`: reads an archive in one streaming pass and checks everything an auditor
//!   needs (age and zstd integrity, manifests, signatures, authority, record chains,
//!   openings, inclusion proofs, the checkpoint), naming the first bad file.
//! - `restore`: checks and unpacks into a read-only folder.
//!
//! Invariants:
//! - Nothing in an archive is trusted until checked: `check` never uses `record.json`
//!   or `bag-info.txt` as evidence, only the entries, their proofs and the openings.
//! - Memory is bounded by chunks and by the number of files (the manifest), never by
//!   the size of a record, an attachment or the archive.
//! - `check` needs no ledger: only the file, an age identity and the verifier key.

pub mod bag;
pub mod check;
pub mod export;
mod keys;
pub mod pipe;
pub mod restore;
mod verify;

use std::path::PathBuf;

use crate::ledger::LedgerError;

pub use check::{check_archive, Checked};
pub use export::{export, ExportOptions, Exported, Selection};
pub use restore::restore;

/// What went wrong with an archive.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The archive is wrong (altered, truncated, incomplete, not this ledger's): exit 1.
    #[error("{0}")]
    Wrong(String),
    /// The check or command could not run (missing file, wrong identity): exit 2.
    #[error("{0}")]
    Unusable(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// A stage of the archive stream failed (disk full, a broken pipe).
    #[error("archive stream: {0}")]
    Stream(#[from] std::io::Error),
}

impl ArchiveError {
    pub(crate) fn wrong(s: impl Into<String>) -> Self {
        ArchiveError::Wrong(s.into())
    }
}

/// Where age identities and recipients come from.
pub mod keys_io {
    use std::path::Path;

    use super::ArchiveError;

    /// Reads an age identity file (`age-keygen` format; several identities allowed).
    pub fn identities(
        path: &Path,
    ) -> Result<Vec<Box<dyn age::Identity + Send + Sync>>, ArchiveError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ArchiveError::Unusable(format!("{}: {e}", path.display())))?;
        let mut out: Vec<Box<dyn age::Identity + Send + Sync>> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let id: age::x25519::Identity = line.parse().map_err(|_| {
                ArchiveError::Unusable(format!(
                    "{} line {}: not an age X25519 identity (AGE-SECRET-KEY-1…)",
                    path.display(),
                    i + 1
                ))
            })?;
            out.push(Box::new(id));
        }
        if out.is_empty() {
            return Err(ArchiveError::Unusable(format!(
                "{}: no age identity in it",
                path.display()
            )));
        }
        Ok(out)
    }

    /// Writes a new age identity file (`age-keygen` format), 0600, never over an
    /// existing file.
    pub fn write_identity(path: &Path, id: &age::x25519::Identity) -> Result<(), ArchiveError> {
        use age::secrecy::ExposeSecret;
        use std::io::Write;
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let text = format!(
            "# public key: {}\n{}\n",
            id.to_public(),
            id.to_string().expose_secret()
        );
        o.open(path)
            .and_then(|mut f| {
                f.write_all(text.as_bytes())?;
                f.sync_all()
            })
            .map_err(|e| ArchiveError::Io(path.to_path_buf(), e))
    }

    /// Parses age X25519 recipients (`age1…`).
    pub fn recipients(texts: &[String]) -> Result<Vec<age::x25519::Recipient>, ArchiveError> {
        texts
            .iter()
            .map(|t| {
                t.trim().parse().map_err(|_| {
                    ArchiveError::Unusable(format!("{t:?} is not an age X25519 recipient (age1…)"))
                })
            })
            .collect()
    }
}
