//! A backup folder carried as one tar stream: a daemon packs the folder
//! [`Ledger::backup`](crate::ledger::Ledger::backup) wrote and sends it, the client
//! unpacks it (`blotter --server URL backup --out DIR`, `docs/BACKUP.md`).
//!
//! The stream is a plain tar (GNU headers): folders and regular files only, paths
//! relative to the backup folder, each file's and folder's permission bits kept (the
//! key files' 0600), then the two end-of-archive blocks.
//!
//! Invariants:
//! - [`pack`] refuses anything in the folder that is not a regular file or a folder,
//!   and a file that ends before its size while it is read (a file never carries more
//!   than the size its header states).
//! - [`unpack`] never writes outside its destination: an absolute path, a `..`, a link,
//!   a device or any other kind of entry is refused, and every file is created new (a
//!   name given twice is refused), so nothing is ever followed or overwritten.
//! - [`unpack`] is all or nothing: it writes into a hidden sibling folder
//!   `.NAME.unpack-XXXXXXXXXXXXXXXX`, requires the end-of-archive blocks (a stream cut
//!   short is refused) and a ledger backup's shape (`store/`, `epochs.key`), `fsync`s
//!   every file and folder, then renames the folder to the destination and `fsync`s its
//!   parent. Any failure removes the hidden folder. An existing destination is refused.
//! - Unpacked, the key files `epochs.key` and `ledger.key` are 0600 whatever the stream
//!   says; every other file gets at least its owner's read and write bits, every
//!   folder its owner's read, write and search bits.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use super::{io, sync_tree, temp_sibling};
use crate::ledger::LedgerError;

/// The secret files of a backup, 0600 once unpacked.
const KEY_FILES: [&str; 2] = ["epochs.key", "ledger.key"];

/// What a tar stream carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TarSummary {
    pub files: u64,
    pub folders: u64,
    /// The files' total size.
    pub bytes: u64,
}

fn wrong(what: String) -> LedgerError {
    LedgerError::Invalid(what)
}

/// Writes the backup folder `dir` to `out` as a tar stream (module doc).
pub fn pack(dir: &Path, out: impl Write) -> Result<TarSummary, LedgerError> {
    let mut builder = ::tar::Builder::new(out);
    let mut summary = TarSummary::default();
    pack_folder(dir, Path::new(""), &mut builder, &mut summary)?;
    let mut out = builder
        .into_inner()
        .map_err(|e| wrong(format!("writing the tar stream of {}: {e}", dir.display())))?;
    out.flush()
        .map_err(|e| wrong(format!("writing the tar stream of {}: {e}", dir.display())))?;
    Ok(summary)
}

/// Appends the contents of `root/rel`, in name order, each folder before its contents.
fn pack_folder<W: Write>(
    root: &Path,
    rel: &Path,
    builder: &mut ::tar::Builder<W>,
    summary: &mut TarSummary,
) -> Result<(), LedgerError> {
    let dir = root.join(rel);
    let mut items = Vec::new();
    for item in std::fs::read_dir(&dir).map_err(io(&dir))? {
        items.push(item.map_err(io(&dir))?.file_name());
    }
    items.sort();
    for name in items {
        let path = dir.join(&name);
        let rel = rel.join(&name);
        let meta = path.symlink_metadata().map_err(io(&path))?;
        let mut header = ::tar::Header::new_gnu();
        header.set_mode(meta.permissions().mode() & 0o777);
        header.set_mtime(
            meta.modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs()),
        );
        let appended = if meta.is_dir() {
            header.set_entry_type(::tar::EntryType::Directory);
            header.set_size(0);
            summary.folders += 1;
            builder.append_data(&mut header, &rel, std::io::empty())
        } else if meta.is_file() {
            let file = File::open(&path).map_err(io(&path))?;
            let size = file.metadata().map_err(io(&path))?.len();
            header.set_entry_type(::tar::EntryType::Regular);
            header.set_size(size);
            let mut counted = Counted {
                inner: file.take(size),
                n: 0,
            };
            let r = builder.append_data(&mut header, &rel, &mut counted);
            if r.is_ok() && counted.n != size {
                return Err(wrong(format!(
                    "{}: got shorter while it was packed",
                    path.display()
                )));
            }
            summary.files += 1;
            summary.bytes += size;
            r
        } else {
            return Err(wrong(format!(
                "{}: not a regular file or a folder; a backup holds nothing else",
                path.display()
            )));
        };
        appended.map_err(|e| wrong(format!("packing {}: {e}", path.display())))?;
        if meta.is_dir() {
            pack_folder(root, &rel, builder, summary)?;
        }
    }
    Ok(())
}

/// A reader that counts what it read.
struct Counted<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n += k as u64;
        Ok(k)
    }
}

/// Unpacks a backup's tar stream into the new folder `dest` (module doc).
pub fn unpack(input: impl Read, dest: &Path) -> Result<TarSummary, LedgerError> {
    let (parent, tmp) = temp_sibling(dest, "unpack")?;
    std::fs::create_dir(&tmp).map_err(io(&tmp))?;
    let done = unpack_into(input, &tmp).and_then(|summary| {
        if dest.symlink_metadata().is_ok() {
            return Err(super::exists(dest));
        }
        std::fs::rename(&tmp, dest).map_err(io(dest))?;
        File::open(&parent)
            .and_then(|d| d.sync_all())
            .map_err(io(&parent))?;
        Ok(summary)
    });
    if done.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    done
}

/// Unpacks every entry into `root`, checks the shape of a backup, sets the key files'
/// modes and `fsync`s everything.
fn unpack_into(input: impl Read, root: &Path) -> Result<TarSummary, LedgerError> {
    let mut archive = ::tar::Archive::new(input);
    let mut summary = TarSummary::default();
    let bad = |what: String| wrong(format!("the backup's tar stream: {what}"));
    for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let rel = relative(&entry.path().map_err(|e| bad(format!("{raw:?}: {e}")))?).ok_or_else(
            || {
                bad(format!(
                    "{raw:?}: not a plain relative path (absolute, or with `..`)"
                ))
            },
        )?;
        let mode = entry
            .header()
            .mode()
            .map_err(|e| bad(format!("{raw}: {e}")))?
            & 0o777;
        let path = root.join(&rel);
        match entry.header().entry_type() {
            ::tar::EntryType::Directory => {
                std::fs::create_dir_all(&path).map_err(io(&path))?;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode | 0o700))
                    .map_err(io(&path))?;
                summary.folders += 1;
            }
            ::tar::EntryType::Regular => {
                if let Some(folder) = path.parent() {
                    std::fs::create_dir_all(folder).map_err(io(folder))?;
                }
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(mode | 0o600)
                    .open(&path)
                    .map_err(|e| match e.kind() {
                        std::io::ErrorKind::AlreadyExists => bad(format!("{raw}: appears twice")),
                        _ => LedgerError::Io(path.clone(), e),
                    })?;
                let size = entry.size();
                let n =
                    std::io::copy(&mut entry, &mut file).map_err(|e| bad(format!("{raw}: {e}")))?;
                if n != size {
                    return Err(bad(format!("{raw}: cut short ({n} of {size} bytes)")));
                }
                summary.files += 1;
                summary.bytes += n;
            }
            t => {
                return Err(bad(format!(
                    "{raw}: a {t:?} entry; a backup holds only regular files and folders"
                )))
            }
        }
    }
    end_blocks(archive.into_inner())?;
    if !root.join("store").is_dir() || !root.join("epochs.key").is_file() {
        return Err(bad(
            "no ledger backup in it (store/ or epochs.key is missing)".into(),
        ));
    }
    for name in KEY_FILES {
        let p = root.join(name);
        if p.is_file() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).map_err(io(&p))?;
        }
    }
    sync_tree(root)?;
    Ok(summary)
}

/// The path made only of plain names (a leading `./` allowed), or `None`.
fn relative(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// After the first end-of-archive block the tar reader stopped at, at least one more
/// block of zeros must follow, and nothing but zeros.
fn end_blocks(mut rest: impl Read) -> Result<(), LedgerError> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut zeros = 0u64;
    loop {
        let n = rest
            .read(&mut buf)
            .map_err(|e| wrong(format!("the backup's tar stream, at its end: {e}")))?;
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|b| *b != 0) {
            return Err(wrong(
                "the backup's tar stream: data after its end-of-archive blocks".into(),
            ));
        }
        zeros += n as u64;
    }
    if zeros < 512 {
        return Err(wrong(
            "the backup's tar stream has no end-of-archive blocks: it was cut short".into(),
        ));
    }
    Ok(())
}
