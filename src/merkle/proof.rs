//! Inclusion and consistency proofs: their errors and their generation from stored nodes
//! (RFC 6962 §2.1.1 `PATH` and §2.1.2 `SUBPROOF`). Verification is in [`super::verify`].
//!
//! Conventions (those of the transparency-dev vectors under `tests/vectors/rfc6962/`):
//! - leaf indices are 0-based;
//! - a consistency proof *from* size 0 is rejected, even between two empty trees (the
//!   empty tree is trivially a prefix of every tree, so such a proof proves nothing);
//! - for equal sizes the proof must be empty and the two roots are compared byte for
//!   byte, as given, before any length check;
//! - proofs list hashes from the leaf (or the old tree) upward.

use super::tree::range_root;
use super::{Hash, NodeReader, HASH_LEN};

/// Why a proof cannot be generated or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The 0-based leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The older tree is larger than the newer one.
    #[error("size1 ({size1}) is greater than size2 ({size2})")]
    SizeDecreased {
        /// The older size.
        size1: u64,
        /// The newer size.
        size2: u64,
    },
    /// A consistency proof from the empty tree (rejected, even to the empty tree).
    #[error("no consistency proof from the empty tree (size1 is 0, size2 is {size2})")]
    EmptyFirstTree {
        /// The newer size.
        size2: u64,
    },
    /// An inclusion proof with the wrong number of hashes.
    #[error("inclusion proof for leaf {index} in tree size {size} has {got} hashes, want {want}")]
    InclusionProofLength {
        /// The 0-based leaf index.
        index: u64,
        /// The tree size.
        size: u64,
        /// The number of hashes given.
        got: usize,
        /// The number of hashes the sizes call for.
        want: usize,
    },
    /// A consistency proof with the wrong number of hashes.
    #[error("consistency proof from size {size1} to size {size2} has {got} hashes, want {want}")]
    ConsistencyProofLength {
        /// The older size.
        size1: u64,
        /// The newer size.
        size2: u64,
        /// The number of hashes given.
        got: usize,
        /// The number of hashes the sizes call for.
        want: usize,
    },
    /// A hash that is not 32 bytes long.
    #[error("{what} is {len} bytes long, want {HASH_LEN}")]
    HashLength {
        /// Which hash: "leaf hash", "root1", "proof hash".
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// The root computed from the proof (or given, for equal sizes) differs from the
    /// expected root of that tree size.
    #[error("root mismatch for tree size {size}: the proof does not lead to the expected root")]
    RootMismatch {
        /// The tree size whose root did not match.
        size: u64,
    },
}

/// A failed proof generation: bad arguments, or a failed node read.
#[derive(Debug, thiserror::Error)]
pub enum GenError<E> {
    /// The arguments do not describe a proof.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// The node store failed.
    #[error("reading a Merkle tree node")]
    Read(#[source] E),
}

/// The largest power of two strictly below `n`. Precondition: `n > 1`.
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The stored node covering `[begin, begin+width)`, `width` a power of two.
fn perfect<R: NodeReader + ?Sized>(reader: &R, begin: u64, width: u64) -> Result<Hash, R::Error> {
    let level = width.trailing_zeros();
    // A u64's trailing zeros fit a u8 (at most 64).
    reader.node(level as u8, begin >> level)
}

/// The inclusion proof (audit path, leaf first) of leaf `index` in the tree of the first
/// `size` leaves: RFC 6962 `PATH(index, D[0:size])`.
///
/// Reads O(log n) nodes: one perfect sibling per level, except the first right sibling
/// on the way down, which may be a non-perfect range (at most 64 reads).
pub fn inclusion_proof<R: NodeReader + ?Sized>(
    reader: &R,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, GenError<R::Error>> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size }.into());
    }
    let mut path = Vec::with_capacity(64);
    // Invariant: the leaf is `begin + m` in the aligned range D[begin : begin+n].
    let (mut begin, mut n, mut m) = (0u64, size, index);
    while n > 1 {
        let k = split_point(n);
        if m < k {
            path.push(range_root(reader, begin + k, n - k).map_err(GenError::Read)?);
            n = k;
        } else {
            path.push(perfect(reader, begin, k).map_err(GenError::Read)?);
            begin += k;
            m -= k;
            n -= k;
        }
    }
    path.reverse();
    Ok(path)
}

/// The consistency proof from the tree of the first `size1` leaves to that of the first
/// `size2`: RFC 6962 `PROOF(size1, D[0:size2])`. Empty when the sizes are equal; an error
/// when `size1` is 0 or greater than `size2` (see the module conventions).
///
/// Reads O(log n) nodes, as for [`inclusion_proof`].
pub fn consistency_proof<R: NodeReader + ?Sized>(
    reader: &R,
    size1: u64,
    size2: u64,
) -> Result<Vec<Hash>, GenError<R::Error>> {
    if size1 > size2 {
        return Err(ProofError::SizeDecreased { size1, size2 }.into());
    }
    if size1 == 0 {
        return Err(ProofError::EmptyFirstTree { size2 }.into());
    }
    let mut proof = Vec::with_capacity(64);
    // SUBPROOF(m, D[begin : begin+n], b), unrolled; `whole` is b.
    let (mut begin, mut n, mut m, mut whole) = (0u64, size2, size1, true);
    while m != n {
        let k = split_point(n);
        if m <= k {
            proof.push(range_root(reader, begin + k, n - k).map_err(GenError::Read)?);
            n = k;
        } else {
            proof.push(perfect(reader, begin, k).map_err(GenError::Read)?);
            begin += k;
            m -= k;
            n -= k;
            whole = false;
        }
    }
    if !whole {
        proof.push(range_root(reader, begin, n).map_err(GenError::Read)?);
    }
    proof.reverse();
    Ok(proof)
}

#[cfg(test)]
mod tests {
    use super::super::tree::tests::{h, naive_mth, rfc_entries, Counting};
    use super::super::tree::{root_at, MemTree};
    use super::super::verify::{
        consistency_len, inclusion_len, verify_consistency, verify_inclusion,
    };
    use super::*;
    use std::cell::Cell;

    fn rfc_tree() -> MemTree {
        MemTree::from_entries(rfc_entries())
    }

    fn hashes(v: &[&str]) -> Vec<Hash> {
        v.iter().map(|s| h(s)).collect()
    }

    #[test]
    fn rfc_inclusion_vectors() {
        let tree = rfc_tree();
        let want0 = hashes(&[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ]);
        let want5 = hashes(&[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ]);
        assert_eq!(inclusion_proof(&tree, 0, 8).unwrap(), want0);
        assert_eq!(inclusion_proof(&tree, 5, 8).unwrap(), want5);
        let root = tree.root();
        let leaves: Vec<Hash> = rfc_entries()
            .iter()
            .map(|e| super::super::leaf_hash(e))
            .collect();
        verify_inclusion(&leaves[0], 0, 8, &want0, &root).unwrap();
        verify_inclusion(&leaves[5], 5, 8, &want5, &root).unwrap();
        assert_eq!(
            verify_inclusion(&leaves[4], 5, 8, &want5, &root),
            Err(ProofError::RootMismatch { size: 8 })
        );
    }

    #[test]
    fn rfc_consistency_vector() {
        let tree = rfc_tree();
        let want = hashes(&[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ]);
        assert_eq!(consistency_proof(&tree, 6, 8).unwrap(), want);
        let (r6, r8) = (root_at(&tree, 6).unwrap(), tree.root());
        verify_consistency(6, 8, &want, &r6, &r8).unwrap();
        assert!(verify_consistency(6, 8, &want, &r8, &r6).is_err());
    }

    /// Every proof of every (index, size) and (size1, size2) up to 70 leaves verifies,
    /// has the length the verifier expects, and stays within the read bound.
    #[test]
    fn exhaustive_small_trees() {
        let tree = MemTree::from_entries((0..70u32).map(|i| i.to_be_bytes()));
        let leaves: Vec<Hash> = (0..70u64).map(|i| tree.node(0, i).unwrap()).collect();
        for size in 1..=70u64 {
            let root = root_at(&tree, size).unwrap();
            assert_eq!(root, naive_mth(&leaves[..size as usize]));
            for index in 0..size {
                let c = Counting(&tree, Cell::new(0));
                let proof = inclusion_proof(&c, index, size).unwrap();
                assert!(c.1.get() <= 2 * 7, "{index}/{size}: {} reads", c.1.get());
                assert_eq!(proof.len(), inclusion_len(index, size));
                verify_inclusion(&leaves[index as usize], index, size, &proof, &root).unwrap();
            }
            for size1 in 1..=size {
                let root1 = root_at(&tree, size1).unwrap();
                let c = Counting(&tree, Cell::new(0));
                let proof = consistency_proof(&c, size1, size).unwrap();
                assert!(
                    c.1.get() <= 2 * 7 + 1,
                    "{size1}->{size}: {} reads",
                    c.1.get()
                );
                if size1 < size {
                    assert_eq!(proof.len(), consistency_len(size1, size));
                }
                verify_consistency(size1, size, &proof, &root1, &root).unwrap();
            }
        }
    }

    #[test]
    fn generation_rejects_bad_arguments() {
        let tree = rfc_tree();
        assert!(matches!(
            inclusion_proof(&tree, 8, 8),
            Err(GenError::Proof(ProofError::IndexOutOfRange {
                index: 8,
                size: 8
            }))
        ));
        assert!(matches!(
            inclusion_proof(&tree, 0, 0),
            Err(GenError::Proof(ProofError::IndexOutOfRange { .. }))
        ));
        assert!(matches!(
            consistency_proof(&tree, 5, 4),
            Err(GenError::Proof(ProofError::SizeDecreased {
                size1: 5,
                size2: 4
            }))
        ));
        assert!(matches!(
            consistency_proof(&tree, 0, 4),
            Err(GenError::Proof(ProofError::EmptyFirstTree { size2: 4 }))
        ));
        assert_eq!(consistency_proof(&tree, 3, 3).unwrap(), Vec::<Hash>::new());
        // Beyond the stored tree: the reader's error comes through.
        assert!(matches!(
            inclusion_proof(&tree, 0, 9),
            Err(GenError::Read(_))
        ));
        assert!(matches!(
            consistency_proof(&tree, 2, 9),
            Err(GenError::Read(_))
        ));
    }
}
