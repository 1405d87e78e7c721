//! `blotter backup` through the real binary (docs/BACKUP.md): a backup opens as a
//! ledger that verifies, against a checkpoint held from before it too; it does not
//! change when the original grows, and a checkpoint from after it shows it is older;
//! attachments read back from it; refusals exit 2 and leave nothing; and the tar that
//! carries a backup from a daemon unpacks into a ledger that verifies, while a tar
//! that escapes its folder, links or is cut short is refused and leaves nothing.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use blotter::ledger::backup::tar::{pack, unpack};
use common::*;
use predicates::str::contains;
use serde_json::Value;

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    dir: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let dir = demo(&root, "ledger", 20);
        Fixture {
            _tmp: tmp,
            root,
            dir,
        }
    }
    /// `blotter --ledger LEDGER`, with the clerk's key.
    fn on(&self, ledger: &Path) -> Command {
        let mut c = Command::from_std(blotter());
        c.arg("--ledger")
            .arg(ledger)
            .arg("--key")
            .arg(self.dir.join("keys/clerk.key"));
        c
    }
    fn json(&self, ledger: &Path, args: &[&str]) -> Value {
        let out = self.on(ledger).arg("--json").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
    fn text(&self, ledger: &Path, args: &[&str]) -> String {
        let out = self.on(ledger).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.root.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
    /// Creates a record in the original; returns its id.
    fn create(&self) -> String {
        let payload = self.file("p.json", br#"{"summary":"later"}"#);
        let v = self.json(
            &self.dir,
            &[
                "record",
                "create",
                "--type",
                "incident",
                "--payload",
                s(&payload),
            ],
        );
        v["record"].as_str().unwrap().to_string()
    }
    /// The original's latest kept checkpoint, saved outside both ledgers.
    fn checkpoint(&self, name: &str) -> PathBuf {
        let note = self.text(&self.dir, &["checkpoint", "show"]);
        self.file(name, format!("{}\n", note.trim_end()).as_bytes())
    }
    /// `blotter --ledger LEDGER backup --out OUT`, whatever its outcome.
    fn backup(&self, ledger: &Path, out: &Path) -> assert_cmd::assert::Assert {
        self.on(ledger)
            .arg("--json")
            .arg("backup")
            .arg("--out")
            .arg(out)
            .assert()
    }
    /// The names in the fixture's folder.
    fn names(&self) -> Vec<String> {
        names(&self.root)
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Every file under `dir`, relative, with its bytes.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(root: &Path, rel: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for e in std::fs::read_dir(root.join(rel)).unwrap() {
            let e = e.unwrap();
            let rel = rel.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                walk(root, &rel, out);
            } else {
                out.push((rel.clone(), std::fs::read(root.join(&rel)).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, Path::new(""), &mut out);
    out.sort();
    out
}

#[test]
fn backup_verifies_against_a_held_checkpoint_and_stays_as_it_was() {
    let f = Fixture::new();
    let id = f.create();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 13 % 251) as u8).collect();
    let photo = f.file("photo.jpg", &data);
    let att = f.json(&f.dir, &["record", "attach", &id, s(&photo)]);
    let blob = att["blob"].as_str().unwrap().to_string();
    let before = f.checkpoint("before.txt");
    let vkey = f.file("ledger.vkey", f.text(&f.dir, &["key", "ledger"]).as_bytes());
    let original = verify(&f.dir, &[]);

    let bk = f.root.join("backup");
    let out = f.backup(&f.dir, &bk).success();
    let summary: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(summary["dest"], s(&bk), "{summary}");
    assert_eq!(summary["entries"], original.entries(), "{summary}");
    assert_eq!(summary["head"], original.head(), "{summary}");
    assert_eq!(summary["ledger_key"], true, "{summary}");
    let blobs = names(&f.dir.join("blobs"));
    assert!(blobs.contains(&blob) && !blobs.iter().any(|n| n.starts_with("tmp-")));
    assert_eq!(summary["blobs"], blobs.len(), "{summary}");
    assert!(summary["documents"].as_u64().unwrap() >= 1, "{summary}");
    assert!(
        summary["rows"].as_u64().unwrap() > original.entries(),
        "{summary}"
    );
    assert!(summary["bytes"].as_u64().unwrap() > 200_000, "{summary}");
    assert!(
        out.get_output().stderr.is_empty(),
        "no progress bar off a terminal"
    );
    assert!(
        !f.names().iter().any(|n| n.starts_with('.')),
        "no hidden folder left"
    );
    // The ledger's own files, and nothing else of the folder (the demo's keys).
    for (name, m) in [("epochs.key", 0o600), ("ledger.key", 0o600)] {
        assert_eq!(mode(&bk.join(name)), m, "{name}");
    }
    assert!(bk.join("ledger.pub").is_file() && bk.join("blobs").join(&blob).is_file());
    assert!(!bk.join("keys").exists() && !bk.join("store/holder").exists());

    let held = ["--checkpoint", s(&before), "--ledger-key", s(&vkey)];
    let v = assert_clean(&bk, &[], "the backup");
    assert_eq!(v.head_arg(), original.head_arg());
    assert_clean(
        &bk,
        &held,
        "the backup against a checkpoint held from before it",
    );

    // The original grows; the backup does not.
    f.create();
    f.create();
    let after = f.checkpoint("after.txt");
    let grown = verify(&f.dir, &[]).entries();
    assert_eq!(grown, original.entries() + 2);
    let v = assert_clean(&bk, &held, "the backup after the original grew");
    assert_eq!(v.head_arg(), original.head_arg(), "the backup is unchanged");

    // Against a checkpoint from after it, the backup is older: caught, exit 1.
    let v = verify(&bk, &["--checkpoint", s(&after), "--ledger-key", s(&vkey)]);
    assert_eq!(v.code, 1, "{v:?}");
    assert_eq!(v.problem_seq(), Some(original.entries()), "{v:?}");
    let what = v.problem_what();
    assert!(
        what.contains("truncated or rolled back")
            && what.contains(&original.entries().to_string())
            && what.contains(&grown.to_string()),
        "{what}"
    );

    // The attachment reads back from the backup.
    let back = f.root.join("back.jpg");
    f.json(
        &bk,
        &["record", "get-attachment", &id, &blob, "--out", s(&back)],
    );
    assert_eq!(std::fs::read(&back).unwrap(), data);

    // A backup of the backup is a backup too (human output names the drill).
    let again = f.root.join("again");
    f.on(&bk)
        .arg("backup")
        .arg("--out")
        .arg(&again)
        .assert()
        .success()
        .stdout(contains("verify --checkpoint"));
    assert_clean(&again, &held, "a backup of the backup");
}

#[test]
fn backup_refusals_exit_2_and_write_nothing() {
    let f = Fixture::new();
    let ledger_before = tree(&f.dir);

    // An existing folder, empty or not, and an existing file.
    let full = f.root.join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("keep"), b"mine").unwrap();
    let empty = f.root.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let file = f.file("file", b"mine");
    let beside = f.names();
    for out in [&full, &empty, &file] {
        f.backup(&f.dir, out)
            .code(2)
            .stderr(contains("already exists"));
    }
    assert_eq!(tree(&full), vec![(PathBuf::from("keep"), b"mine".to_vec())]);
    assert_eq!(names(&empty), Vec::<String>::new());
    assert_eq!(std::fs::read(&file).unwrap(), b"mine");

    // Inside the ledger folder, directly or through `..`.
    f.backup(&f.dir, &f.dir.join("backup"))
        .code(2)
        .stderr(contains("inside the ledger folder"));
    f.backup(&f.dir, &f.dir.join("blobs/../documents/b"))
        .code(2)
        .stderr(contains("inside the ledger folder"));
    // A folder that does not exist.
    f.backup(&f.dir, &f.root.join("no/such/b"))
        .code(2)
        .stderr(contains("does not exist"));

    // A failure half way (the ledger key readable by others is refused after the
    // store was copied) removes everything it wrote.
    let key = f.dir.join("ledger.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    f.backup(&f.dir, &f.root.join("half"))
        .code(2)
        .stderr(contains("ledger.key"));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    assert_eq!(f.names(), beside, "nothing new beside the ledger");
    assert_eq!(
        tree(&f.dir)
            .into_iter()
            .filter(|(p, _)| !p.starts_with("store"))
            .collect::<Vec<_>>(),
        ledger_before
            .into_iter()
            .filter(|(p, _)| !p.starts_with("store"))
            .collect::<Vec<_>>(),
        "nothing new in the ledger folder"
    );
    assert_clean(&f.dir, &[], "the ledger after the refusals");
}

/// A complete backup, packed as the daemon sends it.
fn packed(f: &Fixture) -> (PathBuf, Vec<u8>) {
    let bk = f.root.join("backup");
    f.backup(&f.dir, &bk).success();
    let mut bytes = Vec::new();
    let summary = pack(&bk, &mut bytes).unwrap();
    assert_eq!(summary.files as usize, tree(&bk).len());
    (bk, bytes)
}

#[test]
fn packed_backup_unpacks_into_a_ledger_that_verifies() {
    let f = Fixture::new();
    let cp = f.checkpoint("cp.txt");
    let vkey = f.file("ledger.vkey", f.text(&f.dir, &["key", "ledger"]).as_bytes());
    let (bk, _) = packed(&f);
    // A mode the stream carries is kept, but for the key files, which end up 0600.
    std::fs::set_permissions(
        bk.join("epochs.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let mut bytes = Vec::new();
    let packed = pack(&bk, &mut bytes).unwrap();

    let restored = f.root.join("restored");
    let unpacked = unpack(&bytes[..], &restored).unwrap();
    assert_eq!(unpacked, packed);
    assert_eq!(tree(&restored), tree(&bk), "the same files, byte for byte");
    for key in ["epochs.key", "ledger.key"] {
        assert_eq!(mode(&restored.join(key)), 0o600, "{key}");
    }
    assert_eq!(
        mode(&restored.join("ledger.pub")),
        mode(&bk.join("ledger.pub"))
    );
    assert!(
        !f.names().iter().any(|n| n.starts_with('.')),
        "no hidden folder left"
    );
    assert_clean(
        &restored,
        &["--checkpoint", s(&cp), "--ledger-key", s(&vkey)],
        "the unpacked backup",
    );

    // A standard tar: the tar tool unpacks the same files with the same modes.
    if let Some(tar) = tool("tar") {
        let stream = f.file("backup.tar", &bytes);
        let by_tool = f.root.join("by-tool");
        std::fs::create_dir(&by_tool).unwrap();
        let out = std::process::Command::new(tar)
            .arg("-xpf")
            .arg(&stream)
            .arg("-C")
            .arg(&by_tool)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(tree(&by_tool), tree(&bk));
        assert_eq!(mode(&by_tool.join("ledger.key")), 0o600);
        std::fs::remove_dir_all(&by_tool).unwrap();
        std::fs::remove_file(&stream).unwrap();
    }

    // An existing destination is refused and left alone.
    let e = unpack(&bytes[..], &restored).unwrap_err().to_string();
    assert!(e.contains("already exists"), "{e}");
    assert_clean(
        &restored,
        &[],
        "the unpacked backup, after a refused unpack",
    );
}

/// A tar header with a raw name (no checks: `tar::Header::set_path` refuses `..`).
fn raw_member(out: &mut Vec<u8>, name: &str, kind: tar::EntryType, link: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    {
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    h.set_entry_type(kind);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

#[test]
fn unpack_refuses_escapes_links_and_cut_streams_and_leaves_nothing() {
    let f = Fixture::new();
    let (_, good) = packed(&f);
    // The good stream without its two end-of-archive blocks.
    let body = &good[..good.len() - 1024];
    assert!(good[good.len() - 1024..].iter().all(|b| *b == 0));
    let outside = f.root.join("outside");
    let absolute = format!("{}/abs", f.root.display());

    let evil = |name: &str, kind: tar::EntryType, link: &str| {
        let mut t = body.to_vec();
        raw_member(
            &mut t,
            name,
            kind,
            link,
            if kind == tar::EntryType::Regular {
                b"x"
            } else {
                b""
            },
        );
        t.extend_from_slice(&[0; 1024]);
        t
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "a ../ path",
            evil("../outside", tar::EntryType::Regular, ""),
            "not a plain relative path",
        ),
        (
            "a ../ inside a path",
            evil("blobs/../../outside", tar::EntryType::Regular, ""),
            "not a plain relative path",
        ),
        (
            "an absolute path",
            evil(&absolute, tar::EntryType::Regular, ""),
            "not a plain relative path",
        ),
        (
            "a symlink",
            evil("blobs/link", tar::EntryType::Symlink, s(&outside)),
            "Symlink",
        ),
        (
            "a hard link",
            evil("blobs/link", tar::EntryType::Link, "ledger.pub"),
            "Link",
        ),
        (
            "a device",
            evil("blobs/null", tar::EntryType::Char, ""),
            "Char",
        ),
        (
            "a name twice",
            evil("ledger.pub", tar::EntryType::Regular, ""),
            "appears twice",
        ),
        ("no end blocks", body.to_vec(), "cut short"),
        (
            "cut inside a file",
            good[..good.len() / 2].to_vec(),
            "tar stream",
        ),
        (
            "garbage after the end",
            [&good[..], b"more"].concat(),
            "after its end",
        ),
        (
            "no ledger in it",
            {
                let mut t = Vec::new();
                raw_member(&mut t, "notes.txt", tar::EntryType::Regular, "", b"hello");
                t.extend_from_slice(&[0; 1024]);
                t
            },
            "no ledger backup",
        ),
    ];
    let before = f.names();
    for (what, bytes, says) in cases {
        let dest = f.root.join("restored");
        let e = unpack(&bytes[..], &dest)
            .err()
            .unwrap_or_else(|| panic!("{what}: unpacked"))
            .to_string();
        assert!(e.contains(says), "{what}: {e}");
        assert!(!dest.exists(), "{what}: the destination was created");
        assert_eq!(f.names(), before, "{what}: something was left beside it");
        assert!(
            !outside.exists() && !Path::new(&absolute).exists(),
            "{what}: wrote outside"
        );
    }
}
