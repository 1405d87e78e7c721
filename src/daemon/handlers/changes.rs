//! `POST /v1/changes`: the caller's signed changes, checked, then group-committed.

use super::*;

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
    // Decoding and strict signature checks of a large request run on a blocking thread,
    // not on the async workers that serve every other request; a small one (a few
    // signatures, well under a millisecond) is checked in place, saving two thread hops.
    let (checked, keys_changed) = if req.submissions.len() <= INLINE_CHECKS {
        check_changes(&c, req)?
    } else {
        let caller = c.clone();
        tokio::task::spawn_blocking(move || check_changes(&caller, req))
            .await
            .map_err(|e| ApiError::internal("checking the changes", e))??
    };
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
/// Requests with at most this many changes are checked on the async worker itself.
const INLINE_CHECKS: usize = 8;

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
        if !crate::crypto::verify_change_with(&c.vk, sc.change_bytes(), &sc.signature()) {
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
