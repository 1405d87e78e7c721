//! End-to-end figures for docs/PERFORMANCE.md: bulk import, single `record create`
//! through the CLI, verify (throughput and peak RSS), attach of a large file.
//!
//! `cargo bench --bench ledger` (BENCH_ENTRIES=1000000 for the large ledger,
//! BENCH_ATTACH_MB to size the attachment, default 1024; BENCH_KEEP=1 keeps the ledger
//! and prints where).

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use blotter::format::Role;
use blotter::ledger::{Draft, InitOptions, Ledger, Settings};
use ed25519_dalek::SigningKey;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs a command, polling its peak RSS (VmHWM). Returns (wall, peak MiB, stdout).
fn run(cmd: &mut Command) -> (Duration, f64, String) {
    let start = Instant::now();
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let p2 = peak.clone();
    let poller = std::thread::spawn(move || loop {
        match std::fs::read_to_string(format!("/proc/{pid}/status")) {
            Ok(s) => {
                if let Some(kb) = s
                    .lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    p2.fetch_max(kb, std::sync::atomic::Ordering::Relaxed);
                }
                if s.contains("State:\tZ") {
                    return;
                }
            }
            Err(_) => return,
        }
        std::thread::sleep(Duration::from_millis(5));
    });
    let out = child.wait_with_output().expect("wait");
    let wall = start.elapsed();
    let _ = poller.join();
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    (
        wall,
        peak.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1024.0,
        String::from_utf8_lossy(&out.stdout).into(),
    )
}

fn main() {
    let n = env("BENCH_ENTRIES", 100_000);
    let attach_mb = env("BENCH_ATTACH_MB", 1024);
    let bin = env!("CARGO_BIN_EXE_blotter");
    let tmp = tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into()))
        .expect("tempdir");
    if std::env::var_os("BENCH_KEEP").is_some() {
        // Keep the ledger (and clerk.key) for later measurements; the path is printed.
        let kept = tmp.keep();
        println!("ledger kept in {}", kept.display());
        return run_in(&kept, n, attach_mb, bin);
    }
    run_in(tmp.path(), n, attach_mb, bin);
}

fn run_in(base: &Path, n: u64, attach_mb: u64, bin: &str) {
    let dir = base.join("ledger");
    let admin = SigningKey::generate(&mut rand::rngs::OsRng);
    let opts = InitOptions {
        origin: "bench.example/pd".into(),
        admin_person: "A-1".into(),
        settings: Settings::default(),
        ledger_key_path: None,
    };
    let mut l = Ledger::init(&dir, &admin, opts).expect("init");
    let clerk_path = base.join("clerk.key");
    let clerk = blotter::crypto::keyfile::create(&clerk_path, None).expect("key");
    let reg = Draft::key_registration(clerk.verifying_key().to_bytes(), "C-1", Role::Clerk);
    let s = l.sign(&admin, reg).expect("sign");
    l.append(vec![s]).expect("append");

    // Bulk import: n lines, 3 changes per record (create, amend, status).
    let feed = base.join("feed.jsonl");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&feed).expect("feed"));
        let records = n / 3;
        for r in 0..records {
            writeln!(f, r#"{{"source":{{"record":"R{r}","change":"R{r}/1"}},"action":"create","type":"incident","created_on":"2020-01-01","case_number":"20-{r}","payload":{{"summary":"incident {r}","location":"100 Main St","officer":"B-1001"}}}}"#).unwrap();
            writeln!(f, r#"{{"source":{{"record":"R{r}","change":"R{r}/2"}},"action":"amend","payload":{{"summary":"incident {r} amended","location":"100 Main St","officer":"B-1001"}}}}"#).unwrap();
            writeln!(f, r#"{{"source":{{"record":"R{r}","change":"R{r}/3"}},"action":"status","status":"closed","date":"2020-02-01"}}"#).unwrap();
        }
    }
    let t = Instant::now();
    let sum = blotter::import::import(&mut l, &clerk, &feed, &|_, _| {}).expect("import");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "import: {} changes in {:.2} s = {:.0} acknowledged changes/s (validation pass included)",
        sum.appended,
        secs,
        sum.appended as f64 / secs
    );
    let entries = l.head().size;
    drop(l);

    // Single record create through the CLI (process start included).
    let payload = base.join("p.json");
    std::fs::write(&payload, r#"{"summary":"one more"}"#).unwrap();
    let mut walls: Vec<f64> = (0..15)
        .map(|_| {
            let (w, _, _) = run(Command::new(bin)
                .arg("--ledger")
                .arg(&dir)
                .arg("--key")
                .arg(&clerk_path)
                .args(["record", "create", "--type", "incident", "--payload"])
                .arg(&payload));
            w.as_secs_f64() * 1000.0
        })
        .collect();
    walls.sort_by(f64::total_cmp);
    println!("record create (CLI) on a {entries}-entry ledger: median {:.1} ms, min {:.1} ms, max {:.1} ms", walls[walls.len() / 2], walls[0], walls[walls.len() - 1]);

    // Verify through the CLI.
    let (w, rss, out) = run(Command::new(bin)
        .arg("--ledger")
        .arg(&dir)
        .args(["verify", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out).expect("verify json");
    assert!(v["problem"].is_null(), "bench ledger must verify");
    let e = v["entries"].as_u64().unwrap_or(0);
    println!(
        "verify: {e} entries in {:.2} s = {:.0} entries/s, peak RSS {rss:.0} MiB",
        w.as_secs_f64(),
        e as f64 / w.as_secs_f64()
    );

    // Attach a large file through the CLI.
    if attach_mb > 0 {
        let big = base.join("big.bin");
        {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
            let chunk: Vec<u8> = (0..(1 << 20))
                .map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect();
            for _ in 0..attach_mb {
                f.write_all(&chunk).unwrap();
            }
        }
        let rec = {
            let (_, _, out) = run(Command::new(bin)
                .arg("--ledger")
                .arg(&dir)
                .arg("--key")
                .arg(&clerk_path)
                .args([
                    "--json",
                    "record",
                    "create",
                    "--type",
                    "evidence",
                    "--payload",
                ])
                .arg(&payload));
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            v["record"].as_str().unwrap().to_string()
        };
        let (w, rss, _) = run(Command::new(bin)
            .arg("--ledger")
            .arg(&dir)
            .arg("--key")
            .arg(&clerk_path)
            .args(["record", "attach", &rec])
            .arg(&big));
        println!(
            "attach {attach_mb} MiB: {:.2} s = {:.0} MB/s, peak RSS {rss:.0} MiB",
            w.as_secs_f64(),
            attach_mb as f64 * 1.048576 / w.as_secs_f64()
        );
    }
}
