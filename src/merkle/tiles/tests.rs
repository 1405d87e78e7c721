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
