//! Pins the v1 byte format: fixed seeds, fixed fields, the exact change and entry bytes,
//! their hashes and signatures (`tests/vectors/core-v1.json`, described in docs/FORMAT.md).
//! Regenerate (only when the format version changes) with `BLOTTER_REGEN_VECTORS=1 cargo test --test vectors`.

use blotter::crypto::{commit, sign_change, verify_change};
use blotter::format::change::change_hash;
use blotter::format::entry::entry_hash;
use blotter::format::{
    Action, Change, Commitment, CommitmentKind, Date, Entry, RecordStatus, Role, SignedChange,
};
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};

const ORIGIN: &str = "records.example-pd.gov/ledger";

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn base(actor: &SigningKey, record: u8, rtype: &str, action: Action) -> Change {
    Change {
        origin: ORIGIN.into(),
        actor: actor.verifying_key().to_bytes(),
        record: [record; 16],
        record_type: rtype.into(),
        case: None,
        record_prev: [0; 32],
        created_on: Date::new(2024, 2, 29).unwrap(),
        payload: None,
        side_doc: None,
        clock_ms: 1_700_000_000_000,
        nonce: [0x5a; 16],
        action,
    }
}

fn build() -> Value {
    let admin = key(1);
    let clerk = key(2);
    let ledger_key = key(9);
    let settings = br#"{"time_zone":"America/Los_Angeles"}"#;
    let salt = [0x11; 32];
    let mut genesis = base(
        &admin,
        1,
        "ledger",
        Action::Genesis {
            ledger_key: ledger_key.verifying_key().to_bytes(),
            person: "A-001".into(),
            settings: *blake3::hash(settings).as_bytes(),
        },
    );
    genesis.payload = Some(Commitment {
        kind: CommitmentKind::Content,
        hash: commit(&salt, CommitmentKind::Content, settings),
    });
    let register = base(
        &admin,
        2,
        "key",
        Action::KeyRegister {
            key: clerk.verifying_key().to_bytes(),
            person: "C-104".into(),
            role: Role::Clerk,
            replaces: None,
        },
    );
    let content = br#"{"summary":"burglary","offense_class":"felony"}"#;
    let mut create = base(
        &clerk,
        3,
        "incident",
        Action::RecordCreate {
            confidential: false,
        },
    );
    create.case = Some(commit(&[0x22; 32], CommitmentKind::CaseNumber, b"24-00017"));
    create.payload = Some(Commitment {
        kind: CommitmentKind::Content,
        hash: commit(&salt, CommitmentKind::Content, content),
    });
    let create_hash = change_hash(&create.encode().unwrap());
    let mut status = base(
        &clerk,
        3,
        "incident",
        Action::RecordStatus {
            status: RecordStatus::Closed,
            date: Date::new(2024, 3, 31).unwrap(),
        },
    );
    status.case = create.case;
    status.record_prev = create_hash;

    let mut prev = [0u8; 32];
    let mut out = Vec::new();
    for (seq, (change, signer)) in [
        (genesis, &admin),
        (register, &admin),
        (create, &clerk),
        (status, &clerk),
    ]
    .into_iter()
    .enumerate()
    {
        let cb = change.encode().unwrap();
        let signed = sign_change(signer, &cb);
        let entry = Entry {
            seq: seq as u64,
            time_ms: 1_700_000_000_000 + seq as i64,
            prev,
            signed: SignedChange::decode(&signed).unwrap(),
        };
        let eb = entry.encode().unwrap();
        let eh = entry_hash(&eb);
        out.push(json!({
            "seq": seq,
            "action": change.action.name(),
            "signer_seed": hex::encode(signer.to_bytes()),
            "signer_public_key": hex::encode(signer.verifying_key().to_bytes()),
            "change": hex::encode(&cb),
            "change_hash": hex::encode(change_hash(&cb)),
            "signature": hex::encode(&signed[cb.len()..]),
            "entry": hex::encode(&eb),
            "entry_hash": hex::encode(eh),
        }));
        prev = eh;
    }
    json!({
        "description": "blotter format v1 vectors: changes, signatures and chained entries (docs/FORMAT.md)",
        "origin": ORIGIN,
        "content_salt": hex::encode(salt),
        "settings_document": String::from_utf8_lossy(settings),
        "record_content": String::from_utf8_lossy(content),
        "case_number": "24-00017",
        "case_salt": hex::encode([0x22; 32]),
        "entries": out,
    })
}

#[test]
fn vectors_match_the_committed_file() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/core-v1.json");
    let got = build();
    if std::env::var_os("BLOTTER_REGEN_VECTORS").is_some() {
        std::fs::write(path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
    }
    let want: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(
        got, want,
        "the v1 encoding changed: bump FORMAT_VERSION instead of changing v1 bytes"
    );
}

#[test]
fn committed_vectors_decode_verify_and_chain() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/core-v1.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut prev = [0u8; 32];
    for e in v["entries"].as_array().unwrap() {
        let eb = hex::decode(e["entry"].as_str().unwrap()).unwrap();
        let entry = Entry::decode(&eb).unwrap();
        assert_eq!(
            entry.encode().unwrap(),
            eb,
            "re-encoding must give the same bytes"
        );
        assert_eq!(entry.prev, prev);
        let s = &entry.signed;
        assert_eq!(hex::encode(s.change_bytes()), e["change"].as_str().unwrap());
        assert!(verify_change(
            &s.change.actor,
            s.change_bytes(),
            &s.signature()
        ));
        assert_eq!(
            hex::encode(change_hash(s.change_bytes())),
            e["change_hash"].as_str().unwrap()
        );
        prev = entry_hash(&eb);
        assert_eq!(hex::encode(prev), e["entry_hash"].as_str().unwrap());
    }
}
