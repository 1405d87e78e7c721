//! Retention figures for docs/PERFORMANCE.md: a retention report over every record
//! (streamed), and a purge of half of them (plan, approve, apply with destruction).
//!
//! `cargo bench --bench purge` (BENCH_RECORDS, default 100,000; BENCH_DIR for the
//! temporary ledger). Prints records/s, the process's CPU seconds (user + system: less
//! sensitive than wall time to other work on the machine) and its RSS after each phase.
//!
//! `BENCH_LEDGER=DIR` keeps the ledger (and the bench's keys, `DIR/bench-keys`) in DIR
//! instead of a temporary folder; a later run opens it and appends records until it
//! has BENCH_RECORDS. `BENCH_BUILD_MAX=N` appends at most N records and stops if the
//! ledger is not complete yet (with sled, before store layout 5, memory grew while one
//! process wrote a million records, so a 1,000,000-record ledger was built by several
//! runs). `BENCH_REPORT_ONLY=1`
//! stops after the report, leaving the ledger unpurged for the next run.

use std::path::Path;
use std::time::Instant;

use blotter::format::{Action, Date, Role};
use blotter::ledger::{Draft, InitOptions, Ledger, Settings};
use ed25519_dalek::SigningKey;
use rayon::prelude::*;

/// The allocator the `blotter` binary uses (src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SCHEDULE: &str = include_str!("../tests/fixtures/schedule-test.toml");

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak RSS of this process so far (VmHWM), MiB.
fn peak_mib() -> f64 {
    status_kib("VmHWM:") / 1024.0
}

/// Current RSS (VmRSS) of this process, MiB.
fn rss_mib() -> f64 {
    status_kib("VmRSS:") / 1024.0
}

fn status_kib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
}

/// CPU seconds (user + system) this process has used so far.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // After the command name (in parentheses), utime is the 12th field and stime the 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (field(11) + field(12)) / 100.0
}

/// Times the retention report over every record of `l`; prints the figures.
fn report(l: &Ledger) {
    let (_, schedule) = l.schedule_in_force().expect("schedule").expect("adopted");
    let as_of = jiff::civil::date(2026, 6, 1);
    let (t, cpu, rss) = (Instant::now(), cpu_secs(), rss_mib());
    let mut seen = 0u64;
    let mut max_rss = rss;
    l.retention_report(&schedule, as_of, &mut |_| {
        seen += 1;
        if seen.is_multiple_of(65_536) {
            max_rss = max_rss.max(rss_mib());
        }
        Ok(())
    })
    .expect("report");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "retention report: {seen} records in {secs:.2} s = {:.0} records/s ({:.2} CPU s), RSS {rss:.0} MiB before, at most {:.0} MiB during, peak RSS {:.0} MiB",
        seen as f64 / secs,
        cpu_secs() - cpu,
        max_rss.max(rss_mib()),
        peak_mib()
    );
}

fn register(l: &mut Ledger, admin: &SigningKey, person: &str, role: Role) -> SigningKey {
    let k = SigningKey::generate(&mut rand::rngs::OsRng);
    let d = Draft::key_registration(k.verifying_key().to_bytes(), person, role);
    let s = l.sign(admin, d).expect("sign");
    l.append(vec![s]).expect("register");
    k
}

/// The bench's actors: admin, clerk and two supervisors.
struct Actors {
    admin: SigningKey,
    clerk: SigningKey,
    sup1: SigningKey,
    sup2: SigningKey,
}

impl Actors {
    fn save(&self, path: &Path) {
        let hex: Vec<String> = [&self.admin, &self.clerk, &self.sup1, &self.sup2]
            .iter()
            .map(|k| hex::encode(k.to_bytes()))
            .collect();
        std::fs::write(path, hex.join("\n")).expect("save bench keys");
    }
    fn load(path: &Path) -> Actors {
        let text = std::fs::read_to_string(path).expect("bench keys");
        let keys: Vec<SigningKey> = text
            .lines()
            .map(|l| {
                let b: [u8; 32] = hex::decode(l).expect("hex").try_into().expect("32 bytes");
                SigningKey::from_bytes(&b)
            })
            .collect();
        let [admin, clerk, sup1, sup2] = <[SigningKey; 4]>::try_from(keys).expect("four keys");
        Actors {
            admin,
            clerk,
            sup1,
            sup2,
        }
    }
}

/// A new ledger with the bench's actors and the test schedule adopted.
fn new_ledger(path: &Path) -> (Ledger, Actors) {
    let admin = SigningKey::generate(&mut rand::rngs::OsRng);
    let mut l = Ledger::init(
        path,
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
    let actors = Actors {
        admin,
        clerk,
        sup1,
        sup2,
    };
    (l, actors)
}

/// Entries before the first incident: genesis, three keys, the schedule.
const SETUP_ENTRIES: u64 = 5;

/// Appends incidents `from..to`, half from 2019 (eligible under the test schedule),
/// half from 2026.
fn build(l: &mut Ledger, clerk: &SigningKey, from: usize, to: usize) {
    let actor = clerk.verifying_key().to_bytes();
    for start in (from..to).step_by(2000) {
        let mut batch = Vec::new();
        for i in start..(start + 2000).min(to) {
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
        let subs: Vec<_> = batch.into_par_iter().map(|p| p.sign(clerk)).collect();
        l.append(subs).expect("append");
    }
}

fn main() {
    let n = env("BENCH_RECORDS", 100_000);
    let base = std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into());
    let tmp = tempfile::tempdir_in(base).expect("tempdir");
    let path = match std::env::var("BENCH_LEDGER") {
        Ok(dir) => std::path::PathBuf::from(dir),
        Err(_) => tmp.path().join("l"),
    };
    let keys = path.join("bench-keys");
    let (mut l, actors) = if path.join("store").is_dir() {
        let t = Instant::now();
        let l = Ledger::open(&path).expect("open");
        println!(
            "opened the ledger ({} entries) in {:.1} s",
            l.head().size,
            t.elapsed().as_secs_f64()
        );
        (l, Actors::load(&keys))
    } else {
        let (l, actors) = new_ledger(&path);
        actors.save(&keys);
        (l, actors)
    };
    let have = (l.head().size.saturating_sub(SETUP_ENTRIES)) as usize;
    let to = n.min(have + env("BENCH_BUILD_MAX", usize::MAX - have));
    if to > have {
        let t = Instant::now();
        build(&mut l, &actors.clerk, have, to);
        println!(
            "built records {have}..{to} in {:.1} s, peak RSS {:.0} MiB",
            t.elapsed().as_secs_f64(),
            peak_mib()
        );
        if to < n {
            return;
        }
    }
    report(&l);
    if std::env::var("BENCH_REPORT_ONLY").is_ok() {
        return;
    }
    let (sup1, sup2) = (&actors.sup1, &actors.sup2);

    let t = Instant::now();
    let (d, doc) = l
        .purge_plan_draft(Date::new(2026, 6, 1).expect("date"), sup1)
        .expect("plan");
    let plan = d.record;
    let s = l.sign(sup1, d).expect("sign");
    l.append(vec![s]).expect("plan entry");
    println!(
        "purge plan: {} records planned in {:.2} s",
        doc.records.len(),
        t.elapsed().as_secs_f64()
    );
    let a = l.approval_draft(&plan, "purge-plan").expect("approval");
    let s = l.sign(sup2, a).expect("sign");
    l.append(vec![s]).expect("approve");
    let (t, cpu) = (Instant::now(), cpu_secs());
    let applied = l.apply_disposition(&plan, sup1, &|_, _| {}).expect("apply");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "purge apply: {} records disposed and destroyed in {secs:.2} s = {:.0} records/s ({:.2} CPU s), peak RSS {:.0} MiB",
        applied.disposed_now,
        applied.disposed_now as f64 / secs,
        cpu_secs() - cpu,
        peak_mib()
    );
}
