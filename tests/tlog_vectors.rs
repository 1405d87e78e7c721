//! Pins the Merkle tree, checkpoints, cosignatures and proofs of a small ledger
//! (`tests/vectors/tlog-v1.json`, described in docs/FORMAT.md §11).
//!
//! The ledger:
//! - entries 0..=3 are the stored entry bytes pinned in `tests/vectors/core-v1.json`
//!   (genesis, key.register, record.create, record.status), read from that file;
//! - entries 4..=6 continue the same chain, built here with the same conventions and
//!   seeds as core-v1 (admin seed 0x01 × 32, clerk seed 0x02 × 32, ledger time
//!   1_700_000_000_000 + seq ms, actor clock 1_700_000_000_000, nonce 0x5a × 16,
//!   created_on 2024-02-29, content salt 0x11 × 32): 4 witness.register (admin) of the
//!   witness below, 5 record.amend (clerk) of record 0x03 × 16, 6 record.create (clerk)
//!   of record 0x06 × 16. Ed25519 is deterministic, so these bytes are stable.
//!
//! The ledger key is seed 0x09 × 32, the key named in core-v1's genesis entry; the
//! origin is core-v1's. The witness is `witness.example-pd.gov/w1`, seed 0x0b × 32,
//! cosigning the size-7 checkpoint at POSIX time 1_700_000_060.
//!
//! The leaf hashes, roots, key IDs, proofs and all three signatures (two checkpoint
//! notes, one cosignature) were also cross-checked once, independently of this crate,
//! with Python 3 (`hashlib.sha256`, a recursive RFC 6962 MTH/PATH/PROOF, and
//! `cryptography`'s Ed25519). The test itself needs nothing but Rust.
//!
//! Regenerate (only deliberately: a change here is a change of the wire format) with
//! `BLOTTER_REGEN_VECTORS=1 cargo test --test tlog_vectors`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use blotter::crypto::{commit, sign_change};
use blotter::format::entry::entry_hash;
use blotter::format::{Action, Change, Commitment, CommitmentKind, Date, Entry, SignedChange};
use blotter::merkle::audit::{self, AuditError};
use blotter::merkle::checkpoint::Checkpoint;
use blotter::merkle::cosignature::{self, WitnessKey};
use blotter::merkle::note::{self, key_id, Note, NoteVerifier, Verifier as _};
use blotter::merkle::proof_text::{AddCheckpoint, TlogProof};
use blotter::merkle::{
    consistency_proof, inclusion_proof, leaf_hash, root_at, verify_consistency, verify_inclusion,
    Hash, MemTree,
};
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const ORIGIN: &str = "records.example-pd.gov/ledger";
const LEDGER_SEED: u8 = 0x09;
const WITNESS_NAME: &str = "witness.example-pd.gov/w1";
const WITNESS_SEED: u8 = 0x0b;
const TIMESTAMP: u64 = 1_700_000_060;
/// The two checkpointed tree sizes, and the entry whose inclusion is proved.
const OLD_SIZE: u64 = 3;
const NEW_SIZE: u64 = 7;
const INCLUDED: u64 = 2;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn ledger_key() -> SigningKey {
    key(LEDGER_SEED)
}

fn witness_key() -> SigningKey {
    key(WITNESS_SEED)
}

fn ledger_verifier() -> NoteVerifier {
    NoteVerifier::new(ORIGIN, ledger_key().verifying_key()).unwrap()
}

fn witness() -> WitnessKey {
    WitnessKey::new(WITNESS_NAME, witness_key().verifying_key()).unwrap()
}

fn path(name: &str) -> String {
    format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn load(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path(name)).unwrap()).unwrap()
}

/// The stored entry bytes of core-v1.json, in order.
fn core_entries() -> Vec<Vec<u8>> {
    load("core-v1.json")["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| hex::decode(e["entry"].as_str().unwrap()).unwrap())
        .collect()
}

fn change(actor: &SigningKey, record: u8, rtype: &str, action: Action) -> Change {
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

fn content(data: &[u8]) -> Option<Commitment> {
    Some(Commitment {
        kind: CommitmentKind::Content,
        hash: commit(&[0x11; 32], CommitmentKind::Content, data),
    })
}

/// All seven entries: core-v1's four, then three more on the same chain.
fn entries() -> Vec<Vec<u8>> {
    let (admin, clerk) = (key(1), key(2));
    let mut out = core_entries();
    assert_eq!(
        out.len(),
        4,
        "core-v1.json is expected to hold entries 0..=3"
    );
    let create = Entry::decode(&out[2]).unwrap().signed.change;
    let status = Entry::decode(&out[3]).unwrap().signed;

    let register = change(
        &admin,
        4,
        "witness",
        Action::WitnessRegister {
            key: witness_key().verifying_key().to_bytes(),
            name: WITNESS_NAME.into(),
        },
    );
    let mut amend = change(&clerk, 3, "incident", Action::RecordAmend);
    amend.case = create.case;
    amend.record_prev = status.hash();
    amend.payload =
        content(br#"{"summary":"burglary","offense_class":"felony","property_recovered":true}"#);
    let mut second = change(
        &clerk,
        6,
        "incident",
        Action::RecordCreate {
            confidential: false,
        },
    );
    second.payload = content(br#"{"summary":"vandalism","offense_class":"misdemeanor"}"#);

    for (change, signer) in [(register, &admin), (amend, &clerk), (second, &clerk)] {
        let seq = out.len() as u64;
        let cb = change.encode().unwrap();
        let entry = Entry {
            seq,
            time_ms: 1_700_000_000_000 + seq as i64,
            prev: entry_hash(out.last().unwrap()),
            signed: SignedChange::decode(&sign_change(signer, &cb)).unwrap(),
        };
        out.push(entry.encode().unwrap());
    }
    out
}

fn b64(h: &[u8]) -> String {
    STANDARD.encode(h)
}

fn hexes(hs: &[Hash]) -> Vec<String> {
    hs.iter().map(hex::encode).collect()
}

fn body(tree: &MemTree, size: u64) -> String {
    Checkpoint {
        origin: ORIGIN.into(),
        size,
        root: root_at(tree, size).unwrap(),
        extensions: vec![],
    }
    .to_body()
    .unwrap()
}

fn build() -> Value {
    let entries = entries();
    let tree = MemTree::from_entries(&entries);
    let n = tree.size();
    assert_eq!(n, NEW_SIZE);
    let lk = ledger_key();
    let wk = witness_key();
    let (lv, w) = (ledger_verifier(), witness());

    let leaves: Vec<Value> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let d = Entry::decode(e).unwrap();
            json!({
                "seq": i,
                "source": if i < 4 { format!("core-v1.json entries[{i}]") } else { "built by tests/tlog_vectors.rs".into() },
                "action": d.signed.change.action.name(),
                "entry": hex::encode(e),
                "leaf_hash": hex::encode(leaf_hash(e)),
            })
        })
        .collect();
    let roots: Vec<Value> = (0..=n)
        .map(|s| {
            let r = root_at(&tree, s).unwrap();
            json!({"size": s, "root": hex::encode(r), "root_base64": b64(&r)})
        })
        .collect();

    let old_body = body(&tree, OLD_SIZE);
    let old_note = note::sign(&old_body, ORIGIN, &lk).unwrap();
    let new_body = body(&tree, NEW_SIZE);
    let new_note = note::sign(&new_body, ORIGIN, &lk).unwrap();
    let cosig = cosignature::cosign(&new_body, WITNESS_NAME, &wk, TIMESTAMP).unwrap();
    let cosigned = format!("{new_note}{cosig}");

    let incl = inclusion_proof(&tree, INCLUDED, NEW_SIZE).unwrap();
    let tlog_proof = TlogProof::new(
        None,
        INCLUDED,
        incl.clone(),
        Note::parse(&cosigned).unwrap(),
    )
    .unwrap()
    .format()
    .unwrap();
    let cons = consistency_proof(&tree, OLD_SIZE, NEW_SIZE).unwrap();
    let add = AddCheckpoint::new(OLD_SIZE, cons.clone(), Note::parse(&new_note).unwrap())
        .unwrap()
        .format()
        .unwrap();

    let all_inclusion: Vec<Value> = (0..n)
        .map(|i| json!({"index": i, "proof": hexes(&inclusion_proof(&tree, i, n).unwrap())}))
        .collect();
    let all_consistency: Vec<Value> = (1..=n)
        .map(|m| json!({"old_size": m, "proof": hexes(&consistency_proof(&tree, m, n).unwrap())}))
        .collect();

    json!({
        "description": "blotter tlog v1 vectors (docs/FORMAT.md §11): RFC 6962 tree over the stored entry bytes of a 7-entry ledger (entries 0..=3 are core-v1.json's), C2SP signed checkpoints at sizes 3 and 7, a tlog-cosignature/v1 witness cosignature, a tlog-proof inclusion proof and a tlog-witness add-checkpoint consistency proof",
        "origin": ORIGIN,
        "ledger_key": {
            "seed": hex::encode([LEDGER_SEED; 32]),
            "public_key": hex::encode(lk.verifying_key().to_bytes()),
            "key_id": format!("{:08x}", lv.key_id()),
            "verifier_key": lv.to_vkey(),
        },
        "witness": {
            "name": WITNESS_NAME,
            "seed": hex::encode([WITNESS_SEED; 32]),
            "public_key": hex::encode(wk.verifying_key().to_bytes()),
            "key_id": format!("{:08x}", w.key_id()),
            "verifier_key": w.to_vkey(),
            "registered_by_entry": 4,
        },
        "leaves": leaves,
        "roots": roots,
        "checkpoints": [
            {"size": OLD_SIZE, "body": old_body, "note": old_note},
            {"size": NEW_SIZE, "body": new_body, "note": new_note},
        ],
        "cosignature": {
            "checkpoint_size": NEW_SIZE,
            "timestamp": TIMESTAMP,
            "message": cosignature::message(&new_body, TIMESTAMP),
            "line": cosig,
            "cosigned_note": cosigned,
        },
        "inclusion": {
            "index": INCLUDED,
            "size": NEW_SIZE,
            "proof": hexes(&incl),
            "tlog_proof": tlog_proof,
        },
        "consistency": {
            "old_size": OLD_SIZE,
            "new_size": NEW_SIZE,
            "proof": hexes(&cons),
            "add_checkpoint": add,
        },
        "all_inclusion_proofs_at_size_7": all_inclusion,
        "all_consistency_proofs_to_size_7": all_consistency,
    })
}

fn committed() -> Value {
    load("tlog-v1.json")
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{ptr} missing"))
}

#[test]
fn tlog_vectors_match_the_committed_file() {
    let got = build();
    if std::env::var_os("BLOTTER_REGEN_VECTORS").is_some() {
        std::fs::write(
            path("tlog-v1.json"),
            serde_json::to_string_pretty(&got).unwrap() + "\n",
        )
        .unwrap();
    }
    let want = committed();
    // Field by field first, for a readable failure; then the whole document.
    for k in got.as_object().unwrap().keys() {
        assert_eq!(got[k], want[k], "tlog-v1.json field {k:?} changed");
    }
    assert_eq!(got, want);
}

/// RFC 6962 §2.1 `MTH`, recursively, with SHA-256 directly (not the crate's hashing).
fn naive_mth(entries: &[Vec<u8>]) -> Hash {
    let sha = |parts: &[&[u8]]| -> Hash {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    };
    match entries.len() {
        0 => sha(&[]),
        1 => sha(&[&[0x00], &entries[0]]),
        n => {
            let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            sha(&[
                &[0x01],
                &naive_mth(&entries[..k]),
                &naive_mth(&entries[k..]),
            ])
        }
    }
}

#[test]
fn committed_vectors_are_self_consistent() {
    let v = committed();
    assert_eq!(s(&v, "/origin"), ORIGIN);
    let entries: Vec<Vec<u8>> = v["leaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| hex::decode(l["entry"].as_str().unwrap()).unwrap())
        .collect();
    // The first four leaves are exactly core-v1's stored entries.
    assert_eq!(entries[..4], core_entries()[..]);
    // A chained ledger: seq = leaf index, prev = entry hash of the previous entry.
    let mut prev = [0u8; 32];
    for (i, e) in entries.iter().enumerate() {
        let d = Entry::decode(e).unwrap();
        assert_eq!(d.seq, i as u64);
        assert_eq!(d.prev, prev);
        assert_eq!(d.signed.change.origin, ORIGIN);
        assert!(blotter::crypto::verify_change(
            &d.signed.change.actor,
            d.signed.change_bytes(),
            &d.signed.signature()
        ));
        prev = entry_hash(e);
        assert_eq!(
            v["leaves"][i]["leaf_hash"].as_str().unwrap(),
            hex::encode(leaf_hash(e))
        );
    }
    // Roots at every size, against an independent recursive MTH.
    for r in v["roots"].as_array().unwrap() {
        let size = r["size"].as_u64().unwrap() as usize;
        let want = naive_mth(&entries[..size]);
        assert_eq!(
            r["root"].as_str().unwrap(),
            hex::encode(want),
            "size {size}"
        );
        assert_eq!(r["root_base64"].as_str().unwrap(), b64(&want));
    }
    // The genesis entry names the ledger key; the verifier key is what
    // `blotter key ledger` prints: origin + hex8 key ID + base64(0x01 ‖ key).
    let Action::Genesis { ledger_key: gk, .. } =
        Entry::decode(&entries[0]).unwrap().signed.change.action
    else {
        panic!("entry 0 is not a genesis")
    };
    assert_eq!(hex::encode(gk), s(&v, "/ledger_key/public_key"));
    let mut id = Sha256::new();
    id.update(ORIGIN.as_bytes());
    id.update([0x0a, 0x01]);
    id.update(gk);
    let id = &id.finalize()[..4];
    assert_eq!(hex::encode(id), s(&v, "/ledger_key/key_id"));
    let mut material = vec![0x01];
    material.extend_from_slice(&gk);
    assert_eq!(
        format!("{ORIGIN}+{}+{}", hex::encode(id), b64(&material)),
        s(&v, "/ledger_key/verifier_key")
    );
    // The witness is registered by entry 4 with its name and key; its key ID is over
    // type 0x04.
    let Action::WitnessRegister { key: wkey, name } =
        Entry::decode(&entries[4]).unwrap().signed.change.action
    else {
        panic!("entry 4 is not a witness.register")
    };
    assert_eq!(name, s(&v, "/witness/name"));
    assert_eq!(hex::encode(wkey), s(&v, "/witness/public_key"));
    assert_eq!(
        format!("{:08x}", key_id(&name, 0x04, &wkey)),
        s(&v, "/witness/key_id")
    );
    let w = WitnessKey::parse(s(&v, "/witness/verifier_key")).unwrap();
    let lv = NoteVerifier::parse(s(&v, "/ledger_key/verifier_key")).unwrap();

    // Checkpoints: body = origin, decimal size, base64 root; the note verifies.
    for cp in v["checkpoints"].as_array().unwrap() {
        let size = cp["size"].as_u64().unwrap();
        let body = cp["body"].as_str().unwrap();
        let root = naive_mth(&entries[..size as usize]);
        assert_eq!(body, format!("{ORIGIN}\n{size}\n{}\n", b64(&root)));
        let (n, signed) = note::open(cp["note"].as_str().unwrap(), &[&lv]).unwrap();
        assert_eq!(signed, vec![0]);
        assert_eq!(n.text(), body);
        assert_eq!(n.signatures().len(), 1);
        assert_eq!(n.encode().unwrap(), cp["note"].as_str().unwrap());
    }
    // The cosignature: message, line, and the cosigned note.
    let new_body = s(&v, "/checkpoints/1/body");
    assert_eq!(
        s(&v, "/cosignature/message"),
        format!("cosignature/v1\ntime {TIMESTAMP}\n{new_body}")
    );
    assert_eq!(
        w.verify_line(new_body, s(&v, "/cosignature/line")),
        Ok(TIMESTAMP)
    );
    let line = s(&v, "/cosignature/line");
    let raw = STANDARD
        .decode(line.trim_end().rsplit(' ').next().unwrap())
        .unwrap();
    assert_eq!(raw.len(), 4 + 8 + 64);
    assert_eq!(hex::encode(&raw[..4]), s(&v, "/witness/key_id"));
    assert_eq!(raw[4..12], TIMESTAMP.to_be_bytes());
    let cosigned = s(&v, "/cosignature/cosigned_note");
    assert_eq!(cosigned, format!("{}{line}", s(&v, "/checkpoints/1/note")));
    // The ledger verifier ignores the witness line; the witness finds its own.
    let (n, signed) = note::open(cosigned, &[&lv]).unwrap();
    assert_eq!(signed, vec![0]);
    assert_eq!(w.verify_note(&n), Ok(Some(TIMESTAMP)));

    // Proof texts parse, re-format byte for byte, and verify.
    let p = TlogProof::parse(s(&v, "/inclusion/tlog_proof")).unwrap();
    assert_eq!(p.format().unwrap(), s(&v, "/inclusion/tlog_proof"));
    assert_eq!(p.index(), INCLUDED);
    assert_eq!(json!(hexes(p.proof())), v["inclusion"]["proof"]);
    assert_eq!(p.note().encode().unwrap(), cosigned);
    verify_inclusion(
        &leaf_hash(&entries[INCLUDED as usize]),
        INCLUDED,
        NEW_SIZE,
        p.proof(),
        &p.checkpoint().root,
    )
    .unwrap();
    let a = AddCheckpoint::parse(s(&v, "/consistency/add_checkpoint")).unwrap();
    assert_eq!(a.format().unwrap(), s(&v, "/consistency/add_checkpoint"));
    assert_eq!(a.old_size(), OLD_SIZE);
    assert_eq!(json!(hexes(a.proof())), v["consistency"]["proof"]);
    assert_eq!(a.note().encode().unwrap(), s(&v, "/checkpoints/1/note"));
    verify_consistency(
        OLD_SIZE,
        NEW_SIZE,
        a.proof(),
        &naive_mth(&entries[..OLD_SIZE as usize]),
        &a.checkpoint().root,
    )
    .unwrap();
    // Every listed proof verifies too.
    let hashes = |p: &Value| -> Vec<Hash> {
        p.as_array()
            .unwrap()
            .iter()
            .map(|h| {
                hex::decode(h.as_str().unwrap())
                    .unwrap()
                    .try_into()
                    .unwrap()
            })
            .collect()
    };
    let root7 = naive_mth(&entries);
    for x in v["all_inclusion_proofs_at_size_7"].as_array().unwrap() {
        let i = x["index"].as_u64().unwrap();
        verify_inclusion(
            &leaf_hash(&entries[i as usize]),
            i,
            NEW_SIZE,
            &hashes(&x["proof"]),
            &root7,
        )
        .unwrap();
    }
    for x in v["all_consistency_proofs_to_size_7"].as_array().unwrap() {
        let m = x["old_size"].as_u64().unwrap();
        let proof = hashes(&x["proof"]);
        assert_eq!(proof.is_empty(), m == NEW_SIZE, "equal sizes: empty proof");
        verify_consistency(
            m,
            NEW_SIZE,
            &proof,
            &naive_mth(&entries[..m as usize]),
            &root7,
        )
        .unwrap();
    }
}

// ---- audit: accepts the pinned material, rejects any flipped byte ----

/// Flips bit 0 of byte `at` of the base64 on line `line` (0-based) of `text`, keeping
/// the base64 canonical. For a signature line, `at` counts from the start of the
/// decoded bytes (the 4-byte key ID comes first).
fn flip_b64(text: &str, line: usize, at: usize) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let l = &lines[line];
    let (prefix, b) = match l.rfind(' ') {
        Some(i) => (&l[..=i], &l[i + 1..]),
        None => ("", l.as_str()),
    };
    let mut raw = STANDARD.decode(b).unwrap();
    raw[at] ^= 0x01;
    lines[line] = format!("{prefix}{}", STANDARD.encode(raw));
    lines.join("\n")
}

/// The 0-based index of the first line of `text` starting with `start`.
fn line_of(text: &str, start: &str) -> usize {
    text.split('\n').position(|l| l.starts_with(start)).unwrap()
}

/// A checkpoint of `size` with bit 0 of the root's first byte flipped, properly signed
/// by the ledger key: what a ledger that rewrote history would have to produce.
fn forged(size: u64) -> String {
    let tree = MemTree::from_entries(entries());
    let mut root = root_at(&tree, size).unwrap();
    root[0] ^= 1;
    let body = Checkpoint {
        origin: ORIGIN.into(),
        size,
        root,
        extensions: vec![],
    }
    .to_body()
    .unwrap();
    note::sign(&body, ORIGIN, &ledger_key()).unwrap()
}

fn wrong<T: std::fmt::Debug>(r: Result<T, AuditError>, what: &str) {
    match r {
        Err(AuditError::Wrong(_)) => {}
        other => panic!("{what}: want AuditError::Wrong, got {other:?}"),
    }
}

#[test]
fn audit_accepts_the_pinned_inclusion_proof_and_rejects_flips() {
    let v = committed();
    let vkey = s(&v, "/ledger_key/verifier_key");
    let held = s(&v, "/checkpoints/1/note");
    let proof = s(&v, "/inclusion/tlog_proof");
    let entry = hex::decode(s(&v, "/leaves/2/entry")).unwrap();

    let ok = audit::inclusion(vkey, held, &entry, proof).unwrap();
    assert_eq!((ok.seq, ok.tree_size), (INCLUDED, NEW_SIZE));
    assert_eq!(ok.origin, ORIGIN);
    assert_eq!(ok.action, "record.create");
    assert_eq!(ok.record, hex::encode([3u8; 16]));
    // Holding the cosigned note instead changes nothing: unknown lines are ignored.
    audit::inclusion(vkey, s(&v, "/cosignature/cosigned_note"), &entry, proof).unwrap();

    // Every proof hash, every byte position of it.
    let first = line_of(proof, "index ") + 1;
    let count = v["inclusion"]["proof"].as_array().unwrap().len();
    for line in first..first + count {
        for at in [0, 17, 31] {
            wrong(
                audit::inclusion(vkey, held, &entry, &flip_b64(proof, line, at)),
                &format!("proof line {line} byte {at}"),
            );
        }
    }
    // The index.
    wrong(
        audit::inclusion(vkey, held, &entry, &proof.replace("index 2\n", "index 3\n")),
        "index",
    );
    // The root of the held checkpoint, signature left as it was.
    let root_line = line_of(held, ORIGIN) + 2;
    wrong(
        audit::inclusion(vkey, &flip_b64(held, root_line, 5), &entry, proof),
        "held root",
    );
    // ... and of the proof's checkpoint.
    let proof_root = line_of(proof, ORIGIN) + 2;
    wrong(
        audit::inclusion(vkey, held, &entry, &flip_b64(proof, proof_root, 5)),
        "proof's root",
    );
    // A validly signed checkpoint with another root: the proof does not lead to it.
    let bad = forged(NEW_SIZE);
    let bad_proof = TlogProof::new(
        None,
        INCLUDED,
        TlogProof::parse(proof).unwrap().proof().to_vec(),
        Note::parse(&bad).unwrap(),
    )
    .unwrap()
    .format()
    .unwrap();
    wrong(
        audit::inclusion(vkey, &bad, &entry, &bad_proof),
        "re-signed root",
    );
    // The ledger's signature (a byte of the signature proper, after the key ID).
    let sig_line = line_of(held, "\u{2014} ");
    wrong(
        audit::inclusion(vkey, &flip_b64(held, sig_line, 4 + 10), &entry, proof),
        "held signature",
    );
    let proof_sig = line_of(proof, &format!("\u{2014} {ORIGIN} "));
    wrong(
        audit::inclusion(vkey, held, &entry, &flip_b64(proof, proof_sig, 4 + 63)),
        "proof's signature",
    );
    // The key ID of the signature: no known signature left.
    wrong(
        audit::inclusion(vkey, &flip_b64(held, sig_line, 0), &entry, proof),
        "key ID",
    );
    // A flipped witness cosignature makes the note bad for that witness only; the
    // ledger-key audit ignores the line.
    let wline = line_of(proof, &format!("\u{2014} {WITNESS_NAME} "));
    let wflip = flip_b64(proof, wline, 4 + 8 + 3);
    audit::inclusion(vkey, held, &entry, &wflip).unwrap();
    let w = WitnessKey::parse(s(&v, "/witness/verifier_key")).unwrap();
    assert!(w
        .verify_note(TlogProof::parse(&wflip).unwrap().note())
        .is_err());
    // The entry bytes (its last byte is in the change signature: it still decodes).
    let mut e = entry.clone();
    *e.last_mut().unwrap() ^= 1;
    wrong(audit::inclusion(vkey, held, &e, proof), "entry");
    // Another entry than the proof's.
    let other = hex::decode(s(&v, "/leaves/3/entry")).unwrap();
    wrong(audit::inclusion(vkey, held, &other, proof), "other entry");
    // A proof against the other checkpoint than the one held.
    wrong(
        audit::inclusion(vkey, s(&v, "/checkpoints/0/note"), &entry, proof),
        "other checkpoint",
    );
    // A malformed verifier key: the check cannot run.
    assert!(matches!(
        audit::inclusion(&vkey.replace('+', "-"), held, &entry, proof),
        Err(AuditError::Unusable(_))
    ));
}

#[test]
fn audit_accepts_the_pinned_consistency_proof_and_rejects_flips() {
    let v = committed();
    let vkey = s(&v, "/ledger_key/verifier_key");
    let old = s(&v, "/checkpoints/0/note");
    let new = s(&v, "/checkpoints/1/note");
    let proof = s(&v, "/consistency/add_checkpoint");

    let ok = audit::consistency(vkey, old, new, proof).unwrap();
    assert_eq!((ok.old_size, ok.new_size), (OLD_SIZE, NEW_SIZE));
    assert_eq!(ok.origin, ORIGIN);
    audit::consistency(vkey, old, s(&v, "/cosignature/cosigned_note"), proof).unwrap();

    let count = v["consistency"]["proof"].as_array().unwrap().len();
    for line in 1..=count {
        for at in [0, 17, 31] {
            wrong(
                audit::consistency(vkey, old, new, &flip_b64(proof, line, at)),
                &format!("proof line {line} byte {at}"),
            );
        }
    }
    // Old and new roots, signature left as it was.
    let root_line = line_of(old, ORIGIN) + 2;
    wrong(
        audit::consistency(vkey, &flip_b64(old, root_line, 0), new, proof),
        "old root",
    );
    wrong(
        audit::consistency(vkey, old, &flip_b64(new, root_line, 0), proof),
        "new root",
    );
    let proof_root = line_of(proof, ORIGIN) + 2;
    wrong(
        audit::consistency(vkey, old, new, &flip_b64(proof, proof_root, 0)),
        "proof's root",
    );
    // Validly signed checkpoints with another root (a rewritten ledger).
    wrong(
        audit::consistency(vkey, &forged(OLD_SIZE), new, proof),
        "re-signed old root",
    );
    let bad_new = forged(NEW_SIZE);
    let bad_proof = AddCheckpoint::new(
        OLD_SIZE,
        AddCheckpoint::parse(proof).unwrap().proof().to_vec(),
        Note::parse(&bad_new).unwrap(),
    )
    .unwrap()
    .format()
    .unwrap();
    wrong(
        audit::consistency(vkey, old, &bad_new, &bad_proof),
        "re-signed new root",
    );
    // Signatures.
    let sig_line = line_of(old, "\u{2014} ");
    wrong(
        audit::consistency(vkey, &flip_b64(old, sig_line, 4 + 1), new, proof),
        "old signature",
    );
    wrong(
        audit::consistency(vkey, old, &flip_b64(new, sig_line, 4 + 40), proof),
        "new signature",
    );
    let proof_sig = line_of(proof, "\u{2014} ");
    wrong(
        audit::consistency(vkey, old, new, &flip_b64(proof, proof_sig, 4 + 63)),
        "proof's signature",
    );
    // The old size.
    wrong(
        audit::consistency(vkey, old, new, &proof.replacen("old 3\n", "old 4\n", 1)),
        "old size",
    );
    // Swapped checkpoints.
    wrong(audit::consistency(vkey, new, old, proof), "swapped");
}

/// The conventions of docs/FORMAT.md §11.5 on the pinned tree.
#[test]
fn proof_conventions() {
    let tree = MemTree::from_entries(entries());
    assert!(consistency_proof(&tree, 0, NEW_SIZE).is_err());
    assert!(consistency_proof(&tree, 0, 0).is_err());
    let root = tree.root();
    let none: &[Hash] = &[];
    assert!(verify_consistency(0, NEW_SIZE, none, &blotter::merkle::EMPTY_ROOT, &root).is_err());
    assert!(consistency_proof(&tree, NEW_SIZE, NEW_SIZE)
        .unwrap()
        .is_empty());
    verify_consistency(NEW_SIZE, NEW_SIZE, none, &root, &root).unwrap();
    assert!(verify_consistency(NEW_SIZE, NEW_SIZE, &[root], &root, &root).is_err());
    // Leaf index = entry sequence number.
    for i in 0..NEW_SIZE {
        let e = &entries()[i as usize];
        assert_eq!(Entry::decode(e).unwrap().seq, i);
        let p = inclusion_proof(&tree, i, NEW_SIZE).unwrap();
        verify_inclusion(&leaf_hash(e), i, NEW_SIZE, &p, &root).unwrap();
    }
}
