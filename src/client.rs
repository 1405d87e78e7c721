//! The client side of the daemon's API: every request signed with the caller's key
//! (RFC 9421 profile, `crate::httpsig`), JSON in and out, attachments streamed both ways.
//!
//! Invariant: the client signs every change itself (drafted from the record state the
//! server reports, prepared with `ledger::append::prepare`) and sends only the signed
//! bytes and their openings; the server cannot make it sign anything else.

use std::io::{Read, Write};
use std::path::Path;

use ed25519_dalek::SigningKey;
use reqwest::blocking::{Client as Http, RequestBuilder, Response};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::{
    AppendRequest, AppendResponse, ContentResponse, ErrorBody, LedgerInfo, ReadRequest, StagedWire,
    SubmissionWire, SALT_HEADER,
};
use crate::crypto::Committer;
use crate::format::{Action, CommitmentKind};
use crate::httpsig;
use crate::ledger::{Draft, Outcome, RecordState, StagedBlob, Submission};

mod authorities;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error status and message.
    #[error("the server refused ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("{url}: {detail}")]
    Transport { url: String, detail: String },
    #[error("{0}")]
    Invalid(String),
}

impl ClientError {
    /// The HTTP status, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A check on this side failed (the ledger library's message).
impl From<crate::ledger::LedgerError> for ClientError {
    fn from(e: crate::ledger::LedgerError) -> Self {
        ClientError::Invalid(e.to_string())
    }
}

type Result<T> = std::result::Result<T, ClientError>;

/// A daemon at `base` (e.g. `http://127.0.0.1:7878`), spoken to with one key.
pub struct Client {
    base: String,
    key: SigningKey,
    http: Http,
    origin: std::cell::OnceCell<String>,
}

impl Client {
    pub fn new(url: &str, key: SigningKey) -> Result<Client> {
        let base = url.trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base).map_err(|e| ClientError::Transport {
            url: url.into(),
            detail: format!("not a URL: {e}"),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.path() != "/" {
            return Err(ClientError::Transport {
                url: url.into(),
                detail: "expected http://HOST:PORT with no path".into(),
            });
        }
        let http = Http::builder()
            .timeout(None)
            // A redirect would carry the signed headers to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClientError::Transport {
                url: url.into(),
                detail: e.to_string(),
            })?;
        Ok(Client {
            base,
            key,
            http,
            origin: std::cell::OnceCell::new(),
        })
    }

    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    fn url(&self, path: &str) -> Result<reqwest::Url> {
        reqwest::Url::parse(&format!("{}{path}", self.base)).map_err(|e| ClientError::Transport {
            url: path.into(),
            detail: e.to_string(),
        })
    }

    /// A request to `path` signed over `digest` (the body's Content-Digest).
    fn signed(&self, method: Method, path: &str, digest: &str) -> Result<(RequestBuilder, String)> {
        let url = self.url(path)?;
        let created = jiff::Timestamp::now().as_second();
        let nonce = httpsig::new_nonce();
        let h = httpsig::sign_request(
            &self.key,
            method.as_str(),
            url.as_str(),
            digest,
            created,
            &nonce,
        );
        let shown = url.to_string();
        Ok((
            self.http
                .request(method, url)
                .header("content-digest", digest)
                .header("signature-input", h.signature_input)
                .header("signature", h.signature),
            shown,
        ))
    }

    fn send(&self, rb: RequestBuilder, url: &str) -> Result<Response> {
        let res = rb.send().map_err(|e| ClientError::Transport {
            url: url.into(),
            detail: format!("{e} (is `blotter serve` running there?)"),
        })?;
        if res.status().is_success() {
            return Ok(res);
        }
        let status = res.status().as_u16();
        let message = res
            .json::<ErrorBody>()
            .map(|b| b.error)
            .unwrap_or_else(|_| format!("HTTP {status}"));
        Err(ClientError::Refused { status, message })
    }

    fn json<T: DeserializeOwned>(res: Response, url: &str) -> Result<T> {
        res.json().map_err(|e| ClientError::Transport {
            url: url.into(),
            detail: format!("unexpected answer: {e}"),
        })
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let (rb, url) = self.signed(Method::GET, path, &httpsig::content_digest(b""))?;
        let res = self.send(rb, &url)?;
        Self::json(res, &url)
    }

    pub fn get_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let (rb, url) = self.signed(Method::GET, path, &httpsig::content_digest(b""))?;
        let res = self.send(rb, &url)?;
        res.bytes()
            .map(|b| b.to_vec())
            .map_err(|e| ClientError::Transport {
                url,
                detail: e.to_string(),
            })
    }

    /// The lines of a streamed answer (JSON lines), read as they arrive.
    pub fn get_lines(&self, path: &str) -> Result<impl Iterator<Item = Result<String>>> {
        use std::io::BufRead;
        let (rb, url) = self.signed(Method::GET, path, &httpsig::content_digest(b""))?;
        let res = self.send(rb, &url)?;
        Ok(std::io::BufReader::new(res).lines().map(move |l| {
            l.map_err(|e| ClientError::Transport {
                url: url.clone(),
                detail: format!("the stream broke: {e}"),
            })
        }))
    }

    pub fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        let res = self.post_raw(path, body)?;
        Self::json(res.0, &res.1)
    }

    fn post_raw<B: Serialize>(&self, path: &str, body: &B) -> Result<(Response, String)> {
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::Invalid(e.to_string()))?;
        let (rb, url) = self.signed(Method::POST, path, &httpsig::content_digest(&bytes))?;
        let rb = rb.header("content-type", "application/json").body(bytes);
        Ok((self.send(rb, &url)?, url))
    }

    /// The ledger's origin (asked once).
    pub fn origin(&self) -> Result<String> {
        if let Some(o) = self.origin.get() {
            return Ok(o.clone());
        }
        let info: LedgerInfo = self.get("/v1/ledger")?;
        let _ = self.origin.set(info.origin.clone());
        Ok(info.origin)
    }

    pub fn info(&self) -> Result<LedgerInfo> {
        self.get("/v1/ledger")
    }

    pub fn record(&self, id: &[u8; 16]) -> Result<Option<RecordState>> {
        match self.get(&format!("/v1/records/{}", hex::encode(id))) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A draft of a further change to an existing record, from the state the server
    /// reports (as `Ledger::draft` does locally).
    pub fn draft(&self, id: &[u8; 16], action: Action) -> Result<Draft> {
        let st = self
            .record(id)?
            .ok_or_else(|| ClientError::Invalid(format!("record {} not found", hex::encode(id))))?;
        if st.id != *id {
            return Err(ClientError::Invalid(format!(
                "asked for record {}, the server answered with record {}",
                hex::encode(id),
                hex::encode(st.id)
            )));
        }
        Draft::for_record(&st, action).map_err(|e| ClientError::Invalid(e.to_string()))
    }

    /// Signs a draft with this client's key, on this ledger's origin.
    pub fn sign(&self, d: Draft) -> Result<Submission> {
        let origin = self.origin()?;
        let p = crate::ledger::append::prepare(&origin, &self.key.verifying_key().to_bytes(), d)
            .map_err(|e| ClientError::Invalid(e.to_string()))?;
        Ok(p.sign(&self.key))
    }

    /// Appends signed changes; answers once they are durable.
    pub fn append(&self, subs: &[Submission]) -> Result<(Vec<Outcome>, u64)> {
        let req = AppendRequest {
            submissions: subs.iter().map(SubmissionWire::from_submission).collect(),
        };
        let res: AppendResponse = self.post("/v1/changes", &req)?;
        Ok((
            res.outcomes.into_iter().map(Outcome::from).collect(),
            res.head,
        ))
    }

    /// A record's content and case number; `access` is the signed access change a
    /// sealed or confidential record needs.
    pub fn content(&self, id: &[u8; 16], access: Option<&Submission>) -> Result<ContentResponse> {
        let req = ReadRequest {
            access: access.map(SubmissionWire::from_submission),
        };
        self.post(&format!("/v1/records/{}/content", hex::encode(id)), &req)
    }

    /// Uploads `file` as an attachment to record `id`, sealed by the server as it streams
    /// in, committed with a salt chosen here. Checks that the server's commitment is the
    /// one computed here before returning it.
    pub fn upload(&self, id: &[u8; 16], file: &Path) -> Result<StagedBlob> {
        let io = |e: std::io::Error| ClientError::Invalid(format!("{}: {e}", file.display()));
        let salt: [u8; 32] = crate::crypto::random();
        let mut f = std::fs::File::open(file).map_err(io)?;
        let mut digest = httpsig::DigestWriter::new();
        let mut committer = Committer::new(&salt, CommitmentKind::Attachment);
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = f.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            digest.update(&buf[..n]);
            committer.update(&buf[..n]);
            size += n as u64;
        }
        let expected = committer.finish();
        let f = std::fs::File::open(file).map_err(io)?;
        let path = format!("/v1/records/{}/blobs", hex::encode(id));
        let (rb, url) = self.signed(Method::POST, &path, &digest.finish())?;
        let rb = rb
            .header(SALT_HEADER, hex::encode(salt))
            .header("content-type", "application/octet-stream")
            .body(reqwest::blocking::Body::sized(f, size));
        let res = self.send(rb, &url)?;
        let staged: StagedWire = Self::json(res, &url)?;
        if staged.commitment != expected || staged.size != size || staged.record != *id {
            return Err(ClientError::Invalid(format!(
                "the server staged {} bytes with commitment {}, but {} has {size} bytes with commitment {}; not attaching",
                staged.size,
                hex::encode(staged.commitment),
                file.display(),
                hex::encode(expected)
            )));
        }
        Ok(StagedBlob {
            record: *id,
            commitment: expected,
            salt,
            size,
        })
    }

    /// A consistent backup of the ledger, unpacked into the new folder `out`; returns the
    /// server's summary (with `dest` = `out`).
    pub fn backup(&self, out: &Path) -> Result<crate::ledger::BackupSummary> {
        let (res, _url) = self.post_raw("/v1/backup", &serde_json::json!({}))?;
        let mut summary: crate::ledger::BackupSummary = res
            .headers()
            .get("blotter-backup")
            .and_then(|h| h.to_str().ok())
            .and_then(|h| serde_json::from_str(h).ok())
            .ok_or_else(|| ClientError::Invalid("the server sent no backup summary".into()))?;
        crate::ledger::backup::tar::unpack(res, out)
            .map_err(|e| ClientError::Invalid(e.to_string()))?;
        summary.dest = out.to_path_buf();
        Ok(summary)
    }

    /// An archive export written by the server, received into the new file `out`
    /// (never overwritten; fsynced, then renamed into place) and checked against the
    /// BLAKE3 and size the server reports. `progress(received, total)` counts bytes.
    pub fn export(
        &self,
        req: &crate::api::ExportRequest,
        out: &Path,
        progress: &dyn Fn(u64, u64),
    ) -> Result<crate::archive::Exported> {
        let io = |e: std::io::Error| ClientError::Invalid(format!("{}: {e}", out.display()));
        if out.exists() {
            return Err(ClientError::Invalid(format!(
                "{} already exists; an archive is never overwritten",
                out.display()
            )));
        }
        let dir = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".blotter-archive-")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(io)?;
        let (res, url) = self.post_raw("/v1/archives", req)?;
        let broke = |e: std::io::Error| ClientError::Transport {
            url: url.clone(),
            detail: format!("the archive stream broke: {e}"),
        };
        // The summary's JSON line, then the archive's bytes.
        let mut res = std::io::BufReader::with_capacity(1 << 20, res);
        let mut line = Vec::new();
        std::io::BufRead::read_until(&mut (&mut res).take(64 << 20), b'\n', &mut line)
            .map_err(broke)?;
        let mut x: crate::archive::Exported = serde_json::from_slice(&line).map_err(|e| {
            ClientError::Invalid(format!("the server sent no export summary ({e})"))
        })?;
        let mut hasher = blake3::Hasher::new();
        let mut file = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file());
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = res.read(&mut buf).map_err(broke)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n]).map_err(io)?;
            size += n as u64;
            progress(size, x.archive_bytes);
        }
        file.flush().map_err(io)?;
        drop(file);
        if *hasher.finalize().as_bytes() != x.blake3 || size != x.archive_bytes {
            return Err(ClientError::Invalid(format!(
                "the archive received ({size} bytes) is not the one the server wrote ({} bytes, BLAKE3 {}); nothing kept",
                x.archive_bytes,
                hex::encode(x.blake3)
            )));
        }
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist_noclobber(out).map_err(|e| io(e.error))?;
        #[cfg(unix)]
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
        x.path = out.to_path_buf();
        Ok(x)
    }

    /// Streams attachment `blob` of record `id` into `out`; returns its size. The server
    /// checks the commitment as it streams and breaks the stream on a mismatch.
    pub fn download(
        &self,
        id: &[u8; 16],
        blob: &[u8; 32],
        access: Option<&Submission>,
        out: &mut impl Write,
    ) -> Result<u64> {
        let req = ReadRequest {
            access: access.map(SubmissionWire::from_submission),
        };
        let path = format!(
            "/v1/records/{}/attachments/{}",
            hex::encode(id),
            hex::encode(blob)
        );
        let (mut res, url) = self.post_raw(&path, &req)?;
        std::io::copy(&mut res, out).map_err(|e| ClientError::Transport {
            url,
            detail: format!("the attachment stream broke: {e}"),
        })
    }
}
