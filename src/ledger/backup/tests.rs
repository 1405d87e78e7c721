use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::ledger::verify::VerifyOptions;
use crate::ledger::InitOptions;

fn ledger(dir: &Path) -> Ledger {
    let admin = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let l = Ledger::init(
        dir,
        &admin,
        InitOptions {
            origin: "pd.example/backup".into(),
            admin_person: "A-1".into(),
            settings: Default::default(),
            ledger_key_path: None,
        },
    )
    .unwrap();
    l.put_document(b"a schedule").unwrap();
    l
}

/// Names in `dir` other than `keep`.
fn others(dir: &Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn backup_opens_as_the_same_ledger_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let l = ledger(&tmp.path().join("l"));
    std::fs::write(tmp.path().join("l/blobs/tmp-0011"), b"half written").unwrap();
    let dest = tmp.path().join("b");
    let last = std::cell::Cell::new(0);
    let s = l.backup(&dest, &|n| last.set(n)).unwrap();
    assert_eq!(s.dest, dest);
    assert_eq!(s.entries, l.head().size);
    assert_eq!(s.head, hex::encode(l.head().hash));
    assert_eq!((s.blobs, s.documents), (0, 1));
    assert!(s.ledger_key && s.rows > 0 && s.bytes > 0 && last.get() > 0);
    assert_eq!(others(tmp.path(), &[]).len(), 2, "no hidden folder is left");
    assert!(!dest.join("blobs/tmp-0011").exists(), "tmp-* is not copied");
    assert!(!dest.join("store/holder").exists());
    for key in ["epochs.key", "ledger.key"] {
        assert_eq!(mode(&dest.join(key)), 0o600, "{key}");
    }
    drop(l);
    let copy = Ledger::open(&dest).unwrap();
    let original = Ledger::open(&tmp.path().join("l")).unwrap();
    assert_eq!(copy.head(), original.head());
    assert_eq!(copy.origin(), original.origin());
    let r = copy
        .verify(
            &VerifyOptions {
                from: 0,
                expect_head: None,
                checkpoint: None,
                ledger_key: None,
            },
            &|_| {},
        )
        .unwrap();
    assert!(r.ok(), "{r:?}");
}

#[test]
fn backup_refuses_an_existing_or_inner_destination() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    let l = ledger(&dir);
    let existing = tmp.path().join("e");
    std::fs::create_dir(&existing).unwrap();
    let e = l.backup(&existing, &|_| {}).unwrap_err().to_string();
    assert!(e.contains("already exists"), "{e}");
    let e = l
        .backup(&dir.join("documents/b"), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("inside the ledger folder"), "{e}");
    let e = l
        .backup(&tmp.path().join("no/such/b"), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not exist"), "{e}");
    assert_eq!(others(tmp.path(), &[]).len(), 2);
    assert_eq!(others(&dir.join("documents"), &[]).len(), 1);
}

#[test]
fn backup_that_fails_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    let l = ledger(&dir);
    // A ledger key readable by others is refused, after the store was copied.
    std::fs::set_permissions(
        dir.join("ledger.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let e = l
        .backup(&tmp.path().join("b"), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("ledger.key"), "{e}");
    assert_eq!(others(tmp.path(), &["l"]), Vec::<String>::new());
}
