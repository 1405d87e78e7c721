//! Schedules, holds and the retention report.

use super::*;

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
pub struct ReportQuery {
    as_of: Option<String>,
}

/// The retention report as JSON lines: `{"as_of", "schedule"}`, one outcome per record,
/// then `{"summary": …}` (or `{"error": …}` if it fails part way). It runs under the
/// read lock on a blocking thread and streams as it goes; a failure before the first
/// line (no schedule adopted) is an ordinary error answer.
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
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<ApiResult<()>>();
    let ledger = st.ledger.clone();
    let body = blocking_body("retention report", move |w| {
        let l = match ledger.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let started = std::cell::Cell::new(Some(started_tx));
        let res = l.report_in_force(
            given,
            &mut |adopted, date| {
                if let Some(s) = started.take() {
                    let _ = s.send(Ok(()));
                }
                w.line(&json!({"as_of": date.to_string(), "schedule": adopted}))
            },
            &mut |o| w.line(&json!(o)),
        );
        match (res, started.take()) {
            (Ok(summary), _) => w.line(&json!({ "summary": summary })),
            (Err(e), Some(s)) => {
                let _ = s.send(Err(e.into()));
                Ok(())
            }
            (Err(e), None) => w.line(&json!({"error": e.to_string()})),
        }
    });
    match started_rx.await {
        Ok(Ok(())) => Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(ApiError::internal(
            "the retention report",
            "it stopped before starting",
        )),
    }
}
