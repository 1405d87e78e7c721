//! The archive test vector (docs/FORMAT.md §12, tests/vectors/archive/): an archive
//! written by an earlier blotter still verifies, and its members are as listed.

mod common;

use std::io::Read;

const DIR: &str = "tests/vectors/archive";

#[test]
fn the_vector_archive_verifies_and_its_layout_is_pinned() {
    let vkey = std::fs::read_to_string(format!("{DIR}/verifier-key.txt")).unwrap();
    let out = common::blotter()
        .args(["--json", "archive", "verify", &format!("{DIR}/archive.age")])
        .args([
            "-i",
            &format!("{DIR}/identity.txt"),
            "--ledger-key",
            vkey.trim(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["records"], 1);
    assert_eq!(v["bag_info"]["Blotter-Archive-Format"], "1");

    let id: age::x25519::Identity = std::fs::read_to_string(format!("{DIR}/identity.txt"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .parse()
        .unwrap();
    let f = std::fs::File::open(format!("{DIR}/archive.age")).unwrap();
    let r = age::Decryptor::new(f)
        .unwrap()
        .decrypt(std::iter::once(&id as &dyn age::Identity))
        .unwrap();
    let mut a = tar::Archive::new(zstd::stream::read::Decoder::new(r).unwrap());
    let mut names = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        names.push(e.path().unwrap().to_string_lossy().into_owned());
        let mut sink = Vec::new();
        e.read_to_end(&mut sink).unwrap();
    }
    let want: Vec<String> = std::fs::read_to_string(format!("{DIR}/members.txt"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(names, want);
    // A malformed verifier key: the check cannot run (exit 2). Another ledger's valid
    // key (exit 1) is tested in tests/archive.rs.
    let out = common::blotter()
        .args(["archive", "verify", &format!("{DIR}/archive.age")])
        .args(["-i", &format!("{DIR}/identity.txt"), "--ledger-key"])
        .arg(vkey.trim().replace("+A", "+B"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
