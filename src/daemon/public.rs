//! The unauthenticated read side (C2SP tlog-tiles: `/checkpoint` and hash tiles, which
//! reveal nothing but hashes) and the request log.

use std::time::Instant;

use axum::extract::{Path, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ApiResult};
use super::AppState;

/// The latest kept checkpoint, as a signed note (`text/plain`).
pub async fn checkpoint(State(st): State<AppState>) -> ApiResult<Response> {
    let note = st
        .read(|l| {
            l.latest_checkpoint()?
                .map(|k| k.note)
                .ok_or_else(|| ApiError::not_found("no checkpoint is kept yet"))
        })
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        note,
    )
        .into_response())
}

pub async fn tile(State(_st): State<AppState>, Path(_path): Path<String>) -> ApiResult<Response> {
    Err(ApiError::not_found("tiles are not served yet"))
}

/// Logs method, path (never the query: it may carry a case number), status and time.
pub async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let start = Instant::now();
    let res = next.run(req).await;
    tracing::debug!(%method, %path, status = res.status().as_u16(), ms = start.elapsed().as_millis() as u64, "request");
    res
}
