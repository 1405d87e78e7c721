//! Retention figures for docs/PERFORMANCE.md: a retention report over every record
//! (streamed), and a purge of half of them (plan, approve, apply with destruction).
//!
//! `cargo bench --bench purge` (BENCH_RECORDS, default 100,000; BENCH_DIR for the
//! temporary ledger). Prints records/s and the process's peak RSS after each phase.

use std::time::Instant;

use blotter::format::{Action, Date, Role};
use blotter::ledger::{Draft, InitOptions, Ledger, Settings};
use ed25519_dalek::SigningKey;
use rayon::prelude::*;

const SCHEDULE: &str = include_str!("../tests/fixtures/schedule-test.toml");

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak RSS of this process so far (VmHWM), MiB.
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn register(l: &mut Ledger, admin: &SigningKey, person: &str, role: Role) -> SigningKey {
    let k = SigningKey::generate(&mut rand::rngs::OsRng);
    let d = Draft::key_registration(k.verifying_key().to_bytes(), person, role);
    let s = l.sign(admin, d).expect("sign");
    l.append(vec![s]).expect("register");
    k
}

fn main() {
    let n = env("BENCH_RECORDS", 100_000);
    let base = std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into());
    let tmp = tempfile::tempdir_in(base).expect("tempdir");
    let admin = SigningKey::generate(&mut rand::rngs::OsRng);
    let mut l = Ledger::init(
        &tmp.path().join("l"),
        &admin,
        InitOptions {
            origin: "bench.example/purge".into(),
            admin_person: "A-1".into(),
            settings: Settings::default(),
            ledger_key_path: None,
        },
    )
    .expect("init");
    let clerk = register(&mut l, &admin, "C-1", Role::Clerk);
    let sup1 = register(&mut l, &admin, "S-1", Role::Supervisor);
    let sup2 = register(&mut l, &admin, "S-2", Role::Supervisor);
    let d = l
        .adopt_schedule_draft("test.toml", SCHEDULE)
        .expect("schedule");
    let s = l.sign(&sup1, d).expect("sign");
    l.append(vec![s]).expect("adopt");

    // n incidents, half from 2019 (eligible under the test schedule), half from 2026.
    let t = Instant::now();
    let actor = clerk.verifying_key().to_bytes();
    for start in (0..n).step_by(2000) {
        let mut batch = Vec::new();
        for i in start..(start + 2000).min(n) {
            let year = if i % 2 == 0 { 2019 } else { 2026 };
            let mut d = Draft::new_record(
                "incident",
                Date::new(year, 1, 1 + (i % 28) as u8).expect("date"),
                Action::RecordCreate {
                    confidential: false,
                },
            );
            d.content = Some(
                format!(r#"{{"summary":"incident {i}","offense_class":"misdemeanor"}}"#)
                    .into_bytes(),
            );
            batch.push(l.prepare(&actor, d).expect("prepare"));
        }
        let subs: Vec<_> = batch.into_par_iter().map(|p| p.sign(&clerk)).collect();
        l.append(subs).expect("append");
    }
    println!(
        "built {n} records in {:.1} s, peak RSS {:.0} MiB",
        t.elapsed().as_secs_f64(),
        peak_mib()
    );

    let (_, schedule) = l.schedule_in_force().expect("schedule").expect("adopted");
    let as_of = jiff::civil::date(2026, 6, 1);
    let t = Instant::now();
    let mut seen = 0u64;
    l.retention_report(&schedule, as_of, &mut |_| {
        seen += 1;
        Ok(())
    })
    .expect("report");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "retention report: {seen} records in {secs:.2} s = {:.0} records/s, peak RSS {:.0} MiB",
        seen as f64 / secs,
        peak_mib()
    );

    let t = Instant::now();
    let (d, doc) = l
        .purge_plan_draft(Date::new(2026, 6, 1).expect("date"), &sup1)
        .expect("plan");
    let plan = d.record;
    let s = l.sign(&sup1, d).expect("sign");
    l.append(vec![s]).expect("plan entry");
    println!(
        "purge plan: {} records planned in {:.2} s",
        doc.records.len(),
        t.elapsed().as_secs_f64()
    );
    let a = l.approval_draft(&plan, "purge-plan").expect("approval");
    let s = l.sign(&sup2, a).expect("sign");
    l.append(vec![s]).expect("approve");
    let t = Instant::now();
    let applied = l
        .apply_disposition(&plan, &sup1, &|_, _| {})
        .expect("apply");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "purge apply: {} records disposed and destroyed in {secs:.2} s = {:.0} records/s, peak RSS {:.0} MiB",
        applied.disposed_now,
        applied.disposed_now as f64 / secs,
        peak_mib()
    );
}
