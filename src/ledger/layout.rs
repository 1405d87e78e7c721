//! Bringing a store written by an older blotter to the current layout
//! ([`crate::store::STORE_VERSION`]) when a ledger is opened.
//!
//! The first commit marks the store as of the current layout and records the layout it
//! had (`migrating-from`), so that an older blotter refuses a half-migrated store ("a
//! newer blotter") and the next open resumes. Each step then rewrites rows a chunk per
//! durable commit and skips rows already in the new form, so a crash part-way leaves a
//! mix that the next open finishes; `migrating-from` is removed last, once every step
//! is done.
//!
//! - 1 → 2: record states from JSON to the binary encoding (`state::migrate`).
//! - 2 → 3: nothing to rewrite: history-row values are written from then on, and older,
//!   empty ones are read through a fallback (`destroy/sweep.rs`).
//! - 3 → 4: sealed rows (`P`) re-keyed from change hash ‖ kind to record id ‖ change
//!   hash ‖ kind (`history::sealed_key`), each row's record found through its change's
//!   entry (`C` → `E`); the sealed bytes do not change. Then change rows (`C`) re-keyed
//!   from change hash to record id ‖ change hash (`history::change_key`), the record
//!   read from the entry at the row's seq. `P` goes first: it looks up the old `C` keys.
//! - 4 → 5: nothing to rewrite: the rows moved from a sled database into a redb file
//!   when the store was opened (`store/legacy.rs`).

use super::history::{change_key, sealed_key};
use super::{state, LedgerError};
use crate::format::{CommitmentKind, Entry};
use crate::store::{Batch, Space, Store, STORE_VERSION};

/// Rows rewritten per durable commit, at most (a few in the unit tests, so that they
/// cross commits).
const CHUNK: usize = if cfg!(test) { 3 } else { 10_000 };

/// Bytes of rows (keys and values) per durable commit, at most: sealed rows can hold
/// 64 KiB each.
const CHUNK_BYTES: usize = 8 << 20;

/// Meta key present while a migration runs; its value is the layout the store had.
const MIGRATING_FROM: &[u8] = b"migrating-from";

/// Whether the store needs [`migrate`]: an older layout, or a migration not finished.
pub(crate) fn pending(store: &Store) -> Result<bool, LedgerError> {
    Ok(store.version() < STORE_VERSION || store.get(Space::Meta, MIGRATING_FROM)?.is_some())
}

/// Runs every step the store's layout needs (resuming an interrupted migration), after
/// calling `migrating` with the layout the store comes from.
pub(crate) fn migrate(store: &Store, migrating: impl FnOnce(u64)) -> Result<(), LedgerError> {
    let from = match store.get(Space::Meta, MIGRATING_FROM)? {
        Some(v) => <[u8; 8]>::try_from(v.as_slice())
            .map(u64::from_be_bytes)
            .map_err(|_| {
                LedgerError::Invalid("the store's migrating-from mark is malformed".into())
            })?,
        None => {
            let from = store.version();
            let mut b = Batch::default();
            b.put(Space::Meta, MIGRATING_FROM, &from.to_be_bytes());
            b.mark_current();
            store.commit(b)?;
            from
        }
    };
    tracing::info!(from, to = STORE_VERSION, "migrating the store's layout");
    migrating(from);
    if from < 2 {
        state::migrate(store)?;
    }
    if from < 4 {
        let sealed = rekey_sealed(store)?;
        let changes = rekey_changes(store)?;
        tracing::info!(
            sealed,
            changes,
            "store rows re-keyed under their record ids"
        );
    }
    let mut b = Batch::default();
    b.remove(Space::Meta, MIGRATING_FROM);
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
/// if the key changed, a chunk ([`CHUNK`] rows or [`CHUNK_BYTES`]) per durable commit.
/// Returns the rows rewritten.
pub(super) fn rewrite_rows(
    store: &Store,
    space: Space,
    new: impl Fn(&[u8], &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>, LedgerError>,
) -> Result<u64, LedgerError> {
    let mut b = Batch::default();
    let (mut n, mut in_batch, mut bytes) = (0u64, 0usize, 0usize);
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
        bytes += k.len() + key.len() + value.len();
        if in_batch == CHUNK || bytes >= CHUNK_BYTES {
            store.commit(std::mem::take(&mut b))?;
            (in_batch, bytes) = (0, 0);
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
