//! `blotter archive export | verify | restore | transfer` (docs/ARCHIVES.md).
//!
//! Export and transfer are an administrator's (DESIGN.md's roles table): `--key` must
//! be an active admin key of the ledger. In the embedded local mode whoever holds the
//! folder holds everything (README); the check is there so that the same command
//! means the same thing locally and through the daemon.

use std::path::PathBuf;

use age::secrecy::SecretString;
use serde_json::json;

use super::args::{ArchiveCmd, ExportArgs, OpenArgs};
use super::backend::Backend;
use super::records::parse_id;
use super::{fail, Ctx, Failure, Res};
use crate::api::{ExportRequest, SelectionWire};
use crate::archive::export::Recipients;
use crate::archive::{self, keys_io, ArchiveError, Checked, ExportOptions, Selection};
use crate::crypto::keyfile;
use crate::format::{Date, Role};
use crate::ledger::Ledger;

pub(crate) fn run(ctx: &Ctx, cmd: &ArchiveCmd) -> Res<i32> {
    match cmd {
        ArchiveCmd::Export(a) => export(ctx, a),
        ArchiveCmd::Verify(o) => {
            let (ids, vkey) = open_args(o)?;
            let pb = ctx.progress(0, "verifying");
            let r = archive::check_archive(&o.file, &ids, &vkey, None, &|n| pb.set_position(n));
            pb.finish_and_clear();
            checked(ctx, r, |c| {
                format!(
                    "ok: {} holds {} records, {} entries, {} files; every signature, record chain, opening and inclusion proof checks against {}'s checkpoint of size {}{}",
                    o.file.display(),
                    c.records,
                    c.entries,
                    c.files,
                    c.origin,
                    c.checkpoint_size,
                    flagged_note(c)
                )
            })
        }
        ArchiveCmd::Restore { open, into } => {
            let (ids, vkey) = open_args(open)?;
            let pb = ctx.progress(0, "restoring");
            let r = archive::restore(&open.file, &ids, &vkey, into, &|n| pb.set_position(n));
            pb.finish_and_clear();
            checked(ctx, r, |c| {
                format!(
                    "restored {} records ({} entries) into {} (read-only; a BagIt bag: data/records/<id>/record.json describes each record){}",
                    c.records,
                    c.entries,
                    into.display(),
                    flagged_note(c)
                )
            })
        }
        ArchiveCmd::Transfer {
            plan,
            out,
            recipients,
            identities: id_files,
        } => transfer(ctx, plan, out, recipients, id_files),
    }
}

fn flagged_note(c: &Checked) -> String {
    if c.flagged.is_empty() {
        String::new()
    } else {
        format!(
            "\nwarning: entries {:?} were signed by keys later declared compromised from that point",
            c.flagged
        )
    }
}

/// Exit 0 with the result, 1 when the archive is wrong, 2 when the check could not run.
pub(crate) fn checked(
    ctx: &Ctx,
    r: Result<Checked, ArchiveError>,
    human: impl FnOnce(&Checked) -> String,
) -> Res<i32> {
    match r {
        Ok(c) => {
            ctx.out(serde_json::to_value(&c)?, || human(&c));
            Ok(0)
        }
        Err(ArchiveError::Wrong(m)) => {
            ctx.out(json!({"ok": false, "problem": m}), || {
                format!("FAILED: {m}")
            });
            eprintln!("blotter: archive check failed: {m}");
            Ok(1)
        }
        Err(e) => Err(Failure::from(e)),
    }
}

type Identities = Vec<Box<dyn age::Identity + Send + Sync>>;

pub(crate) fn open_args(o: &OpenArgs) -> Res<(Identities, String)> {
    let vkey = super::tlog::read_vkey(&o.ledger_key)?;
    let ids = if o.passphrase {
        let p = ask_passphrase()?;
        let id: Box<dyn age::Identity + Send + Sync> = Box::new(age::scrypt::Identity::new(p));
        vec![id]
    } else {
        identities(&o.identities)?
    };
    Ok((ids, vkey))
}

pub(crate) fn identities(files: &[PathBuf]) -> Res<Identities> {
    let mut ids = Vec::new();
    for f in files {
        ids.extend(keys_io::identities(f)?);
    }
    Ok(ids)
}

fn ask_passphrase() -> Res<SecretString> {
    super::passphrase().map_or_else(
        || fail("--passphrase: set BLOTTER_PASSPHRASE or run on a terminal"),
        Ok,
    )
}

/// `--key`, checked to be an active administrator's of `l`.
pub(crate) fn admin_key(ctx: &Ctx, l: &Ledger) -> Res<ed25519_dalek::SigningKey> {
    let key = ctx.key()?;
    let pk = key.verifying_key().to_bytes();
    match l.key_state(&pk) {
        Some(k) if k.active() && k.role() == Role::Admin => Ok(key),
        Some(k) if k.active() => fail(format!(
            "archives are an administrator's job; key {} is a {}'s",
            hex::encode(pk),
            k.role
        )),
        _ => fail(format!(
            "key {} is not an active key of this ledger",
            hex::encode(pk)
        )),
    }
}

/// The ledger key, when readable, to sign a checkpoint of the head if none is kept.
pub(crate) fn ledger_key(l: &Ledger) -> Option<ed25519_dalek::SigningKey> {
    let p = l.checkpoint_key_path();
    p.is_file()
        .then(|| keyfile::load(&p, || None).ok())
        .flatten()
}

/// Reads the archive just written back and verifies it with the identities: the transfer
/// entries will name exactly those bytes, holding exactly `records`. An archive that
/// fails is removed (nothing names it), and nothing is transferred or destroyed.
fn check_written(
    out: &std::path::Path,
    ids: &Identities,
    vkey: &str,
    x: &archive::Exported,
    records: &[[u8; 16]],
) -> Res<()> {
    let mut want: Vec<String> = records.iter().map(hex::encode).collect();
    want.sort();
    let problem = match archive::check_archive(out, ids, vkey, None, &|_| {}) {
        Ok(c) if c.blake3 != hex::encode(x.blake3) => format!(
            "the file read back (BLAKE3 {}) is not the one written ({})",
            c.blake3,
            hex::encode(x.blake3)
        ),
        Ok(c) if c.record_ids != want => format!(
            "it holds {} records, not the {} to transfer",
            c.records,
            want.len()
        ),
        Ok(_) => return Ok(()),
        Err(e) => format!("it does not verify ({e})"),
    };
    let removed = std::fs::remove_file(out).is_ok();
    fail(format!(
        "{}: {problem}; nothing transferred, nothing destroyed{}",
        out.display(),
        if removed {
            "; the file was removed"
        } else {
            ""
        }
    ))
}

/// Who an export is encrypted to, as the CLI was told.
enum To<'a> {
    Recipients(&'a [String]),
    Passphrase(SecretString),
}

/// Exports with the CLI's settings and a progress bar on a terminal: here, or written
/// by the daemon and received (checked against its BLAKE3 and size).
fn export_via(
    ctx: &Ctx,
    b: &mut Backend,
    out: &std::path::Path,
    selection: Selection,
    to: To,
    include_restricted: bool,
) -> Res<archive::Exported> {
    match b {
        Backend::Remote(c) => {
            let To::Recipients(recipients) = to else {
                return fail("a passphrase is never sent to a server");
            };
            let req = ExportRequest {
                selection: SelectionWire::from_selection(&selection),
                recipients: recipients.to_vec(),
                include_restricted,
            };
            let pb = ctx.progress(0, "receiving");
            let x = c.export(&req, out, &|n, total| {
                pb.set_length(total);
                pb.set_position(n)
            });
            pb.finish_and_clear();
            Ok(x?)
        }
        Backend::Local(l) => {
            admin_key(ctx, l)?;
            let recipients = match to {
                To::Recipients(r) => Recipients::X25519(keys_io::recipients(r)?),
                To::Passphrase(p) => Recipients::Passphrase(p),
            };
            let opts = ExportOptions {
                out: out.to_path_buf(),
                selection,
                recipients,
                include_restricted,
                ledger_key: ledger_key(l),
                compression_workers: archive::export::COMPRESSION_WORKERS,
            };
            let pb = ctx.progress(0, "exporting");
            let r = archive::export(l, &opts, &|n, total| {
                pb.set_length(total);
                pb.set_position(n)
            });
            pb.finish_and_clear();
            Ok(r?)
        }
    }
}

fn export(ctx: &Ctx, a: &ExportArgs) -> Res<i32> {
    let selection = if let Some(p) = &a.select.plan {
        Selection::Plan(parse_id(p)?)
    } else if let Some(t) = &a.select.record_type {
        let Some(d) = &a.closed_before else {
            return fail("--type needs --closed-before DATE");
        };
        Selection::ClosedBefore {
            record_type: t.clone(),
            before: d.parse::<Date>()?,
        }
    } else {
        Selection::Records(
            a.select
                .records
                .iter()
                .map(|r| parse_id(r))
                .collect::<Res<_>>()?,
        )
    };
    let mut b = ctx.backend()?;
    let recipients = match (&b, a.passphrase) {
        (Backend::Remote(_), true) => {
            return fail("through --server, encrypt to recipients (-r age1…): a passphrase is never sent to a server")
        }
        (_, true) => To::Passphrase(ask_passphrase()?),
        (_, false) => To::Recipients(&a.recipients),
    };
    let x = export_via(
        ctx,
        &mut b,
        &a.out,
        selection,
        recipients,
        a.include_restricted,
    )?;
    ctx.out(serde_json::to_value(&x)?, || {
        format!(
            "wrote {}: {} records, {} entries, {} payload bytes in {} archive bytes; BLAKE3 {}; proves against the checkpoint of size {}",
            x.path.display(),
            x.records.len(),
            x.entries,
            x.payload_bytes,
            x.archive_bytes,
            hex::encode(x.blake3),
            x.checkpoint_size
        )
    });
    Ok(0)
}

/// Export the plan's transfer records, verify the written archive, append the transfer
/// entries naming its BLAKE3, then destroy the live copies. A failure before the
/// entries destroys nothing.
fn transfer(
    ctx: &Ctx,
    plan: &str,
    out: &std::path::Path,
    recipients: &[String],
    id_files: &[PathBuf],
) -> Res<i32> {
    let pid = parse_id(plan)?;
    keys_io::recipients(recipients)?;
    let ids = identities(id_files)?;
    let key = ctx.key()?;
    let mut b = ctx.backend_for_write()?;
    if let Backend::Local(l) = &b {
        admin_key(ctx, l)?;
    }
    let targets = b.transfer_targets(&pid)?;
    for n in &targets.left_out {
        eprintln!(
            "blotter: not transferred now: record {}: {}",
            n.record, n.why
        );
    }
    if targets.records.is_empty() {
        // Nothing new to export: only finish a destruction a crash interrupted.
        let t = b.complete_transfer(&pid, &[], [0xff; 32], &key, &|_, _| {})?;
        ctx.out(json!({"transfer": t, "archive": null, "left_out": targets.left_out}), || {
            format!(
                "plan {plan}: no record to transfer now ({} already transferred, {} left out); {} live copies destroyed",
                t.already_transferred,
                targets.left_out.len(),
                t.destroyed
            )
        });
        return Ok(0);
    }
    let selection = Selection::Records(targets.records.clone());
    let x = export_via(
        ctx,
        &mut b,
        out,
        selection,
        To::Recipients(recipients),
        true,
    )?;
    check_written(out, &ids, &b.verifier_key()?, &x, &targets.records)?;
    let pb = ctx.progress(targets.records.len() as u64, "transferring");
    let t = b.complete_transfer(&pid, &targets.records, x.blake3, &key, &|n, _| {
        pb.set_position(n)
    });
    pb.finish_and_clear();
    let t = t.map_err(|e| {
        format!(
            "{}\nkeep {}: transfer entries already appended name it (BLAKE3 {}); run the transfer again to finish",
            e.message,
            out.display(),
            hex::encode(x.blake3)
        )
    })?;
    ctx.out(
        json!({"transfer": t, "archive": x, "verified": true, "left_out": targets.left_out}),
        || {
            format!(
                "transferred {} records of plan {plan} to {} (BLAKE3 {}, verified); {} transfer entries appended, {} live copies destroyed; {} left out",
                t.transferred_now,
                out.display(),
                hex::encode(x.blake3),
                t.entries.len(),
                t.destroyed,
                targets.left_out.len()
            )
        },
    );
    Ok(0)
}
