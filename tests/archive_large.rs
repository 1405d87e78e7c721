//! A 2 GiB attachment exports, verifies and restores with each process's peak RSS
//! under 200 MB (issue 6): nothing holds a record, an attachment or the archive in
//! memory. Its own test binary, so that nothing else runs beside it.
#![cfg(target_os = "linux")]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use age::secrecy::ExposeSecret;
use common::{blotter, demo};

const SIZE: u64 = 2 << 30;
const LIMIT_MB: u64 = 200;

/// Runs `cmd` to the end, sampling its peak RSS (VmHWM, a high-water mark) meanwhile.
/// Returns the peak in MiB.
fn run_measured(mut cmd: Command, what: &str) -> u64 {
    let mut child = cmd.spawn().expect(what);
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_file) {
            if let Some(kb) = s
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
            {
                peak_kb = peak_kb.max(kb);
            }
        }
        if let Some(st) = child.try_wait().expect("wait") {
            assert!(st.success(), "{what} failed: {st}");
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mib = peak_kb / 1024;
    eprintln!("{what}: peak RSS {mib} MiB");
    mib
}

/// 2 GiB of incompressible bytes (xorshift), written 1 MiB at a time.
fn write_big(path: &Path) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..(SIZE >> 20) {
        for c in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c.copy_from_slice(&x.to_le_bytes());
        }
        f.write_all(&buf).unwrap();
    }
    f.flush().unwrap();
}

#[test]
fn a_2_gib_attachment_exports_verifies_and_restores_in_bounded_memory() {
    let root = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("archive-large");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let ledger = demo(&root, "ledger", 3);
    let l = ledger.to_str().unwrap();
    let list = blotter()
        .args([
            "--json", "--ledger", l, "record", "list", "--type", "incident",
        ])
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let id = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["disposed"].is_null() && r["sealed"] == false && r["confidential"] == false)
        .map(|r| r["id"].as_str().unwrap().to_string())
        .expect("a live incident");
    let big = root.join("video.bin");
    write_big(&big);
    let mut c = blotter();
    c.args([
        "--ledger",
        l,
        "--key",
        &format!("{l}/keys/clerk.key"),
        "record",
        "attach",
        &id,
    ])
    .arg(&big);
    let attach = run_measured(c, "record attach");
    std::fs::remove_file(&big).unwrap();

    let identity = age::x25519::Identity::generate();
    let id_file = root.join("id.txt");
    std::fs::write(&id_file, identity.to_string().expose_secret()).unwrap();
    let archive = root.join("big.age");
    let mut c = blotter();
    c.args([
        "--ledger",
        l,
        "--key",
        &format!("{l}/keys/admin.key"),
        "archive",
        "export",
    ])
    .args([
        "--record",
        &id,
        "-r",
        &identity.to_public().to_string(),
        "--out",
    ])
    .arg(&archive);
    let export = run_measured(c, "archive export");
    assert!(
        std::fs::metadata(&archive).unwrap().len() > SIZE,
        "incompressible data"
    );

    let vkey = blotter()
        .args(["--ledger", l, "key", "ledger"])
        .output()
        .unwrap();
    let vkey = String::from_utf8(vkey.stdout).unwrap().trim().to_string();
    let mut c = blotter();
    c.args(["archive", "verify"])
        .arg(&archive)
        .arg("-i")
        .arg(&id_file);
    c.args(["--ledger-key", &vkey]);
    let verify = run_measured(c, "archive verify");

    let into = root.join("restored");
    let mut c = blotter();
    c.args(["archive", "restore"])
        .arg(&archive)
        .arg("-i")
        .arg(&id_file);
    c.args(["--ledger-key", &vkey, "--into"]).arg(&into);
    let restore = run_measured(c, "archive restore");
    let restored = std::fs::read_dir(into.join("data/records").join(&id))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".attachment"))
        .expect("the attachment is restored");
    assert_eq!(std::fs::metadata(&restored).unwrap().len(), SIZE);

    for (what, mib) in [
        ("attach", attach),
        ("export", export),
        ("verify", verify),
        ("restore", restore),
    ] {
        assert!(
            mib < LIMIT_MB,
            "{what}: peak RSS {mib} MiB, limit {LIMIT_MB}"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}
