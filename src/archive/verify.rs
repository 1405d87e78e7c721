//! The rules an archive's files must satisfy, applied one file at a time in the order
//! the tar holds them (docs/FORMAT.md §12.3).
//!
//! Invariants:
//! - Order is part of the layout: `bagit.txt`; `data/ledger/checkpoint`; the ledger
//!   part's entries ascending; each record's folder contiguous, its case-number
//!   opening first, its entries ascending, each entry's files in [`Part::ALL`] order
//!   with a salt right before the data it opens; `record.json` last; then the tag
//!   files. Anything out of order is refused, so one pass suffices and contents and
//!   attachments stream through their commitment without being held in memory.
//! - Every commitment an entry carries must be opened by the files after it, and no
//!   file may open a commitment the entry does not carry.

mod bagit;
mod entries;

use std::collections::{BTreeMap, HashSet};

use super::bag::{self, Part, Place};
use super::keys::Keys;
use super::{ArchiveError, Checked};
use crate::crypto::{commit, verify_change, Committer};
use crate::format::{Action, Change, CommitmentKind, Entry};
use crate::merkle::checkpoint::Checkpoint;
use crate::merkle::note::NoteVerifier;
use crate::merkle::proof_text::TlogProof;
use crate::merkle::{leaf_hash, verify_inclusion, Hash};

/// What a file of the bag is, by its path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileKind {
    BagitTxt,
    BagInfo,
    Manifest,
    TagManifest,
    Checkpoint,
    Entry(Place, u64, Part),
    CaseSalt([u8; 16]),
    Case([u8; 16]),
    RecordJson([u8; 16]),
}

/// A content, side document or attachment on its way through its commitment.
pub struct Streamed {
    committer: Committer,
    expect: [u8; 32],
    len: u64,
}

impl Streamed {
    pub fn update(&mut self, chunk: &[u8]) {
        self.committer.update(chunk);
        self.len += chunk.len() as u64;
    }
}

struct Pending {
    place: Place,
    seq: u64,
    leaf: Hash,
    change: Change,
    last: Part,
    salt: Option<[u8; 32]>,
    have: HashSet<&'static str>,
}

struct Rec {
    id: [u8; 16],
    latest: [u8; 32],
    shape: Option<(String, String)>,
    last_seq: Option<u64>,
    case: Option<([u8; 32], Option<Vec<u8>>)>,
    last_case: Option<[u8; 32]>,
    json: bool,
}

/// The state of a one-pass check.
pub struct Verifier {
    ledger: NoteVerifier,
    cp: Option<Checkpoint>,
    keys: Keys,
    in_records: bool,
    pending: Option<Pending>,
    rec: Option<Rec>,
    done: HashSet<[u8; 16]>,
    info: Option<Vec<u8>>,
    manifest: Option<Vec<u8>>,
    tagmanifest: Option<Vec<u8>>,
    entries: u64,
    flagged: Vec<u64>,
}

fn wrong(s: impl Into<String>) -> ArchiveError {
    ArchiveError::wrong(s)
}

fn parse_place_seq(rel: &str) -> Option<(Place, u64, Part)> {
    let (dir, name) = rel.rsplit_once('/')?;
    let place = if dir == "data/ledger" {
        Place::Ledger
    } else {
        let id = dir.strip_prefix("data/records/")?;
        if id.len() != 32 || id.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        Place::Record(crate::crypto::parse_hex::<16>(id)?)
    };
    let (seq, suffix) = name.split_once('.')?;
    if seq.len() != 20 || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let part = Part::ALL.into_iter().find(|p| p.suffix() == suffix)?;
    Some((place, seq.parse().ok()?, part))
}

impl Verifier {
    pub fn new(ledger: NoteVerifier) -> Self {
        Verifier {
            ledger,
            cp: None,
            keys: Keys::default(),
            in_records: false,
            pending: None,
            rec: None,
            done: HashSet::new(),
            info: None,
            manifest: None,
            tagmanifest: None,
            entries: 0,
            flagged: Vec::new(),
        }
    }

    /// What `rel` is; a path outside the layout is refused.
    pub fn classify(&self, rel: &str) -> Result<FileKind, ArchiveError> {
        let k = match rel {
            "bagit.txt" => FileKind::BagitTxt,
            "bag-info.txt" => FileKind::BagInfo,
            "manifest-sha256.txt" => FileKind::Manifest,
            "tagmanifest-sha256.txt" => FileKind::TagManifest,
            bag::CHECKPOINT => FileKind::Checkpoint,
            _ => {
                if let Some((place, seq, part)) = parse_place_seq(rel) {
                    FileKind::Entry(place, seq, part)
                } else {
                    let record = |name: &str| {
                        let dir = rel.strip_suffix(name)?.strip_suffix('/')?;
                        match parse_place_seq(&format!("{dir}/{:020}.entry", 0))? {
                            (Place::Record(id), ..) => Some(id),
                            _ => None,
                        }
                    };
                    if let Some(id) = record(bag::CASE_SALT) {
                        FileKind::CaseSalt(id)
                    } else if let Some(id) = record(bag::CASE) {
                        FileKind::Case(id)
                    } else if let Some(id) = record(bag::RECORD_JSON) {
                        FileKind::RecordJson(id)
                    } else {
                        return Err(wrong(format!(
                            "{rel}: not a file of the archive layout (docs/FORMAT.md §12): an extra file"
                        )));
                    }
                }
            }
        };
        Ok(k)
    }

    /// Called before a file's bytes: order checks, and for a content, side document
    /// or attachment the commitment it will stream through.
    pub fn begin(&mut self, rel: &str, kind: &FileKind) -> Result<Option<Streamed>, ArchiveError> {
        let tag_started =
            self.info.is_some() || self.manifest.is_some() || self.tagmanifest.is_some();
        let place = match kind {
            FileKind::BagitTxt | FileKind::BagInfo | FileKind::Manifest | FileKind::TagManifest => {
                return Ok(None)
            }
            FileKind::Checkpoint => None,
            FileKind::Entry(p, ..) => Some(p.clone()),
            FileKind::CaseSalt(id) | FileKind::Case(id) | FileKind::RecordJson(id) => {
                Some(Place::Record(*id))
            }
        };
        if tag_started {
            return Err(wrong(format!("{rel}: a payload file after the tag files")));
        }
        match (&place, &self.cp) {
            (None, Some(_)) => return Err(wrong(format!("{rel}: appears twice"))),
            (None, None) => return Ok(None),
            (Some(_), None) => {
                return Err(wrong(format!("{rel}: comes before {}", bag::CHECKPOINT)))
            }
            _ => {}
        }
        let place = place.unwrap_or(Place::Ledger);
        self.enter(rel, &place)?;
        let FileKind::Entry(_, seq, part) = kind else {
            if matches!(kind, FileKind::CaseSalt(_) | FileKind::Case(_)) {
                self.finish_pending()?;
                if self.rec.as_ref().is_some_and(|r| r.last_seq.is_some()) {
                    return Err(wrong(format!(
                        "{rel}: must come before the record's entries"
                    )));
                }
            }
            return Ok(None);
        };
        if *part == Part::Entry {
            self.finish_pending()?;
            return Ok(None);
        }
        let p = self
            .pending
            .as_mut()
            .filter(|p| p.seq == *seq)
            .ok_or_else(|| {
                wrong(format!(
                    "{rel}: comes without its entry file right before it"
                ))
            })?;
        let idx = |x: Part| Part::ALL.iter().position(|p| *p == x).unwrap_or(0);
        if idx(*part) <= idx(p.last) {
            return Err(wrong(format!(
                "{rel}: out of order among the entry's files"
            )));
        }
        let c = &p.change;
        let (salt_part, kind, expect) = match part {
            Part::Content | Part::ContentSalt => (
                Part::ContentSalt,
                c.payload.as_ref().map(|x| x.kind),
                c.payload.as_ref().map(|x| x.hash),
            ),
            Part::Side | Part::SideSalt => (
                Part::SideSalt,
                Some(CommitmentKind::SideDocument),
                c.side_doc,
            ),
            Part::Attachment | Part::AttachmentSalt => {
                let blob = match c.action {
                    Action::RecordAttach { blob, .. } => Some(blob),
                    _ => None,
                };
                (Part::AttachmentSalt, Some(CommitmentKind::Attachment), blob)
            }
            Part::Proof | Part::Entry => return Ok(None),
        };
        let (Some(kind), Some(expect)) = (kind, expect) else {
            return Err(wrong(format!(
                "{rel}: entry {seq} commits to no such thing: an extra file"
            )));
        };
        if *part == salt_part {
            return Ok(None);
        }
        if p.last != salt_part {
            return Err(wrong(format!(
                "{rel}: its salt file must come right before it"
            )));
        }
        let salt = p
            .salt
            .ok_or_else(|| wrong(format!("{rel}: no salt before it")))?;
        Ok(Some(Streamed {
            committer: Committer::new(&salt, kind),
            expect,
            len: 0,
        }))
    }

    /// Moves into `place`: the ledger part precedes all records; a record's folder is
    /// contiguous.
    fn enter(&mut self, rel: &str, place: &Place) -> Result<(), ArchiveError> {
        match place {
            Place::Ledger if self.in_records => Err(wrong(format!(
                "{rel}: the ledger part must come before the records"
            ))),
            Place::Ledger => Ok(()),
            Place::Record(id) => {
                if !self.in_records {
                    self.finish_pending()?;
                    if self.keys.origin().is_none() {
                        return Err(wrong(format!(
                            "{rel}: no genesis entry in data/ledger/ before it"
                        )));
                    }
                    self.in_records = true;
                }
                if let Some(r) = self.rec.as_ref().filter(|r| r.id == *id) {
                    if r.json {
                        return Err(wrong(format!(
                            "{rel}: after the record's {}, which comes last",
                            bag::RECORD_JSON
                        )));
                    }
                    return Ok(());
                }
                self.finish_record()?;
                if !self.done.insert(*id) {
                    return Err(wrong(format!(
                        "{rel}: record {} appears in two places",
                        hex::encode(id)
                    )));
                }
                self.rec = Some(Rec {
                    id: *id,
                    latest: [0; 32],
                    shape: None,
                    last_seq: None,
                    case: None,
                    last_case: None,
                    json: false,
                });
                Ok(())
            }
        }
    }

    /// Called after a file's bytes.
    pub fn finish_file(
        &mut self,
        rel: &str,
        kind: FileKind,
        streamed: Option<Streamed>,
        small: &[u8],
        size: u64,
    ) -> Result<(), ArchiveError> {
        match kind {
            FileKind::BagitTxt if small == bag::BAGIT_TXT.as_bytes() => Ok(()),
            FileKind::BagitTxt => Err(wrong(format!("{rel}: not BagIt 1.0 UTF-8"))),
            FileKind::BagInfo => self.tag(rel, |v| &mut v.info, small),
            FileKind::Manifest => self.tag(rel, |v| &mut v.manifest, small),
            FileKind::TagManifest => self.tag(rel, |v| &mut v.tagmanifest, small),
            FileKind::Checkpoint => {
                let text =
                    std::str::from_utf8(small).map_err(|_| wrong(format!("{rel}: not UTF-8")))?;
                let cp = crate::merkle::audit::open_checkpoint(rel, text, &self.ledger).map_err(
                    |e| wrong(format!("{e} (a checkpoint of another ledger, or altered)")),
                )?;
                self.cp = Some(cp);
                Ok(())
            }
            FileKind::Entry(place, seq, part) => {
                self.entry_file(rel, place, seq, part, streamed, small, size)
            }
            FileKind::CaseSalt(_) => {
                let salt = bag::parse_salt(small)
                    .ok_or_else(|| wrong(format!("{rel}: malformed salt")))?;
                if let Some(r) = self.rec.as_mut() {
                    r.case = Some((salt, None));
                }
                Ok(())
            }
            FileKind::Case(_) => match self.rec.as_mut().and_then(|r| r.case.as_mut()) {
                Some((_, n @ None)) => {
                    *n = Some(small.to_vec());
                    Ok(())
                }
                _ => Err(wrong(format!(
                    "{rel}: must come right after {}",
                    bag::CASE_SALT
                ))),
            },
            FileKind::RecordJson(_) => {
                self.finish_pending()?;
                if let Some(r) = self.rec.as_mut() {
                    r.json = true;
                }
                Ok(())
            }
        }
    }

    fn tag(
        &mut self,
        rel: &str,
        slot: impl Fn(&mut Self) -> &mut Option<Vec<u8>>,
        small: &[u8],
    ) -> Result<(), ArchiveError> {
        self.finish_pending()?;
        self.finish_record()?;
        let s = slot(self);
        if s.is_some() {
            return Err(wrong(format!("{rel}: appears twice")));
        }
        *s = Some(small.to_vec());
        Ok(())
    }
}
