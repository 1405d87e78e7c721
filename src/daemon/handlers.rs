//! The authenticated routes' handlers. Each reads under the ledger's read lock on a
//! blocking thread, or writes through the single writer; none holds the ledger while it
//! streams a body.

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
    hex::decode(s)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| ApiError::bad_request(format!("{s:?} is not a record id (32 hex digits)")))
}

fn parse_hash(s: &str, what: &str) -> ApiResult<[u8; 32]> {
    crate::crypto::parse_hex32(s)
        .ok_or_else(|| ApiError::bad_request(format!("{s:?} is not a {what} (64 hex digits)")))
}

pub async fn ledger_info(State(st): State<AppState>) -> ApiResult<Json<LedgerInfo>> {
    st.read(|l| {
        let h = l.head();
        Ok(Json(LedgerInfo {
            origin: l.origin().to_string(),
            size: h.size,
            head: hex::encode(h.hash),
            verifier_key: l.verifier_key()?,
        }))
    })
    .await
}

pub async fn whoami(Extension(c): Who) -> Json<Value> {
    Json(json!({"key": hex::encode(c.key), "person": c.person, "role": c.role.to_string()}))
}

pub async fn keys(State(st): State<AppState>) -> ApiResult<Json<Value>> {
    st.read(|l| {
        let mut keys: Vec<_> = l.keys().cloned().collect();
        keys.sort_by_key(|k| k.registered);
        Ok(Json(json!(keys)))
    })
    .await
}

/// Appends the caller's signed changes. Each must be signed by the caller's own key and
/// be an action the caller's role may sign (403 otherwise); the ledger checks every other
/// rule at append (409 with its reason). A change already recorded is a success.
pub async fn append(
    State(st): State<AppState>,
    Extension(c): Who,
    Json(req): Json<AppendRequest>,
) -> ApiResult<Json<AppendResponse>> {
    if req.submissions.is_empty() || req.submissions.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "a request carries 1 to {MAX_BATCH} changes"
        )));
    }
    // Decoding and strict signature checks of up to MAX_BATCH changes run on a blocking
    // thread, not on the async workers that serve every other request.
    let caller = c.clone();
    let (checked, keys_changed) = tokio::task::spawn_blocking(move || check_changes(&caller, req))
        .await
        .map_err(|e| ApiError::internal("checking the changes", e))??;
    // Only now are uploads taken from the staged list, so that a refused request leaves
    // them there for a retry.
    let mut subs = Vec::with_capacity(checked.len());
    let mut used_blobs = Vec::new();
    for (i, (mut sub, blob)) in checked.into_iter().enumerate() {
        if let Some((record, b)) = blob {
            match st.take_staged(&c.key, &record, &b) {
                Some(staged) => {
                    used_blobs.push(staged.clone());
                    sub.attachment = Some(staged);
                }
                None => {
                    for b in used_blobs {
                        st.put_staged(c.key, b);
                    }
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        format!(
                            "change {i}: blob {} was not uploaded by this caller to record {}",
                            hex::encode(b),
                            hex::encode(record)
                        ),
                    ));
                }
            }
        }
        subs.push(sub);
    }
    let res = st.write(subs, keys_changed).await;
    if res.is_err() {
        // Let the caller retry the attach with the same upload.
        for b in used_blobs {
            st.put_staged(c.key, b);
        }
    }
    let (outcomes, head) = res?;
    Ok(Json(AppendResponse {
        outcomes: outcomes.into_iter().map(OutcomeWire::from).collect(),
        head,
    }))
}

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
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(16);
    tokio::task::spawn_blocking(move || {
        let res = reader.stream(|chunk| {
            tx.blocking_send(Ok(bytes::Bytes::copy_from_slice(chunk)))
                .map_err(|_| std::io::Error::other("the client went away"))
        });
        if let Err(e) = res {
            tracing::warn!(error = %e, "attachment stream aborted");
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from_stream(stream),
    )
        .into_response())
}

pub async fn entry(State(st): State<AppState>, Path(seq): Path<u64>) -> ApiResult<Response> {
    let bytes = st
        .read(move |l| {
            l.entry_bytes(seq)?
                .ok_or_else(|| ApiError::not_found(format!("entry {seq} is not in the log")))
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    #[serde(default)]
    pub from: u64,
    /// `SIZE:HASH` the auditor holds.
    #[serde(default)]
    pub expect_head: Option<(u64, String)>,
    /// A checkpoint note the auditor holds, with the verifier key to check it.
    #[serde(default)]
    pub checkpoint: Option<String>,
    #[serde(default)]
    pub ledger_key: Option<String>,
}

pub async fn verify(
    State(st): State<AppState>,
    body: Option<Json<VerifyRequest>>,
) -> ApiResult<Json<Value>> {
    let req = body.map(|Json(r)| r).unwrap_or_default();
    let expect_head = match req.expect_head {
        None => None,
        Some((size, h)) => Some((size, parse_hash(&h, "head hash")?)),
    };
    let opts = VerifyOptions {
        from: req.from,
        expect_head,
        checkpoint: req.checkpoint,
        ledger_key: req.ledger_key,
    };
    st.read(move |l| Ok(Json(json!(l.verify(&opts, &|_| {})?))))
        .await
}

pub async fn checkpoints(State(st): State<AppState>) -> ApiResult<Json<Value>> {
    st.read(|l| {
        let rows: Vec<_> = l
            .checkpoints()?
            .iter()
            .map(|k| {
                let sigs =
                    crate::merkle::note::Note::parse(&k.note).map_or(0, |n| n.signatures().len());
                json!({"size": k.size, "signatures": sigs})
            })
            .collect();
        Ok(Json(json!(rows)))
    })
    .await
}

pub async fn checkpoint_now(State(st): State<AppState>) -> ApiResult<Json<Value>> {
    let kept = st.checkpoint().await?;
    Ok(Json(json!({"size": kept.size, "note": kept.note})))
}

pub async fn checkpoint_show(
    State(st): State<AppState>,
    Path(size): Path<String>,
) -> ApiResult<Json<Value>> {
    let size = match size.as_str() {
        "latest" => None,
        s => Some(
            s.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("{s:?} is not a tree size")))?,
        ),
    };
    st.read(move |l| {
        let k = l.kept_checkpoint(size).map_err(|e| match e {
            crate::ledger::LedgerError::Invalid(m) => ApiError::not_found(m),
            e => e.into(),
        })?;
        Ok(Json(json!({"size": k.size, "note": k.note})))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    seq: u64,
    size: Option<u64>,
}

pub async fn inclusion(
    State(st): State<AppState>,
    Query(q): Query<InclusionQuery>,
) -> ApiResult<Json<Value>> {
    st.read(move |l| {
        let (size, text) = l.inclusion_text(q.seq, q.size)?;
        Ok(Json(json!({"seq": q.seq, "size": size, "proof": text})))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    from: u64,
    to: Option<u64>,
}

pub async fn consistency(
    State(st): State<AppState>,
    Query(q): Query<ConsistencyQuery>,
) -> ApiResult<Json<Value>> {
    st.read(move |l| {
        let (size, text) = l.consistency_text(q.from, q.to)?;
        Ok(Json(json!({"from": q.from, "to": size, "proof": text})))
    })
    .await
}

/// An entry bundle, `tile/entries/<N>[.p/<W>]`: the log's entries, so authenticated.
pub async fn entry_tile(
    State(st): State<AppState>,
    Path(path): Path<String>,
) -> ApiResult<Response> {
    let t = super::public::parse_tile(&format!("tile/entries/{path}"))?;
    super::public::serve_tile(&st, t).await
}

/// A consistent copy of the ledger, made under the read lock (writes wait), then
/// streamed as a tar with the lock released; the summary is in the `blotter-backup`
/// header. The copy is made beside the ledger folder and removed afterwards.
pub async fn backup(State(st): State<AppState>) -> ApiResult<Response> {
    let (tmp, summary) = st
        .read(|l| {
            let parent = l
                .dir()
                .parent()
                .map(std::path::Path::to_path_buf)
                .unwrap_or_else(|| ".".into());
            let tmp = tempfile::Builder::new()
                .prefix(".blotter-backup-")
                .tempdir_in(&parent)
                .map_err(|e| ApiError::internal("the backup", e))?;
            let summary = l.backup(&tmp.path().join("ledger"), &|_| {})?;
            Ok((tmp, summary))
        })
        .await?;
    // The server's temporary folder is not the caller's business.
    let mut summary = summary;
    summary.dest = std::path::PathBuf::new();
    let header =
        serde_json::to_string(&summary).map_err(|e| ApiError::internal("the backup", e))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(16);
    tokio::task::spawn_blocking(move || {
        let w = ChannelWriter(tx.clone());
        if let Err(e) = crate::ledger::backup::tar::pack(&tmp.path().join("ledger"), w) {
            tracing::warn!(error = %e, "backup stream aborted");
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
        drop(tmp);
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-tar".to_string()),
            (header::HeaderName::from_static("blotter-backup"), header),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// A blocking writer into a response body's channel.
struct ChannelWriter(tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(bytes::Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::other("the client went away"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub async fn schedules(State(st): State<AppState>) -> ApiResult<Json<Value>> {
    st.read(|l| Ok(Json(json!(l.schedules()?)))).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleUpload {
    name: String,
    text: String,
}

/// Checks a schedule file and stores it as a document (content-addressed, durable);
/// the caller's `schedule.adopt` change then commits to its hash.
pub async fn schedule_document(
    State(st): State<AppState>,
    Json(up): Json<ScheduleUpload>,
) -> ApiResult<Json<Value>> {
    crate::ledger::schedules::check(&up.name, &up.text)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    st.read(move |l| {
        let document = l.put_document(up.text.as_bytes())?;
        Ok(Json(json!({"document": hex::encode(document)})))
    })
    .await
}

pub async fn holds(State(st): State<AppState>) -> ApiResult<Json<Value>> {
    st.read(|l| Ok(Json(json!(l.holds()?)))).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindQuery {
    kind: String,
}

pub async fn authorities(
    State(st): State<AppState>,
    Query(q): Query<KindQuery>,
) -> ApiResult<Json<Value>> {
    if !matches!(q.kind.as_str(), "purge-plan" | "disposal-order") {
        return Err(ApiError::bad_request(
            "kind is purge-plan or disposal-order",
        ));
    }
    st.read(move |l| Ok(Json(json!(l.authority_rows(&q.kind)?))))
        .await
}

pub async fn authority(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let rid = parse_id(&id)?;
    st.read(move |l| Ok(Json(l.plan_value(&rid)?))).await
}

pub async fn certificate(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let rid = parse_id(&id)?;
    st.read(move |l| Ok(Json(l.certificate_value(&rid)?))).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    as_of: Option<String>,
}

/// The retention report as JSON lines: `{"as_of", "schedule"}`, one outcome per record,
/// then `{"summary": …}` (or `{"error": …}` if it fails part way). It runs under the
/// read lock on a blocking thread and streams as it goes.
pub async fn retention_report(
    State(st): State<AppState>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let given = match q.as_of {
        None => None,
        Some(d) => Some(d.parse::<jiff::civil::Date>().map_err(|e| {
            ApiError::bad_request(format!("as_of {d:?}: expected YYYY-MM-DD ({e})"))
        })?),
    };
    let (head, schedule, adopted, date) = st
        .read(move |l| {
            let date = match given {
                Some(d) => d,
                None => jiff::Zoned::now()
                    .with_time_zone(l.policy()?.time_zone.clone())
                    .date(),
            };
            let (adopted, schedule) = l.schedule_in_force()?.ok_or_else(|| {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "no retention schedule is adopted; run `blotter schedule adopt FILE` first",
                )
            })?;
            let head = json!({"as_of": date.to_string(), "schedule": adopted});
            Ok((head, schedule, adopted, date))
        })
        .await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(64);
    let ledger = st.ledger.clone();
    tokio::task::spawn_blocking(move || {
        let send = |v: Value| {
            let mut line = v.to_string();
            line.push('\n');
            tx.blocking_send(Ok(bytes::Bytes::from(line)))
                .map_err(|_| crate::ledger::LedgerError::Invalid("the client went away".into()))
        };
        if send(head).is_err() {
            return;
        }
        let l = match ledger.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let mut n = 0u64;
        let res = l.retention_report(&schedule, date, &mut |o| {
            n += 1;
            send(json!(o))
        });
        let last = match res {
            Ok(by_status) => {
                json!({"summary": {"as_of": date.to_string(), "schedule": adopted, "records": n, "by_status": by_status}})
            }
            Err(e) => json!({"error": e.to_string()}),
        };
        let _ = send(last);
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// A checked submission and the staged upload it attaches (record, blob), if any.
type Checked = (crate::ledger::Submission, Option<([u8; 16], [u8; 32])>);

/// Checks each change of a request: well formed, no source reference, signed by the
/// caller's own key with a strictly valid signature, an action the caller's role may
/// sign. Returns them marked `trusted` (checked), and whether any touches keys.
fn check_changes(c: &Caller, req: AppendRequest) -> ApiResult<(Vec<Checked>, bool)> {
    let mut checked = Vec::with_capacity(req.submissions.len());
    let mut keys_changed = false;
    for (i, w) in req.submissions.into_iter().enumerate() {
        let (mut sub, blob) = w
            .into_submission()
            .map_err(|e| ApiError::bad_request(format!("change {i}: {e}")))?;
        if sub.source.is_some() {
            return Err(ApiError::bad_request(format!(
                "change {i}: source references are recorded only by `blotter import`, which runs where the ledger is"
            )));
        }
        let sc = SignedChange::decode(&sub.signed)
            .map_err(|e| ApiError::bad_request(format!("change {i}: malformed: {e}")))?;
        let change = &sc.change;
        if change.actor != c.key {
            return Err(ApiError::forbidden(format!(
                "change {i}: signed by key {}, not by the caller's key; a client sends only changes it signed",
                hex::encode(change.actor)
            )));
        }
        if !crate::ledger::authority::allowed(c.role, &change.action) {
            return Err(ApiError::forbidden(format!(
                "change {i}: a key of role {} may not sign {}",
                c.role,
                change.action.name()
            )));
        }
        // Checked here, on the request's own thread, so that the single writer does not
        // spend its time on signatures; `trusted` then tells the ledger it was checked.
        if !crate::crypto::verify_change(&change.actor, sc.change_bytes(), &sc.signature()) {
            return Err(ApiError::bad_request(format!(
                "change {i}: bad signature by key {}",
                hex::encode(change.actor)
            )));
        }
        sub.trusted = true;
        keys_changed |= matches!(
            change.action,
            Action::KeyRegister { .. } | Action::KeyRevoke { .. }
        );
        checked.push((sub, blob.map(|b| (change.record, b))));
    }
    Ok((checked, keys_changed))
}
