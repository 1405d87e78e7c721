//! The unauthenticated read side (C2SP tlog-tiles: `/checkpoint` and hash tiles, which
//! reveal nothing but hashes) and the request log.

use std::time::Instant;

use axum::extract::{Path, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::merkle::tiles::{TileKind, TileRef};

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

/// A hash tile, `tile/<L>/<N>[.p/<W>]` (docs/FORMAT.md §11.10). Entry bundles are
/// authenticated and have their own route; a path that is not canonical, or a tile the
/// tree does not have yet, is 404.
pub async fn tile(State(st): State<AppState>, Path(path): Path<String>) -> ApiResult<Response> {
    let t = parse_tile(&format!("tile/{path}"))?;
    if t.kind() == TileKind::Entries {
        return Err(ApiError::not_found(
            "entry bundles need an authenticated request",
        ));
    }
    serve_tile(&st, t).await
}

pub(crate) fn parse_tile(path: &str) -> ApiResult<TileRef> {
    TileRef::parse(path).map_err(|e| ApiError::not_found(format!("{path}: {e}")))
}

pub(crate) async fn serve_tile(st: &AppState, t: TileRef) -> ApiResult<Response> {
    let name = t.to_string();
    let data = st
        .read(move |l| {
            l.tile_data(&t)?
                .ok_or_else(|| ApiError::not_found(format!("{name} is not in the tree yet")))
        })
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        data,
    )
        .into_response())
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
