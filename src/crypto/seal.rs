//! Sealing content at rest so that destroying a record means losing a key.
//!
//! Key hierarchy (`docs/DESTRUCTION.md`):
//! - each record has a random 32-byte **data key**; its payloads, side documents,
//!   destroyable metadata and attachments are sealed with XChaCha20-Poly1305 under it;
//! - each data key is stored **wrapped** by an **epoch key** (XChaCha20-Poly1305, the
//!   record id as associated data);
//! - epoch keys live in one small file (`epochs.key`, mode 0600) that is replaced
//!   atomically (write, fsync, rename, fsync directory). Dropping an epoch from that
//!   file, after re-wrapping the surviving data keys of that epoch, makes every data key
//!   wrapped only by it unrecoverable, even from the store file's freed pages and from
//!   backups.
//!
//! Attachments use the STREAM construction (`aead::stream`, 64 KiB chunks), so a file of
//! any size is sealed and opened with constant memory.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chacha20poly1305::aead::stream::{DecryptorBE32, EncryptorBE32};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use super::keyfile::{read_secret_file, KeyFileError};
use super::random;

/// Plaintext chunk size of the attachment stream.
pub const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
const BLOB_MAGIC: &[u8; 8] = b"BLTBLOB1";
const EPOCH_HEADER: &str = "BLOTTER-EPOCH-KEYS-1";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("cannot open sealed data: wrong key or altered bytes")]
    Open,
    #[error("data key for this record is gone (epoch {0} no longer exists)")]
    EpochGone(u32),
    #[error("refusing to drop epoch {0}: it is the current epoch")]
    CurrentEpoch(u32),
    #[error("sealed data is truncated")]
    Truncated,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("epoch key file {0} is malformed")]
    MalformedEpochs(PathBuf),
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
}

/// A record's data key. Zeroed on drop.
#[derive(Clone)]
pub struct DataKey(pub Zeroizing<[u8; 32]>);

impl DataKey {
    pub fn generate() -> Self {
        DataKey(Zeroizing::new(random()))
    }
    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&*self.0).into())
    }
}

/// The epoch keys and the index key, as held in `epochs.key`.
///
/// INVARIANT: epoch numbers only grow. A new epoch is numbered one above the highest,
/// and the highest (current) epoch is never dropped without a higher one in place
/// ([`EpochKeys::without`]), so a number is never reused for a different key.
#[derive(Clone)]
pub struct EpochKeys {
    /// Keys the case-number and source-reference indexes (keyed BLAKE3).
    pub index_key: Zeroizing<[u8; 32]>,
    /// `(epoch number, key)`, ascending; the last is current.
    pub epochs: Vec<(u32, Zeroizing<[u8; 32]>)>,
}

impl EpochKeys {
    pub fn generate() -> Self {
        EpochKeys {
            index_key: Zeroizing::new(random()),
            epochs: vec![(1, Zeroizing::new(random()))],
        }
    }

    pub fn current(&self) -> (u32, &[u8; 32]) {
        let (n, k) = self
            .epochs
            .last()
            .map(|(n, k)| (*n, &**k))
            .unwrap_or((0, &[0u8; 32]));
        (n, k)
    }

    /// Whether the key of `epoch` is still here.
    pub fn has_epoch(&self, epoch: u32) -> bool {
        self.get(epoch).is_some()
    }

    /// The epoch a wrapped data key names (its first four bytes), if it is long enough.
    pub fn epoch_of(wrapped: &[u8]) -> Option<u32> {
        wrapped.first_chunk::<4>().map(|n| u32::from_be_bytes(*n))
    }

    /// A copy with one more epoch key, numbered one above the highest, which becomes
    /// current. Returns the copy and the new epoch's number.
    pub fn with_new_epoch(&self) -> (EpochKeys, u32) {
        let mut next = self.clone();
        let n = self.current().0.saturating_add(1);
        next.epochs.push((n, Zeroizing::new(random())));
        (next, n)
    }

    /// A copy without the epochs in `retired`. Refuses to drop the current epoch: new
    /// data keys must always have an epoch to be wrapped under.
    pub fn without(
        &self,
        retired: &std::collections::BTreeSet<u32>,
    ) -> Result<EpochKeys, SealError> {
        let current = self.current().0;
        if retired.contains(&current) {
            return Err(SealError::CurrentEpoch(current));
        }
        let mut next = self.clone();
        next.epochs.retain(|(n, _)| !retired.contains(n));
        Ok(next)
    }

    /// Opens a wrapped data key with its epoch and wraps it again under the current epoch.
    pub fn rewrap(&self, wrapped: &[u8], record: &[u8; 16]) -> Result<Vec<u8>, SealError> {
        let key = self.unwrap_key(wrapped, record)?;
        Ok(self.wrap(&key, record))
    }

    fn get(&self, epoch: u32) -> Option<&[u8; 32]> {
        self.epochs
            .iter()
            .find(|(n, _)| *n == epoch)
            .map(|(_, k)| &**k)
    }

    pub fn load(path: &Path) -> Result<Self, SealError> {
        let bytes = read_secret_file(path)?;
        let bad = || SealError::MalformedEpochs(path.to_path_buf());
        let text = std::str::from_utf8(&bytes).map_err(|_| bad())?;
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        if lines.next() != Some(EPOCH_HEADER) {
            return Err(bad());
        }
        let b64 = |s: &str| -> Result<Zeroizing<[u8; 32]>, SealError> {
            let v = Zeroizing::new(
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_err(|_| bad())?,
            );
            let a: [u8; 32] = v.as_slice().try_into().map_err(|_| bad())?;
            Ok(Zeroizing::new(a))
        };
        let mut index_key = None;
        let mut epochs = Vec::new();
        for line in lines {
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["index", k] => index_key = Some(b64(k)?),
                ["epoch", n, k] => epochs.push((n.parse::<u32>().map_err(|_| bad())?, b64(k)?)),
                _ => return Err(bad()),
            }
        }
        epochs.sort_by_key(|(n, _)| *n);
        let index_key = index_key.ok_or_else(bad)?;
        if epochs.is_empty() {
            return Err(bad());
        }
        Ok(EpochKeys { index_key, epochs })
    }

    /// Writes the file atomically: a temporary file (0600), fsync, rename, fsync directory.
    pub fn save(&self, path: &Path) -> Result<(), SealError> {
        let e = base64::engine::general_purpose::STANDARD;
        let mut text = Zeroizing::new(format!(
            "{EPOCH_HEADER}\nindex {}\n",
            e.encode(*self.index_key)
        ));
        for (n, k) in &self.epochs {
            text.push_str(&format!("epoch {n} {}\n", e.encode(**k)));
        }
        let tmp = path.with_extension("key.tmp");
        let _ = fs::remove_file(&tmp);
        super::keyfile::write_secret_file(&tmp, text.as_bytes())?;
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    /// Wraps a data key under the current epoch: `epoch u32 || nonce 24 || ciphertext 48`.
    pub fn wrap(&self, key: &DataKey, record: &[u8; 16]) -> Vec<u8> {
        let (n, ek) = self.current();
        let mut out = n.to_be_bytes().to_vec();
        out.extend(seal_with(ek, record, &key.0[..]));
        out
    }

    pub fn unwrap_key(&self, wrapped: &[u8], record: &[u8; 16]) -> Result<DataKey, SealError> {
        let (n, rest) = wrapped
            .split_first_chunk::<4>()
            .ok_or(SealError::Truncated)?;
        let epoch = u32::from_be_bytes(*n);
        let ek = self.get(epoch).ok_or(SealError::EpochGone(epoch))?;
        let plain = Zeroizing::new(open_with(ek, record, rest)?);
        let k: [u8; 32] = plain.as_slice().try_into().map_err(|_| SealError::Open)?;
        Ok(DataKey(Zeroizing::new(k)))
    }

    /// Keyed BLAKE3 of an index term (case number, source reference) with a domain tag.
    pub fn index_hash(&self, domain: &str, term: &str) -> [u8; 32] {
        let mut h = blake3::Hasher::new_keyed(&self.index_key);
        h.update(domain.as_bytes());
        h.update(&[0]);
        h.update(term.as_bytes());
        *h.finalize().as_bytes()
    }
}

fn seal_with(key: &[u8; 32], aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let nonce: [u8; 24] = random();
    let cipher = XChaCha20Poly1305::new(key.into());
    // Encryption with a valid key cannot fail for in-memory sizes.
    let ct = cipher
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
        .unwrap_or_default();
    let mut out = nonce.to_vec();
    out.extend(ct);
    out
}

fn open_with(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
    if sealed.len() < 24 + TAG {
        return Err(SealError::Truncated);
    }
    let (nonce, ct) = sealed.split_at(24);
    XChaCha20Poly1305::new(key.into())
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
        .map_err(|_| SealError::Open)
}

/// Seals a payload under a data key: `nonce 24 || ciphertext`. `aad` binds it to its place.
pub fn seal(key: &DataKey, aad: &[u8], plain: &[u8]) -> Vec<u8> {
    seal_with(&key.0, aad, plain)
}

pub fn open(key: &DataKey, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
    open_with(&key.0, aad, sealed).map(Zeroizing::new)
}

/// Reads until `buf` is full or the input ends; returns the count.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Streams `input` into `output` sealed under `key`, calling `observe` on each plaintext
/// chunk (to hash it on the way). Returns the plaintext size. Memory: two chunks.
pub fn seal_stream(
    key: &DataKey,
    aad: &[u8],
    input: &mut impl Read,
    output: &mut impl Write,
    mut observe: impl FnMut(&[u8]),
) -> Result<u64, SealError> {
    let nonce: [u8; 19] = random();
    output.write_all(BLOB_MAGIC)?;
    output.write_all(&nonce)?;
    let mut enc = EncryptorBE32::from_aead(key.cipher(), (&nonce).into());
    let mut cur = vec![0u8; CHUNK];
    let mut next = vec![0u8; CHUNK];
    let mut cur_len = read_full(input, &mut cur)?;
    let mut total = 0u64;
    loop {
        let next_len = if cur_len == CHUNK {
            read_full(input, &mut next)?
        } else {
            0
        };
        observe(&cur[..cur_len]);
        total += cur_len as u64;
        if next_len == 0 {
            let ct = enc
                .encrypt_last(Payload {
                    msg: &cur[..cur_len],
                    aad,
                })
                .map_err(|_| SealError::Open)?;
            output.write_all(&ct)?;
            return Ok(total);
        }
        let ct = enc
            .encrypt_next(Payload {
                msg: &cur[..cur_len],
                aad,
            })
            .map_err(|_| SealError::Open)?;
        output.write_all(&ct)?;
        std::mem::swap(&mut cur, &mut next);
        cur_len = next_len;
    }
}

/// Streams a sealed blob out, authenticating every chunk and the end of the stream
/// (a truncated blob fails). Calls `sink` with each plaintext chunk.
pub fn open_stream(
    key: &DataKey,
    aad: &[u8],
    input: &mut impl Read,
    mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> Result<u64, SealError> {
    let mut header = [0u8; 8 + 19];
    if read_full(input, &mut header)? != header.len() || &header[..8] != BLOB_MAGIC {
        return Err(SealError::Truncated);
    }
    let nonce: [u8; 19] = header[8..].try_into().map_err(|_| SealError::Truncated)?;
    let mut dec = DecryptorBE32::from_aead(key.cipher(), (&nonce).into());
    // Chunks are decrypted in place in two reused buffers: no allocation or copy per
    // chunk (archive export streams gigabytes through here).
    let mut cur = vec![0u8; CHUNK + TAG];
    let mut next = vec![0u8; CHUNK + TAG];
    let mut cur_len = read_full(input, &mut cur)?;
    let mut total = 0u64;
    loop {
        let next_len = if cur_len == CHUNK + TAG {
            next.resize(CHUNK + TAG, 0);
            read_full(input, &mut next)?
        } else {
            0
        };
        cur.truncate(cur_len);
        if next_len == 0 {
            dec.decrypt_last_in_place(aad, &mut cur)
                .map_err(|_| SealError::Open)?;
            sink(&cur)?;
            return Ok(total + cur.len() as u64);
        }
        dec.decrypt_next_in_place(aad, &mut cur)
            .map_err(|_| SealError::Open)?;
        sink(&cur)?;
        total += cur.len() as u64;
        std::mem::swap(&mut cur, &mut next);
        cur_len = next_len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip_and_tamper() {
        let k = DataKey::generate();
        let s = seal(&k, b"rid", b"hello");
        assert_eq!(&open(&k, b"rid", &s).unwrap()[..], b"hello");
        assert!(open(&k, b"other", &s).is_err());
        let mut t = s.clone();
        t[30] ^= 1;
        assert!(open(&k, b"rid", &t).is_err());
        assert!(open(&DataKey::generate(), b"rid", &s).is_err());
    }

    #[test]
    fn wrap_unwrap_and_lost_epoch() {
        let mut e = EpochKeys::generate();
        let k = DataKey::generate();
        let w = e.wrap(&k, &[7; 16]);
        assert_eq!(*e.unwrap_key(&w, &[7; 16]).unwrap().0, *k.0);
        assert!(e.unwrap_key(&w, &[8; 16]).is_err());
        e.epochs = vec![(2, Zeroizing::new([1; 32]))];
        assert!(matches!(
            e.unwrap_key(&w, &[7; 16]),
            Err(SealError::EpochGone(1))
        ));
    }

    #[test]
    fn new_epoch_rewrap_and_retire() {
        let e = EpochKeys::generate();
        let k = DataKey::generate();
        let w = e.wrap(&k, &[7; 16]);
        let (e2, n) = e.with_new_epoch();
        assert_eq!((n, e2.current().0), (2, 2));
        let w2 = e2.rewrap(&w, &[7; 16]).unwrap();
        assert_eq!(EpochKeys::epoch_of(&w2), Some(2));
        let retired = [1].into_iter().collect();
        assert!(matches!(
            e.without(&retired),
            Err(SealError::CurrentEpoch(1))
        ));
        let e3 = e2.without(&retired).unwrap();
        assert!(!e3.has_epoch(1) && e3.has_epoch(2));
        assert_eq!(*e3.unwrap_key(&w2, &[7; 16]).unwrap().0, *k.0);
        assert!(matches!(
            e3.unwrap_key(&w, &[7; 16]),
            Err(SealError::EpochGone(1))
        ));
        let (e4, n4) = e3.with_new_epoch();
        assert_eq!(n4, 3, "epoch numbers are never reused");
        assert_eq!(e4.epochs.len(), 2);
    }

    #[test]
    fn stream_round_trip_sizes_and_truncation() {
        let k = DataKey::generate();
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK] {
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let mut sealed = Vec::new();
            let n = seal_stream(&k, b"a", &mut &data[..], &mut sealed, |_| {}).unwrap();
            assert_eq!(n as usize, size);
            let mut out = Vec::new();
            open_stream(&k, b"a", &mut &sealed[..], |c| {
                out.extend_from_slice(c);
                Ok(())
            })
            .unwrap();
            assert_eq!(out, data);
            // Dropping the last chunk (or any tail) must fail, never yield a prefix as whole.
            if size >= CHUNK {
                let cut = &sealed[..sealed.len() - (sealed.len() - 27) % (CHUNK + TAG).max(1) - 1];
                assert!(open_stream(&k, b"a", &mut &cut[..], |_| Ok(())).is_err());
            }
            let cut = &sealed[..sealed.len() - 1];
            assert!(open_stream(&k, b"a", &mut &cut[..], |_| Ok(())).is_err());
        }
    }
}
