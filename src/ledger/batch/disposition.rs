//! Append rules for holds, schedules, purge plans, court orders, disposals and
//! certificates (DESIGN.md invariant 5: nothing under hold, nothing without an approved
//! plan or order naming it, is ever disposed).
//!
//! Invariants enforced here, at append, for every writer (CLI, daemon, import):
//! - A hold suspends disposal of the records it names, and of every record whose case
//!   number is the hold's, including records added or given that case later.
//! - A plan or order is approved by a person other than the one who made it (person
//!   ids, not keys), approving the exact document it committed to.
//! - A disposal names an approved, not yet certified plan or order that lists the
//!   record, of a kind the plan or order allows, and the record is under no hold.
//! - A transfer (admin) names an approved purge plan, certified or not, that lists the
//!   record for transfer, and the archive's hash; the record is under no hold.
//! - A disposal or transfer leaves a pending-destruction row in the same batch, so a
//!   crash between the entry and the destruction of the data is resumed, never forgotten.

use super::BatchWriter;
use crate::crypto::seal::DataKey;
use crate::format::{Action, Change, DisposalKind, HoldScope};
use crate::ledger::docs::{Member, OrderDoc, PlanDoc, ORDER_FORMAT, PLAN_FORMAT};
use crate::ledger::holds::{case_prefix, hold_of_row, record_prefix};
use crate::ledger::state::{Approval, RecordState};
use crate::ledger::{LedgerError, Submission};
use crate::store::Space;

type Res<T> = Result<T, LedgerError>;

/// The prefix every case hold row starts with (`holds::case_prefix`).
const CASE_ROWS: &[u8] = b"c";

impl BatchWriter<'_> {
    /// Applies the rules of a disposition action to the record state `st` of `c`.
    pub(super) fn disposition(
        &mut self,
        (i, seq): (usize, u64),
        c: &Change,
        sub: &Submission,
        st: &mut RecordState,
        person: &str,
        dk: &DataKey,
    ) -> Res<()> {
        let refuse = |d: String| LedgerError::refused(i, d);
        let rid = hex::encode(c.record);
        let follows = matches!(
            c.action,
            Action::HoldRelease
                | Action::PurgeApprove { .. }
                | Action::OrderApprove { .. }
                | Action::Disposal { .. }
                | Action::Transfer { .. }
                | Action::Certificate { .. }
        );
        if follows && sub.case_number.is_some() {
            return Err(refuse(format!(
                "{} changes carry no case number change (record {rid})",
                c.action.name()
            )));
        }
        match &c.action {
            Action::HoldPlace { scope, .. } => self.place_hold(i, c, sub, scope)?,
            Action::HoldRelease => self.release_hold(i, seq, c, st)?,
            Action::ScheduleAdopt { document } => {
                let text = self
                    .ledger
                    .document(document)
                    .map_err(|e| refuse(e.to_string()))?;
                let name = format!("schedule {}", hex::encode(document));
                let text = std::str::from_utf8(&text)
                    .map_err(|_| refuse(format!("{name} is not UTF-8")))?;
                super::super::schedules::check(&name, text)
                    .map_err(|e| refuse(format!("refusing to adopt: {e}")))?;
                st.document = Some(*document);
            }
            Action::PurgePlan { document, as_of } => {
                self.record_plan(i, c, person, document, as_of)?;
                st.document = Some(*document);
            }
            Action::OrderRecord { document } => {
                self.record_order(i, c, person, document)?;
                st.document = Some(*document);
            }
            Action::PurgeApprove { document } | Action::OrderApprove { document } => {
                approve(i, seq, c, st, person, document)?
            }
            Action::Disposal { kind, authority } => {
                self.check_disposal(i, c, *kind, authority, dk)?;
                st.disposed = Some(seq);
                self.batch.put(Space::Pending, &c.record, authority);
            }
            Action::Transfer { authority, archive } => {
                self.check_transfer(i, c, authority, archive, dk)?;
                st.disposed = Some(seq);
                self.batch.put(Space::Pending, &c.record, authority);
            }
            Action::Certificate { document } => {
                if !matches!(st.record_type.as_str(), "purge-plan" | "disposal-order") {
                    return Err(refuse(format!(
                        "record {rid} is not a purge plan or disposal order"
                    )));
                }
                if st.approved.is_none() {
                    return Err(refuse(format!("{rid} is not approved")));
                }
                if let Some(at) = st.closed {
                    return Err(refuse(format!("{rid} was already certified at entry {at}")));
                }
                self.ledger
                    .document(document)
                    .map_err(|e| refuse(e.to_string()))?;
                st.closed = Some(seq);
            }
            _ => {}
        }
        Ok(())
    }

    fn place_hold(&mut self, i: usize, c: &Change, sub: &Submission, scope: &HoldScope) -> Res<()> {
        let refuse = |d: String| LedgerError::refused(i, d);
        if c.side_doc.is_none() {
            return Err(refuse(
                "a hold must carry its authority reference (docket, request number) as its side document".into(),
            ));
        }
        match scope {
            HoldScope::Records(ids) => {
                for id in ids {
                    let r = self.record(id)?.ok_or_else(|| {
                        refuse(format!("hold: record {} does not exist", hex::encode(id)))
                    })?;
                    if let Some(at) = r.disposed {
                        return Err(refuse(format!(
                            "hold: record {} was already disposed at entry {at}",
                            hex::encode(id)
                        )));
                    }
                    self.put_row(
                        Space::Hold,
                        &[record_prefix(id), c.record.to_vec()].concat(),
                    );
                }
            }
            HoldScope::Case(h) => {
                let num = match (&sub.case_number, c.case) {
                    (Some(o), Some(case)) if case == *h => {
                        String::from_utf8(o.bytes.clone()).map_err(|_| {
                            refuse("hold: case number is not UTF-8".into())
                        })?
                    }
                    _ => {
                        return Err(refuse(
                            "a case hold must carry its case number, committed to by both the scope and the hold's case field".into(),
                        ))
                    }
                };
                let row = [case_prefix(&self.ledger.epochs, &num), c.record.to_vec()].concat();
                self.put_row(Space::Hold, &row);
            }
        }
        Ok(())
    }

    fn release_hold(&mut self, i: usize, seq: u64, c: &Change, st: &mut RecordState) -> Res<()> {
        let refuse = |d: String| LedgerError::refused(i, d);
        let rid = hex::encode(c.record);
        if st.record_type != "hold" {
            return Err(refuse(format!("record {rid} is not a hold")));
        }
        if let Some(at) = st.closed {
            return Err(refuse(format!(
                "hold {rid} was already released at entry {at}"
            )));
        }
        for r in self.ledger.store.scan(Space::Hold, b"") {
            let (k, _) = r?;
            if k.ends_with(&c.record) {
                self.remove_row(Space::Hold, &k);
            }
        }
        for k in self.rows_ending(Space::Hold, &c.record) {
            self.remove_row(Space::Hold, &k);
        }
        st.closed = Some(seq);
        Ok(())
    }

    /// A purge plan's rules; writes its member rows.
    fn record_plan(
        &mut self,
        i: usize,
        c: &Change,
        person: &str,
        document: &[u8; 32],
        as_of: &crate::format::Date,
    ) -> Res<()> {
        let refuse = |d: String| LedgerError::refused(i, d);
        let plan: PlanDoc = self.parse_doc(i, document, PLAN_FORMAT)?;
        if plan.as_of != as_of.to_string() || plan.planned_by != person {
            return Err(refuse(format!(
                "plan document says as of {} by {}, the entry says as of {as_of} by {person}",
                plan.as_of, plan.planned_by
            )));
        }
        if *as_of > crate::ledger::append::today() {
            return Err(refuse(format!(
                "a plan cannot be made as of {as_of}, a date still to come"
            )));
        }
        // The schedule the plan names must be an adopted one, with that file.
        let adopted = crate::crypto::parse_hex32(&plan.schedule.document).and_then(|doc| {
            let id: [u8; 16] = crate::crypto::parse_hex(&plan.schedule.record)?;
            Some((id, doc))
        });
        let ok = match adopted {
            Some((id, doc)) => self
                .record(&id)?
                .is_some_and(|s| s.record_type == "schedule" && s.document == Some(doc)),
            None => false,
        };
        if !ok {
            return Err(refuse(format!(
                "the plan names schedule {} (file {}), which this ledger did not adopt",
                plan.schedule.record, plan.schedule.document
            )));
        }
        let members = plan.records.iter().map(|e| {
            let m = Member {
                disposition: e.disposition.clone(),
                item: Some(e.item.clone()),
            };
            (e.record.as_str(), m)
        });
        self.put_members(i, &c.record, members.collect())?;
        Ok(())
    }

    /// A court order's rules; writes its member rows.
    fn record_order(&mut self, i: usize, c: &Change, person: &str, document: &[u8; 32]) -> Res<()> {
        let refuse = |d: String| LedgerError::refused(i, d);
        let order: OrderDoc = self.parse_doc(i, document, ORDER_FORMAT)?;
        if order.recorded_by != person {
            return Err(refuse(format!(
                "order document is recorded by {}, the entry is signed by {person}",
                order.recorded_by
            )));
        }
        if !matches!(order.action.as_str(), "destroy" | "expunge" | "seal") {
            return Err(refuse(format!(
                "order action {:?} is not destroy, expunge or seal",
                order.action
            )));
        }
        let members = order.records.iter().map(|r| {
            let m = Member {
                disposition: order.action.clone(),
                item: None,
            };
            (r.as_str(), m)
        });
        self.put_members(i, &c.record, members.collect())?;
        Ok(())
    }

    fn check_disposal(
        &mut self,
        i: usize,
        c: &Change,
        kind: DisposalKind,
        authority: &[u8; 16],
        dk: &DataKey,
    ) -> Res<()> {
        let refuse = |d: String| LedgerError::refused(i, d);
        let rid = hex::encode(c.record);
        let auth = hex::encode(authority);
        // The authority's state: as this batch left it, or read once per batch.
        if !self.records.contains_key(authority) && !self.authorities.contains_key(authority) {
            if let Some(st) = self.ledger.record(authority)? {
                self.authorities.insert(*authority, st);
            }
        }
        let a = self
            .records
            .get(authority)
            .or_else(|| self.authorities.get(authority))
            .ok_or_else(|| {
                refuse(format!(
                    "disposal of {rid}: authority {auth} does not exist"
                ))
            })?;
        if !matches!(a.record_type.as_str(), "purge-plan" | "disposal-order") {
            return Err(refuse(format!(
                "disposal of {rid}: {auth} is not a purge plan or disposal order"
            )));
        }
        if a.approved.is_none() {
            return Err(refuse(format!(
                "disposal of {rid}: {} {auth} is not approved",
                a.record_type
            )));
        }
        if let Some(at) = a.closed {
            return Err(refuse(format!(
                "disposal of {rid}: {auth} was completed (certified) at entry {at}"
            )));
        }
        let m = self
            .member(authority, &c.record)?
            .ok_or_else(|| refuse(format!("disposal of {rid}: {auth} does not list it")))?;
        if m.disposition != kind.to_string() {
            return Err(refuse(format!(
                "disposal of {rid}: {auth} allows {}, not {kind}",
                m.disposition
            )));
        }
        if let Some(hold) = self.hold_on(&c.record, dk)? {
            return Err(refuse(format!(
                "record {rid} is under legal hold {}: nothing under hold is ever disposed",
                hex::encode(hold)
            )));
        }
        Ok(())
    }

    /// A transfer to the archives: an approved purge plan (certified or not: `purge
    /// apply` certifies a plan while its transfers are still to come) that lists the
    /// record for transfer, an archive named, and no hold on the record or its case.
    fn check_transfer(
        &mut self,
        i: usize,
        c: &Change,
        authority: &[u8; 16],
        archive: &[u8; 32],
        dk: &DataKey,
    ) -> Res<()> {
        let refuse = |d: String| LedgerError::refused(i, d);
        let rid = hex::encode(c.record);
        let auth = hex::encode(authority);
        if *archive == [0; 32] {
            return Err(refuse(format!(
                "transfer of {rid}: it names no archive (the archive hash is zero)"
            )));
        }
        let a = self.record(authority)?.ok_or_else(|| {
            refuse(format!(
                "transfer of {rid}: authority {auth} does not exist"
            ))
        })?;
        if a.record_type != "purge-plan" {
            return Err(refuse(format!(
                "transfer of {rid}: {auth} is not a purge plan (only a plan lists records for transfer)"
            )));
        }
        if a.approved.is_none() {
            return Err(refuse(format!(
                "transfer of {rid}: purge-plan {auth} is not approved"
            )));
        }
        let m = self
            .member(authority, &c.record)?
            .ok_or_else(|| refuse(format!("transfer of {rid}: {auth} does not list it")))?;
        if m.disposition != "transfer" {
            return Err(refuse(format!(
                "transfer of {rid}: {auth} lists it for {}, not transfer",
                m.disposition
            )));
        }
        if let Some(hold) = self.hold_on(&c.record, dk)? {
            return Err(refuse(format!(
                "record {rid} is under legal hold {}: nothing under hold is ever transferred",
                hex::encode(hold)
            )));
        }
        Ok(())
    }

    /// An active hold on the case `case_number`, if any.
    pub(super) fn case_hold(&self, case_number: &str) -> Res<Option<[u8; 16]>> {
        self.first_hold(&case_prefix(&self.ledger.epochs, case_number))
    }

    /// The first hold in force under an `L` prefix, in the store or this batch. A store
    /// error is an error, never "no hold".
    fn first_hold(&self, prefix: &[u8]) -> Res<Option<[u8; 16]>> {
        match self.hold_rows_with_prefix(prefix)?.first() {
            None => Ok(None),
            Some(r) => hold_of_row(r)
                .map(Some)
                .ok_or_else(|| LedgerError::Invalid("malformed hold row".into())),
        }
    }

    /// An active hold on `record`, by record or by its case number, if any. The case
    /// number (sealed) is opened only when some case hold stands in the store or batch.
    pub(super) fn hold_on(&self, record: &[u8; 16], dk: &DataKey) -> Res<Option<[u8; 16]>> {
        if let Some(hold) = self.first_hold(&record_prefix(record))? {
            return Ok(Some(hold));
        }
        if self.hold_rows_with_prefix(CASE_ROWS)?.is_empty() {
            return Ok(None);
        }
        let case = self.destroyable(record, dk)?.and_then(|d| d.case_number);
        match case {
            Some(n) => self.first_hold(&case_prefix(&self.ledger.epochs, &n)),
            None => Ok(None),
        }
    }

    /// The store's hold rows (`L` keys), read at the first need in this batch: the
    /// store does not change while a batch is gathered (one writer).
    fn store_holds(&self) -> Res<&[Vec<u8>]> {
        if let Some(rows) = self.hold_rows.get() {
            return Ok(rows);
        }
        let rows = self
            .ledger
            .store
            .scan(Space::Hold, b"")
            .map(|r| r.map(|(k, _)| k))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.hold_rows.get_or_init(|| rows))
    }

    fn parse_doc<T: serde::de::DeserializeOwned + HasFormat>(
        &self,
        i: usize,
        document: &[u8; 32],
        format: &str,
    ) -> Res<T> {
        let refuse = |d: String| LedgerError::refused(i, d);
        let bytes = self
            .ledger
            .document(document)
            .map_err(|e| refuse(e.to_string()))?;
        let doc: T = serde_json::from_slice(&bytes).map_err(|e| {
            refuse(format!(
                "document {}: not a {format} document: {e}",
                hex::encode(document)
            ))
        })?;
        if doc.format() != format || doc.origin() != self.ledger.origin {
            return Err(refuse(format!(
                "document {}: expected format {format} for ledger {}",
                hex::encode(document),
                self.ledger.origin
            )));
        }
        Ok(doc)
    }

    /// Writes the member rows of a plan or order; each record must exist, be undisposed
    /// and be listed once.
    fn put_members(&mut self, i: usize, auth: &[u8; 16], members: Vec<(&str, Member)>) -> Res<()> {
        let refuse = |d: String| LedgerError::refused(i, d);
        if members.is_empty() {
            return Err(refuse(
                "a plan or order must name at least one record".into(),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (hex_id, m) in members {
            let id: [u8; 16] = crate::crypto::parse_hex(hex_id)
                .ok_or_else(|| refuse(format!("{hex_id:?} is not a record id")))?;
            if !seen.insert(id) {
                return Err(refuse(format!("record {hex_id} is listed twice")));
            }
            let r = self
                .record(&id)?
                .ok_or_else(|| refuse(format!("record {hex_id} does not exist")))?;
            if let Some(at) = r.disposed {
                return Err(refuse(format!(
                    "record {hex_id} was disposed at entry {at}"
                )));
            }
            if crate::format::action::INTERNAL_TYPES.contains(&r.record_type.as_str()) {
                return Err(refuse(format!(
                    "record {hex_id} is the ledger's own {} record and cannot be disposed",
                    r.record_type
                )));
            }
            let json = serde_json::to_vec(&m).map_err(|e| LedgerError::Invalid(e.to_string()))?;
            self.batch
                .put(Space::Member, &[&auth[..], &id].concat(), &json);
            self.overlay
                .insert([&[Space::Member as u8][..], auth, &id].concat(), Some(json));
        }
        Ok(())
    }

    fn member(&self, auth: &[u8; 16], record: &[u8; 16]) -> Res<Option<Member>> {
        let k = [&auth[..], record].concat();
        let v = match self.overlay.get(&[&[Space::Member as u8][..], &k].concat()) {
            Some(v) => v.clone(),
            None => self.ledger.store.get(Space::Member, &k)?,
        };
        v.map(|v| serde_json::from_slice(&v).map_err(|e| LedgerError::Invalid(e.to_string())))
            .transpose()
    }

    fn put_row(&mut self, space: Space, k: &[u8]) {
        self.batch.put(space, k, &[]);
        self.overlay
            .insert([&[space as u8][..], k].concat(), Some(Vec::new()));
    }

    fn remove_row(&mut self, space: Space, k: &[u8]) {
        self.batch.remove(space, k);
        self.overlay.insert([&[space as u8][..], k].concat(), None);
    }

    /// Hold rows (`L` keys, without the space byte) with `prefix` in the store and this
    /// batch, less those this batch removed.
    fn hold_rows_with_prefix(&self, prefix: &[u8]) -> Res<Vec<Vec<u8>>> {
        let space = Space::Hold;
        let full = [&[space as u8][..], prefix].concat();
        let mut out = Vec::new();
        let stored = self.store_holds()?;
        let from = stored.partition_point(|k| k.as_slice() < prefix);
        for k in stored[from..].iter().take_while(|k| k.starts_with(prefix)) {
            let ok = self.overlay.get(&[&[space as u8][..], k].concat());
            if !matches!(ok, Some(None)) {
                out.push(k.clone());
            }
        }
        for (k, v) in &self.overlay {
            if v.is_some() && k.starts_with(&full) && !out.iter().any(|o| o[..] == k[1..]) {
                out.push(k[1..].to_vec());
            }
        }
        Ok(out)
    }

    /// Keys added in this batch (not yet in the store) ending with `suffix`.
    fn rows_ending(&self, space: Space, suffix: &[u8]) -> Vec<Vec<u8>> {
        self.overlay
            .iter()
            .filter(|(k, v)| v.is_some() && k[0] == space as u8 && k.ends_with(suffix))
            .map(|(k, _)| k[1..].to_vec())
            .collect()
    }
}

/// The fields every disposition document shares.
trait HasFormat {
    fn format(&self) -> &str;
    fn origin(&self) -> &str;
}

impl HasFormat for PlanDoc {
    fn format(&self) -> &str {
        &self.format
    }
    fn origin(&self) -> &str {
        &self.origin
    }
}

impl HasFormat for OrderDoc {
    fn format(&self) -> &str {
        &self.format
    }
    fn origin(&self) -> &str {
        &self.origin
    }
}

/// An approval of a plan or order: the document it committed to, once, by another person.
fn approve(
    i: usize,
    seq: u64,
    c: &Change,
    st: &mut RecordState,
    person: &str,
    document: &[u8; 32],
) -> Res<()> {
    let refuse = |d: String| LedgerError::refused(i, d);
    let rid = hex::encode(c.record);
    let want = match c.action {
        Action::PurgeApprove { .. } => "purge-plan",
        _ => "disposal-order",
    };
    if st.record_type != want {
        return Err(refuse(format!("record {rid} is not a {want}")));
    }
    if st.document != Some(*document) {
        return Err(refuse(format!(
            "the approval names document {}, the {want} committed to another",
            hex::encode(document)
        )));
    }
    if let Some(a) = &st.approved {
        return Err(refuse(format!(
            "{want} {rid} was already approved by {} at entry {}",
            a.person, a.seq
        )));
    }
    if st.creator == person {
        return Err(refuse(format!(
            "{want} {rid} was made by {person}; another person must approve it (two-person rule)"
        )));
    }
    st.approved = Some(Approval {
        person: person.to_string(),
        seq,
    });
    Ok(())
}
