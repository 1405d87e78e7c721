//! The library refuses changes by unknown, revoked or wrong-role keys and changes for
//! another ledger, writing nothing; a replayed change is "already recorded".

mod common;

use blotter::crypto::keyfile;
use blotter::format::{Action, Date, Role};
use blotter::ledger::verify::VerifyOptions;
use blotter::ledger::{Draft, InitOptions, Ledger, LedgerError, Outcome, Settings};
use ed25519_dalek::SigningKey;

fn new_key() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

fn ledger(dir: &std::path::Path, origin: &str) -> (Ledger, SigningKey) {
    let admin = new_key();
    let l = Ledger::init(
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
    (l, admin)
}

fn register(l: &mut Ledger, admin: &SigningKey, key: &SigningKey, person: &str, role: Role) {
    let d = Draft::key_registration(key.verifying_key().to_bytes(), person, role);
    let s = l.sign(admin, d).unwrap();
    l.append(vec![s]).unwrap();
}

fn create(l: &Ledger, key: &SigningKey) -> blotter::ledger::Submission {
    let mut d = Draft::new_record(
        "incident",
        Date::new(2025, 5, 1).unwrap(),
        Action::RecordCreate {
            confidential: false,
        },
    );
    d.content = Some(br#"{"summary":"x"}"#.to_vec());
    let mut s = l.sign(key, d).unwrap();
    s.trusted = false;
    s
}

fn refused(r: Result<Vec<Outcome>, LedgerError>, needle: &str) {
    match r {
        Err(e) => assert!(
            e.to_string().contains(needle),
            "error {e:?} should mention {needle:?}"
        ),
        Ok(o) => panic!("expected refusal ({needle}), got {o:?}"),
    }
}

#[test]
fn unknown_revoked_and_wrong_role_keys_are_refused_and_nothing_is_written() {
    let d = tempfile::tempdir().unwrap();
    let (mut l, admin) = ledger(&d.path().join("l"), "pd.example/a");
    let clerk = new_key();
    let auditor = new_key();
    register(&mut l, &admin, &clerk, "C-1", Role::Clerk);
    register(&mut l, &admin, &auditor, "AU-1", Role::Auditor);
    let head = l.head();

    refused(l.append(vec![create(&l, &new_key())]), "not registered");
    refused(
        l.append(vec![create(&l, &auditor)]),
        "may not sign record.create",
    );
    refused(
        l.append(vec![create(&l, &admin)]),
        "may not sign record.create",
    );
    // A clerk may not register keys.
    let a = Action::KeyRegister {
        key: new_key().verifying_key().to_bytes(),
        person: "X".into(),
        role: Role::Admin,
        replaces: None,
    };
    let s = l
        .sign(
            &clerk,
            Draft::new_record("key", Date::new(2026, 1, 1).unwrap(), a),
        )
        .unwrap();
    refused(l.append(vec![s]), "may not sign key.register");
    assert_eq!(l.head(), head, "a refused change must write nothing");

    // Revoke the clerk: its next change is refused.
    let rec = l
        .key_state(&clerk.verifying_key().to_bytes())
        .unwrap()
        .record;
    let s = l
        .sign(
            &admin,
            l.draft(
                &rec,
                Action::KeyRevoke {
                    key: clerk.verifying_key().to_bytes(),
                    compromised_since: None,
                },
            )
            .unwrap(),
        )
        .unwrap();
    l.append(vec![s]).unwrap();
    let head = l.head();
    refused(l.append(vec![create(&l, &clerk)]), "revoked");
    assert_eq!(l.head(), head);
    // A bad batch writes nothing, not even its good changes.
    let good = {
        let k = new_key();
        register(&mut l, &admin, &k, "C-2", Role::Clerk);
        k
    };
    let head = l.head();
    refused(
        l.append(vec![create(&l, &good), create(&l, &clerk)]),
        "revoked",
    );
    assert_eq!(l.head(), head);
    assert!(l.verify(&Default::default(), &|_| {}).unwrap().ok());
}

#[test]
fn last_admin_cannot_be_revoked() {
    let d = tempfile::tempdir().unwrap();
    let (mut l, admin) = ledger(&d.path().join("l"), "pd.example/a");
    let genesis_record = l
        .key_state(&admin.verifying_key().to_bytes())
        .unwrap()
        .record;
    // The genesis record is the first admin's key record.
    let dr = l
        .draft(
            &genesis_record,
            Action::KeyRevoke {
                key: admin.verifying_key().to_bytes(),
                compromised_since: None,
            },
        )
        .unwrap();
    let s = l.sign(&admin, dr).unwrap();
    refused(l.append(vec![s.clone()]), "last administrator");

    // Forged into the store behind the ledger's back (chained and numbered correctly,
    // validly signed), `verify` still refuses it: it re-applies the rule.
    let dir = d.path().join("l");
    drop(l);
    let n = common::forge_append(&dir, &s.signed);
    let report = Ledger::open(&dir)
        .unwrap()
        .verify(&VerifyOptions::default(), &|_| {})
        .unwrap();
    let p = report.problem.expect("the forged revocation must be found");
    assert_eq!(p.seq, n, "{}", p.what);
    assert!(p.what.contains("last active administrator"), "{}", p.what);
}

#[test]
fn change_for_another_origin_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let (mut a, admin_a) = ledger(&d.path().join("a"), "pd.example/a");
    let (b, _) = ledger(&d.path().join("b"), "pd.example/b");
    let clerk = new_key();
    register(&mut a, &admin_a, &clerk, "C-1", Role::Clerk);
    let head = a.head();
    // Signed for ledger b, submitted to ledger a.
    refused(a.append(vec![create(&b, &clerk)]), "is for ledger");
    assert_eq!(a.head(), head);
}

#[test]
fn replayed_change_is_already_recorded_and_written_once() {
    let d = tempfile::tempdir().unwrap();
    let (mut l, admin) = ledger(&d.path().join("l"), "pd.example/a");
    let clerk = new_key();
    register(&mut l, &admin, &clerk, "C-1", Role::Clerk);
    let s = create(&l, &clerk);
    let first = l.append(vec![s.clone()]).unwrap()[0];
    let head = l.head();
    let again = l.append(vec![s]).unwrap()[0];
    assert_eq!(again, Outcome::AlreadyRecorded(first.seq()));
    assert_eq!(l.head(), head);
}

#[test]
fn tampered_signature_and_lost_update_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let (mut l, admin) = ledger(&d.path().join("l"), "pd.example/a");
    let clerk = new_key();
    register(&mut l, &admin, &clerk, "C-1", Role::Clerk);
    let mut s = create(&l, &clerk);
    let n = s.signed.len();
    s.signed[n - 1] ^= 1;
    refused(l.append(vec![s]), "bad signature");
    let s = create(&l, &clerk);
    let id = blotter::format::SignedChange::decode(&s.signed)
        .unwrap()
        .change
        .record;
    l.append(vec![s]).unwrap();
    // Two amendments drafted from the same version: the second is a lost update.
    let mut a1 = l.draft(&id, Action::RecordAmend).unwrap();
    a1.content = Some(br#"{"summary":"one"}"#.to_vec());
    let mut a2 = a1.clone();
    a2.content = Some(br#"{"summary":"two"}"#.to_vec());
    let s1 = l.sign(&clerk, a1).unwrap();
    let s2 = l.sign(&clerk, a2).unwrap();
    l.append(vec![s1]).unwrap();
    refused(l.append(vec![s2]), "has changed since");
}

#[test]
fn key_files_are_0600_and_loose_ones_refused() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("k.key");
    keyfile::create(&p, None).unwrap();
    assert_eq!(
        std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o600
    );
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert!(keyfile::load(&p, || None).is_err());
}
