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
mod tests;
