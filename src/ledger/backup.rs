//! `blotter backup`: a consistent copy of a ledger folder (`docs/BACKUP.md`).
//!
//! A backup is a folder that opens as an ordinary ledger: `store/` (a copy of every
//! store row, [`crate::store::Store::copy_to`]), `blobs/` (the sealed attachments, made
//! even when empty, since attaching writes into it), `documents/` (when the ledger has
//! one), `epochs.key`, `ledger.pub`, and `ledger.key` when it is in the ledger folder.
//! `Ledger::open` needs `store/` and `epochs.key`; `verify` also needs `blobs/` and
//! `documents/`. Nothing else in the ledger folder is copied (a demo's `keys/`, say).
//!
//! Invariants:
//! - Consistent: the copy is the ledger at one head. `backup` takes `&self`, while
//!   appending, destruction and checkpoint signing take `&mut self`, so none of them
//!   runs during the copy (a daemon calls `backup` under its read guard). `epochs.key`
//!   is written from the keys this `Ledger` holds, the ones the copied store's data keys
//!   are wrapped under. An attachment or document staged meanwhile (by `&self`) is
//!   copied as an orphan or not at all; no entry can name it before the copy ends.
//! - All or nothing: everything is written into a hidden sibling folder
//!   `.NAME.backup-XXXXXXXXXXXXXXXX`, every file and folder in it is `fsync`ed, and only
//!   then is it renamed to `dest` and the parent folder `fsync`ed. Any failure removes
//!   the hidden folder; a crash leaves at worst that folder, which may be deleted.
//! - Never overwrites: an existing `dest` is refused, and so is a `dest` inside the
//!   ledger folder.
//! - The secret files (`epochs.key`, `ledger.key`) are created new with mode 0600.

pub mod tar;

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Ledger, LedgerError};
use crate::crypto::keyfile;

/// What a backup wrote.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct BackupSummary {
    /// The backup folder.
    pub dest: PathBuf,
    pub origin: String,
    /// The head's size: the number of entries in the backup.
    pub entries: u64,
    /// The head's hash, hex.
    pub head: String,
    /// Store rows copied.
    pub rows: u64,
    /// Sealed attachment files copied.
    pub blobs: u64,
    /// Documents copied.
    pub documents: u64,
    /// Whether the ledger key was copied (it is only when it is in the ledger folder).
    pub ledger_key: bool,
    /// The total size of the backup's files.
    pub bytes: u64,
}

fn io(p: &Path) -> impl FnOnce(std::io::Error) -> LedgerError {
    let p = p.to_path_buf();
    move |e| LedgerError::Io(p, e)
}

impl Ledger {
    /// Writes a consistent copy of this ledger into the new folder `dest` (module doc).
    /// `progress` receives the bytes copied so far (store keys and values, then files).
    pub fn backup(
        &self,
        dest: &Path,
        progress: &dyn Fn(u64),
    ) -> Result<BackupSummary, LedgerError> {
        let (parent, tmp) = temp_sibling(dest, "backup")?;
        let inside = |p: &Path| {
            let ledger = self.dir.canonicalize().map_err(io(&self.dir))?;
            Ok::<_, LedgerError>(p.canonicalize().map_err(io(p))?.starts_with(ledger))
        };
        if inside(&parent)? {
            return Err(LedgerError::Invalid(format!(
                "{} is inside the ledger folder {}; a backup goes elsewhere",
                dest.display(),
                self.dir.display()
            )));
        }
        std::fs::create_dir(&tmp).map_err(io(&tmp))?;
        let written = self
            .write_backup(&tmp, dest, progress)
            .and_then(|summary| finish(&tmp, dest, &parent).map(|()| summary));
        if written.is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        written
    }

    /// Writes the backup's files into `tmp` (to become `dest`) and `fsync`s them all.
    fn write_backup(
        &self,
        tmp: &Path,
        dest: &Path,
        progress: &dyn Fn(u64),
    ) -> Result<BackupSummary, LedgerError> {
        let store_bytes = std::cell::Cell::new(0);
        let rows = self.store.copy_to(&tmp.join("store"), &|n| {
            store_bytes.set(n);
            progress(n)
        })?;
        let mut copied = Copied {
            bytes: store_bytes.get(),
            progress,
        };
        let blobs = copied.folder(&self.dir.join("blobs"), &tmp.join("blobs"), true)?;
        let documents = copied.folder(
            &self.dir.join(super::documents::FOLDER),
            &tmp.join(super::documents::FOLDER),
            false,
        )?;
        self.epochs.save(&tmp.join("epochs.key"))?;
        let public = self.dir.join("ledger.pub");
        if public.is_file() {
            copied.file(&public, &tmp.join("ledger.pub"))?;
        }
        let secret = self.checkpoint_key_path();
        let ledger_key = secret.is_file();
        if ledger_key {
            let bytes = keyfile::read_secret_file(&secret)?;
            keyfile::write_secret_file(&tmp.join("ledger.key"), &bytes)?;
        }
        let (_, bytes) = sync_tree(tmp)?;
        Ok(BackupSummary {
            dest: dest.to_path_buf(),
            origin: self.origin.clone(),
            entries: self.head.size,
            head: hex::encode(self.head.hash),
            rows,
            blobs,
            documents,
            ledger_key,
            bytes,
        })
    }
}

/// Files copied so far, for `progress`.
struct Copied<'a> {
    bytes: u64,
    progress: &'a dyn Fn(u64),
}

impl Copied<'_> {
    fn file(&mut self, from: &Path, to: &Path) -> Result<(), LedgerError> {
        self.bytes += std::fs::copy(from, to).map_err(io(from))?;
        (self.progress)(self.bytes);
        Ok(())
    }

    /// Copies the files of `from` into the new folder `to`, but for `tmp-*` (being
    /// written); returns how many. A missing `from` gives an empty `to` if `always`,
    /// else none. Anything in `from` that is not a file is refused.
    fn folder(&mut self, from: &Path, to: &Path, always: bool) -> Result<u64, LedgerError> {
        if !from.is_dir() {
            if always {
                std::fs::create_dir(to).map_err(io(to))?;
            }
            return Ok(0);
        }
        std::fs::create_dir(to).map_err(io(to))?;
        let mut n = 0;
        for item in std::fs::read_dir(from).map_err(io(from))? {
            let item = item.map_err(io(from))?;
            let name = item.file_name();
            if name.to_string_lossy().starts_with("tmp-") {
                continue;
            }
            let path = item.path();
            if !std::fs::metadata(&path).map_err(io(&path))?.is_file() {
                return Err(LedgerError::Invalid(format!(
                    "{}: not a file; {} holds only files",
                    path.display(),
                    from.display()
                )));
            }
            self.file(&path, &to.join(name))?;
            n += 1;
        }
        Ok(n)
    }
}

/// Renames the complete `tmp` to `dest` and makes the rename durable.
fn finish(tmp: &Path, dest: &Path, parent: &Path) -> Result<(), LedgerError> {
    if dest.symlink_metadata().is_ok() {
        return Err(exists(dest));
    }
    std::fs::rename(tmp, dest).map_err(io(dest))?;
    std::fs::File::open(parent)
        .and_then(|d| d.sync_all())
        .map_err(io(parent))
}

fn exists(dest: &Path) -> LedgerError {
    LedgerError::Invalid(format!(
        "{} already exists; a backup is written into a new folder",
        dest.display()
    ))
}

/// Checks that `dest` does not exist and that its parent folder does; returns the
/// parent and a fresh hidden sibling name `.NAME.WHAT-XXXXXXXXXXXXXXXX` (not created).
pub(crate) fn temp_sibling(dest: &Path, what: &str) -> Result<(PathBuf, PathBuf), LedgerError> {
    if dest.symlink_metadata().is_ok() {
        return Err(exists(dest));
    }
    let name = match dest.components().next_back() {
        Some(std::path::Component::Normal(n)) => n.to_string_lossy().into_owned(),
        _ => {
            return Err(LedgerError::Invalid(format!(
                "{}: not a folder name",
                dest.display()
            )))
        }
    };
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(LedgerError::Invalid(format!(
            "{}: the folder {} does not exist",
            dest.display(),
            parent.display()
        )));
    }
    let tmp = parent.join(format!(".{name}.{what}-{:016x}", rand::random::<u64>()));
    Ok((parent, tmp))
}

/// `fsync`s every file and folder under `dir` (each folder after its contents, `dir`
/// last); returns the number of files and their total size.
pub(crate) fn sync_tree(dir: &Path) -> Result<(u64, u64), LedgerError> {
    let (mut files, mut bytes) = (0, 0);
    for item in std::fs::read_dir(dir).map_err(io(dir))? {
        let item = item.map_err(io(dir))?;
        let path = item.path();
        let t = item.file_type().map_err(io(&path))?;
        if t.is_dir() {
            let (f, b) = sync_tree(&path)?;
            files += f;
            bytes += b;
        } else if t.is_file() {
            let f = std::fs::File::open(&path).map_err(io(&path))?;
            f.sync_all().map_err(io(&path))?;
            files += 1;
            bytes += f.metadata().map_err(io(&path))?.len();
        }
    }
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))?;
    Ok((files, bytes))
}

#[cfg(test)]
mod tests;
