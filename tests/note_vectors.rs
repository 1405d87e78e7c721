//! Interoperability vectors for the C2SP text formats in `blotter::merkle`.
//!
//! - Go `golang.org/x/mod/sumdb/note` (note.go docs, note_test.go, example_test.go):
//!   the PeterNeumann key pair and note, the EnochRoot key (all-zero seed, from
//!   `ExampleSign_add_signatures`), their exact signature lines, and the malformed
//!   notes of `TestOpen`.
//! - C2SP specs: the signed-note `example.com/foo` vkey and note, the quasimodo note
//!   (text with an empty line), the tlog-checkpoint / tlog-cosignature example
//!   (cosignature timestamp 1679315147), the tlog-witness add-checkpoint example.
//! - transparency-dev/formats `note_cosigv1_test.go`: a real type-0x04 witness vkey.
//! - Our own, fixed seeds: `tests/vectors/note/c2sp-v1.json` (log-signed and
//!   witness-cosigned checkpoint over a real RFC 6962 tree of five leaves, a
//!   tlog-proof and an add-checkpoint body). Regenerate only deliberately with
//!   `BLOTTER_REGEN_VECTORS=1 cargo test --test note_vectors`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use blotter::merkle::checkpoint::Checkpoint;
use blotter::merkle::cosignature::{self, WitnessKey};
use blotter::merkle::note::{self, key_id, Note, NoteError, NoteSignature, NoteVerifier, Verifier};
use blotter::merkle::proof_text::{AddCheckpoint, TlogProof};
use blotter::merkle::Hash;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

// ---- Go golang.org/x/mod/sumdb/note ----

const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

/// Decodes a Go signer key `PRIVATE+KEY+<name>+<hex8>+<base64(0x01 ‖ seed)>`.
fn go_signer(skey: &str) -> (String, SigningKey) {
    let parts: Vec<&str> = skey.splitn(5, '+').collect();
    assert_eq!(&parts[..2], &["PRIVATE", "KEY"]);
    let raw = STANDARD.decode(parts[4]).unwrap();
    assert_eq!(raw[0], 0x01);
    let key = SigningKey::from_bytes(&raw[1..].try_into().unwrap());
    let id = key_id(parts[2], 0x01, key.verifying_key().as_bytes());
    assert_eq!(format!("{id:08x}"), parts[3], "signer key hash");
    (parts[2].to_string(), key)
}

fn peter() -> NoteVerifier {
    NoteVerifier::parse(PETER_VKEY).unwrap()
}

fn enoch() -> NoteVerifier {
    NoteVerifier::parse(ENOCH_VKEY).unwrap()
}

#[test]
fn go_key_ids_and_vkeys() {
    let p = peter();
    assert_eq!(p.key_id(), 0xc74f20a3);
    assert_eq!(p.name(), "PeterNeumann");
    assert_eq!(p.to_vkey(), PETER_VKEY);
    let (name, sk) = go_signer(PETER_SKEY);
    assert_eq!(name, "PeterNeumann");
    assert_eq!(
        NoteVerifier::new(&name, sk.verifying_key())
            .unwrap()
            .to_vkey(),
        PETER_VKEY
    );
    // ExampleSign_add_signatures generates EnochRoot from an all-zero reader.
    let zero = SigningKey::from_bytes(&[0; 32]);
    let e = NoteVerifier::new("EnochRoot", zero.verifying_key()).unwrap();
    assert_eq!(e.to_vkey(), ENOCH_VKEY);
    assert_eq!(e.key_id(), 0xaf0cfe78);
    assert_eq!(enoch(), e);
}

#[test]
fn go_sign_is_byte_identical() {
    let (name, sk) = go_signer(PETER_SKEY);
    let msg = note::sign(TEXT, &name, &sk).unwrap();
    assert_eq!(msg, format!("{TEXT}\n{PETER_SIG}"));
    // Adding EnochRoot's signature gives Go's doubly-signed example.
    let mut n = Note::parse(&msg).unwrap();
    n.sign("EnochRoot", &SigningKey::from_bytes(&[0; 32]))
        .unwrap();
    assert_eq!(
        n.encode().unwrap(),
        format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}")
    );
}

#[test]
fn go_open() {
    let both = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    // One known, one unknown (ignored).
    let (n, signed) = note::open(&both, &[peter()]).unwrap();
    assert_eq!(n.text(), TEXT);
    assert_eq!(signed, vec![0]);
    assert_eq!(n.signatures().len(), 2);
    assert_eq!(n.signatures()[1].name, "EnochRoot");
    assert_eq!(n.signatures()[1].key_id, 0xaf0cfe78);
    // Both known.
    assert_eq!(
        note::open(&both, &[enoch(), peter()]).unwrap().1,
        vec![0, 1]
    );
    // Neither known.
    assert_eq!(
        note::open::<NoteVerifier>(&both, &[]).unwrap_err(),
        NoteError::NoKnownSignature
    );
    // Duplicate known verifier used by a signature.
    let err = note::open(
        &format!("{TEXT}\n{ENOCH_SIG}"),
        &[enoch(), peter(), enoch()],
    );
    assert!(
        matches!(err, Err(NoteError::AmbiguousKey { .. })),
        "{err:?}"
    );
    // ... but not if unused.
    note::open(
        &format!("{TEXT}\n{PETER_SIG}"),
        &[enoch(), peter(), enoch()],
    )
    .unwrap();
    // Too many signatures (Go's limit, 100).
    let many = format!("{TEXT}\n{}", PETER_SIG.repeat(101));
    assert_eq!(
        Note::parse(&many).unwrap_err(),
        NoteError::TooManySignatures { max: 100 }
    );
    note::open(&format!("{TEXT}\n{}", PETER_SIG.repeat(100)), &[peter()]).unwrap();
    // Invalid signature from a known key (Go inserts "ABCD" at byte 60).
    let bad = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    assert!(matches!(
        note::open(&bad, &[peter()]),
        Err(NoteError::InvalidSignature {
            key_id: 0xc74f20a3,
            line: 4,
            ..
        })
    ));
    // ... and the same unknown bad line is ignored.
    let bad_enoch = format!(
        "{TEXT}\n{PETER_SIG}{}ABCD{}",
        &ENOCH_SIG[..60],
        &ENOCH_SIG[60..]
    );
    note::open(&bad_enoch, &[peter()]).unwrap();
    // Go's badMsgs.
    let bad_msgs = [
        TEXT.to_string(),
        format!("{TEXT}\n"),
        format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\x01{TEXT}\n{PETER_SIG}"),
        format!("{TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="),
        format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
    ];
    for m in &bad_msgs {
        assert!(Note::parse(m).is_err(), "accepted {m:?}");
    }
    let mut invalid_utf8 = b"\xff".to_vec();
    invalid_utf8.extend_from_slice(format!("{TEXT}\n{PETER_SIG}").as_bytes());
    assert_eq!(Note::parse_bytes(&invalid_utf8), Err(NoteError::NotUtf8));
}

#[test]
fn go_vkey_manglings_are_refused() {
    // Mirrors Go's TestNewVerifier: every proper substring and every one-byte bump.
    let b = PETER_VKEY.as_bytes();
    for i in 0..=b.len() {
        for j in i + 1..=b.len() {
            if i != 0 || j != b.len() {
                let s = std::str::from_utf8(&b[i..j]).unwrap();
                assert!(NoteVerifier::parse(s).is_err(), "accepted {s:?}");
            }
        }
    }
    for i in 0..b.len() {
        let mut m = b.to_vec();
        m[i] += 1;
        let s = String::from_utf8(m).unwrap();
        assert!(NoteVerifier::parse(&s).is_err(), "accepted {s:?}");
    }
    // Wrong key length and unknown algorithm, each with an adjusted key hash.
    let long = "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==";
    assert!(NoteVerifier::parse(long).is_err());
    let alg = "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    assert!(matches!(
        NoteVerifier::parse(alg),
        Err(NoteError::WrongKeyType { found: 0x65, .. })
    ));
    // Upper-case hex: the spec's hex encoding is lowercase.
    assert!(NoteVerifier::parse(&PETER_VKEY.replace("c74f20a3", "C74F20A3")).is_err());
}

// ---- C2SP spec examples ----

#[test]
fn c2sp_signed_note_example() {
    let vkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    let msg = "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    let v = NoteVerifier::parse(vkey).unwrap();
    assert_eq!(v.to_vkey(), vkey);
    let (n, signed) = note::open(msg, &[v]).unwrap();
    assert_eq!(n.text(), "This is an example message.\n");
    assert_eq!(signed, vec![0]);
    assert_eq!(n.encode().unwrap(), msg);
}

#[test]
fn c2sp_text_split_at_last_blank_line() {
    let msg = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
    let n = Note::parse(msg).unwrap();
    assert_eq!(
        n.text(),
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
    );
    assert_eq!(n.signatures()[0].name, "quasimodo.example/salvatore");
    assert_eq!(n.encode().unwrap(), msg);
    // No key is published for it: verifying with an unrelated key finds nothing.
    assert_eq!(n.verify(&[peter()]), Err(NoteError::NoKnownSignature));
}

const SOFA_BODY: &str =
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
const SOFA_LOG_SIG: &str = "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";

#[test]
fn c2sp_checkpoint_and_cosignature_example() {
    let msg = format!("{SOFA_BODY}\n{SOFA_LOG_SIG}— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n");
    let n = Note::parse(&msg).unwrap();
    let cp = Checkpoint::from_note(&n).unwrap();
    assert_eq!(cp.origin, "example.com/behind-the-sofa");
    assert_eq!(cp.size, 20852163);
    assert!(cp.extensions.is_empty());
    assert_eq!(cp.to_body().unwrap(), SOFA_BODY);
    // The cosignature payload is timestamp(8, big-endian) ‖ Ed25519 signature(64);
    // its timestamp is the spec's "time 1679315147" example.
    let cosig = &n.signatures()[1];
    assert_eq!(cosig.sig.len(), 72);
    assert_eq!(
        u64::from_be_bytes(cosig.sig[..8].try_into().unwrap()),
        1679315147
    );
    assert_eq!(
        cosignature::message(SOFA_BODY, 1679315147),
        "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    );
}

#[test]
fn c2sp_tlog_witness_add_checkpoint_example() {
    let body = format!(
        "old 20852014\n\
         PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\
         jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n\
         5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n\
         /6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n\
         \n\
         {SOFA_BODY}\n{SOFA_LOG_SIG}\
         — example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n"
    );
    let req = AddCheckpoint::parse(&body).unwrap();
    assert_eq!(req.old_size(), 20852014);
    assert_eq!(req.proof().len(), 4);
    assert_eq!(req.checkpoint().size, 20852163);
    assert_eq!(req.note().signatures().len(), 2);
    assert_eq!(req.format().unwrap(), body);
    // torchwood litewitness test body: old size 0, no proof lines.
    let zero = "old 0\n\nsigsum.org/v1/tree/985ea163f5af026723561354f51f2ebcdcf2af809ce254ccfb64aa9aadd80f90\n1\nKgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— sigsum.org/v1/tree/985ea163f5af026723561354f51f2ebcdcf2af809ce254ccfb64aa9aadd80f90 7BKT0gOfNZ1J0So9unY3BZtm2YkPIoNYM/dce0Z2avJDs8dxN6ts9bOSwwrVrbjm6P9K3ZxpK6jJngOG6YvGGzV/lwo=\n";
    let req = AddCheckpoint::parse(zero).unwrap();
    assert_eq!((req.old_size(), req.proof().len()), (0, 0));
    assert_eq!(req.format().unwrap(), zero);
}

#[test]
fn transparency_dev_witness_vkey() {
    // A type-0x04 vkey from transparency-dev/formats note_cosigv1_test.go.
    let vkey = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2";
    let w = WitnessKey::parse(vkey).unwrap();
    assert_eq!(w.key_id(), 0xda77ade7);
    assert_eq!(w.to_vkey(), vkey);
    // Not a note (type 0x01) key.
    assert!(matches!(
        NoteVerifier::parse(vkey),
        Err(NoteError::WrongKeyType {
            expected: 1,
            found: 4
        })
    ));
}

// ---- Our pinned vectors ----

const LOG_NAME: &str = "records.example-pd.gov/ledger";
const WITNESS_NAME: &str = "witness.example-pd.gov/w1";
const TIMESTAMP: u64 = 1_700_000_000;

fn log_key() -> SigningKey {
    SigningKey::from_bytes(&[0x11; 32])
}
fn witness_key() -> SigningKey {
    SigningKey::from_bytes(&[0x22; 32])
}
fn log_verifier() -> NoteVerifier {
    NoteVerifier::new(LOG_NAME, log_key().verifying_key()).unwrap()
}
fn witness() -> WitnessKey {
    WitnessKey::new(WITNESS_NAME, witness_key().verifying_key()).unwrap()
}

// A tiny RFC 6962 reference (test only), to make the pinned proofs real.
fn leaf(d: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([0])
        .chain_update(d)
        .finalize()
        .into()
}
fn node(l: &Hash, r: &Hash) -> Hash {
    Sha256::new()
        .chain_update([1])
        .chain_update(l)
        .chain_update(r)
        .finalize()
        .into()
}
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}
fn mth(d: &[Vec<u8>]) -> Hash {
    match d.len() {
        0 => Sha256::digest([]).into(),
        1 => leaf(&d[0]),
        n => {
            let k = split(n);
            node(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}
fn path(m: usize, d: &[Vec<u8>]) -> Vec<Hash> {
    if d.len() <= 1 {
        return vec![];
    }
    let k = split(d.len());
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}
fn subproof(m: usize, d: &[Vec<u8>], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = split(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}
fn leaves() -> Vec<Vec<u8>> {
    (0..5).map(|i| format!("leaf {i}").into_bytes()).collect()
}

fn build() -> Value {
    let d = leaves();
    let cp = Checkpoint {
        origin: LOG_NAME.into(),
        size: 5,
        root: mth(&d),
        extensions: vec![],
    };
    let body = cp.to_body().unwrap();
    let log_signed = note::sign(&body, LOG_NAME, &log_key()).unwrap();
    let cosig = cosignature::cosign(&body, WITNESS_NAME, &witness_key(), TIMESTAMP).unwrap();
    let cosigned = format!("{log_signed}{cosig}");
    let note = Note::parse(&cosigned).unwrap();
    let proof = TlogProof::new(Some(b"leaf 2".to_vec()), 2, path(2, &d), note.clone()).unwrap();
    let add =
        AddCheckpoint::new(3, subproof(3, &d, true), Note::parse(&log_signed).unwrap()).unwrap();
    let ext = Checkpoint {
        extensions: vec!["opaque extension".into()],
        ..cp.clone()
    };
    let ext_body = ext.to_body().unwrap();
    json!({
        "about": "blotter C2SP vectors: fixed Ed25519 seeds (log 0x11 x32, witness 0x22 x32); tree of leaves \"leaf 0\"..\"leaf 4\" (RFC 6962); tlog-proof for index 2; add-checkpoint from size 3",
        "log": { "name": LOG_NAME, "seed_hex": hex::encode([0x11u8; 32]), "vkey": log_verifier().to_vkey() },
        "witness": { "name": WITNESS_NAME, "seed_hex": hex::encode([0x22u8; 32]), "vkey": witness().to_vkey() },
        "old_root_b64": STANDARD.encode(mth(&d[..3])),
        "checkpoint_body": body,
        "timestamp": TIMESTAMP,
        "cosignature_message": cosignature::message(&body, TIMESTAMP),
        "cosignature_line": cosig,
        "log_signed_checkpoint": log_signed,
        "cosigned_checkpoint": cosigned,
        "extension_checkpoint_body": ext_body,
        "extension_cosignature_line": cosignature::cosign(&ext_body, WITNESS_NAME, &witness_key(), TIMESTAMP + 1).unwrap(),
        "tlog_proof": proof.format().unwrap(),
        "add_checkpoint": add.format().unwrap(),
    })
}

fn vectors_path() -> &'static str {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/note/c2sp-v1.json"
    )
}

fn committed() -> Value {
    serde_json::from_str(&std::fs::read_to_string(vectors_path()).unwrap()).unwrap()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap()
}

#[test]
fn pinned_vectors_match_the_committed_file() {
    let got = build();
    if std::env::var_os("BLOTTER_REGEN_VECTORS").is_some() {
        std::fs::create_dir_all(std::path::Path::new(vectors_path()).parent().unwrap()).unwrap();
        std::fs::write(
            vectors_path(),
            serde_json::to_string_pretty(&got).unwrap() + "\n",
        )
        .unwrap();
    }
    assert_eq!(got, committed());
}

#[test]
fn pinned_vectors_verify() {
    let v = committed();
    let log = NoteVerifier::parse(s(&v["log"], "vkey")).unwrap();
    let w = WitnessKey::parse(s(&v["witness"], "vkey")).unwrap();
    let body = s(&v, "checkpoint_body");
    assert_eq!(
        w.verify_line(body, s(&v, "cosignature_line")),
        Ok(TIMESTAMP)
    );
    let (n, signed) = note::open(s(&v, "cosigned_checkpoint"), &[&log]).unwrap();
    assert_eq!(signed, vec![0]);
    assert_eq!(w.verify_note(&n), Ok(Some(TIMESTAMP)));
    // A witness is a note verifier too: mixed lists work.
    let known: [&dyn Verifier; 2] = [&w, &log];
    assert_eq!(n.verify(&known), Ok(vec![0, 1]));
    // Extension lines are covered by the cosignature.
    let ext = s(&v, "extension_checkpoint_body");
    assert_eq!(
        w.verify_line(ext, s(&v, "extension_cosignature_line")),
        Ok(TIMESTAMP + 1)
    );
    assert!(w
        .verify_line(
            &ext.replace("opaque", "opaquE"),
            s(&v, "extension_cosignature_line")
        )
        .is_err());

    let p = TlogProof::parse(s(&v, "tlog_proof")).unwrap();
    assert_eq!(p.format().unwrap(), s(&v, "tlog_proof"));
    assert_eq!((p.index(), p.extra()), (2, Some(&b"leaf 2"[..])));
    assert_eq!(p.proof(), path(2, &leaves()).as_slice());
    assert_eq!(p.checkpoint().root, mth(&leaves()));
    p.note().verify(&[&log]).unwrap();
    assert_eq!(w.verify_note(p.note()), Ok(Some(TIMESTAMP)));

    let a = AddCheckpoint::parse(s(&v, "add_checkpoint")).unwrap();
    assert_eq!(a.format().unwrap(), s(&v, "add_checkpoint"));
    assert_eq!(a.old_size(), 3);
    assert_eq!(a.proof(), subproof(3, &leaves(), true).as_slice());
    a.note().verify(&[log]).unwrap();
}

// ---- Bad cases ----

fn pinned_note() -> (String, NoteVerifier, WitnessKey) {
    (
        s(&committed(), "cosigned_checkpoint").to_string(),
        log_verifier(),
        witness(),
    )
}

#[test]
fn altered_text_or_signature_is_rejected() {
    let (msg, log, w) = pinned_note();
    let mut alt = msg.clone().into_bytes();
    alt[3] ^= 1; // in the origin
    let alt = String::from_utf8(alt).unwrap();
    assert!(matches!(
        note::open(&alt, &[&log]),
        Err(NoteError::InvalidSignature { line: 5, .. })
    ));
    // Flip a bit in the log signature's Ed25519 bytes (past the key ID).
    let n = Note::parse(&msg).unwrap();
    let mut sig = n.signatures()[0].clone();
    sig.sig[10] ^= 1;
    let forged = format!(
        "{}\n{}{}",
        n.text(),
        sig.to_line(),
        n.signatures()[1].to_line()
    );
    assert!(matches!(
        note::open(&forged, &[&log]),
        Err(NoteError::InvalidSignature { .. })
    ));
    // The cosignature of an altered body does not verify either.
    let wrong = Note::parse(&alt).unwrap();
    assert!(w.verify_note(&wrong).is_err());
}

#[test]
fn altered_checkpoint_fields_are_rejected() {
    let (msg, log, w) = pinned_note();
    let n = Note::parse(&msg).unwrap();
    let cp = Checkpoint::from_note(&n).unwrap();
    let mut variants = Vec::new();
    variants.push(Checkpoint {
        origin: format!("{}x", cp.origin),
        ..cp.clone()
    });
    variants.push(Checkpoint {
        size: cp.size + 1,
        ..cp.clone()
    });
    let mut root = cp.root;
    root[31] ^= 1;
    variants.push(Checkpoint { root, ..cp.clone() });
    variants.push(Checkpoint {
        extensions: vec!["x".into()],
        ..cp.clone()
    });
    for alt in variants {
        let body = alt.to_body().unwrap();
        let m = format!(
            "{body}\n{}{}",
            n.signatures()[0].to_line(),
            n.signatures()[1].to_line()
        );
        assert!(
            matches!(
                note::open(&m, &[&log]),
                Err(NoteError::InvalidSignature { .. })
            ),
            "{alt:?}"
        );
        assert!(w.verify_note(&Note::parse(&m).unwrap()).is_err());
    }
}

#[test]
fn unknown_signatures_are_ignored_and_known_bad_ones_rejected() {
    let (msg, log, _) = pinned_note();
    // An extra signature from an unknown key: accepted.
    let stranger = SigningKey::from_bytes(&[0x33; 32]);
    let mut n = Note::parse(&msg).unwrap();
    n.sign("stranger.example", &stranger).unwrap();
    // Same name as the log but another key (so another key ID): still unknown.
    n.sign(LOG_NAME, &stranger).unwrap();
    assert_eq!(n.verify(&[&log]), Ok(vec![0]));
    // A second, bad signature from the known key rejects the note even though the
    // first one is good (the spec: known keys' signatures MUST be verified).
    let mut bad = n.signatures()[0].clone();
    bad.sig[0] ^= 0x80;
    let mut n2 = n.clone();
    n2.push_signature(bad).unwrap();
    assert!(matches!(
        n2.verify(&[&log]),
        Err(NoteError::InvalidSignature { line: 9, .. })
    ));
    // A known key's signature of the wrong length is a bad signature, not ignored.
    let mut short = n.signatures()[0].clone();
    short.sig.truncate(10);
    let text = format!("{}\n{}", n.text(), short.to_line());
    assert!(matches!(
        note::open(&text, &[log]),
        Err(NoteError::InvalidSignature { .. })
    ));
}

#[test]
fn malformed_notes() {
    let (msg, _, _) = pinned_note();
    let n = Note::parse(&msg).unwrap();
    let sig = n.signatures()[0].to_line();
    let text = n.text();
    let cases: Vec<(String, NoteError)> = vec![
        // Missing blank line.
        (format!("{text}{sig}"), NoteError::NoBlankLine),
        // No trailing newline.
        (
            format!("{text}\n{}", sig.trim_end()),
            NoteError::NoFinalNewline,
        ),
        // Blank line but no signatures.
        (format!("{text}\n"), NoteError::NoSignatures),
        (format!("{text}\n\n"), NoteError::NoSignatures),
        // Hyphen instead of em dash.
        (
            format!("{text}\n{}", sig.replacen('—', "-", 1)),
            NoteError::MalformedSignatureLine {
                line: 5,
                reason: "does not start with an em dash and a space",
            },
        ),
        // Two spaces after the name.
        (
            format!("{text}\n{}", sig.replacen("ledger ", "ledger  ", 1)),
            NoteError::MalformedSignatureLine {
                line: 5,
                reason: "signature is not canonical standard base64",
            },
        ),
        // Unpadded base64.
        (
            format!("{text}\n{}", sig.replacen("=\n", "\n", 1)),
            NoteError::MalformedSignatureLine {
                line: 5,
                reason: "signature is not canonical standard base64",
            },
        ),
        (
            format!("{text}\n— a+b AAAAAAA=\n"),
            NoteError::MalformedSignatureLine {
                line: 5,
                reason: "invalid key name",
            },
        ),
        (
            format!("{text}\n— name AAAA\n"),
            NoteError::MalformedSignatureLine {
                line: 5,
                reason: "signature shorter than key ID plus one byte",
            },
        ),
        (
            format!("{text}\n— name\n"),
            NoteError::MalformedSignatureLine {
                line: 5,
                reason: "no space between key name and signature",
            },
        ),
        // Control characters.
        (
            format!("{}\r\n\n{sig}", text.trim_end()),
            NoteError::ControlChar {
                line: 3,
                byte: 0x0d,
            },
        ),
        (
            format!("{text}\n{}", sig.replacen(' ', "\t", 1)),
            NoteError::ControlChar {
                line: 5,
                byte: 0x09,
            },
        ),
    ];
    for (m, want) in cases {
        assert_eq!(Note::parse(&m), Err(want), "{m:?}");
    }
    // Signing refuses texts that are not note text.
    let k = log_key();
    assert_eq!(
        note::sign("no newline", "n", &k),
        Err(NoteError::TextNoFinalNewline)
    );
    assert!(note::sign("a\x00\n", "n", &k).is_err());
    assert!(note::sign("a\n", "bad name", &k).is_err());
}

#[test]
fn malformed_checkpoints() {
    let root = STANDARD.encode([7u8; 32]);
    let ok = format!("o\n0\n{root}\n");
    assert_eq!(Checkpoint::parse(&ok).unwrap().size, 0);
    let cases = [
        (format!("o\n01\n{root}\n"), 2),
        (format!("o\n+1\n{root}\n"), 2),
        (format!("o\n-0\n{root}\n"), 2),
        (format!("o\n 1\n{root}\n"), 2),
        (format!("o\n18446744073709551616\n{root}\n"), 2),
        (format!("o\n1\n{}\n", STANDARD.encode([7u8; 31])), 3),
        (format!("o\n1\n{}\n", STANDARD.encode([7u8; 33])), 3),
        (format!("o\n1\n{}\n", root.trim_end_matches('=')), 3),
        (
            "o\n1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwd=\n".into(),
            3,
        ), // non-zero pad bits
        (format!("o\n1\n{root}\n\n"), 4),
        (format!("o\n1\n{root}\next\n\n"), 5),
        (format!("\n1\n{root}\n"), 1),
        ("o\n1\n".into(), 3),
        (format!("o\n1\n{root}"), 3),
    ];
    for (body, line) in cases {
        match Checkpoint::parse(&body) {
            Err(NoteError::Checkpoint { line: l, .. }) => assert_eq!(l, line, "{body:?}"),
            other => panic!("{body:?}: {other:?}"),
        }
    }
    let bad = Checkpoint {
        origin: "a\nb".into(),
        size: 1,
        root: [0; 32],
        extensions: vec![],
    };
    assert!(bad.to_body().is_err());
}

#[test]
fn bad_cosignatures() {
    let v = committed();
    let w = witness();
    let body = s(&v, "checkpoint_body");
    let line = s(&v, "cosignature_line");
    let sig = NoteSignature::parse_line(line, 1).unwrap();
    // Wrong timestamp: the signature covers it.
    for ts in [TIMESTAMP - 1, TIMESTAMP + 1, 0] {
        let mut alt = sig.clone();
        alt.sig[..8].copy_from_slice(&ts.to_be_bytes());
        assert_eq!(
            w.verify_line(body, &alt.to_line()),
            Err(NoteError::Cosignature {
                reason: "signature does not verify"
            })
        );
    }
    // Timestamp above 2^63 - 1.
    let mut alt = sig.clone();
    alt.sig[0] = 0x80;
    assert_eq!(
        w.verify_line(body, &alt.to_line()),
        Err(NoteError::Cosignature {
            reason: "timestamp exceeds 2^63 - 1"
        })
    );
    assert!(cosignature::cosign(body, WITNESS_NAME, &witness_key(), 1 << 63).is_err());
    // Flipped signature bit.
    let mut alt = sig.clone();
    alt.sig[40] ^= 1;
    assert!(w.verify_line(body, &alt.to_line()).is_err());
    // Wrong length.
    let mut alt = sig.clone();
    alt.sig.pop();
    assert!(w.verify_line(body, &alt.to_line()).is_err());
    // Another witness's line, or a plain note signature by the same key (type 0x01
    // key ID), is not this witness's cosignature.
    let other = cosignature::cosign(body, "other.example", &witness_key(), TIMESTAMP).unwrap();
    assert!(matches!(
        w.verify_line(body, &other),
        Err(NoteError::NotThisWitness { .. })
    ));
    let plain = note::sign(body, WITNESS_NAME, &witness_key()).unwrap();
    let plain_line = &plain[body.len() + 1..];
    assert!(matches!(
        w.verify_line(body, plain_line),
        Err(NoteError::NotThisWitness { .. })
    ));
    // Cosigning a body that is not a checkpoint is refused.
    assert!(cosignature::cosign("just text\n", WITNESS_NAME, &witness_key(), 1).is_err());
    // A note with a bad cosignature from a known witness is rejected by verify_note
    // and by Note::verify with the witness listed.
    let mut bad = sig.clone();
    bad.sig[70] ^= 1;
    let m = format!("{}{}", s(&v, "log_signed_checkpoint"), bad.to_line());
    let n = Note::parse(&m).unwrap();
    assert!(w.verify_note(&n).is_err());
    assert!(matches!(
        n.verify(&[&w]),
        Err(NoteError::InvalidSignature { .. })
    ));
    // Without the witness's line, verify_note reports no cosignature.
    let n = Note::parse(s(&v, "log_signed_checkpoint")).unwrap();
    assert_eq!(w.verify_note(&n), Ok(None));
}

#[test]
fn malformed_proof_texts() {
    let v = committed();
    let proof = s(&v, "tlog_proof").to_string();
    let add = s(&v, "add_checkpoint").to_string();
    let p = TlogProof::parse(&proof).unwrap();
    let h0 = STANDARD.encode(p.proof()[0]);
    let proof_cases = [
        (proof.replacen("@v1", "@v2", 1), 1),
        (proof.replacen("index 2", "index 02", 1), 3),
        (proof.replacen("index 2", "index  2", 1), 3),
        (proof.replacen("index 2", "index 5", 1), 3), // not below size 5
        (proof.replacen("extra bGVhZiAy", "extra ", 1), 2),
        (proof.replacen("extra bGVhZiAy", "extra bGVhZiAy=", 1), 2),
        (proof.replacen("extra ", "extras ", 1), 2),
        (proof.replacen(&h0, &h0[..40], 1), 4),
        (
            proof.replacen(&format!("{h0}\n"), &format!("{h0}\n{h0}\n").repeat(33), 1),
            68,
        ),
    ];
    for (t, line) in proof_cases {
        match TlogProof::parse(&t) {
            Err(NoteError::Proof { line: l, .. }) => assert_eq!(l, line, "{t}"),
            other => panic!("{t}: {other:?}"),
        }
    }
    // No blank line before the checkpoint: the checkpoint's lines are read as hashes.
    let no_blank = proof.replacen("\n\nrecords", "\nrecords", 1);
    assert!(matches!(
        TlogProof::parse(&no_blank),
        Err(NoteError::Proof { line: 7, .. })
    ));
    // Errors inside the checkpoint are numbered in the whole text.
    let bad_size = proof.replacen("ledger\n5\n", "ledger\n05\n", 1);
    assert!(matches!(
        TlogProof::parse(&bad_size),
        Err(NoteError::Checkpoint { line: 9, .. })
    ));
    // Truncated note.
    assert!(TlogProof::parse(proof.trim_end()).is_err());
    // Without extra: parses, and formats back.
    let start = proof.find("extra").unwrap();
    let end = start + proof[start..].find('\n').unwrap() + 1;
    let plain = format!("{}{}", &proof[..start], &proof[end..]);
    let q = TlogProof::parse(&plain).unwrap();
    assert_eq!((q.extra(), q.format().unwrap()), (None, plain));

    let a = AddCheckpoint::parse(&add).unwrap();
    let h0 = STANDARD.encode(a.proof()[0]);
    let add_cases = [
        (add.replacen("old 3", "old 03", 1), 1),
        (add.replacen("old 3", "old", 1), 1),
        (add.replacen("old 3", "new 3", 1), 1),
        (add.replacen(&h0, &h0.replace('=', ""), 1), 2),
        (
            add.replacen(&format!("{h0}\n"), &format!("{h0}\n").repeat(64), 1),
            65,
        ),
    ];
    for (t, line) in add_cases {
        match AddCheckpoint::parse(&t) {
            Err(NoteError::Proof { line: l, .. }) => assert_eq!(l, line, "{t}"),
            other => panic!("{t}: {other:?}"),
        }
    }
    // 63 lines are allowed.
    let max = add.replacen(
        &format!("{h0}\n"),
        &format!("{h0}\n").repeat(63 - a.proof().len() + 1),
        1,
    );
    assert_eq!(AddCheckpoint::parse(&max).unwrap().proof().len(), 63);
    // Old size above the checkpoint size.
    assert!(matches!(
        AddCheckpoint::parse(&add.replacen("old 3", "old 6", 1)),
        Err(NoteError::Proof { line: 1, .. })
    ));
    // Constructors enforce the same limits.
    assert!(AddCheckpoint::new(0, vec![[0; 32]; 64], a.note().clone()).is_err());
    assert!(TlogProof::new(Some(vec![]), 0, vec![], a.note().clone()).is_err());
    assert!(TlogProof::new(None, 5, vec![], a.note().clone()).is_err());
}
