//! Stores that sled wrote (store layout 4 and older): found, converted into a redb file
//! the first time they are opened, and removed.
//!
//! Invariants:
//! - Before any row moves, the sled store is marked as of layout 5 with the layout it
//!   had as `migrating-from` (durably), so an older blotter refuses it from then on
//!   ("written by a newer blotter") and cannot write to a store that is being, or has
//!   been, converted. The ledger's own migration (`ledger/layout.rs`) then runs from
//!   `migrating-from` on the redb file, as it resumes any interrupted migration.
//! - The conversion copies every row byte for byte (the marks included).
//! - The redb file appears under its final name only once every row is in it and it is
//!   durable (written as `rows.redb.partial`, `fsync`ed, renamed, folder `fsync`ed): a
//!   crash part-way leaves the sled store (marked) and the next open starts again.
//! - sled's files are removed only after that rename. sled files found beside a
//!   `rows.redb` ([`remove_leftovers`]) are removed only if they are a converted store
//!   (marked 5) or hold no ledger (an older blotter opened the folder and found none);
//!   a sled store with a ledger in it there is refused, and nothing is removed.
//! - Memory: the copy holds at most [`BATCH_BYTES`] of rows; opening the sled store
//!   costs what sled 0.34 costs, state for every page of it (docs/PERFORMANCE.md).

use std::path::Path;
use std::time::{Duration, Instant};

use super::{engine_err, key, write, Op, Space, StoreError, FILE_NAME, STORE_VERSION, VERSION_KEY};

/// The `M` key that `ledger/layout.rs` keeps while a migration runs (the layout the
/// store came from).
const MIGRATING_FROM: &[u8] = b"migrating-from";

/// Rows go into the redb file in transactions of about this many bytes.
const BATCH_BYTES: usize = 8 << 20;

/// What sled keeps in a store folder: files, then folders.
const SLED_FILES: [&str; 2] = ["conf", "db"];
const SLED_DIRS: [&str; 1] = ["blobs"];

/// Whether `dir` holds a sled database.
pub(super) fn present(dir: &Path) -> bool {
    dir.join("conf").is_file() && dir.join("db").is_file()
}

/// Converts the sled store in `dir` into `dir/rows.redb` (module doc), after calling
/// `converting` with the layout its rows are in.
pub(super) fn convert(
    dir: &Path,
    wait: Duration,
    converting: &mut dyn FnMut(u64),
) -> Result<(), StoreError> {
    let sled = open_sled(dir, wait)?;
    let io = |source| StoreError::Io {
        dir: dir.into(),
        source,
    };
    // Another process may have converted it while this one waited for sled's lock.
    if dir.join(FILE_NAME).exists() {
        return Ok(());
    }
    let sled_err = sled_err(dir, "the sled store");
    let from = mark(&sled, dir)?;
    converting(from);
    tracing::info!(from, "converting the sled store into a redb file");
    let partial = dir.join(format!("{FILE_NAME}.partial"));
    match std::fs::remove_file(&partial) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        _ => {}
    }
    let db = redb::Database::builder()
        .set_cache_size(super::CACHE_BYTES)
        .create(&partial)
        .map_err(|e| engine_err(dir, e))?;
    let (mut ops, mut pending, mut rows) = (Vec::new(), 0usize, 0u64);
    for kv in sled.iter() {
        let (k, v) = kv.map_err(&sled_err)?;
        pending += k.len() + v.len();
        rows += 1;
        ops.push(Op::Put(k.to_vec(), v.to_vec()));
        if pending >= BATCH_BYTES {
            write(&db, ops.iter(), redb::Durability::None).map_err(|e| engine_err(dir, e))?;
            ops.clear();
            pending = 0;
        }
    }
    // A durable commit makes the non-durable ones before it durable too.
    write(&db, ops.iter(), redb::Durability::Immediate).map_err(|e| engine_err(dir, e))?;
    drop(db);
    std::fs::File::open(&partial)
        .and_then(|f| f.sync_all())
        .map_err(io)?;
    std::fs::rename(&partial, dir.join(FILE_NAME)).map_err(io)?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io)?;
    drop(sled);
    tracing::info!(rows, "converted the sled store");
    Ok(())
}

/// Maps a sled error to the store's, saying what was being done.
fn sled_err<'a>(dir: &'a Path, doing: &'a str) -> impl Fn(sled::Error) -> StoreError + 'a {
    move |e| StoreError::Engine {
        dir: dir.into(),
        detail: format!("{doing}: {e}"),
    }
}

/// A meta value of the sled store, as a big-endian u64.
fn meta_u64(sled: &sled::Db, name: &[u8], dir: &Path) -> Result<Option<u64>, StoreError> {
    let v = sled
        .get(key(Space::Meta, name))
        .map_err(sled_err(dir, "the sled store"))?;
    Ok(v.and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes)))
}

/// Marks the sled store as of layout [`STORE_VERSION`], with the layout its rows are in
/// as `migrating-from` (unless a migration had already recorded one), and makes that
/// durable; returns the layout its rows are in. Done already (a conversion interrupted
/// after it), it only reads the mark.
pub(super) fn mark(sled: &sled::Db, dir: &Path) -> Result<u64, StoreError> {
    let version = meta_u64(sled, VERSION_KEY, dir)?.unwrap_or(1);
    let from = meta_u64(sled, MIGRATING_FROM, dir)?.unwrap_or(version);
    if version < STORE_VERSION {
        let mut b = sled::Batch::default();
        b.insert(key(Space::Meta, MIGRATING_FROM), &from.to_be_bytes());
        b.insert(key(Space::Meta, VERSION_KEY), &STORE_VERSION.to_be_bytes());
        let durable = sled
            .apply_batch(b)
            .and_then(|()| sled.flush().map(|_| ()))
            .map_err(sled_err(dir, "marking the sled store"));
        durable?;
        // sled's flush does not reach the disk's cache (docs/DURABILITY.md).
        std::fs::File::open(dir.join("db"))
            .and_then(|f| f.sync_all())
            .map_err(|source| StoreError::Io {
                dir: dir.into(),
                source,
            })?;
    }
    Ok(from)
}

/// sled files beside a `rows.redb` (module doc): removed if they are a converted store
/// or hold no ledger, refused if they hold one.
pub(super) fn remove_leftovers(dir: &Path, wait: Duration) -> Result<(), StoreError> {
    if present(dir) {
        let sled = open_sled(dir, wait)?;
        let version = meta_u64(&sled, VERSION_KEY, dir)?.unwrap_or(1);
        let head = sled
            .get(key(Space::Meta, b"head"))
            .map_err(sled_err(dir, "the sled store"))?;
        drop(sled);
        if version < STORE_VERSION && head.is_some() {
            return Err(StoreError::Engine {
                dir: dir.into(),
                detail: format!(
                    "it holds both {FILE_NAME} and a sled store with a ledger in it (layout \
                     {version}, written by an older blotter after this one converted the \
                     store); move one of them out of the folder"
                ),
            });
        }
    }
    remove(dir).map_err(|source| StoreError::Io {
        dir: dir.into(),
        source,
    })
}

/// Removes sled's files from `dir`.
fn remove(dir: &Path) -> std::io::Result<()> {
    let gone = |r: std::io::Result<()>| match r {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    };
    for name in SLED_FILES {
        gone(std::fs::remove_file(dir.join(name)))?;
    }
    for name in SLED_DIRS {
        gone(std::fs::remove_dir_all(dir.join(name)))?;
    }
    for item in std::fs::read_dir(dir)? {
        let item = item?;
        if item.file_name().to_string_lossy().starts_with("snap.") {
            gone(std::fs::remove_file(item.path()))?;
        }
    }
    Ok(())
}

/// Opens the sled database in `dir`, waiting up to `wait` for another process's lock.
fn open_sled(dir: &Path, wait: Duration) -> Result<sled::Db, StoreError> {
    let start = Instant::now();
    let mut cleaned = false;
    loop {
        let cfg = sled::Config::new()
            .path(dir)
            .cache_capacity(64 * 1024 * 1024)
            .flush_every_ms(None);
        match cfg.open() {
            Ok(db) => return Ok(db),
            // A process killed while sled wrote a snapshot leaves `snap.*.generating`,
            // which sled 0.34 then tries to read (spacejam/sled#1527). Only after that
            // failure (so this process held the lock) are such files removed, once.
            Err(sled::Error::Corruption { .. })
                if !cleaned && remove_partial_snapshots(dir) > 0 =>
            {
                cleaned = true;
            }
            Err(sled::Error::Io(e))
                if e.kind() == std::io::ErrorKind::WouldBlock || e.to_string().contains("lock") =>
            {
                super::wait_for_lock(dir, start, wait)?
            }
            Err(e) => return Err(sled_err(dir, "opening the sled store")(e)),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::super::{Batch, Store};
    use super::*;

    /// A sled store as blotter 4 left it: some rows, a large item in `blobs/`, and a
    /// partial snapshot as a kill during sled's snapshot write leaves. Returns its rows
    /// as the conversion copies them (marked as of layout 5, migrating from 4), in key
    /// order.
    fn sled_store(dir: &Path, rows: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
        let db = sled::Config::new().path(dir).open().unwrap();
        let mut all = vec![
            (key(Space::Meta, VERSION_KEY), 4u64.to_be_bytes().to_vec()),
            (key(Space::Meta, b"head"), vec![1u8; 48]),
        ];
        for i in 0..rows {
            all.push((key(Space::Entry, &i.to_be_bytes()), vec![i as u8; 300]));
        }
        all.push((key(Space::Sealed, b"big"), vec![9u8; 600 * 1024]));
        for (k, v) in &all {
            db.insert(k, v.as_slice()).unwrap();
        }
        db.flush().unwrap();
        drop(db);
        std::fs::write(dir.join("snap.00000000FFFFFFFF.generating"), b"torn").unwrap();
        all[0].1 = STORE_VERSION.to_be_bytes().to_vec();
        all.push((
            key(Space::Meta, MIGRATING_FROM),
            4u64.to_be_bytes().to_vec(),
        ));
        all.sort();
        all
    }

    fn all_rows(s: &Store) -> Vec<(Vec<u8>, Vec<u8>)> {
        s.range(vec![], vec![0xff]).map(|r| r.unwrap()).collect()
    }

    #[test]
    fn a_sled_store_is_converted_once_and_removed() {
        let d = tempfile::tempdir().unwrap();
        // Enough rows for several transactions.
        let rows = sled_store(d.path(), 40_000);
        assert!(present(d.path()));
        let mut seen = vec![];
        let s = Store::open_converting(d.path(), Duration::from_secs(5), &mut |v| seen.push(v))
            .unwrap();
        assert_eq!(seen, vec![4], "the notice names the rows' layout, once");
        assert_eq!(
            all_rows(&s),
            rows,
            "every row, byte for byte, and the marks"
        );
        for gone in ["conf", "db", "blobs", "snap.00000000FFFFFFFF.generating"] {
            assert!(!d.path().join(gone).exists(), "{gone} is removed");
        }
        assert!(!d.path().join("rows.redb.partial").exists());
        drop(s);
        let mut again = vec![];
        let s = Store::open_converting(d.path(), Duration::from_secs(5), &mut |v| again.push(v))
            .unwrap();
        assert!(again.is_empty(), "nothing to convert the second time");
        assert_eq!(s.entries(0).count(), 40_000);
    }

    /// A crash after the mark and part-way through the copy leaves the sled store marked
    /// (an older blotter refuses it: layout 5) and `rows.redb.partial`: the next open
    /// starts again and still knows the layout the rows are in.
    #[test]
    fn an_interrupted_conversion_starts_again() {
        let d = tempfile::tempdir().unwrap();
        let rows = sled_store(d.path(), 100);
        {
            let db = open_sled(d.path(), Duration::from_secs(5)).unwrap();
            assert_eq!(mark(&db, d.path()).unwrap(), 4);
            assert_eq!(
                meta_u64(&db, VERSION_KEY, d.path()).unwrap(),
                Some(STORE_VERSION),
                "what an older blotter reads, and refuses"
            );
            assert_eq!(
                mark(&db, d.path()).unwrap(),
                4,
                "marking again changes nothing"
            );
        }
        std::fs::write(d.path().join("rows.redb.partial"), b"half a file").unwrap();
        let mut seen = vec![];
        let s = Store::open_converting(d.path(), Duration::from_secs(5), &mut |v| seen.push(v))
            .unwrap();
        assert_eq!(seen, vec![4]);
        assert_eq!(all_rows(&s), rows);
    }

    fn redb_store(dir: &Path) {
        let s = Store::open(dir, Duration::ZERO).unwrap();
        let mut b = Batch::default();
        b.put(Space::Entry, &0u64.to_be_bytes(), b"zero");
        s.commit(b).unwrap();
    }

    /// sled files beside a redb store that hold no ledger (an older blotter opened the
    /// folder since), or that are the converted store (a crash before their removal),
    /// are removed and the redb rows stay.
    #[test]
    fn sled_files_beside_a_redb_store_are_removed_if_they_hold_no_ledger() {
        for converted in [false, true] {
            let d = tempfile::tempdir().unwrap();
            redb_store(d.path());
            let db = sled::Config::new().path(d.path()).open().unwrap();
            if converted {
                db.insert(key(Space::Meta, b"head"), vec![1u8; 48]).unwrap();
                mark(&db, d.path()).unwrap();
            }
            drop(db);
            assert!(present(d.path()));
            let s = Store::open(d.path(), Duration::from_secs(5)).unwrap();
            assert!(!present(d.path()), "converted: {converted}");
            assert_eq!(s.entries(0).count(), 1);
            assert_eq!(s.version(), STORE_VERSION);
        }
    }

    /// A sled store with a ledger in it, unmarked, beside a redb store: written by an
    /// older blotter behind this one's back. Neither is chosen or removed.
    #[test]
    fn a_sled_ledger_beside_a_redb_store_is_refused() {
        let d = tempfile::tempdir().unwrap();
        redb_store(d.path());
        let db = sled::Config::new().path(d.path()).open().unwrap();
        db.insert(key(Space::Meta, VERSION_KEY), &4u64.to_be_bytes())
            .unwrap();
        db.insert(key(Space::Meta, b"head"), vec![1u8; 48]).unwrap();
        db.flush().unwrap();
        drop(db);
        match Store::open(d.path(), Duration::from_secs(5)) {
            Err(e @ StoreError::Engine { .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("sled store with a ledger") && msg.contains(FILE_NAME),
                    "{msg}"
                );
            }
            Err(e) => panic!("expected the refusal, got {e}"),
            Ok(_) => panic!("opened a folder with two ledgers"),
        }
        assert!(present(d.path()), "the sled store is left alone");
        assert!(d.path().join(FILE_NAME).is_file());
    }
}
