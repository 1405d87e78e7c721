//! The rules for an entry's files: the entry itself (signature, authority, record
//! chain), its proof, and the openings of its commitments.

use super::*;

impl Verifier {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn entry_file(
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

    pub(super) fn new_entry(
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
        if c.origin != cp.origin {
            return Err(wrong(format!(
                "{rel}: entry {seq} is for ledger {:?}, the checkpoint for {:?}",
                c.origin, cp.origin
            )));
        }
        match &place {
            Place::Ledger => {
                // Only the genesis and key entries belong here (FORMAT §12.3).
                if !matches!(
                    c.action,
                    Action::Genesis { .. } | Action::KeyRegister { .. } | Action::KeyRevoke { .. }
                ) {
                    return Err(wrong(format!(
                        "{rel}: a {} entry in the ledger part, which holds only the genesis and key entries",
                        c.action.name()
                    )));
                }
                self.keys
                    .apply(seq, c)
                    .map_err(|m| wrong(format!("{rel}: entry {seq}: {m}")))?
            }
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
    pub(super) fn finish_pending(&mut self) -> Result<(), ArchiveError> {
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

    pub(super) fn finish_record(&mut self) -> Result<(), ArchiveError> {
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
        None if !matches!(c.action, Action::RecordCreate { .. }) || c.record_prev != [0; 32] => {
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
