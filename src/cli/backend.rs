//! Where a command runs: on a ledger folder opened here (`--ledger`), or on a daemon
//! (`--server`). The commands are written once against [`Backend`]; both sides give
//! the same results and the same `--json` output.

use ed25519_dalek::SigningKey;

use super::{fail, Ctx, Res};
use crate::client::Client;
use crate::format::{Action, Date};
use crate::ledger::apply::apply_with;
use crate::ledger::docs::{OrderDoc, PlanDoc};
use crate::ledger::purge::Applied;
use crate::ledger::read::{HistoryItem, ListFilter};
use crate::ledger::transfer::{TransferTargets, Transferred};
use crate::ledger::verify::{Report, VerifyOptions};
use crate::ledger::{Draft, KeyState, Ledger, Outcome, RecordState, StagedBlob, Submission};

#[allow(clippy::large_enum_variant)] // one per command
pub(crate) enum Backend {
    Local(Ledger),
    Remote(Client),
}

impl Ctx<'_> {
    /// The backend a reading command uses. Through a daemon, reads are signed too, so a
    /// key is needed.
    pub fn backend(&self) -> Res<Backend> {
        match &self.cli.server {
            Some(url) => Ok(Backend::Remote(Client::new(url, self.key()?)?)),
            None => Ok(Backend::Local(self.open()?)),
        }
    }
    /// The backend a writing command uses (locally: checkpoints armed).
    pub fn backend_for_write(&self) -> Res<Backend> {
        match &self.cli.server {
            Some(url) => Ok(Backend::Remote(Client::new(url, self.key()?)?)),
            None => Ok(Backend::Local(self.open_for_write()?)),
        }
    }
}

impl Backend {
    pub fn record(&self, id: &[u8; 16]) -> Res<Option<RecordState>> {
        match self {
            Backend::Local(l) => Ok(l.record(id)?),
            Backend::Remote(c) => Ok(c.record(id)?),
        }
    }

    pub fn draft(&self, id: &[u8; 16], action: Action) -> Res<Draft> {
        match self {
            Backend::Local(l) => Ok(l.draft(id, action)?),
            Backend::Remote(c) => Ok(c.draft(id, action)?),
        }
    }

    pub fn key_state(&self, key: &[u8; 32]) -> Res<Option<KeyState>> {
        Ok(self.keys()?.into_iter().find(|k| k.key == *key))
    }

    /// Every registered key, oldest registration first.
    pub fn keys(&self) -> Res<Vec<KeyState>> {
        let mut keys: Vec<KeyState> = match self {
            Backend::Local(l) => l.keys().cloned().collect(),
            Backend::Remote(c) => c.get("/v1/keys")?,
        };
        keys.sort_by_key(|k| k.registered);
        Ok(keys)
    }

    pub fn sign(&self, key: &SigningKey, d: Draft) -> Res<Submission> {
        match self {
            Backend::Local(l) => Ok(l.sign(key, d)?),
            Backend::Remote(c) => {
                Self::same_key(c, key)?;
                Ok(c.sign(d)?)
            }
        }
    }

    /// Appends durably; returns the outcomes and the log's size after them.
    pub fn append(&mut self, subs: Vec<Submission>) -> Res<(Vec<Outcome>, u64)> {
        match self {
            Backend::Local(l) => {
                let o = l.append(subs)?;
                super::tlog::after_write(l);
                Ok((o, l.head().size))
            }
            Backend::Remote(c) => Ok(c.append(&subs)?),
        }
    }

    pub fn history(&self, id: &[u8; 16]) -> Res<Vec<HistoryItem>> {
        match self {
            Backend::Local(l) => Ok(l.history(id)?),
            Backend::Remote(c) => Ok(c.get(&format!("/v1/records/{}/history", hex::encode(id)))?),
        }
    }

    pub fn list(&self, f: &ListFilter) -> Res<Vec<RecordState>> {
        match self {
            Backend::Local(l) => Ok(l.list(f)?),
            Backend::Remote(c) => {
                let mut q =
                    reqwest::Url::parse("http://x/v1/records").map_err(|e| e.to_string())?;
                {
                    let mut p = q.query_pairs_mut();
                    let pairs = [
                        ("type", f.record_type.clone()),
                        ("status", f.status.clone()),
                        ("case", f.case_number.clone()),
                        ("from", f.created_from.map(|d| d.to_string())),
                        ("to", f.created_to.map(|d| d.to_string())),
                    ];
                    for (k, v) in pairs {
                        if let Some(v) = v {
                            p.append_pair(k, &v);
                        }
                    }
                }
                let path = match q.query() {
                    Some(s) if !s.is_empty() => format!("/v1/records?{s}"),
                    _ => "/v1/records".to_string(),
                };
                Ok(c.get(&path)?)
            }
        }
    }

    /// `(change hash, blob commitment, size)` of each attachment.
    pub fn attachments(&self, id: &[u8; 16]) -> Res<Vec<crate::ledger::read::Attachment>> {
        match self {
            Backend::Local(l) => Ok(l.attachments(id)?),
            Backend::Remote(c) => {
                #[derive(serde::Deserialize)]
                struct A {
                    change: String,
                    blob: String,
                    size: u64,
                }
                let list: Vec<A> =
                    c.get(&format!("/v1/records/{}/attachments", hex::encode(id)))?;
                list.into_iter()
                    .map(|a| {
                        match (
                            crate::crypto::parse_hex32(&a.change),
                            crate::crypto::parse_hex32(&a.blob),
                        ) {
                            (Some(c), Some(b)) => Ok((c, b, a.size)),
                            _ => fail("the server sent a malformed attachment list"),
                        }
                    })
                    .collect()
            }
        }
    }

    /// A record's content and case number; a restricted record's read is logged first
    /// with `access`.
    pub fn read_content(
        &mut self,
        id: &[u8; 16],
        access: Option<Submission>,
    ) -> Res<(Vec<u8>, Option<String>)> {
        match self {
            Backend::Local(l) => {
                let logged = access.is_some();
                let content = l.read_content(id, access)?;
                if logged {
                    super::tlog::after_write(l);
                }
                Ok((content, l.case_number(id)?))
            }
            Backend::Remote(c) => {
                let r = c.content(id, access.as_ref())?;
                Ok((crate::api::unb64(&r.content)?, r.case_number))
            }
        }
    }

    /// Seals `file` into the ledger as an attachment to `id`, awaiting its change.
    pub fn stage_attachment(&self, id: &[u8; 16], file: &std::path::Path) -> Res<StagedBlob> {
        match self {
            Backend::Local(l) => {
                let f =
                    std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
                let mut r = std::io::BufReader::with_capacity(1 << 20, f);
                Ok(l.stage_attachment(id, &mut r)?)
            }
            Backend::Remote(c) => Ok(c.upload(id, file)?),
        }
    }

    pub fn read_attachment(
        &mut self,
        id: &[u8; 16],
        blob: &[u8; 32],
        access: Option<Submission>,
        out: &mut impl std::io::Write,
    ) -> Res<u64> {
        match self {
            Backend::Local(l) => {
                let logged = access.is_some();
                let n = l.read_attachment(id, blob, access, out);
                if logged {
                    super::tlog::after_write(l);
                }
                Ok(n?)
            }
            Backend::Remote(c) => Ok(c.download(id, blob, access.as_ref(), out)?),
        }
    }

    pub fn verify(&self, opts: &VerifyOptions, progress: &dyn Fn(u64)) -> Res<Report> {
        match self {
            Backend::Local(l) => Ok(l.verify(opts, progress)?),
            Backend::Remote(c) => {
                let body = serde_json::json!({
                    "from": opts.from,
                    "expect_head": opts.expect_head.map(|(s, h)| (s, hex::encode(h))),
                    "checkpoint": opts.checkpoint,
                    "ledger_key": opts.ledger_key,
                });
                Ok(c.post("/v1/verify", &body)?)
            }
        }
    }

    /// The size of the log.
    pub fn head_size(&self) -> Res<u64> {
        match self {
            Backend::Local(l) => Ok(l.head().size),
            Backend::Remote(c) => Ok(c.info()?.size),
        }
    }

    /// Adopted schedules, oldest first; the last is in force.
    pub fn schedules(&self) -> Res<Vec<crate::ledger::schedules::Adopted>> {
        match self {
            Backend::Local(l) => Ok(l.schedules()?),
            Backend::Remote(c) => Ok(c.get("/v1/schedules")?),
        }
    }

    /// A `schedule.adopt` draft; the schedule file is checked here and stored in the
    /// ledger's documents first (through the daemon: uploaded, and its hash checked).
    pub fn adopt_schedule_draft(&self, name: &str, text: &str) -> Res<Draft> {
        match self {
            Backend::Local(l) => Ok(l.adopt_schedule_draft(name, text)?),
            Backend::Remote(c) => {
                crate::ledger::schedules::check(name, text)?;
                let v: serde_json::Value = c.post(
                    "/v1/schedules/documents",
                    &serde_json::json!({"name": name, "text": text}),
                )?;
                let document: [u8; 32] = blake3::hash(text.as_bytes()).into();
                if v["document"].as_str() != Some(hex::encode(document).as_str()) {
                    return fail("the server stored another document than the schedule sent");
                }
                Ok(Draft::new_record(
                    "schedule",
                    crate::ledger::append::today(),
                    Action::ScheduleAdopt { document },
                ))
            }
        }
    }

    pub fn holds(&self) -> Res<Vec<crate::ledger::holds::Hold>> {
        match self {
            Backend::Local(l) => Ok(l.holds()?),
            Backend::Remote(c) => Ok(c.get("/v1/holds")?),
        }
    }

    pub fn hold_draft(
        &self,
        kind: crate::format::HoldKind,
        authority: &str,
        target: crate::ledger::holds::HoldTarget,
    ) -> Res<Draft> {
        match self {
            Backend::Local(l) => Ok(l.hold_draft(kind, authority, target)?),
            Backend::Remote(_) => {
                if let crate::ledger::holds::HoldTarget::Records(ids) = &target {
                    for id in ids {
                        if self.record(id)?.is_none() {
                            return fail(format!("record {} not found", hex::encode(id)));
                        }
                    }
                }
                Ok(crate::ledger::holds::hold_draft(kind, authority, target)?)
            }
        }
    }

    /// The approval of a plan (`purge-plan`) or order (`disposal-order`).
    pub fn approval_draft(&self, id: &[u8; 16], want: &str) -> Res<Draft> {
        match self {
            Backend::Local(l) => Ok(l.approval_draft(id, want)?),
            Backend::Remote(_) => {
                let st = self
                    .record(id)?
                    .filter(|s| s.record_type == want)
                    .ok_or_else(|| format!("{} is not a {want}", hex::encode(id)))?;
                let document = st.document.ok_or("the plan or order has no document")?;
                let action = if want == "purge-plan" {
                    Action::PurgeApprove { document }
                } else {
                    Action::OrderApprove { document }
                };
                self.draft(id, action)
            }
        }
    }

    /// `purge list` / `order list` rows.
    pub fn authority_rows(&self, kind: &str) -> Res<Vec<serde_json::Value>> {
        match self {
            Backend::Local(l) => Ok(l.authority_rows(kind)?),
            Backend::Remote(c) => Ok(c.get(&format!("/v1/authorities?kind={kind}"))?),
        }
    }

    pub fn plan_value(&self, id: &[u8; 16]) -> Res<serde_json::Value> {
        match self {
            Backend::Local(l) => Ok(l.plan_value(id)?),
            Backend::Remote(c) => Ok(c.get(&format!("/v1/authorities/{}", hex::encode(id)))?),
        }
    }

    pub fn certificate_value(&self, id: &[u8; 16]) -> Res<serde_json::Value> {
        match self {
            Backend::Local(l) => Ok(l.certificate_value(id)?),
            Backend::Remote(c) => {
                Ok(c.get(&format!("/v1/authorities/{}/certificate", hex::encode(id)))?)
            }
        }
    }

    /// The caller's key, for a remote command: the one that signs its requests.
    fn same_key(c: &Client, key: &SigningKey) -> Res<()> {
        if c.key().verifying_key() != key.verifying_key() {
            return fail(
                "through --server, changes are signed with the --key that signs the requests",
            );
        }
        Ok(())
    }

    /// A kept document by its BLAKE3 (checked against it through a daemon).
    pub fn document(&self, hash: &[u8; 32]) -> Res<Vec<u8>> {
        match self {
            Backend::Local(l) => Ok(l.document(hash)?),
            Backend::Remote(c) => Ok(c.document(hash)?),
        }
    }

    /// The `purge.plan` draft of the plan as of `as_of`, its document kept (through a
    /// daemon: kept by the server, then checked here).
    pub fn plan_draft(&self, as_of: Date, key: &SigningKey) -> Res<(Draft, PlanDoc)> {
        match self {
            Backend::Local(l) => Ok(l.purge_plan_draft(as_of, key)?),
            Backend::Remote(c) => {
                Self::same_key(c, key)?;
                Ok(c.plan_draft(as_of)?)
            }
        }
    }

    /// The `order.record` draft of a court order, its document kept (as for plans).
    pub fn order_draft(
        &self,
        court_order: &str,
        action: &str,
        ids: &[[u8; 16]],
        key: &SigningKey,
    ) -> Res<Draft> {
        match self {
            Backend::Local(l) => Ok(l.order_draft(court_order, action, ids, key)?),
            Backend::Remote(c) => {
                Self::same_key(c, key)?;
                Ok(c.order_draft(court_order, action, ids)?)
            }
        }
    }

    /// A disposal order's document.
    pub fn order_document(&self, id: &[u8; 16]) -> Res<OrderDoc> {
        let st = self
            .record(id)?
            .filter(|s| s.record_type == "disposal-order")
            .ok_or_else(|| format!("{} is not a disposal-order", hex::encode(id)))?;
        let hash = st.document.ok_or("the order has no document")?;
        Ok(serde_json::from_slice(&self.document(&hash)?)?)
    }

    /// Applies an approved plan or order (`ledger::apply`), signing with `key`.
    pub fn apply(
        &mut self,
        id: &[u8; 16],
        key: &SigningKey,
        progress: &dyn Fn(u64, u64),
    ) -> Res<Applied> {
        match self {
            Backend::Local(l) => {
                let res = l.apply_disposition(id, key, progress);
                super::tlog::after_write(l);
                Ok(res?)
            }
            Backend::Remote(c) => {
                Self::same_key(c, key)?;
                Ok(apply_with(c, id, progress)?)
            }
        }
    }

    /// Registered witnesses, by name.
    pub fn witnesses(&self) -> Res<Vec<crate::ledger::checkpoint::Witness>> {
        match self {
            Backend::Local(l) => Ok(l.witnesses()?),
            Backend::Remote(c) => Ok(c.get("/v1/witnesses")?),
        }
    }

    /// Keeps witnesses' cosignatures on a kept checkpoint (`checkpoint cosign`).
    pub fn add_cosignatures(&mut self, note: &str) -> Res<crate::ledger::checkpoint::Cosigned> {
        match self {
            Backend::Local(l) => Ok(l.add_cosignatures(note)?),
            Backend::Remote(c) => Ok(c.post(
                "/v1/checkpoints/cosignatures",
                &serde_json::json!({ "note": note }),
            )?),
        }
    }

    /// The checkpoint verifier key (`origin+keyid+base64`).
    pub fn verifier_key(&self) -> Res<String> {
        match self {
            Backend::Local(l) => Ok(l.verifier_key()?),
            Backend::Remote(c) => Ok(c.info()?.verifier_key),
        }
    }

    pub fn transfer_targets(&self, plan: &[u8; 16]) -> Res<TransferTargets> {
        match self {
            Backend::Local(l) => Ok(l.transfer_targets(plan)?),
            Backend::Remote(c) => Ok(c.transfer_targets(plan)?),
        }
    }

    /// Appends the transfer entries naming `archive_hash`, signed with `key`, then
    /// destroys the live copies (`Ledger::complete_transfer`).
    pub fn complete_transfer(
        &mut self,
        plan: &[u8; 16],
        records: &[[u8; 16]],
        archive_hash: [u8; 32],
        key: &SigningKey,
        progress: &dyn Fn(u64, u64),
    ) -> Res<Transferred> {
        match self {
            Backend::Local(l) => {
                let t = l.complete_transfer(plan, records, archive_hash, key, progress);
                super::tlog::after_write(l);
                Ok(t?)
            }
            Backend::Remote(c) => {
                Self::same_key(c, key)?;
                Ok(c.complete_transfer(plan, records, archive_hash, progress)?)
            }
        }
    }
}

pub(crate) const NOT_REMOTE: &str = "this command does not work through --server (docs/API.md says why); run it where the ledger folder is, with --ledger, while no daemon holds it";
