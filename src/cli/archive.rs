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
use super::records::parse_id;
use super::{fail, Ctx, Failure, Res};
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
        ArchiveCmd::Transfer { .. } => fail("archive transfer: not built yet"),
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

/// Opens the ledger and checks that `--key` is an active administrator's.
pub(crate) fn open_as_admin(ctx: &Ctx) -> Res<(Ledger, ed25519_dalek::SigningKey)> {
    let key = ctx.key()?;
    let l = ctx.open()?;
    let pk = key.verifying_key().to_bytes();
    match l.key_state(&pk) {
        Some(k) if k.active() && k.role() == Role::Admin => Ok((l, key)),
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
    let recipients = if a.passphrase {
        Recipients::Passphrase(ask_passphrase()?)
    } else {
        Recipients::X25519(keys_io::recipients(&a.recipients)?)
    };
    let (mut l, _) = open_as_admin(ctx)?;
    let opts = ExportOptions {
        out: a.out.clone(),
        selection,
        recipients,
        include_restricted: a.include_restricted,
        ledger_key: ledger_key(&l),
    };
    let pb = ctx.progress(0, "exporting");
    let r = archive::export(&mut l, &opts, &|n, total| {
        pb.set_length(total);
        pb.set_position(n)
    });
    pb.finish_and_clear();
    let x = r?;
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
