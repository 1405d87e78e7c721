//! The RFC 6962 Merkle tree over the ledger's entries, and its proofs. Pure: no I/O, no store.
//!
//! What it owns:
//! - the hashing of RFC 6962 §2.1 (SHA-256): [`leaf_hash`], [`node_hash`], [`EMPTY_ROOT`];
//! - the storage model, as a trait only ([`NodeReader`]): the hash of every *complete*
//!   (perfect) subtree, addressed by `(level, index)`;
//! - [`tree::CompactRange`], the right edge of the tree, which appends leaves and reports
//!   every node that becomes complete so the caller can store it in the same atomic batch
//!   as the entry;
//! - proof generation ([`proof::inclusion_proof`], [`proof::consistency_proof`],
//!   [`tree::root_at`]) with O(log n) node reads, and verification
//!   ([`verify::verify_inclusion`], [`verify::verify_consistency`]) following the iterative
//!   algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2;
//! - [`tree::MemTree`], an in-memory store for tests;
//! - the text formats that carry tree heads and proofs (C2SP): [`note`] (signed notes),
//!   [`checkpoint`] (tlog-checkpoint bodies), [`cosignature`] (tlog-cosignature witness
//!   lines), [`proof_text`] (tlog-proof, tlog-witness `add-checkpoint`), and [`audit`],
//!   the offline checks an auditor runs with nothing but files and a verifier key.
//!
//! What it does not own: where nodes are stored (the ledger writes them through the
//! store), what a leaf's entry bytes are (the format module), and signing tree heads.
//!
//! Invariants:
//! - node `(level L, index i)` is `MTH(D[i·2^L : (i+1)·2^L])`; level 0 nodes are leaf
//!   hashes. Only complete nodes exist: a node is written once, when its last leaf is
//!   appended, and never changes afterwards.
//! - the root of a tree of size `n` is the fold from the right of the perfect subtrees of
//!   the binary decomposition of `n` (largest first), which is exactly RFC 6962's `MTH`;
//!   the root of the empty tree is [`EMPTY_ROOT`].
//! - leaf indices are 0-based everywhere in this module.

use sha2::{Digest, Sha256};

pub mod audit;
pub mod checkpoint;
pub mod cosignature;
pub mod note;
pub mod proof;
pub mod proof_text;
pub mod tiles;
pub mod tree;
pub mod verify;

pub use proof::{consistency_proof, inclusion_proof, GenError, ProofError};
pub use tree::{root_at, CompactRange, MemTree, MemTreeError};
pub use verify::{root_from_inclusion_proof, verify_consistency, verify_inclusion};

/// A SHA-256 digest: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// The length of a [`Hash`](type@Hash) in bytes.
pub const HASH_LEN: usize = 32;

/// The root of the empty tree: `SHA-256("")` (RFC 6962 §2.1).
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// The hash of a leaf: `SHA-256(0x00 ‖ entry)` (RFC 6962 §2.1).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(entry);
    h.finalize().into()
}

/// The hash of an interior node: `SHA-256(0x01 ‖ left ‖ right)` (RFC 6962 §2.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Read access to the stored nodes of a tree.
///
/// Node `(level, index)` covers leaves `[index·2^level, (index+1)·2^level)`. Callers in
/// this module only ever ask for *complete* nodes (all of whose leaves exist); an
/// implementation may treat any other request as an error.
pub trait NodeReader {
    /// The error of a failed read (a missing node, an I/O error...).
    type Error;
    /// The hash of the complete node `(level, index)`.
    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error>;
}

impl<R: NodeReader + ?Sized> NodeReader for &R {
    type Error = R::Error;
    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error> {
        (**self).node(level, index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        let d: Hash = Sha256::digest(b"").into();
        assert_eq!(d, EMPTY_ROOT);
        assert_eq!(
            hex::encode(EMPTY_ROOT),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn leaf_and_node_hashes_are_domain_separated() {
        assert_eq!(
            hex::encode(leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        let l = leaf_hash(b"a");
        let r = leaf_hash(b"b");
        let mut cat = Vec::new();
        cat.extend_from_slice(&l);
        cat.extend_from_slice(&r);
        // An interior node is never the leaf hash of its children's concatenation.
        assert_ne!(node_hash(&l, &r), leaf_hash(&cat));
        assert_ne!(node_hash(&l, &r), node_hash(&r, &l));
    }
}
