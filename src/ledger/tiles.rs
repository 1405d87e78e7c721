//! The read side as C2SP tlog-tiles (docs/FORMAT.md §11.10): hash tiles read from the
//! stored complete nodes (`Space::Tree`) and entry bundles read from the stored entries
//! (`Space::Entry`), for the daemon's `/tile/…` routes. Paths and widths are
//! `merkle::tiles`; this file only reads.
//!
//! Invariants:
//! - a tile (or bundle) of width W is served only when the current tree (`head.size`
//!   leaves) has all of its first W nodes (entries); otherwise the answer is `None`,
//!   never an error and never a shorter tile;
//! - every width that is available is served: a full tile once its 256th node is
//!   complete, and any partial width W < 256 whose nodes exist, also after the full tile
//!   exists (tlog-tiles lets a log drop those; serving them costs nothing here, and a
//!   client that holds an older checkpoint needs no fallback). Nodes and entries are
//!   written once and never change, so the bytes served for a path never change either,
//!   and a partial tile is always a prefix of the full one;
//! - a node or entry that the head says exists but the store lacks is an error naming
//!   it (run `blotter verify`), never `None`.

use crate::format::MAX_ENTRY_BYTES;
use crate::merkle::tiles::{self, TileKind, TileRef, MAX_BUNDLE_ENTRY, TILE_HEIGHT, TILE_WIDTH};
use crate::merkle::HASH_LEN;
use crate::store::Space;

use super::tree::node_key;
use super::{Ledger, LedgerError};

// Every entry fits an entry bundle's u16 length prefix (docs/FORMAT.md §3.1).
const _: () = assert!(MAX_ENTRY_BYTES <= MAX_BUNDLE_ENTRY);

impl Ledger {
    /// The hash tile at tile `level`, `index`, `width` (256 for a full tile): the hashes
    /// of the tree nodes at tree level `8·level`, indices `index·256 …
    /// index·256+width−1`, 32 bytes each, concatenated. `None` if the current tree does
    /// not have all of them yet (levels 8 to 63 never do). Refuses a level above 63 or a
    /// width outside 1–256, which no tile path can name.
    pub fn tile(&self, level: u8, index: u64, width: u16) -> Result<Option<Vec<u8>>, LedgerError> {
        let t = TileRef::hash(level, index, width).ok_or_else(|| {
            LedgerError::Invalid(format!(
                "no tile has level {level} and width {width} (levels 0 to 63, widths 1 to 256)"
            ))
        })?;
        self.tile_data(&t)
    }

    /// The entry bundle at `index`, `width` (256 for a full bundle): entries
    /// `index·256 … index·256+width−1`, each as its length (big-endian `u16`) then its
    /// stored bytes. `None` if the ledger does not have all of them yet. Refuses a width
    /// outside 1–256.
    pub fn entry_bundle(&self, index: u64, width: u16) -> Result<Option<Vec<u8>>, LedgerError> {
        let t = TileRef::entries(index, width).ok_or_else(|| {
            LedgerError::Invalid(format!(
                "no entry bundle has width {width} (widths 1 to 256)"
            ))
        })?;
        self.tile_data(&t)
    }

    /// The bytes of a parsed tile path ([`TileRef::parse`]): [`Self::tile`] or
    /// [`Self::entry_bundle`].
    pub fn tile_data(&self, t: &TileRef) -> Result<Option<Vec<u8>>, LedgerError> {
        if !t.is_available_at(self.head.size) {
            return Ok(None);
        }
        let width = u64::from(t.width());
        // Available, so the tile level is at most 7 and index·256 + width is at most the
        // number of nodes at that tree level: none of this overflows.
        let (Some(level), Some(first)) = (
            t.level().checked_mul(TILE_HEIGHT),
            t.index().checked_mul(u64::from(TILE_WIDTH)),
        ) else {
            return Ok(None);
        };
        match t.kind() {
            TileKind::Hash(_) => self.read_nodes(level, first, width),
            TileKind::Entries => self.read_entries(first, width),
        }
        .map(Some)
    }

    /// The concatenated hashes of nodes `first … first+width−1` at tree `level`, all in
    /// one tile (`first` a multiple of 256, `width` ≤ 256): one range scan, since their
    /// store keys share everything but the last byte.
    fn read_nodes(&self, level: u8, first: u64, width: u64) -> Result<Vec<u8>, LedgerError> {
        debug_assert!(
            first.is_multiple_of(u64::from(TILE_WIDTH)) && width <= u64::from(TILE_WIDTH)
        );
        let key = node_key(level, first);
        let mut out = Vec::with_capacity(HASH_LEN * usize::from(TILE_WIDTH));
        let mut want = first;
        for kv in self.store.scan(Space::Tree, &key[..key.len() - 1]) {
            if want == first + width {
                break;
            }
            let (k, v) = kv?;
            if k[..] != node_key(level, want) || v.len() != HASH_LEN {
                break;
            }
            out.extend_from_slice(&v);
            want += 1;
        }
        if want != first + width {
            return Err(LedgerError::Invalid(format!(
                "Merkle tree node (level {level}, index {want}) is missing from the store; run `blotter verify`"
            )));
        }
        Ok(out)
    }

    /// Entries `first … first+width−1` as an entry bundle.
    fn read_entries(&self, first: u64, width: u64) -> Result<Vec<u8>, LedgerError> {
        let mut out = Vec::new();
        let mut want = first;
        for r in self.store.entries(first) {
            if want == first + width {
                break;
            }
            let (seq, bytes) = r?;
            if seq != want {
                break;
            }
            tiles::push_bundle_entry(&mut out, &bytes)
                .map_err(|e| LedgerError::Invalid(format!("entry {seq}: {e}")))?;
            want += 1;
        }
        if want != first + width {
            return Err(LedgerError::Invalid(format!(
                "entry {want} is missing from the store; run `blotter verify`"
            )));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::ledger::{testing, Ledger, LedgerError};
    use crate::merkle::leaf_hash;
    use crate::merkle::tiles::{bundle_entries, tile_hashes, TileRef};
    use crate::store::{Batch, Space};

    use super::node_key;

    /// A ledger of `size` entries: genesis, a clerk's registration, then records.
    fn ledger(dir: &std::path::Path, size: u64) -> Ledger {
        let (mut l, clerk) = testing::with_clerk(dir, "pd.example/tiles");
        let subs = (2..size)
            .map(|_| l.sign(&clerk, testing::incident()).unwrap())
            .collect();
        l.append(subs).unwrap();
        assert_eq!(l.head().size, size);
        l
    }

    #[test]
    fn serves_available_widths_and_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        let l = ledger(&tmp.path().join("l"), 260);
        let leaves: Vec<_> = (0..260)
            .map(|s| leaf_hash(&l.entry_bytes(s).unwrap().unwrap()))
            .collect();

        let full = l.tile(0, 0, 256).unwrap().unwrap();
        assert_eq!(tile_hashes(&full, 256).unwrap(), leaves[..256]);
        // A partial width is a prefix of the full tile, also once the full one exists.
        for w in [1u16, 2, 255] {
            let p = l.tile(0, 0, w).unwrap().unwrap();
            assert_eq!(p[..], full[..32 * usize::from(w)]);
        }
        let p = l.tile(0, 1, 4).unwrap().unwrap();
        assert_eq!(tile_hashes(&p, 4).unwrap(), leaves[256..]);
        assert_eq!(l.tile(0, 1, 5).unwrap(), None);
        assert_eq!(l.tile(0, 1, 256).unwrap(), None);
        assert_eq!(l.tile(0, 2, 1).unwrap(), None);
        assert_eq!(l.tile(0, u64::MAX, 1).unwrap(), None);
        // Level 1 has one node: the root of the first 256 leaves.
        let l1 = l.tile(1, 0, 1).unwrap().unwrap();
        assert_eq!(l1, l.root_at(256).unwrap());
        assert_eq!(l.tile(1, 0, 2).unwrap(), None);
        for level in [2, 7, 8, 32, 63] {
            assert_eq!(l.tile(level, 0, 1).unwrap(), None, "level {level}");
        }
        assert!(matches!(l.tile(64, 0, 1), Err(LedgerError::Invalid(_))));
        assert!(matches!(l.tile(0, 0, 0), Err(LedgerError::Invalid(_))));
        assert!(matches!(l.tile(0, 0, 257), Err(LedgerError::Invalid(_))));
        assert!(matches!(l.entry_bundle(0, 0), Err(LedgerError::Invalid(_))));

        let bundle = l.entry_bundle(1, 4).unwrap().unwrap();
        let entries = bundle_entries(&bundle, 4).unwrap();
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(leaf_hash(e), leaves[256 + i]);
        }
        assert_eq!(l.entry_bundle(1, 5).unwrap(), None);
        assert_eq!(l.entry_bundle(0, 256).unwrap().map(|b| b.len()), {
            let n: usize = (0..256)
                .map(|s| 2 + l.entry_bytes(s).unwrap().unwrap().len())
                .sum();
            Some(n)
        });
        let t = TileRef::parse("tile/entries/001.p/3").unwrap();
        assert_eq!(
            l.tile_data(&t).unwrap().unwrap(),
            bundle[..bundle.len() - 2 - entries[3].len()]
        );
        let t = TileRef::parse("tile/0/000.p/2").unwrap();
        assert_eq!(
            l.tile_data(&t).unwrap().unwrap(),
            [leaves[0], leaves[1]].concat()
        );
    }

    #[test]
    fn a_missing_node_is_an_error_not_none() {
        let tmp = tempfile::tempdir().unwrap();
        let l = ledger(&tmp.path().join("l"), 20);
        let mut b = Batch::default();
        b.remove(Space::Tree, &node_key(0, 7));
        l.store.commit(b).unwrap();
        assert!(l.tile(0, 0, 7).unwrap().is_some());
        for w in [8, 20] {
            let e = l.tile(0, 0, w).unwrap_err().to_string();
            assert!(e.contains("(level 0, index 7) is missing"), "{e}");
        }
        assert_eq!(l.tile(0, 0, 21).unwrap(), None);
    }
}
