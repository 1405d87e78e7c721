//! Purge plans and disposal orders: kept documents, listing, application, certificates.
//! The server keeps each document and lists what to change; the client checks and signs
//! every change (`ledger::apply`), so these routes never sign anything themselves.

use super::*;
use crate::ledger::apply::{Finish, Offered, Targets};
use crate::ledger::RecordState;

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
pub struct PlanRequest {
    as_of: String,
}

/// Builds and keeps the plan as of `as_of`, planned by the caller, for the caller to
/// check and commit to with a signed `purge.plan` change.
pub async fn keep_plan(
    State(st): State<AppState>,
    Extension(c): Who,
    Json(req): Json<PlanRequest>,
) -> ApiResult<Json<Offered>> {
    let as_of: crate::format::Date = req
        .as_of
        .parse()
        .map_err(|e| ApiError::bad_request(format!("as_of {:?}: {e}", req.as_of)))?;
    st.read(move |l| Ok(Json(l.keep_plan(as_of, &c.person)?.0)))
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    court_order: String,
    action: String,
    records: Vec<String>,
}

/// Keeps a court order's document, recorded by the caller, for the caller to check and
/// commit to with a signed `order.record` change.
pub async fn keep_order(
    State(st): State<AppState>,
    Extension(c): Who,
    Json(req): Json<OrderRequest>,
) -> ApiResult<Json<Offered>> {
    let ids = req
        .records
        .iter()
        .map(|r| parse_id(r))
        .collect::<ApiResult<Vec<_>>>()?;
    st.read(move |l| {
        for id in &ids {
            if l.record(id)?.is_none() {
                return Err(ApiError::not_found(format!(
                    "record {} not found",
                    hex::encode(id)
                )));
            }
        }
        Ok(Json(
            l.keep_order(&req.court_order, &req.action, &ids, &c.person)?
                .0,
        ))
    })
    .await
}

/// What an approved plan or order calls for now (`ledger::apply`, step 1).
pub async fn targets(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Targets>> {
    let rid = parse_id(&id)?;
    st.read(move |l| Ok(Json(l.disposition_targets(&rid)?)))
        .await
}

/// Destroys the data of the authority's disposed records and, when it is done, keeps
/// its certificate, applied by the caller (`ledger::apply`, step 3). Runs between
/// write groups.
pub async fn finish(
    State(st): State<AppState>,
    Extension(c): Who,
    Path(id): Path<String>,
) -> ApiResult<Json<Finish>> {
    let rid = parse_id(&id)?;
    let person = c.person.clone();
    let f = st
        .exclusive(move |l| l.finish_disposition(&rid, &person))
        .await?;
    Ok(Json(f))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatesRequest {
    ids: Vec<String>,
}

/// The states of several records, in order (a missing one is 404).
pub async fn states(
    State(st): State<AppState>,
    Json(req): Json<StatesRequest>,
) -> ApiResult<Json<Vec<RecordState>>> {
    if req.ids.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_BATCH} records per request"
        )));
    }
    let ids = req
        .ids
        .iter()
        .map(|r| parse_id(r))
        .collect::<ApiResult<Vec<_>>>()?;
    st.read(move |l| Ok(Json(l.states(&ids)?))).await
}

/// A kept document (schedule, plan, order, certificate) by its BLAKE3.
pub async fn document(State(st): State<AppState>, Path(hash): Path<String>) -> ApiResult<Response> {
    let h = parse_hash(&hash, "document hash")?;
    let bytes = st.read(move |l| Ok(l.document(&h)?)).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}

/// What an approved plan has left to transfer now (`archive transfer`, admin).
pub async fn transfer_targets(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<crate::api::TransferTargetsWire>> {
    let rid = parse_id(&id)?;
    st.read(move |l| {
        Ok(Json(crate::api::TransferTargetsWire::from_targets(
            &l.transfer_targets(&rid)?,
        )))
    })
    .await
}

/// After the caller's transfer entries are durable: destroys the live copies of every
/// record of the plan whose transfer (or disposal) entry left it pending.
pub async fn transfer_finish(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let rid = parse_id(&id)?;
    let destroyed = st
        .exclusive(move |l| {
            l.transfer_targets(&rid)?;
            l.finish_destruction(&rid)
        })
        .await?;
    Ok(Json(json!({ "destroyed": destroyed })))
}
