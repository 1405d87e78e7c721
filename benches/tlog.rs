//! Figures for docs/PERFORMANCE.md (issue 4): proofs and checkpoints on a large tree.
//!
//! `cargo bench --bench tlog` (BENCH_LEAVES, default 1,000,000).
//!
//! Builds a store holding the RFC 6962 nodes of BENCH_LEAVES leaves through the same
//! `CompactRange` + `Store` path the ledger's append uses (the leaves are hashes of
//! synthetic entry bytes: proof cost does not depend on what the leaves are), then times
//! inclusion and consistency proofs read from the store, their verification, the tree's own
//! share of an append, and the signing of a checkpoint note.

use std::time::{Duration, Instant};

use blotter::merkle::{self, checkpoint::Checkpoint, CompactRange, Hash, NodeReader};
use blotter::store::{Batch, Space, Store};
use rand::{Rng, SeedableRng};

struct Nodes<'a>(&'a Store);

impl NodeReader for Nodes<'_> {
    type Error = String;
    fn node(&self, level: u8, index: u64) -> Result<Hash, String> {
        let mut k = [0u8; 9];
        k[0] = level;
        k[1..].copy_from_slice(&index.to_be_bytes());
        self.0
            .get(Space::Tree, &k)
            .map_err(|e| e.to_string())?
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| format!("node {level}/{index} missing"))
    }
}

fn per_op(total: Duration, n: u64) -> String {
    format!("{:.1} µs", total.as_secs_f64() * 1e6 / n as f64)
}

fn main() {
    let n: u64 = std::env::var("BENCH_LEAVES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let tmp = tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into()))
        .expect("tempdir");
    let store = Store::open(tmp.path(), Duration::ZERO).expect("store");

    // The tree's share of an append: leaf hash + compact range + node puts into a batch.
    let entry = vec![0x5au8; 700];
    let mut tree = CompactRange::new();
    let mut batch = Batch::default();
    let mut tree_time = Duration::ZERO;
    let build = Instant::now();
    for i in 0..n {
        let mut e = entry.clone();
        e[..8].copy_from_slice(&i.to_be_bytes());
        let t = Instant::now();
        tree.append(merkle::leaf_hash(&e), |level, index, hash| {
            let mut k = [0u8; 9];
            k[0] = level;
            k[1..].copy_from_slice(&index.to_be_bytes());
            batch.put(Space::Tree, &k, &hash);
        });
        tree_time += t.elapsed();
        if (i + 1) % 65_536 == 0 || i + 1 == n {
            store.commit(std::mem::take(&mut batch)).expect("commit");
        }
    }
    println!(
        "built a {n}-leaf tree in {:.1} s; tree work per append (hash, compact range, batch puts): {}",
        build.elapsed().as_secs_f64(),
        per_op(tree_time, n)
    );

    let reader = Nodes(&store);
    let root = tree.root();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let rounds = 2_000u64;

    let mut gen = Duration::ZERO;
    let mut ver = Duration::ZERO;
    for _ in 0..rounds {
        let idx = rng.gen_range(0..n);
        let t = Instant::now();
        let p = merkle::inclusion_proof(&reader, idx, n).expect("inclusion proof");
        gen += t.elapsed();
        let mut e = entry.clone();
        e[..8].copy_from_slice(&idx.to_be_bytes());
        let t = Instant::now();
        merkle::verify_inclusion(&merkle::leaf_hash(&e), idx, n, &p, &root).expect("verifies");
        ver += t.elapsed();
    }
    println!(
        "inclusion proof in a {n}-leaf tree: {} to make (store reads), {} to verify",
        per_op(gen, rounds),
        per_op(ver, rounds)
    );

    let mut gen = Duration::ZERO;
    let mut ver = Duration::ZERO;
    for _ in 0..rounds {
        let m = rng.gen_range(1..n);
        let t = Instant::now();
        let p = merkle::consistency_proof(&reader, m, n).expect("consistency proof");
        let old = merkle::root_at(&reader, m).expect("old root");
        gen += t.elapsed();
        let t = Instant::now();
        merkle::verify_consistency(m, n, &p, &old, &root).expect("verifies");
        ver += t.elapsed();
    }
    println!(
        "consistency proof to a {n}-leaf tree (with the old root): {} to make, {} to verify",
        per_op(gen, rounds),
        per_op(ver, rounds)
    );

    // A checkpoint: the root from the stored nodes, the body, the signed note, and a
    // durable commit of it, as `Ledger::sign_checkpoint` does.
    let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let origin = "bench.example/pd";
    let rounds = 200u64;
    let t = Instant::now();
    let mut commit = Duration::ZERO;
    for i in 0..rounds {
        let root = merkle::root_at(&reader, n - i).expect("root");
        let body = Checkpoint {
            origin: origin.into(),
            size: n - i,
            root,
            extensions: Vec::new(),
        }
        .to_body()
        .expect("body");
        let note = merkle::note::sign(&body, origin, &key).expect("sign");
        let mut b = Batch::default();
        b.put(Space::Checkpoint, &(n - i).to_be_bytes(), note.as_bytes());
        let c = Instant::now();
        store.commit(b).expect("commit");
        commit += c.elapsed();
    }
    let total = t.elapsed();
    println!(
        "checkpoint on a {n}-leaf tree: {} in all; {} to compute and sign, {} for the durable commit (flush + fsyncs)",
        per_op(total, rounds),
        per_op(total - commit, rounds),
        per_op(commit, rounds)
    );
}
