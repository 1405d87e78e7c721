//! `POST /v1/backup`: a consistent copy, streamed as a tar.

use super::*;

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
    let body = blocking_body("backup", move |w| {
        let packed = crate::ledger::backup::tar::pack(&tmp.path().join("ledger"), w);
        drop(tmp);
        packed.map(|_| ())
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-tar".to_string()),
            (header::HeaderName::from_static("blotter-backup"), header),
        ],
        body,
    )
        .into_response())
}
