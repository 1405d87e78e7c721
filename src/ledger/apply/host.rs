//! The ledger's side of applying a plan or order ([`super::Host`] in process): what an
//! authority calls for now, finishing (destruction, the certificate document), and the
//! ledger with a key as a host.

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use rayon::prelude::*;

use super::{apply_with, disposal_kind, invalid, parse_id, Finish, Host, Offered, Targets};
use crate::format::Action;
use crate::ledger::docs::{CertificateDoc, NotDisposed, PlanEntry, CERTIFICATE_FORMAT};
use crate::ledger::purge::Applied;
use crate::ledger::report::status_name;
use crate::ledger::state::RecordState;
use crate::ledger::{Draft, Ledger, LedgerError, Outcome, Submission};
use crate::retention::Status;
use crate::store::Space;

/// A record a plan's re-check found.
enum Recheck {
    Transfer,
    Already,
    Skip(String),
    Dispose,
}

/// A record an authority disposed of: id, state, disposal entry, planned disposition.
type DisposedMember = ([u8; 16], RecordState, u64, crate::ledger::docs::Member);

impl Ledger {
    /// Applies an approved plan or order in process (module doc), signing with `applier`.
    pub fn apply_disposition(
        &mut self,
        id: &[u8; 16],
        applier: &SigningKey,
        progress: &dyn Fn(u64, u64),
    ) -> Result<Applied, LedgerError> {
        apply_with(
            &mut InProcess {
                ledger: self,
                key: applier,
            },
            id,
            progress,
        )
    }

    /// Step 1: what an approved plan or order calls for now.
    pub fn disposition_targets(&self, id: &[u8; 16]) -> Result<Targets, LedgerError> {
        let st = self.authority_state(id)?;
        if st.approved.is_none() {
            return Err(invalid(format!(
                "{} {} is not approved; another person must approve it first",
                st.record_type,
                hex::encode(id)
            )));
        }
        let document = st.document.ok_or_else(|| invalid("no document"))?;
        let mut t = Targets {
            authority: *id,
            record_type: st.record_type.clone(),
            document,
            action: "destroy".into(),
            certified: st.closed,
            records: Vec::new(),
            already_disposed: 0,
            not_disposed: Vec::new(),
            transfer_pending: 0,
        };
        if st.closed.is_some() {
            return Ok(t);
        }
        if st.record_type == "purge-plan" {
            self.plan_targets(id, &mut t)?;
        } else {
            self.order_targets(id, &mut t)?;
        }
        Ok(t)
    }

    fn plan_targets(&self, id: &[u8; 16], t: &mut Targets) -> Result<(), LedgerError> {
        let plan = self.plan_document(id)?;
        let sdoc = crate::crypto::parse_hex32(&plan.schedule.document)
            .ok_or_else(|| invalid("plan: malformed schedule hash"))?;
        let schedule = self.schedule_document(&sdoc)?;
        let policy = self.policy()?;
        let today = jiff::Zoned::now()
            .with_time_zone(policy.time_zone.clone())
            .date();
        // Every record re-checked in parallel (reads only), the results taken in plan
        // order.
        let holds_exist = self.any_hold()?;
        let checks = plan
            .records
            .par_iter()
            .map(|e| self.recheck(e, &schedule, &policy, today, holds_exist))
            .collect::<Result<Vec<_>, LedgerError>>()?;
        for (e, check) in plan.records.into_iter().zip(checks) {
            match check {
                Recheck::Transfer => t.transfer_pending += 1,
                Recheck::Already => t.already_disposed += 1,
                Recheck::Skip(why) => t.not_disposed.push(NotDisposed {
                    record: e.record,
                    why,
                }),
                Recheck::Dispose => t.records.push(e.record),
            }
        }
        Ok(())
    }

    fn order_targets(&self, id: &[u8; 16], t: &mut Targets) -> Result<(), LedgerError> {
        let order = self.order_document(id)?;
        let seal = disposal_kind(&order.action)?.is_none();
        t.action = order.action;
        for r in order.records {
            let rid = parse_id(&r)?;
            let Some(rs) = self.record(&rid)? else {
                t.not_disposed.push(NotDisposed {
                    record: r,
                    why: "record no longer exists".into(),
                });
                continue;
            };
            if rs.disposed.is_some() {
                t.already_disposed += 1;
            } else if seal {
                // Sealing is not disposal: a hold does not stand in its way.
                if !rs.sealed {
                    t.records.push(r);
                }
            } else if let Some(h) = self.holds_on(&rid)?.first() {
                t.not_disposed.push(NotDisposed {
                    record: r,
                    why: format!("under legal hold {}", hex::encode(h)),
                });
            } else {
                t.records.push(r);
            }
        }
        Ok(())
    }

    /// Whether the record a plan lists is to be disposed of now: still there, not
    /// disposed, and eligible today under the plan's schedule (a hold makes it blocked).
    fn recheck(
        &self,
        e: &PlanEntry,
        schedule: &crate::retention::Schedule,
        policy: &crate::retention::Policy,
        today: jiff::civil::Date,
        holds_exist: bool,
    ) -> Result<Recheck, LedgerError> {
        let rid = parse_id(&e.record)?;
        if e.disposition == "transfer" {
            // A record `archive transfer` already took is not pending any more.
            return Ok(match self.record(&rid)? {
                Some(rs) if rs.disposed.is_some() => Recheck::Already,
                _ => Recheck::Transfer,
            });
        }
        let Some(rs) = self.record(&rid)? else {
            return Ok(Recheck::Skip("record no longer exists".into()));
        };
        if rs.disposed.is_some() {
            return Ok(Recheck::Already);
        }
        let o = self.evaluate_with(schedule, policy, &rs, today, holds_exist)?;
        if o.status != Status::Eligible {
            return Ok(Recheck::Skip(format!(
                "{}: {}",
                status_name(o.status),
                o.reason
            )));
        }
        Ok(Recheck::Dispose)
    }

    /// Step 3: destroys the data of this authority's pending records and, when it is
    /// done (nothing left to dispose of; for an order, nothing held back), keeps its
    /// certificate document, applied by `applier` (a person id), for them to sign.
    pub fn finish_disposition(
        &mut self,
        id: &[u8; 16],
        applier: &str,
    ) -> Result<Finish, LedgerError> {
        let destroyed = self.finish_destruction(id)?;
        let t = self.disposition_targets(id)?;
        let done = Finish {
            destroyed,
            certificate: None,
        };
        if t.certified.is_some() || t.action == "seal" {
            return Ok(done);
        }
        if !t.records.is_empty() {
            return Err(invalid(format!(
                "{} records of {} {} are still to be disposed of; apply it again",
                t.records.len(),
                t.record_type,
                hex::encode(id)
            )));
        }
        // A court order binds every record it names: while a hold keeps some back, the
        // order stays open (uncertified), to be applied again once the hold is released.
        // A plan is a snapshot as of its date and is certified with what it disposed of.
        if t.record_type == "disposal-order" && !t.not_disposed.is_empty() {
            return Ok(done);
        }
        let text = self.certificate_text(id, &t, applier)?;
        let document = self.put_document(text.as_bytes())?;
        Ok(Finish {
            certificate: Some(Offered { document, text }),
            ..done
        })
    }

    /// The destruction certificate of an authority whose disposals are all appended.
    fn certificate_text(
        &self,
        id: &[u8; 16],
        t: &Targets,
        applier: &str,
    ) -> Result<String, LedgerError> {
        let st = self.authority_state(id)?;
        let mut cert = CertificateDoc {
            format: CERTIFICATE_FORMAT.into(),
            origin: self.origin.clone(),
            authority_kind: st.record_type.clone(),
            authority: hex::encode(id),
            authority_document: hex::encode(t.document),
            schedule: None,
            court_order: None,
            items: BTreeMap::new(),
            record_count: 0,
            records: Vec::new(),
            created_from: None,
            created_to: None,
            method: String::new(),
            planned_by: st.creator.clone(),
            approved_by: st.approved.map(|a| a.person).unwrap_or_default(),
            applied_by: applier.to_string(),
            disposal_entries: None,
            not_disposed: t.not_disposed.clone(),
            transfer_pending: t.transfer_pending,
            left_out_at_planning: BTreeMap::new(),
            applied_on: crate::ledger::append::today().to_string(),
        };
        if st.record_type == "purge-plan" {
            let plan = self.plan_document(id)?;
            cert.schedule = Some(plan.schedule);
            cert.left_out_at_planning = plan.left_out;
        } else {
            cert.court_order = Some(self.order_document(id)?.court_order);
        }
        let rows = self
            .store
            .scan(Space::Member, &id[..])
            .collect::<Result<Vec<_>, _>>()?;
        // The members this authority disposed of, looked up in parallel, in row order.
        let disposed = rows
            .par_iter()
            .map(|(k, v)| self.disposed_by(id, k, v))
            .collect::<Result<Vec<_>, LedgerError>>()?;
        let mut first_last: Option<(u64, u64)> = None;
        for (rid, rs, seq, m) in disposed.into_iter().flatten() {
            *cert
                .items
                .entry(m.item.unwrap_or_else(|| "order".into()))
                .or_insert(0) += 1;
            cert.records.push(hex::encode(rid));
            let c = rs.created_on.clone();
            if cert.created_from.as_ref().is_none_or(|f| c < *f) {
                cert.created_from = Some(c.clone());
            }
            if cert.created_to.as_ref().is_none_or(|t| c > *t) {
                cert.created_to = Some(c);
            }
            first_last = Some(match first_last {
                None => (seq, seq),
                Some((a, b)) => (a.min(seq), b.max(seq)),
            });
        }
        cert.record_count = cert.records.len() as u64;
        cert.disposal_entries = first_last;
        cert.method = format!(
            "{}: disposal entry appended, then the record's data key made unrecoverable (its epoch key retired from epochs.key after the surviving keys were re-wrapped), then its sealed content, side documents, case and source index rows and attachment files deleted; see docs/DESTRUCTION.md",
            t.action
        );
        serde_json::to_string_pretty(&cert).map_err(invalid)
    }

    /// A member row of `authority` (`k`, `v`) whose record that authority disposed of:
    /// the record, its state, its disposal entry and its planned disposition.
    fn disposed_by(
        &self,
        authority: &[u8; 16],
        k: &[u8],
        v: &[u8],
    ) -> Result<Option<DisposedMember>, LedgerError> {
        let rid: [u8; 16] = k
            .get(16..32)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| invalid("malformed member row"))?;
        let Some(rs) = self.record(&rid)? else {
            return Ok(None);
        };
        let Some(seq) = rs.disposed else {
            return Ok(None);
        };
        if self.disposal_authority(seq)? != Some(*authority) {
            return Ok(None);
        }
        let m: crate::ledger::docs::Member = serde_json::from_slice(v).map_err(invalid)?;
        Ok(Some((rid, rs, seq, m)))
    }

    /// The plan or order a disposal entry names.
    fn disposal_authority(&self, seq: u64) -> Result<Option<[u8; 16]>, LedgerError> {
        Ok(match self.entry(seq)?.signed.change.action {
            Action::Disposal { authority, .. } => Some(authority),
            _ => None,
        })
    }
}

/// The ledger as a [`Host`], signing with one key.
pub struct InProcess<'a> {
    pub ledger: &'a mut Ledger,
    pub key: &'a SigningKey,
}

impl Host for InProcess<'_> {
    type Error = LedgerError;
    fn targets(&self, authority: &[u8; 16]) -> Result<Targets, LedgerError> {
        self.ledger.disposition_targets(authority)
    }
    fn document(&self, hash: &[u8; 32]) -> Result<Vec<u8>, LedgerError> {
        self.ledger.document(hash)
    }
    fn states(&self, ids: &[[u8; 16]]) -> Result<Vec<RecordState>, LedgerError> {
        self.ledger.states(ids)
    }
    fn entry(&self, seq: u64) -> Result<Vec<u8>, LedgerError> {
        self.ledger
            .entry_bytes(seq)?
            .ok_or_else(|| invalid(format!("entry {seq} is not in the log")))
    }
    fn keys(&self) -> Result<Vec<crate::ledger::KeyState>, LedgerError> {
        Ok(self.ledger.keys().cloned().collect())
    }
    fn person(&self) -> Result<String, LedgerError> {
        self.ledger.person_of(self.key)
    }
    fn sign_all(&self, drafts: Vec<Draft>) -> Result<Vec<Submission>, LedgerError> {
        drafts
            .into_par_iter()
            .map(|d| self.ledger.sign(self.key, d))
            .collect()
    }
    fn append(&mut self, subs: Vec<Submission>) -> Result<Vec<Outcome>, LedgerError> {
        self.ledger.append(subs)
    }
    fn finish(&mut self, authority: &[u8; 16]) -> Result<Finish, LedgerError> {
        let person = self.ledger.person_of(self.key)?;
        self.ledger.finish_disposition(authority, &person)
    }
}

impl Ledger {
    /// The states of `ids`, in order (looked up in parallel); a missing one is an error.
    pub fn states(&self, ids: &[[u8; 16]]) -> Result<Vec<RecordState>, LedgerError> {
        ids.par_iter()
            .map(|id| {
                self.record(id)?
                    .ok_or_else(|| invalid(format!("record {} not found", hex::encode(id))))
            })
            .collect()
    }
}
