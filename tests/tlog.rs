//! Checkpoints and proofs through the real binary: an auditor's offline checks accept
//! honest material and reject altered checkpoints, proofs and entries; `verify
//! --checkpoint` catches a truncated or rolled-back ledger and names both sizes; the
//! ledger refuses to sign a checkpoint inconsistent with one it kept.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use serde_json::Value;

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    dir: PathBuf,
}

impl Fixture {
    fn new(records: usize) -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let dir = demo(&root, "ledger", records);
        Fixture {
            _tmp: tmp,
            root,
            dir,
        }
    }
    fn run(&self, args: &[&str]) -> Output {
        blotter()
            .arg("--ledger")
            .arg(&self.dir)
            .args(args)
            .output()
            .unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
    /// Writes `text` to a file in the fixture's folder.
    fn file(&self, name: &str, text: &[u8]) -> PathBuf {
        let p = self.root.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
    fn key(&self, who: &str) -> String {
        self.dir
            .join("keys")
            .join(format!("{who}.key"))
            .display()
            .to_string()
    }
    /// Creates a record as the clerk (a local write, so a checkpoint follows).
    fn create(&self) {
        let out = self.try_create();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    /// `record create` by the clerk, whatever its outcome.
    fn try_create(&self) -> Output {
        let payload = self.file("p.json", br#"{"summary":"later"}"#);
        self.run(&[
            "--key",
            &self.key("clerk"),
            "record",
            "create",
            "--type",
            "incident",
            "--payload",
            s(&payload),
        ])
    }
    /// The latest kept checkpoint, saved to a file.
    fn checkpoint(&self, name: &str) -> PathBuf {
        let note = self.ok(&["checkpoint", "show"]);
        self.file(name, format!("{}\n", note.trim_end()).as_bytes())
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn audit(args: &[&str]) -> (i32, String) {
    let out = blotter().arg("audit").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Flips one bit of the base64 text of line `line` (0-based) of a note or proof, keeping
/// it valid base64 so that the parser accepts it and the check must catch it.
fn flip_line(text: &str, line: usize) -> String {
    let mut lines: Vec<String> = text.split('\n').map(String::from).collect();
    let l = &mut lines[line];
    let i = l.len() - 6;
    let c = l.as_bytes()[i];
    let swapped = if c == b'A' { 'B' } else { 'A' };
    l.replace_range(i..i + 1, &swapped.to_string());
    lines.join("\n")
}

#[test]
fn auditor_checks_inclusion_and_consistency_offline() {
    let f = Fixture::new(40);
    let vkey = f.ok(&["key", "ledger"]);
    let vkey = vkey.trim();
    let old = f.checkpoint("old.txt");
    f.create();
    f.create();
    let new = f.checkpoint("new.txt");
    let list: Value = serde_json::from_str(&f.ok(&["--json", "checkpoint", "list"])).unwrap();
    assert!(
        list.as_array().unwrap().len() >= 3,
        "a checkpoint after each write command: {list}"
    );

    // Inclusion of an early entry in the new checkpoint.
    let entry = f.root.join("e7.bin");
    let proof = f.ok(&["proof", "inclusion", "--seq", "7", "--entry-out", s(&entry)]);
    let proof_file = f.file("p7.txt", proof.as_bytes());
    let args = |cp: &Path, e: &Path, p: &Path| {
        vec![
            "inclusion".to_string(),
            "--ledger-key".into(),
            vkey.to_string(),
            "--checkpoint".into(),
            s(cp).into(),
            "--entry".into(),
            s(e).into(),
            "--proof".into(),
            s(p).into(),
        ]
    };
    let run = |a: Vec<String>| audit(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let (code, out) = run(args(&new, &entry, &proof_file));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("entry 7"), "{out}");

    // The verifier key may also be given as a file.
    let vfile = f.file("ledger.vkey", vkey.as_bytes());
    let mut a = args(&new, &entry, &proof_file);
    a[2] = s(&vfile).into();
    assert_eq!(run(a).0, 0);

    // Altered proof hash, altered entry bytes, a proof for another entry: exit 1.
    let bad_proof = f.file("p7-bad.txt", flip_line(&proof, 2).as_bytes());
    let (code, out) = run(args(&new, &entry, &bad_proof));
    assert_eq!(code, 1, "{out}");
    let mut bytes = std::fs::read(&entry).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let bad_entry = f.file("e7-bad.bin", &bytes);
    let (code, out) = run(args(&new, &bad_entry, &proof_file));
    assert_eq!(code, 1, "{out}");
    let entry8 = f.root.join("e8.bin");
    f.ok(&[
        "proof",
        "inclusion",
        "--seq",
        "8",
        "--entry-out",
        s(&entry8),
    ]);
    let (code, out) = run(args(&new, &entry8, &proof_file));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("entry 8") && out.contains("entry 7"), "{out}");

    // Consistency old → new.
    let old_size: u64 = std::fs::read_to_string(&old)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let cproof = f.ok(&["proof", "consistency", "--from", &old_size.to_string()]);
    let cfile = f.file("c.txt", cproof.as_bytes());
    let cons = |o: &Path, n: &Path, p: &Path| {
        audit(&[
            "consistency",
            "--ledger-key",
            vkey,
            "--old",
            s(o),
            "--new",
            s(n),
            "--proof",
            s(p),
        ])
    };
    let (code, out) = cons(&old, &new, &cfile);
    assert_eq!(code, 0, "{out}");
    // Swapped checkpoints, altered proof: exit 1.
    assert_eq!(cons(&new, &old, &cfile).0, 1);
    let bad = f.file("c-bad.txt", flip_line(&cproof, 1).as_bytes());
    assert_eq!(cons(&old, &new, &bad).0, 1);

    // A malformed verifier key cannot run the check: exit 2. Another ledger's key: exit 1.
    let (code, _) = audit(&[
        "consistency",
        "--ledger-key",
        "not-a-key",
        "--old",
        s(&old),
        "--new",
        s(&new),
        "--proof",
        s(&cfile),
    ]);
    assert_eq!(code, 2);
    let other = Fixture::new(5);
    let other_key = other.ok(&["key", "ledger"]);
    let (code, out) = audit(&[
        "consistency",
        "--ledger-key",
        other_key.trim(),
        "--old",
        s(&old),
        "--new",
        s(&new),
        "--proof",
        s(&cfile),
    ]);
    assert_eq!(code, 1, "{out}");
}

#[test]
fn altered_checkpoints_are_rejected_and_unknown_signatures_ignored() {
    let f = Fixture::new(20);
    let vkey = f.ok(&["key", "ledger"]);
    let cp_file = f.checkpoint("cp.txt");
    let note = std::fs::read_to_string(&cp_file).unwrap();
    assert_eq!(verify(&f.dir, &["--checkpoint", s(&cp_file)]).code, 0);

    // A note with an extra signature line from a key nobody knows is still accepted.
    let stranger = blotter::merkle::note::sign(
        note.split("\n\n")
            .next()
            .map(|t| format!("{t}\n"))
            .unwrap()
            .as_str(),
        "stranger.example/witness",
        &ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
    )
    .unwrap();
    let extra_line = stranger.lines().last().unwrap();
    let with_extra = f.file("extra.txt", format!("{note}{extra_line}\n").as_bytes());
    let v = verify(
        &f.dir,
        &["--checkpoint", s(&with_extra), "--ledger-key", vkey.trim()],
    );
    assert_eq!(v.code, 0, "{v:?}");

    // Altered origin, size, root or signature: refused, never taken as held.
    let lines: Vec<&str> = note.split('\n').collect();
    let size: u64 = lines[1].parse().unwrap();
    let variants = [
        ("origin", note.replacen(lines[0], "other.example/pd", 1)),
        (
            "size",
            note.replacen(&format!("\n{size}\n"), &format!("\n{}\n", size - 1), 1),
        ),
        ("root", flip_line(&note, 2)),
        ("signature", flip_line(&note, 4)),
    ];
    for (what, text) in variants {
        let p = f.file(&format!("bad-{what}.txt"), text.as_bytes());
        let v = verify(&f.dir, &["--checkpoint", s(&p)]);
        assert_eq!(v.code, 2, "altered {what} accepted: {v:?}");
        assert!(
            v.json["error"]
                .as_str()
                .unwrap_or("")
                .contains("checkpoint"),
            "{what}: {v:?}"
        );
    }
}

/// The store swapped for an older copy (a rollback), and the tail cut off (a truncation),
/// are caught against a checkpoint the auditor holds, naming both sizes.
#[test]
fn rollback_and_truncation_are_caught_against_a_held_checkpoint() {
    let f = Fixture::new(30);
    let backup = f.root.join("backup");
    copy_dir(&f.dir, &backup);
    let old_size = verify(&f.dir, &[]).entries();
    f.create();
    f.create();
    let held = f.checkpoint("held.txt");
    let new_size = verify(&f.dir, &[]).entries();
    assert_eq!(verify(&f.dir, &["--checkpoint", s(&held)]).code, 0);

    // Rollback: the older copy comes back.
    std::fs::remove_dir_all(&f.dir).unwrap();
    copy_dir(&backup, &f.dir);
    let v = verify(&f.dir, &["--checkpoint", s(&held)]);
    assert_eq!(v.code, 1, "{v:?}");
    let what = v.problem_what();
    assert!(
        what.contains(&old_size.to_string()) && what.contains(&new_size.to_string()),
        "both sizes named: {what}"
    );

    // A fork after the rollback: as long as the held one, but a different history.
    f.create();
    f.create();
    assert_eq!(verify(&f.dir, &[]).entries(), new_size);
    let v = verify(&f.dir, &["--checkpoint", s(&held)]);
    assert_eq!(v.code, 1, "{v:?}");
    assert!(
        v.problem_what().contains("rewritten or rolled back"),
        "{v:?}"
    );
    assert!(v.problem_what().contains(&new_size.to_string()), "{v:?}");

    // Truncation: the last entries removed from the store, the head moved back.
    std::fs::remove_dir_all(&f.dir).unwrap();
    copy_dir(&backup, &f.dir);
    {
        let db = open_store(&f.dir);
        let n = entry_count(&db);
        let keep = n - 3;
        for seq in keep..n {
            db.remove([&b"E"[..], &seq.to_be_bytes()].concat()).unwrap();
        }
        let prev = get_entry(&db, keep - 1);
        let mut head = keep.to_be_bytes().to_vec();
        head.extend_from_slice(&blotter::format::entry::entry_hash(&prev));
        head.extend_from_slice(&0i64.to_be_bytes());
        db.insert(b"Mhead", head).unwrap();
    }
    let v = verify(&f.dir, &["--checkpoint", s(&held)]);
    assert_eq!(v.code, 1, "{v:?}");
    assert!(
        v.problem_what().contains(&(old_size - 3).to_string())
            && v.problem_what().contains(&new_size.to_string()),
        "{v:?}"
    );
}

/// A kept checkpoint that no longer matches the tree (a store edited behind the ledger's
/// back) stops the ledger from signing anything new.
#[test]
fn ledger_refuses_to_sign_a_checkpoint_inconsistent_with_a_kept_one() {
    let f = Fixture::new(10);
    let held = f.checkpoint("held.txt");
    let note = std::fs::read_to_string(&held).unwrap();
    let size: u64 = note.lines().nth(1).unwrap().parse().unwrap();
    // Re-sign a checkpoint of the same size with a wrong root, with the real ledger key.
    let key = blotter::crypto::keyfile::load(&f.dir.join("ledger.key"), || None).unwrap();
    let origin = note.lines().next().unwrap();
    let body = format!("{origin}\n{size}\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
    let forged = blotter::merkle::note::sign(&body, origin, &key).unwrap();
    {
        let db = open_store(&f.dir);
        db.insert([&b"Q"[..], &size.to_be_bytes()].concat(), forged.as_bytes())
            .unwrap();
    }
    // A write still succeeds (it is durable), but keeps no checkpoint and says so.
    let head_before = f.run(&["--json", "checkpoint", "list"]);
    let out = f.try_create();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no checkpoint was signed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        f.run(&["--json", "checkpoint", "list"]).stdout,
        head_before.stdout
    );
    let out = f.run(&["checkpoint"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refusing to sign"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // verify reports the kept checkpoint the tree contradicts.
    let v = verify(&f.dir, &[]);
    assert_eq!(v.code, 1, "{v:?}");
    assert_eq!(v.problem_seq(), Some(size - 1), "{v:?}");
}
