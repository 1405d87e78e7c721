//! Invariant 5 at the library's append, whoever the writer: nothing is disposed without
//! an approved, uncertified plan or order naming it, nothing under hold, and a crash in
//! the middle of an apply is finished by applying again, never disposing twice.

mod common;

use blotter::format::{Action, Date, DisposalKind, HoldKind, Role};
use blotter::ledger::holds::HoldTarget;
use blotter::ledger::verify::VerifyOptions;
use blotter::ledger::{Draft, InitOptions, Ledger, LedgerError, Settings};
use ed25519_dalek::SigningKey;

const SCHEDULE: &str = include_str!("fixtures/schedule-test.toml");

struct Fx {
    _tmp: tempfile::TempDir,
    l: Ledger,
    clerk: SigningKey,
    sup1: SigningKey,
    sup1b: SigningKey,
    sup2: SigningKey,
}

fn key() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

fn register(l: &mut Ledger, admin: &SigningKey, k: &SigningKey, person: &str, role: Role) {
    let d = Draft::key_registration(k.verifying_key().to_bytes(), person, role);
    let s = l.sign(admin, d).unwrap();
    l.append(vec![s]).unwrap();
}

impl Fx {
    fn new() -> Fx {
        let tmp = tempfile::tempdir().unwrap();
        let admin = key();
        let mut l = Ledger::init(
            &tmp.path().join("l"),
            &admin,
            InitOptions {
                origin: "pd.example/disposition".into(),
                admin_person: "A-1".into(),
                settings: Settings::default(),
                ledger_key_path: None,
            },
        )
        .unwrap();
        let (clerk, sup1, sup1b, sup2) = (key(), key(), key(), key());
        register(&mut l, &admin, &clerk, "C-1", Role::Clerk);
        register(&mut l, &admin, &sup1, "S-1", Role::Supervisor);
        register(&mut l, &admin, &sup1b, "S-1", Role::Supervisor);
        register(&mut l, &admin, &sup2, "S-2", Role::Supervisor);
        let mut fx = Fx {
            _tmp: tmp,
            l,
            clerk,
            sup1,
            sup1b,
            sup2,
        };
        let d = fx.l.adopt_schedule_draft("test.toml", SCHEDULE).unwrap();
        fx.append(&fx.sup1.clone(), d).unwrap();
        fx
    }
    fn append(&mut self, k: &SigningKey, d: Draft) -> Result<u64, LedgerError> {
        let s = self.l.sign(k, d)?;
        Ok(self.l.append(vec![s])?[0].seq())
    }
    fn incident(&mut self, y: u16) -> [u8; 16] {
        let mut d = Draft::new_record(
            "incident",
            Date::new(y, 1, 1).unwrap(),
            Action::RecordCreate {
                confidential: false,
            },
        );
        d.content = Some(format!(r#"{{"summary":"incident of {y}"}}"#).into_bytes());
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
    fn dispose(
        &mut self,
        who: &SigningKey,
        rid: &[u8; 16],
        auth: &[u8; 16],
    ) -> Result<u64, LedgerError> {
        let d = self.l.draft(
            rid,
            Action::Disposal {
                kind: DisposalKind::Destroy,
                authority: *auth,
            },
        )?;
        self.append(who, d)
    }
    fn refused(&mut self, rid: &[u8; 16], auth: &[u8; 16], needle: &str) {
        let head = self.l.head();
        let sup1 = self.sup1.clone();
        match self.dispose(&sup1, rid, auth) {
            Err(e) => assert!(e.to_string().contains(needle), "{e} should say {needle:?}"),
            Ok(seq) => panic!("disposal at {seq} must be refused ({needle})"),
        }
        assert_eq!(self.l.head(), head, "nothing written");
    }
    fn verify_ok(&self) {
        let r = self.l.verify(&VerifyOptions::default(), &|_| {}).unwrap();
        assert!(r.ok(), "{:?}", r.problem);
    }
}

#[test]
fn disposal_needs_an_approved_plan_that_names_the_record() {
    let mut f = Fx::new();
    let old = f.incident(2019);
    let young = f.incident(2026);
    let unapproved = f.plan(false);
    f.refused(&old, &unapproved, "not approved");
    // A record that is not an authority at all.
    f.refused(&old, &young, "not a purge plan or disposal order");
    // Approval by the planner, or by the planner's second key: refused.
    let a = f.l.approval_draft(&unapproved, "purge-plan").unwrap();
    let sup1b = f.sup1b.clone();
    let e = f.append(&sup1b, a).unwrap_err().to_string();
    assert!(e.contains("two-person"), "{e}");
    // A plan as of a date to come, or naming a schedule file the ledger did not adopt,
    // is refused.
    let sup1 = f.sup1.clone();
    let (d, mut doc) =
        f.l.purge_plan_draft(Date::new(2099, 1, 1).unwrap(), &sup1)
            .unwrap();
    let e = f.append(&sup1, d).unwrap_err().to_string();
    assert!(e.contains("still to come"), "{e}");
    let other = f.l.put_document(b"format = 1\n# not adopted").unwrap();
    doc.as_of = "2026-06-01".into();
    doc.schedule.document = hex::encode(other);
    let forged =
        f.l.put_document(&serde_json::to_vec(&doc).unwrap())
            .unwrap();
    let d = Draft::new_record(
        "purge-plan",
        Date::new(2026, 6, 1).unwrap(),
        Action::PurgePlan {
            document: forged,
            as_of: Date::new(2026, 6, 1).unwrap(),
        },
    );
    let e = f.append(&sup1, d).unwrap_err().to_string();
    assert!(e.contains("did not adopt"), "{e}");
    let plan = f.plan(true);
    // The young record is not in the plan.
    f.refused(&young, &plan, "does not list it");
    // A clerk may not sign a disposal.
    let clerk = f.clerk.clone();
    let e = f.dispose(&clerk, &old, &plan).unwrap_err().to_string();
    assert!(e.contains("may not sign"), "{e}");
    f.verify_ok();
}

#[test]
fn holds_block_disposal_by_record_and_by_case() {
    let mut f = Fx::new();
    let held = f.incident(2019);
    let mut d = Draft::new_record(
        "incident",
        Date::new(2019, 2, 2).unwrap(),
        Action::RecordCreate {
            confidential: false,
        },
    );
    d.content = Some(br#"{"summary":"in case 19-1"}"#.to_vec());
    d.case_number = Some("19-1".into());
    let cased = d.record;
    let clerk = f.clerk.clone();
    f.append(&clerk, d).unwrap();
    let plan = f.plan(true);
    // Holds placed after approval.
    let h1 =
        f.l.hold_draft(
            HoldKind::Litigation,
            "Doe v. City",
            HoldTarget::Records(vec![held]),
        )
        .unwrap();
    let sup2 = f.sup2.clone();
    let hold1 = h1.record;
    f.append(&sup2, h1).unwrap();
    let h2 =
        f.l.hold_draft(
            HoldKind::RecordsRequest,
            "PRR-1",
            HoldTarget::Case("19-1".into()),
        )
        .unwrap();
    f.append(&sup2, h2).unwrap();
    f.refused(&held, &plan, "legal hold");
    f.refused(&cased, &plan, "legal hold");
    // Under a case hold, the record cannot leave the case: not by an amendment, and a
    // disposal carries no case change at all.
    let mut d = f.l.draft(&cased, Action::RecordAmend).unwrap();
    d.content = Some(br#"{"summary":"moved"}"#.to_vec());
    d.case_number = Some("OTHER-CASE".into());
    let e = f.append(&clerk, d).unwrap_err().to_string();
    assert!(e.contains("cannot change while the hold stands"), "{e}");
    let mut d =
        f.l.draft(
            &held,
            Action::Disposal {
                kind: DisposalKind::Destroy,
                authority: plan,
            },
        )
        .unwrap();
    d.case_number = Some("OTHER-CASE".into());
    let sup1 = f.sup1.clone();
    let e = f.append(&sup1, d).unwrap_err().to_string();
    assert!(e.contains("carry no case number change"), "{e}");
    // Released: the record hold no longer blocks.
    let r = f.l.draft(&hold1, Action::HoldRelease).unwrap();
    f.append(&sup2, r).unwrap();
    let sup1 = f.sup1.clone();
    f.dispose(&sup1, &held, &plan).unwrap();
    // Disposed once: a second disposal is refused.
    f.refused(&held, &plan, "disposed");
    f.verify_ok();
}

#[test]
fn a_crash_in_the_middle_of_apply_is_finished_by_applying_again() {
    let mut f = Fx::new();
    let a = f.incident(2018);
    let b = f.incident(2019);
    let c = f.incident(2020);
    let plan = f.plan(true);
    // The apply "crashed" after the first disposal entry, before destroying anything.
    let sup1 = f.sup1.clone();
    f.dispose(&sup1, &a, &plan).unwrap();
    assert_eq!(f.l.pending_destruction().unwrap().len(), 1);
    let dir = f.l.dir().to_path_buf();
    let Fx { l, .. } = f;
    drop(l);
    let mut l = Ledger::open(&dir).unwrap();
    let applied = l.apply_disposition(&plan, &sup1, &|_, _| {}).unwrap();
    assert_eq!(applied.already_disposed, 1);
    assert!(applied.disposed_now >= 2);
    assert!(l.pending_destruction().unwrap().is_empty());
    for r in [a, b, c] {
        let st = l.record(&r).unwrap().unwrap();
        assert!(st.disposed.is_some());
        assert!(l.read_content(&r, None).is_err());
    }
    let (cert, _) = l.certificate(&plan).unwrap();
    assert_eq!(
        cert.record_count, 3,
        "the certificate counts the earlier disposal too"
    );
    // Applying a certified plan again is refused and disposes nothing.
    let head = l.head();
    assert!(l.apply_disposition(&plan, &sup1, &|_, _| {}).is_err());
    assert_eq!(l.head(), head);
    let r = l.verify(&VerifyOptions::default(), &|_| {}).unwrap();
    assert!(r.ok(), "{:?}", r.problem);
    assert_eq!(r.disposed.len(), 3);
}

/// A change forged into the store after a record's disposal (validly signed, chained and
/// numbered) is found by `verify`, which re-applies FORMAT §6.4 rule 6.
#[test]
fn verify_finds_a_change_after_a_disposal() {
    let mut f = Fx::new();
    let old = f.incident(2019);
    let plan = f.plan(true);
    let mut d = f.l.draft(&old, Action::RecordAmend).unwrap();
    d.content = Some(br#"{"summary":"amended later"}"#.to_vec());
    let clerk = f.clerk.clone();
    let amend = f.l.sign(&clerk, d).unwrap();
    let sup1 = f.sup1.clone();
    f.dispose(&sup1, &old, &plan).unwrap();
    let e = f.l.append(vec![amend.clone()]).unwrap_err().to_string();
    assert!(e.contains("disposed"), "{e}");
    let dir = f.l.dir().to_path_buf();
    let Fx { l, .. } = f;
    drop(l);
    let n = common::forge_append(&dir, &amend.signed);
    let r = Ledger::open(&dir)
        .unwrap()
        .verify(&VerifyOptions::default(), &|_| {})
        .unwrap();
    let p = r.problem.expect("the forged change must be found");
    assert_eq!(p.seq, n, "{}", p.what);
    assert!(p.what.contains("after its disposal"), "{}", p.what);
}
