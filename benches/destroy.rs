//! Destruction throughput for docs/PERFORMANCE.md: builds a ledger of BENCH_RECORDS
//! imported records (default 100,000; each with content, a case number and a source
//! reference) through `Ledger::append` in batches of 2,000, then times
//! `Ledger::destroy_data` on every other one (one rotation for the whole half).
//!
//! `cargo bench --bench destroy` (BENCH_DIR picks where the ledger is built).

use std::time::Instant;

use blotter::format::{Action, Date, Role};
use blotter::ledger::{Draft, InitOptions, Ledger, Settings};
use ed25519_dalek::SigningKey;
use rayon::prelude::*;

const BATCH: usize = 2_000;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n = env("BENCH_RECORDS", 100_000) as usize;
    let tmp = tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into()))
        .expect("tempdir");
    let dir = tmp.path().join("ledger");
    let admin = SigningKey::generate(&mut rand::rngs::OsRng);
    let opts = InitOptions {
        origin: "bench.example/pd".into(),
        admin_person: "A-1".into(),
        settings: Settings::default(),
        ledger_key_path: None,
    };
    let mut l = Ledger::init(&dir, &admin, opts).expect("init");
    let clerk = SigningKey::generate(&mut rand::rngs::OsRng);
    let reg = Action::KeyRegister {
        key: clerk.verifying_key().to_bytes(),
        person: "C-1".into(),
        role: Role::Clerk,
        replaces: None,
    };
    let s = l
        .sign(&admin, Draft::new_record("key", day(), reg))
        .expect("sign");
    l.append(vec![s]).expect("append");

    let t = Instant::now();
    let mut ids = Vec::with_capacity(n);
    for start in (0..n).step_by(BATCH) {
        let drafts: Vec<Draft> = (start..(start + BATCH).min(n)).map(draft).collect();
        ids.extend(drafts.iter().map(|d| d.record));
        let subs = drafts
            .into_par_iter()
            .map(|d| l.sign(&clerk, d))
            .collect::<Result<Vec<_>, _>>()
            .expect("sign");
        l.append(subs).expect("append");
    }
    println!(
        "built {n} records in {:.1} s (peak RSS so far {:.0} MiB)",
        t.elapsed().as_secs_f64(),
        peak_mib()
    );

    let doomed: Vec<[u8; 16]> = ids.iter().step_by(2).copied().collect();
    let t = Instant::now();
    let rep = l.destroy_data(&doomed).expect("destroy");
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(rep.destroyed.len(), doomed.len());
    println!(
        "destroy_data: {} records destroyed, {} survivors re-wrapped, epochs retired {:?}, in {:.2} s = {:.0} records/s",
        rep.destroyed.len(),
        rep.rewrapped,
        rep.epochs_retired,
        secs,
        rep.destroyed.len() as f64 / secs
    );
    println!("peak RSS after destroy_data: {:.0} MiB", peak_mib());
    let t = Instant::now();
    let again = l.destroy_data(&doomed).expect("destroy again");
    assert_eq!(again.already_destroyed.len(), doomed.len());
    println!(
        "destroy_data again (all already destroyed): {:.2} s",
        t.elapsed().as_secs_f64()
    );
}

/// Peak resident set size of this process so far, MiB (`VmHWM`).
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn day() -> Date {
    Date::new(2020, 1, 1).expect("date")
}

fn draft(i: usize) -> Draft {
    let mut d = Draft::new_record(
        "incident",
        day(),
        Action::RecordCreate {
            confidential: false,
        },
    );
    d.content = Some(
        format!(r#"{{"summary":"incident {i}","location":"100 Main St","officer":"B-1001"}}"#)
            .into_bytes(),
    );
    d.case_number = Some(format!("20-{i}"));
    d.source = Some((format!("R{i}"), format!("R{i}/1")));
    d
}
