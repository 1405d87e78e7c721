//! The ledger's RFC 6962 Merkle tree over its stored entry bytes: the complete nodes in
//! `Space::Tree`, the compact range (right edge) in memory, roots of earlier sizes and
//! proofs, each from O(log n) store reads.
//!
//! INVARIANT: the nodes that entry n completes are written in the same atomic batch as
//! entry n (see `batch.rs`), so the stored tree always has exactly `head.size` leaves and
//! an append never rereads the log. A store written before the tree existed (no
//! `tree-size` in the metadata) gets its nodes built once, at open.

use crate::merkle::{self, CompactRange, Hash, NodeReader};
use crate::store::{Batch, Space, Store};

use super::{Ledger, LedgerError};

/// Metadata key holding the number of leaves whose nodes are stored.
pub(crate) const TREE_SIZE: &[u8] = b"tree-size";

/// Store key of node `(level, index)`: the level byte, then the index big-endian.
pub(crate) fn node_key(level: u8, index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = level;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

/// Reads complete nodes from the store.
pub(crate) struct StoreNodes<'a>(pub &'a Store);

impl NodeReader for StoreNodes<'_> {
    type Error = LedgerError;
    fn node(&self, level: u8, index: u64) -> Result<Hash, LedgerError> {
        self.0
            .get(Space::Tree, &node_key(level, index))?
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| {
                LedgerError::Invalid(format!(
                    "Merkle tree node (level {level}, index {index}) is missing from the store; run `blotter verify`"
                ))
            })
    }
}

/// Appends entry bytes to `tree`, putting every node it completes into `batch`.
pub(crate) fn append_leaf(tree: &mut CompactRange, batch: &mut Batch, entry: &[u8]) {
    tree.append(merkle::leaf_hash(entry), |level, index, hash| {
        batch.put(Space::Tree, &node_key(level, index), &hash)
    });
}

/// Loads the compact range of a store whose head has `size` entries, first building the
/// nodes of any entries that have none (a store from before the tree).
pub(crate) fn load(store: &Store, size: u64) -> Result<CompactRange, LedgerError> {
    let stored = store
        .get(Space::Meta, TREE_SIZE)?
        .and_then(|v| v.try_into().ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0);
    let mut tree = CompactRange::from_reader(stored.min(size), &StoreNodes(store))?;
    if tree.size() == size {
        return Ok(tree);
    }
    let mut batch = Batch::default();
    for r in store.entries(tree.size()) {
        let (seq, bytes) = r?;
        if seq != tree.size() || seq >= size {
            break;
        }
        append_leaf(&mut tree, &mut batch, &bytes);
        if tree.size() % 4096 == 0 {
            batch.put(Space::Meta, TREE_SIZE, &tree.size().to_be_bytes());
            store.commit(std::mem::take(&mut batch))?;
        }
    }
    if tree.size() != size {
        return Err(LedgerError::Invalid(format!(
            "the store has entries up to {} but its head says {size}; run `blotter verify`",
            tree.size()
        )));
    }
    batch.put(Space::Meta, TREE_SIZE, &tree.size().to_be_bytes());
    store.commit(batch)?;
    Ok(tree)
}

impl Ledger {
    /// The root of the tree over all entries.
    pub fn tree_root(&self) -> Hash {
        self.tree.root()
    }

    /// The root of the tree of the first `size` entries (`size` ≤ the head).
    pub fn root_at(&self, size: u64) -> Result<Hash, LedgerError> {
        self.check_size(size)?;
        merkle::root_at(&StoreNodes(&self.store), size)
    }

    /// The inclusion proof of entry `seq` in the tree of the first `size` entries.
    pub fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash>, LedgerError> {
        self.check_size(size)?;
        merkle::inclusion_proof(&StoreNodes(&self.store), seq, size).map_err(gen_err)
    }

    /// The consistency proof from the tree of `size1` entries to that of `size2`.
    pub fn consistency_proof(&self, size1: u64, size2: u64) -> Result<Vec<Hash>, LedgerError> {
        self.check_size(size2)?;
        merkle::consistency_proof(&StoreNodes(&self.store), size1, size2).map_err(gen_err)
    }

    fn check_size(&self, size: u64) -> Result<(), LedgerError> {
        if size > self.head.size {
            return Err(LedgerError::Invalid(format!(
                "tree size {size} is beyond the ledger's {} entries",
                self.head.size
            )));
        }
        Ok(())
    }
}

fn gen_err(e: merkle::GenError<LedgerError>) -> LedgerError {
    match e {
        merkle::GenError::Proof(p) => LedgerError::Invalid(p.to_string()),
        merkle::GenError::Read(e) => e,
    }
}
