//! `archive transfer` through the real binary, on the ledger folder and through the
//! daemon: export, verify, transfer entries naming the archive, destruction of the live
//! copies; and nothing destroyed when the written archive cannot be verified.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use age::secrecy::ExposeSecret;
use common::blotter;
use serde_json::Value;

const SCHEDULE: &str = "tests/fixtures/schedule-transfer.toml";

thread_local! {
    /// The daemon's URL while a test runs through `--server`.
    static SERVER: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// `blotter` on the ledger `dir` as `who`: on the folder, or through the daemon (where
/// every request is signed, so a command run as nobody runs as the auditor).
fn run(dir: &Path, who: Option<&str>, args: &[&str]) -> Output {
    let mut c = blotter();
    let who = match SERVER.with(|s| s.borrow().clone()) {
        Some(url) => {
            c.arg("--server").arg(url);
            who.or(Some("auditor"))
        }
        None => {
            c.arg("--ledger").arg(dir);
            who
        }
    };
    if let Some(w) = who {
        c.arg("--key")
            .arg(dir.join("keys").join(format!("{w}.key")));
    }
    c.args(args).output().unwrap()
}

fn ok(dir: &Path, who: Option<&str>, args: &[&str]) -> Value {
    let out = run(dir, who, &[&["--json"], args].concat());
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn identity(dir: &Path, name: &str) -> (PathBuf, String) {
    let id = age::x25519::Identity::generate();
    let p = dir.join(name);
    std::fs::write(&p, id.to_string().expose_secret()).unwrap();
    (p, id.to_public().to_string())
}

fn scan(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            hits.extend(scan(&p, needle));
        } else if std::fs::read(&p)
            .map(|b| b.windows(needle.len()).any(|w| w == needle))
            .unwrap_or(false)
        {
            hits.push(p);
        }
    }
    hits
}

#[test]
fn transfer_exports_verifies_records_and_destroys_only_after_verification() {
    scenario(false);
}

#[test]
fn transfer_through_the_daemon() {
    scenario(true);
}

fn scenario(server: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = common::demo(tmp.path(), "ledger", 3);
    let _daemon = server.then(|| {
        let d = common::daemon::Daemon::start(&dir);
        SERVER.with(|s| *s.borrow_mut() = Some(d.url.clone()));
        d
    });
    let keys = tmp.path();
    ok(&dir, Some("supervisor"), &["schedule", "adopt", SCHEDULE]);
    let marker = "DISTINCTIVE-TRANSFERRED-PLAINTEXT-51c2";
    let p = tmp.path().join("p.json");
    std::fs::write(&p, format!(r#"{{"summary":"{marker}"}}"#)).unwrap();
    let rec = ok(
        &dir,
        Some("clerk"),
        &[
            "record",
            "create",
            "--type",
            "incident",
            "--created-on",
            "2019-04-04",
            "--payload",
            p.to_str().unwrap(),
        ],
    )["record"]
        .as_str()
        .unwrap()
        .to_string();
    let plan = ok(
        &dir,
        Some("supervisor"),
        &["purge", "plan", "--as-of", "2026-06-01"],
    );
    let plan = plan["plan"].as_str().unwrap().to_string();
    ok(&dir, Some("supervisor2"), &["purge", "approve", &plan]);
    let applied = ok(&dir, Some("supervisor"), &["purge", "apply", &plan]);
    assert!(
        applied["transfer_pending"].as_u64().unwrap() >= 1,
        "{applied}"
    );

    let (id, recipient) = identity(keys, "archives.key");
    let (wrong, _) = identity(keys, "wrong.key");
    let out = tmp.path().join("transfer.age");
    let before = ok(&dir, None, &["verify"])["entries"].as_u64().unwrap();
    let args = |out: &Path, ident: &Path| -> Vec<String> {
        let mut a: Vec<String> = ["archive", "transfer", "--plan", &plan, "--out"]
            .map(String::from)
            .to_vec();
        a.push(out.to_str().unwrap().into());
        a.extend(["-r".into(), recipient.clone(), "-i".into()]);
        a.push(ident.to_str().unwrap().into());
        a
    };
    let transfer = |who: &str, out: &Path, ident: &Path| {
        let a = args(out, ident);
        let a: Vec<&str> = std::iter::once("--json")
            .chain(a.iter().map(String::as_str))
            .collect();
        run(&dir, Some(who), &a)
    };
    // A supervisor may not transfer.
    let o = transfer("supervisor", &out, &id);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!out.exists());
    // An identity that cannot open the written archive: nothing transferred or destroyed.
    let o = transfer("admin", &out, &wrong);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing destroyed"));
    assert_eq!(
        ok(&dir, None, &["verify"])["entries"].as_u64().unwrap(),
        before
    );
    ok(&dir, Some("clerk"), &["record", "show", &rec]);
    assert!(!out.exists(), "an archive that failed its check is removed");

    // The real thing.
    let real = args(&out, &id);
    let real: Vec<&str> = real.iter().map(String::as_str).collect();
    let t = ok(&dir, Some("admin"), &real);
    let hash = blake3::hash(&std::fs::read(&out).unwrap())
        .to_hex()
        .to_string();
    assert_eq!(t["archive"]["blake3"], hash.as_str());
    assert!(
        t["transfer"]["transferred_now"].as_u64().unwrap() >= 1,
        "{t}"
    );
    // The live copy is gone from the ledger folder; the archive holds it.
    let o = run(&dir, Some("clerk"), &["record", "show", &rec]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        scan(&dir, marker.as_bytes()).is_empty(),
        "plaintext left in the ledger folder"
    );
    let vkey = String::from_utf8(run(&dir, None, &["key", "ledger"]).stdout).unwrap();
    let into = tmp.path().join("restored");
    let o = blotter()
        .args([
            "archive",
            "restore",
            out.to_str().unwrap(),
            "-i",
            id.to_str().unwrap(),
            "--ledger-key",
            vkey.trim(),
            "--into",
            into.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        !scan(&into, marker.as_bytes()).is_empty(),
        "the archive holds the record"
    );
    // verify passes and lists the transfer with the archive's hash.
    let v = ok(&dir, None, &["verify"]);
    let row = v["disposed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["record"] == rec.as_str())
        .cloned()
        .unwrap();
    assert_eq!(row["kind"], "transfer", "{row}");
    assert_eq!(row["archive"], hash.as_str(), "{row}");
    // Again: nothing left to transfer, nothing written.
    let again = tmp.path().join("again.age");
    let o = transfer("admin", &again, &id);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!again.exists());
}
