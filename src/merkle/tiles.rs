//! C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>): the names and shapes of the static
//! resources that serve the tree to clients. Pure: no I/O.
//!
//! What it owns:
//! - tile paths, `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`, parsed strictly
//!   ([`TileRef::parse`]) and formatted ([`TileRef`]'s `Display`);
//! - which tiles a tree of a given size has, and how wide ([`tile_width_at`]);
//! - the bytes of a tile (concatenated hashes, [`tile_hashes`]) and of an entry bundle
//!   (entries prefixed by their big-endian `u16` length, [`push_bundle_entry`],
//!   [`bundle_entries`]).
//!
//! What it does not own: reading the nodes and entries (the ledger does, `ledger/tiles.rs`)
//! and serving them over HTTP.
//!
//! Invariants:
//! - the tile at level `L`, index `N`, holds the hashes of the tree nodes at tree level
//!   `8·L`, indices `N·256 … N·256+W−1` (node `(8·L, i)` being `MTH` of leaves
//!   `i·256^L … (i+1)·256^L − 1`), 32 bytes each; an entry bundle at index `N` holds
//!   entries `N·256 … N·256+W−1`, whose leaf hashes are the level-0 tile of index `N`;
//! - a [`TileRef`] always has a level in `0..=63` and a width in `1..=256`, 256 being a
//!   full tile (no `.p/` suffix);
//! - [`TileRef::parse`] accepts exactly the strings that formatting produces: for every
//!   `s`, `TileRef::parse(s)` is `Ok(t)` only if `t.to_string() == s`. Nothing here
//!   panics on any input.

use std::fmt;

use super::{Hash, HASH_LEN};

/// Hashes in a full tile, and entries in a full entry bundle.
pub const TILE_WIDTH: u16 = 256;

/// Tree levels spanned by one tile level: a tile at level `L` holds nodes of tree level
/// `TILE_HEIGHT · L`.
pub const TILE_HEIGHT: u8 = 8;

/// The largest tile level a path may name (tlog-tiles: `<L>` is 0 to 63). A tree of
/// fewer than 2^64 leaves has no node at tree level 64, so tiles of levels 8 and above
/// are never available.
pub const MAX_TILE_LEVEL: u8 = 63;

/// The largest entry an entry bundle can carry: its length prefix is a big-endian `u16`.
pub const MAX_BUNDLE_ENTRY: usize = u16::MAX as usize;

/// The number of decimal digits in one index path element.
const GROUP_DIGITS: usize = 3;

/// Index path elements in the longest index, `u64::MAX` = `x018/x446/x744/x073/x709/x551/615`.
const MAX_GROUPS: usize = 7;

/// Which kind of resource a tile path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TileKind {
    /// A Merkle tree tile at this tile level (`0..=63`): `tile/<L>/<N>`.
    Hash(u8),
    /// An entry bundle: `tile/entries/<N>`.
    Entries,
}

/// A tile or entry bundle: its kind, index and width.
///
/// Invariant: the level of [`TileKind::Hash`] is at most [`MAX_TILE_LEVEL`], and the
/// width is in `1..=256` ([`TILE_WIDTH`] meaning a full tile). The constructors and
/// [`TileRef::parse`] refuse anything else, so every `TileRef` has a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TileRef {
    kind: TileKind,
    index: u64,
    width: u16,
}

/// Why a string is not a canonical tlog-tiles path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TilePathError {
    #[error("a tile path begins with `tile/`")]
    NotTile,
    #[error("the tile level must be `entries` or a decimal from 0 to 63 without leading zeroes")]
    Level,
    #[error("the tile index must be 3-digit path elements, all but the last prefixed with `x`, without a leading `x000`")]
    Index,
    #[error("the tile index does not fit in 64 bits")]
    IndexOverflow,
    #[error(
        "a partial tile's width (`.p/<W>`) must be a decimal from 1 to 255 without leading zeroes"
    )]
    Width,
}

/// Why tile or entry bundle bytes do not have the expected shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TileDataError {
    #[error("the width must be from 1 to 256, not {0}")]
    Width(u16),
    #[error("a tile of {width} hashes is {} bytes, not {got}", usize::from(*width) * HASH_LEN)]
    TileLength { width: u16, got: usize },
    #[error("the entry bundle ends inside entry {0}")]
    Truncated(usize),
    #[error("the entry bundle has {got} entries where {width} were expected")]
    Count { width: u16, got: usize },
    #[error("an entry of {0} bytes does not fit an entry bundle (at most 65,535)")]
    EntryTooLong(usize),
}

impl TileRef {
    /// The Merkle tree tile at tile `level`, `index`, `width`; `None` unless
    /// `level ≤ 63` and `1 ≤ width ≤ 256`.
    pub fn hash(level: u8, index: u64, width: u16) -> Option<TileRef> {
        (level <= MAX_TILE_LEVEL && valid_width(width)).then_some(TileRef {
            kind: TileKind::Hash(level),
            index,
            width,
        })
    }

    /// The entry bundle at `index`, `width`; `None` unless `1 ≤ width ≤ 256`.
    pub fn entries(index: u64, width: u16) -> Option<TileRef> {
        valid_width(width).then_some(TileRef {
            kind: TileKind::Entries,
            index,
            width,
        })
    }

    /// A hash tile or an entry bundle.
    pub fn kind(&self) -> TileKind {
        self.kind
    }

    /// The tile's index within its level.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The number of hashes (or entries): 256 for a full tile, else 1 to 255.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether the path has a `.p/<W>` suffix (width < 256).
    pub fn is_partial(&self) -> bool {
        self.width < TILE_WIDTH
    }

    /// The tile level whose nodes this resource lists: the hash tile's level, 0 for an
    /// entry bundle (whose entries hash to the level-0 tile of the same index).
    pub fn level(&self) -> u8 {
        match self.kind {
            TileKind::Hash(level) => level,
            TileKind::Entries => 0,
        }
    }

    /// The width of this tile (any width) in a tree of `size` leaves, or `None` if the
    /// tree has not started it. See [`tile_width_at`].
    pub fn width_at(&self, size: u64) -> Option<u16> {
        tile_width_at(size, self.level(), self.index)
    }

    /// Whether a tree of `size` leaves has every node (or entry) of this tile, i.e.
    /// whether a log of that size can serve it.
    pub fn is_available_at(&self, size: u64) -> bool {
        self.width_at(size).is_some_and(|w| w >= self.width)
    }

    /// Parses a tile path relative to the log's prefix, `tile/…` (no leading `/`).
    ///
    /// Strict: only the canonical form is accepted, the one `Display` writes. The level is
    /// `entries` or 0–63 without leading zeroes; the index is 3-digit elements, all but
    /// the last prefixed with `x`, the first not `x000`; a width suffix `.p/<W>` has W
    /// from 1 to 255 without leading zeroes (a full tile has no suffix). Never panics.
    pub fn parse(path: &str) -> Result<TileRef, TilePathError> {
        let rest = path.strip_prefix("tile/").ok_or(TilePathError::NotTile)?;
        let (level, rest) = rest.split_once('/').ok_or(TilePathError::Level)?;
        let kind = if level == "entries" {
            TileKind::Entries
        } else {
            match parse_decimal(level, 2) {
                Some(l) if l <= u64::from(MAX_TILE_LEVEL) => {
                    TileKind::Hash(u8::try_from(l).map_err(|_| TilePathError::Level)?)
                }
                _ => return Err(TilePathError::Level),
            }
        };
        let (index, width) = match rest.split_once(".p/") {
            None => (rest, TILE_WIDTH),
            Some((index, width)) => match parse_decimal(width, 3) {
                Some(w) if (1..u64::from(TILE_WIDTH)).contains(&w) => {
                    (index, u16::try_from(w).map_err(|_| TilePathError::Width)?)
                }
                _ => return Err(TilePathError::Width),
            },
        };
        Ok(TileRef {
            kind,
            index: parse_index(index)?,
            width,
        })
    }
}

impl std::str::FromStr for TileRef {
    type Err = TilePathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TileRef::parse(s)
    }
}

/// The canonical path, relative to the log's prefix: `tile/<L>/<N>[.p/<W>]` or
/// `tile/entries/<N>[.p/<W>]`.
impl fmt::Display for TileRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TileKind::Hash(level) => write!(f, "tile/{level}/")?,
            TileKind::Entries => f.write_str("tile/entries/")?,
        }
        write_index(f, self.index)?;
        if self.is_partial() {
            write!(f, ".p/{}", self.width)?;
        }
        Ok(())
    }
}

fn valid_width(width: u16) -> bool {
    (1..=TILE_WIDTH).contains(&width)
}

/// Writes `n` as 3-digit groups, most significant first, all but the last prefixed
/// with `x`: 1234067 → `x001/x234/067`, 5 → `005`.
fn write_index(f: &mut fmt::Formatter<'_>, n: u64) -> fmt::Result {
    let mut groups = [0u64; MAX_GROUPS];
    let mut count = 0;
    let mut rest = n;
    loop {
        groups[count] = rest % 1000;
        count += 1;
        rest /= 1000;
        if rest == 0 || count == MAX_GROUPS {
            break;
        }
    }
    for (i, g) in groups[..count].iter().rev().enumerate() {
        if i + 1 < count {
            write!(f, "x{g:03}/")?;
        } else {
            write!(f, "{g:03}")?;
        }
    }
    Ok(())
}

/// A decimal of ASCII digits, at most `max_digits` long, without leading zeroes ("0"
/// itself is fine).
fn parse_decimal(s: &str, max_digits: usize) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > max_digits || (b.len() > 1 && b[0] == b'0') {
        return None;
    }
    b.iter().try_fold(0u64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u64::from(c - b'0'))
    })
}

/// The index path: `x`-prefixed groups of exactly 3 ASCII digits, then one unprefixed
/// group; canonical (no leading `x000` group); at most 64 bits.
fn parse_index(s: &str) -> Result<u64, TilePathError> {
    let groups: Vec<&str> = s.split('/').collect();
    let Some((last, prefixed)) = groups.split_last() else {
        return Err(TilePathError::Index);
    };
    if groups.len() > MAX_GROUPS {
        return Err(TilePathError::Index);
    }
    let mut n: u64 = 0;
    for (i, g) in prefixed.iter().enumerate() {
        let digits = g.strip_prefix('x').ok_or(TilePathError::Index)?;
        let v = parse_group(digits)?;
        if i == 0 && v == 0 {
            return Err(TilePathError::Index);
        }
        n = push_group(n, v)?;
    }
    push_group(n, parse_group(last)?)
}

fn parse_group(s: &str) -> Result<u64, TilePathError> {
    let b = s.as_bytes();
    if b.len() != GROUP_DIGITS || !b.iter().all(u8::is_ascii_digit) {
        return Err(TilePathError::Index);
    }
    Ok(b.iter().fold(0, |acc, &c| acc * 10 + u64::from(c - b'0')))
}

fn push_group(n: u64, group: u64) -> Result<u64, TilePathError> {
    n.checked_mul(1000)
        .and_then(|n| n.checked_add(group))
        .ok_or(TilePathError::IndexOverflow)
}

/// The width of the tile at tile `level`, `index` in a tree of `size` leaves: 256 once
/// it is full, the number of its nodes that exist (1 to 255) while it is partial, and
/// `None` if the tree has none of its nodes yet (or `level` is above 63).
///
/// Tile level `L` lists the nodes of tree level `8·L`, of which a tree of `size` leaves
/// has `⌊size / 256^L⌋`; the rightmost tile of a level is partial with
/// `⌊size / 256^L⌋ mod 256` nodes (tlog-tiles), and an empty tile is never served. The
/// entry bundle of index `N` has the width of the level-0 tile of index `N`.
pub fn tile_width_at(size: u64, level: u8, index: u64) -> Option<u16> {
    if level > MAX_TILE_LEVEL {
        return None;
    }
    let nodes = size
        .checked_shr(u32::from(level) * u32::from(TILE_HEIGHT))
        .unwrap_or(0);
    let first = index.checked_mul(u64::from(TILE_WIDTH))?;
    let have = nodes.checked_sub(first).filter(|&n| n > 0)?;
    u16::try_from(have.min(u64::from(TILE_WIDTH))).ok()
}

/// The hashes of a tile of `width` hashes; refuses bytes that are not exactly
/// `32 · width` long.
pub fn tile_hashes(data: &[u8], width: u16) -> Result<Vec<Hash>, TileDataError> {
    if !valid_width(width) {
        return Err(TileDataError::Width(width));
    }
    if data.len() != usize::from(width) * HASH_LEN {
        return Err(TileDataError::TileLength {
            width,
            got: data.len(),
        });
    }
    Ok(data
        .chunks_exact(HASH_LEN)
        .filter_map(|c| Hash::try_from(c).ok())
        .collect())
}

/// Appends one entry to an entry bundle: its length as a big-endian `u16`, then its
/// bytes. Refuses an entry longer than 65,535 bytes, writing nothing.
pub fn push_bundle_entry(bundle: &mut Vec<u8>, entry: &[u8]) -> Result<(), TileDataError> {
    let len = u16::try_from(entry.len()).map_err(|_| TileDataError::EntryTooLong(entry.len()))?;
    bundle.extend_from_slice(&len.to_be_bytes());
    bundle.extend_from_slice(entry);
    Ok(())
}

/// The entries of an entry bundle of `width` entries; refuses a bundle that ends inside
/// an entry or holds any other number of entries (trailing bytes included).
pub fn bundle_entries(data: &[u8], width: u16) -> Result<Vec<&[u8]>, TileDataError> {
    if !valid_width(width) {
        return Err(TileDataError::Width(width));
    }
    let mut entries = Vec::with_capacity(usize::from(width));
    let mut rest = data;
    while !rest.is_empty() {
        let truncated = TileDataError::Truncated(entries.len());
        let (len, tail) = rest.split_first_chunk::<2>().ok_or(truncated)?;
        let len = usize::from(u16::from_be_bytes(*len));
        let (entry, tail) = tail.split_at_checked(len).ok_or(truncated)?;
        entries.push(entry);
        rest = tail;
    }
    if entries.len() != usize::from(width) {
        return Err(TileDataError::Count {
            width,
            got: entries.len(),
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::super::tree::tests::naive_mth;
    use super::super::{leaf_hash, root_at, MemTree, NodeReader};
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> Result<TileRef, TilePathError> {
        TileRef::parse(s)
    }

    #[test]
    fn spec_index_example() {
        let t = TileRef::hash(0, 1_234_067, 256).unwrap();
        assert_eq!(t.to_string(), "tile/0/x001/x234/067");
        assert_eq!(parse("tile/0/x001/x234/067"), Ok(t));
    }

    #[test]
    fn formats() {
        let cases = [
            (TileRef::hash(0, 0, 256), "tile/0/000"),
            (TileRef::hash(1, 5, 17), "tile/1/005.p/17"),
            (TileRef::hash(63, 999, 1), "tile/63/999.p/1"),
            (TileRef::hash(2, 1000, 255), "tile/2/x001/000.p/255"),
            (TileRef::entries(0, 1), "tile/entries/000.p/1"),
            (TileRef::entries(273, 256), "tile/entries/273"),
            (
                TileRef::entries(u64::MAX, 256),
                "tile/entries/x018/x446/x744/x073/x709/x551/615",
            ),
        ];
        for (t, s) in cases {
            let t = t.unwrap();
            assert_eq!(t.to_string(), s);
            assert_eq!(parse(s), Ok(t), "{s}");
        }
    }

    #[test]
    fn constructors_refuse_out_of_range() {
        assert!(TileRef::hash(64, 0, 1).is_none());
        assert!(TileRef::hash(0, 0, 0).is_none());
        assert!(TileRef::hash(0, 0, 257).is_none());
        assert!(TileRef::entries(0, 0).is_none());
        assert!(TileRef::entries(0, 300).is_none());
        assert!(TileRef::hash(63, u64::MAX, 256).is_some());
    }

    #[test]
    fn refuses_non_canonical_paths() {
        use TilePathError::*;
        let cases = [
            ("", NotTile),
            ("/tile/0/000", NotTile),
            ("tiles/0/000", NotTile),
            ("tile/0", Level),
            ("tile//000", Level),
            ("tile/00/000", Level),
            ("tile/01/000", Level),
            ("tile/64/000", Level),
            ("tile/100/000", Level),
            ("tile/+1/000", Level),
            ("tile/-0/000", Level),
            ("tile/a/000", Level),
            ("tile/Entries/000", Level),
            ("tile/data/000", Level),
            ("tile/0/", Index),
            ("tile/0/0", Index),
            ("tile/0/00", Index),
            ("tile/0/0000", Index),
            ("tile/0/x000", Index),
            ("tile/0/001/002", Index),
            ("tile/0/x001/x002", Index),
            ("tile/0/x000/001", Index),
            ("tile/0/x000/x001/002", Index),
            ("tile/0/X001/002", Index),
            ("tile/0/xx01/002", Index),
            ("tile/0/x01/002", Index),
            ("tile/0/x1/002", Index),
            ("tile/0/ 01", Index),
            ("tile/0/+01", Index),
            ("tile/0/０００", Index),
            ("tile/0/000/", Index),
            ("tile/0/000.p", Index),
            ("tile/0/000.q/1", Index),
            ("tile/0/x001//002", Index),
            ("tile/0/x001/x002/x003/x004/x005/x006/x007/008", Index),
            ("tile/0/x019/x000/x000/x000/x000/x000/000", IndexOverflow),
            ("tile/0/x018/x446/x744/x073/x709/x551/616", IndexOverflow),
            ("tile/0/000.p/", Width),
            ("tile/0/000.p/0", Width),
            ("tile/0/000.p/01", Width),
            ("tile/0/000.p/256", Width),
            ("tile/0/000.p/1000", Width),
            ("tile/0/000.p/+1", Width),
            ("tile/0/000.p/1/", Width),
            ("tile/0/000.p/1.p/1", Width),
            ("tile/0/x001.p/2/003", Width),
            ("tile/entries/000.p/256", Width),
            ("tile/entries/x000/000", Index),
            ("tile/entries/000/extra", Index),
        ];
        for (s, want) in cases {
            assert_eq!(parse(s), Err(want), "{s:?}");
        }
        // The largest index parses.
        assert_eq!(
            parse("tile/5/x018/x446/x744/x073/x709/x551/615").map(|t| t.index()),
            Ok(u64::MAX)
        );
    }

    #[test]
    fn spec_widths_for_size_70000() {
        // tlog-tiles: 273 full level-0 tiles, a partial one of width 112, one full level-1
        // tile, a partial one of width 17, a partial level-2 tile of width 1.
        let size = 70_000;
        assert!((0..273).all(|n| tile_width_at(size, 0, n) == Some(256)));
        assert_eq!(tile_width_at(size, 0, 273), Some(112));
        assert_eq!(tile_width_at(size, 0, 274), None);
        assert_eq!(tile_width_at(size, 1, 0), Some(256));
        assert_eq!(tile_width_at(size, 1, 1), Some(17));
        assert_eq!(tile_width_at(size, 1, 2), None);
        assert_eq!(tile_width_at(size, 2, 0), Some(1));
        assert_eq!(tile_width_at(size, 3, 0), None);
        // "a tree of size 256 will be represented by a full level 0 tile and a partial
        // level 1 tile of width 1".
        assert_eq!(tile_width_at(256, 0, 0), Some(256));
        assert_eq!(tile_width_at(256, 0, 1), None);
        assert_eq!(tile_width_at(256, 1, 0), Some(1));
        assert_eq!(tile_width_at(256, 2, 0), None);
    }

    #[test]
    fn widths_at_the_edges() {
        assert_eq!(tile_width_at(0, 0, 0), None);
        assert_eq!(tile_width_at(1, 0, 0), Some(1));
        assert_eq!(tile_width_at(u64::MAX, 0, u64::MAX / 256), Some(255));
        assert_eq!(tile_width_at(u64::MAX, 0, u64::MAX / 256 + 1), None);
        assert_eq!(tile_width_at(u64::MAX, 7, 0), Some(255));
        assert_eq!(tile_width_at(u64::MAX, 8, 0), None);
        assert_eq!(tile_width_at(u64::MAX, 63, 0), None);
        assert_eq!(tile_width_at(u64::MAX, 64, 0), None);
        assert_eq!(tile_width_at(u64::MAX, 255, 0), None);
        assert_eq!(tile_width_at(1 << 56, 7, 0), Some(1));
        let t = TileRef::entries(1, 10).unwrap();
        assert!(!t.is_available_at(265));
        assert!(t.is_available_at(266));
        assert!(t.is_available_at(10_000));
    }

    #[test]
    fn tile_and_bundle_bytes() {
        let h = [[1u8; 32], [2u8; 32]];
        assert_eq!(tile_hashes(&h.concat(), 2), Ok(h.to_vec()));
        assert_eq!(
            tile_hashes(&h.concat(), 3),
            Err(TileDataError::TileLength { width: 3, got: 64 })
        );
        assert_eq!(tile_hashes(&[], 0), Err(TileDataError::Width(0)));

        let mut b = Vec::new();
        push_bundle_entry(&mut b, b"abc").unwrap();
        push_bundle_entry(&mut b, b"").unwrap();
        assert_eq!(b, b"\x00\x03abc\x00\x00");
        assert_eq!(bundle_entries(&b, 2), Ok(vec![&b"abc"[..], &b""[..]]));
        assert_eq!(
            bundle_entries(&b, 3),
            Err(TileDataError::Count { width: 3, got: 2 })
        );
        assert_eq!(bundle_entries(&b[..4], 2), Err(TileDataError::Truncated(0)));
        assert_eq!(bundle_entries(&b[..6], 2), Err(TileDataError::Truncated(1)));
        let long = vec![0u8; MAX_BUNDLE_ENTRY + 1];
        assert_eq!(
            push_bundle_entry(&mut b, &long),
            Err(TileDataError::EntryTooLong(65_536))
        );
        assert_eq!(b.len(), 7, "a refused entry writes nothing");
        push_bundle_entry(&mut b, &long[1..]).unwrap();
        assert_eq!(bundle_entries(&b, 3).unwrap()[2].len(), 65_535);
    }

    /// The tile at `t` of a tree of `size` leaves, read from `tree`, if available.
    fn serve(tree: &MemTree, size: u64, t: TileRef) -> Option<Vec<u8>> {
        if !t.is_available_at(size) {
            return None;
        }
        let level = t.level() * TILE_HEIGHT;
        let first = t.index() * 256;
        let mut out = Vec::new();
        for i in first..first + u64::from(t.width()) {
            out.extend_from_slice(&tree.node(level, i).ok()?);
        }
        Some(out)
    }

    /// A tiles client: the root of size `size` from tiles only, each node of the size's
    /// decomposition being the root of 2^r consecutive hashes of one tile.
    fn root_from_tiles(size: u64, fetch: impl Fn(TileRef) -> Option<Vec<u8>>) -> Hash {
        let mut nodes = Vec::new();
        let mut start = 0u64;
        for k in (0..64u8).rev() {
            if size & (1 << k) == 0 {
                continue;
            }
            let (level, r) = (k / TILE_HEIGHT, k % TILE_HEIGHT);
            let first = (start >> k) << r; // index at tree level 8·level
            let index = first / 256;
            let width = tile_width_at(size, level, index).unwrap();
            let t = TileRef::hash(level, index, width).unwrap();
            let hashes = tile_hashes(&fetch(t).unwrap(), width).unwrap();
            let at = usize::try_from(first % 256).unwrap();
            nodes.push(naive_mth(&hashes[at..at + (1 << r)]));
            start += 1 << k;
        }
        let mut it = nodes.into_iter().rev();
        let last = it.next().unwrap_or(super::super::EMPTY_ROOT);
        it.fold(last, |acc, l| super::super::node_hash(&l, &acc))
    }

    #[test]
    fn a_client_recomputes_roots_from_tiles() {
        let tree = MemTree::from_entries((0..70_000u32).map(|i| i.to_be_bytes()));
        for size in [
            1u64, 2, 3, 255, 256, 257, 511, 512, 513, 65_535, 65_536, 65_537, 66_000, 70_000,
        ] {
            // A tree grown past `size` still serves the partial tiles `size` needs.
            let root = root_from_tiles(size, |t| serve(&tree, size, t));
            assert_eq!(root, root_at(&tree, size).unwrap(), "size {size}");
            let root = root_from_tiles(size, |t| serve(&tree, tree.size(), t));
            assert_eq!(
                root,
                root_at(&tree, size).unwrap(),
                "size {size}, served at 70,000"
            );
        }
        // The level-1 tile's hashes are the roots of the full level-0 tiles.
        let l1 = tile_hashes(
            &serve(&tree, 70_000, TileRef::hash(1, 0, 256).unwrap()).unwrap(),
            256,
        )
        .unwrap();
        let l0 = tile_hashes(
            &serve(&tree, 70_000, TileRef::hash(0, 3, 256).unwrap()).unwrap(),
            256,
        )
        .unwrap();
        assert_eq!(l1[3], naive_mth(&l0));
        assert_eq!(l0[0], leaf_hash(&(3u32 * 256).to_be_bytes()));
    }

    proptest! {
        #[test]
        fn parsing_any_string_never_panics(s in ".{0,80}") {
            if let Ok(t) = TileRef::parse(&s) {
                prop_assert_eq!(t.to_string(), s);
            }
        }

        #[test]
        fn parsing_near_paths_accepts_only_the_canonical_form(
            s in "tile/(entries|[0-9x]{0,3})/(x?[0-9]{1,4}/){0,8}x?[0-9]{0,4}(\\.p/[0-9]{0,4})?"
        ) {
            if let Ok(t) = TileRef::parse(&s) {
                prop_assert_eq!(t.to_string(), s);
            }
        }

        #[test]
        fn parsing_well_formed_paths_accepts_only_the_canonical_form(
            s in "tile/(entries|[0-9]{1,2})/(x[0-9]{3}/){0,7}[0-9]{3}(\\.p/[0-9]{1,3})?"
        ) {
            match TileRef::parse(&s) {
                Ok(t) => prop_assert_eq!(t.to_string(), s),
                // Only a leading zero, a level above 63, a leading `x000`, too many
                // groups or an out-of-range width make these fail.
                Err(e) => prop_assert!(e != TilePathError::NotTile),
            }
        }

        #[test]
        fn format_then_parse_round_trips(
            level in 0u8..=63, entries in any::<bool>(), index in any::<u64>(), small in 0u64..2000,
            width in 1u16..=256,
        ) {
            for index in [index, small] {
                let t = if entries { TileRef::entries(index, width) } else { TileRef::hash(level, index, width) };
                let t = t.unwrap();
                prop_assert_eq!(TileRef::parse(&t.to_string()), Ok(t));
            }
        }

        #[test]
        fn width_matches_the_node_count(size in any::<u64>(), level in 0u8..10, index in any::<u64>()) {
            let nodes = if level >= 8 { 0 } else { size >> (8 * level) };
            let index = index % ((nodes / 256) + 2);
            let want = nodes.saturating_sub(index.saturating_mul(256)).min(256);
            prop_assert_eq!(tile_width_at(size, level, index).map(u64::from).unwrap_or(0), want);
        }

        #[test]
        fn bundle_parsing_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600), width in any::<u16>()) {
            let _ = bundle_entries(&data, width);
            let _ = tile_hashes(&data, width);
        }
    }
}
