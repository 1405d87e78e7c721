//! Purges and court-ordered disposals: plan (or record an order), approve by another
//! person, then apply and certify (`apply.rs`). The append rules
//! (`batch/disposition.rs`) make every step safe whoever calls them; this module builds
//! and keeps the documents.
//!
//! A plan's or order's document is kept first ([`Ledger::keep_plan`],
//! [`Ledger::keep_order`]), then its signer checks the kept text ([`check_plan`],
//! [`check_order`]) and signs the entry that commits to it: through a daemon the server
//! keeps the document and the client checks and signs.

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use serde::Serialize;

use super::apply::Offered;
use super::docs::{
    CertificateDoc, NotDisposed, OrderDoc, PlanDoc, PlanEntry, ScheduleRef, ORDER_FORMAT,
    PLAN_FORMAT,
};
use super::report::status_name;
use super::state::RecordState;
use super::{Draft, Ledger, LedgerError};
use crate::format::{Action, Date};
use crate::retention::{Disposition, Status};
use crate::store::Space;

/// A record disposed of whose data is not yet destroyed, and its plan or order.
pub type Pending = ([u8; 16], [u8; 16]);

/// What applying a plan or order did.
#[derive(Clone, Debug, Serialize)]
pub struct Applied {
    pub authority: String,
    pub disposed_now: u64,
    pub already_disposed: u64,
    pub not_disposed: Vec<NotDisposed>,
    pub transfer_pending: u64,
    /// Records sealed (a seal order).
    pub sealed: u64,
    pub certificate: Option<String>,
    pub certificate_seq: Option<u64>,
}

fn invalid(what: impl std::fmt::Display) -> LedgerError {
    LedgerError::Invalid(what.to_string())
}

impl Ledger {
    pub(crate) fn person_of(&self, key: &SigningKey) -> Result<String, LedgerError> {
        let pk = key.verifying_key().to_bytes();
        self.key_state(&pk)
            .map(|k| k.person.clone())
            .ok_or_else(|| invalid(format!("key {} is not registered", hex::encode(pk))))
    }

    /// Builds the plan of everything eligible as of `as_of` under the schedule in force,
    /// keeps its document and drafts its `purge.plan` entry for `planner` to sign.
    pub fn purge_plan_draft(
        &self,
        as_of: Date,
        planner: &SigningKey,
    ) -> Result<(Draft, PlanDoc), LedgerError> {
        let (offer, doc) = self.keep_plan(as_of, &self.person_of(planner)?)?;
        Ok((plan_draft(offer.document, as_of), doc))
    }

    /// Builds the plan of everything eligible as of `as_of` under the schedule in force,
    /// made by `planner` (a person id), and keeps its document.
    pub fn keep_plan(&self, as_of: Date, planner: &str) -> Result<(Offered, PlanDoc), LedgerError> {
        let (adopted, schedule) = self.schedule_in_force()?.ok_or_else(|| {
            invalid("no retention schedule is adopted; run `blotter schedule adopt FILE` first")
        })?;
        let civil = jiff::civil::Date::new(as_of.year as i16, as_of.month as i8, as_of.day as i8)
            .map_err(invalid)?;
        let mut records = Vec::new();
        let mut left_out = BTreeMap::new();
        self.retention_report(&schedule, civil, &mut |o| {
            let transfer = matches!(
                o.disposition,
                Some(Disposition::TransferArchives | Disposition::TransferOther)
            );
            let destroy = matches!(o.disposition, Some(Disposition::Destroy));
            if o.status == Status::Eligible && (destroy || transfer) {
                records.push(PlanEntry {
                    record: hex::encode(o.record),
                    record_type: o.record_type,
                    item: o.item.unwrap_or_default(),
                    disposition: if destroy { "destroy" } else { "transfer" }.into(),
                    trigger_date: o.trigger_date.map(|d| d.to_string()),
                    eligible_on: o.eligible_on.map(|d| d.to_string()).unwrap_or_default(),
                    reason: o.reason,
                });
            } else {
                *left_out
                    .entry(status_name(o.status).to_string())
                    .or_insert(0) += 1;
            }
            Ok(())
        })?;
        if records.is_empty() {
            return Err(invalid(format!(
                "nothing is eligible for disposition as of {as_of}; nothing to plan"
            )));
        }
        let doc = PlanDoc {
            format: PLAN_FORMAT.into(),
            origin: self.origin.clone(),
            as_of: as_of.to_string(),
            schedule: ScheduleRef {
                record: adopted.record,
                document: adopted.document,
                state: adopted.state,
                title: adopted.title,
                version: adopted.version,
            },
            planned_by: planner.to_string(),
            records,
            left_out,
        };
        Ok((self.keep(&doc)?, doc))
    }

    /// Keeps `doc` (pretty JSON) in the documents.
    fn keep(&self, doc: &impl Serialize) -> Result<Offered, LedgerError> {
        let text = serde_json::to_string_pretty(doc).map_err(invalid)?;
        let document = self.put_document(text.as_bytes())?;
        Ok(Offered { document, text })
    }

    /// Keeps a court order's document and drafts its `order.record` entry.
    pub fn order_draft(
        &self,
        court_order: &str,
        action: &str,
        records: &[[u8; 16]],
        recorder: &SigningKey,
    ) -> Result<Draft, LedgerError> {
        let person = self.person_of(recorder)?;
        let (offer, _) = self.keep_order(court_order, action, records, &person)?;
        Ok(order_draft(offer.document))
    }

    /// Keeps the document of a court order to `action` (destroy, expunge or seal)
    /// `records`, recorded by `recorder` (a person id).
    pub fn keep_order(
        &self,
        court_order: &str,
        action: &str,
        records: &[[u8; 16]],
        recorder: &str,
    ) -> Result<(Offered, OrderDoc), LedgerError> {
        let doc = order_doc(&self.origin, court_order, action, records, recorder)?;
        Ok((self.keep(&doc)?, doc))
    }

    /// Drafts the approval of a plan (`want` = `purge-plan`) or an order
    /// (`disposal-order`); the approver signs it.
    pub fn approval_draft(&self, id: &[u8; 16], want: &str) -> Result<Draft, LedgerError> {
        let st = self.authority_state(id)?;
        if st.record_type != want {
            return Err(invalid(format!(
                "{} is a {}, not a {want}",
                hex::encode(id),
                st.record_type
            )));
        }
        let document = st.document.ok_or_else(|| invalid("no document"))?;
        let action = if st.record_type == "purge-plan" {
            Action::PurgeApprove { document }
        } else {
            Action::OrderApprove { document }
        };
        self.draft(id, action)
    }

    pub(super) fn authority_state(&self, id: &[u8; 16]) -> Result<RecordState, LedgerError> {
        self.record(id)?
            .filter(|s| matches!(s.record_type.as_str(), "purge-plan" | "disposal-order"))
            .ok_or_else(|| {
                invalid(format!(
                    "{} is not a purge plan or disposal order",
                    hex::encode(id)
                ))
            })
    }

    /// The plan document of a plan record.
    pub fn plan_document(&self, id: &[u8; 16]) -> Result<PlanDoc, LedgerError> {
        let st = self.authority_state(id)?;
        let doc = self.document(&st.document.ok_or_else(|| invalid("no document"))?)?;
        serde_json::from_slice(&doc).map_err(|e| invalid(format!("plan document: {e}")))
    }

    /// The order document of a disposal-order record.
    pub fn order_document(&self, id: &[u8; 16]) -> Result<OrderDoc, LedgerError> {
        let st = self.authority_state(id)?;
        let doc = self.document(&st.document.ok_or_else(|| invalid("no document"))?)?;
        serde_json::from_slice(&doc).map_err(|e| invalid(format!("order document: {e}")))
    }

    /// Destroys the data of every record this authority disposed of that is still
    /// pending, then clears their pending rows.
    pub fn finish_destruction(&mut self, authority: &[u8; 16]) -> Result<u64, LedgerError> {
        let mut pending = Vec::new();
        for r in self.store.scan(Space::Pending, b"") {
            let (k, v) = r?;
            if v == authority[..] {
                pending.push(k.try_into().map_err(|_| invalid("malformed pending row"))?);
            }
        }
        if pending.is_empty() {
            return Ok(0);
        }
        self.destroy_data(&pending)?;
        for chunk in pending.chunks(10_000) {
            let mut b = crate::store::Batch::default();
            for rid in chunk {
                b.remove(Space::Pending, rid);
            }
            self.store.commit(b)?;
        }
        Ok(pending.len() as u64)
    }

    /// Records with a disposal entry whose data is not yet destroyed (a crash in the
    /// middle of an apply): `(record, authority)`.
    pub fn pending_destruction(&self) -> Result<Vec<Pending>, LedgerError> {
        self.store
            .scan(Space::Pending, b"")
            .map(|r| {
                let (k, v) = r?;
                let rec = k.try_into().map_err(|_| invalid("malformed pending row"))?;
                let auth = v.try_into().map_err(|_| invalid("malformed pending row"))?;
                Ok((rec, auth))
            })
            .collect()
    }

    /// The certificate document of a certified plan or order.
    pub fn certificate(&self, id: &[u8; 16]) -> Result<(CertificateDoc, u64), LedgerError> {
        let st = self.authority_state(id)?;
        let seq = st
            .closed
            .ok_or_else(|| invalid(format!("{} has not been applied yet", hex::encode(id))))?;
        let Action::Certificate { document } = self.entry(seq)?.signed.change.action else {
            return Err(invalid(format!("entry {seq} is not a certificate")));
        };
        let doc = self.document(&document)?;
        Ok((serde_json::from_slice(&doc).map_err(invalid)?, seq))
    }
}

/// A court order's document; refused if it names no order reference, no record, or an
/// action other than destroy, expunge or seal.
fn order_doc(
    origin: &str,
    court_order: &str,
    action: &str,
    records: &[[u8; 16]],
    recorder: &str,
) -> Result<OrderDoc, LedgerError> {
    if court_order.trim().is_empty() {
        return Err(invalid("a disposal order needs the court order reference"));
    }
    if !matches!(action, "destroy" | "expunge" | "seal") {
        return Err(invalid(format!(
            "order action {action:?}: use destroy, expunge or seal"
        )));
    }
    if records.is_empty() {
        return Err(invalid("a disposal order names at least one record"));
    }
    let mut ids: Vec<String> = records.iter().map(hex::encode).collect();
    ids.sort();
    ids.dedup();
    Ok(OrderDoc {
        format: ORDER_FORMAT.into(),
        origin: origin.into(),
        court_order: court_order.into(),
        action: action.into(),
        recorded_by: recorder.into(),
        records: ids,
    })
}

/// The `purge.plan` entry committing to a kept plan document.
pub fn plan_draft(document: [u8; 32], as_of: Date) -> Draft {
    Draft::new_record(
        "purge-plan",
        super::append::today(),
        Action::PurgePlan { document, as_of },
    )
}

/// The `order.record` entry committing to a kept order document.
pub fn order_draft(document: [u8; 32]) -> Draft {
    Draft::new_record(
        "disposal-order",
        super::append::today(),
        Action::OrderRecord { document },
    )
}

/// The signer's check of a plan the host kept: the text is the document its hash says,
/// for this ledger, as of `as_of`, planned by `planner`.
pub fn check_plan(
    offer: &Offered,
    origin: &str,
    as_of: Date,
    planner: &str,
) -> Result<PlanDoc, LedgerError> {
    let doc: PlanDoc = offered(offer)?;
    let mut seen = std::collections::HashSet::new();
    let entries_ok = doc.records.iter().all(|e| {
        matches!(e.disposition.as_str(), "destroy" | "transfer") && seen.insert(&e.record)
    });
    if doc.format != PLAN_FORMAT || !entries_ok {
        return Err(invalid(
            "the plan kept is not a plan of distinct records to destroy or transfer; nothing signed",
        ));
    }
    if doc.origin != origin || doc.as_of != as_of.to_string() || doc.planned_by != planner {
        return Err(invalid(format!(
            "the plan kept is for {} as of {} by {:?}, not for {origin} as of {as_of} by {planner:?}; nothing signed",
            doc.origin, doc.as_of, doc.planned_by
        )));
    }
    Ok(doc)
}

/// The signer's check of an order the host kept: exactly the order asked for.
pub fn check_order(
    offer: &Offered,
    origin: &str,
    court_order: &str,
    action: &str,
    records: &[[u8; 16]],
    recorder: &str,
) -> Result<OrderDoc, LedgerError> {
    let doc: OrderDoc = offered(offer)?;
    if doc != order_doc(origin, court_order, action, records, recorder)? {
        return Err(invalid(
            "the order kept is not the order asked for; nothing signed",
        ));
    }
    Ok(doc)
}

/// An offered document, parsed once its text is checked against its hash.
pub(crate) fn offered<T: serde::de::DeserializeOwned>(offer: &Offered) -> Result<T, LedgerError> {
    if *blake3::hash(offer.text.as_bytes()).as_bytes() != offer.document {
        return Err(invalid(
            "the document offered does not match its hash; nothing signed",
        ));
    }
    serde_json::from_str(&offer.text).map_err(|e| invalid(format!("the document offered: {e}")))
}

#[cfg(test)]
mod tests {
    //! The signer's checks of what a host kept (`check_plan`, `check_order`).

    use super::*;
    use crate::ledger::docs::PlanEntry;

    fn offer(text: &str) -> Offered {
        Offered {
            document: *blake3::hash(text.as_bytes()).as_bytes(),
            text: text.into(),
        }
    }

    #[test]
    fn an_order_is_signed_only_as_asked() {
        let doc = order_doc("pd.example", "CR-1", "seal", &[[1; 16]], "S-1").unwrap();
        let text = serde_json::to_string_pretty(&doc).unwrap();
        let check = |o: &Offered, action: &str, ids: &[[u8; 16]], who: &str| {
            check_order(o, "pd.example", "CR-1", action, ids, who)
        };
        assert_eq!(
            check(&offer(&text), "seal", &[[1; 16]], "S-1").unwrap(),
            doc
        );
        assert!(check(&offer(&text), "destroy", &[[1; 16]], "S-1").is_err());
        assert!(check(&offer(&text), "seal", &[[2; 16]], "S-1").is_err());
        assert!(check(&offer(&text), "seal", &[[1; 16]], "S-2").is_err());
        let mut altered = offer(&text);
        altered.text = altered.text.replace("CR-1", "CR-9");
        let e = check(&altered, "seal", &[[1; 16]], "S-1").unwrap_err();
        assert!(e.to_string().contains("does not match its hash"), "{e}");
    }

    #[test]
    fn a_plan_is_signed_only_as_asked() {
        let as_of = Date::new(2026, 6, 1).unwrap();
        let entry = |r: u8, disposition: &str| PlanEntry {
            record: hex::encode([r; 16]),
            record_type: "incident".into(),
            item: "1".into(),
            disposition: disposition.into(),
            trigger_date: None,
            eligible_on: "2026-01-01".into(),
            reason: String::new(),
        };
        let plan = |records: Vec<PlanEntry>| PlanDoc {
            format: PLAN_FORMAT.into(),
            origin: "pd.example".into(),
            as_of: as_of.to_string(),
            schedule: ScheduleRef {
                record: String::new(),
                document: String::new(),
                state: "XX".into(),
                title: "t".into(),
                version: "1".into(),
            },
            planned_by: "S-1".into(),
            records,
            left_out: BTreeMap::new(),
        };
        let text = |p: &PlanDoc| serde_json::to_string_pretty(p).unwrap();
        let good = plan(vec![entry(1, "destroy"), entry(2, "transfer")]);
        assert!(check_plan(&offer(&text(&good)), "pd.example", as_of, "S-1").is_ok());
        assert!(check_plan(&offer(&text(&good)), "pd.example", as_of, "S-2").is_err());
        assert!(check_plan(&offer(&text(&good)), "other.example", as_of, "S-1").is_err());
        let twice = plan(vec![entry(1, "destroy"), entry(1, "destroy")]);
        assert!(check_plan(&offer(&text(&twice)), "pd.example", as_of, "S-1").is_err());
        let odd = plan(vec![entry(1, "expunge")]);
        assert!(check_plan(&offer(&text(&odd)), "pd.example", as_of, "S-1").is_err());
    }
}
