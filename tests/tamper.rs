//! Tampering with the stored log is detected by `blotter verify`, which names the entry.
//!
//! Every test builds a demo ledger of a few hundred entries with the real binary, then
//! edits the stored entries through redb directly (while no blotter process runs) and
//! checks `verify --json`: exit 1 and `problem.seq` naming the altered entry.

mod common;

use std::path::Path;
use std::time::Instant;

use blotter::format::entry::entry_hash;
use common::*;

/// Demo records: `--records 150` gives about 320 entries.
const RECORDS: usize = 150;

/// A record.create entry near the middle of the log: (seq, bytes).
fn middle_record_create(db: &Db) -> (u64, Vec<u8>) {
    let n = entry_count(db);
    assert!(
        n >= 200,
        "the demo ledger should have a few hundred entries, has {n}"
    );
    (n / 2..n)
        .map(|s| (s, get_entry(db, s)))
        .find(|(_, e)| action_code(e) == RECORD_CREATE)
        .expect("a record.create entry in the second half of the log")
}

fn field_name(offset: usize, len: usize) -> &'static str {
    match offset {
        0 => "version",
        o if SEQ.contains(&o) => "seq",
        o if TIME.contains(&o) => "time",
        o if PREV.contains(&o) => "prev",
        o if LEN.contains(&o) => "length",
        o if o >= len - 64 => "signature",
        _ => "change",
    }
}

#[test]
fn clean_ledger_verifies_against_its_own_head_and_a_prefix() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "ledger", RECORDS);
    let v = assert_clean(&dir, &[], "freshly built demo ledger");
    assert!(
        v.entries() >= 200,
        "expected a few hundred entries, got {}",
        v.entries()
    );
    let head = v.head_arg();
    let v2 = assert_clean(
        &dir,
        &["--expect-head", &head],
        "clean ledger against its own head",
    );
    assert_eq!(v2.head_arg(), head, "verify reported a different head");

    // The head of a prefix the auditor held earlier: the log grew since, which is fine.
    let db = open_store(&dir);
    let k = v.entries() / 3;
    let prefix = format!("{k}:{}", hex::encode(prev_field(&get_entry(&db, k))));
    close(db);
    assert_clean(
        &dir,
        &["--expect-head", &prefix],
        "clean ledger against an earlier (prefix) head",
    );

    let (code, text) = verify_human(&dir, &[]);
    assert_eq!(code, 0, "human verify of a clean ledger: {text}");
    assert!(text.contains("ok:"), "human verify should say ok: {text}");
}

/// Flips each byte of `original` (entry `seq`) in turn, for the offsets `offset % step ==
/// first`, in the ledger `dir`; returns a description of each offset verify got wrong.
fn sweep(dir: &Path, seq: u64, original: &[u8], first: usize, step: usize) -> Vec<String> {
    let mut wrong = Vec::new();
    for offset in (first..original.len()).step_by(step) {
        // One store opening per offset; writing this flip over the entry undoes the last.
        let db = open_store(dir);
        let mut bytes = original.to_vec();
        bytes[offset] ^= 0xff;
        put_entry(&db, seq, &bytes);
        close(db);

        let v = verify(dir, &[]);
        if v.code != 1 || v.problem_seq() != Some(seq) {
            wrong.push(format!(
                "offset {offset} ({}): exit {}, problem {}",
                field_name(offset, original.len()),
                v.code,
                v.json["problem"]
            ));
        }
        if offset == 0 {
            let (code, text) = verify_human(dir, &[]);
            assert_eq!(code, 1, "human verify after flipping byte 0: {text}");
            assert!(
                text.contains(&format!("FAILED at entry {seq}")),
                "human verify should say \"FAILED at entry {seq}\": {text}"
            );
        }
    }
    let db = open_store(dir);
    put_entry(&db, seq, original);
    close(db);
    assert_clean(dir, &[], "after restoring the original bytes");
    wrong
}

#[test]
fn flipping_any_byte_of_a_middle_entry_is_located() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "ledger", RECORDS);
    let db = open_store(&dir);
    let (seq, original) = middle_record_create(&db);
    close(db);

    // Two workers, each on its own copy of the ledger, share the offsets.
    const WORKERS: usize = 2;
    let dirs: Vec<_> = (0..WORKERS)
        .map(|w| {
            let d = tmp.path().join(format!("copy{w}"));
            copy_dir(&dir, &d);
            d
        })
        .collect();
    let started = Instant::now();
    let mut wrong: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = dirs
            .iter()
            .enumerate()
            .map(|(w, d)| {
                let original = &original;
                s.spawn(move || sweep(d, seq, original, w, WORKERS))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("sweep worker panicked"))
            .collect()
    });
    wrong.sort_by_key(|w| {
        w.split_whitespace()
            .nth(1)
            .and_then(|n| n.parse::<usize>().ok())
    });
    eprintln!(
        "flipped each of the {} bytes of entry {seq} in {:?}",
        original.len(),
        started.elapsed()
    );
    assert!(
        wrong.is_empty(),
        "flipping one byte (xor 0xff) of entry {seq} ({} bytes) must make verify exit 1 naming entry {seq}; \
         {} of {} offsets were not:\n  {}",
        original.len(),
        wrong.len(),
        original.len(),
        wrong.join("\n  ")
    );
}

#[test]
fn flipping_a_byte_of_the_last_entry_is_detected() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "ledger", RECORDS);
    let head = assert_clean(&dir, &[], "fresh demo").head_arg();
    let db = open_store(&dir);
    let last = entry_count(&db) - 1;
    let original = get_entry(&db, last);
    close(db);
    let n = original.len();
    // One offset in every field, and the edges of each.
    let offsets = [
        0,
        1,
        8,
        9,
        15,
        16,
        17,
        30,
        48,
        49,
        50,
        51,
        52,
        n / 2,
        n - 65,
        n - 64,
        n - 1,
    ];
    for offset in offsets {
        let db = open_store(&dir);
        let mut bytes = original.clone();
        bytes[offset] ^= 0xff;
        put_entry(&db, last, &bytes);
        close(db);
        let what = format!(
            "byte {offset} ({}) of the last entry {last} flipped",
            field_name(offset, n)
        );
        assert_fails_at(&dir, &[], last, &format!("{what}, against the stored head"));
        assert_fails_at(
            &dir,
            &["--expect-head", &head],
            last,
            &format!("{what}, against --expect-head {head}"),
        );

        // The same, with the stored head rewritten to match: only a head held elsewhere
        // can tell a later ledger time (unsigned) or a changed previous-hash field.
        let db = open_store(&dir);
        let (size, _, time) = get_head(&db);
        put_head(&db, size, &entry_hash(&bytes), time);
        close(db);
        assert_fails_at(
            &dir,
            &["--expect-head", &head],
            last,
            &format!("{what} and the stored head rewritten to match, against --expect-head {head}"),
        );
        if !TIME.contains(&offset) && !PREV.contains(&offset) {
            assert_fails_at(
                &dir,
                &[],
                last,
                &format!("{what} and the stored head rewritten to match"),
            );
        }
        let db = open_store(&dir);
        put_head(&db, size, &entry_hash(&original), time);
        close(db);
    }
    let db = open_store(&dir);
    put_entry(&db, last, &original);
    close(db);
    assert_clean(&dir, &["--expect-head", &head], "after restoring");
}

#[test]
fn deleting_an_entry_is_located() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "ledger", RECORDS);
    let head = assert_clean(&dir, &[], "fresh demo").head_arg();
    let db = open_store(&dir);
    let n = entry_count(&db);
    close(db);
    for seq in [n / 2, 1, 0, n - 1] {
        let db = open_store(&dir);
        let original = get_entry(&db, seq);
        db.remove(entry_key(seq)).unwrap();
        close(db);
        let what = format!("entry {seq} of {n} deleted");
        let v = assert_fails_at(&dir, &[], seq, &what);
        assert!(
            v.problem_what().contains("missing") || v.problem_what().contains("truncated"),
            "{what}: the problem should say the entry is missing: {}",
            v.json["problem"]
        );
        assert_fails_at(
            &dir,
            &["--expect-head", &head],
            seq,
            &format!("{what}, with --expect-head"),
        );
        let (code, text) = verify_human(&dir, &[]);
        assert!(
            code == 1 && text.contains(&format!("FAILED at entry {seq}")),
            "{what}: human verify should exit 1 with \"FAILED at entry {seq}\", got exit {code}: {text}"
        );
        let db = open_store(&dir);
        put_entry(&db, seq, &original);
        close(db);
        assert_clean(&dir, &[], &format!("after restoring entry {seq}"));
    }
}

#[test]
fn swapping_adjacent_entries_names_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "ledger", RECORDS);
    let head = assert_clean(&dir, &[], "fresh demo").head_arg();
    let db = open_store(&dir);
    let n = entry_count(&db);
    let (mid, _) = middle_record_create(&db);
    close(db);
    for k in [mid, mid - 1, 1, n - 2] {
        let swap = |dir: &Path| {
            let db = open_store(dir);
            let (a, b) = (get_entry(&db, k), get_entry(&db, k + 1));
            put_entry(&db, k, &b);
            put_entry(&db, k + 1, &a);
            close(db);
        };
        swap(&dir);
        let what = format!("entries {k} and {} swapped", k + 1);
        assert_fails_at(&dir, &[], k, &what);
        assert_fails_at(
            &dir,
            &["--expect-head", &head],
            k,
            &format!("{what}, with --expect-head"),
        );
        swap(&dir);
        assert_clean(&dir, &[], &format!("after swapping {k} back"));
    }
}

/// Shifts entries `k..` up by one, puts `forged` at `k` and makes the stored head's size
/// match, so that only the chain itself can tell.
fn insert_at(dir: &Path, k: u64, forged: &[u8]) {
    let db = open_store(dir);
    let n = entry_count(&db);
    for s in (k..n).rev() {
        let e = get_entry(&db, s);
        put_entry(&db, s + 1, &e);
    }
    put_entry(&db, k, forged);
    let (_, hash, time) = get_head(&db);
    put_head(&db, n + 1, &hash, time);
    close(db);
}

/// Undoes [`insert_at`].
fn remove_at(dir: &Path, k: u64) {
    let db = open_store(dir);
    let n = entry_count(&db);
    for s in k..n - 1 {
        let e = get_entry(&db, s + 1);
        put_entry(&db, s, &e);
    }
    db.remove(entry_key(n - 1)).unwrap();
    let (_, hash, time) = get_head(&db);
    put_head(&db, n - 1, &hash, time);
    close(db);
}

#[test]
fn inserting_a_forged_entry_is_located() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "ledger", RECORDS);
    let head = assert_clean(&dir, &[], "fresh demo").head_arg();
    let db = open_store(&dir);
    let (k, entry_k) = middle_record_create(&db);
    let before = get_entry(&db, k - 1);
    close(db);
    let link = prev_field(&entry_k); // the hash of entry k-1

    let mut random_sig = relink(&entry_k, k, &link);
    let n = random_sig.len();
    let noise: [u8; 64] = std::array::from_fn(|_| rand::random());
    random_sig[n - 64..].copy_from_slice(&noise);

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("a verbatim copy of entry k-1", before.clone()),
        (
            "a copy of entry k-1 renumbered k and linked to k-1 (its signature still valid)",
            relink(&before, k, &link),
        ),
        (
            "entry k's change with a random signature, renumbered and linked",
            random_sig,
        ),
    ];
    for (name, forged) in cases {
        insert_at(&dir, k, &forged);
        let what = format!("inserted at {k}: {name}");
        assert_fails_at(&dir, &[], k, &what);
        assert_fails_at(
            &dir,
            &["--expect-head", &head],
            k,
            &format!("{what}, with --expect-head"),
        );
        remove_at(&dir, k);
        assert_clean(
            &dir,
            &["--expect-head", &head],
            &format!("after removing {name}"),
        );
    }
}

/// Action code of access (a logged read of sealed or confidential content).
const ACCESS: u16 = 0x0030;

/// Appends `n` record.create entries through the CLI, signed by the demo's clerk.
fn create_records(dir: &Path, n: usize) {
    let payload = dir.join("tamper-payload.json");
    std::fs::write(&payload, r#"{"summary":"appended by the tamper test"}"#).unwrap();
    for _ in 0..n {
        let out = blotter()
            .arg("--ledger")
            .arg(dir)
            .arg("--key")
            .arg(dir.join("keys").join("clerk.key"))
            .args([
                "--json",
                "record",
                "create",
                "--type",
                "incident",
                "--payload",
            ])
            .arg(&payload)
            .output()
            .expect("run blotter record create");
        assert!(
            out.status.success(),
            "record create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The same signed change recorded twice: `append` never does that (a resubmitted change
/// is "already recorded"), and docs/FORMAT.md §6.2 requires each change's record_prev to
/// name the record's most recent earlier change, which a replayed copy cannot.
/// The demo's last access entry is the auditor's read of a confidential record; it is
/// replayed right after itself, with valid seq, prev and signature.
/// The demo's last access entry (the auditor's logged read): (seq, bytes).
fn last_access(db: &Db) -> (u64, Vec<u8>) {
    (0..entry_count(db))
        .rev()
        .map(|s| (s, get_entry(db, s)))
        .find(|(_, e)| action_code(e) == ACCESS)
        .expect("the demo logs an auditor's access")
}

#[test]
fn inserting_a_replayed_access_change_is_located() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "ledger", RECORDS);
    let db = open_store(&dir);
    let (a, access) = last_access(&db);
    close(db);
    create_records(&dir, 3);
    let head = assert_clean(&dir, &[], "demo with 3 more records").head_arg();
    let k = a + 1;
    let forged = relink(&access, k, &entry_hash(&access));
    insert_at(&dir, k, &forged);
    let what =
        format!("a copy of the access change of entry {a} inserted at {k}, renumbered and linked");
    assert_fails_at(&dir, &[], k, &what);
    assert_fails_at(
        &dir,
        &["--expect-head", &head],
        k,
        &format!("{what}, with --expect-head"),
    );
}

/// As above, at the end of the log, with the stored head rewritten to match: verify must
/// still refuse a change recorded twice.
#[test]
fn appending_a_replayed_access_change_is_detected() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "ledger", RECORDS);
    let db = open_store(&dir);
    let n = entry_count(&db);
    let (_, access) = last_access(&db);
    let forged = relink(&access, n, &entry_hash(&get_entry(&db, n - 1)));
    put_entry(&db, n, &forged);
    put_head(&db, n + 1, &entry_hash(&forged), time_field(&forged));
    close(db);
    assert_fails_at(
        &dir,
        &[],
        n,
        &format!(
            "the access change of entry {} replayed as entry {n}, stored head rewritten to match",
            n - 1
        ),
    );
}

#[test]
fn truncating_the_tail_is_caught_by_the_held_head() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "ledger", RECORDS);
    // The demo ends with a court-ordered disposal; cutting that entry off would leave
    // content missing without its disposal, which verify reports on its own. Three plain
    // records at the tail make a truncation that nothing but a held head can reveal.
    create_records(&dir, 3);
    let held = assert_clean(&dir, &[], "fresh demo");
    let held_head = held.head_arg();
    let n = held.entries();

    // Remove the last 3 entries and rewrite the stored head so the store looks whole.
    let db = open_store(&dir);
    assert_eq!(get_head(&db).0, n, "stored head size");
    let first_removed = get_entry(&db, n - 3);
    let new_last = get_entry(&db, n - 4);
    for s in n - 3..n {
        db.remove(entry_key(s)).unwrap();
    }
    put_head(
        &db,
        n - 3,
        &prev_field(&first_removed),
        time_field(&new_last),
    );
    close(db);

    let v = assert_clean(
        &dir,
        &[],
        "truncated log with a consistent stored head (nothing left to tell, without a held head)",
    );
    assert_eq!(v.entries(), n - 3, "verify should see the shorter log");

    let v = assert_fails_at(
        &dir,
        &["--expect-head", &held_head],
        n - 3,
        &format!(
            "log truncated from {n} to {} entries, checked against the held head {held_head}",
            n - 3
        ),
    );
    assert!(
        v.problem_what().contains("truncated"),
        "the problem should name the truncation: {}",
        v.json["problem"]
    );
    let (code, text) = verify_human(&dir, &["--expect-head", &held_head]);
    assert!(
        code == 1 && text.contains(&format!("FAILED at entry {}", n - 3)),
        "human verify of the truncated log: expected exit 1 and \"FAILED at entry {}\", got exit {code}: {text}",
        n - 3
    );
}
