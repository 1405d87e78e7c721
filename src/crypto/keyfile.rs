//! Secret key files: an Ed25519 seed in a small text file, optionally wrapped in an
//! age file under a passphrase (age's scrypt recipient).
//!
//! Invariants: a key file is created with mode 0600 and never overwritten; a file that
//! is group- or world-accessible is refused before it is read. The secret is never
//! printed or logged.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use zeroize::Zeroizing;

const HEADER: &str = "BLOTTER-ED25519-SECRET-KEY-1";
const AGE_ARMOR: &str = "-----BEGIN AGE ENCRYPTED FILE-----";

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("key file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {0} is readable by group or others (mode {1:o}); run `chmod 600 {0}`")]
    LoosePermissions(PathBuf, u32),
    #[error("{0} already exists; refusing to overwrite a key file")]
    Exists(PathBuf),
    #[error("key file {0} is not a blotter secret key")]
    Malformed(PathBuf),
    #[error("key file {0} is passphrase-protected and the passphrase is wrong")]
    WrongPassphrase(PathBuf),
    #[error("key file {0} is passphrase-protected: set BLOTTER_PASSPHRASE or run on a terminal")]
    NeedPassphrase(PathBuf),
    #[error("key file {path}: {detail}")]
    Age { path: PathBuf, detail: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `contents` to a new file with mode 0600, durably (file and directory fsynced).
pub fn write_secret_file(path: &Path, contents: &[u8]) -> Result<(), KeyFileError> {
    if path.exists() {
        return Err(KeyFileError::Exists(path.to_path_buf()));
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    f.write_all(contents).map_err(io(path))?;
    f.sync_all().map_err(io(path))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
    }
    Ok(())
}

/// Reads a secret file after checking it is not accessible to group or others.
pub fn read_secret_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    let meta = fs::metadata(path).map_err(io(path))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::LoosePermissions(path.to_path_buf(), mode));
    }
    let mut buf = Zeroizing::new(Vec::new());
    fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut buf))
        .map_err(io(path))?;
    Ok(buf)
}

/// How a passphrase-protected key file is created.
pub struct Protection {
    pub passphrase: SecretString,
    /// scrypt work factor (log2 N); `None` for age's default (about one second).
    pub work_factor: Option<u8>,
}

/// Creates a new key file at `path` and returns the key.
pub fn create(path: &Path, protection: Option<Protection>) -> Result<SigningKey, KeyFileError> {
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    save(path, &key, protection)?;
    Ok(key)
}

/// Saves `key` to a new file at `path`.
pub fn save(
    path: &Path,
    key: &SigningKey,
    protection: Option<Protection>,
) -> Result<(), KeyFileError> {
    let text = Zeroizing::new(format!(
        "{HEADER}\n{}\n",
        base64::engine::general_purpose::STANDARD.encode(key.to_bytes())
    ));
    match protection {
        None => write_secret_file(path, text.as_bytes()),
        Some(p) => {
            let mut r = age::scrypt::Recipient::new(p.passphrase);
            if let Some(wf) = p.work_factor {
                r.set_work_factor(wf);
            }
            let age_err = |e: &dyn std::fmt::Display| KeyFileError::Age {
                path: path.to_path_buf(),
                detail: e.to_string(),
            };
            let enc = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))
                .map_err(|e| age_err(&e))?;
            let mut out = Vec::new();
            {
                let armor = age::armor::ArmoredWriter::wrap_output(
                    &mut out,
                    age::armor::Format::AsciiArmor,
                )
                .map_err(|e| age_err(&e))?;
                let mut w = enc.wrap_output(armor).map_err(|e| age_err(&e))?;
                w.write_all(text.as_bytes()).map_err(|e| age_err(&e))?;
                let armor = w.finish().map_err(|e| age_err(&e))?;
                armor.finish().map_err(|e| age_err(&e))?;
            }
            write_secret_file(path, &out)
        }
    }
}

/// Whether the file at `path` is passphrase-protected (without decrypting it).
pub fn is_protected(path: &Path) -> Result<bool, KeyFileError> {
    let bytes = read_secret_file(path)?;
    Ok(bytes.starts_with(AGE_ARMOR.as_bytes()) || bytes.starts_with(b"age-encryption.org/"))
}

/// Loads a key file. `passphrase` is asked for only when the file is protected.
pub fn load(
    path: &Path,
    passphrase: impl FnOnce() -> Option<SecretString>,
) -> Result<SigningKey, KeyFileError> {
    let bytes = read_secret_file(path)?;
    let plain: Zeroizing<Vec<u8>> = if bytes.starts_with(AGE_ARMOR.as_bytes())
        || bytes.starts_with(b"age-encryption.org/")
    {
        let pass = passphrase().ok_or_else(|| KeyFileError::NeedPassphrase(path.to_path_buf()))?;
        let reader = age::armor::ArmoredReader::new(&bytes[..]);
        let dec =
            age::Decryptor::new(reader).map_err(|_| KeyFileError::Malformed(path.to_path_buf()))?;
        let id = age::scrypt::Identity::new(pass);
        let mut r = dec
            .decrypt(std::iter::once(&id as &dyn age::Identity))
            .map_err(|_| KeyFileError::WrongPassphrase(path.to_path_buf()))?;
        let mut out = Zeroizing::new(Vec::new());
        r.read_to_end(&mut out)
            .map_err(|_| KeyFileError::WrongPassphrase(path.to_path_buf()))?;
        out
    } else {
        bytes
    };
    parse(&plain).ok_or_else(|| KeyFileError::Malformed(path.to_path_buf()))
}

fn parse(text: &[u8]) -> Option<SigningKey> {
    let text = std::str::from_utf8(text).ok()?;
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    if lines.next()? != HEADER {
        return None;
    }
    let seed = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(lines.next()?)
            .ok()?,
    );
    if lines.next().is_some() {
        return None;
    }
    let seed: [u8; 32] = seed.as_slice().try_into().ok()?;
    Some(SigningKey::from_bytes(&seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_round_trip_and_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        let k = create(&p, None).unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(load(&p, || None).unwrap().to_bytes(), k.to_bytes());
        assert!(matches!(create(&p, None), Err(KeyFileError::Exists(_))));
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            load(&p, || None),
            Err(KeyFileError::LoosePermissions(..))
        ));
    }

    #[test]
    fn passphrase_round_trip_and_wrong_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        let prot = Protection {
            passphrase: SecretString::from("correct horse".to_string()),
            work_factor: Some(4),
        };
        let k = create(&p, Some(prot)).unwrap();
        assert!(is_protected(&p).unwrap());
        let got = load(&p, || Some(SecretString::from("correct horse".to_string()))).unwrap();
        assert_eq!(got.to_bytes(), k.to_bytes());
        assert!(matches!(
            load(&p, || Some(SecretString::from("wrong".to_string()))),
            Err(KeyFileError::WrongPassphrase(_))
        ));
        assert!(matches!(
            load(&p, || None),
            Err(KeyFileError::NeedPassphrase(_))
        ));
    }

    #[test]
    fn malformed_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        write_secret_file(&p, b"not a key\n").unwrap();
        assert!(matches!(load(&p, || None), Err(KeyFileError::Malformed(_))));
    }
}
