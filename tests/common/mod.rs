//! Shared helpers for the black-box tests: run the real `blotter` binary, and reach the
//! stored bytes through redb directly (only while no blotter process runs).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The `blotter` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_blotter");

/// Offsets in an entry (docs/FORMAT.md §3.1).
pub const SEQ: std::ops::Range<usize> = 1..9;
pub const TIME: std::ops::Range<usize> = 9..17;
pub const PREV: std::ops::Range<usize> = 17..49;
pub const LEN: std::ops::Range<usize> = 49..51;
pub const CHANGE_START: usize = 51;

/// Action code of record.create.
pub const RECORD_CREATE: u16 = 0x0020;

pub fn blotter() -> Command {
    let mut c = Command::new(BIN);
    // Never let the environment point a test at some other ledger or key.
    c.env_remove("BLOTTER_LEDGER")
        .env_remove("BLOTTER_KEY")
        .env_remove("BLOTTER_SERVER")
        .env_remove("BLOTTER_PASSPHRASE");
    c
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Builds a demo ledger with `records` records in `parent/name`; returns its folder.
pub fn demo(parent: &Path, name: &str, records: usize) -> PathBuf {
    let dir = parent.join(name);
    let out = blotter()
        .arg("--json")
        .arg("demo")
        .arg(&dir)
        .arg("--records")
        .arg(records.to_string())
        .output()
        .expect("run blotter demo");
    assert!(
        out.status.success(),
        "blotter demo failed: {}",
        describe(&out)
    );
    dir
}

/// The outcome of `blotter verify --json`.
#[derive(Debug)]
pub struct Verify {
    pub code: i32,
    pub json: Value,
    pub stdout: String,
    pub stderr: String,
}

impl Verify {
    /// The problem's sequence number, if verify reported one.
    pub fn problem_seq(&self) -> Option<u64> {
        self.json["problem"]["seq"].as_u64()
    }
    pub fn problem_what(&self) -> &str {
        self.json["problem"]["what"].as_str().unwrap_or("")
    }
    pub fn entries(&self) -> u64 {
        self.json["entries"]
            .as_u64()
            .unwrap_or_else(|| panic!("verify JSON has no entries: {self:?}"))
    }
    pub fn head(&self) -> String {
        self.json["head"]
            .as_str()
            .unwrap_or_else(|| panic!("verify JSON has no head: {self:?}"))
            .to_string()
    }
    /// `SIZE:HASH`, as `--expect-head` takes it.
    pub fn head_arg(&self) -> String {
        format!("{}:{}", self.entries(), self.head())
    }
}

/// Runs `blotter --ledger DIR verify --json [extra...]`.
pub fn verify(dir: &Path, extra: &[&str]) -> Verify {
    let out = blotter()
        .arg("--ledger")
        .arg(dir)
        .arg("--json")
        .arg("verify")
        .args(extra)
        .output()
        .expect("run blotter verify");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "verify --json printed no JSON document ({e}): {}",
            describe(&out)
        )
    });
    Verify {
        code: out.status.code().unwrap_or(-1),
        json,
        stdout,
        stderr,
    }
}

/// Runs `blotter --ledger DIR verify` (human output) and returns (exit code, stdout+stderr).
pub fn verify_human(dir: &Path, extra: &[&str]) -> (i32, String) {
    let out = blotter()
        .arg("--ledger")
        .arg(dir)
        .arg("verify")
        .args(extra)
        .output()
        .expect("run blotter verify");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Asserts that a clean ledger verifies (exit 0, no problem).
pub fn assert_clean(dir: &Path, extra: &[&str], context: &str) -> Verify {
    let v = verify(dir, extra);
    assert!(
        v.code == 0 && v.json["problem"].is_null(),
        "{context}: expected verify {extra:?} to pass (exit 0, problem null), got exit {} with {}\nstderr: {}",
        v.code,
        v.json,
        v.stderr
    );
    v
}

/// Asserts that verify fails (exit 1) and names entry `seq`.
pub fn assert_fails_at(dir: &Path, extra: &[&str], seq: u64, context: &str) -> Verify {
    let v = verify(dir, extra);
    assert_eq!(
        v.code, 1,
        "{context}: expected verify {extra:?} to exit 1 (problem found), got exit {} with {}\nstderr: {}",
        v.code, v.json, v.stderr
    );
    assert_eq!(
        v.problem_seq(),
        Some(seq),
        "{context}: expected verify {extra:?} to name entry {seq}, got problem {}",
        v.json["problem"]
    );
    v
}

// ---- the store, through redb directly ----

/// The store's one table (`src/store/mod.rs`): prefixed key → value.
const ROWS: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("rows");

/// The ledger's store file opened directly, for tests that edit stored bytes behind the
/// ledger's back. Each write is its own durable transaction.
pub struct Db(redb::Database);

impl Db {
    pub fn get(&self, k: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, redb::Error> {
        use redb::ReadableDatabase;
        let t = self.0.begin_read()?.open_table(ROWS)?;
        let v = t.get(k.as_ref())?;
        Ok(v.map(|g| g.value().to_vec()))
    }

    fn write<R>(
        &self,
        f: impl FnOnce(&mut redb::Table<&[u8], &[u8]>) -> Result<R, redb::Error>,
    ) -> Result<R, redb::Error> {
        let tx = self.0.begin_write()?;
        let r = f(&mut tx.open_table(ROWS)?)?;
        tx.commit()?;
        Ok(r)
    }

    pub fn insert(&self, k: impl AsRef<[u8]>, v: impl AsRef<[u8]>) -> Result<(), redb::Error> {
        self.write(|t| {
            t.insert(k.as_ref(), v.as_ref())?;
            Ok(())
        })
    }

    pub fn remove(&self, k: impl AsRef<[u8]>) -> Result<(), redb::Error> {
        self.write(|t| {
            t.remove(k.as_ref())?;
            Ok(())
        })
    }

    /// Every row whose key starts with `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Vec<(Vec<u8>, Vec<u8>)> {
        use redb::ReadableDatabase;
        let prefix = prefix.as_ref();
        let t = self
            .0
            .begin_read()
            .expect("read transaction")
            .open_table(ROWS)
            .expect("open the rows table");
        t.range::<&[u8]>(prefix..)
            .expect("range")
            .map(|kv| kv.expect("read row"))
            .map(|(k, v)| (k.value().to_vec(), v.value().to_vec()))
            .take_while(|(k, _)| k.starts_with(prefix))
            .collect()
    }
}

/// Opens `DIR/store/rows.redb`. No blotter process may run on `dir` meanwhile; close with
/// [`close`] (or drop).
pub fn open_store(dir: &Path) -> Db {
    let file = dir.join("store").join("rows.redb");
    assert!(file.is_file(), "no store file at {}", file.display());
    Db(redb::Database::open(&file)
        .unwrap_or_else(|e| panic!("open the store {}: {e}", file.display())))
}

/// Drops the store, releasing its lock.
pub fn close(db: Db) {
    drop(db);
}

pub fn entry_key(seq: u64) -> Vec<u8> {
    let mut k = vec![b'E'];
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

pub const HEAD_KEY: &[u8] = b"Mhead";

pub fn get_entry(db: &Db, seq: u64) -> Vec<u8> {
    db.get(entry_key(seq))
        .expect("read entry")
        .unwrap_or_else(|| panic!("entry {seq} is not in the store"))
}

pub fn put_entry(db: &Db, seq: u64, bytes: &[u8]) {
    db.insert(entry_key(seq), bytes).expect("write entry");
}

/// Number of entries stored (keys with prefix `E`).
pub fn entry_count(db: &Db) -> u64 {
    db.scan_prefix(b"E").len() as u64
}

/// The stored head: (size, hash, time).
pub fn get_head(db: &Db) -> (u64, [u8; 32], i64) {
    let v = db.get(HEAD_KEY).expect("read head").expect("head present");
    assert_eq!(
        v.len(),
        48,
        "stored head is size u64 || hash 32 || time i64"
    );
    (
        u64::from_be_bytes(v[0..8].try_into().unwrap()),
        v[8..40].try_into().unwrap(),
        i64::from_be_bytes(v[40..48].try_into().unwrap()),
    )
}

pub fn put_head(db: &Db, size: u64, hash: &[u8; 32], time_ms: i64) {
    let mut v = size.to_be_bytes().to_vec();
    v.extend_from_slice(hash);
    v.extend_from_slice(&time_ms.to_be_bytes());
    db.insert(HEAD_KEY, v).expect("write head");
}

/// The action code of a stored entry (change: version, origin short, actor 32, action u16).
pub fn action_code(entry: &[u8]) -> u16 {
    let origin_len = entry[CHANGE_START + 1] as usize;
    let at = CHANGE_START + 2 + origin_len + 32;
    u16::from_be_bytes([entry[at], entry[at + 1]])
}

pub fn seq_field(entry: &[u8]) -> u64 {
    u64::from_be_bytes(entry[SEQ].try_into().unwrap())
}

pub fn time_field(entry: &[u8]) -> i64 {
    i64::from_be_bytes(entry[TIME].try_into().unwrap())
}

pub fn prev_field(entry: &[u8]) -> [u8; 32] {
    entry[PREV].try_into().unwrap()
}

/// `entry` with its sequence number and previous-hash fields replaced.
pub fn relink(entry: &[u8], seq: u64, prev: &[u8; 32]) -> Vec<u8> {
    let mut e = entry.to_vec();
    e[SEQ].copy_from_slice(&seq.to_be_bytes());
    e[PREV].copy_from_slice(prev);
    e
}

/// Copies a ledger folder (no blotter process may run on it).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {}: {e}", to.display()));
    for e in std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display())) {
        let e = e.unwrap();
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_type().unwrap().is_dir() {
            copy_dir(&src, &dst);
        } else {
            // std::fs::copy keeps the permission bits (key files must stay 0600).
            std::fs::copy(&src, &dst)
                .unwrap_or_else(|e| panic!("copy {} to {}: {e}", src.display(), dst.display()));
        }
    }
}

/// Appends `signed` (a signed change's bytes) to the store behind the ledger's back, as
/// the next entry, chained and numbered correctly, and moves the stored head: what a
/// writer that skipped the append rules would leave. Returns its sequence number.
pub fn forge_append(dir: &Path, signed: &[u8]) -> u64 {
    let db = open_store(dir);
    let (n, prev, time_ms) = get_head(&db);
    let forged = blotter::format::Entry {
        seq: n,
        time_ms: time_ms + 1,
        prev,
        signed: blotter::format::SignedChange::decode(signed).expect("a signed change"),
    }
    .encode()
    .expect("encode the forged entry");
    put_entry(&db, n, &forged);
    put_head(
        &db,
        n + 1,
        &blotter::format::entry::entry_hash(&forged),
        time_ms + 1,
    );
    close(db);
    n
}

/// An outside tool (`age`, `zstd`, `tar`, `bagit.py`) on the PATH. Where it is missing,
/// the test skips with a message, unless BLOTTER_REQUIRE_TOOLS is set (as `.ci/run`
/// sets it): then a missing tool fails the test, so CI never skips silently.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var_os("BLOTTER_REQUIRE_TOOLS").is_some() {
            panic!("{name} is not installed and BLOTTER_REQUIRE_TOOLS is set");
        }
        eprintln!(
            "SKIPPED: {name} is not installed (set BLOTTER_REQUIRE_TOOLS=1 to make this a failure)"
        );
    }
    found
}
pub mod daemon;
