//! The store: the ONLY module that knows sled.
//!
//! One sled tree with one-byte key prefixes ([`Space`]), so that a batch spanning
//! entries, indexes and sealed content is applied atomically with `apply_batch`.
//!
//! Durability protocol (`docs/DURABILITY.md`): [`Store::commit`] applies the batch,
//! calls sled's `flush`, then `fsync`s sled's data file and its directory. Only then
//! does it return, and only then may a caller acknowledge the writes.
//! [`Store::copy_to`] (`copy.rs`) copies every row into a new store, made durable the
//! same way, for a backup.
//!
//! Invariants: entries are never overwritten or removed by any method here; the store
//! holds the sled lock, so there is one writer per ledger.

mod copy;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Version of the store layout, kept under `Space::Meta` / `store-version`.
///
/// 1: record states (`Space::Record`) as JSON. 2: record states in the binary encoding
/// of `ledger/state/encoding.rs`. 3: a history row's value names what its change stored
/// beside the log (`ledger/history.rs`); rows written before are empty and stay so (the
/// reader falls back to the entry), so 2 → 3 rewrites nothing but the mark. 4: sealed
/// rows (`Space::Sealed`) keyed by record id ‖ change hash ‖ kind (was change hash ‖
/// kind), change rows (`Space::Change`) by record id ‖ change hash (was change hash).
/// The store refuses a newer layout; the ledger migrates an older one when it opens it
/// (`ledger/layout.rs`, [`Store::version`], [`Batch::mark_current`]).
pub const STORE_VERSION: u64 = 4;

const VERSION_KEY: &[u8] = b"store-version";

/// The key spaces. The byte is the key prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Space {
    /// name → value: store version, origin, head.
    Meta = b'M',
    /// seq (u64 BE) → entry bytes.
    Entry = b'E',
    /// record id || change hash → seq (u64 BE) (layout 4; change hash → seq before).
    Change = b'C',
    /// record id → record state (not secret).
    Record = b'R',
    /// record id || seq → what the change stored beside the log (`ledger/history.rs`;
    /// empty if written before layout 3): a record's history.
    History = b'H',
    /// record id → data key wrapped by an epoch key.
    DataKey = b'K',
    /// record id || change hash || kind → sealed salt || content (layout 4; change
    /// hash || kind before).
    Sealed = b'P',
    /// record id → sealed destroyable metadata (case number, source references).
    Destroyable = b'D',
    /// keyed hash of a case number || record id → ().
    CaseIndex = b'N',
    /// keyed hash of a source reference → value.
    Source = b'S',
    /// actor key → key state.
    Key = b'A',
    /// level (u8) || index (u64 BE) → SHA-256 hash of a complete Merkle tree node.
    Tree = b'T',
    /// tree size (u64 BE) → a signed checkpoint note (with any witness cosignatures).
    Checkpoint = b'Q',
    /// witness key → witness registration.
    Witness = b'W',
    /// record id → destruction journal: the index rows (`N`, `S`) to delete once the
    /// record's data key is gone, found while it could still be read.
    Destroying = b'X',
    /// `r` ‖ record id ‖ hold id, or `c` ‖ keyed hash of a case number ‖ hold id → ():
    /// the active legal holds (removed at release).
    Hold = b'L',
    /// plan or order record id ‖ record id → JSON of the planned disposition: what an
    /// approved plan or order may dispose.
    Member = b'Y',
    /// record type ‖ 0x00 ‖ record id → (): the ledger's own schedule, hold, plan and
    /// order records, by type (records made before this index existed are not in it).
    Internal = b'I',
    /// record id → authority record id: disposed, data not yet destroyed (a crash
    /// between the disposal entry and the destruction leaves this to resume from).
    Pending = b'Z',
}

/// A key (without its space prefix) and its value.
pub type KeyValue = (Vec<u8>, Vec<u8>);

fn key(space: Space, k: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + k.len());
    v.push(space as u8);
    v.extend_from_slice(k);
    v
}

/// The file names in sled's `blobs/` folder (empty if it does not exist).
fn blob_names(dir: &Path) -> std::collections::HashSet<std::ffi::OsString> {
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default()
}

/// Deletes sled's partial snapshot files in `dir`; returns how many.
fn remove_partial_snapshots(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.filter_map(Result::ok)
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with("snap.") && n.ends_with(".generating")
        })
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the ledger at {dir} is in use by another process ({holder}); stop it, or use the daemon (`blotter serve`) for concurrent use")]
    Locked { dir: PathBuf, holder: String },
    #[error("store at {dir}: {detail}")]
    Sled { dir: PathBuf, detail: String },
    #[error("store at {dir}: {source}")]
    Io {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "store at {dir} has layout version {found}, written by a newer blotter; upgrade to open it"
    )]
    Newer { dir: PathBuf, found: u64 },
    #[error("{dir} already exists; a copy of the store goes into a new folder")]
    Exists { dir: PathBuf },
}

/// Writes gathered for one atomic, durable commit.
#[derive(Default)]
pub struct Batch {
    inner: sled::Batch,
    len: usize,
}

impl Batch {
    pub fn put(&mut self, space: Space, k: &[u8], v: &[u8]) {
        self.inner.insert(key(space, k), v);
        self.len += 1;
    }
    /// Removes a key. Never used on `Space::Entry` (INVARIANT: append-only).
    pub fn remove(&mut self, space: Space, k: &[u8]) {
        debug_assert!(space != Space::Entry);
        self.inner.remove(key(space, k));
        self.len += 1;
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Records the store as being of the current layout, [`STORE_VERSION`] (the last
    /// write of a migration).
    pub fn mark_current(&mut self) {
        self.put(Space::Meta, VERSION_KEY, &STORE_VERSION.to_be_bytes());
    }
}

pub struct Store {
    dir: PathBuf,
    db: sled::Db,
    data_file: File,
    dir_file: File,
    /// Names of sled's large-item files (`blobs/`) already fsynced.
    synced_blobs: std::sync::Mutex<std::collections::HashSet<std::ffi::OsString>>,
    /// The layout version found at open (a new store is created at the current one).
    version: u64,
}

impl Store {
    /// Opens (or creates) the store in `dir`, waiting up to `wait` for another process's lock.
    pub fn open(dir: &Path, wait: Duration) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            dir: dir.into(),
            source,
        })?;
        let start = Instant::now();
        let holder_file = dir.join("holder");
        let mut cleaned = false;
        let db = loop {
            // 128 MiB: below it the daemon's writer re-reads and re-decodes evicted
            // pages on every batch (32 MiB cost it about 10 % of its appends/s,
            // docs/PERFORMANCE.md).
            let cfg = sled::Config::new()
                .path(dir)
                .cache_capacity(128 * 1024 * 1024)
                .mode(sled::Mode::HighThroughput)
                .flush_every_ms(None);
            match cfg.open() {
                Ok(db) => break db,
                // A process killed while sled wrote a snapshot leaves `snap.*.generating`,
                // which sled 0.34 then tries to read (spacejam/sled#1527). Only after that
                // failure (so this process held the lock) are such files removed, once.
                Err(sled::Error::Corruption { .. })
                    if !cleaned && remove_partial_snapshots(dir) > 0 =>
                {
                    cleaned = true;
                }
                Err(sled::Error::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.to_string().contains("lock") =>
                {
                    if start.elapsed() >= wait {
                        let holder = std::fs::read_to_string(&holder_file)
                            .map(|s| s.trim().to_string())
                            .unwrap_or_else(|_| "unknown process".into());
                        return Err(StoreError::Locked {
                            dir: dir.into(),
                            holder,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => {
                    return Err(StoreError::Sled {
                        dir: dir.into(),
                        detail: e.to_string(),
                    })
                }
            }
        };
        let _ = std::fs::write(&holder_file, format!("pid {}", std::process::id()));
        let io = |source| StoreError::Io {
            dir: dir.into(),
            source,
        };
        let data_file = File::open(dir.join("db")).map_err(io)?;
        let dir_file = File::open(dir).map_err(io)?;
        let mut store = Store {
            synced_blobs: std::sync::Mutex::new(blob_names(&dir.join("blobs"))),
            dir: dir.into(),
            db,
            data_file,
            dir_file,
            version: STORE_VERSION,
        };
        match store.get(Space::Meta, VERSION_KEY)? {
            None => {
                let mut b = Batch::default();
                b.mark_current();
                store.commit(b)?;
            }
            Some(v) => {
                let found = v
                    .as_slice()
                    .try_into()
                    .map(u64::from_be_bytes)
                    .unwrap_or(u64::MAX);
                if found > STORE_VERSION {
                    return Err(StoreError::Newer {
                        dir: dir.into(),
                        found,
                    });
                }
                store.version = found;
            }
        }
        Ok(store)
    }

    fn sled_err(&self, e: sled::Error) -> StoreError {
        StoreError::Sled {
            dir: self.dir.clone(),
            detail: e.to_string(),
        }
    }

    pub fn get(&self, space: Space, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.db
            .get(key(space, k))
            .map(|o| o.map(|v| v.to_vec()))
            .map_err(|e| self.sled_err(e))
    }

    /// Entries with `seq >= from`, in key order: `(stored key seq, bytes)`.
    pub fn entries(
        &self,
        from: u64,
    ) -> impl Iterator<Item = Result<(u64, Vec<u8>), StoreError>> + '_ {
        self.db
            .range(key(Space::Entry, &from.to_be_bytes())..vec![Space::Entry as u8 + 1])
            .map(move |r| {
                let (k, v) = r.map_err(|e| self.sled_err(e))?;
                let seq = k
                    .get(1..9)
                    .and_then(|s| s.try_into().ok())
                    .map(u64::from_be_bytes)
                    .unwrap_or(u64::MAX);
                Ok((seq, v.to_vec()))
            })
    }

    /// The `(key without prefix, value)` with the greatest key in `space`, if any.
    pub fn last(&self, space: Space) -> Result<Option<KeyValue>, StoreError> {
        match self.db.scan_prefix([space as u8]).next_back() {
            None => Ok(None),
            Some(r) => {
                let (k, v) = r.map_err(|e| self.sled_err(e))?;
                Ok(Some((k[1..].to_vec(), v.to_vec())))
            }
        }
    }

    /// Every `(key without prefix, value)` in `space` whose key starts with `prefix`.
    pub fn scan(
        &self,
        space: Space,
        prefix: &[u8],
    ) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>> + '_ {
        self.db.scan_prefix(key(space, prefix)).map(move |r| {
            let (k, v) = r.map_err(|e| self.sled_err(e))?;
            Ok((k[1..].to_vec(), v.to_vec()))
        })
    }

    /// Applies `batch` atomically and durably (flush, then fsync of data file and directory).
    pub fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.db
            .apply_batch(batch.inner)
            .map_err(|e| self.sled_err(e))?;
        self.sync()
    }

    /// Makes everything applied so far durable: sled's `flush`, then `fsync` of its data
    /// file, of its new large-item files and their folder, and of the store's folder
    /// (`docs/DURABILITY.md`).
    fn sync(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(|e| self.sled_err(e))?;
        let io = |source| StoreError::Io {
            dir: self.dir.clone(),
            source,
        };
        self.data_file.sync_all().map_err(io)?;
        self.sync_new_blobs().map_err(io)?;
        self.dir_file.sync_all().map_err(io)?;
        Ok(())
    }

    /// fsyncs every file sled wrote under `blobs/` (items over its large-item threshold)
    /// since the last commit, then that directory.
    ///
    /// INVARIANT: sled's blob files are written once and never modified, so a name synced
    /// once stays synced.
    fn sync_new_blobs(&self) -> std::io::Result<()> {
        let dir = self.dir.join("blobs");
        let mut synced = self
            .synced_blobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut any = false;
        for name in blob_names(&dir) {
            if !synced.contains(&name) {
                match File::open(dir.join(&name)) {
                    Ok(f) => f.sync_all()?,
                    // sled removed a superseded blob meanwhile.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                }
                synced.insert(name);
                any = true;
            }
        }
        if any {
            File::open(&dir)?.sync_all()?;
        }
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The layout version the store had when opened. Below [`STORE_VERSION`], the
    /// caller migrates it and commits [`Batch::mark_current`] last.
    pub fn version(&self) -> u64 {
        self.version
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_is_visible_after_reopen() {
        let d = tempfile::tempdir().unwrap();
        {
            let s = Store::open(d.path(), Duration::ZERO).unwrap();
            let mut b = Batch::default();
            b.put(Space::Entry, &0u64.to_be_bytes(), b"zero");
            b.put(Space::Entry, &1u64.to_be_bytes(), b"one");
            s.commit(b).unwrap();
        }
        let s = Store::open(d.path(), Duration::from_secs(5)).unwrap();
        let all: Vec<_> = s.entries(0).map(|r| r.unwrap()).collect();
        assert_eq!(all, vec![(0, b"zero".to_vec()), (1, b"one".to_vec())]);
        assert_eq!(s.entries(1).count(), 1);
    }

    /// A value over sled's large-item threshold goes to its own file under `blobs/`;
    /// the commit fsyncs it and remembers it.
    #[test]
    fn large_items_are_synced_and_survive_reopen() {
        let d = tempfile::tempdir().unwrap();
        let big = vec![7u8; 600 * 1024];
        {
            let s = Store::open(d.path(), Duration::ZERO).unwrap();
            let mut b = Batch::default();
            b.put(Space::Sealed, b"big", &big);
            s.commit(b).unwrap();
            let synced = s.synced_blobs.lock().unwrap().clone();
            assert_eq!(synced, blob_names(&d.path().join("blobs")));
            assert!(
                !synced.is_empty(),
                "sled wrote no blob file for a 600 KiB value"
            );
        }
        let s = Store::open(d.path(), Duration::from_secs(5)).unwrap();
        assert_eq!(s.get(Space::Sealed, b"big").unwrap().unwrap(), big);
    }

    #[test]
    fn second_open_reports_lock() {
        let d = tempfile::tempdir().unwrap();
        let _s = Store::open(d.path(), Duration::ZERO).unwrap();
        match Store::open(d.path(), Duration::from_millis(200)) {
            Err(StoreError::Locked { .. }) => {}
            other => panic!("expected Locked, got {:?}", other.err()),
        }
    }
}
