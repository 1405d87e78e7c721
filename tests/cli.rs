//! The real binary: records round trips, sealed reads, import, and bad input
//! (clear error, exit 2, ledger unchanged).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

struct Demo {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Demo {
    fn new() -> Demo {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("demo");
        bin()
            .args(["demo", "--records", "30"])
            .arg(&dir)
            .assert()
            .success();
        Demo { _tmp: tmp, dir }
    }
    fn key(&self, who: &str) -> PathBuf {
        self.dir.join("keys").join(format!("{who}.key"))
    }
    fn cmd(&self, who: &str) -> Command {
        let mut c = bin();
        c.arg("--ledger")
            .arg(&self.dir)
            .arg("--key")
            .arg(self.key(who))
            .arg("--json");
        c
    }
    /// A command on this ledger signed with an arbitrary key file.
    fn with_key(&self, key: &Path) -> Command {
        let mut c = bin();
        c.arg("--ledger").arg(&self.dir).arg("--key").arg(key);
        c
    }
    fn json(&self, who: &str, args: &[&str]) -> Value {
        let out = self.cmd(who).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
    fn head(&self) -> u64 {
        self.json("auditor", &["verify"])["entries"]
            .as_u64()
            .unwrap()
    }
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self._tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

fn bin() -> Command {
    let mut c = Command::cargo_bin("blotter").unwrap();
    c.env_remove("BLOTTER_LEDGER")
        .env_remove("BLOTTER_KEY")
        .env_remove("BLOTTER_PASSPHRASE");
    c
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn create_amend_status_show_history_list() {
    let d = Demo::new();
    let pay = d.file(
        "p.json",
        r#"{"summary":"stolen bicycle","offense_class":"misdemeanor"}"#,
    );
    let created = d.json(
        "clerk",
        &[
            "record",
            "create",
            "--type",
            "incident",
            "--payload",
            p(&pay),
            "--case",
            "26-00451",
            "--created-on",
            "2024-02-29",
        ],
    );
    let id = created["record"].as_str().unwrap().to_string();
    let pay2 = d.file("p2.json", r#"{"summary":"stolen bicycle, recovered"}"#);
    d.json("clerk2", &["record", "amend", &id, "--payload", p(&pay2)]);
    d.json(
        "clerk",
        &[
            "record",
            "status",
            &id,
            "--status",
            "closed",
            "--date",
            "2024-03-10",
        ],
    );
    let shown = d.json("clerk", &["record", "show", &id]);
    assert_eq!(shown["content"]["summary"], "stolen bicycle, recovered");
    assert_eq!(shown["case_number"], "26-00451");
    assert_eq!(shown["status"], "closed");
    assert_eq!(shown["created_on"], "2024-02-29");
    let hist = d.json("clerk", &["record", "history", &id]);
    let actions: Vec<&str> = hist
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["record.create", "record.amend", "record.status"]);
    assert_eq!(hist[1]["person"], "C-117");
    let by_case = d.json("clerk", &["record", "list", "--case", "26-00451"]);
    assert_eq!(by_case.as_array().unwrap().len(), 1);
    assert_eq!(by_case[0]["id"], id.as_str());
    let closed = d.json(
        "clerk",
        &[
            "record",
            "list",
            "--type",
            "incident",
            "--status",
            "closed",
            "--from",
            "2024-02-01",
            "--to",
            "2024-03-01",
        ],
    );
    assert!(closed
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == id.as_str()));
    assert_eq!(
        d.json("auditor", &["verify", "--record", &id])["problem"],
        Value::Null
    );
}

#[test]
fn attachment_round_trip_is_verified() {
    let d = Demo::new();
    let pay = d.file("p.json", r#"{"summary":"collision"}"#);
    let id = d.json(
        "clerk",
        &[
            "record",
            "create",
            "--type",
            "collision",
            "--payload",
            p(&pay),
        ],
    )["record"]
        .as_str()
        .unwrap()
        .to_string();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let f = d._tmp.path().join("photo.jpg");
    std::fs::write(&f, &data).unwrap();
    let att = d.json("clerk", &["record", "attach", &id, p(&f)]);
    assert_eq!(att["size"], 300_000);
    let out = d._tmp.path().join("out.jpg");
    d.json(
        "clerk",
        &[
            "record",
            "get-attachment",
            &id,
            att["blob"].as_str().unwrap(),
            "--out",
            p(&out),
        ],
    );
    assert_eq!(std::fs::read(&out).unwrap(), data);
    // A flipped byte in the sealed blob is caught, and nothing is written out.
    let blob = d.dir.join("blobs").join(att["blob"].as_str().unwrap());
    let mut sealed = std::fs::read(&blob).unwrap();
    sealed[1000] ^= 1;
    std::fs::write(&blob, &sealed).unwrap();
    let out2 = d._tmp.path().join("out2.jpg");
    d.cmd("clerk")
        .args([
            "record",
            "get-attachment",
            &id,
            att["blob"].as_str().unwrap(),
            "--out",
            p(&out2),
        ])
        .assert()
        .code(2);
    assert!(!out2.exists());
    d.cmd("auditor").arg("verify").assert().code(1);
}

#[test]
fn sealed_and_confidential_reads_are_logged_and_role_checked() {
    let d = Demo::new();
    let pay = d.file("p.json", r#"{"summary":"arrest"}"#);
    let id = d.json(
        "clerk",
        &["record", "create", "--type", "arrest", "--payload", p(&pay)],
    )["record"]
        .as_str()
        .unwrap()
        .to_string();
    d.cmd("clerk")
        .args(["record", "seal", &id, "--court-order", "CO-1"])
        .assert()
        .code(2);
    d.json(
        "supervisor",
        &["record", "seal", &id, "--court-order", "CO-1"],
    );
    let before = d.head();
    // A clerk cannot read it, and nothing is written.
    d.cmd("clerk")
        .args(["record", "show", &id])
        .assert()
        .code(2);
    assert_eq!(d.head(), before);
    // An auditor can; the read is an entry first.
    let shown = d.json("auditor", &["record", "show", &id]);
    assert_eq!(shown["content"]["summary"], "arrest");
    assert_eq!(d.head(), before + 1);
    let hist = d.json("auditor", &["record", "history", &id]);
    assert_eq!(hist.as_array().unwrap().last().unwrap()["action"], "access");
    // Attachments of a sealed record: refused to a clerk, logged for an auditor.
    let scan = d.file("scan.pdf", "scanned page");
    let att = d.json("supervisor", &["record", "attach", &id, p(&scan)]);
    let blob = att["blob"].as_str().unwrap().to_string();
    let out = d._tmp.path().join("scan-out.pdf");
    let before = d.head();
    d.cmd("clerk")
        .args(["record", "get-attachment", &id, &blob, "--out", p(&out)])
        .assert()
        .code(2);
    assert!(!out.exists());
    d.json(
        "auditor",
        &["record", "get-attachment", &id, &blob, "--out", p(&out)],
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "scanned page");
    assert_eq!(d.head(), before + 1, "the attachment read is logged first");
    // Confidential by type (juvenile).
    let jid = d.json(
        "clerk",
        &[
            "record",
            "create",
            "--type",
            "juvenile",
            "--payload",
            p(&pay),
        ],
    )["record"]
        .as_str()
        .unwrap()
        .to_string();
    d.cmd("clerk")
        .args(["record", "show", &jid])
        .assert()
        .code(2);
    d.json("supervisor", &["record", "show", &jid]);
}

#[test]
fn bad_input_is_refused_with_exit_2_and_writes_nothing() {
    let d = Demo::new();
    let head = d.head();
    let bad = d.file("bad.json", "{\n  \"summary\": \"x\",\n  oops\n}");
    let out = d
        .cmd("clerk")
        .args([
            "record",
            "create",
            "--type",
            "incident",
            "--payload",
            p(&bad),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.json:3:"),
        "error should name file and line: {err}"
    );
    let good = d.file("good.json", r#"{"summary":"x"}"#);
    let out = d
        .cmd("clerk")
        .args([
            "record",
            "create",
            "--type",
            "spaceship",
            "--payload",
            p(&good),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown record type"));
    d.cmd("clerk")
        .args([
            "record",
            "create",
            "--type",
            "incident",
            "--payload",
            "/nonexistent/p.json",
        ])
        .assert()
        .code(2);
    // Missing and loose key files.
    bin()
        .arg("--ledger")
        .arg(&d.dir)
        .args([
            "--key",
            "/nonexistent.key",
            "record",
            "create",
            "--type",
            "incident",
            "--payload",
            p(&good),
        ])
        .assert()
        .code(2);
    use std::os::unix::fs::PermissionsExt;
    let loose = d._tmp.path().join("loose.key");
    std::fs::copy(d.key("clerk"), &loose).unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = d
        .with_key(&loose)
        .args([
            "record",
            "create",
            "--type",
            "incident",
            "--payload",
            p(&good),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));
    // Wrong passphrase on a protected key.
    let prot = d._tmp.path().join("prot.key");
    bin()
        .env("BLOTTER_PASSPHRASE", "right")
        .args([
            "key",
            "new",
            "--protect",
            "--scrypt-work-factor",
            "4",
            "--out",
            p(&prot),
        ])
        .assert()
        .success();
    let out = d
        .with_key(&prot)
        .env("BLOTTER_PASSPHRASE", "wrong")
        .args([
            "record",
            "create",
            "--type",
            "incident",
            "--payload",
            p(&good),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("passphrase is wrong"));
    // Not a ledger.
    bin()
        .args(["--ledger", "/nonexistent-ledger", "verify"])
        .assert()
        .code(2);
    assert_eq!(d.head(), head, "bad input must write nothing");
}

#[test]
fn import_validates_first_then_commits_and_reruns_skip() {
    let d = Demo::new();
    let head = d.head();
    let lines = [
        r#"{"source":{"record":"RMS-1","change":"RMS-1/1"},"action":"create","type":"incident","created_on":"2015-06-01","case_number":"15-1","payload":{"summary":"old"}}"#,
        r#"{"source":{"record":"RMS-1","change":"RMS-1/2"},"action":"amend","payload":{"summary":"old, amended"}}"#,
        r#"{"source":{"record":"RMS-1","change":"RMS-1/3"},"action":"status","status":"closed","date":"2015-07-01"}"#,
        r#"{"source":{"record":"RMS-2","change":"RMS-2/1"},"action":"create","type":"arrest","created_on":"2016-01-02","payload":{"summary":"b"}}"#,
    ];
    let mut broken = lines.to_vec();
    broken.push(
        r#"{"source":{"record":"RMS-9","change":"RMS-9/2"},"action":"amend","payload":{"a":1}}"#,
    );
    let bad = d.file("bad.jsonl", &broken.join("\n"));
    let out = d.cmd("clerk").args(["import", p(&bad)]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad.jsonl:5:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(d.head(), head, "a file with a bad line imports nothing");

    let good = d.file("good.jsonl", &lines.join("\n"));
    let sum = d.json("clerk", &["import", p(&good)]);
    assert_eq!(sum["appended"], 4);
    let again = d.json("clerk", &["import", p(&good)]);
    assert_eq!(again["appended"], 0);
    assert_eq!(again["skipped"], 4);
    let r = d.json("clerk", &["record", "list", "--case", "15-1"]);
    let id = r[0]["id"].as_str().unwrap();
    let shown = d.json("clerk", &["record", "show", id]);
    assert_eq!(shown["content"]["summary"], "old, amended");
    assert_eq!(shown["created_on"], "2015-06-01");
    assert_eq!(shown["status"], "closed");
    assert_eq!(d.json("auditor", &["verify"])["problem"], Value::Null);
}

#[test]
fn key_register_revoke_rotate_through_the_cli() {
    let d = Demo::new();
    let k = d._tmp.path().join("new.key");
    let pubkey = d.json("admin", &["key", "new", "--out", p(&k)])["public_key"]
        .as_str()
        .unwrap()
        .to_string();
    d.cmd("clerk")
        .args([
            "key", "register", &pubkey, "--person", "C-200", "--role", "clerk",
        ])
        .assert()
        .code(2);
    d.json(
        "admin",
        &[
            "key", "register", &pubkey, "--person", "C-200", "--role", "clerk",
        ],
    );
    let pay = d.file("p.json", r#"{"summary":"x"}"#);
    d.with_key(&k)
        .args(["record", "create", "--type", "call", "--payload", p(&pay)])
        .assert()
        .success();
    let k2 = d._tmp.path().join("new2.key");
    let pub2 = d.json("admin", &["key", "new", "--out", p(&k2)])["public_key"]
        .as_str()
        .unwrap()
        .to_string();
    d.json("admin", &["key", "rotate", &pubkey, &pub2]);
    d.with_key(&k)
        .args(["record", "create", "--type", "call", "--payload", p(&pay)])
        .assert()
        .code(2);
    d.with_key(&k2)
        .args(["record", "create", "--type", "call", "--payload", p(&pay)])
        .assert()
        .success();
    d.json(
        "admin",
        &["key", "revoke", &pub2, "--compromised-since", "0"],
    );
    // Entries signed by a key revoked as compromised are flagged: verify exits 1.
    let out = d.cmd("auditor").arg("verify").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["flagged"].as_array().unwrap().len(), 1);
    let keys = d.json("auditor", &["key", "list"]);
    assert!(keys
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["person"] == "C-200" && k["revoked"].is_u64()));
}

/// Regression: two changes in one batch to a record created by an earlier import used
/// to chain both to the stored state, and the whole batch was refused.
#[test]
fn import_chains_changes_to_records_from_an_earlier_import() {
    let d = Demo::new();
    let first = d.file(
        "first.jsonl",
        r#"{"source":{"record":"RMS-7","change":"RMS-7/1"},"action":"create","type":"warrant","payload":{"summary":"w"}}"#,
    );
    d.json("clerk", &["import", p(&first)]);
    let second = d.file(
        "second.jsonl",
        &[
            r#"{"source":{"record":"RMS-7","change":"RMS-7/2"},"action":"amend","payload":{"summary":"w2"}}"#,
            r#"{"source":{"record":"RMS-7","change":"RMS-7/3"},"action":"status","status":"served","date":"2026-01-05"}"#,
        ]
        .join("\n"),
    );
    assert_eq!(d.json("clerk", &["import", p(&second)])["appended"], 2);
    // Fields on the wrong kind of line are refused in the validation pass.
    let bad = d.file(
        "bad2.jsonl",
        r#"{"source":{"record":"RMS-7","change":"RMS-7/4"},"action":"status","status":"closed","date":"2026-01-06","payload":{"a":1}}"#,
    );
    let out = d.cmd("clerk").args(["import", p(&bad)]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad2.jsonl:1:") && err.contains("amend line"),
        "{err}"
    );
    assert_eq!(d.json("auditor", &["verify"])["problem"], Value::Null);
}

/// The commit pass forgets each batch's records after its commit; changes in a later
/// batch find their records again through the store. A duplicate far apart in the file is
/// still caught by the validation pass.
#[test]
fn import_spans_batches_and_catches_distant_duplicates() {
    let d = Demo::new();
    let n = blotter::import::BATCH + 50;
    let mut lines: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"source":{{"record":"B-{i}","change":"B-{i}/1"}},"action":"create","type":"call","payload":{{"n":{i}}}}}"#))
        .collect();
    lines.extend((0..20).map(|i| format!(r#"{{"source":{{"record":"B-{i}","change":"B-{i}/2"}},"action":"amend","payload":{{"n":{i},"amended":true}}}}"#)));
    let mut dup = lines.clone();
    dup.push(
        r#"{"source":{"record":"B-3","change":"B-3/1"},"action":"amend","payload":{}}"#.into(),
    );
    let bad = d.file("dup.jsonl", &dup.join("\n"));
    let head = d.head();
    let out = d.cmd("clerk").args(["import", p(&bad)]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("dup.jsonl:{}:", n + 21)) && err.contains("twice"),
        "{err}"
    );
    assert_eq!(d.head(), head);

    let good = d.file("batches.jsonl", &lines.join("\n"));
    assert_eq!(d.json("clerk", &["import", p(&good)])["appended"], n + 20);
    assert_eq!(d.json("auditor", &["verify"])["problem"], Value::Null);
}

/// `init` is all or nothing: a refused init leaves no ledger, no key and no half-built
/// folder; a successful one leaves only the ledger and the admin key.
#[test]
fn init_is_all_or_nothing() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("pd");
    let key = t.path().join("admin.key");
    let init = |origin: &str| {
        bin()
            .args([
                "init",
                p(&dir),
                "--origin",
                origin,
                "--person",
                "A-1",
                "--admin-key",
                p(&key),
            ])
            .output()
            .unwrap()
    };
    let out = init("has space/pd");
    assert_eq!(out.status.code(), Some(2));
    let listing = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert!(listing().is_empty(), "{:?}", listing());

    let out = init("pd.example/records");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(listing(), ["admin.key", "pd"]);
    let v = bin()
        .args(["--json", "--ledger", p(&dir), "verify"])
        .output()
        .unwrap();
    assert!(v.status.success());

    // A second init into the same folder is refused and changes nothing.
    std::fs::remove_file(&key).unwrap();
    let out = init("pd.example/records");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(listing(), ["pd"]);
}
