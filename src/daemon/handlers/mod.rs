//! The authenticated routes' handlers, by what they serve. Each reads under the
//! ledger's read lock on a blocking thread, or writes through the single writer; none
//! holds the ledger while it streams a body (`blocking_body`).

mod archives;
mod authorities;
mod backup;
mod changes;
mod log;
mod records;
mod retention;

pub use archives::*;
pub use authorities::*;
pub use backup::*;
pub use changes::*;
pub use log::*;
pub use records::*;
pub use retention::*;

use std::io::Write;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::api::{
    AppendRequest, AppendResponse, ContentResponse, LedgerInfo, OutcomeWire, ReadRequest,
    StagedWire, MAX_BATCH, SALT_HEADER,
};
use crate::format::{AccessTarget, Action, Role, SignedChange};
use crate::ledger::read::ListFilter;
use crate::ledger::verify::VerifyOptions;

type Who = Extension<Arc<Caller>>;

fn parse_id(s: &str) -> ApiResult<[u8; 16]> {
    crate::crypto::parse_hex::<16>(s)
        .ok_or_else(|| ApiError::bad_request(format!("{s:?} is not a record id (32 hex digits)")))
}

fn parse_hash(s: &str, what: &str) -> ApiResult<[u8; 32]> {
    crate::crypto::parse_hex32(s)
        .ok_or_else(|| ApiError::bad_request(format!("{s:?} is not a {what} (64 hex digits)")))
}

/// A response body written from a blocking thread: a write fails once the client is
/// gone, and an error `f` returns breaks the stream, so that a client never takes a cut
/// body for a whole one.
fn blocking_body<E: std::fmt::Display>(
    what: &'static str,
    f: impl FnOnce(&mut BodyWriter) -> Result<(), E> + Send + 'static,
) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(16);
    tokio::task::spawn_blocking(move || {
        let mut w = BodyWriter(tx);
        if let Err(e) = f(&mut w) {
            tracing::warn!(error = %e, "{what} stream aborted");
            let _ = w.0.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

/// The writing end of [`blocking_body`].
struct BodyWriter(tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>);

impl BodyWriter {
    fn send(&self, b: bytes::Bytes) -> std::io::Result<()> {
        self.0
            .blocking_send(Ok(b))
            .map_err(|_| std::io::Error::other("the client went away"))
    }

    /// One JSON line.
    fn line(&self, v: &Value) -> Result<(), crate::ledger::LedgerError> {
        let mut line = v.to_string();
        line.push('\n');
        self.send(bytes::Bytes::from(line))
            .map_err(|e| crate::ledger::LedgerError::Invalid(e.to_string()))
    }
}

impl std::io::Write for BodyWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.send(bytes::Bytes::copy_from_slice(buf))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
