//! A real daemon over loopback: `blotter --ledger DIR serve --listen 127.0.0.1:0`, its URL
//! read from its first line, killed when dropped; and a raw signed HTTP request for the
//! attack and role tests.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use blotter::httpsig;
use ed25519_dalek::SigningKey;

use super::blotter;

pub struct Daemon {
    pub url: String,
    pub dir: PathBuf,
    child: Child,
}

impl Daemon {
    pub fn start(dir: &Path) -> Daemon {
        Self::start_with(dir, &[])
    }

    pub fn start_with(dir: &Path, extra: &[&str]) -> Daemon {
        let mut child = blotter()
            .arg("--ledger")
            .arg(dir)
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .args(extra)
            .env("BLOTTER_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start blotter serve");
        let out = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(out)
            .read_line(&mut line)
            .expect("read the daemon's first line");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Daemon {
            url,
            dir: dir.to_path_buf(),
            child,
        }
    }

    /// kill -9.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(mut self) -> i32 {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        self.child.wait().expect("wait").code().unwrap_or(-1)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn key(path: &Path) -> SigningKey {
    blotter::crypto::keyfile::load(path, || None).expect("load key")
}

/// Knobs for a raw request, to build valid and deliberately broken ones.
pub struct Raw<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub body: Vec<u8>,
    /// Sign this path instead of `path` (an altered path).
    pub signed_path: Option<&'a str>,
    /// Sign this body's digest instead (an altered body).
    pub signed_body: Option<Vec<u8>>,
    pub created_offset: i64,
    pub nonce: Option<String>,
    pub unsigned: bool,
    /// Sign for, and send with, this Host (another daemon's name).
    pub host: Option<String>,
}

impl<'a> Raw<'a> {
    pub fn new(method: &'a str, path: &'a str) -> Self {
        Raw {
            method,
            path,
            body: Vec::new(),
            signed_path: None,
            signed_body: None,
            created_offset: 0,
            nonce: None,
            unsigned: false,
            host: None,
        }
    }
    pub fn json(mut self, v: &serde_json::Value) -> Self {
        self.body = serde_json::to_vec(v).unwrap();
        self
    }

    /// Sends it; returns status and body text.
    pub fn send(&self, base: &str, key: &SigningKey) -> (u16, String) {
        let http = reqwest::blocking::Client::new();
        let url = format!("{base}{}", self.path);
        let signed_base = match &self.host {
            Some(h) => format!("http://{h}"),
            None => base.to_string(),
        };
        let signed_url = format!("{signed_base}{}", self.signed_path.unwrap_or(self.path));
        let digest = httpsig::content_digest(self.signed_body.as_deref().unwrap_or(&self.body));
        let created = jiff::Timestamp::now().as_second() + self.created_offset;
        let nonce = self.nonce.clone().unwrap_or_else(httpsig::new_nonce);
        let h = httpsig::sign_request(key, self.method, &signed_url, &digest, created, &nonce);
        let mut rb = http
            .request(self.method.parse().unwrap(), &url)
            .header("content-type", "application/json")
            .body(self.body.clone());
        if let Some(h) = &self.host {
            rb = rb.header("host", h);
        }
        if !self.unsigned {
            rb = rb
                .header("content-digest", digest)
                .header("signature-input", h.signature_input)
                .header("signature", h.signature);
        }
        let res = rb.send().expect("send");
        let status = res.status().as_u16();
        (status, res.text().unwrap_or_default())
    }
}

/// Runs `blotter ARGS…`: exit code, stdout, stderr.
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = blotter().args(args).output().expect("run blotter");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `blotter --server URL --key DIR/keys/WHO.key ARGS…` against the daemon `d`.
pub fn as_who(d: &Daemon, who: &str, args: &[&str]) -> (i32, String, String) {
    let key = d.dir.join(format!("keys/{who}.key"));
    let mut all = vec!["--server", &d.url, "--key", key.to_str().unwrap()];
    all.extend(args);
    run(&all)
}

/// The log's size, as the daemon reports it.
pub fn head(d: &Daemon) -> u64 {
    let c = blotter::client::Client::new(&d.url, key(&d.dir.join("keys/auditor.key"))).unwrap();
    c.info().unwrap().size
}

/// `verify` through the daemon finds nothing wrong.
pub fn assert_verifies(d: &Daemon) {
    let c = blotter::client::Client::new(&d.url, key(&d.dir.join("keys/auditor.key"))).unwrap();
    let report: serde_json::Value = c.post("/v1/verify", &serde_json::json!({})).unwrap();
    assert!(report["problem"].is_null(), "{report}");
}
