//! The read side: records, histories, listings, content and attachments.
//!
//! Invariant: the content of a sealed or confidential record is returned only after
//! the reader's signed `access` change has been appended (see [`Ledger::read_content`]).

use std::io::Write;

use serde::{Deserialize, Serialize};

use super::history::sealed_key;
use super::state::{Destroyable, RecordState};
use super::{Ledger, LedgerError, Outcome, Submission};
use crate::crypto::seal::{self, DataKey};
use crate::crypto::Committer;
use crate::format::{AccessTarget, Action, CommitmentKind, Date, Entry, SignedChange};
use crate::store::Space;

/// Opened sealed content: `(salt, plaintext)`.
pub type Opened = ([u8; 32], Vec<u8>);
/// An attachment: `(change hash, blob commitment, size)`.
pub type Attachment = ([u8; 32], [u8; 32], u64);

/// One change in a record's history (no content).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HistoryItem {
    pub seq: u64,
    pub time: String,
    pub action: String,
    pub actor: String,
    pub person: Option<String>,
    pub change: String,
}

/// Filters for [`Ledger::list`].
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub record_type: Option<String>,
    pub status: Option<String>,
    pub case_number: Option<String>,
    pub created_from: Option<Date>,
    pub created_to: Option<Date>,
    /// Include the ledger's own records (keys, the genesis record).
    pub internal: bool,
}

impl Ledger {
    pub fn record(&self, id: &[u8; 16]) -> Result<Option<RecordState>, LedgerError> {
        match self.store.get(Space::Record, id)? {
            None => Ok(None),
            Some(v) => parse_state(Some(id), &v).map(Some),
        }
    }

    pub(crate) fn destroyable_with(
        &self,
        id: &[u8; 16],
        dk: &DataKey,
    ) -> Result<Option<Destroyable>, LedgerError> {
        match self.store.get(Space::Destroyable, id)? {
            None => Ok(None),
            Some(v) => {
                let plain = seal::open(dk, id, &v)?;
                serde_json::from_slice(&plain).map(Some).map_err(|e| {
                    LedgerError::Invalid(format!(
                        "record {} metadata unreadable: {e}",
                        hex::encode(id)
                    ))
                })
            }
        }
    }

    /// The record's destroyable metadata (case number and its salt, source reference).
    pub(crate) fn destroyable(&self, id: &[u8; 16]) -> Result<Option<Destroyable>, LedgerError> {
        let dk = self.live_data_key(id)?;
        self.destroyable_with(id, &dk)
    }

    /// The record's case number, if it has one. `None` for an unknown record;
    /// [`LedgerError::Destroyed`] for a record whose data was destroyed.
    pub fn case_number(&self, id: &[u8; 16]) -> Result<Option<String>, LedgerError> {
        if self.record(id)?.is_none() {
            return Ok(None);
        }
        let dk = self.live_data_key(id)?;
        Ok(self.destroyable_with(id, &dk)?.and_then(|d| d.case_number))
    }

    /// The data key of an existing record, for reading its sealed data. A record whose
    /// wrapped key was deleted, or whose key's epoch was dropped from `epochs.key`, was
    /// destroyed (`docs/DESTRUCTION.md`): that is [`LedgerError::Destroyed`], never a
    /// generic decryption error.
    pub(crate) fn live_data_key(&self, id: &[u8; 16]) -> Result<DataKey, LedgerError> {
        match self.data_key(id) {
            Ok(Some(dk)) => Ok(dk),
            Ok(None) if self.record(id)?.is_some() => Err(LedgerError::Destroyed(hex::encode(id))),
            Ok(None) => Err(LedgerError::NoRecord(hex::encode(id))),
            Err(LedgerError::Seal(seal::SealError::EpochGone(_))) => {
                Err(LedgerError::Destroyed(hex::encode(id)))
            }
            Err(e) => Err(e),
        }
    }

    /// The stored bytes of entry `seq`.
    pub fn entry_bytes(&self, seq: u64) -> Result<Option<Vec<u8>>, LedgerError> {
        Ok(self.store.get(Space::Entry, &seq.to_be_bytes())?)
    }

    pub fn entry(&self, seq: u64) -> Result<Entry, LedgerError> {
        let b = self
            .entry_bytes(seq)?
            .ok_or_else(|| LedgerError::Invalid(format!("entry {seq} is missing")))?;
        Entry::decode(&b).map_err(|e| LedgerError::Invalid(format!("entry {seq}: {e}")))
    }

    /// Sequence numbers of a record's changes, ascending.
    pub fn record_seqs(&self, id: &[u8; 16]) -> Result<Vec<u64>, LedgerError> {
        self.store
            .scan(Space::History, id)
            .map(|kv| {
                let (k, _) = kv?;
                Ok(k.get(16..24)
                    .and_then(|s| s.try_into().ok())
                    .map(u64::from_be_bytes)
                    .unwrap_or(u64::MAX))
            })
            .collect()
    }

    pub fn history(&self, id: &[u8; 16]) -> Result<Vec<HistoryItem>, LedgerError> {
        if self.record(id)?.is_none() {
            return Err(LedgerError::NoRecord(hex::encode(id)));
        }
        self.record_seqs(id)?
            .into_iter()
            .map(|seq| {
                let e = self.entry(seq)?;
                let c = &e.signed.change;
                Ok(HistoryItem {
                    seq,
                    time: jiff::Timestamp::from_millisecond(e.time_ms)
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                    action: c.action.name().to_string(),
                    actor: hex::encode(c.actor),
                    person: self.keys.get(&c.actor).map(|k| k.person.clone()),
                    change: hex::encode(e.signed.hash()),
                })
            })
            .collect()
    }

    /// Records matching `f`, in record-id order.
    pub fn list(&self, f: &ListFilter) -> Result<Vec<RecordState>, LedgerError> {
        let ids: Option<Vec<[u8; 16]>> = match &f.case_number {
            None => None,
            Some(n) => Some(
                self.store
                    .scan(Space::CaseIndex, &self.epochs.index_hash("case", n))
                    .map(|kv| {
                        Ok(kv?
                            .0
                            .get(32..48)
                            .and_then(|s| s.try_into().ok())
                            .unwrap_or([0; 16]))
                    })
                    .collect::<Result<_, LedgerError>>()?,
            ),
        };
        let states: Vec<RecordState> = match ids {
            Some(ids) => ids
                .iter()
                .filter_map(|id| self.record(id).transpose())
                .collect::<Result<_, _>>()?,
            None => self
                .store
                .scan(Space::Record, b"")
                .map(|kv| {
                    let (k, v) = kv?;
                    parse_state(k.as_slice().try_into().ok(), &v)
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(states
            .into_iter()
            .filter(|s| f.internal || self.settings.is_user_type(&s.record_type))
            .filter(|s| f.record_type.as_ref().is_none_or(|t| &s.record_type == t))
            .filter(|s| {
                f.status
                    .as_ref()
                    .is_none_or(|t| s.status.as_deref().unwrap_or("open") == t)
            })
            .filter(|s| f.created_from.is_none_or(|d| s.created_on >= d.to_string()))
            .filter(|s| f.created_to.is_none_or(|d| s.created_on <= d.to_string()))
            .collect())
    }

    /// Opens the sealed content or side document of change `hash` of record `id`:
    /// `(salt, plaintext)`. Not a "read" in DESIGN.md's sense: callers that return it
    /// to a person go through [`Ledger::read_content`].
    pub(crate) fn open_sealed(
        &self,
        id: &[u8; 16],
        hash: &[u8; 32],
        kind: CommitmentKind,
    ) -> Result<Option<Opened>, LedgerError> {
        let Some(dk) = self.data_key(id)? else {
            return Ok(None);
        };
        let Some(sealed) = self.store.get(Space::Sealed, &sealed_key(id, hash, kind))? else {
            return Ok(None);
        };
        let aad = [&id[..], &[kind.code()]].concat();
        let plain = seal::open(&dk, &aad, &sealed)?;
        if plain.len() < 32 {
            return Err(LedgerError::Invalid(format!(
                "record {}: sealed content is truncated",
                hex::encode(id)
            )));
        }
        let mut salt = [0u8; 32];
        salt.copy_from_slice(&plain[..32]);
        Ok(Some((salt, plain[32..].to_vec())))
    }

    /// Returns the record's latest content. For a sealed or confidential record, `access`
    /// must be the reader's signed `access` change for exactly that content; it is
    /// appended (durably) before the content is returned.
    pub fn read_content(
        &mut self,
        id: &[u8; 16],
        access: Option<Submission>,
    ) -> Result<Vec<u8>, LedgerError> {
        let (st, content) = self.readable_content(id)?;
        self.log_read(id, &st, (AccessTarget::Payload, &content), access)?;
        self.open_content(id, &content)
    }

    /// The record's state and latest content hash, if its content can still be read.
    /// A destroyed record fails here, before any access change is logged.
    pub(crate) fn readable_content(
        &self,
        id: &[u8; 16],
    ) -> Result<(RecordState, [u8; 32]), LedgerError> {
        let st = self
            .record(id)?
            .ok_or_else(|| LedgerError::NoRecord(hex::encode(id)))?;
        if let Some(seq) = st.disposed {
            return Err(LedgerError::Invalid(format!(
                "record {} was disposed at entry {seq}: its content was destroyed",
                hex::encode(id)
            )));
        }
        let content = st.content.ok_or_else(|| {
            LedgerError::Invalid(format!("record {} has no content", hex::encode(id)))
        })?;
        self.live_data_key(id)?;
        Ok((st, content))
    }

    /// Opens the content committed to by change `content` of record `id`, if it is still
    /// the record's latest. The caller has checked that reading it is allowed: the record
    /// is not restricted, or the reader's access change naming `content` is durable.
    pub(crate) fn open_content(
        &self,
        id: &[u8; 16],
        content: &[u8; 32],
    ) -> Result<Vec<u8>, LedgerError> {
        let latest = self.record(id)?.and_then(|s| s.content);
        if latest != Some(*content) {
            return Err(LedgerError::Invalid(format!(
                "record {} changed while it was being read; read it again",
                hex::encode(id)
            )));
        }
        let (_, plain) = self
            .open_sealed(id, content, CommitmentKind::Content)?
            .ok_or_else(|| {
                LedgerError::Invalid(format!("record {}: content is gone", hex::encode(id)))
            })?;
        Ok(plain)
    }

    /// Attachments of a record: `(change hash, blob commitment, size)`.
    pub fn attachments(&self, id: &[u8; 16]) -> Result<Vec<Attachment>, LedgerError> {
        let mut out = Vec::new();
        for seq in self.record_seqs(id)? {
            let e = self.entry(seq)?;
            if let Action::RecordAttach { blob, size } = e.signed.change.action {
                out.push((e.signed.hash(), blob, size));
            }
        }
        Ok(out)
    }

    /// Streams attachment `blob` of record `id` into `out`, checking its commitment at the
    /// end. Returns the size. A restricted record needs the reader's `access` change.
    pub fn read_attachment(
        &mut self,
        id: &[u8; 16],
        blob: &[u8; 32],
        access: Option<Submission>,
        out: &mut impl Write,
    ) -> Result<u64, LedgerError> {
        let (st, change) = self.readable_attachment(id, blob)?;
        self.log_read(id, &st, (AccessTarget::Attachment, &change), access)?;
        self.stream_blob(id, &change, blob, |c| out.write_all(c))
    }

    /// The record's state and the change that added attachment `blob`, if the
    /// attachment can still be read.
    pub(crate) fn readable_attachment(
        &self,
        id: &[u8; 16],
        blob: &[u8; 32],
    ) -> Result<(RecordState, [u8; 32]), LedgerError> {
        let st = self
            .record(id)?
            .ok_or_else(|| LedgerError::NoRecord(hex::encode(id)))?;
        if let Some(seq) = st.disposed {
            return Err(LedgerError::Invalid(format!(
                "record {} was disposed at entry {seq}: its attachments were destroyed",
                hex::encode(id)
            )));
        }
        let (change, _, _) = self
            .attachments(id)?
            .into_iter()
            .find(|(_, b, _)| b == blob)
            .ok_or_else(|| {
                LedgerError::Invalid(format!(
                    "record {} has no attachment {}",
                    hex::encode(id),
                    hex::encode(blob)
                ))
            })?;
        self.live_data_key(id)?;
        Ok((st, change))
    }

    /// For a sealed or confidential record, appends (durably) the reader's signed
    /// `access` change naming exactly `read` (a change hash) before anything is returned.
    fn log_read(
        &mut self,
        id: &[u8; 16],
        st: &RecordState,
        read: (AccessTarget, &[u8; 32]),
        access: Option<Submission>,
    ) -> Result<(), LedgerError> {
        if !st.restricted() {
            return Ok(());
        }
        let sub = access.ok_or_else(|| {
            LedgerError::Invalid(format!(
                "record {} is {}: reading it is logged; sign with a supervisor or auditor key (--key)",
                hex::encode(id),
                if st.sealed { "sealed" } else { "confidential" }
            ))
        })?;
        check_access(id, read.0, read.1, &sub)?;
        match self.append(vec![sub])?[0] {
            Outcome::Appended(_) => Ok(()),
            Outcome::AlreadyRecorded(s) => Err(LedgerError::Invalid(format!(
                "this access change was already used at entry {s}; sign a new one"
            ))),
        }
    }

    /// Decrypts a blob through `sink`, verifying it against its commitment.
    ///
    /// The blob file is opened first: once destruction has unlinked it, the error is
    /// `Io` "not found", which `verify` counts as missing content.
    pub(crate) fn stream_blob(
        &self,
        id: &[u8; 16],
        change: &[u8; 32],
        blob: &[u8; 32],
        sink: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<u64, LedgerError> {
        self.blob_reader(id, change, blob)?.stream(sink)
    }

    /// What streaming attachment `blob` needs, taken from the ledger once: the open file,
    /// the data key and the salt. Reading it then holds no part of the ledger.
    pub(crate) fn blob_reader(
        &self,
        id: &[u8; 16],
        change: &[u8; 32],
        blob: &[u8; 32],
    ) -> Result<BlobReader, LedgerError> {
        let path = self.dir.join("blobs").join(hex::encode(blob));
        let file = std::fs::File::open(&path).map_err(|e| LedgerError::Io(path.clone(), e))?;
        let dk = self.live_data_key(id)?;
        let salt = self.attachment_salt_with(id, change, blob, &dk)?;
        Ok(BlobReader {
            file,
            dk,
            salt,
            record: *id,
            blob: *blob,
        })
    }

    /// The salt of attachment `blob`, added to record `id` by change `change`.
    pub(crate) fn attachment_salt(
        &self,
        id: &[u8; 16],
        change: &[u8; 32],
        blob: &[u8; 32],
    ) -> Result<[u8; 32], LedgerError> {
        let dk = self.live_data_key(id)?;
        self.attachment_salt_with(id, change, blob, &dk)
    }

    fn attachment_salt_with(
        &self,
        id: &[u8; 16],
        change: &[u8; 32],
        blob: &[u8; 32],
        dk: &DataKey,
    ) -> Result<[u8; 32], LedgerError> {
        let salt_sealed = self
            .store
            .get(
                Space::Sealed,
                &sealed_key(id, change, CommitmentKind::Attachment),
            )?
            .ok_or_else(|| {
                LedgerError::Invalid(format!("attachment {} salt missing", hex::encode(blob)))
            })?;
        seal::open(dk, id, &salt_sealed)?
            .as_slice()
            .try_into()
            .map_err(|_| LedgerError::Invalid("attachment salt malformed".into()))
    }
}

/// An attachment ready to stream: see [`Ledger::blob_reader`].
pub struct BlobReader {
    file: std::fs::File,
    dk: DataKey,
    salt: [u8; 32],
    record: [u8; 16],
    blob: [u8; 32],
}

impl BlobReader {
    /// Decrypts the blob through `sink`; fails at the end unless it matches its
    /// commitment (so a consumer must not trust the bytes before this returns `Ok`).
    pub fn stream(
        mut self,
        mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<u64, LedgerError> {
        let mut committer = Committer::new(&self.salt, CommitmentKind::Attachment);
        // Unbuffered: open_stream reads whole 64 KiB chunks, so a buffer would only add
        // a copy.
        let n = seal::open_stream(&self.dk, &self.record, &mut self.file, |c| {
            committer.update(c);
            sink(c)
        })?;
        if committer.finish() != self.blob {
            return Err(LedgerError::Invalid(format!(
                "attachment {} does not match its commitment",
                hex::encode(self.blob)
            )));
        }
        Ok(n)
    }
}

/// Checks that `sub` is an `access` change to record `id` naming exactly `read`, with
/// the target being read (content or attachment).
pub(crate) fn check_access(
    id: &[u8; 16],
    target: AccessTarget,
    read: &[u8; 32],
    sub: &Submission,
) -> Result<(), LedgerError> {
    let sc = SignedChange::decode(&sub.signed)
        .map_err(|source| LedgerError::Malformed { index: 0, source })?;
    match sc.change.action {
        Action::Access { change, target: t }
            if change == *read && t == target && sc.change.record == *id =>
        {
            Ok(())
        }
        _ => Err(LedgerError::Invalid(
            "the access change does not name what is being read".into(),
        )),
    }
}

/// A stored record state (`Space::Record`); the error names the record.
pub(crate) fn parse_state(id: Option<&[u8; 16]>, v: &[u8]) -> Result<RecordState, LedgerError> {
    RecordState::decode(v).map_err(|e| {
        let who = id.map_or_else(
            || "a record".to_string(),
            |i| format!("record {}", hex::encode(i)),
        );
        LedgerError::Invalid(format!("{who}: stored state unreadable: {e}"))
    })
}
