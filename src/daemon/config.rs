//! The daemon's TOML configuration (`blotter serve --config FILE`). Every field has a
//! default, so no file is needed; unknown fields are refused with file:line:column.
//!
//! ```toml
//! listen = "127.0.0.1:7878"     # loopback unless --insecure-non-loopback
//! ledger_key = "/etc/blotter/ledger.key"  # default: the ledger folder's ledger.key
//! max_batch = 4096              # most changes in one group commit
//! replay_capacity = 2000000     # nonces remembered (120 s window; about 50 to 65 bytes each)
//! checkpoint_secs = 60          # sign a checkpoint this often if the log grew; 0 = never
//!
//! [report]                      # a retention report written daily
//! dir = "/var/lib/blotter/reports"
//! every_secs = 86400
//!
//! [backup]                      # an online backup taken on a timer
//! dir = "/var/backups/blotter"
//! every_secs = 86400
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub listen: SocketAddr,
    /// The URL clients use (`https://records.example.gov` behind a TLS proxy). When set,
    /// a request whose Host differs is refused, and the signed target URI is rebuilt
    /// from it, so a request signed for another daemon is never accepted here.
    pub public_url: Option<String>,
    pub ledger_key: Option<PathBuf>,
    pub max_batch: usize,
    pub replay_capacity: usize,
    pub checkpoint_secs: u64,
    pub report: Option<Periodic>,
    pub backup: Option<Periodic>,
}

/// A job that writes into a folder on a timer.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Periodic {
    pub dir: PathBuf,
    #[serde(default = "daily")]
    pub every_secs: u64,
}

fn daily() -> u64 {
    86_400
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 7878)),
            public_url: None,
            ledger_key: None,
            max_batch: 4096,
            replay_capacity: 2_000_000,
            checkpoint_secs: 60,
            report: None,
            backup: None,
        }
    }
}

impl Config {
    /// Reads and checks a config file; errors name the file, line and column.
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}:{e}", path.display()))
    }

    /// Parses config text; the error starts with `line:column: `.
    pub fn parse(text: &str) -> Result<Config, String> {
        let c: Config = toml::from_str(text).map_err(|e| {
            let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            format!("{line}:{col}: {}", e.message())
        })?;
        if let Some(u) = &c.public_url {
            public_base(u).map_err(|e| format!("1:1: public_url {u:?}: {e}"))?;
        }
        if c.max_batch == 0 || c.replay_capacity == 0 {
            return Err("1:1: max_batch and replay_capacity must be at least 1".into());
        }
        for (name, p) in [("report", &c.report), ("backup", &c.backup)] {
            if let Some(p) = p {
                if p.every_secs == 0 {
                    return Err(format!("1:1: [{name}] every_secs must be at least 1"));
                }
            }
        }
        Ok(c)
    }
}

/// The scheme and authority of a `public_url` (`http(s)://host[:port]`, no path).
pub fn public_base(url: &str) -> Result<(String, String), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or("expected http://HOST[:PORT] or https://HOST[:PORT]")?;
    if scheme != "http" && scheme != "https" {
        return Err("the scheme must be http or https".into());
    }
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
        return Err("expected a host and optional port, with no path".into());
    }
    Ok((scheme.to_string(), authority.to_ascii_lowercase()))
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        let c = Config::parse("").unwrap();
        assert!(c.listen.ip().is_loopback());
        assert_eq!(c.checkpoint_secs, 60);
        let c = Config::parse("checkpoint_secs = 5\n[report]\ndir = \"r\"\n").unwrap();
        assert_eq!(c.report.unwrap().every_secs, 86_400);
        let e = Config::parse("listen = \"127.0.0.1:1\"\nbogus = 1\n").unwrap_err();
        assert!(e.starts_with("2:1:"), "{e}");
        let e = Config::parse("listen = \"nowhere\"\n").unwrap_err();
        assert!(e.starts_with("1:10:"), "{e}");
        assert!(Config::parse("max_batch = 0").is_err());
        let c = Config::parse("public_url = \"https://Records.example.gov/\"").unwrap();
        assert_eq!(
            public_base(c.public_url.as_deref().unwrap()).unwrap(),
            ("https".into(), "records.example.gov".into())
        );
        assert!(Config::parse("public_url = \"ftp://x\"").is_err());
        assert!(Config::parse("public_url = \"https://x/path\"").is_err());
        assert!(Config::parse("[backup]\ndir = \"b\"\nevery_secs = 0\n").is_err());
    }
}
