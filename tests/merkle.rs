//! The Merkle tree against the public RFC 6962 vectors (`tests/vectors/rfc6962/`, copied
//! unchanged from transparency-dev/merkle) and against an independent model (naive MTH,
//! the RFC's PATH/SUBPROOF recursions) under proptest.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use blotter::merkle::{
    consistency_proof, inclusion_proof, leaf_hash, node_hash, root_at, verify_consistency,
    verify_inclusion, CompactRange, Hash, MemTree, NodeReader, EMPTY_ROOT,
};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/rfc6962")
}

/// Every `*.json` under `dir`, sorted. Panics if `dir` is missing.
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn load(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// A base64 field; `null` and `""` are empty.
fn bytes(v: &Value, key: &str) -> Vec<u8> {
    match &v[key] {
        Value::Null => Vec::new(),
        Value::String(s) => B64.decode(s).unwrap(),
        other => panic!("{key}: {other}"),
    }
}

/// The `proof` array; `null` is empty.
fn proof_of(v: &Value) -> Vec<Vec<u8>> {
    match &v["proof"] {
        Value::Null => Vec::new(),
        Value::Array(a) => a
            .iter()
            .map(|s| B64.decode(s.as_str().unwrap()).unwrap())
            .collect(),
        other => panic!("proof: {other}"),
    }
}

fn num(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap()
}

/// The leaf inputs of the RFC 6962 vectors (the `d0..d7` of transparency-dev).
fn rfc_tree() -> MemTree {
    MemTree::from_entries(
        [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|h| hex::decode(h).unwrap()),
    )
}

#[test]
fn inclusion_vectors() {
    let files = json_files(&vectors_dir().join("inclusion"));
    let (mut ok, mut rejected) = (0, 0);
    for p in &files {
        let v = load(p);
        let res = verify_inclusion(
            &bytes(&v, "leafHash"),
            num(&v, "leafIdx"),
            num(&v, "treeSize"),
            &proof_of(&v),
            &bytes(&v, "root"),
        );
        if v["wantErr"].as_bool().unwrap() {
            assert!(res.is_err(), "{} verified but wants an error", p.display());
            rejected += 1;
        } else {
            res.unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            ok += 1;
        }
    }
    // 98 files as copied; fail loudly if the folder is missing, empty or partial.
    assert_eq!((ok, rejected), (6, 92), "inclusion vectors: (ok, rejected)");
}

#[test]
fn consistency_vectors() {
    let files = json_files(&vectors_dir().join("consistency"));
    let (mut ok, mut rejected) = (0, 0);
    for p in &files {
        let v = load(p);
        let res = verify_consistency(
            num(&v, "size1"),
            num(&v, "size2"),
            &proof_of(&v),
            &bytes(&v, "root1"),
            &bytes(&v, "root2"),
        );
        if v["wantErr"].as_bool().unwrap() {
            assert!(res.is_err(), "{} verified but wants an error", p.display());
            rejected += 1;
        } else {
            res.unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            ok += 1;
        }
    }
    assert_eq!(
        (ok, rejected),
        (6, 92),
        "consistency vectors: (ok, rejected)"
    );
}

/// Settles the vectors' conventions against our own tree: `leafIdx` is 0-based
/// (`inclusion/0` is leaf 0 of a 1-leaf tree, and in `inclusion/2` leaf 5 is
/// `leaf_hash(d5)`), and every happy-path proof is exactly the one we generate.
#[test]
fn happy_paths_match_our_tree() {
    let tree = rfc_tree();
    for n in 0..=4 {
        let v = load(&vectors_dir().join(format!("inclusion/{n}/happy-path.json")));
        let (index, size) = (num(&v, "leafIdx"), num(&v, "treeSize"));
        assert_eq!(
            bytes(&v, "leafHash"),
            tree.node(0, index).unwrap(),
            "inclusion/{n}"
        );
        assert_eq!(
            bytes(&v, "root"),
            root_at(&tree, size).unwrap(),
            "inclusion/{n}"
        );
        let ours = inclusion_proof(&tree, index, size).unwrap();
        let want: Vec<Hash> = proof_of(&v)
            .iter()
            .map(|h| h[..].try_into().unwrap())
            .collect();
        assert_eq!(ours, want, "inclusion/{n}");

        let v = load(&vectors_dir().join(format!("consistency/{n}/happy-path.json")));
        let (size1, size2) = (num(&v, "size1"), num(&v, "size2"));
        assert_eq!(bytes(&v, "root1"), root_at(&tree, size1).unwrap());
        assert_eq!(bytes(&v, "root2"), root_at(&tree, size2).unwrap());
        let ours = consistency_proof(&tree, size1, size2).unwrap();
        let want: Vec<Hash> = proof_of(&v)
            .iter()
            .map(|h| h[..].try_into().unwrap())
            .collect();
        assert_eq!(ours, want, "consistency/{n}");
    }
}

// ---- The model: RFC 6962 §2.1 recursions, written independently of the crate. ----

fn naive_mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = n.next_power_of_two() / 2;
            node_hash(&naive_mth(&leaves[..k]), &naive_mth(&leaves[k..]))
        }
    }
}

/// The largest power of two below `n` (> 1).
fn split(n: u64) -> u64 {
    n.next_power_of_two() / 2
}

/// The sides of the audit path of `index` in `size`, leaf first: `true` = the sibling
/// is on the left. The verifier's computation depends on (index, size) only through it.
fn path_shape(index: u64, size: u64) -> Option<Vec<bool>> {
    fn rec(m: u64, n: u64, out: &mut Vec<bool>) {
        if n > 1 {
            let k = split(n);
            if m < k {
                rec(m, k, out);
                out.push(false);
            } else {
                rec(m - k, n - k, out);
                out.push(true);
            }
        }
    }
    (index < size).then(|| {
        let mut out = Vec::new();
        rec(index, size, &mut out);
        out
    })
}

/// What the consistency verifier does with a proof from `size1` to `size2`: whether the
/// seed (the old subtree root) is in the proof, then per proof node whether it lies left
/// of the old tree's right edge (it folds into both roots) or right of it (new root only).
/// `None` where no proof exists (size1 = 0 or size1 > size2).
fn subproof_shape(size1: u64, size2: u64) -> Option<(bool, Vec<bool>)> {
    fn rec(m: u64, n: u64, whole: bool, seed: &mut bool, out: &mut Vec<bool>) {
        if m == n {
            *seed = !whole;
        } else {
            let k = split(n);
            if m <= k {
                rec(m, k, whole, seed, out);
                out.push(false);
            } else {
                rec(m - k, n - k, false, seed, out);
                out.push(true);
            }
        }
    }
    (size1 > 0 && size1 <= size2).then(|| {
        let (mut seed, mut out) = (false, Vec::new());
        rec(size1, size2, true, &mut seed, &mut out);
        (seed, out)
    })
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut h = *h;
    h[(bit / 8) % 32] ^= 1 << (bit % 8);
    h
}

fn tree_of(salt: u64, size: u64) -> (MemTree, Vec<Hash>) {
    let mut tree = MemTree::new();
    let leaves = (0..size)
        .map(|i| tree.push_entry(&[salt.to_le_bytes(), i.to_le_bytes()].concat()))
        .collect();
    (tree, leaves)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn roots_agree(salt: u64, size in 0u64..2000, at: Index) {
        let (tree, leaves) = tree_of(salt, size);
        let naive = naive_mth(&leaves);
        prop_assert_eq!(tree.root(), naive);
        prop_assert_eq!(root_at(&tree, size).unwrap(), naive);
        let range = CompactRange::from_reader(size, &tree).unwrap();
        prop_assert_eq!(range.root(), naive);
        let earlier = at.index(size as usize + 1);
        prop_assert_eq!(root_at(&tree, earlier as u64).unwrap(), naive_mth(&leaves[..earlier]));
    }

    #[test]
    fn inclusion_proofs_verify_and_mutations_fail(
        salt: u64, size in 1u64..2000, at: Index, bit in 0usize..256, other in 0u32..11,
    ) {
        let (tree, leaves) = tree_of(salt, size);
        let root = tree.root();
        let index = at.index(size as usize) as u64;
        let leaf = leaves[index as usize];
        let proof = inclusion_proof(&tree, index, size).unwrap();
        prop_assert_eq!(proof.len(), path_shape(index, size).unwrap().len());
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &root).is_ok());

        for i in 0..proof.len() {
            let mut bad = proof.clone();
            bad[i] = flip(&bad[i], bit);
            prop_assert!(verify_inclusion(&leaf, index, size, &bad, &root).is_err());
        }
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &flip(&root, bit)).is_err());
        prop_assert!(verify_inclusion(&flip(&leaf, bit), index, size, &proof, &root).is_err());
        let mut longer = proof.clone();
        longer.push(root);
        prop_assert!(verify_inclusion(&leaf, index, size, &longer, &root).is_err());
        if let Some((_, shorter)) = proof.split_last() {
            prop_assert!(verify_inclusion(&leaf, index, size, shorter, &root).is_err());
        }
        // Another index: a different path, always rejected.
        for bad in [index + 1, index.wrapping_sub(1), index ^ (1 << other)] {
            prop_assert!(verify_inclusion(&leaf, bad, size, &proof, &root).is_err());
        }
        // Another size: rejected unless it gives the verifier the very same path shape
        // (then the claim holds of another tree with this root, e.g. leaf 0 of 5 vs 8).
        let shape = path_shape(index, size);
        for bad in [size + 1, size - 1, size * 2, size / 2, size ^ (1 << other)] {
            let same = path_shape(index, bad) == shape;
            prop_assert_eq!(verify_inclusion(&leaf, index, bad, &proof, &root).is_ok(), same,
                "size {} -> {}", size, bad);
        }
    }

    #[test]
    fn consistency_proofs_verify_and_mutations_fail(
        salt: u64, size2 in 1u64..2000, at: Index, bit in 0usize..256, other in 0u32..11,
    ) {
        let (tree, _) = tree_of(salt, size2);
        let size1 = at.index(size2 as usize) as u64 + 1;
        let (root1, root2) = (root_at(&tree, size1).unwrap(), tree.root());
        let proof = consistency_proof(&tree, size1, size2).unwrap();
        let shape = subproof_shape(size1, size2);
        let (seed, ops) = shape.clone().unwrap();
        prop_assert_eq!(proof.len(), ops.len() + usize::from(seed));
        prop_assert!(verify_consistency(size1, size2, &proof, &root1, &root2).is_ok());

        for i in 0..proof.len() {
            let mut bad = proof.clone();
            bad[i] = flip(&bad[i], bit);
            prop_assert!(verify_consistency(size1, size2, &bad, &root1, &root2).is_err());
        }
        prop_assert!(verify_consistency(size1, size2, &proof, &flip(&root1, bit), &root2).is_err());
        prop_assert!(verify_consistency(size1, size2, &proof, &root1, &flip(&root2, bit)).is_err());
        let mut longer = proof.clone();
        longer.push(root2);
        prop_assert!(verify_consistency(size1, size2, &longer, &root1, &root2).is_err());
        if let Some((_, shorter)) = proof.split_last() {
            prop_assert!(verify_consistency(size1, size2, shorter, &root1, &root2).is_err());
        }
        // Other sizes: rejected unless the verifier would do exactly the same hashing.
        for bad1 in [size1 + 1, size1 - 1, size1 ^ (1 << other), size1 * 2] {
            let same = subproof_shape(bad1, size2) == shape;
            prop_assert_eq!(
                verify_consistency(bad1, size2, &proof, &root1, &root2).is_ok(), same,
                "size1 {} -> {}", size1, bad1);
        }
        for bad2 in [size2 + 1, size2 - 1, size2 * 2, size2 / 2, size2 ^ (1 << other)] {
            let same = subproof_shape(size1, bad2) == shape;
            prop_assert_eq!(
                verify_consistency(size1, bad2, &proof, &root1, &root2).is_ok(), same,
                "size2 {} -> {}", size2, bad2);
        }
    }
}

#[test]
fn empty_tree_root() {
    assert_eq!(CompactRange::new().root(), EMPTY_ROOT);
    assert_eq!(root_at(&MemTree::new(), 0).unwrap(), EMPTY_ROOT);
    assert_eq!(leaf_hash(b""), rfc_tree().node(0, 0).unwrap());
}
