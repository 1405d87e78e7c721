//! API errors: a status code and a JSON body `{"error": "..."}` that names the thing
//! (record id, sequence number, header) and never internals (paths of the server's
//! disk, store errors' details are logged, not returned).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::api::ErrorBody;
use crate::ledger::LedgerError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, m)
    }
    pub fn unauthorized(m: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, m)
    }
    pub fn forbidden(m: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, m)
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, m)
    }
    pub fn unavailable(m: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, m)
    }
    /// An internal failure: logged in full, answered without details.
    pub fn internal(what: &str, e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "{what}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{what} failed on the server; see its log"),
        )
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        use LedgerError::*;
        match &e {
            NoRecord(_) | NoDocument(_) => Self::not_found(e.to_string()),
            Malformed { .. } => Self::bad_request(e.to_string()),
            // A change the ledger's rules refuse, or a read that cannot be answered as
            // asked: the caller can act on the message.
            Refused { .. } | Invalid(_) | Destroyed(_) => {
                Self::new(StatusCode::CONFLICT, e.to_string())
            }
            Stopped => Self::unavailable(e.to_string()),
            Store(_) | Seal(_) | KeyFile(_) | Io(..) | NotALedger(_) | NotEmpty(_) => {
                Self::internal("the ledger", e)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The most of a plain-text error body [`json_errors`] reads.
const MAX_ERROR_TEXT: usize = 16 * 1024;

/// Gives every error answer the JSON body `{"error"}`, keeping its status and headers
/// (`Allow` on a 405): the framework's own rejections (a malformed JSON body, query or
/// path, a wrong method) come as plain text or empty. A server error's text is logged
/// and answered with the status's reason only. A body of unknown length (streamed) is
/// left as it is, never waited for.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    let json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let sized = axum::body::HttpBody::size_hint(res.body())
        .exact()
        .is_some();
    if json || !sized || !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, MAX_ERROR_TEXT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let reason = status.canonical_reason().unwrap_or("error").to_string();
    let error = if status.is_server_error() {
        tracing::error!(status = status.as_u16(), error = %text, "an error outside the API's handlers");
        reason
    } else if text.is_empty() {
        reason
    } else {
        text
    };
    let body = serde_json::to_vec(&ErrorBody { error }).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body))
}
