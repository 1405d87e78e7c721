//! The write path: drafting and signing changes (client side) and appending them
//! (the single writer). `append` validates a whole batch against the ledger's rules,
//! then commits it in one atomic, durable store batch; any refusal writes nothing.

use std::io::Read;

use ed25519_dalek::SigningKey;
use rayon::prelude::*;

use super::batch::BatchWriter;
use super::{Ledger, LedgerError};
use crate::crypto::seal::{self, DataKey};
use crate::crypto::{self, commit, verify_change, Committer};
use crate::format::{Action, Change, CommitmentKind, Date, HoldScope, SignedChange};
use crate::store::Space;

/// The largest record content or side document, in bytes. Larger material is an
/// attachment, which streams into a sealed file of its own (docs/DURABILITY.md), so
/// that a store row, and a batch of them, stays small.
pub const MAX_CONTENT_BYTES: usize = 64 * 1024;

/// Plaintext with the salt of its commitment.
#[derive(Clone, Debug)]
pub struct Opening {
    pub salt: [u8; 32],
    pub bytes: Vec<u8>,
}

impl Opening {
    pub fn new(bytes: Vec<u8>) -> Self {
        Opening {
            salt: crypto::random(),
            bytes,
        }
    }
    pub fn commitment(&self, kind: CommitmentKind) -> [u8; 32] {
        commit(&self.salt, kind, &self.bytes)
    }
}

/// An attachment already sealed into the blobs folder, awaiting its change.
#[derive(Clone, Debug)]
pub struct StagedBlob {
    pub record: [u8; 16],
    pub commitment: [u8; 32],
    pub salt: [u8; 32],
    pub size: u64,
}

/// A signed change and the openings of what it commits to.
#[derive(Clone, Debug)]
pub struct Submission {
    /// `change bytes || signature`.
    pub signed: Vec<u8>,
    pub content: Option<Opening>,
    pub side_doc: Option<Opening>,
    pub case_number: Option<Opening>,
    pub attachment: Option<StagedBlob>,
    /// Source system references `(record, change)` of an imported change.
    pub source: Option<(String, String)>,
    /// Signed by this process just now, or its signature strictly checked by the caller
    /// (the daemon checks it on the request's thread): it need not be checked again.
    pub trusted: bool,
}

/// An encoded, not yet signed change.
pub struct Prepared {
    /// The change hash.
    pub hash: [u8; 32],
    /// The case commitment the change carries.
    pub case: Option<[u8; 32]>,
    bytes: Vec<u8>,
    sub: Submission,
}

impl Prepared {
    pub fn sign(mut self, key: &SigningKey) -> Submission {
        self.sub.signed = crypto::sign_change(key, &self.bytes);
        self.sub
    }
}

/// What became of one submission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Appended(u64),
    /// The same change was already in the ledger at this sequence number (a success).
    AlreadyRecorded(u64),
}

impl Outcome {
    pub fn seq(self) -> u64 {
        match self {
            Outcome::Appended(s) | Outcome::AlreadyRecorded(s) => s,
        }
    }
}

/// A change before signing: the caller fills the action and what it commits to.
#[derive(Clone, Debug)]
pub struct Draft {
    pub record: [u8; 16],
    pub record_type: String,
    pub created_on: Date,
    pub record_prev: [u8; 32],
    /// The record's current case commitment, carried unchanged unless `case_number` is set.
    pub case: Option<[u8; 32]>,
    pub case_number: Option<String>,
    pub content: Option<Vec<u8>>,
    pub side_doc: Option<Vec<u8>>,
    pub attachment: Option<StagedBlob>,
    pub source: Option<(String, String)>,
    pub action: Action,
}

impl Draft {
    /// A draft registering `key` for `person` with `role`, made today (an admin signs it).
    pub fn key_registration(key: [u8; 32], person: &str, role: crate::format::Role) -> Draft {
        let action = Action::KeyRegister {
            key,
            person: person.into(),
            role,
            replaces: None,
        };
        Draft::new_record("key", today(), action)
    }

    /// A draft of a further change to the record whose state is `st`: its type and
    /// creation date, its latest change as `record_prev`, its case commitment.
    pub fn for_record(st: &super::RecordState, action: Action) -> Result<Draft, LedgerError> {
        let created_on = st
            .created_on
            .parse()
            .map_err(|e: crate::format::FormatError| LedgerError::Invalid(e.to_string()))?;
        let mut d = Draft::new_record(&st.record_type, created_on, action);
        d.record = st.id;
        d.record_prev = st.latest;
        d.case = st.case;
        Ok(d)
    }

    /// A draft for a new record of `record_type`.
    pub fn new_record(record_type: &str, created_on: Date, action: Action) -> Draft {
        Draft {
            record: crypto::new_record_id(),
            record_type: record_type.to_string(),
            created_on,
            record_prev: [0; 32],
            case: None,
            case_number: None,
            content: None,
            side_doc: None,
            attachment: None,
            source: None,
            action,
        }
    }
}

/// Encodes a draft for `actor` on the ledger of `origin` without signing it: makes the
/// salts and commitments. The client side of the daemon's API uses it with no ledger open.
pub fn prepare(origin: &str, actor: &[u8; 32], d: Draft) -> Result<Prepared, LedgerError> {
    let content = d.content.map(Opening::new);
    let side_doc = d.side_doc.map(Opening::new);
    let case_number = d.case_number.map(|c| Opening::new(c.into_bytes()));
    let payload = content.as_ref().map(|o| crate::format::Commitment {
        kind: CommitmentKind::Content,
        hash: o.commitment(CommitmentKind::Content),
    });
    let case = case_number
        .as_ref()
        .map(|o| o.commitment(CommitmentKind::CaseNumber))
        .or(d.case);
    let mut action = d.action;
    // A case hold's scope commits to the same case number, with the same salt, as
    // the hold record's own case field.
    if let (
        Action::HoldPlace {
            scope: HoldScope::Case(h),
            ..
        },
        Some(c),
    ) = (&mut action, case)
    {
        *h = c;
    }
    let change = Change {
        origin: origin.to_string(),
        actor: *actor,
        record: d.record,
        record_type: d.record_type,
        case,
        record_prev: d.record_prev,
        created_on: d.created_on,
        payload,
        side_doc: side_doc
            .as_ref()
            .map(|o| o.commitment(CommitmentKind::SideDocument)),
        clock_ms: now_ms(),
        nonce: crypto::random(),
        action,
    };
    let bytes = change
        .encode()
        .map_err(|e| LedgerError::Invalid(e.to_string()))?;
    Ok(Prepared {
        hash: crate::format::change::change_hash(&bytes),
        case,
        bytes,
        sub: Submission {
            signed: Vec::new(),
            content,
            side_doc,
            case_number,
            attachment: d.attachment,
            source: d.source,
            trusted: true,
        },
    })
}

/// Seals attachments of one record into the blobs folder.
pub struct Stager {
    blobs: std::path::PathBuf,
    record: [u8; 16],
    dk: DataKey,
}

impl Stager {
    /// Streams `input` into the blobs folder, sealed under the record's data key, with the
    /// commitment's salt `salt`. The file is written to a temporary name, fsynced, renamed
    /// to the commitment's hex and the folder fsynced; on failure nothing is left.
    pub fn stage(&self, input: &mut impl Read, salt: [u8; 32]) -> Result<StagedBlob, LedgerError> {
        let blobs = &self.blobs;
        let tmp = blobs.join(format!("tmp-{}", hex::encode(crypto::random::<8>())));
        let io = |p: &std::path::Path| {
            let p = p.to_path_buf();
            move |e| LedgerError::Io(p, e)
        };
        let mut committer = Committer::new(&salt, CommitmentKind::Attachment);
        let file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        let result = seal::seal_stream(&self.dk, &self.record, input, &mut w, |c| {
            committer.update(c)
        });
        let size = match result {
            Ok(n) => n,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.into());
            }
        };
        let file = match w.into_inner() {
            Ok(f) => f,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(LedgerError::Io(tmp.clone(), e.into_error()));
            }
        };
        if let Err(e) = file.sync_all() {
            let _ = std::fs::remove_file(&tmp);
            return Err(LedgerError::Io(tmp.clone(), e));
        }
        let commitment = committer.finish();
        let dest = blobs.join(hex::encode(commitment));
        // Never replace a blob: a link fails if the name exists, where a rename would
        // silently replace another record's attachment (a caller that picks the salt
        // could aim at one).
        let linked = std::fs::hard_link(&tmp, &dest);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(LedgerError::Invalid(format!(
                    "blob {} already exists; stage the attachment with another salt",
                    hex::encode(commitment)
                )))
            }
            Err(e) => return Err(LedgerError::Io(dest, e)),
        }
        std::fs::File::open(blobs)
            .and_then(|d| d.sync_all())
            .map_err(io(blobs))?;
        Ok(StagedBlob {
            record: self.record,
            commitment,
            salt,
            size,
        })
    }

    /// Removes a blob this stager staged and no change will attach (an upload whose
    /// digest failed). `stage` never replaces an existing blob, so the file is its own.
    pub fn discard(&self, blob: &StagedBlob) {
        let _ = std::fs::remove_file(self.blobs.join(hex::encode(blob.commitment)));
    }
}

pub(crate) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

pub(crate) fn today() -> Date {
    Date::from_civil(jiff::Zoned::now().date()).unwrap_or(Date {
        year: 1970,
        month: 1,
        day: 1,
    })
}

/// The genesis submission: registers `admin` as the first administrator.
pub(crate) fn genesis(
    ledger: &Ledger,
    admin: &SigningKey,
    person: &str,
    ledger_key: [u8; 32],
    settings_json: Vec<u8>,
) -> Result<Submission, LedgerError> {
    let action = Action::Genesis {
        ledger_key,
        person: person.into(),
        settings: crypto::document_hash(&settings_json),
    };
    let mut d = Draft::new_record("ledger", today(), action);
    d.content = Some(settings_json);
    ledger.sign(admin, d)
}

impl Ledger {
    /// A draft of a further change to an existing record.
    pub fn draft(&self, record: &[u8; 16], action: Action) -> Result<Draft, LedgerError> {
        let st = self
            .record(record)?
            .ok_or_else(|| LedgerError::NoRecord(hex::encode(record)))?;
        Draft::for_record(&st, action)
    }

    /// Signs a draft with `key`: makes the salts and commitments, encodes, signs.
    pub fn sign(&self, key: &SigningKey, d: Draft) -> Result<Submission, LedgerError> {
        Ok(self.prepare(&key.verifying_key().to_bytes(), d)?.sign(key))
    }

    /// Encodes a draft for `actor` without signing it, so that the change hash (the next
    /// change's `record_prev`) is known before signatures are made in parallel.
    pub fn prepare(&self, actor: &[u8; 32], d: Draft) -> Result<Prepared, LedgerError> {
        prepare(&self.origin, actor, d)
    }

    /// Streams an attachment into the blobs folder, sealed under the record's data key.
    /// The file is written to a temporary name, fsynced, renamed and the folder fsynced.
    pub fn stage_attachment(
        &self,
        record: &[u8; 16],
        input: &mut impl Read,
    ) -> Result<StagedBlob, LedgerError> {
        self.stage_attachment_salted(record, input, crypto::random())
    }

    /// [`Ledger::stage_attachment`] with the commitment's salt chosen by the caller, so that
    /// a remote client can compute the commitment it signs on its own side.
    pub fn stage_attachment_salted(
        &self,
        record: &[u8; 16],
        input: &mut impl Read,
        salt: [u8; 32],
    ) -> Result<StagedBlob, LedgerError> {
        self.attachment_stager(record)?.stage(input, salt)
    }

    /// What staging an attachment to `record` needs, taken from the ledger once, so that
    /// the (long) streaming runs without holding the ledger.
    pub fn attachment_stager(&self, record: &[u8; 16]) -> Result<Stager, LedgerError> {
        let dk = self
            .data_key(record)?
            .ok_or_else(|| LedgerError::NoRecord(hex::encode(record)))?;
        Ok(Stager {
            blobs: self.dir.join("blobs"),
            record: *record,
            dk,
        })
    }

    /// Appends a batch durably. Refuses the whole batch if any change breaks a rule.
    pub fn append(&mut self, subs: Vec<Submission>) -> Result<Vec<Outcome>, LedgerError> {
        self.append_borrowed(&subs.iter().collect::<Vec<_>>())
    }

    /// [`Ledger::append`] of borrowed submissions (the daemon's writer appends several
    /// requests' submissions as one batch, and each alone if that batch is refused).
    pub fn append_borrowed(&mut self, subs: &[&Submission]) -> Result<Vec<Outcome>, LedgerError> {
        let check = |(i, s): (usize, &&Submission)| {
            let sc = SignedChange::decode(&s.signed)
                .map_err(|source| LedgerError::Malformed { index: i, source })?;
            if !s.trusted && !verify_change(&sc.change.actor, sc.change_bytes(), &sc.signature()) {
                return Err(LedgerError::refused(
                    i,
                    format!("bad signature by key {}", hex::encode(sc.change.actor)),
                ));
            }
            Ok(sc)
        };
        // Signatures are worth the thread pool; decoding alone (the daemon checked the
        // signatures before) costs less than waking it.
        let decoded: Vec<SignedChange> = if subs.iter().any(|s| !s.trusted) {
            subs.par_iter()
                .enumerate()
                .map(check)
                .collect::<Result<_, _>>()?
        } else {
            subs.iter()
                .enumerate()
                .map(check)
                .collect::<Result<_, _>>()?
        };
        let mut w = BatchWriter::new(self);
        let mut outcomes = Vec::with_capacity(subs.len());
        for (i, (sub, sc)) in subs.iter().zip(decoded).enumerate() {
            outcomes.push(w.add(i, sub, sc)?);
        }
        let (mut batch, head, keys, tree) = w.finish();
        batch.put(Space::Meta, b"head", &head.encode());
        batch.put(
            Space::Meta,
            super::tree::TREE_SIZE,
            &tree.size().to_be_bytes(),
        );
        self.checkpoint_warning = None;
        if let (Some(key), true) = (&self.checkpoint_key, head.size > self.head.size) {
            // The kept checkpoint is consistent with the stored tree (checked), and this
            // batch only appends to it, so the new root extends it.
            match self.checkpoint_note(key, head.size, tree.root()) {
                Ok(super::checkpoint::Signed::New(note)) => {
                    batch.put(Space::Checkpoint, &head.size.to_be_bytes(), note.as_bytes())
                }
                Ok(super::checkpoint::Signed::AlreadyKept(_)) => {}
                Err(e) => self.checkpoint_warning = Some(e.to_string()),
            }
        }
        self.store.commit(batch)?;
        self.head = head;
        self.keys.extend(keys);
        self.tree = tree;
        Ok(outcomes)
    }

    /// The record's data key, if the record exists and its key is still recoverable.
    pub(crate) fn data_key(&self, record: &[u8; 16]) -> Result<Option<DataKey>, LedgerError> {
        match self.store.get(Space::DataKey, record)? {
            None => Ok(None),
            Some(w) => Ok(Some(self.epochs.unwrap_key(&w, record)?)),
        }
    }

    /// The sequence number the change of hash `hash` on `record` was recorded at.
    pub fn seq_of_change(
        &self,
        record: &[u8; 16],
        hash: &[u8; 32],
    ) -> Result<Option<u64>, LedgerError> {
        Ok(self
            .store
            .get(Space::Change, &super::history::change_key(record, hash))?
            .and_then(|v| v.try_into().ok())
            .map(u64::from_be_bytes))
    }

    /// The record an import source reference maps to.
    pub fn source_record(&self, reference: &str) -> Result<Option<[u8; 16]>, LedgerError> {
        let k = self.epochs.index_hash("source-record", reference);
        Ok(self
            .store
            .get(Space::Source, &k)?
            .and_then(|v| v.try_into().ok()))
    }

    /// The sequence number an imported source change reference was recorded at.
    pub fn source_change(&self, reference: &str) -> Result<Option<u64>, LedgerError> {
        let k = self.epochs.index_hash("source-change", reference);
        Ok(self
            .store
            .get(Space::Source, &k)?
            .and_then(|v| v.try_into().ok())
            .map(u64::from_be_bytes))
    }
}
