//! A ledger written by an older Blotter: store layout 3 (sealed rows keyed change hash ‖
//! kind, change rows keyed change hash), emulated by moving a demo ledger's rows back
//! through sled. The first command that opens it migrates it and says so on stderr;
//! everything verifies; later commands say nothing.

mod common;

use common::{close, demo, open_store, verify};

/// The prefix byte and key length (after the prefix) of the rows layout 4 re-keyed.
const REKEYED: [(u8, usize); 2] = [(b'P', 49), (b'C', 48)];

#[test]
fn an_older_store_is_migrated_by_the_first_command_that_opens_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "ledger", 20);
    let before = verify(&dir, &[]);
    assert_eq!(before.code, 0, "{}", before.stderr);

    let db = open_store(&dir);
    let mut moved = 0;
    for (prefix, len) in REKEYED {
        let mut batch = sled::Batch::default();
        for kv in db.scan_prefix([prefix]) {
            let (k, v) = kv.unwrap();
            assert_eq!(k.len(), 1 + len, "a layout-4 row");
            let mut old = vec![prefix];
            old.extend_from_slice(&k[17..]);
            batch.remove(k);
            batch.insert(old, v);
            moved += 1;
        }
        db.apply_batch(batch).unwrap();
    }
    db.insert(b"Mstore-version", &3u64.to_be_bytes()).unwrap();
    close(db);
    assert!(moved > 40, "{moved} rows moved back");

    let first = verify(&dir, &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first
            .stderr
            .contains("migrating the ledger's store from layout 3 to layout 4"),
        "{}",
        first.stderr
    );
    assert_eq!(first.json["entries"], before.json["entries"]);
    let again = verify(&dir, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(!again.stderr.contains("migrating"), "{}", again.stderr);

    let db = open_store(&dir);
    for (prefix, len) in REKEYED {
        for kv in db.scan_prefix([prefix]) {
            assert_eq!(kv.unwrap().0.len(), 1 + len);
        }
    }
    assert_eq!(
        db.get(b"Mstore-version").unwrap().as_deref(),
        Some(&4u64.to_be_bytes()[..])
    );
    assert_eq!(db.get(b"Mmigrating-from").unwrap(), None);
    close(db);
}
