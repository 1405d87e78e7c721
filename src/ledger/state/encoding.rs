//! The stored form of [`RecordState`] (`Space::Record` values, store layout 2): a
//! compact binary encoding with the crate's canonical reader and writer, read once per
//! record by every report, listing and append. Derived data, never hashed or signed,
//! and not part of `docs/FORMAT.md`.
//!
//! Layout: `0x01` (encoding version), id (16), record_type (short), created_on (short),
//! latest (32), first_seq, last_seq, changes (u64 each), status (flag + short),
//! status_date (flag + short), sealed (flag), confidential (flag), creator (short),
//! case, content (opt32 each), disposed (opt u64), document (opt32), approved (flag +
//! person short + seq u64), closed (opt u64), status_dates (u16 count, then key short
//! and value short each, in key order), last_change_ms (i64).
//!
//! Store layout 1 kept the JSON of `RecordState`; [`decode_any`] reads both, for the
//! one-time migration when a layout-1 store is opened (`Ledger::open`).

use std::collections::BTreeMap;

use super::{Approval, RecordState};
use crate::format::{FormatError, Reader, Writer};
use crate::ledger::LedgerError;
use crate::store::{Space, Store};

/// The first byte of an encoded record state (a JSON state starts with `{`).
const VERSION: u8 = 1;

type Res<T> = Result<T, FormatError>;

fn opt_short(w: &mut Writer, v: &Option<String>) -> Res<()> {
    match v {
        None => w.u8(0),
        Some(s) => {
            w.u8(1);
            w.short(s.as_bytes())?;
        }
    }
    Ok(())
}

fn text(r: &mut Reader<'_>, what: &'static str) -> Res<String> {
    let b = r.short(what)?;
    String::from_utf8(b.to_vec()).map_err(|_| FormatError::Invalid {
        field: what,
        detail: "not UTF-8".into(),
    })
}

fn opt_text(r: &mut Reader<'_>, what: &'static str) -> Res<Option<String>> {
    Ok(if r.flag(what)? {
        Some(text(r, what)?)
    } else {
        None
    })
}

impl RecordState {
    /// The stored bytes. Fails only on a text field longer than 255 bytes, which the
    /// format's own limits (types, person ids, statuses, dates) never produce.
    pub fn encode(&self) -> Res<Vec<u8>> {
        let mut w = Writer {
            buf: Vec::with_capacity(192),
        };
        w.u8(VERSION);
        w.bytes(&self.id);
        w.short(self.record_type.as_bytes())?;
        w.short(self.created_on.as_bytes())?;
        w.bytes(&self.latest);
        w.u64(self.first_seq);
        w.u64(self.last_seq);
        w.u64(self.changes);
        opt_short(&mut w, &self.status)?;
        opt_short(&mut w, &self.status_date)?;
        w.u8(u8::from(self.sealed));
        w.u8(u8::from(self.confidential));
        w.short(self.creator.as_bytes())?;
        w.opt32(&self.case);
        w.opt32(&self.content);
        w.opt_u64(self.disposed);
        w.opt32(&self.document);
        match &self.approved {
            None => w.u8(0),
            Some(a) => {
                w.u8(1);
                w.short(a.person.as_bytes())?;
                w.u64(a.seq);
            }
        }
        w.opt_u64(self.closed);
        let n = u16::try_from(self.status_dates.len())
            .map_err(|_| FormatError::TooLong("status_dates", self.status_dates.len()))?;
        w.u16(n);
        for (k, v) in &self.status_dates {
            w.short(k.as_bytes())?;
            w.short(v.as_bytes())?;
        }
        w.i64(self.last_change_ms);
        Ok(w.buf)
    }

    /// Reads stored bytes; refuses anything else (truncated, trailing bytes, bad flags,
    /// unknown version, status dates out of order) without panicking.
    pub fn decode(b: &[u8]) -> Res<RecordState> {
        let mut r = Reader::new(b);
        match r.u8("record state version")? {
            VERSION => {}
            v => return Err(FormatError::UnknownVersion(v)),
        }
        let id = r.array("id")?;
        let record_type = text(&mut r, "record_type")?;
        let created_on = text(&mut r, "created_on")?;
        let latest = r.array("latest")?;
        let first_seq = r.u64("first_seq")?;
        let last_seq = r.u64("last_seq")?;
        let changes = r.u64("changes")?;
        let status = opt_text(&mut r, "status")?;
        let status_date = opt_text(&mut r, "status_date")?;
        let sealed = r.flag("sealed")?;
        let confidential = r.flag("confidential")?;
        let creator = text(&mut r, "creator")?;
        let case = r.opt32("case")?;
        let content = r.opt32("content")?;
        let disposed = r.opt_u64("disposed")?;
        let document = r.opt32("document")?;
        let approved = if r.flag("approved")? {
            Some(Approval {
                person: text(&mut r, "approved person")?,
                seq: r.u64("approved seq")?,
            })
        } else {
            None
        };
        let closed = r.opt_u64("closed")?;
        let mut status_dates = BTreeMap::new();
        let mut last: Option<String> = None;
        for _ in 0..r.u16("status_dates")? {
            let k = text(&mut r, "status_dates key")?;
            if last.as_ref().is_some_and(|l| *l >= k) {
                return Err(FormatError::NonCanonical {
                    field: "status_dates",
                    offset: r.pos(),
                    detail: "keys out of order or repeated".into(),
                });
            }
            last = Some(k.clone());
            status_dates.insert(k, text(&mut r, "status_dates value")?);
        }
        let last_change_ms = r.i64("last_change_ms")?;
        r.finish("record state")?;
        Ok(RecordState {
            id,
            record_type,
            created_on,
            latest,
            first_seq,
            last_seq,
            changes,
            status,
            status_date,
            sealed,
            confidential,
            creator,
            case,
            content,
            disposed,
            document,
            approved,
            closed,
            status_dates,
            last_change_ms,
        })
    }
}

/// A stored record state of either layout: the binary encoding (layout 2) or the JSON
/// of layout 1. Used only to migrate a layout-1 store.
pub(crate) fn decode_any(b: &[u8]) -> Result<RecordState, String> {
    match b.first() {
        Some(b'{') => serde_json::from_slice(b).map_err(|e| e.to_string()),
        _ => RecordState::decode(b).map_err(|e| e.to_string()),
    }
}

/// Rewrites a layout-1 store's record states (JSON) in the binary encoding, a chunk per
/// durable commit (`ledger/layout.rs` marks the store once every step is done). A
/// crash part-way leaves a mix of both forms, which a rerun (the next open) finishes.
/// Returns the states rewritten.
pub(crate) fn migrate(store: &Store) -> Result<u64, LedgerError> {
    crate::ledger::layout::rewrite_rows(store, Space::Record, |k, v| {
        if v.first() != Some(&b'{') {
            return Ok(None);
        }
        let bad = |e: String| {
            LedgerError::Invalid(format!(
                "migrating the store: record {} state unreadable: {e}",
                hex::encode(k)
            ))
        };
        let bytes = decode_any(v)
            .map_err(bad)?
            .encode()
            .map_err(|e| bad(e.to_string()))?;
        Ok(Some((k.to_vec(), bytes)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Batch;

    fn sample() -> RecordState {
        RecordState {
            id: [7; 16],
            record_type: "purge-plan".into(),
            created_on: "2024-02-29".into(),
            latest: [9; 32],
            first_seq: 3,
            last_seq: u64::MAX,
            changes: 12,
            status: Some("closed".into()),
            status_date: Some("2025-01-31".into()),
            sealed: true,
            confidential: false,
            creator: "S-1".into(),
            case: Some([1; 32]),
            content: None,
            disposed: Some(0),
            document: Some([2; 32]),
            approved: Some(Approval {
                person: "S-2".into(),
                seq: 44,
            }),
            closed: Some(45),
            status_dates: [("closed", "2025-01-31"), ("served", "2024-05-01")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            last_change_ms: -5,
        }
    }

    fn bare() -> RecordState {
        RecordState {
            id: [0; 16],
            record_type: "incident".into(),
            created_on: "2019-01-01".into(),
            latest: [0; 32],
            first_seq: 0,
            last_seq: 0,
            changes: 1,
            status: None,
            status_date: None,
            sealed: false,
            confidential: true,
            creator: "C-1".into(),
            case: None,
            content: Some([3; 32]),
            disposed: None,
            document: None,
            approved: None,
            closed: None,
            status_dates: BTreeMap::new(),
            last_change_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn round_trip() {
        for st in [sample(), bare()] {
            let b = st.encode().unwrap();
            assert_eq!(RecordState::decode(&b).unwrap(), st);
            assert_eq!(decode_any(&b).unwrap(), st);
            // Layout 1 (JSON) still reads, for the migration.
            assert_eq!(decode_any(&serde_json::to_vec(&st).unwrap()).unwrap(), st);
        }
    }

    #[test]
    fn malformed_bytes_are_refused_without_panic() {
        let good = sample().encode().unwrap();
        // Every truncation, and trailing bytes.
        for n in 0..good.len() {
            assert!(RecordState::decode(&good[..n]).is_err(), "truncated at {n}");
        }
        let mut long = good.clone();
        long.push(0);
        assert!(RecordState::decode(&long).is_err());
        // Unknown version, JSON where binary is expected.
        let mut v = good.clone();
        v[0] = 2;
        assert!(RecordState::decode(&v).is_err());
        assert!(RecordState::decode(b"{}").is_err());
        assert!(decode_any(b"{}").is_err());
        assert!(decode_any(&[]).is_err());
        // A flag byte that is neither 0 nor 1 (sealed sits right after status_date).
        let st = bare();
        let b = st.encode().unwrap();
        let at = 1 + 16 + 1 + 8 + 1 + 10 + 32 + 24 + 1 + 1;
        assert_eq!(b[at], 0);
        let mut bad = b.clone();
        bad[at] = 2;
        assert!(RecordState::decode(&bad).is_err());
        // Invalid UTF-8 in the record type.
        let mut bad = b.clone();
        bad[18] = 0xff;
        assert!(RecordState::decode(&bad).is_err());
        // Every single-byte change decodes or is refused, never panics.
        for i in 0..good.len() {
            for x in [0u8, 1, 0x7f, 0xff] {
                let mut m = good.clone();
                m[i] = x;
                let _ = RecordState::decode(&m);
            }
        }
    }

    #[test]
    fn status_dates_out_of_order_are_refused() {
        let mut st = bare();
        st.status_dates.insert("a".into(), "2020-01-01".into());
        st.status_dates.insert("b".into(), "2020-01-02".into());
        let b = st.encode().unwrap();
        // Swap the two keys' one-byte names in place.
        let i = b.iter().position(|&c| c == b'a').unwrap();
        let j = b.iter().rposition(|&c| c == b'b').unwrap();
        let mut bad = b.clone();
        bad.swap(i, j);
        assert!(RecordState::decode(&bad).is_err());
    }

    /// A layout-1 store (JSON record states) is migrated when opened; a second open
    /// finds nothing to do; a newer layout is refused.
    #[test]
    fn layout_1_store_is_migrated_on_open() {
        use crate::ledger::{InitOptions, Ledger, Settings};
        use ed25519_dalek::SigningKey;
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("l");
        let admin = SigningKey::generate(&mut rand::rngs::OsRng);
        let opts = InitOptions {
            origin: "pd.example/migrate".into(),
            admin_person: "A-1".into(),
            settings: Settings::default(),
            ledger_key_path: None,
        };
        let l = Ledger::init(&dir, &admin, opts).unwrap();
        let everything = crate::ledger::read::ListFilter {
            internal: true,
            ..Default::default()
        };
        let before = l.list(&everything).unwrap();
        assert!(!before.is_empty());
        let all = |l: &Ledger| {
            l.store
                .scan(Space::Record, b"")
                .map(|kv| kv.unwrap())
                .collect::<Vec<_>>()
        };
        // Turn it into a layout-1 store: JSON states, version mark 1.
        let mut b = Batch::default();
        for (k, v) in all(&l) {
            let st = RecordState::decode(&v).unwrap();
            b.put(Space::Record, &k, &serde_json::to_vec(&st).unwrap());
        }
        b.put(Space::Meta, b"store-version", &1u64.to_be_bytes());
        l.store.commit(b).unwrap();
        assert!(all(&l).iter().all(|(_, v)| v[0] == b'{'));
        drop(l);
        let l = Ledger::open(&dir).unwrap();
        assert!(all(&l).iter().all(|(_, v)| v[0] == VERSION));
        assert_eq!(l.list(&everything).unwrap(), before);
        drop(l);
        let l = Ledger::open(&dir).unwrap();
        assert_eq!(l.store.version(), crate::store::STORE_VERSION);
        assert_eq!(migrate(&l.store).unwrap(), 0);
        // A newer layout is refused with a message that says so.
        let mut b = Batch::default();
        b.put(Space::Meta, b"store-version", &99u64.to_be_bytes());
        l.store.commit(b).unwrap();
        drop(l);
        let e = Ledger::open(&dir).err().unwrap().to_string();
        assert!(e.contains("newer blotter"), "{e}");
    }

    #[test]
    fn a_long_text_field_is_an_error_not_a_panic() {
        let mut st = bare();
        st.creator = "x".repeat(300);
        assert!(st.encode().is_err());
    }
}
