//! Copying the whole store into a new one: the store's part of a backup
//! (`ledger/backup.rs`, `docs/BACKUP.md`).
//!
//! Invariants:
//! - The copy holds every row of the store, byte for byte, as one read transaction saw
//!   them: a consistent snapshot of the store when the copy began, whatever commits
//!   meanwhile (`Ledger::backup` also takes `&self`, every write of the ledger `&mut
//!   self`).
//! - The copy is durable when [`Store::copy_to`] returns: its last transaction is
//!   committed like [`Store::commit`]'s (`Durability::Immediate`, which makes the
//!   earlier, non-durable ones durable too), and once the copy is closed, every file and
//!   folder in it is `fsync`ed.
//! - Memory stays bounded by [`BATCH_BYTES`], not by the size of the store.
//! - The destination must not exist; a failed copy removes it, leaving nothing behind.

use std::path::Path;
use std::time::Duration;

use super::{write, Op, Store, StoreError};

/// Rows go into the copy in transactions of about this many bytes of keys and values.
const BATCH_BYTES: usize = 8 << 20;

impl Store {
    /// Copies every row into a new store at `dir` (module doc); returns the number of
    /// rows. `progress` receives the bytes of keys and values copied so far.
    pub fn copy_to(&self, dir: &Path, progress: &dyn Fn(u64)) -> Result<u64, StoreError> {
        if dir.symlink_metadata().is_ok() {
            return Err(StoreError::Exists { dir: dir.into() });
        }
        let copied = self.copy_rows(dir, progress);
        if copied.is_err() {
            let _ = std::fs::remove_dir_all(dir);
        }
        copied
    }

    fn copy_rows(&self, dir: &Path, progress: &dyn Fn(u64)) -> Result<u64, StoreError> {
        let copy = Store::open(dir, Duration::ZERO)?;
        // `open` named this process in `holder`; nobody holds the copy.
        match std::fs::remove_file(dir.join("holder")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(StoreError::Io {
                    dir: dir.into(),
                    source: e,
                })
            }
            _ => {}
        }
        let (mut rows, mut bytes, mut pending) = (0u64, 0u64, 0usize);
        let mut ops = Vec::new();
        for kv in self.range(vec![], vec![0xff]) {
            let (k, v) = kv?;
            pending += k.len() + v.len();
            rows += 1;
            ops.push(Op::Put(k, v));
            if pending >= BATCH_BYTES {
                write(&copy.db, ops.iter(), redb::Durability::None)
                    .map_err(|e| copy.engine_err(e))?;
                ops.clear();
                bytes += pending as u64;
                pending = 0;
                progress(bytes);
            }
        }
        write(&copy.db, ops.iter(), redb::Durability::Immediate).map_err(|e| copy.engine_err(e))?;
        bytes += pending as u64;
        drop(copy);
        sync_folder(dir).map_err(|source| StoreError::Io {
            dir: dir.into(),
            source,
        })?;
        progress(bytes);
        Ok(rows)
    }
}

/// `fsync`s every file under `dir`, each folder after its contents, `dir` last.
fn sync_folder(dir: &Path) -> std::io::Result<()> {
    for item in std::fs::read_dir(dir)? {
        let item = item?;
        let t = item.file_type()?;
        if t.is_dir() {
            sync_folder(&item.path())?;
        } else if t.is_file() {
            std::fs::File::open(item.path())?.sync_all()?;
        }
    }
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::super::{Batch, Space};
    use super::*;

    #[test]
    fn backup_copy_holds_every_row_and_refuses_an_existing_folder() {
        let d = tempfile::tempdir().unwrap();
        let src = Store::open(&d.path().join("src"), Duration::ZERO).unwrap();
        let mut b = Batch::default();
        for i in 0u64..3000 {
            b.put(Space::Entry, &i.to_be_bytes(), &[i as u8; 100]);
        }
        b.put(Space::Sealed, b"big", &vec![9u8; 600 * 1024]);
        src.commit(b).unwrap();
        let all: Vec<_> = src.range(vec![], vec![0xff]).map(|r| r.unwrap()).collect();

        let to = d.path().join("copy");
        let last = std::cell::Cell::new(0);
        let rows = src.copy_to(&to, &|n| last.set(n)).unwrap();
        assert_eq!(rows, all.len() as u64);
        assert!(last.get() > 600 * 1024, "progress counts bytes");
        assert!(!to.join("holder").exists(), "the copy names no holder");

        let copy = Store::open(&to, Duration::ZERO).unwrap();
        let copied: Vec<_> = copy.range(vec![], vec![0xff]).map(|r| r.unwrap()).collect();
        assert_eq!(copied, all);
        drop(copy);

        match src.copy_to(&to, &|_| {}) {
            Err(StoreError::Exists { dir }) => assert_eq!(dir, to),
            other => panic!("expected Exists, got {other:?}"),
        }
        assert!(
            to.join(super::super::FILE_NAME).is_file(),
            "the existing folder is untouched"
        );
    }

    #[test]
    fn backup_copy_that_fails_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let src = Store::open(&d.path().join("src"), Duration::ZERO).unwrap();
        // The copy cannot be created under a file.
        let file = d.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let to = file.join("copy");
        assert!(src.copy_to(&to, &|_| {}).is_err());
        assert!(!to.exists());
        assert_eq!(std::fs::read(&file).unwrap(), b"x");
    }
}
