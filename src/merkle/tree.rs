//! The tree itself: the compact range (right edge) that appends leaves, tree roots read
//! from the stored complete nodes, and an in-memory node store.
//!
//! Invariant shared by everything here: only *complete* nodes are stored or read, and
//! the root of any tree size (or of any aligned sub-range) is the fold from the right of
//! the perfect subtrees of its binary decomposition.

use super::{node_hash, Hash, NodeReader, EMPTY_ROOT};

/// The right edge of a tree of `size` leaves: enough to append and to compute the root.
///
/// Invariant: `frontier` holds the roots of the perfect subtrees of the binary
/// decomposition of `size`, left to right (largest first), so `frontier.len()` equals
/// `size.count_ones()` and `frontier[j]` is the stored node at the level of the `j`-th
/// highest set bit of `size`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    frontier: Vec<Hash>,
}

impl CompactRange {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The compact range of the first `size` leaves, read from the stored complete nodes:
    /// one read per set bit of `size`, so at most 64.
    pub fn from_reader<R: NodeReader + ?Sized>(size: u64, reader: &R) -> Result<Self, R::Error> {
        let mut frontier = Vec::with_capacity(size.count_ones() as usize);
        for_each_perfect(0, size, |level, index| {
            frontier.push(reader.node(level, index)?);
            Ok(())
        })?;
        Ok(Self { size, frontier })
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The roots of the perfect subtrees of the decomposition of [`Self::size`], largest
    /// first.
    pub fn frontier(&self) -> &[Hash] {
        &self.frontier
    }

    /// Appends a leaf hash (see [`super::leaf_hash`]). Calls `emit(level, index, hash)`
    /// first for the leaf node `(0, old size)`, then for every interior node that this
    /// leaf completes, bottom up, so that the caller can store them in the same atomic
    /// batch as the entry. Amortised, two nodes are emitted per leaf.
    ///
    /// A ledger cannot reach 2^64 − 1 leaves, so the size never overflows in practice.
    pub fn append(&mut self, leaf: Hash, mut emit: impl FnMut(u8, u64, Hash)) {
        let mut level: u8 = 0;
        let mut index = self.size;
        let mut hash = leaf;
        emit(level, index, hash);
        // Each set low bit of the old size is a perfect subtree of the same height as
        // `hash`, immediately to its left: merge them while the carries propagate.
        while index & 1 == 1 {
            let Some(left) = self.frontier.pop() else {
                break; // Unreachable: one frontier entry per set bit of the size.
            };
            hash = node_hash(&left, &hash);
            level += 1;
            index >>= 1;
            emit(level, index, hash);
        }
        self.frontier.push(hash);
        self.size += 1;
    }

    /// The root: [`EMPTY_ROOT`] for the empty tree, else `MTH(D[0:size])`.
    pub fn root(&self) -> Hash {
        fold_right(&self.frontier)
    }
}

/// The root of the tree of the first `size` leaves (an earlier tree size, or the current
/// one), from at most 64 node reads. [`EMPTY_ROOT`] for size 0.
pub fn root_at<R: NodeReader + ?Sized>(reader: &R, size: u64) -> Result<Hash, R::Error> {
    range_root(reader, 0, size)
}

/// `MTH(D[begin : begin+len])` from the stored perfect nodes of its decomposition, folded
/// from the right. [`EMPTY_ROOT`] when `len` is 0.
///
/// Precondition: `begin` is a multiple of the largest power of two ≤ `len` (true of
/// every range that RFC 6962's `MTH`, `PATH` and `SUBPROOF` recursions produce), so
/// every node of the decomposition is aligned, i.e. is a stored complete node.
pub(crate) fn range_root<R: NodeReader + ?Sized>(
    reader: &R,
    begin: u64,
    len: u64,
) -> Result<Hash, R::Error> {
    let mut nodes = Vec::with_capacity(len.count_ones() as usize);
    for_each_perfect(begin, len, |level, index| {
        nodes.push(reader.node(level, index)?);
        Ok(())
    })?;
    Ok(fold_right(&nodes))
}

/// Calls `f(level, index)` for the perfect subtrees of the decomposition of
/// `[begin, begin+len)`, left to right (largest first). See [`range_root`] for the
/// alignment precondition.
fn for_each_perfect<E>(
    begin: u64,
    len: u64,
    mut f: impl FnMut(u8, u64) -> Result<(), E>,
) -> Result<(), E> {
    let mut start = begin;
    for level in (0..64u8).rev() {
        let width = 1u64 << level;
        if len & width != 0 {
            debug_assert_eq!(start % width, 0, "unaligned range {begin}+{len}");
            f(level, start >> level)?;
            start = start.wrapping_add(width);
        }
    }
    Ok(())
}

/// Folds perfect subtree roots (largest first) from the right into one root.
fn fold_right(nodes: &[Hash]) -> Hash {
    let mut iter = nodes.iter().rev();
    let Some(last) = iter.next() else {
        return EMPTY_ROOT;
    };
    iter.fold(*last, |acc, left| node_hash(left, &acc))
}

/// A missing node in a [`MemTree`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no complete Merkle node at level {level}, index {index}")]
pub struct MemTreeError {
    /// The level asked for.
    pub level: u8,
    /// The index asked for.
    pub index: u64,
}

/// An in-memory node store, built by appending: `levels[L][i]` is node `(L, i)`.
///
/// Invariant: holds exactly the complete nodes of a tree of [`MemTree::size`] leaves
/// (level `L` has `size >> L` nodes), as emitted by [`CompactRange::append`].
#[derive(Clone, Debug, Default)]
pub struct MemTree {
    levels: Vec<Vec<Hash>>,
    range: CompactRange,
}

impl MemTree {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree of the given entries (leaf inputs), in order.
    pub fn from_entries<I>(entries: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let mut tree = Self::new();
        for e in entries {
            tree.push_entry(e.as_ref());
        }
        tree
    }

    /// Appends an entry (hashed with [`super::leaf_hash`]); returns its leaf hash.
    pub fn push_entry(&mut self, entry: &[u8]) -> Hash {
        let leaf = super::leaf_hash(entry);
        self.push_leaf(leaf);
        leaf
    }

    /// Appends a leaf hash.
    pub fn push_leaf(&mut self, leaf: Hash) {
        let levels = &mut self.levels;
        self.range.append(leaf, |level, _index, hash| {
            let level = usize::from(level);
            if levels.len() <= level {
                levels.resize_with(level + 1, Vec::new);
            }
            levels[level].push(hash);
        });
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.range.size()
    }

    /// The current root.
    pub fn root(&self) -> Hash {
        self.range.root()
    }

    /// The compact range of the current size.
    pub fn compact_range(&self) -> &CompactRange {
        &self.range
    }
}

impl NodeReader for MemTree {
    type Error = MemTreeError;

    fn node(&self, level: u8, index: u64) -> Result<Hash, MemTreeError> {
        self.levels
            .get(usize::from(level))
            .and_then(|nodes| nodes.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or(MemTreeError { level, index })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::{leaf_hash, Hash, NodeReader};
    use super::*;
    use std::cell::Cell;

    /// The leaf inputs of the RFC 6962 test vectors.
    pub(crate) fn rfc_entries() -> Vec<Vec<u8>> {
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
        .map(|h| hex::decode(h).unwrap())
        .collect()
    }

    pub(crate) fn h(s: &str) -> Hash {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    const RFC_ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    /// RFC 6962 §2.1 `MTH`, recursively over the leaf hashes.
    pub(crate) fn naive_mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => EMPTY_ROOT,
            1 => leaves[0],
            n => {
                let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
                node_hash(&naive_mth(&leaves[..k]), &naive_mth(&leaves[k..]))
            }
        }
    }

    /// Counts node reads, to check the O(log n) bounds.
    pub(crate) struct Counting<'a>(pub &'a MemTree, pub Cell<u64>);

    impl NodeReader for Counting<'_> {
        type Error = MemTreeError;
        fn node(&self, level: u8, index: u64) -> Result<Hash, MemTreeError> {
            self.1.set(self.1.get() + 1);
            self.0.node(level, index)
        }
    }

    #[test]
    fn rfc_roots_for_every_size() {
        let entries = rfc_entries();
        let mut tree = MemTree::new();
        assert_eq!(tree.root(), h(RFC_ROOTS[0]));
        for (n, e) in entries.iter().enumerate() {
            tree.push_entry(e);
            assert_eq!(tree.root(), h(RFC_ROOTS[n + 1]), "size {}", n + 1);
        }
        for (n, want) in RFC_ROOTS.iter().enumerate() {
            assert_eq!(root_at(&tree, n as u64).unwrap(), h(want), "root_at {n}");
        }
    }

    #[test]
    fn append_emits_leaf_then_completed_nodes() {
        let mut range = CompactRange::new();
        let mut emitted = Vec::new();
        for i in 0..8u8 {
            range.append(leaf_hash(&[i]), |l, i, _| emitted.push((l, i)));
        }
        let want = [
            (0, 0),
            (0, 1),
            (1, 0),
            (0, 2),
            (0, 3),
            (1, 1),
            (2, 0),
            (0, 4),
            (0, 5),
            (1, 2),
            (0, 6),
            (0, 7),
            (1, 3),
            (2, 1),
            (3, 0),
        ];
        assert_eq!(emitted, want);
        assert_eq!(range.frontier().len(), 1);
    }

    #[test]
    fn compact_range_roundtrips_through_the_store() {
        let mut tree = MemTree::new();
        let mut leaves = Vec::new();
        for i in 0..300u32 {
            assert_eq!(
                CompactRange::from_reader(tree.size(), &tree).unwrap(),
                *tree.compact_range()
            );
            assert_eq!(tree.root(), naive_mth(&leaves));
            leaves.push(tree.push_entry(&i.to_be_bytes()));
        }
        // Level L holds size >> L nodes.
        for (l, nodes) in tree.levels.iter().enumerate() {
            assert_eq!(nodes.len() as u64, tree.size() >> l);
        }
    }

    #[test]
    fn root_at_reads_one_node_per_set_bit() {
        let tree = MemTree::from_entries((0..1000u32).map(|i| i.to_le_bytes()));
        for size in [0u64, 1, 511, 512, 999, 1000] {
            let c = Counting(&tree, Cell::new(0));
            root_at(&c, size).unwrap();
            assert_eq!(c.1.get(), u64::from(size.count_ones()));
        }
    }

    #[test]
    fn incomplete_nodes_are_missing() {
        let tree = MemTree::from_entries([b"a", b"b", b"c"]);
        assert!(tree.node(0, 2).is_ok());
        assert_eq!(tree.node(1, 1), Err(MemTreeError { level: 1, index: 1 }));
        assert!(tree.node(2, 0).is_err());
        assert!(root_at(&tree, 4).is_err());
        assert!(CompactRange::from_reader(5, &tree).is_err());
    }
}
