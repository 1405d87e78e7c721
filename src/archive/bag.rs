//! The BagIt bag (RFC 8493) inside an archive, written as a tar stream, and the names
//! of its files (docs/FORMAT.md §12).
//!
//! Invariants:
//! - Every payload file under `data/` is listed in `manifest-sha256.txt` with the
//!   SHA-256 of exactly the bytes written; the tag files (`bagit.txt`, `bag-info.txt`,
//!   `manifest-sha256.txt`) in `tagmanifest-sha256.txt`.
//! - A streamed file is written with the size its header announced, or the archive
//!   fails: a short or long stream is an error, never a silently padded file.
//! - Order in the tar: `bagit.txt`, then the payload (ledger part first, then records),
//!   then `bag-info.txt`, `manifest-sha256.txt`, `tagmanifest-sha256.txt`, so that a
//!   verifier can check everything in one pass (module `check`).

use std::io::{self, Write};

use sha2::{Digest, Sha256};

/// The bag's directory inside the tar.
pub const BAG: &str = "blotter-archive";
/// `bagit.txt`, byte for byte.
pub const BAGIT_TXT: &str = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
/// The archive layout version, in `bag-info.txt` as `Blotter-Archive-Format`.
pub const ARCHIVE_FORMAT: &str = "1";

/// What a payload file holds, by its name's suffix after the sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// `<seq>.entry`: the entry's stored bytes.
    Entry,
    /// `<seq>.proof`: C2SP tlog-proof of the entry against `data/ledger/checkpoint`.
    Proof,
    /// `<seq>.content.salt` / `<seq>.content`: the payload's opening.
    ContentSalt,
    Content,
    /// `<seq>.side.salt` / `<seq>.side`: the side document's opening.
    SideSalt,
    Side,
    /// `<seq>.attachment.salt` / `<seq>.attachment`: the attachment's opening.
    AttachmentSalt,
    Attachment,
}

impl Part {
    pub const ALL: [Part; 8] = [
        Part::Entry,
        Part::Proof,
        Part::ContentSalt,
        Part::Content,
        Part::SideSalt,
        Part::Side,
        Part::AttachmentSalt,
        Part::Attachment,
    ];
    pub fn suffix(self) -> &'static str {
        match self {
            Part::Entry => "entry",
            Part::Proof => "proof",
            Part::ContentSalt => "content.salt",
            Part::Content => "content",
            Part::SideSalt => "side.salt",
            Part::Side => "side",
            Part::AttachmentSalt => "attachment.salt",
            Part::Attachment => "attachment",
        }
    }
}

/// Where a payload file sits: the ledger part or a record's folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    Ledger,
    Record([u8; 16]),
}

impl Place {
    pub fn dir(&self) -> String {
        match self {
            Place::Ledger => "data/ledger".into(),
            Place::Record(id) => format!("data/records/{}", hex::encode(id)),
        }
    }
}

/// `data/…/<seq, 20 digits>.<suffix>`.
pub fn entry_path(place: &Place, seq: u64, part: Part) -> String {
    format!("{}/{seq:020}.{}", place.dir(), part.suffix())
}

/// `data/ledger/checkpoint`: the signed checkpoint note every proof is against.
pub const CHECKPOINT: &str = "data/ledger/checkpoint";
/// In a record's folder: the readable summary (informative, not evidence).
pub const RECORD_JSON: &str = "record.json";
/// In a record's folder: the case number's opening.
pub const CASE_SALT: &str = "case-number.salt";
pub const CASE: &str = "case-number";

/// A salt as stored in a `.salt` file: 64 lowercase hex digits and a newline.
pub fn salt_text(salt: &[u8; 32]) -> String {
    format!("{}\n", hex::encode(salt))
}

/// Parses a `.salt` file.
pub fn parse_salt(bytes: &[u8]) -> Option<[u8; 32]> {
    let s = std::str::from_utf8(bytes).ok()?.strip_suffix('\n')?;
    if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    crate::crypto::parse_hex32(s)
}

/// Writes the bag as a tar stream into `W`.
pub struct BagWriter<W: Write> {
    out: W,
    mtime: u64,
    manifest: Vec<(String, [u8; 32])>,
    octets: u64,
}

impl<W: Write> BagWriter<W> {
    /// Starts the bag with `bagit.txt`. `mtime` is every file's modification time.
    pub fn new(out: W, mtime: u64) -> io::Result<Self> {
        let mut b = BagWriter {
            out,
            mtime,
            manifest: Vec::new(),
            octets: 0,
        };
        b.put_raw("bagit.txt", BAGIT_TXT.as_bytes())?;
        Ok(b)
    }

    fn header(&mut self, path: &str, size: u64) -> io::Result<()> {
        let mut h = tar::Header::new_ustar();
        h.set_path(format!("{BAG}/{path}"))?;
        h.set_size(size);
        h.set_mode(0o644);
        h.set_mtime(self.mtime);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        self.out.write_all(h.as_bytes())
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let rem = (512 - size % 512) % 512;
        self.out.write_all(&[0u8; 512][..rem as usize])
    }

    /// A tag file or payload file written whole; returns its SHA-256.
    fn put_raw(&mut self, path: &str, data: &[u8]) -> io::Result<[u8; 32]> {
        self.header(path, data.len() as u64)?;
        self.out.write_all(data)?;
        self.pad(data.len() as u64)?;
        Ok(Sha256::digest(data).into())
    }

    /// A payload file (`path` starts with `data/`) written whole.
    pub fn put(&mut self, path: &str, data: &[u8]) -> io::Result<()> {
        let h = self.put_raw(path, data)?;
        self.octets += data.len() as u64;
        self.manifest.push((path.to_string(), h));
        Ok(())
    }

    /// A payload file of exactly `size` bytes that `fill` writes through the sink it
    /// is given (an attachment decrypted as it streams).
    pub fn put_stream<E: From<io::Error>>(
        &mut self,
        path: &str,
        size: u64,
        fill: impl FnOnce(&mut dyn FnMut(&[u8]) -> io::Result<()>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.header(path, size)?;
        let mut hasher = Sha256::new();
        let mut n = 0u64;
        let out = &mut self.out;
        fill(&mut |chunk: &[u8]| {
            n += chunk.len() as u64;
            if n > size {
                return Err(io::Error::other(format!(
                    "{path}: more bytes than the {size} announced"
                )));
            }
            hasher.update(chunk);
            out.write_all(chunk)
        })?;
        if n != size {
            return Err(io::Error::other(format!("{path}: {n} bytes, {size} announced")).into());
        }
        self.pad(size)?;
        self.octets += size;
        self.manifest
            .push((path.to_string(), hasher.finalize().into()));
        Ok(())
    }

    /// Payload files so far: `(octets, files)` (BagIt's Payload-Oxum).
    pub fn oxum(&self) -> (u64, usize) {
        (self.octets, self.manifest.len())
    }

    /// Writes `bag-info.txt` (with `Payload-Oxum` added), both manifests and the end
    /// of the tar; returns the writer.
    pub fn finish(mut self, info: &[(&str, String)]) -> io::Result<W> {
        let mut text = String::new();
        for (k, v) in info {
            text.push_str(&format!("{k}: {v}\n"));
        }
        let (octets, files) = self.oxum();
        text.push_str(&format!("Payload-Oxum: {octets}.{files}\n"));
        let bag_info = self.put_raw("bag-info.txt", text.as_bytes())?;
        let manifest = manifest_text(&self.manifest);
        let m = self.put_raw("manifest-sha256.txt", manifest.as_bytes())?;
        let bagit: [u8; 32] = Sha256::digest(BAGIT_TXT.as_bytes()).into();
        let tags = manifest_text(&[
            ("bagit.txt".into(), bagit),
            ("bag-info.txt".into(), bag_info),
            ("manifest-sha256.txt".into(), m),
        ]);
        self.put_raw("tagmanifest-sha256.txt", tags.as_bytes())?;
        self.out.write_all(&[0u8; 1024])?;
        Ok(self.out)
    }
}

/// `<hex>  <path>\n` per file (two spaces, as `sha256sum` writes; RFC 8493 §2.1.3).
pub fn manifest_text(files: &[(String, [u8; 32])]) -> String {
    let mut s = String::new();
    for (p, h) in files {
        s.push_str(&format!("{}  {p}\n", hex::encode(h)));
    }
    s
}

/// Parses a manifest: path → SHA-256. Errors name the 1-based line.
pub fn parse_manifest(
    name: &str,
    bytes: &[u8],
) -> Result<std::collections::BTreeMap<String, [u8; 32]>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| format!("{name} is not UTF-8"))?;
    let mut out = std::collections::BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let bad = || format!("{name} line {}: expected `<sha256 hex>  <path>`", i + 1);
        // Strict: 64 lowercase hex digits, two spaces, the path as written, `\n` ends.
        let (h, p) = line.split_once("  ").ok_or_else(bad)?;
        if h.len() != 64
            || h.bytes().any(|b| b.is_ascii_uppercase())
            || p.starts_with(' ')
            || p.ends_with(char::is_whitespace)
            || line.contains('\r')
        {
            return Err(bad());
        }
        let h = crate::crypto::parse_hex32(h).ok_or_else(bad)?;
        if p.is_empty() || out.insert(p.to_string(), h).is_some() {
            return Err(format!(
                "{name} line {}: empty or repeated path {p:?}",
                i + 1
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_paths_fit_a_ustar_header() {
        let p = entry_path(&Place::Record([0xab; 16]), u64::MAX, Part::AttachmentSalt);
        let mut w = BagWriter::new(Vec::new(), 0).unwrap();
        w.put(&p, b"x").unwrap();
        let tar = w.finish(&[]).unwrap();
        let mut a = tar::Archive::new(&tar[..]);
        let names: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(names.contains(&format!("{BAG}/{p}")), "{names:?}");
        assert_eq!(
            names.last().unwrap(),
            &format!("{BAG}/tagmanifest-sha256.txt")
        );
    }

    #[test]
    fn a_short_stream_fails() {
        let mut w = BagWriter::new(Vec::new(), 0).unwrap();
        let r: io::Result<()> = w.put_stream("data/x", 10, |sink| sink(b"12345"));
        assert!(r.is_err());
        let r: io::Result<()> = w.put_stream("data/y", 3, |sink| sink(b"12345"));
        assert!(r.is_err());
    }

    #[test]
    fn salts_and_manifests_parse_strictly() {
        let s = [0xabu8; 32];
        assert_eq!(parse_salt(salt_text(&s).as_bytes()), Some(s));
        assert_eq!(parse_salt(hex::encode(s).as_bytes()), None);
        assert_eq!(parse_salt(salt_text(&s).to_uppercase().as_bytes()), None);
        let m = manifest_text(&[("data/a".into(), [1; 32])]);
        assert_eq!(
            parse_manifest("m", m.as_bytes()).unwrap()["data/a"],
            [1; 32]
        );
        assert!(parse_manifest("m", b"zz  data/a\n")
            .unwrap_err()
            .contains("line 1"));
        let twice = format!("{m}{m}");
        assert!(parse_manifest("m", twice.as_bytes()).is_err());
    }
}
