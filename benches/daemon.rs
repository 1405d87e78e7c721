//! The daemon under load, for docs/PERFORMANCE.md: a load generator over loopback
//! against a real `blotter serve` (the release binary), on the same machine.
//!
//! `cargo bench --bench daemon`. Knobs: BENCH_CLIENTS (default 32), BENCH_SECS (each
//! phase, default 20), BENCH_ACTION (`create`: record.create with a small content, the
//! default; `status`: record.status on the client's own record), BENCH_DIR (temporary
//! files), BENCH_KEEP (set: the ledger folder is kept, and named on stderr). Prints
//! appends/s with latency percentiles, reads/s, the daemon's RSS over the run (sampled
//! every second), the requests answered in each 30 s (the append rate as the ledger
//! grows), and how the CPU time divided between the load generator and the daemon.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use blotter::api::{AppendRequest, LedgerInfo, SubmissionWire};
use blotter::format::{Action, Date, RecordStatus};
use blotter::httpsig;
use blotter::ledger::{Draft, Submission};
use ed25519_dalek::SigningKey;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds (user + system) of a process, from /proc.
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn rss_mib(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

struct Signer {
    http: reqwest::Client,
    base: String,
    key: SigningKey,
}

impl Signer {
    async fn send(&self, method: &str, path: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
        let url = format!("{}{path}", self.base);
        let digest = httpsig::content_digest(&body);
        let h = httpsig::sign_request(
            &self.key,
            method,
            &url,
            &digest,
            jiff::Timestamp::now().as_second(),
            &httpsig::new_nonce(),
        );
        let res = self
            .http
            .request(method.parse().unwrap(), &url)
            .header("content-digest", digest)
            .header("signature-input", h.signature_input)
            .header("signature", h.signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        (
            status,
            res.bytes().await.map(|b| b.to_vec()).unwrap_or_default(),
        )
    }
}

/// A client's own record: id, latest change hash, case commitment.
type Own = ([u8; 16], [u8; 32], Option<[u8; 32]>);

/// Every client task's latencies, once all have finished.
async fn joined(tasks: Vec<tokio::task::JoinHandle<Vec<f64>>>) -> Vec<Vec<f64>> {
    let mut all = Vec::new();
    for t in tasks {
        all.push(t.await.expect("task"));
    }
    all
}

/// Prints a phase: throughput, latency percentiles, and the CPU seconds the load
/// generator and the daemon used (`cpu`), as shares of the 2-core machine.
fn report(phase: &str, lat: Vec<Vec<f64>>, elapsed: f64, cpu: (f64, f64)) {
    let mut all: Vec<f64> = lat.into_iter().flatten().collect();
    all.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{phase}: {} in {elapsed:.1} s = {:.0}/s; latency ms p50 {:.1} p90 {:.1} p99 {:.1} max {:.1}",
        all.len(),
        all.len() as f64 / elapsed,
        percentile(&all, 0.5),
        percentile(&all, 0.9),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or(0.0)
    );
    let cores = 2.0 * elapsed;
    println!(
        "  CPU: load generator {:.0}% of the machine, daemon {:.0}%",
        100.0 * cpu.0 / cores,
        100.0 * cpu.1 / cores
    );
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let clients = env("BENCH_CLIENTS", 32) as usize;
    let secs = env("BENCH_SECS", 20);
    let action = std::env::var("BENCH_ACTION").unwrap_or_else(|_| "create".into());
    let base = std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into());
    let tmp = tempfile::tempdir_in(base).expect("tempdir");
    let dir = tmp.path().join("d");
    let _tmp = if std::env::var_os("BENCH_KEEP").is_some() {
        eprintln!("the ledger is kept in {}", dir.display());
        let _ = tmp.keep();
        None
    } else {
        Some(tmp)
    };
    let bin = env!("CARGO_BIN_EXE_blotter");
    let ok = std::process::Command::new(bin)
        .args(["--json", "demo"])
        .arg(&dir)
        .args(["--records", "200"])
        .output()
        .expect("demo");
    assert!(ok.status.success(), "demo failed");
    let mut child = std::process::Command::new(bin)
        .arg("--ledger")
        .arg(&dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("BLOTTER_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("serve");
    let pid = child.id();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("first line");
    let url = line.trim().trim_start_matches("listening on ").to_string();
    let keys: Vec<SigningKey> = ["clerk", "clerk2", "supervisor", "supervisor2"]
        .iter()
        .map(|k| {
            blotter::crypto::keyfile::load(&dir.join(format!("keys/{k}.key")), || None)
                .expect("key")
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let rss = Arc::new(Mutex::new(Vec::new()));
    // Requests answered so far (appends, then reads), sampled with the RSS.
    let answered = Arc::new(AtomicU64::new(0));
    let counts = Arc::new(Mutex::new(Vec::new()));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (rss, counts, answered) = (rss.clone(), counts.clone(), answered.clone());
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                rss.lock().unwrap().push(rss_mib(pid));
                counts
                    .lock()
                    .unwrap()
                    .push(answered.load(Ordering::Relaxed));
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };
    let me = std::process::id().to_string();
    let (cpu_gen0, cpu_d0) = (cpu_secs(&me), cpu_secs(&pid.to_string()));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .expect("http");
    let origin = rt.block_on(async {
        let s = Signer {
            http: http.clone(),
            base: url.clone(),
            key: keys[0].clone(),
        };
        let (st, b) = s.send("GET", "/v1/ledger", Vec::new()).await;
        assert_eq!(st, 200);
        serde_json::from_slice::<LedgerInfo>(&b)
            .expect("info")
            .origin
    });
    println!(
        "{clients} clients, {secs} s per phase, action {action}, daemon pid {pid}, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // Phase 1: appends.
    let ids = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let lat: Vec<Vec<f64>> = rt.block_on(async {
        let mut tasks = Vec::new();
        for c in 0..clients {
            let s = Signer { http: http.clone(), base: url.clone(), key: keys[c % keys.len()].clone() };
            let origin = origin.clone();
            let action = action.clone();
            let ids = ids.clone();
            let answered = answered.clone();
            tasks.push(tokio::spawn(async move {
                let actor = s.key.verifying_key().to_bytes();
                let mut lat = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(secs);
                let mut own: Option<Own> = None;
                let mut i = 0u64;
                while Instant::now() < deadline {
                    let date: Date = "2026-01-02".parse().unwrap();
                    let d = match (&own, action.as_str()) {
                        (Some((rec, prev, case)), "status") => {
                            let mut d = Draft::new_record(
                                "incident",
                                date,
                                Action::RecordStatus {
                                    status: if i.is_multiple_of(2) { RecordStatus::Closed } else { RecordStatus::Open },
                                    date,
                                },
                            );
                            d.record = *rec;
                            d.record_prev = *prev;
                            d.case = *case;
                            d
                        }
                        _ => {
                            let mut d = Draft::new_record(
                                "incident",
                                date,
                                Action::RecordCreate { confidential: false },
                            );
                            d.content = Some(
                                format!("{{\"client\":{c},\"n\":{i},\"narrative\":\"unit responded to a report of a disturbance at the corner\"}}")
                                    .into_bytes(),
                            );
                            d
                        }
                    };
                    let record = d.record;
                    let p = blotter::ledger::append::prepare(&origin, &actor, d).expect("prepare");
                    let hash = p.hash;
                    let case = p.case;
                    let sub: Submission = p.sign(&s.key);
                    let body = serde_json::to_vec(&AppendRequest {
                        submissions: vec![SubmissionWire::from_submission(&sub)],
                    })
                    .unwrap();
                    let t = Instant::now();
                    let (st, b) = s.send("POST", "/v1/changes", body).await;
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&b));
                    answered.fetch_add(1, Ordering::Relaxed);
                    if own.is_none() {
                        ids.lock().unwrap().push(record);
                    }
                    own = Some((record, hash, case));
                    i += 1;
                }
                lat
            }));
        }
        joined(tasks).await
    });
    let (cpu_gen1, cpu_d1) = (cpu_secs(&me), cpu_secs(&pid.to_string()));
    report(
        "appends",
        lat,
        started.elapsed().as_secs_f64(),
        (cpu_gen1 - cpu_gen0, cpu_d1 - cpu_d0),
    );

    // Phase 2: reads of record states.
    let ids: Vec<[u8; 16]> = ids.lock().unwrap().clone();
    let started = Instant::now();
    let reads: Vec<Vec<f64>> = rt.block_on(async {
        let mut tasks = Vec::new();
        for c in 0..clients {
            let s = Signer {
                http: http.clone(),
                base: url.clone(),
                key: keys[c % keys.len()].clone(),
            };
            let ids = ids.clone();
            let answered = answered.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(secs);
                let mut i = c;
                while Instant::now() < deadline {
                    let id = hex::encode(ids[i % ids.len()]);
                    let t = Instant::now();
                    let (st, _) = s
                        .send("GET", &format!("/v1/records/{id}"), Vec::new())
                        .await;
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    assert_eq!(st, 200);
                    answered.fetch_add(1, Ordering::Relaxed);
                    i += 7;
                }
                lat
            }));
        }
        joined(tasks).await
    });
    let (cpu_gen2, cpu_d2) = (cpu_secs(&me), cpu_secs(&pid.to_string()));
    report(
        "reads",
        reads,
        started.elapsed().as_secs_f64(),
        (cpu_gen2 - cpu_gen1, cpu_d2 - cpu_d1),
    );
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.join();
    let rss = rss.lock().unwrap().clone();
    let n = rss.len();
    if n >= 4 {
        let q = n / 4;
        let avg = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
        println!(
            "daemon RSS MiB over {n} samples: first quarter avg {:.0}, last quarter avg {:.0}, max {:.0}",
            avg(&rss[..q]),
            avg(&rss[n - q..]),
            rss.iter().cloned().fold(0.0, f64::max)
        );
        let every: Vec<String> = rss.iter().step_by(30).map(|r| format!("{r:.0}")).collect();
        println!("daemon RSS MiB every 30 s: {}", every.join(" "));
    }
    // The rate as the ledger grows (appends), then at its final size (reads).
    let counts = counts.lock().unwrap().clone();
    let steps: Vec<u64> = counts.iter().step_by(30).copied().collect();
    let rates: Vec<String> = steps
        .windows(2)
        .map(|w| format!("{:.0}", (w[1] - w[0]) as f64 / 30.0))
        .collect();
    println!("requests/s in each 30 s: {}", rates.join(" "));
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
}
