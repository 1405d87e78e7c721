//! The ledger façade: open, append (the single writer), read, verify.
//!
//! Layout of a ledger folder:
//! `store/` (one redb file, `rows.redb`), `blobs/` (sealed attachments), `epochs.key` (epoch and index keys,
//! 0600), `ledger.key` (the checkpoint-signing key, 0600), `ledger.pub`, `documents/`.
//! `backup.rs` copies them all into a new folder that opens as a ledger.
//!
//! Invariants:
//! - Nothing here removes or rewrites an entry.
//! - A change is appended only if its signature is strictly valid, its key is registered,
//!   active and allowed the action, its origin is this ledger's, and its `record_prev`
//!   is the record's latest change hash. Otherwise nothing of its batch is written.
//! - `append` returns only after the batch is durable (see `store`).

pub mod append;
pub mod apply;
mod authorities;
pub mod authority;
pub mod backup;
mod batch;
pub mod checkpoint;
mod destroy;
pub mod docs;
mod documents;
mod history;
pub mod holds;
mod layout;
pub mod proofs;
pub mod purge;
pub mod read;
pub mod report;
pub mod schedules;
pub mod state;
#[cfg(test)]
mod testing;
pub mod tiles;
pub mod transfer;
pub mod tree;
pub mod verify;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ed25519_dalek::SigningKey;

use crate::crypto::keyfile::{self, KeyFileError};
use crate::crypto::seal::{EpochKeys, SealError};
use crate::format::{FormatError, Role};
use crate::store::{Space, Store, StoreError};

pub use append::{Draft, Opening, Outcome, Prepared, StagedBlob, Submission};
pub use authority::KeyState;
pub use backup::BackupSummary;
pub use destroy::Destroyed;
pub use state::{RecordState, Settings};

/// Errors of the ledger layer, each naming the thing it is about.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("change {index}: malformed: {source}")]
    Malformed { index: usize, source: FormatError },
    #[error("change {index}: {detail}")]
    Refused { index: usize, detail: String },
    #[error("{0} is not a blotter ledger (no store/ folder); create one with `blotter init`")]
    NotALedger(PathBuf),
    #[error("{0} already exists and is not empty; refusing to create a ledger there")]
    NotEmpty(PathBuf),
    #[error("record {0} not found")]
    NoRecord(String),
    #[error("document {0} is not kept in this ledger")]
    NoDocument(String),
    #[error("record {0}: its data was destroyed (its data key no longer exists); its content, case number, source reference, side documents and attachments cannot be read, only its entries remain")]
    Destroyed(String),
    #[error("{0}")]
    Invalid(String),
    /// The daemon's writer stopped after a failure of the store; restart it.
    #[error("writing stopped after a failure of the ledger's store; restart the daemon (it reopens the ledger from disk)")]
    Stopped,
}

impl LedgerError {
    pub(crate) fn refused(index: usize, detail: impl Into<String>) -> Self {
        LedgerError::Refused {
            index,
            detail: detail.into(),
        }
    }
}

/// The head of the log: its size and the hash of its last entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    pub size: u64,
    pub hash: [u8; 32],
    pub time_ms: i64,
}

impl Head {
    fn encode(&self) -> Vec<u8> {
        let mut v = self.size.to_be_bytes().to_vec();
        v.extend_from_slice(&self.hash);
        v.extend_from_slice(&self.time_ms.to_be_bytes());
        v
    }
    fn decode(b: &[u8]) -> Option<Head> {
        if b.len() != 48 {
            return None;
        }
        Some(Head {
            size: u64::from_be_bytes(b[0..8].try_into().ok()?),
            hash: b[8..40].try_into().ok()?,
            time_ms: i64::from_be_bytes(b[40..48].try_into().ok()?),
        })
    }
}

/// An open ledger. Holds the store's lock: one `Ledger` per folder at a time.
pub struct Ledger {
    pub(crate) dir: PathBuf,
    pub(crate) store: Store,
    pub(crate) epochs: EpochKeys,
    pub(crate) origin: String,
    pub(crate) settings: Settings,
    pub(crate) keys: HashMap<[u8; 32], KeyState>,
    pub(crate) head: Head,
    /// The right edge of the Merkle tree; always `head.size` leaves.
    pub(crate) tree: crate::merkle::CompactRange,
    /// With the ledger key armed, every append keeps a checkpoint of its new head in its
    /// own batch ([`Ledger::keep_checkpoints_with`]).
    pub(crate) checkpoint_key: Option<ed25519_dalek::SigningKey>,
    /// Why the last append kept no checkpoint although armed, if it did not.
    pub(crate) checkpoint_warning: Option<String>,
}

/// What `init` needs besides the folder.
pub struct InitOptions {
    pub origin: String,
    pub admin_person: String,
    pub settings: Settings,
    /// Where the ledger (checkpoint) key goes; default `DIR/ledger.key`.
    pub ledger_key_path: Option<PathBuf>,
}

impl Ledger {
    /// Opens an existing ledger folder, waiting a few seconds for another process's lock.
    /// A store of an older layout is migrated first (`ledger/layout.rs`).
    pub fn open(dir: &Path) -> Result<Ledger, LedgerError> {
        Self::open_announcing(dir, |_| {})
    }

    /// [`Ledger::open`], calling `migrating` with the layout the store comes from before
    /// migrating it (which can take minutes on a large ledger), so that a caller can
    /// say so.
    pub fn open_announcing(dir: &Path, migrating: impl FnOnce(u64)) -> Result<Ledger, LedgerError> {
        if !dir.join("store").is_dir() {
            return Err(LedgerError::NotALedger(dir.to_path_buf()));
        }
        // Said once, whether the store is converted from sled, migrated, or both.
        let mut migrating = Some(migrating);
        let mut say = |from| {
            if let Some(f) = migrating.take() {
                f(from)
            }
        };
        let store = Store::open_converting(&dir.join("store"), Duration::from_secs(5), &mut say)?;
        if layout::pending(&store)? {
            layout::migrate(&store, say)?;
        }
        let epochs = EpochKeys::load(&dir.join("epochs.key"))?;
        let meta = |k: &[u8]| store.get(Space::Meta, k);
        let origin = meta(b"origin")?
            .and_then(|v| String::from_utf8(v).ok())
            .ok_or_else(|| LedgerError::NotALedger(dir.to_path_buf()))?;
        let settings = meta(b"settings")?
            .and_then(|v| serde_json::from_slice(&v).ok())
            .ok_or_else(|| {
                LedgerError::Invalid(format!(
                    "{}: agency settings missing from the store",
                    dir.display()
                ))
            })?;
        let head = meta(b"head")?
            .and_then(|v| Head::decode(&v))
            .ok_or_else(|| {
                LedgerError::Invalid(format!("{}: head missing from the store", dir.display()))
            })?;
        let mut keys = HashMap::new();
        for kv in store.scan(Space::Key, b"") {
            let (_, v) = kv?;
            let k: KeyState = serde_json::from_slice(&v)
                .map_err(|e| LedgerError::Invalid(format!("key registry entry unreadable: {e}")))?;
            keys.insert(k.key, k);
        }
        let tree = tree::load(&store, head.size)?;
        Ok(Ledger {
            dir: dir.to_path_buf(),
            store,
            epochs,
            origin,
            settings,
            keys,
            head,
            tree,
            checkpoint_key: None,
            checkpoint_warning: None,
        })
    }

    /// Creates a ledger in `dir` (which must not exist or be empty), with a genesis entry
    /// signed by `admin`. Returns the open ledger.
    ///
    /// INVARIANT: crash-atomic. The ledger is built in a hidden sibling folder
    /// (`.NAME.init-XXXX`), made durable, then renamed onto `dir` in one step; a crash
    /// leaves either no ledger at `dir` or a complete one (and at worst a stale hidden
    /// folder, which may be deleted).
    pub fn init(dir: &Path, admin: &SigningKey, opts: InitOptions) -> Result<Ledger, LedgerError> {
        crate::format::action::check_note_name(&opts.origin)
            .map_err(|e| LedgerError::Invalid(e.to_string()))?;
        crate::format::action::check_person(&opts.admin_person)
            .map_err(|e| LedgerError::Invalid(e.to_string()))?;
        opts.settings.check().map_err(LedgerError::Invalid)?;
        if dir.exists()
            && std::fs::read_dir(dir)
                .map(|mut d| d.next().is_some())
                .unwrap_or(true)
        {
            return Err(LedgerError::NotEmpty(dir.to_path_buf()));
        }
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |e| LedgerError::Io(p, e)
        };
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(io(&parent))?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "ledger".into());
        let tmp = parent.join(format!(".{name}.init-{:016x}", rand::random::<u64>()));
        let built = Self::build(&tmp, dir, admin, &opts);
        let result = built.and_then(|()| {
            std::fs::rename(&tmp, dir).map_err(io(dir))?;
            std::fs::File::open(&parent)
                .and_then(|d| d.sync_all())
                .map_err(io(&parent))
        });
        if let Err(e) = result {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        Self::open(dir)
    }

    /// Writes a complete, durable ledger into `tmp`, destined for `dir`.
    fn build(
        tmp: &Path,
        dir: &Path,
        admin: &SigningKey,
        opts: &InitOptions,
    ) -> Result<(), LedgerError> {
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |e| LedgerError::Io(p, e)
        };
        std::fs::create_dir_all(tmp.join("blobs")).map_err(io(tmp))?;
        // A ledger key asked for inside `dir` is written inside the folder being built.
        let ledger_key_path = match &opts.ledger_key_path {
            None => tmp.join("ledger.key"),
            Some(p) => match p.strip_prefix(dir) {
                Ok(rest) => tmp.join(rest),
                Err(_) => p.clone(),
            },
        };
        let ledger_key = keyfile::create(&ledger_key_path, None)?;
        let ledger_pub = ledger_key.verifying_key().to_bytes();
        let pub_path = tmp.join("ledger.pub");
        std::fs::write(&pub_path, format!("{}\n", hex::encode(ledger_pub))).map_err(io(tmp))?;
        std::fs::File::open(&pub_path)
            .and_then(|f| f.sync_all())
            .map_err(io(&pub_path))?;
        let epochs = EpochKeys::generate();
        epochs.save(&tmp.join("epochs.key"))?;
        let store = Store::open(&tmp.join("store"), Duration::ZERO)?;
        let settings_json = serde_json::to_vec_pretty(&opts.settings)
            .map_err(|e| LedgerError::Invalid(e.to_string()))?;
        let mut b = crate::store::Batch::default();
        b.put(Space::Meta, b"origin", opts.origin.as_bytes());
        b.put(Space::Meta, b"settings", &settings_json);
        let head = Head {
            size: 0,
            hash: [0; 32],
            time_ms: 0,
        };
        b.put(Space::Meta, b"head", &head.encode());
        store.commit(b)?;
        let mut ledger = Ledger {
            dir: tmp.to_path_buf(),
            store,
            epochs,
            origin: opts.origin.clone(),
            settings: opts.settings.clone(),
            keys: HashMap::new(),
            head,
            tree: crate::merkle::CompactRange::new(),
            checkpoint_key: Some(ledger_key),
            checkpoint_warning: None,
        };
        let sub = append::genesis(
            &ledger,
            admin,
            &opts.admin_person,
            ledger_pub,
            settings_json,
        )?;
        ledger.append(vec![sub])?;
        drop(ledger);
        for d in [tmp.to_path_buf(), tmp.join("blobs")] {
            std::fs::File::open(&d)
                .and_then(|f| f.sync_all())
                .map_err(io(&d))?;
        }
        Ok(())
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }
    pub fn head(&self) -> Head {
        self.head
    }
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn keys(&self) -> impl Iterator<Item = &KeyState> {
        self.keys.values()
    }
    /// The active registration of `key`, if any.
    pub fn key_state(&self, key: &[u8; 32]) -> Option<&KeyState> {
        self.keys.get(key)
    }
    /// The role of an active key.
    pub fn role_of(&self, key: &[u8; 32]) -> Option<Role> {
        self.keys
            .get(key)
            .filter(|k| k.active())
            .map(KeyState::role)
    }
}
