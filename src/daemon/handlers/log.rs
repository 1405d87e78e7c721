//! The log: the ledger, keys, entries, verify, checkpoints, proofs, entry bundles.

use super::*;

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
    let t = crate::daemon::public::parse_tile(&format!("tile/entries/{path}"))?;
    crate::daemon::public::serve_tile(&st, t).await
}

/// Registered witnesses (`witness list`).
pub async fn witnesses(State(st): State<AppState>) -> ApiResult<Json<Value>> {
    st.read(|l| Ok(Json(json!(l.witnesses()?)))).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CosignRequest {
    note: String,
}

/// Keeps registered witnesses' cosignatures on a kept checkpoint (`checkpoint cosign`);
/// the note must carry the ledger's own signature and at least one registered witness's.
pub async fn cosign(
    State(st): State<AppState>,
    Json(req): Json<CosignRequest>,
) -> ApiResult<Json<crate::ledger::checkpoint::Cosigned>> {
    let c = st.exclusive(move |l| l.add_cosignatures(&req.note)).await?;
    Ok(Json(c))
}
