//! Writing an archive: select the records, then stream the bag through
//! `tar | zstd | age` into a temporary file that is fsynced and renamed into place.
//!
//! Invariants:
//! - A failure at any point leaves no archive: the temporary file is removed, and an
//!   existing file at `--out` is never replaced.
//! - Every record exported is live (not disposed) and a user record; a sealed or
//!   confidential one only with `include_restricted`.
//! - Every entry in the bag has an inclusion proof against the bag's checkpoint, whose
//!   size covers every entry (the ledger's head when the export began).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use ed25519_dalek::SigningKey;
use serde_json::json;

use super::bag::{self, BagWriter, Part, Place};
use super::pipe::{self, FileSink, Stage};
use super::ArchiveError;
use crate::format::{Action, CommitmentKind, Date, Entry};
use crate::ledger::read::ListFilter;
use crate::ledger::Ledger;
use crate::merkle::note::Note;
use crate::merkle::proof_text::TlogProof;

/// zstd workers the CLI uses besides the stage's own thread: none. Measured on two
/// cores, zstd's own workers made export slower (docs/PERFORMANCE.md): the other stages
/// already keep both cores busy. The output format is the same either way.
pub const COMPRESSION_WORKERS: u32 = 0;

/// Which records go into the archive.
#[derive(Clone, Debug)]
pub enum Selection {
    /// The records an approved purge plan lists for transfer that a transfer would take
    /// now (`Ledger::transfer_targets`: still eligible, not held, not yet transferred).
    Plan([u8; 16]),
    /// These records.
    Records(Vec<[u8; 16]>),
    /// Records of this type whose status is not `open` and was set before this date.
    ClosedBefore { record_type: String, before: Date },
}

/// Who can open the archive.
pub enum Recipients {
    X25519(Vec<age::x25519::Recipient>),
    Passphrase(SecretString),
}

pub struct ExportOptions {
    pub out: PathBuf,
    pub selection: Selection,
    pub recipients: Recipients,
    /// Export sealed and confidential records too (module doc of `cli::archive`).
    pub include_restricted: bool,
    /// Signs a checkpoint of the head when none is kept at that size.
    pub ledger_key: Option<SigningKey>,
    /// zstd worker threads besides the stage's own (0: the stage compresses itself).
    pub compression_workers: u32,
}

/// What an export wrote.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Exported {
    pub path: PathBuf,
    pub records: Vec<String>,
    pub entries: u64,
    pub payload_bytes: u64,
    pub archive_bytes: u64,
    /// BLAKE3 of the archive file (what a transfer entry names).
    #[serde(with = "hex::serde")]
    pub blake3: [u8; 32],
    pub checkpoint_size: u64,
}

/// The records `sel` names, checked: each exists, is a user record, is not disposed,
/// and is restricted only if `include_restricted`. Sorted by id, no duplicates.
pub fn select(
    l: &Ledger,
    sel: &Selection,
    include_restricted: bool,
) -> Result<Vec<[u8; 16]>, ArchiveError> {
    let mut ids: Vec<[u8; 16]> = match sel {
        Selection::Records(ids) => ids.clone(),
        // What a transfer would take now: approved plan, still eligible, not held.
        Selection::Plan(plan) => l.transfer_targets(plan)?.records,
        Selection::ClosedBefore {
            record_type,
            before,
        } => {
            let before = before.to_string();
            l.list(&ListFilter {
                record_type: Some(record_type.clone()),
                ..ListFilter::default()
            })?
            .into_iter()
            .filter(|s| s.disposed.is_none())
            .filter(|s| s.status.as_deref().is_some_and(|st| st != "open"))
            .filter(|s| {
                s.status_date
                    .as_deref()
                    .is_some_and(|d| d < before.as_str())
            })
            .filter(|s| include_restricted || !s.restricted())
            .map(|s| s.id)
            .collect()
        }
    };
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Err(ArchiveError::Unusable(
            "the selection names no record that can be exported".into(),
        ));
    }
    for id in &ids {
        let rid = hex::encode(id);
        let st = l
            .record(id)?
            .ok_or_else(|| ArchiveError::Unusable(format!("record {rid} not found")))?;
        if !l.settings().is_user_type(&st.record_type) {
            return Err(ArchiveError::Unusable(format!(
                "record {rid} is one of the ledger's own ({}): archives hold records",
                st.record_type
            )));
        }
        if let Some(seq) = st.disposed {
            return Err(ArchiveError::Unusable(format!(
                "record {rid} was disposed at entry {seq}: its content is gone"
            )));
        }
        if st.restricted() && !include_restricted {
            return Err(ArchiveError::Unusable(format!(
                "record {rid} is {}: export it only with --include-restricted",
                if st.sealed { "sealed" } else { "confidential" }
            )));
        }
    }
    Ok(ids)
}

/// Makes sure a checkpoint is kept at the head (what the bag proves against): signs
/// one now with `key` if not.
fn checkpoint(l: &mut Ledger, key: Option<&SigningKey>) -> Result<(), ArchiveError> {
    let size = l.head().size;
    if checkpoint_at_head(l)? {
        return Ok(());
    }
    let key = key.ok_or_else(|| {
        ArchiveError::Unusable(format!(
            "no checkpoint is kept at the head ({size} entries) and the ledger key is not readable: run `blotter checkpoint` where it is"
        ))
    })?;
    l.sign_checkpoint(key)?;
    Ok(())
}

/// Exports the selected records (module doc), first signing a checkpoint of the head
/// with `opts.ledger_key` if none is kept. `progress(done, total)` counts records.
pub fn export(
    l: &mut Ledger,
    opts: &ExportOptions,
    progress: &dyn Fn(u64, u64),
) -> Result<Exported, ArchiveError> {
    checkpoint(l, opts.ledger_key.as_ref())?;
    export_at(l, opts, progress)
}

/// Whether a checkpoint is kept at the head, so that [`export_at`] can run.
pub fn checkpoint_at_head(l: &Ledger) -> Result<bool, ArchiveError> {
    Ok(l.latest_checkpoint()?.map(|k| k.size) == Some(l.head().size))
}

/// Exports against the checkpoint kept at the head (none: refused); reads only, so a
/// daemon runs it under its read lock.
pub fn export_at(
    l: &Ledger,
    opts: &ExportOptions,
    progress: &dyn Fn(u64, u64),
) -> Result<Exported, ArchiveError> {
    let ids = select(l, &opts.selection, opts.include_restricted)?;
    let (size, note_text) = match l.latest_checkpoint()? {
        Some(k) if k.size == l.head().size => (k.size, k.note),
        _ => {
            return Err(ArchiveError::Unusable(format!(
                "no checkpoint is kept at the head ({} entries)",
                l.head().size
            )))
        }
    };
    let dir = match opts.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if opts.out.exists() {
        return Err(ArchiveError::Unusable(format!(
            "{} already exists; an archive is never overwritten",
            opts.out.display()
        )));
    }
    let tmp = tempfile::Builder::new()
        .prefix(".blotter-archive-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| ArchiveError::Io(dir.clone(), e))?;
    let file = tmp
        .reopen()
        .map_err(|e| ArchiveError::Io(tmp.path().into(), e))?;
    let sink = BufWriter::with_capacity(pipe::CHUNK, FileSink::new(file)?);
    let encryptor = match &opts.recipients {
        Recipients::X25519(rs) => {
            age::Encryptor::with_recipients(rs.iter().map(|r| r as &dyn age::Recipient))
                .map_err(|e| ArchiveError::Unusable(format!("age recipients: {e}")))?
        }
        Recipients::Passphrase(p) => age::Encryptor::with_user_passphrase(p.clone()),
    };
    let mut age_w = encryptor.wrap_output(sink)?;
    let (tar_w, mut tar_r) = pipe::pipe();
    let (zst_w, mut zst_r) = pipe::pipe();
    let workers = opts.compression_workers;
    let zstd_stage = Stage::spawn("archive-zstd", move || {
        let mut enc = zstd::stream::write::Encoder::new(zst_w, 3)?;
        enc.include_checksum(true)?;
        if workers > 0 {
            enc.multithread(workers)?;
        }
        tar_r.drain_into(&mut enc)?;
        enc.finish()?.finish()
    })?;
    let age_stage = Stage::spawn("archive-age", move || {
        zst_r.drain_into(&mut age_w)?;
        let sink = age_w.finish()?;
        sink.into_inner().map_err(|e| e.into_error())?.finish()
    })?;
    let written = write_bag(l, &ids, size, &note_text, tar_w, progress);
    // A stage's own failure (disk full) explains the broken pipe the producer saw;
    // a broken pipe in a stage is the consequence of the producer's error.
    let z = zstd_stage.join();
    let a = age_stage.join();
    if let Some(e) = pipe::own_failure(&a).or(pipe::own_failure(&z)) {
        return Err(ArchiveError::Stream(std::io::Error::new(
            e.kind(),
            e.to_string(),
        )));
    }
    let entries = written?;
    let (blake3, archive_bytes) = a?;
    z?;
    tmp.persist_noclobber(&opts.out)
        .map_err(|e| ArchiveError::Io(opts.out.clone(), e.error))?;
    sync_dir(&dir)?;
    Ok(Exported {
        path: opts.out.clone(),
        records: ids.iter().map(hex::encode).collect(),
        entries: entries.0,
        payload_bytes: entries.1,
        archive_bytes,
        blake3: *blake3.as_bytes(),
        checkpoint_size: size,
    })
}

fn sync_dir(dir: &Path) -> Result<(), ArchiveError> {
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| ArchiveError::Io(dir.to_path_buf(), e))?;
    Ok(())
}

/// Writes the whole bag into `out` and finishes the stream. Returns `(entries, payload
/// octets)`.
fn write_bag(
    l: &Ledger,
    ids: &[[u8; 16]],
    size: u64,
    note_text: &str,
    out: pipe::PipeWriter,
    progress: &dyn Fn(u64, u64),
) -> Result<(u64, u64), ArchiveError> {
    let note = Note::parse(note_text)
        .map_err(|e| ArchiveError::Unusable(format!("the kept checkpoint: {e}")))?;
    let now = jiff::Timestamp::now();
    let mut bag = BagWriter::new(out, now.as_second().max(0) as u64)?;
    let w = EntryWriter { l, size, note };
    bag.put(bag::CHECKPOINT, note_text.as_bytes())?;
    let mut entries = 0u64;
    for seq in ledger_part(l)? {
        w.put(&mut bag, &Place::Ledger, seq)?;
        entries += 1;
    }
    for (n, id) in ids.iter().enumerate() {
        entries += w.put_record(&mut bag, id)?;
        progress(n as u64 + 1, ids.len() as u64);
    }
    let vkey = l.verifier_key()?;
    let (octets, _) = bag.oxum();
    let info = [
        ("Source-Organization", l.origin().to_string()),
        ("Bagging-Date", now.strftime("%Y-%m-%d").to_string()),
        (
            "Bag-Software-Agent",
            format!("blotter {}", env!("CARGO_PKG_VERSION")),
        ),
        ("Blotter-Archive-Format", bag::ARCHIVE_FORMAT.to_string()),
        (
            "Blotter-Entry-Format",
            crate::format::FORMAT_VERSION.to_string(),
        ),
        ("Blotter-Origin", l.origin().to_string()),
        ("Blotter-Ledger-Key", vkey),
        ("Blotter-Checkpoint-Size", size.to_string()),
        ("Blotter-Record-Count", ids.len().to_string()),
        ("Blotter-Export-Time", now.to_string()),
    ];
    let out = bag.finish(&info)?;
    out.finish()?;
    Ok((entries, octets))
}

/// Entry 0 and every entry of every key record, ascending: what an archive verifier
/// replays to know who could sign what.
fn ledger_part(l: &Ledger) -> Result<Vec<u64>, ArchiveError> {
    let mut records: Vec<[u8; 16]> = l.keys().map(|k| k.record).collect();
    records.sort();
    records.dedup();
    let mut seqs = vec![0u64];
    for r in &records {
        seqs.extend(l.record_seqs(r)?);
    }
    seqs.sort();
    seqs.dedup();
    Ok(seqs)
}

struct EntryWriter<'a> {
    l: &'a Ledger,
    size: u64,
    note: Note,
}

impl EntryWriter<'_> {
    /// A record's folder: its case number's opening, its entries with their openings,
    /// then `record.json`. Returns the number of entries.
    fn put_record<W: Write>(
        &self,
        bag: &mut BagWriter<W>,
        id: &[u8; 16],
    ) -> Result<u64, ArchiveError> {
        let place = Place::Record(*id);
        let dir = place.dir();
        let st = self.l.record(id)?.ok_or_else(|| {
            ArchiveError::Unusable(format!("record {} vanished", hex::encode(id)))
        })?;
        let meta = self.l.destroyable(id)?;
        let case = meta
            .as_ref()
            .and_then(|m| m.case_number.clone().zip(m.case_salt));
        if let Some((number, salt)) = &case {
            bag.put(
                &format!("{dir}/{}", bag::CASE_SALT),
                bag::salt_text(salt).as_bytes(),
            )?;
            bag.put(&format!("{dir}/{}", bag::CASE), number.as_bytes())?;
        }
        let mut summary = Vec::new();
        let seqs = self.l.record_seqs(id)?;
        for seq in &seqs {
            summary.push(self.put(bag, &place, *seq)?);
        }
        let doc = json!({
            "format": "blotter-archive-record/1",
            "note": "informative only: the evidence is the .entry files, their proofs and openings",
            "id": hex::encode(id),
            "type": st.record_type,
            "created_on": st.created_on,
            "status": st.status,
            "status_date": st.status_date,
            "sealed": st.sealed,
            "confidential": st.confidential,
            "case_number": case.map(|c| c.0),
            "entries": summary,
        });
        let text = serde_json::to_vec_pretty(&doc)
            .map_err(|e| ArchiveError::Unusable(format!("record.json: {e}")))?;
        bag.put(&format!("{dir}/{}", bag::RECORD_JSON), &text)?;
        Ok(seqs.len() as u64)
    }

    /// One entry's files: `.entry`, `.proof`, and the openings it commits to.
    /// Returns its line in `record.json`.
    fn put<W: Write>(
        &self,
        bag: &mut BagWriter<W>,
        place: &Place,
        seq: u64,
    ) -> Result<serde_json::Value, ArchiveError> {
        let bytes = self
            .l
            .entry_bytes(seq)?
            .ok_or_else(|| ArchiveError::Unusable(format!("entry {seq} is missing")))?;
        let e = Entry::decode(&bytes)
            .map_err(|e| ArchiveError::Unusable(format!("entry {seq}: {e}")))?;
        let c = &e.signed.change;
        let h = e.signed.hash();
        let path = |p: Part| bag::entry_path(place, seq, p);
        bag.put(&path(Part::Entry), &bytes)?;
        let proof = self.l.inclusion_proof(seq, self.size)?;
        let proof = TlogProof::new(None, seq, proof, self.note.clone())
            .and_then(|p| p.format())
            .map_err(|e| ArchiveError::Unusable(format!("entry {seq}: proof: {e}")))?;
        bag.put(&path(Part::Proof), proof.as_bytes())?;
        let missing = |what: &str| {
            ArchiveError::Unusable(format!(
                "entry {seq} (record {}): its {what} is missing from the store",
                hex::encode(c.record)
            ))
        };
        if let Some(p) = &c.payload {
            let (salt, plain) = self
                .l
                .open_sealed(&c.record, &h, p.kind)?
                .ok_or_else(|| missing("content"))?;
            bag.put(&path(Part::ContentSalt), bag::salt_text(&salt).as_bytes())?;
            bag.put(&path(Part::Content), &plain)?;
        }
        let mut file_name = None;
        if c.side_doc.is_some() {
            let (salt, plain) = self
                .l
                .open_sealed(&c.record, &h, CommitmentKind::SideDocument)?
                .ok_or_else(|| missing("side document"))?;
            bag.put(&path(Part::SideSalt), bag::salt_text(&salt).as_bytes())?;
            bag.put(&path(Part::Side), &plain)?;
            file_name = serde_json::from_slice::<serde_json::Value>(&plain)
                .ok()
                .and_then(|v| {
                    v.get("file_name")
                        .and_then(|n| n.as_str())
                        .map(String::from)
                });
        }
        if let Action::RecordAttach { blob, size } = c.action {
            let salt = self.l.attachment_salt(&c.record, &h, &blob)?;
            bag.put(
                &path(Part::AttachmentSalt),
                bag::salt_text(&salt).as_bytes(),
            )?;
            bag.put_stream(&path(Part::Attachment), size, |sink| {
                self.l
                    .stream_blob(&c.record, &h, &blob, |chunk| sink(chunk))
                    .map(|_| ())
                    .map_err(ArchiveError::from)
            })?;
        }
        let signer = self.l.key_state(&c.actor).map(|k| k.person.clone());
        Ok(json!({
            "seq": seq,
            "time": jiff::Timestamp::from_millisecond(e.time_ms).map(|t| t.to_string()).unwrap_or_default(),
            "action": c.action.name(),
            "signer": signer,
            "file_name": file_name,
        }))
    }
}
