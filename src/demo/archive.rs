//! The demo's transfer to the state archives (docs/ARCHIVES.md): the records the purge
//! plan lists for transfer are exported to `DIR/archives/`, encrypted to an age identity
//! kept in `DIR/keys/archive.age` (in real life, the state archives' recipient), the
//! written archive is verified, an administrator appends the transfer entries naming
//! its BLAKE3, and the live copies are destroyed.

use std::path::Path;

use ed25519_dalek::SigningKey;
use serde::Serialize;

use super::DemoError;
use crate::archive::export::Recipients;
use crate::archive::{self, keys_io, ExportOptions, Selection};
use crate::crypto::keyfile;
use crate::ledger::Ledger;

/// What the transfer did.
#[derive(Debug, Serialize)]
pub struct ArchiveRound {
    pub archive: String,
    pub identity: String,
    pub records: usize,
    pub blake3: String,
    pub destroyed: u64,
}

pub(super) fn transfer_round(
    dir: &Path,
    l: &mut Ledger,
    admin: &SigningKey,
    plan: Option<&str>,
    log: &dyn Fn(&str),
) -> Result<Option<ArchiveRound>, DemoError> {
    let Some(plan) = plan.and_then(crate::crypto::parse_hex::<16>) else {
        return Ok(None);
    };
    let targets = l.transfer_targets(&plan)?;
    if targets.records.is_empty() {
        log("no record is due for transfer to the state archives");
        return Ok(None);
    }
    let identity = age::x25519::Identity::generate();
    let id_path = dir.join("keys").join("archive.age");
    keys_io::write_identity(&id_path, &identity)?;
    let archives = dir.join("archives");
    std::fs::create_dir_all(&archives)
        .map_err(|e| DemoError::Io(archives.display().to_string(), e))?;
    let out = archives.join(format!("transfer-{}.age", hex::encode(plan)));
    let x = archive::export(
        l,
        &ExportOptions {
            out: out.clone(),
            selection: Selection::Records(targets.records.clone()),
            recipients: Recipients::X25519(vec![identity.to_public()]),
            include_restricted: true,
            ledger_key: Some(keyfile::load(&l.checkpoint_key_path(), || None)?),
            compression_workers: archive::export::COMPRESSION_WORKERS,
        },
        &|_, _| {},
    )?;
    let ids: Vec<Box<dyn age::Identity + Send + Sync>> = vec![Box::new(identity)];
    archive::check_archive(&out, &ids, &l.verifier_key()?, None, &|_| {})?;
    let t = l.complete_transfer(&plan, &targets.records, x.blake3, admin, &|_, _| {})?;
    log(&format!(
        "transferred {} records to the state archives: {} (verified), live copies destroyed",
        t.transferred_now,
        out.display()
    ));
    Ok(Some(ArchiveRound {
        archive: out.display().to_string(),
        identity: id_path.display().to_string(),
        records: targets.records.len(),
        blake3: hex::encode(x.blake3),
        destroyed: t.destroyed,
    }))
}
