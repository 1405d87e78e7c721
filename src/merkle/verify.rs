//! Proof verification following the iterative algorithms of RFC 9162 §2.1.3.2
//! (inclusion) and §2.1.4.2 (consistency), under the conventions of [`super::proof`].
//!
//! Verification takes hashes as byte slices, so that a hash of the wrong length (from an
//! untrusted proof) is rejected with an error rather than being unrepresentable at the
//! boundary; a [`Hash`](type@Hash) coerces to `&[u8]`, and a `&[Hash]` is a valid proof.

use super::proof::ProofError;
use super::{node_hash, Hash};

/// `bytes` as a [`Hash`](type@Hash), or a [`ProofError::HashLength`] naming `what`.
fn to_hash(bytes: &[u8], what: &'static str) -> Result<Hash, ProofError> {
    bytes.try_into().map_err(|_| ProofError::HashLength {
        what,
        len: bytes.len(),
    })
}

fn to_hashes<P: AsRef<[u8]>>(proof: &[P]) -> Result<Vec<Hash>, ProofError> {
    proof
        .iter()
        .map(|p| to_hash(p.as_ref(), "proof hash"))
        .collect()
}

/// The length of the inclusion proof of leaf `index` in a tree of `size`
/// (`index < size`): the levels below the point where the paths to `index` and to the
/// last leaf diverge (inner), plus one per set bit above it (border).
pub(super) fn inclusion_len(index: u64, size: u64) -> usize {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// The length of the consistency proof from `size1` to `size2` (`0 < size1 < size2`).
pub(super) fn consistency_len(size1: u64, size2: u64) -> usize {
    let level = size1.trailing_zeros();
    let index = (size1 - 1) >> level;
    let last = (size2 - 1) >> level;
    let inner = 64 - (index ^ last).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    let seed = usize::from(index != 0); // Not a power of two: the seed is in the proof.
    seed + (inner + border) as usize
}

/// The root that an inclusion proof leads to: RFC 9162 §2.1.3.2 steps 1–5 without the
/// final comparison. Checks the index, every hash length and the proof length.
pub fn root_from_inclusion_proof<P: AsRef<[u8]>>(
    leaf_hash: &[u8],
    index: u64,
    size: u64,
    proof: &[P],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let leaf = to_hash(leaf_hash, "leaf hash")?;
    let want = inclusion_len(index, size);
    let length_err = ProofError::InclusionProofLength {
        index,
        size,
        got: proof.len(),
        want,
    };
    if proof.len() != want {
        return Err(length_err);
    }
    let proof = to_hashes(proof)?;
    // Steps 2–5. With the length checked above, the loop's own length checks (sn reaching
    // 0 early, or not at all) cannot fail; they stay as the RFC states them.
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = leaf;
    for p in &proof {
        if sn == 0 {
            return Err(length_err);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(length_err);
    }
    Ok(r)
}

/// Verifies that `leaf_hash` is leaf `index` (0-based) of the tree of `size` leaves whose
/// root is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion<P: AsRef<[u8]>>(
    leaf_hash: &[u8],
    index: u64,
    size: u64,
    proof: &[P],
    root: &[u8],
) -> Result<(), ProofError> {
    let computed = root_from_inclusion_proof(leaf_hash, index, size, proof)?;
    if computed.as_slice() != root {
        return Err(ProofError::RootMismatch { size });
    }
    Ok(())
}

/// Verifies that the tree of `size1` leaves with root `root1` is a prefix of the tree of
/// `size2` leaves with root `root2` (RFC 9162 §2.1.4.2), under the conventions of
/// [`super::proof`]: size1 = 0 is rejected; equal sizes need an empty proof and byte-equal roots.
pub fn verify_consistency<P: AsRef<[u8]>>(
    size1: u64,
    size2: u64,
    proof: &[P],
    root1: &[u8],
    root2: &[u8],
) -> Result<(), ProofError> {
    if size1 > size2 {
        return Err(ProofError::SizeDecreased { size1, size2 });
    }
    if size1 == 0 {
        return Err(ProofError::EmptyFirstTree { size2 });
    }
    let length_err = |want| ProofError::ConsistencyProofLength {
        size1,
        size2,
        got: proof.len(),
        want,
    };
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(length_err(0));
        }
        if root1 != root2 {
            return Err(ProofError::RootMismatch { size: size2 });
        }
        return Ok(());
    }
    // Step 1 (an empty proof) is covered: every proof here has at least one hash.
    let want = consistency_len(size1, size2);
    if proof.len() != want {
        return Err(length_err(want));
    }
    let proof = to_hashes(proof)?;
    // Step 2: when size1 is a power of two, the old root is the first node of the path.
    let (seed, rest) = match proof.split_first() {
        Some(_) if size1.is_power_of_two() => (to_hash(root1, "root1")?, &proof[..]),
        Some((first, rest)) => (*first, rest),
        None => return Err(length_err(want)),
    };
    // Steps 3–4.
    let (mut fn_, mut sn) = (size1 - 1, size2 - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // Steps 5–6.
    let (mut fr, mut sr) = (seed, seed);
    for c in rest {
        if sn == 0 {
            return Err(length_err(want));
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 7.
    if sn != 0 {
        return Err(length_err(want));
    }
    if fr.as_slice() != root1 {
        return Err(ProofError::RootMismatch { size: size1 });
    }
    if sr.as_slice() != root2 {
        return Err(ProofError::RootMismatch { size: size2 });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::proof::GenError;
    use super::super::EMPTY_ROOT;
    use super::*;

    #[test]
    fn verification_rejects_bad_arguments() {
        let none: &[Hash] = &[];
        let e = EMPTY_ROOT;
        assert_eq!(
            verify_inclusion(&e, 0, 0, none, &e),
            Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
        );
        assert_eq!(
            verify_inclusion(&e[..31], 0, 1, none, &e),
            Err(ProofError::HashLength {
                what: "leaf hash",
                len: 31
            })
        );
        assert_eq!(
            verify_inclusion(&e, 0, 2, none, &e),
            Err(ProofError::InclusionProofLength {
                index: 0,
                size: 2,
                got: 0,
                want: 1
            })
        );
        assert_eq!(
            verify_inclusion(&e, 0, 2, &[vec![0u8; 33]], &e),
            Err(ProofError::HashLength {
                what: "proof hash",
                len: 33
            })
        );
        assert_eq!(
            verify_consistency(0, 0, none, &e, &e),
            Err(ProofError::EmptyFirstTree { size2: 0 })
        );
        assert_eq!(
            verify_consistency(2, 1, none, &e, &e),
            Err(ProofError::SizeDecreased { size1: 2, size2: 1 })
        );
        assert_eq!(
            verify_consistency(3, 3, &[e], &e, &e),
            Err(ProofError::ConsistencyProofLength {
                size1: 3,
                size2: 3,
                got: 1,
                want: 0
            })
        );
        // Equal sizes: the roots are compared as given, whatever their length.
        verify_consistency(3, 3, none, b"don't care", b"don't care").unwrap();
        assert_eq!(
            verify_consistency(3, 3, none, b"a", b"b"),
            Err(ProofError::RootMismatch { size: 3 })
        );
        assert_eq!(
            verify_consistency(1, 2, none, &e, &e),
            Err(ProofError::ConsistencyProofLength {
                size1: 1,
                size2: 2,
                got: 0,
                want: 1
            })
        );
        assert_eq!(
            verify_consistency(2, 3, &[e], &e[..3], &e),
            Err(ProofError::HashLength {
                what: "root1",
                len: 3
            })
        );
    }

    /// The largest sizes neither overflow nor panic; they just fail to match.
    #[test]
    fn extreme_sizes_do_not_panic() {
        let e = EMPTY_ROOT;
        for (index, size) in [(u64::MAX - 1, u64::MAX), (0, u64::MAX), (1 << 63, u64::MAX)] {
            let proof = vec![e; inclusion_len(index, size)];
            assert_eq!(
                verify_inclusion(&e, index, size, &proof, &e),
                Err(ProofError::RootMismatch { size })
            );
        }
        for (size1, size2) in [(u64::MAX - 1, u64::MAX), (1, u64::MAX), (1 << 63, u64::MAX)] {
            let proof = vec![e; consistency_len(size1, size2)];
            assert!(matches!(
                verify_consistency(size1, size2, &proof, &e, &e),
                Err(ProofError::RootMismatch { .. })
            ));
        }
    }

    #[test]
    fn error_messages_name_the_sizes() {
        let msg = ProofError::InclusionProofLength {
            index: 5,
            size: 8,
            got: 2,
            want: 3,
        };
        assert_eq!(
            msg.to_string(),
            "inclusion proof for leaf 5 in tree size 8 has 2 hashes, want 3"
        );
        let g: GenError<std::io::Error> = GenError::Read(std::io::Error::other("disk"));
        assert!(std::error::Error::source(&g).is_some());
    }
}
