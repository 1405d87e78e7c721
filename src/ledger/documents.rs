//! Content-addressed documents: adopted schedules, purge plans, disposal orders and
//! destruction certificates, kept in `DIR/documents/<hex BLAKE3>`.
//!
//! Invariants:
//! - A document file is durable (written to a temporary file, fsynced, renamed, folder
//!   fsynced) before any entry that commits to its hash is appended, like attachments.
//! - A document is never changed: its name is its hash, and reading checks the hash.
//! - Documents are public evidence of what was in force or decided; nothing secret goes
//!   in them (record ids, types, items and dates are already visible in the log).

use std::io::Write;
use std::path::PathBuf;

use super::{Ledger, LedgerError};

/// The folder's name inside the ledger folder.
pub const FOLDER: &str = "documents";

impl Ledger {
    fn document_path(&self, hash: &[u8; 32]) -> PathBuf {
        self.dir.join(FOLDER).join(hex::encode(hash))
    }

    /// Keeps `bytes` durably under their BLAKE3 hash and returns it. Keeping the same
    /// document twice is harmless.
    pub fn put_document(&self, bytes: &[u8]) -> Result<[u8; 32], LedgerError> {
        let hash: [u8; 32] = blake3::hash(bytes).into();
        let path = self.document_path(&hash);
        if path.is_file() && self.document(&hash).is_ok() {
            return Ok(hash);
        }
        let dir = self.dir.join(FOLDER);
        let io = |p: &std::path::Path| {
            let p = p.to_path_buf();
            move |e| LedgerError::Io(p, e)
        };
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let tmp = dir.join(format!(
            "tmp-{}",
            hex::encode(crate::crypto::random::<16>())
        ));
        let written = std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(bytes).and_then(|_| f.sync_all()));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(LedgerError::Io(tmp, e));
        }
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        std::fs::File::open(&dir)
            .and_then(|f| f.sync_all())
            .map_err(io(&dir))?;
        Ok(hash)
    }

    /// The document with this hash; refuses a missing or altered one.
    pub fn document(&self, hash: &[u8; 32]) -> Result<Vec<u8>, LedgerError> {
        let path = self.document_path(hash);
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => LedgerError::NoDocument(hex::encode(hash)),
            _ => LedgerError::Io(path.clone(), e),
        })?;
        if <[u8; 32]>::from(blake3::hash(&bytes)) != *hash {
            return Err(LedgerError::Invalid(format!(
                "document {} was altered: its bytes no longer hash to its name",
                hex::encode(hash)
            )));
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_round_trip_and_refuse_alteration() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("l");
        let admin = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let l = Ledger::init(
            &dir,
            &admin,
            super::super::InitOptions {
                origin: "pd.example/docs".into(),
                admin_person: "A-1".into(),
                settings: Default::default(),
                ledger_key_path: None,
            },
        )
        .unwrap();
        let h = l.put_document(b"schedule v1").unwrap();
        assert_eq!(l.put_document(b"schedule v1").unwrap(), h);
        assert_eq!(l.document(&h).unwrap(), b"schedule v1");
        std::fs::write(dir.join(FOLDER).join(hex::encode(h)), b"schedule v2").unwrap();
        let e = l.document(&h).unwrap_err().to_string();
        assert!(e.contains("altered"), "{e}");
        assert!(l.document(&[0; 32]).is_err());
    }
}
