//! Ledgers for the library's unit tests.

use std::path::Path;

use ed25519_dalek::SigningKey;

use crate::format::{Action, Date, Role};
use crate::ledger::{Draft, InitOptions, Ledger, Settings};

/// A new ledger at `dir` (genesis by a fixed administrator key) with a registered clerk,
/// whose key is returned with it.
pub(crate) fn with_clerk(dir: &Path, origin: &str) -> (Ledger, SigningKey) {
    let admin = SigningKey::from_bytes(&[1; 32]);
    let clerk = SigningKey::from_bytes(&[2; 32]);
    let mut l = Ledger::init(
        dir,
        &admin,
        InitOptions {
            origin: origin.into(),
            admin_person: "A-1".into(),
            settings: Settings::default(),
            ledger_key_path: None,
        },
    )
    .unwrap();
    let reg = Draft::key_registration(clerk.verifying_key().to_bytes(), "C-1", Role::Clerk);
    let s = l.sign(&admin, reg).unwrap();
    l.append(vec![s]).unwrap();
    (l, clerk)
}

/// A draft that creates an incident record made 2025-05-01, with a small content.
pub(crate) fn incident() -> Draft {
    let create = Action::RecordCreate {
        confidential: false,
    };
    let mut d = Draft::new_record("incident", Date::new(2025, 5, 1).unwrap(), create);
    d.content = Some(br#"{"summary":"x"}"#.to_vec());
    d
}

/// For the library's tests: adopts the test schedule with incidents kept 6 months (so
/// incidents created 2025-05-01 are eligible as of 2026-06-01), then plans as of
/// 2026-06-01 with `planner` and approves with `approver`. Returns the plan.
pub(crate) fn approved_test_plan(
    l: &mut Ledger,
    planner: &SigningKey,
    approver: &SigningKey,
) -> [u8; 16] {
    let schedule = include_str!("../../tests/fixtures/schedule-test.toml").replace(
        "trigger = \"created\", years = 2",
        "trigger = \"created\", months = 6",
    );
    let d = l.adopt_schedule_draft("test.toml", &schedule).unwrap();
    let s = l.sign(planner, d).unwrap();
    l.append(vec![s]).unwrap();
    let (d, _) = l
        .purge_plan_draft(Date::new(2026, 6, 1).unwrap(), planner)
        .unwrap();
    let plan = d.record;
    let s = l.sign(planner, d).unwrap();
    l.append(vec![s]).unwrap();
    let s = l
        .sign(approver, l.approval_draft(&plan, "purge-plan").unwrap())
        .unwrap();
    l.append(vec![s]).unwrap();
    plan
}
