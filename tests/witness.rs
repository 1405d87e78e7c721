//! The witness of `examples/witness.rs` and the `blotter` binary together: key
//! exchange, cosigning rounds, what `checkpoint cosign` keeps and refuses, and what the
//! witness refuses (docs/WITNESS.md).
//!
//! The example binary is built by `cargo test` (all targets) or `cargo build --examples`;
//! `cargo test --test witness` alone does not build it.

mod common;
use common::copy_dir;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;

const WNAME: &str = "archives.test.example/witness";

fn blotter() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_blotter"));
    c.env_remove("BLOTTER_LEDGER")
        .env_remove("BLOTTER_KEY")
        .env_remove("BLOTTER_PASSPHRASE");
    c
}

/// target/<profile>/examples/witness, next to this test's target/<profile>/deps/.
fn witness_exe() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let path = profile_dir.join("examples").join("witness");
    assert!(
        path.is_file(),
        "the witness example is not built at {}: run `cargo build --examples` (or plain `cargo test`) first",
        path.display()
    );
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/witness.rs");
    let (built, edited) = (
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        std::fs::metadata(&src).unwrap().modified().unwrap(),
    );
    assert!(
        built >= edited,
        "the witness example at {} is older than examples/witness.rs: run `cargo build --examples` first",
        path.display()
    );
    path
}

/// Runs `cmd` with `input` on stdin.
fn run_with_stdin(mut cmd: Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    let writer = std::thread::spawn(move || {
        // The witness may refuse before reading everything; a broken pipe is fine.
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

/// A demo ledger with a witness key made by the example and registered by the admin.
struct Setup {
    tmp: tempfile::TempDir,
    ledger: PathBuf,
    wkey: PathBuf,
    state: PathBuf,
    vkey: String,
    log_vkey: String,
}

impl Setup {
    fn new() -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let ledger = tmp.path().join("ledger");
        let o = blotter()
            .args(["demo", "--records", "30"])
            .arg(&ledger)
            .output()
            .unwrap();
        assert!(o.status.success(), "demo failed: {}", stderr(&o));
        let wkey = tmp.path().join("witness.key");
        let vkey = new_witness(WNAME, &wkey);
        let s = Setup {
            state: tmp.path().join("witness-state"),
            log_vkey: String::new(),
            tmp,
            ledger,
            wkey,
            vkey,
        };
        let log_vkey = s.ok(&["key", "ledger"]).trim().to_string();
        let s = Setup { log_vkey, ..s };
        s.ok_as("admin", &["witness", "register", &s.vkey.clone()]);
        s
    }

    fn key(&self, who: &str) -> PathBuf {
        self.ledger.join("keys").join(format!("{who}.key"))
    }

    fn cmd(&self, ledger: &Path) -> Command {
        let mut c = blotter();
        c.arg("--ledger").arg(ledger);
        c
    }

    /// `blotter --ledger L ARGS`, which must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        self.ok_in(&self.ledger, args)
    }

    fn ok_in(&self, ledger: &Path, args: &[&str]) -> String {
        let o = self.cmd(ledger).args(args).output().unwrap();
        assert!(o.status.success(), "{args:?} failed: {}", stderr(&o));
        stdout(&o)
    }

    /// The same, signed with `who`'s key.
    fn ok_as(&self, who: &str, args: &[&str]) -> String {
        let o = self
            .cmd(&self.ledger)
            .arg("--key")
            .arg(self.key(who))
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?} as {who} failed: {}",
            stderr(&o)
        );
        stdout(&o)
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// `checkpoint cosign` of `note`; the raw output.
    fn cosign_into_ledger(&self, note: &str) -> Output {
        let f = self.file("cosigned.txt", note);
        self.cmd(&self.ledger)
            .args(["checkpoint", "cosign"])
            .arg(&f)
            .output()
            .unwrap()
    }

    /// The kept checkpoint note of `size`.
    fn kept(&self, size: u64) -> String {
        self.ok(&["checkpoint", "show", "--size", &size.to_string()])
    }

    /// Our witness run on `body` with `state`.
    fn witness_with(&self, body: &str, key: &Path, name: &str, state: &Path) -> Output {
        let mut c = Command::new(witness_exe());
        c.args(["cosign", "--name", name, "--log-key", &self.log_vkey])
            .arg("--key")
            .arg(key)
            .arg("--state")
            .arg(state);
        run_with_stdin(c, body)
    }

    fn witness(&self, body: &str) -> Output {
        self.witness_with(body, &self.wkey, WNAME, &self.state)
    }

    /// Round 1: a fresh checkpoint, `old 0` with no proof. Returns the request, the
    /// witness's cosigned note and the size.
    fn round1(&self) -> (String, String, u64) {
        self.ok(&["checkpoint"]);
        let body = format!("old 0\n\n{}", self.ok(&["checkpoint", "show"]));
        let o = self.witness(&body);
        assert_eq!(code(&o), 0, "witness refused round 1: {}", stderr(&o));
        let note = stdout(&o);
        let size = size_of(&note);
        (body, note, size)
    }

    /// A clerk enters a record (which signs a checkpoint of the new head).
    fn add_record(&self, ledger: &Path, summary: &str) {
        let p = self.file("p.json", &format!(r#"{{"summary":"{summary}"}}"#));
        let o = self
            .cmd(ledger)
            .arg("--key")
            .arg(ledger.join("keys/clerk.key"))
            .args(["record", "create", "--type", "incident", "--payload"])
            .arg(&p)
            .output()
            .unwrap();
        assert!(o.status.success(), "record create: {}", stderr(&o));
    }
}

/// `witness new`: writes the key, returns the vkey.
fn new_witness(name: &str, key: &Path) -> String {
    let o = Command::new(witness_exe())
        .args(["new", "--name", name, "--key"])
        .arg(key)
        .output()
        .unwrap();
    assert!(o.status.success(), "witness new: {}", stderr(&o));
    stdout(&o).trim().to_string()
}

/// The tree size of a checkpoint note (its second line).
fn size_of(note: &str) -> u64 {
    note.lines().nth(1).unwrap().parse().unwrap()
}

/// The signature line of `name` in a note.
fn line_of<'a>(note: &'a str, name: &str) -> &'a str {
    let prefix = format!("\u{2014} {name} ");
    note.lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no line of {name} in\n{note}"))
}

#[test]
fn end_to_end_two_rounds() {
    let s = Setup::new();
    let ws = s.json(&["witness", "list"]);
    assert!(ws.as_array().unwrap().iter().any(|w| w["name"] == WNAME));
    // The list gives the verifier key an auditor's tools take, as registered.
    assert!(
        ws.as_array()
            .unwrap()
            .iter()
            .any(|w| w["vkey"] == s.vkey.as_str()),
        "{ws}"
    );

    // Round 1.
    let (_, note1, size1) = s.round1();
    let line1 = line_of(&note1, WNAME).to_string();
    let o = s.cosign_into_ledger(&note1);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let shown = s.ok(&["checkpoint", "show"]);
    assert_eq!(shown, note1, "the kept note is the cosigned one");
    assert!(shown.contains(&line1));

    // Round 2, after a new record.
    s.add_record(&s.ledger, "vehicle break-in");
    let body2 = s.ok(&["proof", "consistency", "--from", &size1.to_string()]);
    assert!(body2.starts_with(&format!("old {size1}\n")));
    let o = s.witness(&body2);
    assert_eq!(code(&o), 0, "witness refused round 2: {}", stderr(&o));
    let note2 = stdout(&o);
    let size2 = size_of(&note2);
    assert!(size2 > size1);
    let line2 = line_of(&note2, WNAME).to_string();
    let f = s.file("c2.txt", &note2);
    let cosigned: Value =
        serde_json::from_str(&s.ok(&["--json", "checkpoint", "cosign", f.to_str().unwrap()]))
            .unwrap();
    assert_eq!(cosigned["size"], size2);
    assert_eq!(cosigned["witnesses"][0][0], WNAME);

    let shown = s.ok(&["checkpoint", "show"]);
    assert!(shown.contains(&line2), "{shown}");
    assert!(s.kept(size1).contains(&line1));
    let json_show = s.json(&["checkpoint", "show"]);
    assert!(json_show["note"].as_str().unwrap().contains(&line2));

    let list = s.json(&["checkpoint", "list"]);
    for size in [size1, size2] {
        let row = list
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["size"] == size)
            .unwrap_or_else(|| panic!("no checkpoint {size} in {list}"));
        assert_eq!(row["signatures"], 2, "ledger + witness at {size}: {list}");
    }

    // An auditor with both verifier keys checks the cosigned note.
    let mut c = Command::new(witness_exe());
    c.args(["verify", "--witness-key", &s.vkey, "--log-key", &s.log_vkey]);
    let o = run_with_stdin(c, &shown);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).starts_with("ok: "));
}

#[test]
fn unknown_signature_lines_are_accepted_but_not_kept() {
    let s = Setup::new();
    let (body, note, size) = s.round1();
    // A second, unregistered witness cosigns the same request.
    let other_key = s.tmp.path().join("other.key");
    new_witness("unknown.example/witness", &other_key);
    let o = s.witness_with(
        &body,
        &other_key,
        "unknown.example/witness",
        &s.tmp.path().join("other-state"),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let other_line = line_of(&stdout(&o), "unknown.example/witness").to_string();
    let both = format!("{note}{other_line}\n");

    let o = s.cosign_into_ledger(&both);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains(WNAME));
    let kept = s.kept(size);
    assert!(kept.contains(line_of(&note, WNAME)));
    assert!(
        !kept.contains("unknown.example/witness"),
        "an unregistered line was kept:\n{kept}"
    );
}

#[test]
fn a_registered_witness_bad_cosignature_is_rejected() {
    let s = Setup::new();
    let (_, note, size) = s.round1();
    let before = s.kept(size);
    let line = line_of(&note, WNAME);
    let b64 = line.rsplit(' ').next().unwrap();
    let mut raw = STANDARD.decode(b64).unwrap();
    raw[4 + 8 + 10] ^= 0x01; // inside the Ed25519 signature
    let bad = note.replace(b64, &STANDARD.encode(&raw));
    assert_ne!(bad, note);

    let o = s.cosign_into_ledger(&bad);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("invalid"), "{}", stderr(&o));
    assert_eq!(s.kept(size), before, "nothing may be stored");
}

#[test]
fn a_note_without_a_registered_cosignature_is_refused() {
    let s = Setup::new();
    s.ok(&["checkpoint"]);
    let plain = s.ok(&["checkpoint", "show"]);
    let size = size_of(&plain);

    let o = s.cosign_into_ledger(&plain);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no cosignature of a registered witness"),
        "{}",
        stderr(&o)
    );

    // Only an unregistered witness cosigned.
    let other_key = s.tmp.path().join("other.key");
    new_witness("unknown.example/witness", &other_key);
    let o = s.witness_with(
        &format!("old 0\n\n{plain}"),
        &other_key,
        "unknown.example/witness",
        &s.tmp.path().join("other-state"),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = s.cosign_into_ledger(&stdout(&o));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_eq!(s.kept(size), plain, "nothing may be stored");
}

#[test]
fn the_witness_refuses_rollbacks_bad_proofs_other_logs_and_split_views() {
    let s = Setup::new();
    let (body1, _, size1) = s.round1();

    // A replayed `old 0` request: 409, naming the size it last cosigned.
    let o = s.witness(&body1);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let msg = stderr(&o);
    assert!(msg.contains("409"), "{msg}");
    assert!(
        msg.contains(&format!("last cosigned size is {size1}")),
        "{msg}"
    );

    // A fork of the ledger as it is now, to diverge later.
    let fork = s.tmp.path().join("fork");
    copy_dir(&s.ledger, &fork);

    // A tampered consistency proof: 422, and the state does not move.
    s.add_record(&s.ledger, "burglary");
    let body2 = s.ok(&["proof", "consistency", "--from", &size1.to_string()]);
    let first_hash = body2.lines().nth(1).unwrap();
    let mut h = STANDARD.decode(first_hash).unwrap();
    assert_eq!(h.len(), 32, "the proof has a first hash: {body2}");
    h[0] ^= 0x80;
    let tampered = body2.replacen(first_hash, &STANDARD.encode(&h), 1);
    let o = s.witness(&tampered);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("422"), "{}", stderr(&o));
    let o = s.witness(&body2);
    assert_eq!(
        code(&o),
        0,
        "the honest request after a refusal: {}",
        stderr(&o)
    );
    let size2 = size_of(&stdout(&o));

    // Rolled back: the old checkpoint again, claimed from the size now held (400), or
    // from its own size (409).
    let old_note = s.kept(size1);
    let o = s.witness(&format!("old {size2}\n\n{old_note}"));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("400"), "{}", stderr(&o));
    let o = s.witness(&format!("old {size1}\n\n{old_note}"));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("last cosigned size is {size2}")),
        "{}",
        stderr(&o)
    );

    // A checkpoint of another log with the same origin but another key: 403.
    let other = s.tmp.path().join("other-ledger");
    let o = blotter()
        .args(["demo", "--records", "30"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    s.ok_in(&other, &["checkpoint"]);
    let foreign = s.ok_in(&other, &["checkpoint", "show"]);
    let o = s.witness(&format!("old 0\n\n{foreign}"));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("403"), "{}", stderr(&o));

    // A split view: the fork grows to the same size with other content and is signed
    // by the same ledger key. Its checkpoint is refused with 422 and kept as evidence.
    s.add_record(&fork, "a different history");
    let fork_body = s.ok_in(
        &fork,
        &["proof", "consistency", "--from", &size2.to_string()],
    );
    assert_eq!(size_of(fork_body.split("\n\n").nth(1).unwrap()), size2);
    let o = s.witness(&fork_body);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("422"), "{}", stderr(&o));
    let evidence: Vec<_> = std::fs::read_dir(&s.state)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("refused-"))
        .collect();
    assert_eq!(evidence.len(), 2, "{evidence:?}");

    // After all that, the honest log still gets cosigned from where it was.
    let body3 = s.ok(&["proof", "consistency", "--from", &size2.to_string()]);
    let o = s.witness(&body3);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn only_an_admin_registers_a_witness() {
    let s = Setup::new();
    let before = s.json(&["witness", "list"]);
    let head = s.json(&["verify"])["entries"].as_u64().unwrap();
    let vkey = new_witness(
        "clerks-friend.example/witness",
        &s.tmp.path().join("w2.key"),
    );

    let o = s
        .cmd(&s.ledger)
        .arg("--key")
        .arg(s.key("clerk"))
        .args(["witness", "register", &vkey])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_eq!(s.json(&["witness", "list"]), before);
    assert_eq!(s.json(&["verify"])["entries"].as_u64().unwrap(), head);
}

/// `blotter audit cosignature`, with no ledger folder: the auditor's check that the
/// state archives cosigned the checkpoint they hold.
#[test]
fn auditor_checks_cosignatures_offline() {
    let s = Setup::new();
    let (_, note, size) = s.round1();
    let audit = |note: &str, wkeys: &[&str]| {
        let f = s.file("held.txt", note);
        let mut c = blotter();
        c.args([
            "audit",
            "cosignature",
            "--ledger-key",
            &s.log_vkey,
            "--checkpoint",
        ])
        .arg(&f);
        for k in wkeys {
            c.args(["--witness-key", k]);
        }
        c.output().unwrap()
    };
    let o = audit(&note, &[&s.vkey]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("size {size}")),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains(WNAME), "{}", stdout(&o));

    // A bad cosignature line of that witness: exit 1, named.
    let line = line_of(&note, WNAME);
    let b64 = line.rsplit(' ').next().unwrap();
    let mut raw = STANDARD.decode(b64).unwrap();
    raw[4 + 8 + 3] ^= 0x01;
    let o = audit(&note.replace(b64, &STANDARD.encode(&raw)), &[&s.vkey]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains(WNAME), "{}", stderr(&o));

    // A witness that did not cosign: exit 1.
    let other = new_witness("other.example/witness", &s.tmp.path().join("o.key"));
    let o = audit(&note, &[&s.vkey, &other]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("did not cosign"), "{}", stderr(&o));

    // A checkpoint of another ledger (the same note under a key it is not signed by).
    let tmp2 = tempfile::tempdir().unwrap();
    let other_ledger = common::demo(tmp2.path(), "other", 5);
    let other_vkey = stdout(
        &blotter()
            .arg("--ledger")
            .arg(&other_ledger)
            .args(["key", "ledger"])
            .output()
            .unwrap(),
    );
    let f = s.file("held.txt", &note);
    let o = blotter()
        .args([
            "audit",
            "cosignature",
            "--ledger-key",
            other_vkey.trim(),
            "--checkpoint",
        ])
        .arg(&f)
        .args(["--witness-key", &s.vkey])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));

    // A malformed witness key: the check cannot run, exit 2.
    let o = audit(&note, &["not-a-key"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}
