//! Retention evaluation throughput: evaluates 1,000,000 synthetic records (override
//! with BENCH_RECORDS) one at a time against the shipped Washington and Utah
//! schedules, as a report would stream them, and prints records/s and peak RSS.
//!
//! `cargo bench --bench retention`

use std::time::Instant;

use blotter::retention::{evaluate, HoldFact, Policy, RecordFacts, Schedule, Status};
use jiff::civil::{date, Date};
use serde_json::{json, Map, Value};

// The ledger's default record types: what the shipped schedules are measured against.
use blotter::ledger::state::DEFAULT_TYPES as TYPES;
const CLASSES: &[&str] = &["felony", "misdemeanor", "homicide", "sexual-assault"];
const KINDS: &[&str] = &[
    "investigation-file",
    "civil-process",
    "detention",
    "recording",
    "booking",
];

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn day(base: Date, n: u64) -> Date {
    base.checked_add(jiff::Span::new().days(n as i64))
        .unwrap_or(base)
}

fn record(rng: &mut Rng, i: u64) -> RecordFacts {
    let created = day(date(1995, 1, 1), rng.below(11_000));
    let t = TYPES[(i % TYPES.len() as u64) as usize];
    let mut fields = Map::new();
    fields.insert(
        "offense_class".into(),
        json!(CLASSES[rng.below(4) as usize]),
    );
    fields.insert("kind".into(), json!(KINDS[rng.below(5) as usize]));
    fields.insert("solved".into(), Value::Bool(rng.below(2) == 0));
    if rng.below(3) == 0 {
        fields.insert(
            "final_action_on".into(),
            json!(day(created, rng.below(2000)).to_string()),
        );
        fields.insert(
            "investigation_concluded_on".into(),
            json!(day(created, rng.below(900)).to_string()),
        );
    }
    if rng.below(4) == 0 {
        fields.insert(
            "date_of_birth".into(),
            json!(day(date(1980, 1, 1), rng.below(9000)).to_string()),
        );
    }
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&i.to_le_bytes());
    let closed = (rng.below(2) == 0).then(|| day(created, rng.below(800)));
    let holds = if rng.below(50) == 0 {
        vec![HoldFact {
            id: format!("H-{i}"),
            kind: "litigation".into(),
            authority: "Doe v. City".into(),
        }]
    } else {
        Vec::new()
    };
    RecordFacts {
        id,
        record_type: t.to_string(),
        created_on: created,
        closed_on: closed,
        last_action_on: closed.unwrap_or(created),
        fields,
        holds,
    }
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn run(name: &str, schedule: &Schedule, n: u64) {
    let policy = Policy::new("America/Los_Angeles", "07-01", Some("P2Y")).expect("policy");
    let as_of = date(2026, 11, 1);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut counts = [0u64; 7];
    let mut json_bytes = 0usize;
    let start = Instant::now();
    for i in 0..n {
        let facts = record(&mut rng, i);
        let out = evaluate(schedule, &facts, &policy, as_of);
        let k = match out.status {
            Status::Eligible => 0,
            Status::NotYet => 1,
            Status::Blocked => 2,
            Status::Permanent => 3,
            Status::Review => 4,
            Status::Uncovered => 5,
            Status::NoTriggerYet => 6,
        };
        counts[k] += 1;
        json_bytes += out.reason.len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name}: {n} records in {secs:.2} s = {:.0} records/s (generation included); peak RSS {:.1} MiB",
        n as f64 / secs,
        peak_rss_mib()
    );
    println!(
        "  eligible {} not_yet {} blocked {} permanent {} review {} uncovered {} no_trigger_yet {} (reason text {} MB)",
        counts[0], counts[1], counts[2], counts[3], counts[4], counts[5], counts[6], json_bytes / 1_000_000
    );
}

fn main() {
    let n = std::env::var("BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000u64);
    for (name, text) in [
        (
            "us-wa-lerrs-7.2",
            include_str!("../retention-schedules/us-wa-lerrs-7.2.toml"),
        ),
        (
            "us-ut-grs",
            include_str!("../retention-schedules/us-ut-grs.toml"),
        ),
    ] {
        let schedule = Schedule::parse(name, text).expect("shipped schedule parses");
        run(name, &schedule, n);
    }
}
