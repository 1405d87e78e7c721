//! Archive throughput for docs/PERFORMANCE.md: `archive export` and `archive verify`
//! against `tar -c | zstd -3 | age -r` (and its reverse) run on the same files, on the
//! same machine, in the same run.
//!
//! `cargo bench --bench archive` (BENCH_ARCHIVE_MB of attachments, default 512, over
//! BENCH_ARCHIVE_RECORDS records, default 64; BENCH_DIR for the temporary files).
//! BENCH_ROUNDS (default 3) rounds; medians are printed. BENCH_ZSTD_WORKERS sets
//! zstd's own worker threads (default 0, as the CLI). BENCH_EXPORT_ONLY stops after
//! one export (for profiling). The reference needs the `tar`, `zstd` and `age` commands.

use std::io::Write;
use std::process::Command;
use std::time::Instant;

use age::secrecy::ExposeSecret;
use blotter::archive::export::Recipients;
use blotter::archive::{self, ExportOptions, Selection};
use blotter::format::{Action, Date, Role};
use blotter::ledger::{Draft, InitOptions, Ledger, Settings};
use ed25519_dalek::SigningKey;
use rand::{Rng, RngCore, SeedableRng};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// An attachment like a records unit's: a scanned image (incompressible) followed by
/// report text (compressible), `size` bytes.
fn attachment(rng: &mut rand::rngs::StdRng, size: usize) -> Vec<u8> {
    let mut v = vec![0u8; size];
    let scan = size * 6 / 10;
    rng.fill_bytes(&mut v[..scan]);
    let words = [
        "suspect ",
        "vehicle ",
        "northbound ",
        "officer ",
        "witness ",
        "stated ",
        "2024 ",
        "report ",
        "property ",
        "recovered ",
        "the ",
        "and ",
        "at ",
        "unit ",
    ];
    let mut i = scan;
    while i < size {
        let w = words[rng.gen_range(0..words.len())].as_bytes();
        let n = w.len().min(size - i);
        v[i..i + n].copy_from_slice(&w[..n]);
        i += n;
    }
    v
}

fn sh(cmd: &str) -> f64 {
    let t = Instant::now();
    let s = Command::new("sh").arg("-c").arg(cmd).status().expect("sh");
    assert!(s.success(), "{cmd}");
    t.elapsed().as_secs_f64()
}

fn main() {
    let mb = env("BENCH_ARCHIVE_MB", 512);
    let records = env("BENCH_ARCHIVE_RECORDS", 64);
    let base = std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into());
    let tmp = tempfile::tempdir_in(base).expect("tempdir");
    let dir = tmp.path();
    let admin = SigningKey::generate(&mut rand::rngs::OsRng);
    let mut l = Ledger::init(
        &dir.join("l"),
        &admin,
        InitOptions {
            origin: "bench.example/archive".into(),
            admin_person: "A-1".into(),
            settings: Settings::default(),
            ledger_key_path: None,
        },
    )
    .expect("init");
    let clerk = SigningKey::generate(&mut rand::rngs::OsRng);
    let d = Draft::key_registration(clerk.verifying_key().to_bytes(), "C-1", Role::Clerk);
    let s = l.sign(&admin, d).expect("sign");
    l.append(vec![s]).expect("register");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let each = mb * 1024 * 1024 / records;
    let mut ids = Vec::new();
    for i in 0..records {
        let mut d = Draft::new_record(
            "incident",
            Date::new(2019, 1, 1 + (i % 28) as u8).expect("date"),
            Action::RecordCreate {
                confidential: false,
            },
        );
        d.content =
            Some(format!("{{\"summary\": \"incident {i}\", \"officer\": \"B-{i}\"}}").into_bytes());
        let id = d.record;
        let s = l.sign(&clerk, d).expect("sign");
        l.append(vec![s]).expect("create");
        let data = attachment(&mut rng, each);
        let staged = l.stage_attachment(&id, &mut &data[..]).expect("stage");
        let mut d = l
            .draft(
                &id,
                Action::RecordAttach {
                    blob: staged.commitment,
                    size: staged.size,
                },
            )
            .expect("draft");
        d.side_doc = Some(format!("{{\"file_name\": \"scan-{i}.pdf\"}}").into_bytes());
        d.attachment = Some(staged);
        let s = l.sign(&clerk, d).expect("sign");
        l.append(vec![s]).expect("attach");
        ids.push(id);
    }
    let ledger_key = blotter::crypto::keyfile::load(&l.checkpoint_key_path(), || None).ok();
    sh("sync");
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public();
    let id_file = dir.join("id.txt");
    std::fs::File::create(&id_file)
        .and_then(|mut f| f.write_all(identity.to_string().expose_secret().as_bytes()))
        .expect("identity");

    let opts = |out: &std::path::Path| ExportOptions {
        out: out.to_path_buf(),
        selection: Selection::Records(ids.clone()),
        recipients: Recipients::X25519(vec![recipient.clone()]),
        include_restricted: false,
        ledger_key: ledger_key.clone(),
        compression_workers: env("BENCH_ZSTD_WORKERS", 0) as u32,
    };
    let vkey = l.verifier_key().expect("vkey");
    let idents: Vec<Box<dyn age::Identity + Send + Sync>> = vec![Box::new(identity)];
    // A first export, restored: the reference's input is the same files.
    let first = dir.join("first.age");
    let x = archive::export(&mut l, &opts(&first), &|_, _| {}).expect("export");
    let restored = dir.join("restored");
    let c = archive::restore(&first, &idents, &vkey, &restored, &|_| {}).expect("restore");
    let ref_out = dir.join("ref.age");
    let out = dir.join("bench.age");
    let rounds = env("BENCH_ROUNDS", 3);
    let (mut ex, mut rf, mut rf_sync, mut ve, mut un) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        let _ = std::fs::remove_file(&out);
        let _ = std::fs::remove_file(&ref_out);
        sh("sync");
        let t = Instant::now();
        archive::export(&mut l, &opts(&out), &|_, _| {}).expect("export");
        ex.push(t.elapsed().as_secs_f64());
        sh("sync");
        rf.push(sh(&format!(
            "tar -c -C {} . | zstd -3 -q -c | age -r {} > {}",
            restored.display(),
            recipient,
            ref_out.display()
        )));
        let _ = std::fs::remove_file(&ref_out);
        sh("sync");
        rf_sync.push(sh(&format!(
            "tar -c -C {} . | zstd -3 -q -c | age -r {} > {} && sync {}",
            restored.display(),
            recipient,
            ref_out.display(),
            ref_out.display()
        )));
        let t = Instant::now();
        archive::check_archive(&out, &idents, &vkey, None, &|_| {}).expect("verify");
        ve.push(t.elapsed().as_secs_f64());
        un.push(sh(&format!(
            "age -d -i {} {} | zstd -d -q -c | tar -t > /dev/null",
            id_file.display(),
            ref_out.display()
        )));
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (export_s, tar_s, tar_sync_s, verify_s, untar_s) = (
        med(&mut ex),
        med(&mut rf),
        med(&mut rf_sync),
        med(&mut ve),
        med(&mut un),
    );
    let ref_size = std::fs::metadata(&ref_out).map(|m| m.len()).unwrap_or(0);
    let mib = x.payload_bytes as f64 / (1024.0 * 1024.0);
    println!(
        "archive of {} records, {} entries, {:.0} MiB payload ({} files): blotter {:.0} MiB, reference {:.0} MiB; medians of {rounds} rounds",
        c.records,
        c.entries,
        mib,
        c.files,
        x.archive_bytes as f64 / 1048576.0,
        ref_size as f64 / 1048576.0
    );
    println!(
        "reference: tar -c | zstd -3 | age -r: {:>7.1} MiB/s ({tar_s:.2} s); the same and `sync FILE` (durable, as export is): {:>7.1} MiB/s ({tar_sync_s:.2} s)",
        mib / tar_s,
        mib / tar_sync_s,
    );
    println!(
        "export:  {:>7.1} MiB/s ({export_s:.2} s, fsynced); ratio {:.2} (to the durable reference {:.2})",
        mib / export_s,
        tar_s / export_s,
        tar_sync_s / export_s
    );
    println!(
        "verify:  {:>7.1} MiB/s ({verify_s:.2} s); ratio {:.2}; (age -d | zstd -d | tar -t: {:>7.1} MiB/s, {untar_s:.2} s; ratio {:.2})",
        mib / verify_s,
        tar_s / verify_s,
        mib / untar_s,
        untar_s / verify_s
    );
}
