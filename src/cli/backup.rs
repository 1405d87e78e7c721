//! `blotter backup --out DIR`: a consistent copy of the ledger (docs/BACKUP.md).
//!
//! Locally the command holds the ledger's lock for the whole copy, so no other
//! `blotter` process writes meanwhile. Exit 0 with the summary; 2 when the copy could
//! not be made (nothing is left at `--out` then).

use super::args::BackupArgs;
use super::{Ctx, Res};

pub(crate) fn run(ctx: &Ctx, a: &BackupArgs) -> Res<i32> {
    if let super::backend::Backend::Remote(c) = ctx.backend()? {
        let s = c.backup(&a.out)?;
        return print(ctx, &s);
    }
    let l = ctx.open()?;
    let pb = ctx.progress(0, "backup");
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} {spinner} {bytes} copied ({bytes_per_sec}, {elapsed})",
    ) {
        pb.set_style(style);
    }
    let s = l.backup(&a.out, &|n| pb.set_position(n));
    pb.finish_and_clear();
    let s = s?;
    print(ctx, &s)
}

fn print(ctx: &Ctx, s: &crate::ledger::BackupSummary) -> Res<i32> {
    ctx.out(serde_json::to_value(s)?, || {
        let mut text = format!(
            "backed up {} into {}: {} entries, head {}:{}; {} store rows, {} attachments, {} documents, {} bytes",
            s.origin,
            s.dest.display(),
            s.entries,
            s.entries,
            s.head,
            s.rows,
            s.blobs,
            s.documents,
            s.bytes
        );
        if !s.ledger_key {
            text.push_str("\nthe ledger key is not in the ledger folder and was not copied; back it up where it is");
        }
        text.push_str(&format!(
            "\nit holds the epoch keys: keep it as safe as the ledger, and replace it after each destruction (docs/BACKUP.md)\ncheck it against a checkpoint kept elsewhere: blotter --ledger {} verify --checkpoint CHECKPOINT --ledger-key KEY",
            s.dest.display()
        ));
        text
    });
    Ok(0)
}
