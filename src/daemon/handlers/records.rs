//! Records: listing, state, history, content (restricted reads logged first), and
//! attachments streamed in and out.

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(rename = "type")]
    record_type: Option<String>,
    status: Option<String>,
    case: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

pub async fn list(
    State(st): State<AppState>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let date = |s: Option<String>| -> ApiResult<_> {
        s.map(|d| {
            d.parse()
                .map_err(|e| ApiError::bad_request(format!("{d:?}: {e}")))
        })
        .transpose()
    };
    let f = ListFilter {
        record_type: q.record_type,
        status: q.status,
        case_number: q.case,
        created_from: date(q.from)?,
        created_to: date(q.to)?,
        internal: false,
    };
    st.read(move |l| Ok(Json(json!(l.list(&f)?)))).await
}

pub async fn record(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let rid = parse_id(&id)?;
    st.read(move |l| match l.record(&rid)? {
        Some(s) => Ok(Json(json!(s))),
        None => Err(ApiError::not_found(format!("record {id} not found"))),
    })
    .await
}

pub async fn history(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let rid = parse_id(&id)?;
    st.read(move |l| Ok(Json(json!(l.history(&rid)?)))).await
}

pub async fn attachments(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let rid = parse_id(&id)?;
    st.read(move |l| {
        let list = l.attachments(&rid)?;
        let v: Vec<_> = list
            .iter()
            .map(|(c, b, s)| json!({"change": hex::encode(c), "blob": hex::encode(b), "size": s}))
            .collect();
        Ok(Json(json!(v)))
    })
    .await
}

/// For a restricted record: checks that the caller may read it and appends their access
/// change (durably) naming exactly `read`. Returns the access entry's sequence number.
async fn log_restricted_read(
    st: &AppState,
    c: &Caller,
    id: &[u8; 16],
    (target, read): (AccessTarget, &[u8; 32]),
    req: ReadRequest,
    what: &str,
) -> ApiResult<u64> {
    c.require(&[Role::Supervisor, Role::Auditor]).map_err(|_| {
        ApiError::forbidden(format!(
            "record {} is sealed or confidential: only a supervisor or auditor may read its {what}",
            hex::encode(id)
        ))
    })?;
    let wire = req.access.ok_or_else(|| {
        ApiError::forbidden(format!(
            "record {} is sealed or confidential: reading it is logged; send your signed access change",
            hex::encode(id)
        ))
    })?;
    let (sub, _) = wire.into_submission().map_err(ApiError::bad_request)?;
    if sub.source.is_some() || sub.attachment.is_some() {
        return Err(ApiError::bad_request(
            "an access change carries no source or attachment",
        ));
    }
    crate::ledger::read::check_access(id, target, read, &sub)?;
    let sc = SignedChange::decode(&sub.signed)
        .map_err(|e| ApiError::bad_request(format!("access change: {e}")))?;
    if sc.change.actor != c.key {
        return Err(ApiError::forbidden(
            "the access change must be signed by the caller's own key",
        ));
    }
    let (outcomes, _) = st.write(vec![sub], false).await?;
    match outcomes.first() {
        Some(crate::ledger::Outcome::Appended(seq)) => Ok(*seq),
        Some(crate::ledger::Outcome::AlreadyRecorded(s)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("this access change was already used at entry {s}; sign a new one"),
        )),
        None => Err(ApiError::internal("logging the read", "no outcome")),
    }
}

pub async fn content(
    State(st): State<AppState>,
    Extension(c): Who,
    Path(id): Path<String>,
    body: Option<Json<ReadRequest>>,
) -> ApiResult<Json<ContentResponse>> {
    let rid = parse_id(&id)?;
    let req = body.map(|Json(r)| r).unwrap_or_default();
    // An ordinary record is checked and read under one lock, so that a seal appended
    // meanwhile cannot slip between the check and the read.
    let first = st
        .read(move |l| {
            let (state, content) = l.readable_content(&rid)?;
            if state.restricted() {
                return Ok(Err(content));
            }
            Ok(Ok(ContentResponse {
                content: crate::api::b64(&l.open_content(&rid, &content)?),
                case_number: l.case_number(&rid)?,
                logged_at: None,
            }))
        })
        .await?;
    let content = match first {
        Ok(answer) => return Ok(Json(answer)),
        Err(content) => content,
    };
    let target = (AccessTarget::Payload, &content);
    let logged_at = Some(log_restricted_read(&st, &c, &rid, target, req, "content").await?);
    st.read(move |l| {
        let bytes = l.open_content(&rid, &content)?;
        Ok(Json(ContentResponse {
            content: crate::api::b64(&bytes),
            case_number: l.case_number(&rid)?,
            logged_at,
        }))
    })
    .await
}

/// Streams an upload into the blobs folder, sealed on the way, with the caller's salt;
/// checks the signed Content-Digest at the end and discards the blob if it differs.
pub async fn upload(
    State(st): State<AppState>,
    Extension(c): Who,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<StagedWire>> {
    use futures_util::TryStreamExt;
    let rid = parse_id(&id)?;
    let salt = headers
        .get(SALT_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::crypto::parse_hex32)
        .ok_or_else(|| {
            ApiError::bad_request(format!("the {SALT_HEADER} header must hold 64 hex digits"))
        })?;
    let stager = st
        .read(move |l| {
            let s = l.record(&rid)?.ok_or_else(|| {
                ApiError::not_found(format!("record {} not found", hex::encode(rid)))
            })?;
            if s.disposed.is_some() {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!("record {} was disposed", hex::encode(rid)),
                ));
            }
            Ok(l.attachment_stager(&rid)?)
        })
        .await?;
    let stream = body
        .into_data_stream()
        .map_err(|e| std::io::Error::other(e.to_string()));
    let reader = tokio_util::io::StreamReader::new(stream);
    let expected = c.content_digest.clone();
    let staged = tokio::task::spawn_blocking(move || {
        let mut bridge = tokio_util::io::SyncIoBridge::new(reader);
        let mut digest = crate::httpsig::DigestWriter::new();
        let mut tee = Tee {
            inner: &mut bridge,
            digest: &mut digest,
        };
        let staged = stager.stage(&mut tee, salt)?;
        if digest.finish() != expected {
            stager.discard(&staged);
            return Err(ApiError::unauthorized(
                "the body does not match its signed Content-Digest",
            ));
        }
        Ok::<_, ApiError>(staged)
    })
    .await
    .map_err(|e| ApiError::internal("the upload", e))??;
    let wire = StagedWire::from(&staged);
    st.put_staged(c.key, staged);
    Ok(Json(wire))
}

struct Tee<'a, R> {
    inner: &'a mut R,
    digest: &'a mut crate::httpsig::DigestWriter,
}

impl<R: std::io::Read> std::io::Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digest.update(&buf[..n]);
        Ok(n)
    }
}

/// Streams an attachment out. The plaintext's commitment is checked as it streams; a
/// mismatch at the end aborts the body, so a client never sees a complete, bad file.
/// (The client cannot check it itself: the salt stays on the server.)
pub async fn download(
    State(st): State<AppState>,
    Extension(c): Who,
    Path((id, blob)): Path<(String, String)>,
    body: Option<Json<ReadRequest>>,
) -> ApiResult<Response> {
    let rid = parse_id(&id)?;
    let blob = parse_hash(&blob, "blob commitment")?;
    let req = body.map(|Json(r)| r).unwrap_or_default();
    // As for content: an ordinary record's reader is made under the same lock as the check.
    let first = st
        .read(move |l| {
            let (state, change) = l.readable_attachment(&rid, &blob)?;
            if state.restricted() {
                return Ok(Err(change));
            }
            Ok(Ok(l.blob_reader(&rid, &change, &blob)?))
        })
        .await?;
    let reader = match first {
        Ok(r) => r,
        Err(change) => {
            let target = (AccessTarget::Attachment, &change);
            log_restricted_read(&st, &c, &rid, target, req, "attachments").await?;
            st.read(move |l| Ok(l.blob_reader(&rid, &change, &blob)?))
                .await?
        }
    };
    let body = blocking_body("attachment", move |w| {
        reader.stream(|chunk| w.write_all(chunk)).map(|_| ())
    });
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response())
}
