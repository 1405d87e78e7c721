//! Purge plans and disposal orders as `purge list` / `order list`, `purge show` and
//! `purge certificate` print them (`--json`), from one place for the CLI and the daemon.

use serde_json::{json, Value};

use super::{Ledger, LedgerError};

impl Ledger {
    /// The plans (`purge-plan`) or orders (`disposal-order`), oldest first: id, entry,
    /// maker, approval, certificate entry.
    pub fn authority_rows(&self, kind: &str) -> Result<Vec<Value>, LedgerError> {
        let mut rows = Vec::new();
        for id in self.internal_records(kind)? {
            if let Some(st) = self.record(&id)? {
                rows.push(json!({
                    "id": hex::encode(id),
                    "entry": st.first_seq,
                    "by": st.creator,
                    "approved": st.approved,
                    "certified": st.closed,
                }));
            }
        }
        rows.sort_by_key(|r| r["entry"].as_u64());
        Ok(rows)
    }

    /// A plan's document and its record state.
    pub fn plan_value(&self, id: &[u8; 16]) -> Result<Value, LedgerError> {
        let doc = self.plan_document(id)?;
        let st = self.record(id)?;
        Ok(json!({"plan": doc, "state": st}))
    }

    /// A destruction certificate with the entry that signs it, as an auditor checks it.
    pub fn certificate_value(&self, id: &[u8; 16]) -> Result<Value, LedgerError> {
        let (cert, seq) = self.certificate(id)?;
        let e = self.entry(seq)?;
        let bytes = self.entry_bytes(seq)?.unwrap_or_default();
        Ok(json!({
            "certificate": cert,
            "entry": {
                "seq": seq,
                "entry_hex": hex::encode(&bytes),
                "signer": hex::encode(e.signed.change.actor),
            },
            "how_to_verify": "the entry (docs/FORMAT.md §3) is signed by its signer; its certificate action commits to the BLAKE3 of the certificate document kept in documents/; `blotter proof inclusion --seq SEQ` proves the entry is in the log",
        }))
    }
}
