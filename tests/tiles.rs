//! The tlog-tiles read side (docs/FORMAT.md §11.10) on a real ledger, checked by a client
//! written here from the spec alone: it knows a checkpoint (verified with the ledger's
//! verifier key), names tiles with its own path code, asks for them through
//! `TileRef::parse` and `Ledger::tile_data` as the daemon's routes will, and recomputes
//! the checkpoint's root from the tile bytes with its own SHA-256 hashing. It never calls
//! the ledger's root or proof functions to get the answer it checks.

use blotter::crypto::keyfile;
use blotter::format::{Action, Date, Role};
use blotter::ledger::{Draft, InitOptions, Ledger, Settings};
use blotter::merkle::checkpoint::Checkpoint;
use blotter::merkle::note;
use blotter::merkle::tiles::TileRef;
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

type Hash = [u8; 32];

// ---- the client: nothing of blotter's but its answers -------------------------------

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// RFC 6962 `MTH` over hashes taken as leaves of a subtree (recursive, as the RFC says).
fn mth(hashes: &[Hash]) -> Hash {
    match hashes.len() {
        0 => sha256(&[]),
        1 => hashes[0],
        n => {
            let mut k = 1; // the largest power of two < n
            while k * 2 < n {
                k *= 2;
            }
            sha256(&[&[1], &mth(&hashes[..k]), &mth(&hashes[k..])])
        }
    }
}

/// `tile/<L>/<N>[.p/<W>]` (`level` None: `tile/entries/…`), from the spec's words.
fn path(level: Option<u8>, index: u64, width: u16) -> String {
    let mut groups = vec![index % 1000];
    let mut n = index / 1000;
    while n > 0 {
        groups.push(n % 1000);
        n /= 1000;
    }
    let mut elems: Vec<String> = groups.iter().rev().map(|g| format!("x{g:03}")).collect();
    let last = elems.pop().unwrap();
    elems.push(last[1..].to_string());
    let level = level.map_or("entries".to_string(), |l| l.to_string());
    let mut p = format!("tile/{level}/{}", elems.join("/"));
    if width < 256 {
        p += &format!(".p/{width}");
    }
    p
}

/// The width of tile (level, index) in a tree of `size`: 256 if full, else
/// ⌊size / 256^level⌋ mod 256 for the rightmost tile.
fn width_in(size: u64, level: u8, index: u64) -> u16 {
    let nodes = size >> (8 * u32::from(level));
    if index < nodes / 256 {
        256
    } else {
        assert_eq!(
            index,
            nodes / 256,
            "tile {level}/{index} is not in size {size}"
        );
        let w = (nodes % 256) as u16;
        assert!(w > 0);
        w
    }
}

struct Client<'a> {
    ledger: &'a Ledger,
    fetched: std::cell::Cell<usize>,
}

impl Client<'_> {
    /// GET `<prefix>/<path>`.
    fn get(&self, path: &str) -> Option<Vec<u8>> {
        self.fetched.set(self.fetched.get() + 1);
        let t = TileRef::parse(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(t.to_string(), path);
        self.ledger.tile_data(&t).unwrap()
    }

    fn tile(&self, size: u64, level: u8, index: u64) -> Vec<Hash> {
        let w = width_in(size, level, index);
        let p = path(Some(level), index, w);
        let bytes = self.get(&p).unwrap_or_else(|| panic!("{p} not served"));
        assert_eq!(bytes.len(), 32 * usize::from(w), "{p}");
        bytes.chunks(32).map(|c| c.try_into().unwrap()).collect()
    }

    fn bundle(&self, size: u64, index: u64) -> Vec<Vec<u8>> {
        let w = width_in(size, 0, index);
        let p = path(None, index, w);
        let mut rest = &self.get(&p).unwrap_or_else(|| panic!("{p} not served"))[..];
        let mut out = Vec::new();
        while !rest.is_empty() {
            let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
            out.push(rest[2..2 + len].to_vec());
            rest = &rest[2 + len..];
        }
        assert_eq!(out.len(), usize::from(w), "{p}");
        out
    }

    /// The root of the tree of `size` leaves from tiles only: each perfect subtree of
    /// the size's decomposition (height k) is the MTH of 2^(k mod 8) consecutive hashes
    /// of one tile at level ⌊k/8⌋, the tile that tree size requires.
    fn root(&self, size: u64) -> Hash {
        let mut subtrees = Vec::new();
        let mut start = 0u64;
        for k in (0..64u32).rev() {
            if size & (1 << k) == 0 {
                continue;
            }
            let (level, r) = ((k / 8) as u8, k % 8);
            let first = (start >> k) << r; // node index at tree level 8·level
            let hashes = self.tile(size, level, first / 256);
            let at = (first % 256) as usize;
            subtrees.push(mth(&hashes[at..at + (1 << r)]));
            start += 1 << k;
        }
        let last = subtrees.pop().unwrap_or_else(|| sha256(&[]));
        subtrees
            .iter()
            .rev()
            .fold(last, |acc, left| sha256(&[&[1], left, &acc]))
    }
}

// ---- the ledger ---------------------------------------------------------------------

struct Fixture {
    ledger: Ledger,
    clerk: SigningKey,
    _dir: tempfile::TempDir,
}

/// A ledger whose every append keeps a checkpoint: genesis and a clerk's registration.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l");
    let admin = SigningKey::generate(&mut rand::rngs::OsRng);
    let mut ledger = Ledger::init(
        &path,
        &admin,
        InitOptions {
            origin: "pd.example/tiles".into(),
            admin_person: "A-1".into(),
            settings: Settings::default(),
            ledger_key_path: None,
        },
    )
    .unwrap();
    let key = keyfile::load(&path.join("ledger.key"), || None).unwrap();
    ledger.keep_checkpoints_with(key).unwrap();
    let clerk = SigningKey::generate(&mut rand::rngs::OsRng);
    let reg = Draft::key_registration(clerk.verifying_key().to_bytes(), "C-1", Role::Clerk);
    let s = ledger.sign(&admin, reg).unwrap();
    ledger.append(vec![s]).unwrap();
    Fixture {
        ledger,
        clerk,
        _dir: dir,
    }
}

impl Fixture {
    /// Appends records (batches of up to 2,048) until the ledger has `size` entries.
    fn grow(&mut self, size: u64) {
        while self.ledger.head().size < size {
            let n = (size - self.ledger.head().size).min(2048);
            let subs = (0..n)
                .map(|i| {
                    let create = Action::RecordCreate {
                        confidential: false,
                    };
                    let mut d =
                        Draft::new_record("incident", Date::new(2025, 5, 1).unwrap(), create);
                    d.content = Some(format!(r#"{{"summary":"{i}"}}"#).into_bytes());
                    self.ledger.sign(&self.clerk, d).unwrap()
                })
                .collect();
            self.ledger.append(subs).unwrap();
        }
        assert_eq!(self.ledger.head().size, size);
    }

    /// The kept checkpoint of `size`, verified with the ledger's verifier key.
    fn checkpoint(&self, size: u64) -> Checkpoint {
        let kept = self.ledger.checkpoint_at(size).unwrap().unwrap();
        let vkey = self.ledger.verifier_key().unwrap();
        let verifier = note::NoteVerifier::parse(&vkey).unwrap();
        let (n, _) = note::open(&kept.note, &[verifier]).unwrap();
        let cp = Checkpoint::from_note(&n).unwrap();
        assert_eq!(cp.size, size);
        cp
    }

    fn client(&self) -> Client<'_> {
        Client {
            ledger: &self.ledger,
            fetched: Default::default(),
        }
    }
}

/// What a client checks for the checkpoint of `size`: the root from tiles, and that the
/// level-0 tiles hash the entry bundles' entries.
fn check_size(f: &Fixture, size: u64) {
    let cp = f.checkpoint(size);
    let c = f.client();
    assert_eq!(c.root(size), cp.root, "root of size {size} from tiles");
    assert_eq!(f.ledger.root_at(size).unwrap(), cp.root);
    for index in 0..size.div_ceil(256) {
        let leaves = c.tile(size, 0, index);
        let entries = c.bundle(size, index);
        for (j, (leaf, e)) in leaves.iter().zip(&entries).enumerate() {
            let seq = index * 256 + j as u64;
            assert_eq!(*leaf, sha256(&[&[0], e]), "leaf {seq} of size {size}");
            assert_eq!(Some(e), f.ledger.entry_bytes(seq).unwrap().as_ref());
        }
    }
}

/// Nothing past the current tree is served: not the next tile, not a wider partial, not
/// a full tile that is still partial, not a level the tree has not reached.
fn check_edges(l: &Ledger) {
    let size = l.head().size;
    let c = Client {
        ledger: l,
        fetched: Default::default(),
    };
    for level in 0..8u8 {
        let nodes = size >> (8 * u32::from(level));
        let (full, w) = (nodes / 256, (nodes % 256) as u16);
        let next = if w > 0 { full + 1 } else { full };
        assert_eq!(c.get(&path(Some(level), next, 1)), None, "{size} {level}");
        if w > 0 {
            assert!(c.get(&path(Some(level), full, w)).is_some());
            assert_eq!(c.get(&path(Some(level), full, w + 1)), None);
            assert_eq!(c.get(&path(Some(level), full, 256)), None);
        }
        if full > 0 {
            assert!(c.get(&path(Some(level), full - 1, 256)).is_some());
        }
        if level == 0 {
            assert_eq!(c.get(&path(None, next, 1)), None);
            if w > 0 {
                assert!(c.get(&path(None, full, w)).is_some());
                assert_eq!(c.get(&path(None, full, w + 1)), None);
                assert_eq!(c.get(&path(None, full, 256)), None);
            }
        }
    }
    for level in [8u8, 40, 63] {
        assert_eq!(c.get(&path(Some(level), 0, 1)), None);
    }
}

#[test]
fn a_tiles_client_recomputes_every_checkpoint_root() {
    let mut f = fixture();
    check_size(&f, 2);
    check_edges(&f.ledger);
    let sizes = [3, 255, 256, 257, 511, 512, 513, 767, 1000, 4096, 4097];
    for &size in &sizes {
        f.grow(size);
        check_size(&f, size);
        check_edges(&f.ledger);
    }
    // The tree has grown past them: the partial tiles of every earlier checkpoint are
    // still served, and give the same roots.
    for &size in &sizes {
        check_size(&f, size);
    }
    // A client fetches about one tile per tile level a size reaches, not one per leaf.
    let c = f.client();
    c.root(4097);
    assert!(c.fetched.get() <= 4, "{} fetches", c.fetched.get());
    // The level-1 tile hashes are the MTH of the full level-0 tiles.
    let l1 = c.tile(4097, 1, 0);
    assert_eq!(l1.len(), 16);
    for (i, h) in l1.iter().enumerate() {
        assert_eq!(*h, mth(&c.tile(4097, 0, i as u64)));
    }
}

/// Across the second tile level: 65,536 = 256², and one more.
#[test]
fn a_tiles_client_crosses_tile_level_two() {
    let mut f = fixture();
    for size in [65_535, 65_536, 65_537] {
        f.grow(size);
        let cp = f.checkpoint(size);
        assert_eq!(f.client().root(size), cp.root, "size {size}");
        check_edges(&f.ledger);
    }
    let c = f.client();
    for size in [65_535, 65_536, 256 * 200 + 7] {
        let root = c.root(size);
        if let Some(kept) = f.ledger.checkpoint_at(size).unwrap() {
            assert_eq!(root, f.checkpoint(kept.size).root);
        }
        assert_eq!(root, f.ledger.root_at(size).unwrap());
    }
    // Level 2 has one node: the root of the first 65,536 leaves.
    assert_eq!(c.tile(65_537, 2, 0), vec![f.checkpoint(65_536).root]);
}
