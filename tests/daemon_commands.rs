//! The CLI's retention, disposition, witness and archive commands through `--server`,
//! against the same commands run locally on the ledger folder (`tests/daemon.rs` has the
//! daemon's own tests: authentication, roles, load, crashes, jobs).

mod common;

use std::path::Path;

use common::daemon::{as_who, assert_verifies, head, run, Daemon};
use common::{copy_dir, demo};
use serde_json::{json, Value};

/// Schedules, holds, plans and certificates through `--server`: the same answers as
/// locally, and a clerk cannot adopt a schedule or place a hold.
#[test]
fn retention_through_server() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "d", 20);
    let local = |args: &[&str]| -> Value {
        let mut all = vec!["--ledger", dir.to_str().unwrap(), "--json"];
        all.extend(args);
        let (code, out, err) = run(&all);
        assert_eq!(code, 0, "{args:?}: {err}");
        serde_json::from_str(&out).unwrap()
    };
    let before: Vec<Value> = [
        "schedule list",
        "hold list --all",
        "purge list",
        "order list",
    ]
    .iter()
    .map(|c| local(&c.split(' ').collect::<Vec<_>>()))
    .collect();
    let plan = before[2][0]["id"].as_str().unwrap().to_string();
    let plan_local = local(&["purge", "show", &plan]);
    let cert_local = local(&["purge", "certificate", &plan]);
    let report_local = local(&["retention", "report", "--as-of", "2031-06-30"]);
    let (code, table_local, err) = run(&[
        "--ledger",
        dir.to_str().unwrap(),
        "retention",
        "report",
        "--as-of",
        "2031-06-30",
        "--status",
        "eligible",
    ]);
    assert_eq!(code, 0, "{err}");
    let d = Daemon::start(&dir);
    let remote = |who: &str, args: &[&str]| {
        let mut all = vec!["--json"];
        all.extend(args);
        as_who(&d, who, &all)
    };
    let ok = |who: &str, args: &[&str]| -> Value {
        let (code, out, err) = remote(who, args);
        assert_eq!(code, 0, "{args:?}: {err}");
        serde_json::from_str(&out).unwrap()
    };
    for (i, c) in [
        "schedule list",
        "hold list --all",
        "purge list",
        "order list",
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(
            ok("auditor", &c.split(' ').collect::<Vec<_>>()),
            before[i],
            "{c}"
        );
    }
    assert_eq!(ok("auditor", &["purge", "show", &plan]), plan_local);
    assert_eq!(ok("auditor", &["purge", "certificate", &plan]), cert_local);
    let report = ok("clerk", &["retention", "report", "--as-of", "2031-06-30"]);
    assert!(report["records"].as_array().unwrap().len() > 5, "{report}");
    assert_eq!(report, report_local);
    let (code, table, err) = as_who(
        &d,
        "clerk",
        &[
            "retention",
            "report",
            "--as-of",
            "2031-06-30",
            "--status",
            "eligible",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(table, table_local);
    assert!(table.contains(" eligible "), "{table}");

    let schedule = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/schedule-transfer.toml"
    );
    let (code, _, err) = remote("clerk", &["schedule", "adopt", schedule]);
    assert_eq!(code, 2);
    assert!(err.contains("(403)"), "{err}");
    ok("supervisor", &["schedule", "adopt", schedule]);
    let list = ok("clerk", &["schedule", "list"]);
    let last = list.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["in_force"], true);
    assert_eq!(
        last["items"],
        json!(
            blotter::ledger::schedules::check("s", &std::fs::read_to_string(schedule).unwrap())
                .unwrap()
                .items
                .len()
        )
    );

    let records = ok("clerk", &["record", "list"]);
    let record = records
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["disposed"].is_null())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, _, err) = remote(
        "clerk",
        &[
            "hold",
            "place",
            "--kind",
            "litigation",
            "--authority",
            "Doe v. City",
            &record,
        ],
    );
    assert_eq!(code, 2, "{err}");
    let placed = ok(
        "supervisor",
        &[
            "hold",
            "place",
            "--kind",
            "litigation",
            "--authority",
            "Doe v. City",
            &record,
        ],
    );
    let hold = placed["record"].as_str().unwrap().to_string();
    let holds = ok("auditor", &["hold", "list"]);
    let h = holds
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == hold.as_str())
        .unwrap()
        .clone();
    assert_eq!(h["authority"], "Doe v. City");
    assert_eq!(h["records"], json!([record]));
    ok("supervisor", &["hold", "release", &hold]);
    let holds = ok("auditor", &["hold", "list"]);
    assert!(holds
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["id"] != hold.as_str()));
    assert_verifies(&d);
}

/// Purge plan, approve, apply and certificate, and court orders (seal, destroy),
/// through `--server` and locally on a copy of the same ledger: the same plans, the same
/// outcomes at the same sequence numbers, the same certificates; roles refused on the
/// server.
#[test]
fn disposition_through_server_matches_local() {
    let tmp = tempfile::tempdir().unwrap();
    let remote = demo(tmp.path(), "remote", 12);
    let local = tmp.path().join("local");
    copy_dir(&remote, &local);
    let d = Daemon::start(&remote);
    let payload = tmp.path().join("p.json");
    std::fs::write(&payload, r#"{"violation":"speeding"}"#).unwrap();
    let today = jiff::Zoned::now()
        .in_tz("America/Los_Angeles")
        .unwrap()
        .date()
        .to_string();
    let script = |dir: &Path, server: Option<&str>| -> Vec<Value> {
        let base: Vec<String> = match server {
            Some(u) => vec!["--server".into(), u.into()],
            None => vec!["--ledger".into(), dir.to_str().unwrap().into()],
        };
        let try_as = |who: &str, args: &[&str]| -> (i32, String, String) {
            let key = dir.join(format!("keys/{who}.key"));
            let mut all: Vec<&str> = base.iter().map(String::as_str).collect();
            all.extend(["--key", key.to_str().unwrap(), "--json"]);
            all.extend(args);
            run(&all)
        };
        let go = |who: &str, args: &[&str]| -> Value {
            let (code, out, err) = try_as(who, args);
            assert_eq!(code, 0, "{who} {args:?}: {err}");
            serde_json::from_str(&out).unwrap()
        };
        // Three citations old enough to be destroyed today, and two live records.
        let mut made = Vec::new();
        for created in [
            "2015-01-01",
            "2016-02-02",
            "2017-03-03",
            "2026-01-01",
            "2026-01-02",
        ] {
            let v = go(
                "clerk",
                &[
                    "record",
                    "create",
                    "--type",
                    "citation",
                    "--payload",
                    payload.to_str().unwrap(),
                    "--created-on",
                    created,
                ],
            );
            made.push(v["record"].as_str().unwrap().to_string());
        }
        let (code, _, err) = try_as("clerk", &["purge", "plan", "--as-of", &today]);
        assert_eq!(code, 2, "a clerk may not plan: {err}");
        let planned = go("supervisor", &["purge", "plan", "--as-of", &today]);
        let plan = planned["plan"].as_str().unwrap().to_string();
        let (code, _, err) = try_as("supervisor", &["purge", "apply", &plan]);
        assert_eq!(code, 2, "not approved yet: {err}");
        go("supervisor2", &["purge", "approve", &plan]);
        let (code, _, err) = try_as("auditor", &["purge", "apply", &plan]);
        assert_eq!(code, 2, "an auditor may not apply: {err}");
        let mut applied = go("supervisor", &["purge", "apply", &plan]);
        assert!(applied["disposed_now"].as_u64().unwrap() >= 3, "{applied}");
        assert!(applied["certificate_seq"].is_u64(), "{applied}");
        let (code, _, err) = try_as("supervisor", &["purge", "apply", &plan]);
        assert_eq!(code, 2);
        assert!(err.contains("already applied"), "{err}");
        let cert = go("auditor", &["purge", "certificate", &plan]);
        let c = &cert["certificate"];
        for old in &made[..3] {
            assert!(
                c["records"].as_array().unwrap().contains(&json!(old)),
                "{c}"
            );
        }
        assert_eq!(c["applied_by"], "S-220");
        assert_eq!(c["approved_by"], "S-231");
        let mut shown = go("auditor", &["purge", "show", &plan]);
        // A seal order: an administrator approves, a supervisor carries it out.
        let seal = go(
            "supervisor",
            &[
                "order",
                "record",
                "--court-order",
                "CR-1 (seal)",
                "--action",
                "seal",
                &made[3],
            ],
        );
        let seal = seal["record"].as_str().unwrap().to_string();
        let approved = go("admin2", &["order", "approve", &seal]);
        assert_eq!(approved["applied"], false);
        let sealed = go("supervisor", &["order", "apply", &seal]);
        assert_eq!(sealed["sealed"], 1);
        // A destruction order, carried out by its approver.
        let order = go(
            "admin2",
            &[
                "order",
                "record",
                "--court-order",
                "CR-2 (destroy)",
                "--action",
                "destroy",
                &made[4],
            ],
        );
        let order = order["record"].as_str().unwrap().to_string();
        let (code, _, err) = try_as("admin2", &["order", "approve", &order]);
        assert_eq!(code, 2, "the recorder may not approve: {err}");
        let mut destroyed = go("supervisor", &["order", "approve", &order]);
        assert_eq!(destroyed["disposed_now"], 1, "{destroyed}");
        let ocert = go("auditor", &["purge", "certificate", &order]);
        assert_eq!(ocert["certificate"]["records"], json!([made[4]]));
        assert_eq!(go("auditor", &["record", "show", &made[3]])["sealed"], true);
        assert!(go("auditor", &["verify"])["problem"].is_null());
        // What differs between the two runs by construction: ids and hashes.
        for v in [&mut applied, &mut destroyed] {
            v.as_object_mut().unwrap().remove("authority");
            v.as_object_mut().unwrap().remove("certificate");
        }
        shown["state"].as_object_mut().unwrap().remove("id");
        shown["state"].as_object_mut().unwrap().remove("latest");
        shown["state"].as_object_mut().unwrap().remove("document");
        shown["state"]
            .as_object_mut()
            .unwrap()
            .remove("last_change_ms");
        shown["state"]["approved"]
            .as_object_mut()
            .unwrap()
            .remove("seq");
        let records = |p: &Value| -> Vec<String> {
            let mut v: Vec<String> = p["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| format!("{} {} {}", r["record_type"], r["item"], r["disposition"]))
                .collect();
            v.sort();
            v
        };
        vec![
            applied,
            json!(records(&shown["plan"])),
            shown["plan"]["left_out"].clone(),
            c["record_count"].clone(),
            c["items"].clone(),
            destroyed,
        ]
    };
    let b = script(&remote, Some(&d.url));
    let a = script(&local, None);
    assert_eq!(a, b);
}

/// `schedule show`, `witness list`, `key ledger` through the daemon answer as locally;
/// a witness's cosignature is kept through `checkpoint cosign`.
#[test]
fn schedules_witnesses_and_cosignatures_through_server() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "d", 5);
    let reads: [&[&str]; 3] = [
        &["schedule", "show"],
        &["witness", "list"],
        &["key", "ledger"],
    ];
    let local: Vec<Value> = reads
        .iter()
        .map(|args| {
            let mut all = vec!["--ledger", dir.to_str().unwrap(), "--json"];
            all.extend(*args);
            let (code, out, err) = run(&all);
            assert_eq!(code, 0, "{args:?}: {err}");
            serde_json::from_str(&out).unwrap()
        })
        .collect();
    let d = Daemon::start(&dir);
    let ok = |who: &str, args: &[&str]| -> Value {
        let mut all = vec!["--json"];
        all.extend(args);
        let (code, out, err) = as_who(&d, who, &all);
        assert_eq!(code, 0, "{args:?}: {err}");
        serde_json::from_str(&out).unwrap()
    };
    for (args, want) in reads.iter().zip(&local) {
        assert_eq!(&ok("clerk", args), want, "{args:?}");
    }
    // The log grows, then a new checkpoint through the daemon, cosigned by the demo's
    // witness.
    let payload = tmp.path().join("p.json");
    std::fs::write(&payload, "{}").unwrap();
    let p = payload.to_str().unwrap();
    ok(
        "clerk",
        &["record", "create", "--type", "call", "--payload", p],
    );
    let made = ok("clerk", &["checkpoint"]);
    let size = made["size"].as_u64().unwrap();
    let shown = ok(
        "auditor",
        &["checkpoint", "show", "--size", &size.to_string()],
    );
    let mut note = blotter::merkle::note::Note::parse(shown["note"].as_str().unwrap()).unwrap();
    let witness = blotter::crypto::keyfile::load(&dir.join("keys/witness.key"), || None).unwrap();
    let now = jiff::Timestamp::now().as_second() as u64;
    let line = blotter::merkle::cosignature::cosign(
        note.text(),
        blotter::demo::DEMO_WITNESS,
        &witness,
        now,
    )
    .unwrap();
    note.push_signature_lines(&line).unwrap();
    let file = tmp.path().join("cosigned.txt");
    std::fs::write(&file, note.encode().unwrap()).unwrap();
    let (code, _, err) = as_who(
        &d,
        "auditor",
        &["checkpoint", "cosign", file.to_str().unwrap()],
    );
    assert_eq!(code, 2, "only an administrator keeps cosignatures: {err}");
    let cosigned = ok("admin", &["checkpoint", "cosign", file.to_str().unwrap()]);
    assert_eq!(cosigned["size"], size);
    assert_eq!(cosigned["witnesses"][0][0], blotter::demo::DEMO_WITNESS);
    let kept = ok(
        "auditor",
        &["checkpoint", "show", "--size", &size.to_string()],
    );
    assert_eq!(kept["note"], note.encode().unwrap());
    // A cosignature by another key under the witness's name is refused, and the kept
    // note is unchanged.
    let mut forged = blotter::merkle::note::Note::parse(shown["note"].as_str().unwrap()).unwrap();
    let other = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let line = blotter::merkle::cosignature::cosign(
        forged.text(),
        blotter::demo::DEMO_WITNESS,
        &other,
        now,
    )
    .unwrap();
    forged.push_signature_lines(&line).unwrap();
    std::fs::write(&file, forged.encode().unwrap()).unwrap();
    let (code, _, err) = as_who(
        &d,
        "admin",
        &["checkpoint", "cosign", file.to_str().unwrap()],
    );
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        ok(
            "auditor",
            &["checkpoint", "show", "--size", &size.to_string()]
        ),
        kept
    );
    // `import` stays where the ledger is (docs/API.md says why), and says so.
    let (code, _, err) = as_who(&d, "clerk", &["import", p]);
    assert_eq!(code, 2);
    assert!(err.contains("does not work through --server"), "{err}");
}

/// `archive export` through the daemon (admin only): the file received is the one the
/// server wrote, it verifies with nothing but the identity and the ledger's verifier
/// key, and it holds what a local export of the same records holds.
#[test]
fn archive_export_through_server() {
    use age::secrecy::ExposeSecret;
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "d", 8);
    let id = age::x25519::Identity::generate();
    let identity = tmp.path().join("archive.key");
    std::fs::write(&identity, format!("{}\n", id.to_string().expose_secret())).unwrap();
    let recipient = id.to_public().to_string();
    let vkey = {
        let (code, out, err) = run(&["--ledger", dir.to_str().unwrap(), "key", "ledger"]);
        assert_eq!(code, 0, "{err}");
        out.trim().to_string()
    };
    // Two live records that are not restricted.
    let list = {
        let (code, out, err) = run(&[
            "--ledger",
            dir.to_str().unwrap(),
            "--json",
            "record",
            "list",
        ]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<Value>(&out).unwrap()
    };
    let ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["disposed"].is_null() && r["sealed"] == false && r["confidential"] == false)
        .take(2)
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    let export_args = |out: &Path| -> Vec<String> {
        let mut a: Vec<String> = vec!["--json".into(), "archive".into(), "export".into()];
        a.extend([
            "--out".into(),
            out.to_str().unwrap().into(),
            "-r".into(),
            recipient.clone(),
        ]);
        for i in &ids {
            a.extend(["--record".into(), i.clone()]);
        }
        a
    };
    let local_out = tmp.path().join("local.age");
    let mut args = vec!["--ledger".to_string(), dir.to_str().unwrap().into()];
    args.extend([
        "--key".into(),
        dir.join("keys/admin.key").to_str().unwrap().into(),
    ]);
    args.extend(export_args(&local_out));
    let (code, out, err) = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{err}");
    let local: Value = serde_json::from_str(&out).unwrap();
    // `--type` leaves sealed and confidential records out, here and through the daemon.
    let sealed_type = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["disposed"].is_null() && r["sealed"] == true)
        .map(|r| r["record_type"].as_str().unwrap().to_string())
        .expect("the demo seals a record");
    let by_type = |out: &Path| -> Vec<String> {
        [
            "--json",
            "archive",
            "export",
            "--out",
            out.to_str().unwrap(),
            "-r",
            &recipient,
            "--type",
            &sealed_type,
            "--closed-before",
            "2100-01-01",
        ]
        .map(String::from)
        .to_vec()
    };
    let mut args = vec!["--ledger".to_string(), dir.to_str().unwrap().into()];
    args.extend([
        "--key".into(),
        dir.join("keys/admin.key").to_str().unwrap().into(),
    ]);
    args.extend(by_type(&tmp.path().join("local-type.age")));
    let local_type = run(&args.iter().map(String::as_str).collect::<Vec<_>>());

    let d = Daemon::start(&dir);
    let remote_out = tmp.path().join("remote.age");
    let a = export_args(&remote_out);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let (code, _, err) = as_who(&d, "supervisor", &a);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("(403)"), "{err}");
    assert!(!remote_out.exists());
    let (code, out, err) = as_who(&d, "admin", &a);
    assert_eq!(code, 0, "{err}");
    let remote: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(remote["path"], remote_out.to_str().unwrap());
    let bytes = std::fs::read(&remote_out).unwrap();
    assert_eq!(remote["archive_bytes"], bytes.len());
    assert_eq!(remote["blake3"], blake3::hash(&bytes).to_hex().as_str());
    for k in ["records", "entries", "payload_bytes", "checkpoint_size"] {
        assert_eq!(remote[k], local[k], "{k}");
    }
    // Never overwritten; the server keeps no copy.
    let (code, _, err) = as_who(&d, "admin", &a);
    assert_eq!(code, 2, "{err}");
    assert_eq!(std::fs::read(&remote_out).unwrap(), bytes);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("export"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // With the head past the last checkpoint, the daemon signs one first.
    let payload = tmp.path().join("p.json");
    std::fs::write(&payload, "{}").unwrap();
    let p = payload.to_str().unwrap();
    let (code, _, err) = as_who(
        &d,
        "clerk",
        &["record", "create", "--type", "call", "--payload", p],
    );
    assert_eq!(code, 0, "{err}");
    let later = tmp.path().join("later.age");
    let a = export_args(&later);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let (code, out, err) = as_who(&d, "admin", &a);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["checkpoint_size"], head(&d));
    assert_eq!(v["records"], local["records"]);
    let a = by_type(&tmp.path().join("remote-type.age"));
    let remote_type = as_who(
        &d,
        "admin",
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(
        remote_type.0, local_type.0,
        "{} / {}",
        remote_type.2, local_type.2
    );
    assert!(
        !remote_type.2.contains("(403)"),
        "left out, not refused: {}",
        remote_type.2
    );
    if local_type.0 == 0 {
        let (r, l): (Value, Value) = (
            serde_json::from_str(&remote_type.1).unwrap(),
            serde_json::from_str(&local_type.1).unwrap(),
        );
        assert_eq!(r["records"], l["records"]);
    }
    // Sealed and confidential records are not exported through the daemon, which could
    // log no access for them, even with --include-restricted.
    let sealed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["disposed"].is_null() && r["sealed"] == true)
        .map(|r| r["id"].as_str().unwrap().to_string())
        .expect("the demo seals a record");
    let restricted_out = tmp.path().join("sealed.age");
    for extra in [&[][..], &["--include-restricted"][..]] {
        let mut a = vec![
            "archive",
            "export",
            "--out",
            restricted_out.to_str().unwrap(),
            "-r",
            &recipient,
            "--record",
            &sealed,
        ];
        a.extend(extra);
        let (code, _, err) = as_who(&d, "admin", &a);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("(403)") && err.contains("sealed"), "{err}");
        assert!(!restricted_out.exists());
    }
    // A passphrase is never sent to a server.
    let (code, _, err) = as_who(
        &d,
        "admin",
        &[
            "archive",
            "export",
            "--out",
            tmp.path().join("p.age").to_str().unwrap(),
            "--passphrase",
            "--record",
            &ids[0],
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("passphrase"), "{err}");
    d.stop();
    // Both received archives verify offline, with the identity and the verifier key.
    let verify = |archive: &Path| -> Value {
        let (code, out, err) = run(&[
            "--json",
            "archive",
            "verify",
            archive.to_str().unwrap(),
            "-i",
            identity.to_str().unwrap(),
            "--ledger-key",
            &vkey,
        ]);
        assert_eq!(code, 0, "{out} {err}");
        serde_json::from_str(&out).unwrap()
    };
    assert_eq!(verify(&remote_out)["records"], 2);
    assert_eq!(verify(&later)["records"], 2);
}
