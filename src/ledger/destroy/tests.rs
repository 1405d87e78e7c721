//! Destruction: nothing of a destroyed record can be read or recovered from the folder,
//! every survivor still reads, and a crash after any step is completed by a rerun.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use ed25519_dalek::SigningKey;

use super::{Step, Tuning};
use crate::format::{Action, Date, Role};
use crate::ledger::verify::VerifyOptions;
use crate::ledger::{Draft, InitOptions, Ledger, LedgerError, Settings};
use crate::store::Space;

/// One user record made for a test, with everything that must read back (or not).
#[derive(Clone, Debug)]
struct Rec {
    id: [u8; 16],
    content: Vec<u8>,
    case: String,
    source: Option<String>,
    attachment: Option<([u8; 32], Vec<u8>)>,
}

fn new_key() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

/// A ledger with a clerk and `n` incident records: each with a distinctive content and
/// a case number; even ones imported (a source reference), every third with an
/// attachment (larger than one stream chunk) and a side document.
fn fixture(dir: &Path, n: usize) -> (Ledger, Vec<Rec>) {
    let (mut l, clerk) = crate::ledger::testing::with_clerk(dir, "pd.example/destroy");
    let recs: Vec<Rec> = (0..n).map(|i| make(&mut l, &clerk, i)).collect();
    (l, recs)
}

fn date() -> Date {
    Date::new(2025, 5, 1).unwrap()
}

fn make(l: &mut Ledger, clerk: &SigningKey, i: usize) -> Rec {
    let tag = hex::encode(crate::crypto::random::<8>());
    let content = format!(r#"{{"summary":"PLAINTEXT-{i}-{tag}"}}"#).into_bytes();
    let case = format!("24-{i:05}-{tag}");
    let source = i.is_multiple_of(2).then(|| format!("SRC-{i}-{tag}"));
    let mut d = Draft::new_record(
        "incident",
        date(),
        Action::RecordCreate {
            confidential: false,
        },
    );
    d.content = Some(content.clone());
    d.case_number = Some(case.clone());
    d.source = source.clone().map(|s| (s.clone(), format!("{s}/1")));
    let id = d.record;
    let s = l.sign(clerk, d).unwrap();
    l.append(vec![s]).unwrap();
    let attachment = i.is_multiple_of(3).then(|| {
        let bytes: Vec<u8> = format!("ATTACHMENT-{i}-{tag}-")
            .into_bytes()
            .into_iter()
            .cycle()
            .take(crate::crypto::seal::CHUNK + 1000)
            .collect();
        let staged = l.stage_attachment(&id, &mut &bytes[..]).unwrap();
        let blob = staged.commitment;
        let mut d = l
            .draft(
                &id,
                Action::RecordAttach {
                    blob,
                    size: staged.size,
                },
            )
            .unwrap();
        d.side_doc = Some(format!(r#"{{"file_name":"SIDEDOC-{i}-{tag}"}}"#).into_bytes());
        d.attachment = Some(staged);
        let s = l.sign(clerk, d).unwrap();
        l.append(vec![s]).unwrap();
        (blob, bytes)
    });
    Rec {
        id,
        content,
        case,
        source,
        attachment,
    }
}

/// Everything of a surviving record still reads and verifies against its commitments.
fn assert_survives(l: &mut Ledger, r: &Rec) {
    let id = hex::encode(r.id);
    assert_eq!(l.read_content(&r.id, None).unwrap(), r.content, "{id}");
    assert_eq!(l.case_number(&r.id).unwrap().as_deref(), Some(&r.case[..]));
    if let Some(s) = &r.source {
        assert_eq!(l.source_record(s).unwrap(), Some(r.id), "{id}");
    }
    if let Some((blob, bytes)) = &r.attachment {
        let mut out = Vec::new();
        l.read_attachment(&r.id, blob, None, &mut out).unwrap();
        assert_eq!(&out, bytes, "{id}");
    }
}

fn assert_destroyed_error<T: std::fmt::Debug>(r: Result<T, LedgerError>, id: &[u8; 16]) {
    match r {
        Err(LedgerError::Destroyed(x)) if x == hex::encode(id) => {}
        other => panic!(
            "record {}: expected Destroyed, got {other:?}",
            hex::encode(id)
        ),
    }
}

/// Nothing of a destroyed record reads, and (`swept`) nothing of it is left in the store.
fn assert_gone(l: &mut Ledger, r: &Rec, swept: bool) {
    assert_destroyed_error(l.read_content(&r.id, None), &r.id);
    assert_destroyed_error(l.case_number(&r.id), &r.id);
    let msg = l.read_content(&r.id, None).unwrap_err().to_string();
    assert!(msg.contains("data was destroyed"), "{msg}");
    if let Some((blob, _)) = &r.attachment {
        assert_destroyed_error(l.read_attachment(&r.id, blob, None, &mut Vec::new()), &r.id);
    }
    if !swept {
        return;
    }
    let id = hex::encode(r.id);
    for space in [Space::DataKey, Space::Destroyable, Space::Destroying] {
        assert!(
            l.store.get(space, &r.id).unwrap().is_none(),
            "{id} {space:?}"
        );
    }
    assert_eq!(l.store.scan(Space::Sealed, &r.id).count(), 0, "{id} P");
    let n = l.epochs.index_hash("case", &r.case);
    assert_eq!(l.store.scan(Space::CaseIndex, &n).count(), 0, "{id} N");
    if let Some(s) = &r.source {
        assert_eq!(l.source_record(s).unwrap(), None, "{id} S");
        assert_eq!(l.source_change(&format!("{s}/1")).unwrap(), None, "{id} S");
    }
    if let Some((blob, _)) = &r.attachment {
        assert!(
            !l.dir.join("blobs").join(hex::encode(blob)).exists(),
            "{id} blob"
        );
    }
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn assert_nowhere(dir: &Path, needle: &[u8], what: &str) {
    for f in files(dir) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{what} found in {}",
            f.display()
        );
    }
}

fn ids(recs: &[Rec]) -> Vec<[u8; 16]> {
    recs.iter().map(|r| r.id).collect()
}

fn sorted(mut v: Vec<[u8; 16]>) -> Vec<[u8; 16]> {
    v.sort();
    v
}

#[test]
fn destroyed_data_is_nowhere_and_survivors_read() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("l");
    let (mut l, recs) = fixture(&dir, 12);
    let (doomed, survivors) = recs.split_at(5);
    let data_keys: Vec<[u8; 32]> = doomed
        .iter()
        .map(|r| *l.data_key(&r.id).unwrap().unwrap().0)
        .collect();
    let wrapped: Vec<Vec<u8>> = doomed
        .iter()
        .map(|r| l.store.get(Space::DataKey, &r.id).unwrap().unwrap())
        .collect();
    let old_epoch = *l.epochs.epochs[0].1;

    let rep = l.destroy_data(&ids(doomed)).unwrap();
    assert_eq!(rep.destroyed, sorted(ids(doomed)));
    assert_eq!(
        (rep.new_epoch, rep.epochs_retired.clone()),
        (Some(2), vec![1])
    );
    // The surviving incidents, the genesis record and the clerk's key record.
    assert_eq!(rep.rewrapped as usize, survivors.len() + 2);
    assert_eq!(rep.swept, 5);
    assert_eq!(rep.blobs_unlinked, 2);
    drop(l);

    // (1) No plaintext, data key or retired epoch key anywhere in the folder.
    let b64 = base64::engine::general_purpose::STANDARD;
    for (r, dk) in doomed.iter().zip(&data_keys) {
        assert_nowhere(&dir, &r.content, "plaintext");
        assert_nowhere(&dir, r.case.as_bytes(), "case number");
        assert_nowhere(&dir, dk, "data key");
        assert_nowhere(&dir, b64.encode(dk).as_bytes(), "data key (base64)");
    }
    assert_nowhere(&dir, &old_epoch, "retired epoch key");
    assert_nowhere(
        &dir,
        b64.encode(old_epoch).as_bytes(),
        "retired epoch key (base64)",
    );

    let mut l = Ledger::open(&dir).unwrap();
    // (2) Any copy of a destroyed wrapped key opens under no epoch key that exists now.
    for (r, w) in doomed.iter().zip(&wrapped) {
        for (n, _) in l.epochs.epochs.clone() {
            let mut w2 = n.to_be_bytes().to_vec();
            w2.extend_from_slice(&w[4..]);
            assert!(l.epochs.unwrap_key(&w2, &r.id).is_err());
        }
        assert!(l.epochs.unwrap_key(w, &r.id).is_err());
    }
    // (3) Survivors read; destroyed records fail clearly.
    for r in survivors {
        assert_survives(&mut l, r);
    }
    for r in doomed {
        assert_gone(&mut l, r, true);
    }
    // (4) Without disposal entries (the caller's), verify names the missing content.
    let rep = l.verify(&VerifyOptions::default(), &|_| {}).unwrap();
    let p = rep
        .problem
        .expect("verify must fail without disposal entries");
    assert!(
        p.what.contains("missing and no disposal entry"),
        "{}",
        p.what
    );
}

#[test]
fn destroying_again_is_a_no_op() {
    let d = tempfile::tempdir().unwrap();
    let (mut l, recs) = fixture(&d.path().join("l"), 4);
    l.destroy_data(&[recs[0].id]).unwrap();
    let epochs: Vec<u32> = l.epochs.epochs.iter().map(|(n, _)| *n).collect();
    let rep = l.destroy_data(&[recs[0].id, recs[0].id]).unwrap();
    assert_eq!(rep.already_destroyed, vec![recs[0].id]);
    assert!(rep.destroyed.is_empty() && rep.epochs_retired.is_empty());
    assert_eq!((rep.new_epoch, rep.rewrapped, rep.swept), (None, 0, 0));
    assert_eq!(
        l.epochs.epochs.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        epochs
    );
    // A second destruction rotates again: epoch 2 retired, 3 current.
    let rep = l.destroy_data(&[recs[1].id]).unwrap();
    assert_eq!((rep.new_epoch, rep.epochs_retired), (Some(3), vec![2]));
    for r in &recs[2..] {
        assert_survives(&mut l, r);
    }
    assert_gone(&mut l, &recs[0], true);
    assert_gone(&mut l, &recs[1], true);
}

#[test]
fn unknown_and_own_records_are_refused_and_nothing_changes() {
    let d = tempfile::tempdir().unwrap();
    let (mut l, recs) = fixture(&d.path().join("l"), 2);
    let e = l.destroy_data(&[recs[0].id, [7; 16]]).unwrap_err();
    assert!(matches!(e, LedgerError::NoRecord(_)), "{e}");
    let genesis = l.entry(0).unwrap().signed.change.record;
    let e = l.destroy_data(&[genesis]).unwrap_err().to_string();
    assert!(e.contains("ledger's own records"), "{e}");
    assert_eq!(l.epochs.epochs.len(), 1);
    assert_eq!(l.store.scan(Space::Destroying, b"").count(), 0);
    for r in &recs {
        assert_survives(&mut l, r);
    }
}

const STEPS: [Step; 7] = [
    Step::Journalled,
    Step::EpochAdded,
    Step::RewrapChunk,
    Step::Rewrapped,
    Step::Retired,
    Step::SweptSources,
    Step::SweptChunk,
];

/// A crash after each step, then a restart and a rerun with the same records: every
/// survivor reads at the crash and after; the rerun completes the destruction.
#[test]
fn a_crash_after_any_step_is_completed_by_a_rerun() {
    for step in STEPS {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("l");
        let (mut l, recs) = fixture(&dir, 9);
        let (doomed, survivors) = recs.split_at(4);
        let t = Tuning {
            chunk: 2,
            stop_after: Some(step),
        };
        let e = l.destroy_with(&ids(doomed), t).unwrap_err().to_string();
        assert!(e.contains("stopped after"), "{step:?}: {e}");
        drop(l);
        let mut l = Ledger::open(&dir).unwrap();
        for r in survivors {
            assert_survives(&mut l, r);
        }
        let destroyed_before = step >= Step::Retired;
        for r in doomed {
            if destroyed_before {
                assert_gone(&mut l, r, false);
            } else {
                assert_eq!(l.read_content(&r.id, None).unwrap(), r.content, "{step:?}");
            }
        }
        let rep = l.destroy_data(&ids(doomed)).unwrap();
        let (now, already) = if destroyed_before {
            (vec![], sorted(ids(doomed)))
        } else {
            (sorted(ids(doomed)), vec![])
        };
        assert_eq!(
            (rep.destroyed, rep.already_destroyed),
            (now, already),
            "{step:?}"
        );
        // Stopped after the first housekeeping chunk (of 2 records), 2 are left to sweep.
        let left = if step == Step::SweptChunk { 2 } else { 4 };
        assert_eq!(rep.swept, left, "{step:?}");
        drop(l);
        let mut l = Ledger::open(&dir).unwrap();
        let epochs: Vec<u32> = l.epochs.epochs.iter().map(|(n, _)| *n).collect();
        assert_eq!(epochs, vec![2], "{step:?}: one rotation in all");
        for r in survivors {
            assert_survives(&mut l, r);
        }
        for r in doomed {
            assert_gone(&mut l, r, true);
        }
        let rep = l.destroy_data(&ids(doomed)).unwrap();
        assert_eq!(rep.already_destroyed, sorted(ids(doomed)), "{step:?}");
        assert_eq!((rep.swept, rep.rewrapped), (0, 0), "{step:?}");
    }
}

/// A crash before the old epoch is dropped, then a call for other records: the
/// journalled records are destroyed too, never carried into the new epoch.
#[test]
fn a_later_call_for_other_records_completes_an_interrupted_one() {
    for step in [Step::Journalled, Step::EpochAdded, Step::Rewrapped] {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("l");
        let (mut l, recs) = fixture(&dir, 8);
        let (first, rest) = recs.split_at(3);
        let (second, survivors) = rest.split_at(2);
        let t = Tuning {
            chunk: 2,
            stop_after: Some(step),
        };
        assert!(l.destroy_with(&ids(first), t).is_err());
        drop(l);
        let mut l = Ledger::open(&dir).unwrap();
        let rep = l.destroy_data(&ids(second)).unwrap();
        assert_eq!(rep.destroyed, sorted(ids(second)), "{step:?}");
        assert_eq!(rep.resumed, sorted(ids(first)), "{step:?}");
        assert_eq!(rep.swept, 5, "{step:?}");
        for r in survivors {
            assert_survives(&mut l, r);
        }
        for r in first.iter().chain(second) {
            assert_gone(&mut l, r, true);
        }
    }
}

/// With the disposal entries in the log, `verify` passes at a crash after the keys are
/// gone but before housekeeping: content that can no longer be opened counts as missing,
/// and the disposal accounts for it.
#[test]
fn verify_passes_between_key_loss_and_housekeeping_when_disposals_are_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let admin = new_key();
    let mut l = Ledger::init(
        &tmp.path().join("l"),
        &admin,
        InitOptions {
            origin: "pd.example/destroy-verify".into(),
            admin_person: "A-1".into(),
            settings: Settings::default(),
            ledger_key_path: None,
        },
    )
    .unwrap();
    let (clerk, sup1, sup2) = (new_key(), new_key(), new_key());
    for (k, p, r) in [
        (&clerk, "C-1", Role::Clerk),
        (&sup1, "S-1", Role::Supervisor),
        (&sup2, "S-2", Role::Supervisor),
    ] {
        let s = l
            .sign(
                &admin,
                Draft::key_registration(k.verifying_key().to_bytes(), p, r),
            )
            .unwrap();
        l.append(vec![s]).unwrap();
    }
    let recs: Vec<Rec> = (0..4).map(|i| make(&mut l, &clerk, i)).collect();
    // Incidents kept 6 months: the records (2025-05-01) are eligible as of 2026-06-01.
    let plan = crate::ledger::testing::approved_test_plan(&mut l, &sup1, &sup2);
    for r in &recs {
        let action = Action::Disposal {
            kind: crate::format::DisposalKind::Destroy,
            authority: plan,
        };
        let s = l.sign(&sup1, l.draft(&r.id, action).unwrap()).unwrap();
        l.append(vec![s]).unwrap();
    }
    let verify = |l: &Ledger| {
        let r = l.verify(&VerifyOptions::default(), &|_| {}).unwrap();
        assert!(r.ok(), "{:?}", r.problem);
        assert_eq!(r.disposed.len(), 4);
    };
    verify(&l);
    let stop = Tuning {
        chunk: 2,
        stop_after: Some(Step::Retired),
    };
    assert!(l.destroy_with(&ids(&recs), stop).is_err(), "the test stop");
    verify(&l);
    l.destroy_with(&ids(&recs), Tuning::default()).unwrap();
    verify(&l);
}

/// Records whose history rows are from before store layout 3 (empty values: what their
/// changes stored is read from their entries), wholly or in part, are swept as
/// completely as new ones.
#[test]
fn records_from_before_layout_3_are_swept_completely() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("l");
    let (l, recs) = fixture(&dir, 6);
    // Emulate layout 2: record 0's history rows all empty; record 3's first (the
    // create) empty, its attach row new; records 1 and 4 new. Then the old mark.
    let mut b = crate::store::Batch::default();
    for (r, rows) in [(&recs[0], usize::MAX), (&recs[3], 1)] {
        assert!(r.attachment.is_some());
        for (k, _) in l
            .store
            .scan(Space::History, &r.id)
            .map(Result::unwrap)
            .take(rows)
        {
            b.put(Space::History, &k, &[]);
        }
    }
    b.put(Space::Meta, b"store-version", &2u64.to_be_bytes());
    l.store.commit(b).unwrap();
    drop(l);

    let mut l = Ledger::open(&dir).unwrap();
    // Opening migrated the mark and nothing else.
    assert_eq!(
        l.store.get(Space::Meta, b"store-version").unwrap(),
        Some(crate::store::STORE_VERSION.to_be_bytes().to_vec())
    );
    let empty = |l: &Ledger, r: &Rec| {
        l.store
            .scan(Space::History, &r.id)
            .filter(|kv| kv.as_ref().unwrap().1.is_empty())
            .count()
    };
    assert_eq!((empty(&l, &recs[0]), empty(&l, &recs[3])), (2, 1));
    let doomed = [&recs[0], &recs[1], &recs[3], &recs[4]];
    let rep = l
        .destroy_data(&doomed.iter().map(|r| r.id).collect::<Vec<_>>())
        .unwrap();
    assert_eq!((rep.swept, rep.blobs_unlinked), (4, 2));
    for r in doomed {
        assert_gone(&mut l, r, true);
    }
    for r in [&recs[2], &recs[5]] {
        assert_survives(&mut l, r);
    }
    drop(l);
    for r in doomed {
        assert_nowhere(&dir, &r.content, "plaintext");
        assert_nowhere(&dir, r.case.as_bytes(), "case number");
    }
}

/// A malformed history-row value stops housekeeping with an error naming the record
/// (never a panic, never a partial sweep of that chunk); the key loss already happened.
#[test]
fn a_malformed_history_row_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let (mut l, recs) = fixture(&d.path().join("l"), 2);
    let (k, _) = l
        .store
        .scan(Space::History, &recs[0].id)
        .next()
        .unwrap()
        .unwrap();
    let mut b = crate::store::Batch::default();
    b.put(Space::History, &k, &[1, 2, 3]);
    l.store.commit(b).unwrap();
    let e = l.destroy_data(&[recs[0].id]).unwrap_err().to_string();
    assert!(
        e.contains("history row") && e.contains(&hex::encode(recs[0].id)),
        "{e}"
    );
    assert_destroyed_error(l.read_content(&recs[0].id, None), &recs[0].id);
    assert_survives(&mut l, &recs[1]);
}

/// A layout-3 store (sealed rows keyed change hash ‖ kind, change rows change hash),
/// one record's sealed rows already moved as if a migration had crashed part-way:
/// opening moves every row under its record id, everything reads, every change is
/// found as already recorded, destruction sweeps the moved rows, and a second open has
/// nothing to do.
#[test]
fn a_layout_3_store_is_rekeyed_when_opened() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("l");
    let (l, recs) = fixture(&dir, 6);
    let sealed = |l: &Ledger| {
        l.store
            .scan(Space::Sealed, b"")
            .map(Result::unwrap)
            .collect::<Vec<_>>()
    };
    let changes = |l: &Ledger| {
        l.store
            .scan(Space::Change, b"")
            .map(Result::unwrap)
            .collect::<Vec<_>>()
    };
    let before = sealed(&l);
    let changes_before = changes(&l);
    assert!(before.iter().all(|(k, _)| k.len() == 49));
    assert!(changes_before.iter().all(|(k, _)| k.len() == 48));
    assert_eq!(changes_before.len() as u64, l.head().size);
    let mut b = crate::store::Batch::default();
    for (k, v) in &before {
        if k[..16] != recs[1].id {
            b.remove(Space::Sealed, k);
            b.put(Space::Sealed, &k[16..], v);
        }
    }
    for (k, v) in &changes_before {
        b.remove(Space::Change, k);
        b.put(Space::Change, &k[16..], v);
    }
    b.put(Space::Meta, b"store-version", &3u64.to_be_bytes());
    l.store.commit(b).unwrap();
    assert!(sealed(&l).iter().any(|(k, _)| k.len() == 33));
    drop(l);

    let mut l = Ledger::open(&dir).unwrap();
    assert_eq!(sealed(&l), before);
    assert_eq!(changes(&l), changes_before);
    assert_eq!(l.store.get(Space::Meta, b"migrating-from").unwrap(), None);
    for r in &recs {
        for seq in l.record_seqs(&r.id).unwrap() {
            let h = l.entry(seq).unwrap().signed.hash();
            assert_eq!(l.seq_of_change(&r.id, &h).unwrap(), Some(seq));
        }
    }
    assert_eq!(
        l.store.get(Space::Meta, b"store-version").unwrap(),
        Some(crate::store::STORE_VERSION.to_be_bytes().to_vec())
    );
    for r in &recs {
        assert_survives(&mut l, r);
    }
    let doomed = [&recs[0], &recs[1]];
    let rep = l
        .destroy_data(&doomed.iter().map(|r| r.id).collect::<Vec<_>>())
        .unwrap();
    assert_eq!(rep.swept, 2);
    for r in doomed {
        assert_gone(&mut l, r, true);
    }
    drop(l);
    let l = Ledger::open(&dir).unwrap();
    assert_eq!(l.store.version(), crate::store::STORE_VERSION);
}

/// A layout-3 sealed row whose change no entry records cannot be given its record: the
/// open fails naming the change. The store is then marked as of the current layout (an
/// older blotter refuses it) with the layout it came from, so that once the row is
/// removed the next open finishes the migration.
#[test]
fn a_sealed_row_without_its_entry_stops_the_migration() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("l");
    let (l, _) = fixture(&dir, 1);
    let mut b = crate::store::Batch::default();
    let orphan = [0xab; 32];
    b.put(Space::Sealed, &[&orphan[..], &[1]].concat(), b"x");
    b.put(Space::Meta, b"store-version", &3u64.to_be_bytes());
    l.store.commit(b).unwrap();
    drop(l);
    let e = Ledger::open(&dir).err().unwrap().to_string();
    assert!(e.contains(&hex::encode(orphan)), "{e}");
    assert!(e.contains("no entry records this change"), "{e}");
    let s =
        crate::store::Store::open(&dir.join("store"), std::time::Duration::from_secs(5)).unwrap();
    assert_eq!(s.version(), crate::store::STORE_VERSION);
    let from = s.get(Space::Meta, b"migrating-from").unwrap();
    assert_eq!(from, Some(3u64.to_be_bytes().to_vec()));
    let mut b = crate::store::Batch::default();
    b.remove(Space::Sealed, &[&orphan[..], &[1]].concat());
    s.commit(b).unwrap();
    drop(s);
    let l = Ledger::open(&dir).unwrap();
    assert_eq!(l.store.get(Space::Meta, b"migrating-from").unwrap(), None);
    assert!(l
        .store
        .scan(Space::Change, b"")
        .all(|kv| kv.unwrap().0.len() == 48));
}
