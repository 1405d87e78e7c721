//! `POST /v1/archives`: an archive export (admin), written by the server into a hidden
//! file in the ledger folder, then streamed to the client and removed. The body is the
//! export's summary as one JSON line, then the archive's bytes.

use super::*;
use crate::api::ExportRequest;
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

/// The name prefix of the server's copies of exports in the ledger folder.
pub const EXPORT_PREFIX: &str = ".export-";

/// Removes what a daemon killed during an export left in the ledger folder `dir`.
pub fn remove_leftover_exports(dir: &std::path::Path) {
    let Ok(list) = std::fs::read_dir(dir) else {
        return;
    };
    for e in list.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(EXPORT_PREFIX) || name.starts_with(".blotter-archive-") {
            if let Err(err) = std::fs::remove_file(e.path()) {
                tracing::warn!(file = %name, error = %err, "could not remove a leftover export");
            }
        }
    }
}

/// Removes the server's copy of an export however its streaming ends.
struct Remove(std::path::PathBuf);

impl Drop for Remove {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Exports as `archive export` does, then streams its summary (BLAKE3, size, records,
/// checkpoint) as one JSON line and the file after it, for the client to check what it
/// received. Under the read lock when a checkpoint is kept at the head; otherwise alone
/// with the ledger, signing one first with the daemon's ledger key. The file is removed
/// however this ends, also when the client goes away while the export runs (the export
/// returns it with its guard, which the runtime drops if nobody waits).
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
    // A sealed or confidential record leaves the daemon only to a supervisor or auditor,
    // after their own signed access change (DESIGN.md); an export logs none, so the daemon
    // exports none of them: one named (or asked for with `include_restricted`) is
    // refused, and `--type` leaves them out as it does locally. The records found here
    // are what is exported, so the selection is not worked out twice.
    let asked = req.include_restricted;
    let (dir, ids) = st
        .read(move |l| {
            let mut ids = Vec::new();
            for id in archive::export::select(l, &selection, true).map_err(archive_error)? {
                let r = l.record(&id)?.ok_or_else(|| {
                    ApiError::not_found(format!("record {} not found", hex::encode(id)))
                })?;
                let by_type = matches!(selection, archive::Selection::ClosedBefore { .. });
                match (r.restricted(), by_type && !asked) {
                    (false, _) => ids.push(id),
                    (true, true) => {}
                    (true, false) => {
                        return Err(ApiError::forbidden(format!(
                            "record {} is {}: sealed and confidential records are not exported through the daemon, which could log no access for them; export them where the ledger folder is",
                            hex::encode(id),
                            if r.sealed { "sealed" } else { "confidential" }
                        )))
                    }
                }
            }
            if ids.is_empty() {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "the selection names no record that can be exported",
                ));
            }
            Ok((l.dir().to_path_buf(), ids))
        })
        .await?;
    let out: std::path::PathBuf = dir.join(format!(
        "{EXPORT_PREFIX}{}.age",
        hex::encode(crate::crypto::random::<16>())
    ));
    let opts = ExportOptions {
        out,
        selection: archive::Selection::Records(ids),
        recipients: archive::export::Recipients::X25519(recipients),
        include_restricted: false,
        ledger_key: st.ledger_key.clone(),
        compression_workers: COMPRESSION_WORKERS,
    };
    let first = st
        .read(
            move |l| match checkpoint_at_head(l).map_err(archive_error)? {
                true => {
                    let x = export_at(l, &opts, &|_, _| {}).map_err(archive_error)?;
                    Ok(Ok((Remove(opts.out.clone()), x)))
                }
                false => Ok(Err(opts)),
            },
        )
        .await?;
    let (guard, x): (Remove, Exported) = match first {
        Ok(done) => done,
        Err(opts) => st
            .writer
            .exclusive(move |l| {
                archive::export(l, &opts, &|_, _| {}).map(|x| (Remove(opts.out.clone()), x))
            })
            .await
            .map_err(|_| ApiError::unavailable("the daemon is shutting down"))?
            .map_err(archive_error)?,
    };
    let file = std::fs::File::open(&guard.0).map_err(|e| ApiError::internal("the export", e))?;
    let summary = Exported {
        path: Default::default(),
        ..x
    };
    let mut line =
        serde_json::to_string(&summary).map_err(|e| ApiError::internal("the export", e))?;
    line.push('\n');
    let body = blocking_body("archive export", move |w| {
        let _guard = guard;
        w.write_all(line.as_bytes())?;
        let mut file = std::io::BufReader::with_capacity(1 << 20, file);
        std::io::copy(&mut file, w).map(|_| ())
    });
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response())
}
