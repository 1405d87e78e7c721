//! Background jobs: a checkpoint on a timer (when the log grew), a retention report
//! written to a folder on a timer, an online backup into a folder on a timer (writes
//! wait while it is taken). Each failure is logged and retried at the next tick;
//! none stops the daemon.

use std::path::Path;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::{AppState, Config};

/// Starts the configured jobs; the caller aborts them at shutdown.
pub fn start(state: AppState, config: &Config) -> Vec<JoinHandle<()>> {
    let mut jobs = Vec::new();
    if config.checkpoint_secs > 0 && state.ledger_key.is_some() {
        let st = state.clone();
        let every = Duration::from_secs(config.checkpoint_secs);
        jobs.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                checkpoint_if_grown(&st).await;
            }
        }));
    }
    if let Some(r) = &config.report {
        let st = state.clone();
        let dir = r.dir.clone();
        let every = Duration::from_secs(r.every_secs);
        jobs.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let dir = dir.clone();
                match st.read(move |l| Ok(write_report(l, &dir))).await {
                    Ok(Ok(path)) => tracing::info!(file = %path, "retention report written"),
                    Ok(Err(e)) => tracing::error!(error = %e, "retention report failed"),
                    Err(e) => tracing::error!(error = %e.message, "retention report failed"),
                }
            }
        }));
    }
    if let Some(b) = &config.backup {
        let st = state.clone();
        let dir = b.dir.clone();
        let every = Duration::from_secs(b.every_secs);
        jobs.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await; // not at start: a backup is taken after the first period
            loop {
                tick.tick().await;
                let dir = dir.clone();
                let res = st
                    .read(move |l| {
                        let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ").to_string();
                        std::fs::create_dir_all(&dir)
                            .map_err(|e| super::ApiError::internal("the backup job", e))?;
                        Ok(l.backup(&dir.join(format!("backup-{stamp}")), &|_| {})?)
                    })
                    .await;
                match res {
                    Ok(s) => tracing::info!(dest = %s.dest.display(), entries = s.entries, "backup written"),
                    Err(e) => tracing::error!(error = %e.message, "backup failed"),
                }
            }
        }));
    }
    jobs
}

async fn checkpoint_if_grown(st: &AppState) {
    let grown = st
        .read(|l| {
            let kept = l.latest_checkpoint()?.map_or(0, |k| k.size);
            Ok(l.head().size > kept)
        })
        .await;
    if let Ok(true) = grown {
        match st.checkpoint().await {
            Ok(k) => tracing::info!(size = k.size, "checkpoint signed"),
            Err(e) => tracing::error!(error = %e.message, "checkpoint failed"),
        }
    }
}

/// Writes `retention-YYYY-MM-DD.json` (the `retention report --json` document) into
/// `dir` as the report streams, through a temporary file, fsynced and renamed.
pub(crate) fn write_report(l: &crate::ledger::Ledger, dir: &Path) -> Result<String, String> {
    use std::io::Write;
    let date = l.today().map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(format!("retention-{date}.json"));
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    let mut out = std::io::BufWriter::new(tmp);
    // Dropped (and so removed) unwritten if the report fails, no schedule included.
    write!(out, "{{\"records\":[").map_err(io)?;
    let mut sep = "";
    let summary = l
        .report_in_force(Some(date), &mut |_, _| Ok(()), &mut |o| {
            let line = serde_json::to_string(&o).map_err(|e| ledger_io(e.into()))?;
            write!(out, "{sep}{line}").map_err(ledger_io)?;
            sep = ",";
            Ok(())
        })
        .map_err(|e| e.to_string())?;
    let summary = serde_json::to_string(&summary).map_err(|e| e.to_string())?;
    write!(out, "],\"summary\":{summary}}}").map_err(io)?;
    let tmp = out.into_inner().map_err(|e| io(e.into_error()))?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(&path).map_err(|e| io(e.error))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io)?;
    Ok(path.display().to_string())
}

fn ledger_io(e: std::io::Error) -> crate::ledger::LedgerError {
    crate::ledger::LedgerError::Invalid(format!("writing the report: {e}"))
}
