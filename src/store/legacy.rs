//! Stores that sled wrote (store layout 4 and older): found, converted into a redb file
//! the first time they are opened, and removed.
//!
//! Invariants:
//! - The conversion copies every row byte for byte, the layout mark included, so the
//!   ledger's own migration (`ledger/layout.rs`) then runs from the layout the rows had.
//! - The redb file appears under its final name only once every row is in it and it is
//!   durable (written as `rows.redb.partial`, `fsync`ed, renamed, folder `fsync`ed): a
//!   crash part-way leaves the sled store as it was, and the next open starts again.
//! - sled's files are removed only after that rename, and whatever sled files stand beside
//!   a `rows.redb` are removed at open ([`remove`]): the redb file is the store.
//! - Memory stays bounded by [`BATCH_BYTES`] and sled's cache, not by the store.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{engine_err, write, Op, StoreError, FILE_NAME, VERSION_KEY};

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
    let sled_err = |e: sled::Error| StoreError::Engine {
        dir: dir.into(),
        detail: format!("reading the sled store: {e}"),
    };
    let version = sled
        .get(super::key(super::Space::Meta, VERSION_KEY))
        .map_err(sled_err)?
        .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes))
        .unwrap_or(1);
    converting(version);
    tracing::info!(from = version, "converting the sled store into a redb file");
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
        let (k, v) = kv.map_err(sled_err)?;
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

/// Removes sled's files from `dir` (module doc: only once `rows.redb` is there).
pub(super) fn remove(dir: &Path) -> std::io::Result<()> {
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
            }
            Err(e) => {
                return Err(StoreError::Engine {
                    dir: dir.into(),
                    detail: format!("opening the sled store: {e}"),
                })
            }
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
    use super::super::{Space, Store, STORE_VERSION};
    use super::*;

    /// A sled store as blotter 4 left it: some rows, a large item in `blobs/`, and a
    /// partial snapshot as a kill during sled's snapshot write leaves.
    fn sled_store(dir: &Path, rows: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
        let db = sled::Config::new().path(dir).open().unwrap();
        let mut all = vec![(
            super::super::key(Space::Meta, VERSION_KEY),
            4u64.to_be_bytes().to_vec(),
        )];
        for i in 0..rows {
            all.push((
                super::super::key(Space::Entry, &i.to_be_bytes()),
                vec![i as u8; 300],
            ));
        }
        all.push((
            super::super::key(Space::Sealed, b"big"),
            vec![9u8; 600 * 1024],
        ));
        for (k, v) in &all {
            db.insert(k, v.as_slice()).unwrap();
        }
        db.flush().unwrap();
        drop(db);
        std::fs::write(dir.join("snap.00000000FFFFFFFF.generating"), b"torn").unwrap();
        all.sort();
        all
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
            s.version(),
            4,
            "the ledger migrates the rows from their layout"
        );
        let got: Vec<_> = s.range(vec![], vec![0xff]).map(|r| r.unwrap()).collect();
        assert_eq!(got, rows, "every row, byte for byte");
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
        assert!(s.version() < STORE_VERSION);
    }

    /// A crash during the conversion leaves `rows.redb.partial` and the sled store: the
    /// next open starts again from the sled store.
    #[test]
    fn an_interrupted_conversion_starts_again() {
        let d = tempfile::tempdir().unwrap();
        let rows = sled_store(d.path(), 100);
        std::fs::write(d.path().join("rows.redb.partial"), b"half a file").unwrap();
        let s = Store::open(d.path(), Duration::from_secs(5)).unwrap();
        let got: Vec<_> = s.range(vec![], vec![0xff]).map(|r| r.unwrap()).collect();
        assert_eq!(got, rows);
    }

    /// sled files beside a redb store (an older blotter opened the folder since) are
    /// not the ledger: they are removed and the redb rows stay.
    #[test]
    fn sled_files_beside_a_redb_store_are_removed() {
        let d = tempfile::tempdir().unwrap();
        {
            let s = Store::open(d.path(), Duration::ZERO).unwrap();
            let mut b = super::super::Batch::default();
            b.put(Space::Entry, &0u64.to_be_bytes(), b"zero");
            s.commit(b).unwrap();
        }
        drop(sled::Config::new().path(d.path()).open().unwrap());
        assert!(present(d.path()));
        let s = Store::open(d.path(), Duration::ZERO).unwrap();
        assert!(!present(d.path()));
        assert_eq!(s.entries(0).count(), 1);
        assert_eq!(s.version(), STORE_VERSION);
    }
}
