//! Authentication and roles, on every route but the public read side.
//!
//! A request is accepted only if, in this order: its RFC 9421 signature verifies in the
//! profile of `crate::httpsig` against the target URI the server reconstructs; its key is
//! registered and active (unknown, revoked or replaced: 401); its nonce is fresh (replay:
//! 401); its body matches the signed Content-Digest (401); and the key's role is one the
//! route allows (403). Role tables live in `routes.rs`; the ledger checks each signed
//! change's authority again when it is appended.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::AppState;
use crate::format::Role;
use crate::httpsig;
use ed25519_dalek::VerifyingKey;

/// The authenticated caller, in the request's extensions.
#[derive(Clone, Debug)]
pub struct Caller {
    pub key: [u8; 32],
    /// `key`, decompressed (for checking the caller's changes).
    pub vk: VerifyingKey,
    pub role: Role,
    pub person: String,
    /// The signed Content-Digest, for routes that stream their body and check it at the end.
    pub content_digest: String,
}

impl Caller {
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "a key of role {} may not do this; it needs one of: {}",
                self.role,
                roles
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }
}

/// The absolute target URI as the client signed it, with the path and query as
/// received. With a `public_url`, the Host must be its authority and the URI is built
/// from it; without one (loopback), from `http://` and the Host header.
fn target_uri(public: Option<&(String, String)>, req: &Request) -> Result<String, ApiError> {
    let host = req
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| ApiError::unauthorized("no Host header"))?;
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    match public {
        None => Ok(format!("http://{host}{pq}")),
        Some((scheme, authority)) => {
            if !host.eq_ignore_ascii_case(authority) {
                return Err(ApiError::unauthorized(format!(
                    "this daemon answers only requests for {authority}"
                )));
            }
            Ok(format!("{scheme}://{authority}{pq}"))
        }
    }
}

pub(crate) fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// The middleware: authenticates, checks the route's roles, buffers and checks the body
/// (except on streaming routes, which check the digest themselves).
pub async fn authenticate(State(st): State<AppState>, req: Request, next: Next) -> Response {
    match check(&st, req).await {
        Ok(req) => next.run(req).await,
        Err(e) => {
            if e.status == StatusCode::UNAUTHORIZED || e.status == StatusCode::FORBIDDEN {
                tracing::warn!(status = %e.status, reason = %e.message, "request refused");
            }
            e.into_response()
        }
    }
}

async fn check(st: &AppState, req: Request) -> Result<Request, ApiError> {
    let uri = target_uri(st.public.as_ref(), &req)?;
    // The key is looked up before any signature work: an unregistered one costs nothing.
    let mut found = None;
    let v = httpsig::verify_request_with(
        req.method().as_str(),
        &uri,
        req.headers(),
        now_secs(),
        |k| {
            let (ks, vk) = st.key(k).ok_or(httpsig::AuthError::UnknownKey)?;
            found = Some((ks, vk));
            Ok(vk)
        },
    )
    // An unregistered key and a bad signature get the same answer, so that a caller
    // without a private key cannot learn which public keys are registered.
    .map_err(|e| match e {
        httpsig::AuthError::UnknownKey | httpsig::AuthError::BadSignature => {
            ApiError::unauthorized("signature: it does not verify under a registered key")
        }
        e => ApiError::unauthorized(format!("signature: {e}")),
    })?;
    let (ks, vk) =
        found.ok_or_else(|| ApiError::unauthorized("the signing key is not registered"))?;
    if ks.revoked.is_some() {
        return Err(ApiError::unauthorized("the signing key is revoked"));
    }
    if ks.replaced.is_some() {
        return Err(ApiError::unauthorized(
            "the signing key was replaced by a newer key",
        ));
    }
    st.replay
        .check(&v.key, &v.nonce, v.created, now_secs())
        .map_err(|e| match e {
            httpsig::AuthError::ReplayCacheFull => ApiError::unavailable(e.to_string()),
            e => ApiError::unauthorized(e.to_string()),
        })?;
    let caller = Caller {
        vk,
        key: v.key,
        role: ks.role(),
        person: ks.person.clone(),
        content_digest: v.content_digest,
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let spec = super::routes::spec(req.method(), &route)
        .ok_or_else(|| ApiError::not_found("no such route"))?;
    caller.require(spec.roles)?;
    let (mut parts, body) = req.into_parts();
    let body = if spec.streams_body {
        body
    } else {
        let bytes = axum::body::to_bytes(body, crate::api::MAX_JSON_BODY)
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "the request body is over {} bytes",
                        crate::api::MAX_JSON_BODY
                    ),
                )
            })?;
        if httpsig::content_digest(&bytes) != caller.content_digest {
            return Err(ApiError::unauthorized(
                "the body does not match its signed Content-Digest",
            ));
        }
        Body::from(bytes)
    };
    parts.extensions.insert(Arc::new(caller));
    Ok(Request::from_parts(parts, body))
}
