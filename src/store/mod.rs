//! The store: the ONLY module that knows the storage engine (redb; sled before layout 5).
//!
//! One redb table of byte keys and values, the keys with one-byte prefixes ([`Space`]),
//! in one file, `rows.redb`, in the store's folder, so that a batch spanning entries,
//! indexes and sealed content is one write transaction: all there or not at all.
//!
//! Durability protocol (`docs/DURABILITY.md`): [`Store::commit`] commits the batch's
//! transaction with redb's `Durability::Immediate`, which returns once the file is
//! `fsync`ed (its pages and the checksummed commit slot that makes them current). Every
//! open `fsync`s the store's folder, so the file's name is durable too. Only then may a caller
//! acknowledge the writes. [`Store::copy_to`] (`copy.rs`) copies every row into a new
//! store, made durable the same way, for a backup. A store that sled wrote (layout 4
//! and older) is converted into a redb file the first time it is opened (`legacy.rs`).
//!
//! Memory: redb keeps a cache of at most [`CACHE_BYTES`] and a few bits per page of its
//! file for its allocator; nothing per row or per page is kept in memory, so memory
//! stays bounded by the batch and the cache as the ledger grows (DESIGN invariant 7,
//! which sled 0.34 broke: it keeps state for every page of its tree in memory).
//!
//! Invariants: entries are never overwritten or removed by any method here; the store
//! holds redb's lock on its file, so there is one writer per ledger.

mod copy;
mod legacy;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use redb::{ReadableDatabase, TableDefinition};

/// The one table: prefixed key → value.
const ROWS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("rows");

/// The store's file in its folder.
pub const FILE_NAME: &str = "rows.redb";

/// redb's cache. Memory stays about this plus the batch in flight, whatever the
/// size of the ledger (docs/PERFORMANCE.md).
const CACHE_BYTES: usize = 128 << 20;

/// Version of the store layout, kept under `Space::Meta` / `store-version`.
///
/// 1: record states (`Space::Record`) as JSON. 2: record states in the binary encoding
/// of `ledger/state/encoding.rs`. 3: a history row's value names what its change stored
/// beside the log (`ledger/history.rs`); rows written before are empty and stay so (the
/// reader falls back to the entry), so 2 → 3 rewrites nothing but the mark. 4: sealed
/// rows (`Space::Sealed`) keyed by record id ‖ change hash ‖ kind (was change hash ‖
/// kind), change rows (`Space::Change`) by record id ‖ change hash (was change hash).
/// 5: the same rows in a redb file instead of a sled database (converted when a sled
/// store is opened, `legacy.rs`, which keeps the rows' layout mark; 4 → 5 then rewrites
/// no row). The store refuses a newer layout; the ledger migrates an older one when it
/// opens it (`ledger/layout.rs`, [`Store::version`], [`Batch::mark_current`]).
pub const STORE_VERSION: u64 = 5;

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

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the ledger at {dir} is in use by another process ({holder}); stop it, or use the daemon (`blotter serve`) for concurrent use")]
    Locked { dir: PathBuf, holder: String },
    #[error("store at {dir}: {detail}")]
    Engine { dir: PathBuf, detail: String },
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

/// One write of a [`Batch`].
enum Op {
    Put(Vec<u8>, Vec<u8>),
    Remove(Vec<u8>),
}

/// Writes gathered for one atomic, durable commit, applied in the order given (a later
/// write of a key wins).
#[derive(Default)]
pub struct Batch {
    ops: Vec<Op>,
}

impl Batch {
    pub fn put(&mut self, space: Space, k: &[u8], v: &[u8]) {
        self.ops.push(Op::Put(key(space, k), v.to_vec()));
    }
    /// Removes a key. Never used on `Space::Entry` (INVARIANT: append-only).
    pub fn remove(&mut self, space: Space, k: &[u8]) {
        debug_assert!(space != Space::Entry);
        self.ops.push(Op::Remove(key(space, k)));
    }
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
    /// Records the store as being of the current layout, [`STORE_VERSION`] (the last
    /// write of a migration).
    pub fn mark_current(&mut self) {
        self.put(Space::Meta, VERSION_KEY, &STORE_VERSION.to_be_bytes());
    }
}

/// A range of rows, or the error that stopped it from starting.
type Rows<'a> = Box<dyn Iterator<Item = Result<KeyValue, StoreError>> + Send + 'a>;

pub struct Store {
    dir: PathBuf,
    db: redb::Database,
    /// The layout version found at open (a new store is created at the current one).
    version: u64,
}

impl Store {
    /// Opens (or creates) the store in `dir`, waiting up to `wait` for another process's
    /// lock. A sled store (layout 4 and older) is converted first (`legacy.rs`), after
    /// `converting` is called with its layout.
    pub fn open_converting(
        dir: &Path,
        wait: Duration,
        converting: &mut dyn FnMut(u64),
    ) -> Result<Store, StoreError> {
        let io = |source| StoreError::Io {
            dir: dir.into(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let file = dir.join(FILE_NAME);
        if !file.exists() && legacy::present(dir) {
            legacy::convert(dir, wait, converting)?;
        }
        let db = open_db(dir, &file, wait)?;
        let _ = std::fs::write(dir.join("holder"), format!("pid {}", std::process::id()));
        // The file's name is durable before anything is acknowledged, whichever open
        // created it.
        File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        // What sled left beside a converted store (a crash before its removal, or an
        // older blotter that opened the folder since and found no ledger).
        legacy::remove_leftovers(dir, wait)?;
        let mut store = Store {
            dir: dir.into(),
            db,
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

    /// [`Store::open_converting`] without a notice.
    pub fn open(dir: &Path, wait: Duration) -> Result<Store, StoreError> {
        Self::open_converting(dir, wait, &mut |_| {})
    }

    fn engine_err(&self, e: impl Into<redb::Error>) -> StoreError {
        engine_err(&self.dir, e)
    }

    fn table(&self) -> Result<redb::ReadOnlyTable<&'static [u8], &'static [u8]>, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.engine_err(e))?;
        tx.open_table(ROWS).map_err(|e| self.engine_err(e))
    }

    pub fn get(&self, space: Space, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let t = self.table()?;
        let v = t
            .get(key(space, k).as_slice())
            .map_err(|e| self.engine_err(e))?;
        Ok(v.map(|g| g.value().to_vec()))
    }

    /// The rows with keys in `lo..hi` (prefixes included), in key order, from one
    /// consistent snapshot of the store.
    fn range(&self, lo: Vec<u8>, hi: Vec<u8>) -> Rows<'_> {
        let range = self.table().and_then(|t| {
            t.range::<&[u8]>(lo.as_slice()..hi.as_slice())
                .map_err(|e| self.engine_err(e))
        });
        match range {
            Ok(r) => Box::new(r.map(move |kv| {
                let (k, v) = kv.map_err(|e| self.engine_err(e))?;
                Ok((k.value().to_vec(), v.value().to_vec()))
            })),
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }

    /// Entries with `seq >= from`, in key order: `(stored key seq, bytes)`.
    pub fn entries(
        &self,
        from: u64,
    ) -> impl Iterator<Item = Result<(u64, Vec<u8>), StoreError>> + '_ {
        self.range(
            key(Space::Entry, &from.to_be_bytes()),
            space_end(Space::Entry),
        )
        .map(|r| {
            let (k, v) = r?;
            let seq = k
                .get(1..9)
                .and_then(|s| s.try_into().ok())
                .map(u64::from_be_bytes)
                .unwrap_or(u64::MAX);
            Ok((seq, v))
        })
    }

    /// The `(key without prefix, value)` with the greatest key in `space`, if any.
    pub fn last(&self, space: Space) -> Result<Option<KeyValue>, StoreError> {
        let t = self.table()?;
        let mut r = t
            .range::<&[u8]>(key(space, b"").as_slice()..space_end(space).as_slice())
            .map_err(|e| self.engine_err(e))?;
        match r.next_back() {
            None => Ok(None),
            Some(kv) => {
                let (k, v) = kv.map_err(|e| self.engine_err(e))?;
                Ok(Some((k.value()[1..].to_vec(), v.value().to_vec())))
            }
        }
    }

    /// Every `(key without prefix, value)` in `space` whose key starts with `prefix`.
    pub fn scan(
        &self,
        space: Space,
        prefix: &[u8],
    ) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>> + '_ {
        let lo = key(space, prefix);
        let hi = prefix_end(&lo);
        self.range(lo, hi).map(|r| {
            let (mut k, v) = r?;
            k.remove(0);
            Ok((k, v))
        })
    }

    /// Applies `batch` atomically and durably: one redb write transaction, committed
    /// with `Durability::Immediate` (its file `fsync`ed before this returns).
    pub fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        write(&self.db, batch.ops.iter(), redb::Durability::Immediate)
            .map_err(|e| self.engine_err(e))
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

/// Opens or creates the redb file, waiting up to `wait` while another process holds it.
fn open_db(dir: &Path, file: &Path, wait: Duration) -> Result<redb::Database, StoreError> {
    let start = Instant::now();
    loop {
        match redb::Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(file)
        {
            Ok(db) => {
                let tx = db.begin_write().map_err(|e| engine_err(dir, e))?;
                tx.open_table(ROWS).map_err(|e| engine_err(dir, e))?;
                tx.commit().map_err(|e| engine_err(dir, e))?;
                return Ok(db);
            }
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => wait_for_lock(dir, start, wait)?,
            Err(e) => return Err(engine_err(dir, e)),
        }
    }
}

/// Another process holds the store: sleeps a little before the next try, or, once
/// `wait` has passed since `start`, fails naming the holder (`holder`, written by every
/// process once it holds the lock).
fn wait_for_lock(dir: &Path, start: Instant, wait: Duration) -> Result<(), StoreError> {
    if start.elapsed() >= wait {
        let holder = std::fs::read_to_string(dir.join("holder"))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown process".into());
        return Err(StoreError::Locked {
            dir: dir.into(),
            holder,
        });
    }
    std::thread::sleep(Duration::from_millis(100));
    Ok(())
}

/// Applies `ops` in one write transaction of the given durability.
fn write<'a>(
    db: &redb::Database,
    ops: impl Iterator<Item = &'a Op>,
    durability: redb::Durability,
) -> Result<(), redb::Error> {
    let mut tx = db.begin_write()?;
    tx.set_durability(durability)?;
    {
        let mut t = tx.open_table(ROWS)?;
        for op in ops {
            match op {
                Op::Put(k, v) => {
                    t.insert(k.as_slice(), v.as_slice())?;
                }
                Op::Remove(k) => {
                    t.remove(k.as_slice())?;
                }
            }
        }
    }
    tx.commit()?;
    Ok(())
}

fn engine_err(dir: &Path, e: impl Into<redb::Error>) -> StoreError {
    StoreError::Engine {
        dir: dir.into(),
        detail: e.into().to_string(),
    }
}

/// The first key after every key of `space`.
fn space_end(space: Space) -> Vec<u8> {
    vec![space as u8 + 1]
}

/// The first key after every key that starts with `prefix` (`prefix` itself if it is
/// all 0xff bytes, which no space prefix is, so never in practice).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    prefix.to_vec()
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

    #[test]
    fn large_values_survive_reopen() {
        let d = tempfile::tempdir().unwrap();
        let big = vec![7u8; 600 * 1024];
        {
            let s = Store::open(d.path(), Duration::ZERO).unwrap();
            let mut b = Batch::default();
            b.put(Space::Sealed, b"big", &big);
            s.commit(b).unwrap();
        }
        let s = Store::open(d.path(), Duration::from_secs(5)).unwrap();
        assert_eq!(s.get(Space::Sealed, b"big").unwrap().unwrap(), big);
    }

    /// A batch applies its writes in order; scans and `last` see only their space
    /// and prefix.
    #[test]
    fn batches_apply_in_order_and_scans_keep_to_their_prefix() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path(), Duration::ZERO).unwrap();
        let mut b = Batch::default();
        b.put(Space::Record, b"a1", b"first");
        b.put(Space::Record, b"a1", b"second");
        b.put(Space::Record, b"a2", b"x");
        b.put(Space::Record, b"a\xff", b"y");
        b.put(Space::Record, b"b", b"z");
        b.put(Space::History, b"a0", b"other space");
        b.put(Space::Record, b"gone", b"soon");
        b.remove(Space::Record, b"gone");
        s.commit(b).unwrap();
        assert_eq!(s.get(Space::Record, b"a1").unwrap().unwrap(), b"second");
        assert_eq!(s.get(Space::Record, b"gone").unwrap(), None);
        let keys: Vec<_> = s.scan(Space::Record, b"a").map(|r| r.unwrap().0).collect();
        assert_eq!(
            keys,
            vec![b"a1".to_vec(), b"a2".to_vec(), b"a\xff".to_vec()]
        );
        assert_eq!(s.last(Space::Record).unwrap().unwrap().0, b"b");
        assert_eq!(s.last(Space::Tree).unwrap(), None);
        assert_eq!(prefix_end(&[1, 0xff, 0xff]), vec![2]);
    }

    /// A store file that is not a redb file (or is cut short) is refused with an error
    /// that names the store, and left as it was.
    #[test]
    fn a_damaged_store_file_is_refused_and_left_alone() {
        let d = tempfile::tempdir().unwrap();
        {
            let s = Store::open(d.path(), Duration::ZERO).unwrap();
            let mut b = Batch::default();
            b.put(Space::Entry, &0u64.to_be_bytes(), &[1u8; 5000]);
            s.commit(b).unwrap();
        }
        let file = d.path().join(FILE_NAME);
        let whole = std::fs::read(&file).unwrap();
        for cut in [&whole[..100], &b"not a store"[..]] {
            std::fs::write(&file, cut).unwrap();
            match Store::open(d.path(), Duration::ZERO) {
                Err(e @ StoreError::Engine { .. }) => {
                    assert!(
                        e.to_string().contains(&d.path().display().to_string()),
                        "{e}"
                    )
                }
                Err(e) => panic!("expected an engine error, got {e}"),
                Ok(_) => panic!("a damaged store file opened"),
            }
            assert_eq!(std::fs::read(&file).unwrap(), cut);
        }
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
