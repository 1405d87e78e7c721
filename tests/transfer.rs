//! The `transfer` disposition at the library's append, whoever the writer: only an
//! administrator, only under an approved purge plan (certified or not) that lists the
//! record for transfer, never under a hold; the live copy is destroyed only after the
//! transfer entry is durable, a crash in between is finished by a later call, and
//! nothing is transferred or destroyed twice.

mod common;

use blotter::format::{Action, Date, HoldKind, Role};
use blotter::ledger::append::Outcome;
use blotter::ledger::holds::HoldTarget;
use blotter::ledger::verify::VerifyOptions;
use blotter::ledger::{Draft, InitOptions, Ledger, LedgerError, Settings};
use ed25519_dalek::SigningKey;

/// Incidents: transfer-archives (item X-1); citations: destroy (X-2); both 2 years
/// after creation.
const SCHEDULE: &str = include_str!("fixtures/schedule-transfer.toml");

/// The archive file's BLAKE3, as the export would compute it.
const ARCHIVE: [u8; 32] = [0xa7; 32];

struct Fx {
    _tmp: tempfile::TempDir,
    l: Ledger,
    admin: SigningKey,
    clerk: SigningKey,
    sup1: SigningKey,
    sup2: SigningKey,
}

fn key() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

impl Fx {
    fn new() -> Fx {
        let tmp = tempfile::tempdir().unwrap();
        let admin = key();
        let l = Ledger::init(
            &tmp.path().join("l"),
            &admin,
            InitOptions {
                origin: "pd.example/transfer".into(),
                admin_person: "A-1".into(),
                settings: Settings::default(),
                ledger_key_path: None,
            },
        )
        .unwrap();
        let mut fx = Fx {
            _tmp: tmp,
            l,
            admin,
            clerk: key(),
            sup1: key(),
            sup2: key(),
        };
        for (k, person, role) in [
            (fx.clerk.clone(), "C-1", Role::Clerk),
            (fx.sup1.clone(), "S-1", Role::Supervisor),
            (fx.sup2.clone(), "S-2", Role::Supervisor),
        ] {
            let d = Draft::key_registration(k.verifying_key().to_bytes(), person, role);
            let admin = fx.admin.clone();
            fx.append(&admin, d).unwrap();
        }
        let d =
            fx.l.adopt_schedule_draft("transfer.toml", SCHEDULE)
                .unwrap();
        fx.append(&fx.sup1.clone(), d).unwrap();
        fx
    }
    fn append(&mut self, k: &SigningKey, d: Draft) -> Result<u64, LedgerError> {
        let s = self.l.sign(k, d)?;
        Ok(self.l.append(vec![s])?[0].seq())
    }
    fn record(&mut self, record_type: &str, y: u16, case: Option<&str>) -> [u8; 16] {
        let mut d = Draft::new_record(
            record_type,
            Date::new(y, 1, 1).unwrap(),
            Action::RecordCreate {
                confidential: false,
            },
        );
        d.content = Some(format!(r#"{{"summary":"{record_type} of {y}"}}"#).into_bytes());
        d.case_number = case.map(str::to_string);
        let id = d.record;
        let clerk = self.clerk.clone();
        self.append(&clerk, d).unwrap();
        id
    }
    /// A plan as of 2026-06-01 by S-1, optionally approved by S-2.
    fn plan(&mut self, approve: bool) -> [u8; 16] {
        let sup1 = self.sup1.clone();
        let (d, _) = self
            .l
            .purge_plan_draft(Date::new(2026, 6, 1).unwrap(), &sup1)
            .unwrap();
        let id = d.record;
        self.append(&sup1, d).unwrap();
        if approve {
            let a = self.l.approval_draft(&id, "purge-plan").unwrap();
            let sup2 = self.sup2.clone();
            self.append(&sup2, a).unwrap();
        }
        id
    }
    fn transfer(
        &mut self,
        who: &SigningKey,
        rid: &[u8; 16],
        plan: &[u8; 16],
    ) -> Result<u64, LedgerError> {
        let d = self.l.transfer_draft(rid, plan, ARCHIVE)?;
        self.append(who, d)
    }
    /// A transfer the append rules refuse, naming `needle`; nothing is written.
    fn refused(&mut self, who: &SigningKey, rid: &[u8; 16], plan: &[u8; 16], needle: &str) {
        let head = self.l.head();
        match self.transfer(who, rid, plan) {
            Err(e) => assert!(e.to_string().contains(needle), "{e} should say {needle:?}"),
            Ok(seq) => panic!("transfer at {seq} must be refused ({needle})"),
        }
        assert_eq!(self.l.head(), head, "nothing written");
    }
    fn complete(
        &mut self,
        plan: &[u8; 16],
        records: &[[u8; 16]],
    ) -> Result<blotter::ledger::transfer::Transferred, LedgerError> {
        let admin = self.admin.clone();
        self.l
            .complete_transfer(plan, records, ARCHIVE, &admin, &|_, _| {})
    }
    fn verify(&self) -> blotter::ledger::verify::Report {
        let r = self.l.verify(&VerifyOptions::default(), &|_| {}).unwrap();
        assert!(r.ok(), "{:?}", r.problem);
        r
    }
}

/// Whether a record's live data is destroyed (its data key gone), not just disposed.
fn destroyed(l: &Ledger, rid: &[u8; 16]) -> bool {
    match l.case_number(rid) {
        Err(LedgerError::Destroyed(_)) => true,
        Ok(_) => false,
        Err(e) => panic!("record {}: {e}", hex::encode(rid)),
    }
}

#[test]
fn transfer_needs_an_admin_and_an_approved_plan_that_lists_the_record_for_transfer() {
    let mut f = Fx::new();
    let old = f.record("incident", 2019, None);
    let young = f.record("incident", 2026, None);
    let citation = f.record("citation", 2019, None);
    let admin = f.admin.clone();
    let unapproved = f.plan(false);
    f.refused(&admin, &old, &unapproved, "not approved");
    let e = f.l.transfer_targets(&unapproved).unwrap_err().to_string();
    assert!(e.contains("not approved"), "{e}");
    let head = f.l.head();
    let e = f.complete(&unapproved, &[old]).unwrap_err().to_string();
    assert!(e.contains("not approved"), "{e}");
    assert_eq!(f.l.head(), head, "nothing written");
    let plan = f.plan(true);
    // A supervisor may dispose of records, but only an administrator transfers them.
    let sup1 = f.sup1.clone();
    f.refused(&sup1, &old, &plan, "may not sign");
    // The plan lists the citation for destruction, and the young incident not at all.
    f.refused(
        &admin,
        &citation,
        &plan,
        "lists it for destroy, not transfer",
    );
    f.refused(&admin, &young, &plan, "does not list it");
    let e = f.complete(&plan, &[citation]).unwrap_err().to_string();
    assert!(e.contains("not transfer"), "{e}");
    // The authority must be a plan; the archive must be named; no case change.
    f.refused(&admin, &old, &old, "not a purge plan");
    let d = f.l.transfer_draft(&old, &plan, [0; 32]).unwrap();
    let e = f.append(&admin, d).unwrap_err().to_string();
    assert!(e.contains("names no archive"), "{e}");
    let mut d = f.l.transfer_draft(&old, &plan, ARCHIVE).unwrap();
    d.case_number = Some("OTHER-CASE".into());
    let e = f.append(&admin, d).unwrap_err().to_string();
    assert!(e.contains("carry no case number change"), "{e}");
    // A transfer carries no content.
    let mut d = f.l.transfer_draft(&old, &plan, ARCHIVE).unwrap();
    d.content = Some(br#"{"summary":"x"}"#.to_vec());
    let e = f.append(&admin, d).unwrap_err().to_string();
    assert!(e.contains("carry no content"), "{e}");
    let t = f.l.transfer_targets(&plan).unwrap();
    assert_eq!(t.records, vec![old]);
    f.verify();
}

#[test]
fn holds_block_transfer_by_record_and_by_case_and_nothing_is_destroyed() {
    let mut f = Fx::new();
    let held = f.record("incident", 2019, None);
    let cased = f.record("incident", 2019, Some("19-7"));
    let free = f.record("incident", 2020, None);
    let plan = f.plan(true);
    let sup2 = f.sup2.clone();
    let h =
        f.l.hold_draft(
            HoldKind::Litigation,
            "Doe v. City",
            HoldTarget::Records(vec![held]),
        )
        .unwrap();
    f.append(&sup2, h).unwrap();
    let h =
        f.l.hold_draft(
            HoldKind::RecordsRequest,
            "PRR-7",
            HoldTarget::Case("19-7".into()),
        )
        .unwrap();
    f.append(&sup2, h).unwrap();
    let admin = f.admin.clone();
    f.refused(&admin, &held, &plan, "legal hold");
    f.refused(&admin, &cased, &plan, "legal hold");
    let t = f.l.transfer_targets(&plan).unwrap();
    assert_eq!(t.records, vec![free]);
    assert_eq!(t.left_out.len(), 2, "{:?}", t.left_out);
    assert!(t.left_out.iter().all(|n| n.why.contains("legal hold")));
    // The whole list is checked before anything is appended or destroyed.
    for bad in [held, cased] {
        let head = f.l.head();
        let e = f.complete(&plan, &[free, bad]).unwrap_err().to_string();
        assert!(
            e.contains("legal hold") && e.contains(&hex::encode(bad)),
            "{e}"
        );
        assert_eq!(f.l.head(), head, "nothing written");
        assert!(f.l.pending_destruction().unwrap().is_empty());
        for r in [held, cased, free] {
            assert!(!destroyed(&f.l, &r), "nothing destroyed");
            assert!(f.l.record(&r).unwrap().unwrap().disposed.is_none());
        }
    }
    let done = f.complete(&plan, &t.records).unwrap();
    assert_eq!((done.transferred_now, done.destroyed), (1, 1));
    assert!(destroyed(&f.l, &free));
    assert!(!destroyed(&f.l, &held) && !destroyed(&f.l, &cased));
    f.verify();
}

#[test]
fn transfer_after_purge_apply_destroys_the_live_copies_once_and_verifies() {
    let mut f = Fx::new();
    let a = f.record("incident", 2018, None);
    let b = f.record("incident", 2019, None);
    let citation = f.record("citation", 2019, None);
    let plan = f.plan(true);
    // `purge apply` destroys the destroy items, certifies the plan and leaves the
    // transfer items pending.
    let sup1 = f.sup1.clone();
    let applied = f.l.apply_disposition(&plan, &sup1, &|_, _| {}).unwrap();
    assert_eq!((applied.disposed_now, applied.transfer_pending), (1, 2));
    assert!(applied.certificate_seq.is_some());
    assert!(destroyed(&f.l, &citation));
    assert!(!destroyed(&f.l, &a) && !destroyed(&f.l, &b));
    let t = f.l.transfer_targets(&plan).unwrap();
    let mut want = vec![a, b];
    want.sort();
    assert_eq!(t.records, want, "the plan's order: record ids");
    assert!(t.left_out.is_empty(), "{:?}", t.left_out);
    let calls = std::cell::Cell::new((0, 0));
    let admin = f.admin.clone();
    let done =
        f.l.complete_transfer(&plan, &t.records, ARCHIVE, &admin, &|n, of| {
            calls.set((n, of))
        })
        .unwrap();
    assert_eq!(calls.get(), (2, 2));
    assert_eq!(
        (
            done.transferred_now,
            done.already_transferred,
            done.destroyed
        ),
        (2, 0, 2)
    );
    assert_eq!(done.archive, hex::encode(ARCHIVE));
    for (r, e) in t.records.iter().zip(&done.entries) {
        assert_eq!(e.record, hex::encode(r));
        assert_eq!(f.l.record(r).unwrap().unwrap().disposed, Some(e.seq));
        assert!(destroyed(&f.l, r));
        let err = f.l.read_content(r, None).unwrap_err().to_string();
        assert!(err.contains("disposed"), "{err}");
    }
    assert!(f.l.pending_destruction().unwrap().is_empty());
    // Twice: a new transfer entry is refused; the call again transfers and destroys
    // nothing, and counts the records as already transferred.
    let admin = f.admin.clone();
    f.refused(&admin, &a, &plan, "disposed");
    let head = f.l.head();
    let again = f.complete(&plan, &[b, a, b]).unwrap();
    assert_eq!(
        (
            again.transferred_now,
            again.already_transferred,
            again.destroyed
        ),
        (0, 2, 0)
    );
    let mut entries = again.entries.clone();
    entries.sort_by_key(|e| e.seq);
    assert_eq!(
        entries, done.entries,
        "duplicates dropped, the same entries"
    );
    assert_eq!(f.l.head(), head, "nothing written");
    let t = f.l.transfer_targets(&plan).unwrap();
    assert!(t.records.is_empty());
    assert_eq!(t.already_transferred.len(), 2);
    // `verify` lists them as transferred, with the plan, item and archive.
    let r = f.verify();
    let transferred: Vec<_> = r.disposed.iter().filter(|d| d.kind == "transfer").collect();
    assert_eq!(transferred.len(), 2, "{:?}", r.disposed);
    for d in transferred {
        assert_eq!(d.authority, hex::encode(plan));
        assert_eq!(d.authority_kind, "purge-plan");
        assert_eq!(d.item.as_deref(), Some("X-1"));
        assert_eq!(d.archive.as_deref(), Some(hex::encode(ARCHIVE).as_str()));
    }
    assert!(r.disposed.iter().any(|d| d.kind == "destroy"));
}

#[test]
fn a_crash_between_transfer_entries_and_destruction_is_finished_later() {
    let mut f = Fx::new();
    let a = f.record("incident", 2018, None);
    let b = f.record("incident", 2019, None);
    let plan = f.plan(true);
    // The transfer "crashed" after its entries were durable, before destroying anything
    // (and before the plan was applied: an uncertified approved plan allows it too).
    let admin = f.admin.clone();
    let mut signed = Vec::new();
    for r in [a, b] {
        let d = f.l.transfer_draft(&r, &plan, ARCHIVE).unwrap();
        signed.push(f.l.sign(&admin, d).unwrap());
    }
    f.l.append(signed.clone()).unwrap();
    assert_eq!(f.l.pending_destruction().unwrap().len(), 2);
    assert!(!destroyed(&f.l, &a) && !destroyed(&f.l, &b));
    let dir = f.l.dir().to_path_buf();
    let Fx { l, .. } = f;
    drop(l);
    let mut l = Ledger::open(&dir).unwrap();
    // The same changes again are already recorded, never appended twice.
    let head = l.head();
    let again = l.append(signed).unwrap();
    assert!(
        again
            .iter()
            .all(|o| matches!(o, Outcome::AlreadyRecorded(_))),
        "{again:?}"
    );
    assert_eq!(l.head(), head);
    let done = l
        .complete_transfer(&plan, &[a, b], ARCHIVE, &admin, &|_, _| {})
        .unwrap();
    assert_eq!(
        (
            done.transferred_now,
            done.already_transferred,
            done.destroyed
        ),
        (0, 2, 2)
    );
    assert!(l.pending_destruction().unwrap().is_empty());
    assert!(destroyed(&l, &a) && destroyed(&l, &b));
    let r = l.verify(&VerifyOptions::default(), &|_| {}).unwrap();
    assert!(r.ok(), "{:?}", r.problem);
    assert_eq!(
        r.disposed.iter().filter(|d| d.kind == "transfer").count(),
        2
    );
}

/// A transfer forged into the store (validly signed by an admin, chained and
/// numbered) of a record its plan lists for destruction is found by `verify`, which
/// reads the plan document the plan entry committed to.
#[test]
fn verify_finds_a_transfer_the_plan_does_not_list_for_transfer() {
    let mut f = Fx::new();
    let _old = f.record("incident", 2019, None);
    let citation = f.record("citation", 2019, None);
    let plan = f.plan(true);
    let admin = f.admin.clone();
    let d = f.l.transfer_draft(&citation, &plan, ARCHIVE).unwrap();
    let forged = f.l.sign(&admin, d).unwrap();
    let e = f.l.append(vec![forged.clone()]).unwrap_err().to_string();
    assert!(e.contains("not transfer"), "{e}");
    let dir = f.l.dir().to_path_buf();
    let Fx { l, .. } = f;
    drop(l);
    let n = common::forge_append(&dir, &forged.signed);
    let r = Ledger::open(&dir)
        .unwrap()
        .verify(&VerifyOptions::default(), &|_| {})
        .unwrap();
    let p = r.problem.expect("the forged transfer must be found");
    assert_eq!(p.seq, n, "{}", p.what);
    assert!(
        p.what.contains("does not list it for transfer"),
        "{}",
        p.what
    );
}
