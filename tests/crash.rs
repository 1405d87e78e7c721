//! Crash safety: the real binary appends in a loop and is killed with SIGKILL at random
//! moments. After every kill the ledger verifies, and every record whose creation was
//! acknowledged (the command printed its sequence number) is there exactly once.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::Value;

use common::*;

/// Rounds, each ending with a SIGKILL of a running `record create`.
const ROUNDS: usize = 120;
/// Every third round the kill comes up to this long (uniformly at random, in ms) after the
/// victim starts; one `record create` of the debug binary takes roughly 15-40 ms. The
/// other rounds aim at a random point of a typical run, or at its end (the commit).
const MAX_KILL_MS: u64 = 50;
const SIGKILL: i32 = 9;

struct Acked {
    record: String,
    seq: u64,
    round: usize,
}

fn spawn_create(dir: &Path, payload: &Path) -> Child {
    blotter()
        .arg("--ledger")
        .arg(dir)
        .arg("--key")
        .arg(dir.join("keys").join("clerk.key"))
        .arg("--json")
        .args(["record", "create", "--type", "incident", "--payload"])
        .arg(payload)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn blotter record create")
}

/// The acknowledgement a `record create --json` printed, if it printed one.
fn ack(stdout: &[u8]) -> Option<(String, u64)> {
    let v: Value = serde_json::from_slice(stdout).ok()?;
    Some((v["record"].as_str()?.to_string(), v["seq"].as_u64()?))
}

/// Runs one invocation, SIGKILLing it after `kill_after` if it is still running.
/// Returns (whether SIGKILL ended it, exit code, stdout, stderr, how long it ran).
fn run_until(
    dir: &Path,
    payload: &Path,
    kill_after: Option<Duration>,
) -> (bool, Option<i32>, Vec<u8>, String, Duration) {
    let mut child = spawn_create(dir, payload);
    let start = Instant::now();
    if let Some(d) = kill_after {
        loop {
            if child.try_wait().expect("try_wait").is_some() {
                break;
            }
            if start.elapsed() >= d {
                // std's Child::kill sends SIGKILL on Unix.
                child.kill().expect("SIGKILL blotter");
                break;
            }
            std::thread::sleep(Duration::from_micros(500));
        }
    }
    let out = child.wait_with_output().expect("wait for blotter");
    let ran = start.elapsed();
    (
        out.status.signal() == Some(SIGKILL),
        out.status.code(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        ran,
    )
}

/// The names of the files in `DIR/store`, for failure messages.
fn store_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("store"))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn median(d: &[Duration]) -> Option<Duration> {
    let mut d = d.to_vec();
    d.sort();
    d.get(d.len() / 2).copied()
}

fn json_of(dir: &Path, args: &[&str], context: &str) -> Value {
    let out = blotter()
        .arg("--ledger")
        .arg(dir)
        .arg("--json")
        .args(args)
        .output()
        .expect("run blotter");
    assert!(
        out.status.success(),
        "{context}: blotter {args:?} failed with {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{context}: blotter {args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// After a kill: the ledger verifies and every acknowledged record is there exactly once.
/// Returns the number of entries.
fn check_after_kill(dir: &Path, round: usize, killed_at: Duration, acked: &[Acked]) -> u64 {
    let ctx =
        format!("after round {round}'s SIGKILL of a record create {killed_at:?} after it started");
    let v = verify(dir, &[]);
    assert!(
        v.code == 0 && v.json["problem"].is_null(),
        "{ctx}: verify must pass, got exit {} with {}\nstderr: {}\nfiles in the store folder: {:?}",
        v.code,
        v.json,
        v.stderr,
        store_files(dir)
    );
    let entries = v.entries();
    if let Some(last) = acked.iter().map(|a| a.seq).max() {
        assert!(
            entries > last,
            "{ctx}: the log has {entries} entries, but entry {last} was acknowledged"
        );
    }

    let list = json_of(dir, &["record", "list"], &ctx);
    let mut present: HashMap<&str, usize> = HashMap::new();
    for r in list.as_array().expect("record list --json is an array") {
        *present
            .entry(r["id"].as_str().expect("listed record has an id"))
            .or_default() += 1;
    }
    for a in acked {
        assert_eq!(
            present.get(a.record.as_str()).copied().unwrap_or(0),
            1,
            "{ctx}: record {} (acknowledged at entry {} in round {}) must be listed exactly once",
            a.record,
            a.seq,
            a.round
        );
    }
    // Each record's own history: exactly one record.create, at the acknowledged entry.
    // Older rounds' records were checked when they were new; later appends cannot change
    // their creation, and verify covers the whole log every round.
    for a in acked.iter().filter(|a| a.round == round) {
        let h = json_of(dir, &["record", "history", &a.record], &ctx);
        let creates: Vec<u64> = h
            .as_array()
            .expect("record history --json is an array")
            .iter()
            .filter(|i| i["action"] == "record.create")
            .filter_map(|i| i["seq"].as_u64())
            .collect();
        assert_eq!(
            creates,
            vec![a.seq],
            "{ctx}: record {} must have exactly one record.create, at its acknowledged entry {}; history: {h}",
            a.record,
            a.seq
        );
    }
    entries
}

#[test]
fn sigkill_during_appends_loses_nothing_acknowledged() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "ledger", 10);
    let payload = tmp.path().join("payload.json");
    std::fs::write(
        &payload,
        r#"{"summary":"crash test","location":"100 Main St","officer":"B-1001"}"#,
    )
    .unwrap();

    let mut rng = rand::thread_rng();
    let mut acked: Vec<Acked> = Vec::new();
    let mut seqs: BTreeMap<u64, String> = BTreeMap::new();
    let mut kills = 0;
    let mut killed_after_ack = 0;
    let mut completed = 0;
    // Kills that landed after the commit but before the acknowledgement was printed.
    let mut durable_unacked = 0;
    // How long uninterrupted appends took, to aim some kills at the commit.
    let mut durations: Vec<Duration> = Vec::new();
    let mut entries = verify(&dir, &[]).entries();
    let mut record_ack = |acked: &mut Vec<Acked>, stdout: &[u8], round: usize, how: &str| {
        if let Some((record, seq)) = ack(stdout) {
            if let Some(other) = seqs.insert(seq, record.clone()) {
                panic!("round {round}: {how} invocation acknowledged entry {seq} for record {record}, but it was already acknowledged for record {other}");
            }
            acked.push(Acked { record, seq, round });
            true
        } else {
            false
        }
    };

    for round in 0..ROUNDS {
        // A few appends run to completion first, so each round has acknowledged records.
        for _ in 0..rng.gen_range(0..=2) {
            let (_, code, stdout, stderr, ran) = run_until(&dir, &payload, None);
            assert_eq!(
                code,
                Some(0),
                "round {round}: an uninterrupted record create must succeed; stderr: {stderr}"
            );
            assert!(
                record_ack(&mut acked, &stdout, round, "an uninterrupted"),
                "round {round}: record create --json printed no acknowledgement: {}",
                String::from_utf8_lossy(&stdout)
            );
            completed += 1;
            durations.push(ran);
        }
        // Then appends that are killed at a random moment; one that finishes before its
        // kill is simply acknowledged, and the next one is the victim.
        let killed_at = loop {
            let delay = match (round % 3, median(&durations)) {
                // Anywhere in the first 50 ms.
                (0, _) | (_, None) => Duration::from_micros(rng.gen_range(0..MAX_KILL_MS * 1000)),
                // Anywhere in a typical run: startup, opening the store (redb's repair after
                // the last kill), signing, the commit.
                (1, Some(m)) => m.mul_f64(rng.gen_range(0.0..1.0)),
                // Near the end of a typical run, where the commit and its fsyncs are.
                (_, Some(m)) => m.mul_f64(rng.gen_range(0.6..1.0)),
            };
            let (killed, code, stdout, stderr, ran) = run_until(&dir, &payload, Some(delay));
            if killed {
                kills += 1;
                // It may have printed its acknowledgement just before dying: then the
                // record must be there all the same.
                if record_ack(&mut acked, &stdout, round, "a killed") {
                    killed_after_ack += 1;
                }
                break ran;
            }
            assert_eq!(
                code,
                Some(0),
                "round {round}: record create (not killed) must succeed; stderr: {stderr}"
            );
            assert!(
                record_ack(&mut acked, &stdout, round, "an unkilled"),
                "round {round}: record create --json printed no acknowledgement: {}",
                String::from_utf8_lossy(&stdout)
            );
            completed += 1;
            durations.push(ran);
        };
        let acked_now = acked.iter().filter(|a| a.round == round).count() as u64;
        let now = check_after_kill(&dir, round, killed_at, &acked);
        assert!(
            now == entries + acked_now || now == entries + acked_now + 1,
            "round {round}: the log went from {entries} to {now} entries with {acked_now} acknowledged appends and one killed"
        );
        durable_unacked += now - entries - acked_now;
        entries = now;
    }

    assert_eq!(kills, ROUNDS, "every round should end with a SIGKILL");
    assert!(
        acked.len() >= ROUNDS / 2,
        "too few acknowledged appends ({}) to mean anything",
        acked.len()
    );
    eprintln!(
        "{ROUNDS} rounds, {kills} kills ({durable_unacked} after the commit but before the acknowledgement, \
         {killed_after_ack} after the acknowledgement), {completed} completed appends (median {:?}), {} acknowledged records, in {:?}",
        median(&durations).unwrap_or_default(),
        acked.len(),
        started.elapsed()
    );
}
