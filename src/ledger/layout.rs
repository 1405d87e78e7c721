//! Bringing a store written by an older blotter to the current layout
//! ([`crate::store::STORE_VERSION`]) when a ledger is opened.
//!
//! Each step rewrites rows a chunk per durable commit and skips rows already in the new
//! form, so a crash part-way leaves a mix that the next open finishes; the version mark
//! is written last, once every step is done.
//!
//! - 1 → 2: record states from JSON to the binary encoding (`state::migrate`).
//! - 2 → 3: nothing to rewrite: history-row values are written from then on, and older,
//!   empty ones are read through a fallback (`destroy/sweep.rs`).
//! - 3 → 4: sealed rows (`P`) re-keyed from change hash ‖ kind to record id ‖ change
//!   hash ‖ kind (`history::sealed_key`), each row's record found through its change's
//!   entry (`C` → `E`); the sealed bytes do not change. Then change rows (`C`) re-keyed
//!   from change hash to record id ‖ change hash (`history::change_key`), the record
//!   read from the entry at the row's seq. `P` goes first: it looks up the old `C` keys.

use super::history::{change_key, sealed_key};
use super::{state, LedgerError};
use crate::format::{CommitmentKind, Entry};
use crate::store::{Batch, Space, Store};

/// Rows rewritten per durable commit.
const CHUNK: usize = 10_000;

/// Runs every step the store's layout needs, then marks it current.
pub(crate) fn migrate(store: &Store) -> Result<(), LedgerError> {
    if store.version() < 2 {
        state::migrate(store)?;
    }
    if store.version() < 4 {
        rekey_sealed(store)?;
        rekey_changes(store)?;
    }
    let mut b = Batch::default();
    b.mark_current();
    store.commit(b)?;
    Ok(())
}

/// Layout 3 → 4: moves every `P` row keyed change hash ‖ kind (33 bytes) to record id ‖
/// change hash ‖ kind (49 bytes). Returns the rows moved.
fn rekey_sealed(store: &Store) -> Result<u64, LedgerError> {
    rewrite_rows(store, Space::Sealed, |k, v| {
        let Some((hash, &[kind])) = k.split_first_chunk::<32>() else {
            return Ok(None); // already record id ‖ change hash ‖ kind
        };
        let kind = kind_of(hash, kind)?;
        let key = sealed_key(&record_of(store, hash)?, hash, kind);
        Ok(Some((key, v.to_vec())))
    })
}

/// Layout 3 → 4: moves every `C` row keyed change hash (32 bytes) to record id ‖ change
/// hash (48 bytes). Returns the rows moved.
fn rekey_changes(store: &Store) -> Result<u64, LedgerError> {
    rewrite_rows(store, Space::Change, |k, v| {
        let Ok(hash) = <[u8; 32]>::try_from(k) else {
            return Ok(None); // already record id ‖ change hash
        };
        let record = record_at(store, &hash, seq_value(&hash, v)?)?;
        Ok(Some((change_key(&record, &hash), v.to_vec())))
    })
}

/// Rewrites each row of `space` for which `new(key, value)` gives a new key and value
/// (`None`: the row is already in the new form), the old row removed in the same commit
/// if the key changed, a chunk per durable commit. Returns the rows rewritten.
pub(super) fn rewrite_rows(
    store: &Store,
    space: Space,
    new: impl Fn(&[u8], &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>, LedgerError>,
) -> Result<u64, LedgerError> {
    let mut b = Batch::default();
    let (mut n, mut in_batch) = (0u64, 0usize);
    for kv in store.scan(space, b"") {
        let (k, v) = kv?;
        let Some((key, value)) = new(&k, &v)? else {
            continue;
        };
        if key != k {
            b.remove(space, &k);
        }
        b.put(space, &key, &value);
        n += 1;
        in_batch += 1;
        if in_batch == CHUNK {
            store.commit(std::mem::take(&mut b))?;
            in_batch = 0;
        }
    }
    store.commit(b)?;
    Ok(n)
}

fn invalid(hash: &[u8; 32], what: String) -> LedgerError {
    LedgerError::Invalid(format!(
        "migrating the store: change {}: {what}",
        hex::encode(hash)
    ))
}

fn seq_value(hash: &[u8; 32], v: &[u8]) -> Result<u64, LedgerError> {
    <[u8; 8]>::try_from(v)
        .map(u64::from_be_bytes)
        .map_err(|_| invalid(hash, "its change row is malformed".into()))
}

/// The record of the change whose hash is `hash`, through its layout-3 `C` row.
fn record_of(store: &Store, hash: &[u8; 32]) -> Result<[u8; 16], LedgerError> {
    let v = store
        .get(Space::Change, hash)?
        .ok_or_else(|| invalid(hash, "no entry records this change".into()))?;
    record_at(store, hash, seq_value(hash, &v)?)
}

/// The record of entry `seq`, which records change `hash`.
fn record_at(store: &Store, hash: &[u8; 32], seq: u64) -> Result<[u8; 16], LedgerError> {
    let bytes = store
        .get(Space::Entry, &seq.to_be_bytes())?
        .ok_or_else(|| invalid(hash, format!("entry {seq} is missing")))?;
    let e = Entry::decode(&bytes).map_err(|e| invalid(hash, format!("entry {seq}: {e}")))?;
    if e.signed.hash() != *hash {
        return Err(invalid(hash, format!("entry {seq} records another change")));
    }
    Ok(e.signed.change.record)
}

fn kind_of(hash: &[u8; 32], code: u8) -> Result<CommitmentKind, LedgerError> {
    CommitmentKind::from_code(code).map_err(|e| invalid(hash, format!("sealed content: {e}")))
}
