//! Property tests: encoding round trips, decoding never panics, and any single-byte
//! mutation of any stored entry is caught by `verify`, which names that entry.

mod common;

use blotter::crypto::{sign_change, verify_change};
use blotter::format::{
    Action, Change, Commitment, CommitmentKind, Date, Entry, HoldKind, HoldScope, RecordStatus,
    Role, SignedChange,
};
use blotter::ledger::verify::VerifyOptions;
use blotter::ledger::Ledger;
use proptest::prelude::*;

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::RecordAmend),
        any::<bool>().prop_map(|confidential| Action::RecordCreate { confidential }),
        (any::<[u8; 32]>(), any::<u64>())
            .prop_map(|(blob, size)| Action::RecordAttach { blob, size }),
        (0usize..7, 1u8..=12, 1u8..=28).prop_map(|(s, m, d)| Action::RecordStatus {
            status: RecordStatus::ALL[s],
            date: Date::new(2020, m, d).unwrap()
        }),
        (
            any::<[u8; 32]>(),
            "[A-Z]-[0-9]{1,6}",
            0usize..4,
            proptest::option::of(any::<[u8; 32]>())
        )
            .prop_map(|(key, person, r, replaces)| Action::KeyRegister {
                key,
                person,
                role: Role::ALL[r],
                replaces
            }),
        (any::<[u8; 32]>(), proptest::option::of(any::<u64>())).prop_map(
            |(key, compromised_since)| Action::KeyRevoke {
                key,
                compromised_since
            }
        ),
        (
            0usize..5,
            proptest::collection::btree_set(any::<[u8; 16]>(), 1..5)
        )
            .prop_map(|(k, ids)| Action::HoldPlace {
                kind: HoldKind::ALL[k],
                scope: HoldScope::Records(ids.into_iter().collect())
            }),
        any::<[u8; 32]>().prop_map(|document| Action::Certificate { document }),
    ]
}

prop_compose! {
    fn change()(
        actor in any::<[u8; 32]>(), record in any::<[u8; 16]>(), rtype in "[a-z][a-z0-9-]{0,20}",
        case in proptest::option::of(any::<[u8; 32]>()), prev in any::<[u8; 32]>(),
        payload in proptest::option::of(any::<[u8; 32]>()), side in proptest::option::of(any::<[u8; 32]>()),
        clock in any::<i64>(), nonce in any::<[u8; 16]>(), action in action(),
    ) -> Change {
        Change {
            origin: "records.example.gov/x".into(), actor, record, record_type: rtype, case, record_prev: prev,
            created_on: Date::new(2001, 2, 28).unwrap(),
            payload: payload.map(|hash| Commitment { kind: CommitmentKind::Content, hash }),
            side_doc: side, clock_ms: clock, nonce, action,
        }
    }
}

proptest! {
    #[test]
    fn change_round_trips(c in change()) {
        let b = c.encode().unwrap();
        let d = Change::decode(&b).unwrap();
        prop_assert_eq!(&d, &c);
        prop_assert_eq!(d.encode().unwrap(), b);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Change::decode(&b);
        let _ = Entry::decode(&b);
        let _ = SignedChange::decode(&b);
    }

    #[test]
    fn any_byte_flip_breaks_the_signature_or_the_decoding(c in change(), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let mut c = c;
        c.actor = key.verifying_key().to_bytes();
        let signed = sign_change(&key, &c.encode().unwrap());
        let mut m = signed.clone();
        let i = pos.index(m.len());
        m[i] ^= 1 << bit;
        if let Ok(sc) = SignedChange::decode(&m) {
            prop_assert!(!verify_change(&sc.change.actor, sc.change_bytes(), &sc.signature()));
        }
    }

    #[test]
    fn trailing_bytes_are_refused(c in change(), extra in proptest::collection::vec(any::<u8>(), 1..8)) {
        let mut b = c.encode().unwrap();
        b.extend(extra);
        prop_assert!(Change::decode(&b).is_err());
    }
}

/// Flips one bit of stored entry `seq` at the byte `at(len)` picks, verifies, restores;
/// returns the entry `verify` names and why.
fn flip_and_verify(
    ledger_dir: &std::path::Path,
    seq: u64,
    at: &dyn Fn(usize) -> usize,
    bit: u8,
) -> (u64, String) {
    let key = [&b"E"[..], &seq.to_be_bytes()].concat();
    let original = {
        let db = common::open_store(ledger_dir);
        let v = db.get(&key).unwrap().unwrap().to_vec();
        let mut m = v.clone();
        let i = at(m.len());
        m[i] ^= 1 << bit;
        db.insert(&key, m).unwrap();
        v
    };
    let report = {
        let l = Ledger::open(ledger_dir).unwrap();
        l.verify(&VerifyOptions::default(), &|_| {}).unwrap()
    };
    {
        let db = common::open_store(ledger_dir);
        db.insert(&key, original).unwrap();
    }
    let p = report.problem.expect("a mutation must be detected");
    (p.seq, p.what)
}

/// One small ledger for the mutation property; each case flips a byte, verifies, restores.
#[test]
fn verify_names_any_single_entry_mutation() {
    let dir = tempfile::tempdir().unwrap();
    let ledger_dir = dir.path().join("l");
    let summary = blotter::demo::build(&ledger_dir, 12, &|_| {}).unwrap();
    assert!(summary.verified);
    let n = summary.entries;
    // The entry before the last is the edge case: the kept checkpoint covers the last
    // entry, whose link breaks too; every byte of it, not only what proptest samples.
    let len = {
        let db = common::open_store(&ledger_dir);
        let key = [&b"E"[..], &(n - 2).to_be_bytes()].concat();
        db.get(&key).unwrap().unwrap().len()
    };
    for i in 0..len {
        let (seq, what) = flip_and_verify(&ledger_dir, n - 2, &|_| i, 0);
        assert_eq!(seq, n - 2, "byte {i}: wrong entry named: {what}");
    }
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 64,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &(0..n, any::<prop::sample::Index>(), 0u8..8),
            |(seq, pos, bit)| {
                let (named, what) = flip_and_verify(&ledger_dir, seq, &|len| pos.index(len), bit);
                prop_assert_eq!(named, seq, "wrong entry named: {}", what);
                Ok(())
            },
        )
        .unwrap();
}
