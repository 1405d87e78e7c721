//! Checking an archive in one streaming pass: `age -d | zstd -d | tar`, each file
//! checked as it streams by (module [`super::verify`] holds the rules per file).
//!
//! Invariants:
//! - Exit-code semantics: [`ArchiveError::Unusable`] only when the check cannot start
//!   (no such file, no identity opens it); anything wrong with the bytes is
//!   [`ArchiveError::Wrong`] naming the first bad file or entry.
//! - Only regular files under `blotter-archive/` with names of the layout are accepted;
//!   nothing is written outside the restore folder (no `..`, no absolute paths, no
//!   links).
//! - A damaged stream is never reported as valid: age authenticates every chunk and
//!   its end, zstd checks its frame checksum, and the tar stream must end with its
//!   end-of-archive blocks followed by nothing but zeros.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use super::bag::BAG;
use super::pipe::{self, Stage};
use super::verify::{FileKind, Verifier};
use super::ArchiveError;

/// What a successful check found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Checked {
    pub origin: String,
    pub checkpoint_size: u64,
    pub records: u64,
    pub entries: u64,
    pub files: u64,
    pub payload_bytes: u64,
    /// BLAKE3 of the archive file's bytes, as read and checked.
    pub blake3: String,
    /// The record ids found, in the bag's order.
    pub record_ids: Vec<String>,
    /// Entries signed by a key later declared compromised from that point on.
    pub flagged: Vec<u64>,
    pub bag_info: BTreeMap<String, String>,
}

/// How much of a member is kept in memory for its check: `None` for what only its
/// SHA-256 (and commitment) needs. Anything larger than its kind allows is refused.
fn keep_limit(kind: &FileKind) -> Option<u64> {
    use super::bag::Part;
    match kind {
        FileKind::RecordJson(_) => None,
        FileKind::Entry(_, _, Part::Entry) => Some(65_535),
        FileKind::Entry(..) | FileKind::Case(_) | FileKind::CaseSalt(_) => Some(1 << 20),
        FileKind::BagitTxt | FileKind::BagInfo | FileKind::Checkpoint => Some(1 << 20),
        // About 120 bytes per file: room for millions of files.
        FileKind::Manifest | FileKind::TagManifest => Some(1 << 30),
    }
}

/// Reads one member: hashes it (SHA-256), feeds the commitment being checked, keeps
/// what its check needs, and writes it out for restore. Returns the SHA-256 and the
/// kept bytes.
fn read_member(
    f: &mut impl Read,
    raw: &str,
    limit: Option<u64>,
    mut stream: Option<&mut super::verify::Streamed>,
    mut out: Option<(File, PathBuf)>,
    progress: &mut dyn FnMut(u64),
) -> Result<([u8; 32], Vec<u8>), ArchiveError> {
    let mut hasher = Sha256::new();
    let mut kept = Vec::new();
    let mut buf = vec![0u8; pipe::CHUNK];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| ArchiveError::wrong(format!("{raw}: {e}")))?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        hasher.update(chunk);
        match (stream.as_mut(), limit) {
            (Some(s), _) => s.update(chunk),
            (None, Some(max)) if kept.len() as u64 + n as u64 > max => {
                return Err(ArchiveError::wrong(format!(
                    "{raw}: larger than the {max} bytes such a file may hold"
                )))
            }
            (None, Some(_)) => kept.extend_from_slice(chunk),
            (None, None) => {}
        }
        if let Some((o, p)) = out.as_mut() {
            o.write_all(chunk)
                .map_err(|e| ArchiveError::Io(p.clone(), e))?;
        }
        progress(n as u64);
    }
    if let Some((o, p)) = out {
        o.sync_all().map_err(|e| ArchiveError::Io(p, e))?;
    }
    Ok((hasher.finalize().into(), kept))
}

/// Checks the archive at `path` (module doc). With `unpack`, every file is also
/// written under that folder as it is read (restore); the caller removes it on error.
pub fn check_archive(
    path: &Path,
    identities: &[Box<dyn age::Identity + Send + Sync>],
    vkey: &str,
    unpack: Option<&Path>,
    progress: &dyn Fn(u64),
) -> Result<Checked, ArchiveError> {
    let ledger =
        crate::merkle::audit::verifier(vkey).map_err(|e| ArchiveError::Unusable(e.to_string()))?;
    let file =
        File::open(path).map_err(|e| ArchiveError::Unusable(format!("{}: {e}", path.display())))?;
    let size = file
        .metadata()
        .map_err(|e| ArchiveError::Unusable(format!("{}: {e}", path.display())))?;
    if !size.is_file() {
        return Err(ArchiveError::Unusable(format!(
            "{}: not a file",
            path.display()
        )));
    }
    let (file, read_hash) = pipe::HashingReader::new(file);
    let dec =
        age::Decryptor::new_buffered(BufReader::with_capacity(pipe::CHUNK, file)).map_err(|e| {
            ArchiveError::wrong(format!(
                "{}: not an age file, or its header is damaged: {e}",
                path.display()
            ))
        })?;
    let scrypt = dec.is_scrypt();
    let plain = dec
        .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => ArchiveError::Unusable(format!(
                "{}: none of the given identities can open this archive",
                path.display()
            )),
            // With a passphrase, a wrong one and a damaged stanza look the same.
            age::DecryptError::DecryptionFailed | age::DecryptError::KeyDecryptionFailed
                if scrypt =>
            {
                ArchiveError::Unusable(format!(
                    "{}: the passphrase does not open this archive",
                    path.display()
                ))
            }
            e => ArchiveError::wrong(format!("{}: age header: {e}", path.display())),
        })?;
    let (age_w, mut age_r) = pipe::pipe();
    let (tar_w, tar_r) = pipe::pipe();
    let age_stage = Stage::spawn("check-age", move || {
        let mut plain = plain;
        let mut w = age_w;
        pipe::copy(&mut plain, &mut w)?;
        w.finish()
    })?;
    let zstd_stage = Stage::spawn("check-zstd", move || {
        // Exactly one frame, with a content checksum (FORMAT §12.1): the frame header's
        // descriptor has its checksum bit set, and nothing follows the frame, not even
        // a skippable frame, which a decoder would otherwise pass over unseen.
        let mut head = [0u8; 5];
        age_r.read_exact(&mut head)?;
        if head[..4] != [0x28, 0xb5, 0x2f, 0xfd] || head[4] & 0x04 == 0 {
            return Err(std::io::Error::other(
                "not a zstd frame with a content checksum",
            ));
        }
        let input = std::io::Cursor::new(head).chain(&mut age_r);
        let mut d = zstd::stream::read::Decoder::new(input)?.single_frame();
        let mut w = tar_w;
        pipe::copy(&mut d, &mut w)?;
        let mut rest = d.finish();
        if rest.read(&mut [0u8; 1])? != 0 {
            return Err(std::io::Error::other("data after the zstd frame"));
        }
        w.finish()
    })?;
    let result = read_tar(tar_r, Verifier::new(ledger), unpack, progress);
    // A stage that failed on its own explains what the tar reader saw (a cut-short
    // stream); a stage that failed only because a later one stopped reading does not.
    let a = age_stage.join();
    let z = zstd_stage.join();
    if let Some(e) = pipe::own_failure(&a) {
        return Err(ArchiveError::wrong(format!(
            "{}: the age encryption is damaged or truncated: {e}",
            path.display()
        )));
    }
    if let Some(e) = pipe::own_failure(&z) {
        return Err(ArchiveError::wrong(format!(
            "{}: the zstd compression is damaged or truncated: {e}",
            path.display()
        )));
    }
    let mut checked = result?;
    let g = read_hash
        .lock()
        .map_err(|_| ArchiveError::Unusable("archive hash lock poisoned".into()))?;
    if g.1 != size.len() {
        return Err(ArchiveError::wrong(format!(
            "{}: {} bytes read of {} (the file changed while it was checked?)",
            path.display(),
            g.1,
            size.len()
        )));
    }
    checked.blake3 = g.0.finalize().to_hex().to_string();
    Ok(checked)
}

/// Reads the tar stream, hands each file to the verifier, then checks the manifests.
fn read_tar(
    r: pipe::PipeReader,
    mut v: Verifier,
    unpack: Option<&Path>,
    progress: &dyn Fn(u64),
) -> Result<Checked, ArchiveError> {
    let mut archive = tar::Archive::new(r);
    let mut seen: BTreeMap<String, [u8; 32]> = BTreeMap::new();
    let mut first = true;
    let mut read_bytes = 0u64;
    let mut payload_bytes = 0u64;
    {
        let entries = archive
            .entries()
            .map(|e| e.raw(true))
            .map_err(|e| ArchiveError::wrong(format!("tar: {e}")))?;
        for item in entries {
            let mut f = item.map_err(|e| ArchiveError::wrong(format!("tar: {e}")))?;
            let raw = f
                .path()
                .map_err(|e| ArchiveError::wrong(format!("tar: a file name: {e}")))?
                .to_string_lossy()
                .into_owned();
            let size = f
                .header()
                .size()
                .map_err(|e| ArchiveError::wrong(format!("{raw}: {e}")))?;
            match f.header().entry_type() {
                tar::EntryType::Regular => {}
                // Folders carry no meaning, and no data (FORMAT §12.1).
                tar::EntryType::Directory if size == 0 => {
                    if raw.trim_end_matches('/') != BAG {
                        relative(&raw)?;
                    }
                    continue;
                }
                t => {
                    return Err(ArchiveError::wrong(format!(
                        "{raw}: a {t:?} entry; an archive holds only regular files"
                    )))
                }
            }
            let rel = relative(&raw)?;
            if first && rel != "bagit.txt" {
                return Err(ArchiveError::wrong(format!(
                    "{raw}: the bag must start with bagit.txt"
                )));
            }
            first = false;
            if seen.contains_key(&rel) {
                return Err(ArchiveError::wrong(format!("{raw}: appears twice")));
            }
            let kind = v.classify(&rel)?;
            let out = match unpack {
                Some(root) => Some(create_file(root, &rel)?),
                None => None,
            };
            let mut stream = v.begin(&rel, &kind)?;
            let limit = keep_limit(&kind);
            let (digest, small) =
                read_member(&mut f, &raw, limit, stream.as_mut(), out, &mut |n| {
                    read_bytes += n;
                    progress(read_bytes);
                })?;
            v.finish_file(&rel, kind, stream, &small, size)?;
            if rel.starts_with("data/") {
                payload_bytes += size;
            }
            seen.insert(rel, digest);
        }
    }
    // What follows the end-of-archive blocks must be zeros only.
    let mut rest = archive.into_inner();
    let mut buf = vec![0u8; 64 * 1024];
    // The tar reader stops at the first zero block: at least one more must follow.
    let mut zeros = 0u64;
    loop {
        let n = rest
            .read(&mut buf)
            .map_err(|e| ArchiveError::wrong(format!("after the tar: {e}")))?;
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|b| *b != 0) {
            return Err(ArchiveError::wrong("data after the end of the tar stream"));
        }
        zeros += n as u64;
    }
    if zeros < 512 {
        return Err(ArchiveError::wrong(
            "the tar stream has no end-of-archive blocks: it was cut short",
        ));
    }
    v.finish(&seen, payload_bytes)
}

/// The path relative to the bag folder, refused unless plain and inside it.
fn relative(raw: &str) -> Result<String, ArchiveError> {
    let bad = || ArchiveError::wrong(format!("{raw}: not a file of the bag folder {BAG}/"));
    let rest = raw.strip_prefix(&format!("{BAG}/")).ok_or_else(bad)?;
    let p = Path::new(rest);
    if rest.is_empty()
        || rest.contains('\\')
        || !p.components().all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(bad());
    }
    Ok(rest.trim_end_matches('/').to_string())
}

/// Creates `root/rel` (and its folders) for restore; never follows into a link.
fn create_file(root: &Path, rel: &str) -> Result<(File, PathBuf), ArchiveError> {
    let p = root.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).map_err(|e| ArchiveError::Io(parent.to_path_buf(), e))?;
    }
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&p)
        .map_err(|e| ArchiveError::Io(p.clone(), e))?;
    Ok((f, p))
}
