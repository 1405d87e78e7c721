//! Plans, orders and their application through a daemon. The server keeps each
//! document and lists what to change; this side checks every document against its hash
//! and against what was asked, and signs only then (`ledger::apply`, `ledger::purge`).

use std::collections::HashSet;

use serde_json::json;

use super::{Client, ClientError, Result};
use crate::format::{Action, Date};
use crate::ledger::apply::{Finish, Host, Offered, Targets};
use crate::ledger::docs::PlanDoc;
use crate::ledger::purge::{check_order, check_plan, order_draft, plan_draft};
use crate::ledger::transfer::{TransferEntry, TransferTargets, Transferred};
use crate::ledger::{Draft, Outcome, RecordState, Submission};

impl Client {
    /// The caller's person id, as the server registered its key.
    pub fn person(&self) -> Result<String> {
        let v: serde_json::Value = self.get("/v1/whoami")?;
        v["person"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ClientError::Invalid("the server did not say who the caller is".into()))
    }

    /// Has the server build and keep the plan as of `as_of`; checks it and returns the
    /// `purge.plan` draft that commits to it.
    pub fn plan_draft(&self, as_of: Date) -> Result<(Draft, PlanDoc)> {
        let offer: Offered = self.post(
            "/v1/authorities/plans",
            &json!({ "as_of": as_of.to_string() }),
        )?;
        let doc = check_plan(&offer, &self.origin()?, as_of, &self.person()?)?;
        Ok((plan_draft(offer.document, as_of), doc))
    }

    /// Has the server keep a court order's document; checks it is exactly this order and
    /// returns the `order.record` draft that commits to it.
    pub fn order_draft(
        &self,
        court_order: &str,
        action: &str,
        records: &[[u8; 16]],
    ) -> Result<Draft> {
        let ids: Vec<String> = records.iter().map(hex::encode).collect();
        let offer: Offered = self.post(
            "/v1/authorities/orders",
            &json!({"court_order": court_order, "action": action, "records": ids}),
        )?;
        check_order(
            &offer,
            &self.origin()?,
            court_order,
            action,
            records,
            &self.person()?,
        )?;
        Ok(order_draft(offer.document))
    }

    /// A kept document's bytes, checked against their BLAKE3 `hash`.
    pub fn document(&self, hash: &[u8; 32]) -> Result<Vec<u8>> {
        let bytes = self.get_bytes(&format!("/v1/documents/{}", hex::encode(hash)))?;
        if blake3::hash(&bytes).as_bytes() != hash {
            return Err(ClientError::Invalid(format!(
                "the server sent another document than {}",
                hex::encode(hash)
            )));
        }
        Ok(bytes)
    }
}

impl Client {
    /// What an approved plan has left to transfer now.
    pub fn transfer_targets(&self, plan: &[u8; 16]) -> Result<TransferTargets> {
        let w: crate::api::TransferTargetsWire =
            self.get(&format!("/v1/authorities/{}/transfer", hex::encode(plan)))?;
        w.into_targets().map_err(ClientError::Invalid)
    }

    /// Signs and appends a `transfer` entry per record naming the archive's BLAKE3, each
    /// checked first to be listed for transfer by the plan's document, then has the
    /// server destroy the live copies (`Ledger::complete_transfer` in process).
    pub fn complete_transfer(
        &self,
        plan: &[u8; 16],
        records: &[[u8; 16]],
        archive_hash: [u8; 32],
        progress: &dyn Fn(u64, u64),
    ) -> Result<Transferred> {
        let p = hex::encode(plan);
        let st = self
            .record(plan)?
            .filter(|s| s.record_type == "purge-plan" && s.id == *plan)
            .ok_or_else(|| ClientError::Invalid(format!("{p} is not a purge plan")))?;
        let hash = st
            .document
            .ok_or_else(|| ClientError::Invalid(format!("plan {p} has no document")))?;
        // The plan's own entries, not the server's word, say which document it approved.
        crate::ledger::apply::check_authority_entries(self, &st, &hash)?;
        let doc: PlanDoc = serde_json::from_slice(&self.document(&hash)?)
            .map_err(|e| ClientError::Invalid(format!("plan {p}: {e}")))?;
        let listed: HashSet<&str> = doc
            .records
            .iter()
            .filter(|e| e.disposition == "transfer")
            .map(|e| e.record.as_str())
            .collect();
        if archive_hash == [0; 32] {
            return Err(ClientError::Invalid(
                "a transfer must name its archive (its hash is zero)".into(),
            ));
        }
        let mut seen = HashSet::new();
        let listed_once: Vec<[u8; 16]> = records
            .iter()
            .filter(|r| seen.insert(**r))
            .copied()
            .collect();
        if let Some(r) = listed_once
            .iter()
            .find(|r| !listed.contains(hex::encode(r).as_str()))
        {
            return Err(ClientError::Invalid(format!(
                "plan {p} does not list record {} for transfer; nothing was transferred",
                hex::encode(r)
            )));
        }
        let archive = hex::encode(archive_hash);
        // The whole list is checked before anything is signed: a record this plan already
        // transferred (an interrupted run) is counted, anything else disposed refuses all.
        let (mut todo, mut entries) = (Vec::new(), Vec::new());
        for chunk in listed_once.chunks(crate::api::MAX_BATCH) {
            for (rid, st) in chunk.iter().zip(Host::states(self, chunk)?) {
                if st.id != *rid {
                    return Err(ClientError::Invalid(format!(
                        "asked for record {}, the server answered with record {}",
                        hex::encode(rid),
                        hex::encode(st.id)
                    )));
                }
                let Some(seq) = st.disposed else {
                    todo.push(st);
                    continue;
                };
                entries.push(self.transfer_entry(plan, rid, seq)?);
            }
        }
        let already = entries.len() as u64;
        let total = todo.len() as u64;
        for chunk in todo.chunks(crate::api::MAX_BATCH) {
            let mut subs = Vec::with_capacity(chunk.len());
            for st in chunk {
                let action = Action::Transfer {
                    authority: *plan,
                    archive: archive_hash,
                };
                subs.push(self.sign(Draft::for_record(st, action)?)?);
            }
            let (outcomes, _) = self.append(&subs)?;
            if outcomes.len() != chunk.len() {
                return Err(ClientError::Invalid(
                    "the server answered for other changes than sent".into(),
                ));
            }
            for (st, o) in chunk.iter().zip(outcomes) {
                entries.push(TransferEntry {
                    record: hex::encode(st.id),
                    seq: o.seq(),
                    archive: archive.clone(),
                });
            }
            progress(entries.len() as u64 - already, total);
        }
        let v: serde_json::Value =
            self.post(&format!("/v1/authorities/{p}/transfer/finish"), &json!({}))?;
        let destroyed = v["destroyed"].as_u64().ok_or_else(|| {
            ClientError::Invalid("the server did not say how many live copies it destroyed".into())
        })?;
        Ok(Transferred {
            plan: p,
            archive,
            transferred_now: total,
            already_transferred: already,
            entries,
            destroyed,
        })
    }

    /// The transfer entry at `seq` of a record already disposed of, checked (signature
    /// included) to be this plan's transfer of it; anything else refuses the transfer.
    fn transfer_entry(&self, plan: &[u8; 16], rid: &[u8; 16], seq: u64) -> Result<TransferEntry> {
        let e = crate::format::Entry::decode(&Host::entry(self, seq)?)
            .map_err(|e| ClientError::Invalid(format!("entry {seq}: {e}")))?;
        let sc = &e.signed;
        let signed =
            crate::crypto::verify_change(&sc.change.actor, sc.change_bytes(), &sc.signature());
        match sc.change.action {
            Action::Transfer { authority, archive }
                if signed && e.seq == seq && authority == *plan && sc.change.record == *rid =>
            {
                Ok(TransferEntry {
                    record: hex::encode(rid),
                    seq,
                    archive: hex::encode(archive),
                })
            }
            _ => Err(ClientError::Invalid(format!(
                "record {} was disposed at entry {seq}, not transferred under plan {}; nothing was transferred",
                hex::encode(rid),
                hex::encode(plan)
            ))),
        }
    }
}

impl Host for Client {
    type Error = ClientError;
    fn targets(&self, authority: &[u8; 16]) -> Result<Targets> {
        self.get(&format!(
            "/v1/authorities/{}/targets",
            hex::encode(authority)
        ))
    }
    fn document(&self, hash: &[u8; 32]) -> Result<Vec<u8>> {
        Client::document(self, hash)
    }
    fn states(&self, ids: &[[u8; 16]]) -> Result<Vec<RecordState>> {
        let ids: Vec<String> = ids.iter().map(hex::encode).collect();
        self.post("/v1/records/states", &json!({ "ids": ids }))
    }
    fn entry(&self, seq: u64) -> Result<Vec<u8>> {
        self.get_bytes(&format!("/v1/entries/{seq}"))
    }
    fn keys(&self) -> Result<Vec<crate::ledger::KeyState>> {
        self.get("/v1/keys")
    }
    fn person(&self) -> Result<String> {
        Client::person(self)
    }
    fn sign_all(&self, drafts: Vec<Draft>) -> Result<Vec<Submission>> {
        drafts.into_iter().map(|d| self.sign(d)).collect()
    }
    fn append(&mut self, subs: Vec<Submission>) -> Result<Vec<Outcome>> {
        Client::append(self, &subs).map(|(o, _)| o)
    }
    fn finish(&mut self, authority: &[u8; 16]) -> Result<Finish> {
        self.post(
            &format!("/v1/authorities/{}/finish", hex::encode(authority)),
            &json!({}),
        )
    }
}
