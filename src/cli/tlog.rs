//! The transparency-log commands: `checkpoint`, `proof`, `audit`, `witness`, and the
//! checkpoint made after every local write command.

use std::path::Path;

use serde_json::json;

use super::args::{AuditCmd, CheckpointCmd, ProofCmd, WitnessCmd};
use super::{append_with, fail, Backend, Ctx, Res};
use crate::crypto::keyfile;
use crate::format::Action;
use crate::ledger::checkpoint::Kept;
use crate::ledger::Ledger;
use crate::merkle::audit::{self, AuditError};
use crate::merkle::cosignature::WitnessKey;
use crate::merkle::note::Note;

fn read(path: &Path) -> Res<String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()).into())
}

/// Before a local write: arm the ledger to keep a checkpoint of each append's new head
/// in that append's own atomic batch, when the ledger key is readable here (DESIGN.md:
/// "a local write checkpoints when it can read the ledger key"). Without it the write
/// goes ahead uncheckpointed; the daemon's timer or `blotter checkpoint` signs later.
pub(crate) fn arm_checkpoints(l: &mut Ledger) {
    let path = l.checkpoint_key_path();
    if !path.is_file() {
        return;
    }
    let armed = keyfile::load(&path, || None)
        .map_err(|e| e.to_string())
        .and_then(|k| l.keep_checkpoints_with(k).map_err(|e| e.to_string()));
    if let Err(e) = armed {
        eprintln!("blotter: warning: this write will keep no checkpoint: {e}");
    }
}

/// After a local write: report an armed append that could not keep its checkpoint. The
/// write itself is durable, so this is a warning, not a failure.
pub(crate) fn after_write(l: &mut Ledger) {
    if let Some(e) = l.take_checkpoint_warning() {
        eprintln!("blotter: warning: the change is recorded, but no checkpoint was signed: {e}");
    }
}

fn ledger_signing_key(l: &Ledger, given: Option<&Path>) -> Res<ed25519_dalek::SigningKey> {
    let path = given.map_or_else(|| l.checkpoint_key_path(), Path::to_path_buf);
    if !path.is_file() {
        return fail(format!(
            "the ledger key {} is not here; pass --ledger-signing-key FILE",
            path.display()
        ));
    }
    Ok(keyfile::load(&path, || None)?)
}

pub(crate) fn checkpoint(ctx: &Ctx, cmd: Option<&CheckpointCmd>) -> Res<i32> {
    match cmd {
        None | Some(CheckpointCmd::Make { .. }) => {
            let given = match cmd {
                Some(CheckpointCmd::Make { ledger_signing_key }) => ledger_signing_key.as_deref(),
                _ => None,
            };
            let k = match ctx.backend()? {
                Backend::Remote(c) => {
                    if given.is_some() {
                        return fail("through --server, the daemon signs with the ledger key it holds; drop --ledger-signing-key");
                    }
                    c.post("/v1/checkpoints", &json!({}))?
                }
                Backend::Local(mut l) => {
                    let key = ledger_signing_key(&l, given)?;
                    l.sign_checkpoint(&key)?
                }
            };
            ctx.out(json!({"size": k.size, "note": k.note}), || {
                k.note.trim_end().to_string()
            });
            Ok(0)
        }
        Some(CheckpointCmd::Show { size }) => {
            let k = match ctx.backend()? {
                Backend::Remote(c) => {
                    let which = size.map_or("latest".to_string(), |s| s.to_string());
                    match c.get::<Kept>(&format!("/v1/checkpoints/{which}")) {
                        Ok(k) => Some(k),
                        Err(e) if e.status() == Some(404) => None,
                        Err(e) => return Err(e.into()),
                    }
                }
                Backend::Local(l) => match size {
                    Some(s) => l.checkpoint_at(*s)?,
                    None => l.latest_checkpoint()?,
                },
            };
            let Some(k) = k else {
                return fail(match size {
                    Some(s) => {
                        format!("no checkpoint of size {s} is kept; see `blotter checkpoint list`")
                    }
                    None => "no checkpoint is kept yet; make one with `blotter checkpoint`".into(),
                });
            };
            ctx.out(json!({"size": k.size, "note": k.note}), || {
                k.note.trim_end().to_string()
            });
            Ok(0)
        }
        Some(CheckpointCmd::List) => {
            let rows: Vec<serde_json::Value> = match ctx.backend()? {
                Backend::Remote(c) => c.get("/v1/checkpoints")?,
                Backend::Local(l) => l
                    .checkpoints()?
                    .iter()
                    .map(|k| {
                        let sigs = Note::parse(&k.note).map_or(0, |n| n.signatures().len());
                        json!({"size": k.size, "signatures": sigs})
                    })
                    .collect(),
            };
            ctx.out(json!(rows), || {
                rows.iter()
                    .map(|r| {
                        let extra = r["signatures"].as_u64().unwrap_or(1).saturating_sub(1);
                        format!("{:>10}  {} cosignature(s)", r["size"], extra)
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(0)
        }
        Some(CheckpointCmd::Cosign { file }) => {
            let text = read(file)?;
            let c = ctx.backend()?.add_cosignatures(&text)?;
            ctx.out(serde_json::to_value(&c)?, || {
                let names: Vec<_> = c.witnesses.iter().map(|(n, _)| n.as_str()).collect();
                format!(
                    "checkpoint {} cosigned by {}; kept",
                    c.size,
                    names.join(", ")
                )
            });
            Ok(0)
        }
    }
}

pub(crate) fn proof(ctx: &Ctx, cmd: &ProofCmd) -> Res<i32> {
    let b = ctx.backend()?;
    let value: serde_json::Value = match cmd {
        ProofCmd::Inclusion {
            seq,
            size,
            entry_out,
        } => {
            let (size, text) = match &b {
                Backend::Local(l) => l.inclusion_text(*seq, *size)?,
                Backend::Remote(c) => {
                    let q = size.map_or(String::new(), |s| format!("&size={s}"));
                    let v: serde_json::Value =
                        c.get(&format!("/v1/proofs/inclusion?seq={seq}{q}"))?;
                    match (v["size"].as_u64(), v["proof"].as_str()) {
                        (Some(s), Some(t)) => (s, t.to_string()),
                        _ => return fail("the server sent a malformed proof"),
                    }
                }
            };
            if let Some(out) = entry_out {
                let bytes = match &b {
                    Backend::Local(l) => l
                        .entry_bytes(*seq)?
                        .ok_or_else(|| format!("entry {seq} is missing from the store"))?,
                    Backend::Remote(c) => c.get_bytes(&format!("/v1/entries/{seq}"))?,
                };
                std::fs::write(out, bytes).map_err(|e| format!("{}: {e}", out.display()))?;
            }
            json!({"seq": seq, "size": size, "proof": text})
        }
        ProofCmd::Consistency { from, to } => {
            let (size, text) = match &b {
                Backend::Local(l) => l.consistency_text(*from, *to)?,
                Backend::Remote(c) => {
                    let q = to.map_or(String::new(), |s| format!("&to={s}"));
                    let v: serde_json::Value =
                        c.get(&format!("/v1/proofs/consistency?from={from}{q}"))?;
                    match (v["to"].as_u64(), v["proof"].as_str()) {
                        (Some(s), Some(t)) => (s, t.to_string()),
                        _ => return fail("the server sent a malformed proof"),
                    }
                }
            };
            json!({"from": from, "to": size, "proof": text})
        }
    };
    let text = value["proof"]
        .as_str()
        .unwrap_or_default()
        .trim_end()
        .to_string();
    ctx.out(value, || text);
    Ok(0)
}

fn audit_result<T: serde::Serialize>(
    ctx: &Ctx,
    r: Result<T, AuditError>,
    human: impl FnOnce(&T) -> String,
) -> Res<i32> {
    match r {
        Ok(v) => {
            ctx.out(serde_json::to_value(&v)?, || human(&v));
            Ok(0)
        }
        Err(AuditError::Unusable(m)) => fail(m),
        Err(AuditError::Wrong(m)) => {
            ctx.out(json!({"ok": false, "problem": m}), || {
                format!("FAILED: {m}")
            });
            eprintln!("blotter: audit failed: {m}");
            Ok(1)
        }
    }
}

pub(crate) fn audit(ctx: &Ctx, cmd: &AuditCmd) -> Res<i32> {
    match cmd {
        AuditCmd::Inclusion {
            ledger_key,
            checkpoint,
            entry,
            proof,
        } => {
            let vkey = read_vkey(ledger_key)?;
            let cp = read(checkpoint)?;
            let bytes = std::fs::read(entry).map_err(|e| format!("{}: {e}", entry.display()))?;
            let p = read(proof)?;
            audit_result(ctx, audit::inclusion(&vkey, &cp, &bytes, &p), |v| {
                format!(
                    "ok: entry {} ({} of record {}) is in {}'s tree of size {}",
                    v.seq, v.action, v.record, v.origin, v.tree_size
                )
            })
        }
        AuditCmd::Consistency {
            ledger_key,
            old,
            new,
            proof,
        } => {
            let vkey = read_vkey(ledger_key)?;
            let r = audit::consistency(&vkey, &read(old)?, &read(new)?, &read(proof)?);
            audit_result(ctx, r, |v| {
                format!(
                    "ok: {}'s checkpoint of size {} extends the one of size {}: nothing was removed or changed",
                    v.origin, v.new_size, v.old_size
                )
            })
        }
        AuditCmd::Cosignature {
            ledger_key,
            checkpoint,
            witness_keys,
        } => {
            let vkey = read_vkey(ledger_key)?;
            let wkeys = witness_keys
                .iter()
                .map(|k| read_vkey(k))
                .collect::<Res<Vec<_>>>()?;
            let r = audit::cosignatures(&vkey, &read(checkpoint)?, &wkeys);
            audit_result(ctx, r, |v| {
                let mut s = format!(
                    "ok: {}'s checkpoint of size {} is signed by the ledger and cosigned by",
                    v.origin, v.tree_size
                );
                for w in &v.witnesses {
                    let at = jiff::Timestamp::from_second(w.timestamp as i64)
                        .map(|t| t.to_string())
                        .unwrap_or_else(|_| w.timestamp.to_string());
                    s.push_str(&format!("\n  {} at {at}", w.name));
                }
                s
            })
        }
    }
}

/// `--ledger-key` takes the verifier key itself or a file holding it.
pub(crate) fn read_vkey(s: &str) -> Res<String> {
    let p = Path::new(s);
    if !s.contains('+') && p.is_file() {
        return Ok(read(p)?.trim().to_string());
    }
    Ok(s.trim().to_string())
}

pub(crate) fn witness(ctx: &Ctx, cmd: &WitnessCmd) -> Res<i32> {
    match cmd {
        WitnessCmd::Register { vkey } => {
            let w = WitnessKey::parse(&read_vkey(vkey)?).map_err(|e| {
                format!("witness key: {e} (expected NAME+KEYID+BASE64 with key type 0x04)")
            })?;
            use crate::merkle::note::Verifier as _;
            let action = Action::WitnessRegister {
                key: w.public_key().to_bytes(),
                name: w.name().to_string(),
            };
            let today = crate::ledger::append::today();
            append_with(ctx, "registered witness", |_| {
                Ok(crate::ledger::Draft::new_record("witness", today, action))
            })
        }
        WitnessCmd::List => {
            let ws = ctx.backend()?.witnesses()?;
            // The verifier key (name+keyid+base64) is what an auditor's tools take.
            let rows: Vec<_> = ws
                .iter()
                .map(|w| {
                    let vkey = w.key().map(|k| k.to_vkey()).unwrap_or_default();
                    json!({"name": w.name, "key": hex::encode(w.key), "vkey": vkey, "registered": w.registered})
                })
                .collect();
            ctx.out(serde_json::Value::Array(rows.clone()), || {
                rows.iter()
                    .map(|w| {
                        format!(
                            "{}  (entry {})",
                            w["vkey"].as_str().unwrap_or(""),
                            w["registered"]
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(0)
        }
    }
}

pub(crate) fn ledger_key(ctx: &Ctx) -> Res<i32> {
    let (v, origin) = match ctx.backend()? {
        Backend::Local(l) => (l.verifier_key()?, l.origin().to_string()),
        Backend::Remote(c) => {
            let i = c.info()?;
            (i.verifier_key, i.origin)
        }
    };
    ctx.out(json!({"verifier_key": v, "origin": origin}), || v.clone());
    Ok(0)
}
