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
                if self.rec.as_ref().is_some_and(|r| r.id == *id) {
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

    #[allow(clippy::too_many_arguments)]
    fn entry_file(
        &mut self,
        rel: &str,
        place: Place,
        seq: u64,
        part: Part,
        streamed: Option<Streamed>,
        small: &[u8],
        size: u64,
    ) -> Result<(), ArchiveError> {
        if part == Part::Entry {
            return self.new_entry(rel, place, seq, small);
        }
        let cp = self
            .cp
            .clone()
            .ok_or_else(|| wrong(format!("{rel}: no checkpoint")))?;
        let p = self
            .pending
            .as_mut()
            .ok_or_else(|| wrong(format!("{rel}: without its entry")))?;
        p.last = part;
        match part {
            Part::Proof => {
                let text =
                    std::str::from_utf8(small).map_err(|_| wrong(format!("{rel}: not UTF-8")))?;
                let proof = TlogProof::parse(text).map_err(|e| wrong(format!("{rel}: {e}")))?;
                let pc = proof.checkpoint();
                if (pc.origin.as_str(), pc.size, pc.root) != (cp.origin.as_str(), cp.size, cp.root)
                {
                    return Err(wrong(format!(
                        "{rel}: proves against another checkpoint than {}",
                        bag::CHECKPOINT
                    )));
                }
                if proof.index() != seq {
                    return Err(wrong(format!(
                        "{rel}: a proof for entry {}, not {seq}",
                        proof.index()
                    )));
                }
                verify_inclusion(&p.leaf, seq, cp.size, proof.proof(), &cp.root).map_err(|e| {
                    wrong(format!(
                        "{rel}: entry {seq} is not in the checkpoint's tree: {e}"
                    ))
                })?;
                p.have.insert("proof");
            }
            Part::ContentSalt | Part::SideSalt | Part::AttachmentSalt => {
                p.salt = Some(
                    bag::parse_salt(small)
                        .ok_or_else(|| wrong(format!("{rel}: malformed salt")))?,
                );
            }
            Part::Content | Part::Side | Part::Attachment => {
                let s = streamed.ok_or_else(|| wrong(format!("{rel}: no commitment to check")))?;
                if s.committer.finish() != s.expect {
                    return Err(wrong(format!(
                        "{rel}: does not match entry {seq}'s commitment (altered or not this entry's)"
                    )));
                }
                if let (Part::Attachment, Action::RecordAttach { size: want, .. }) =
                    (part, &p.change.action)
                {
                    if *want != s.len || size != s.len {
                        return Err(wrong(format!(
                            "{rel}: {} bytes, entry {seq} says {want}",
                            s.len
                        )));
                    }
                }
                p.have.insert(part.suffix());
                p.salt = None;
            }
            Part::Entry => {}
        }
        Ok(())
    }

    fn new_entry(
        &mut self,
        rel: &str,
        place: Place,
        seq: u64,
        bytes: &[u8],
    ) -> Result<(), ArchiveError> {
        let cp = self
            .cp
            .clone()
            .ok_or_else(|| wrong(format!("{rel}: no checkpoint before it")))?;
        let e = Entry::decode(bytes).map_err(|e| wrong(format!("{rel}: {e}")))?;
        if e.seq != seq {
            return Err(wrong(format!("{rel}: holds entry {}, not {seq}", e.seq)));
        }
        if seq >= cp.size {
            return Err(wrong(format!(
                "{rel}: entry {seq} is beyond the checkpoint ({} entries)",
                cp.size
            )));
        }
        let c = &e.signed.change;
        if !verify_change(&c.actor, e.signed.change_bytes(), &e.signed.signature()) {
            return Err(wrong(format!(
                "{rel}: entry {seq}'s signature does not verify"
            )));
        }
        match &place {
            Place::Ledger => self
                .keys
                .apply(seq, c)
                .map_err(|m| wrong(format!("{rel}: entry {seq}: {m}")))?,
            Place::Record(id) => {
                let (_, flagged) = self
                    .keys
                    .authorize(seq, c)
                    .map_err(|m| wrong(format!("{rel}: entry {seq}: {m}")))?;
                if flagged {
                    self.flagged.push(seq);
                }
                let r = self
                    .rec
                    .as_mut()
                    .ok_or_else(|| wrong(format!("{rel}: outside a record")))?;
                chain(r, id, seq, &e).map_err(|m| wrong(format!("{rel}: entry {seq}: {m}")))?;
            }
        }
        self.entries += 1;
        self.pending = Some(Pending {
            place,
            seq,
            leaf: leaf_hash(bytes),
            change: e.signed.change.clone(),
            last: Part::Entry,
            salt: None,
            have: HashSet::new(),
        });
        Ok(())
    }

    /// Every commitment of the pending entry was opened, and it had its proof.
    fn finish_pending(&mut self) -> Result<(), ArchiveError> {
        let Some(p) = self.pending.take() else {
            return Ok(());
        };
        let c = &p.change;
        let need = [
            ("proof", true),
            ("content", c.payload.is_some()),
            ("side", c.side_doc.is_some()),
            (
                "attachment",
                matches!(c.action, Action::RecordAttach { .. }),
            ),
        ];
        for (what, needed) in need {
            if needed && !p.have.contains(what) {
                return Err(wrong(format!(
                    "{}/{:020}.{what}: missing (entry {} needs it)",
                    p.place.dir(),
                    p.seq,
                    p.seq
                )));
            }
        }
        Ok(())
    }

    fn finish_record(&mut self) -> Result<(), ArchiveError> {
        self.finish_pending()?;
        let Some(r) = self.rec.take() else {
            return Ok(());
        };
        let dir = Place::Record(r.id).dir();
        if r.last_seq.is_none() {
            return Err(wrong(format!("{dir}/: a record folder with no entry")));
        }
        if !r.json {
            return Err(wrong(format!("{dir}/{}: missing", bag::RECORD_JSON)));
        }
        match (r.case, r.last_case) {
            (None, None) => {}
            (Some((salt, Some(n))), Some(c)) => {
                if commit(&salt, CommitmentKind::CaseNumber, &n) != c {
                    return Err(wrong(format!(
                        "{dir}/{}: does not open the record's case commitment",
                        bag::CASE
                    )));
                }
            }
            (Some(_), None) => {
                return Err(wrong(format!(
                    "{dir}/{}: the record commits to no case number",
                    bag::CASE
                )))
            }
            (_, Some(_)) => {
                return Err(wrong(format!(
                    "{dir}/{}: missing (the record has a case number)",
                    bag::CASE
                )))
            }
        }
        Ok(())
    }

    /// After the last file: the manifests and bag-info against what was read.
    pub fn finish(mut self, seen: &BTreeMap<String, [u8; 32]>) -> Result<Checked, ArchiveError> {
        self.finish_record()?;
        let cp = self
            .cp
            .clone()
            .ok_or_else(|| wrong(format!("{}: missing", bag::CHECKPOINT)))?;
        if self.keys.origin().is_none() {
            return Err(wrong("data/ledger/: no genesis entry"));
        }
        let need = |v: &Option<Vec<u8>>, name: &str| {
            v.clone().ok_or_else(|| wrong(format!("{name}: missing")))
        };
        let info = need(&self.info, "bag-info.txt")?;
        let manifest = need(&self.manifest, "manifest-sha256.txt")?;
        let tags = need(&self.tagmanifest, "tagmanifest-sha256.txt")?;
        let m = bag::parse_manifest("manifest-sha256.txt", &manifest).map_err(wrong)?;
        let data = seen
            .iter()
            .filter(|(p, _)| p.starts_with("data/"))
            .collect();
        compare("manifest-sha256.txt", &m, &data)?;
        let t = bag::parse_manifest("tagmanifest-sha256.txt", &tags).map_err(wrong)?;
        let tag_files = ["bagit.txt", "bag-info.txt", "manifest-sha256.txt"];
        let tagged = seen
            .iter()
            .filter(|(p, _)| tag_files.contains(&p.as_str()))
            .collect();
        compare("tagmanifest-sha256.txt", &t, &tagged)?;
        let bag_info = parse_info(&info)?;
        let payload = seen.keys().filter(|p| p.starts_with("data/")).count();
        if let Some(ox) = bag_info.get("Payload-Oxum") {
            let files = ox.split_once('.').map(|(_, f)| f);
            if files != Some(payload.to_string().as_str()) {
                return Err(wrong(format!(
                    "bag-info.txt: Payload-Oxum {ox} does not match the {payload} payload files"
                )));
            }
        }
        if bag_info.get("Blotter-Record-Count") != Some(&self.done.len().to_string()) {
            return Err(wrong(format!(
                "bag-info.txt: Blotter-Record-Count does not match the {} record folders",
                self.done.len()
            )));
        }
        if bag_info.get("Blotter-Origin") != Some(&cp.origin) {
            return Err(wrong(
                "bag-info.txt: Blotter-Origin is not the checkpoint's origin",
            ));
        }
        self.flagged.sort();
        Ok(Checked {
            origin: cp.origin,
            checkpoint_size: cp.size,
            records: self.done.len() as u64,
            entries: self.entries,
            files: seen.len() as u64,
            payload_bytes: 0,
            flagged: self.flagged,
            bag_info,
        })
    }
}

/// A record's own chain: its first entry creates it; each next names the one before.
fn chain(r: &mut Rec, id: &[u8; 16], seq: u64, e: &Entry) -> Result<(), String> {
    let c = &e.signed.change;
    if c.record != *id {
        return Err(format!(
            "is about record {}, not this folder's",
            hex::encode(c.record)
        ));
    }
    if r.last_seq.is_some_and(|l| seq <= l) {
        return Err("entries are not in ascending order".into());
    }
    let shape = (c.record_type.clone(), c.created_on.to_string());
    match &r.shape {
        None if !c.action.creates_record() || c.record_prev != [0; 32] => {
            return Err(
                "the record's first entry in the archive does not create it: entries are missing"
                    .into(),
            )
        }
        None => r.shape = Some(shape),
        Some(s) => {
            if c.action.creates_record() {
                return Err("creates the record a second time".into());
            }
            if c.record_prev != r.latest {
                return Err("record_prev does not name the record's previous change: a change is missing, reordered or inserted".into());
            }
            if *s != shape {
                return Err("type or created_on differ from the record's".into());
            }
        }
    }
    if !matches!(c.action, Action::Access { .. }) {
        r.latest = e.signed.hash();
    }
    if c.case.is_some() {
        r.last_case = c.case;
    }
    r.last_seq = Some(seq);
    Ok(())
}

fn compare(
    name: &str,
    listed: &BTreeMap<String, [u8; 32]>,
    seen: &BTreeMap<&String, &[u8; 32]>,
) -> Result<(), ArchiveError> {
    for (p, h) in seen {
        match listed.get(*p) {
            None => return Err(wrong(format!("{p}: not listed in {name}: an extra file"))),
            Some(l) if l != *h => {
                return Err(wrong(format!(
                    "{p}: its SHA-256 differs from {name} (altered)"
                )))
            }
            _ => {}
        }
    }
    if let Some(p) = listed.keys().find(|p| !seen.contains_key(p)) {
        return Err(wrong(format!(
            "{p}: listed in {name} but missing from the bag"
        )));
    }
    Ok(())
}

fn parse_info(bytes: &[u8]) -> Result<BTreeMap<String, String>, ArchiveError> {
    let text = std::str::from_utf8(bytes).map_err(|_| wrong("bag-info.txt: not UTF-8"))?;
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let (k, v) = line.split_once(": ").ok_or_else(|| {
            wrong(format!(
                "bag-info.txt line {}: expected `Label: value`",
                i + 1
            ))
        })?;
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}
