//! `POST /v1/archives`: an archive export (admin), written by the server into a hidden
//! file in the ledger folder, then streamed to the client and removed.

use super::*;
use crate::api::{ExportRequest, EXPORT_HEADER};
use crate::archive::export::{checkpoint_at_head, export_at, COMPRESSION_WORKERS};
use crate::archive::{self, ArchiveError, ExportOptions, Exported};

fn archive_error(e: ArchiveError) -> ApiError {
    match e {
        ArchiveError::Ledger(e) => e.into(),
        ArchiveError::Unusable(m) | ArchiveError::Wrong(m) => {
            ApiError::new(StatusCode::CONFLICT, m)
        }
        e => ApiError::internal("the export", e),
    }
}

/// Removes the server's copy of an export however its streaming ends.
struct Remove(std::path::PathBuf);

impl Drop for Remove {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Exports as `archive export` does, then streams the file; its summary (BLAKE3, size,
/// records, checkpoint) is in the `blotter-export` header, for the client to check what
/// it received. Under the read lock when a checkpoint is kept at the head; otherwise
/// alone with the ledger, signing one first with the daemon's ledger key.
pub async fn export(
    State(st): State<AppState>,
    Json(req): Json<ExportRequest>,
) -> ApiResult<Response> {
    let selection = req
        .selection
        .into_selection()
        .map_err(ApiError::bad_request)?;
    if req.recipients.is_empty() {
        return Err(ApiError::bad_request(
            "an export needs at least one age recipient",
        ));
    }
    let recipients = archive::keys_io::recipients(&req.recipients)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let dir = st.read(|l| Ok(l.dir().to_path_buf())).await?;
    let out = dir.join(format!(
        ".export-{}.age",
        hex::encode(crate::crypto::random::<16>())
    ));
    let opts = ExportOptions {
        out: out.clone(),
        selection,
        recipients: archive::export::Recipients::X25519(recipients),
        include_restricted: req.include_restricted,
        ledger_key: st.ledger_key.clone(),
        compression_workers: COMPRESSION_WORKERS,
    };
    let first = st
        .read(
            move |l| match checkpoint_at_head(l).map_err(archive_error)? {
                true => Ok(Ok(export_at(l, &opts, &|_, _| {}).map_err(archive_error)?)),
                false => Ok(Err(opts)),
            },
        )
        .await?;
    let x: Exported = match first {
        Ok(x) => x,
        Err(opts) => st
            .writer
            .exclusive(move |l| archive::export(l, &opts, &|_, _| {}))
            .await
            .map_err(|_| ApiError::unavailable("the daemon is shutting down"))?
            .map_err(archive_error)?,
    };
    let guard = Remove(out);
    let file = std::fs::File::open(&guard.0).map_err(|e| ApiError::internal("the export", e))?;
    let summary = Exported {
        path: Default::default(),
        ..x
    };
    let header =
        serde_json::to_string(&summary).map_err(|e| ApiError::internal("the export", e))?;
    let body = blocking_body("archive export", move |w| {
        let _guard = guard;
        let mut file = std::io::BufReader::with_capacity(1 << 20, file);
        std::io::copy(&mut file, w).map(|_| ())
    });
    Ok(([(EXPORT_HEADER, header)], body).into_response())
}
