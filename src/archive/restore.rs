//! Restoring an archive: checked and unpacked in one pass into a new folder that is
//! then made read-only. The folder is the bag itself (`bagit.txt`, `data/…`), so the
//! records can be browsed and `bagit.py --validate` still accepts it.
//!
//! Invariants:
//! - The destination never holds an unchecked archive: files are written into a
//!   hidden sibling folder, which is renamed into place only after the whole check
//!   passed, and removed on any error.
//! - An existing destination is never written into or replaced.

use std::path::{Path, PathBuf};

use super::check::{check_archive, Checked};
use super::ArchiveError;

/// Checks `archive` and unpacks it into `into` (module doc).
pub fn restore(
    archive: &Path,
    identities: &[Box<dyn age::Identity + Send + Sync>],
    vkey: &str,
    into: &Path,
    progress: &dyn Fn(u64),
) -> Result<Checked, ArchiveError> {
    if into.exists() {
        return Err(ArchiveError::Unusable(format!(
            "{} already exists; restore writes a new folder",
            into.display()
        )));
    }
    let name = into
        .file_name()
        .ok_or_else(|| ArchiveError::Unusable(format!("{}: not a folder name", into.display())))?;
    let parent = match into.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = parent.join(format!(
        ".{}.partial-{}",
        name.to_string_lossy(),
        hex::encode(crate::crypto::random::<6>())
    ));
    std::fs::create_dir(&tmp).map_err(|e| ArchiveError::Io(tmp.clone(), e))?;
    let checked = match check_archive(archive, identities, vkey, Some(&tmp), progress) {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    if let Err(e) = std::fs::rename(&tmp, into) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(ArchiveError::Io(into.to_path_buf(), e));
    }
    read_only(into)?;
    Ok(checked)
}

/// Files 0444, folders 0555, deepest first.
fn read_only(dir: &Path) -> Result<(), ArchiveError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e| ArchiveError::Io(p, e)
    };
    for item in std::fs::read_dir(dir).map_err(io(dir))? {
        let item = item.map_err(io(dir))?;
        let p = item.path();
        let t = item.file_type().map_err(io(&p))?;
        if t.is_dir() {
            read_only(&p)?;
        } else if t.is_file() {
            set_mode(&p, 0o444)?;
        }
    }
    set_mode(dir, 0o555)
}

fn set_mode(p: &Path, mode: u32) -> Result<(), ArchiveError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
            .map_err(|e| ArchiveError::Io(p.to_path_buf(), e))?;
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        let mut perm = std::fs::metadata(p)
            .map_err(|e| ArchiveError::Io(p.to_path_buf(), e))?
            .permissions();
        perm.set_readonly(true);
        std::fs::set_permissions(p, perm).map_err(|e| ArchiveError::Io(p.to_path_buf(), e))?;
    }
    Ok(())
}
