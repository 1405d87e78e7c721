//! A ledger written by an older Blotter: a sled store (layout 4 and older) in store
//! layout 3 (sealed rows keyed change hash ‖ kind, change rows keyed change hash),
//! emulated by writing a demo ledger's rows, moved back to their layout-3 keys, into a
//! sled database in place of its redb file. The first command that opens it converts it
//! into a redb file, migrates its rows and says so on stderr, once; everything verifies;
//! later commands say nothing.

mod common;

use common::{close, demo, open_store, verify};

/// The prefix byte and key length (after the prefix) of the rows layout 4 re-keyed.
const REKEYED: [(u8, usize); 2] = [(b'P', 49), (b'C', 48)];

#[test]
fn an_older_sled_store_is_converted_and_migrated_by_the_first_command_that_opens_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "ledger", 20);
    let before = verify(&dir, &[]);
    assert_eq!(before.code, 0, "{}", before.stderr);

    let db = open_store(&dir);
    let rows = db.scan_prefix(b"");
    close(db);
    let store = dir.join("store");
    std::fs::remove_file(store.join("rows.redb")).unwrap();
    let sled = sled::Config::new().path(&store).open().unwrap();
    let mut moved = 0;
    for (k, v) in rows {
        let old = match REKEYED.iter().find(|(p, _)| k[0] == *p) {
            Some((prefix, len)) => {
                assert_eq!(k.len(), 1 + len, "a layout-4 row");
                moved += 1;
                [&[*prefix][..], &k[17..]].concat()
            }
            None => k,
        };
        sled.insert(old, v).unwrap();
    }
    sled.insert(b"Mstore-version", &3u64.to_be_bytes()).unwrap();
    sled.flush().unwrap();
    drop(sled);
    assert!(moved > 40, "{moved} rows moved back");

    let first = verify(&dir, &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let notice = "migrating the ledger's store from layout 3 to layout 5";
    assert_eq!(first.stderr.matches(notice).count(), 1, "{}", first.stderr);
    assert_eq!(first.json["entries"], before.json["entries"]);
    for sled_file in ["conf", "db", "blobs"] {
        assert!(!store.join(sled_file).exists(), "{sled_file} is left");
    }
    let again = verify(&dir, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(!again.stderr.contains("migrating"), "{}", again.stderr);

    let db = open_store(&dir);
    for (prefix, len) in REKEYED {
        for (k, _) in db.scan_prefix([prefix]) {
            assert_eq!(k.len(), 1 + len);
        }
    }
    assert_eq!(
        db.get(b"Mstore-version").unwrap().as_deref(),
        Some(&5u64.to_be_bytes()[..])
    );
    assert_eq!(db.get(b"Mmigrating-from").unwrap(), None);
    close(db);
}
