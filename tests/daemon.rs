//! The daemon over loopback: authentication attacks, the role matrix, the CLI through
//! `--server`, concurrent writers (group commit), a kill -9 under load, and the route
//! table against docs/openapi.json.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use blotter::client::Client;
use blotter::format::Action;
use blotter::ledger::Draft;
use common::daemon::{as_who, assert_verifies, head, key, run, Daemon, Raw};
use common::demo;
use serde_json::{json, Value};

/// A record.create signed by the client's key, with its record id (hex).
fn create_sub(c: &Client, content: &[u8]) -> (blotter::ledger::Submission, String) {
    let mut d = Draft::new_record(
        "incident",
        "2026-01-02".parse().unwrap(),
        Action::RecordCreate {
            confidential: false,
        },
    );
    d.content = Some(content.to_vec());
    let id = hex::encode(d.record);
    (c.sign(d).unwrap(), id)
}

/// The same as the JSON body of POST /v1/changes.
fn create_body(c: &Client, content: &[u8]) -> Value {
    let (sub, _) = create_sub(c, content);
    json!({"submissions": [blotter::api::SubmissionWire::from_submission(&sub)]})
}

#[test]
fn attacks_are_refused_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "d", 20);
    // clerk2 is revoked below, before the daemon starts reading its registry.
    let (code, _, err) = run(&[
        "--ledger",
        dir.to_str().unwrap(),
        "--key",
        dir.join("keys/admin.key").to_str().unwrap(),
        "key",
        "revoke",
        &hex::encode(key(&dir.join("keys/clerk2.key")).verifying_key().to_bytes()),
    ]);
    assert_eq!(code, 0, "{err}");
    let d = Daemon::start(&dir);
    let clerk = key(&dir.join("keys/clerk.key"));
    let c = Client::new(&d.url, clerk.clone()).unwrap();
    let before = head(&d);
    let body = create_body(&c, br#"{"n":1}"#);

    let check = |what: &str, raw: Raw, k: &ed25519_dalek::SigningKey, expect: u16| {
        let (status, text) = raw.send(&d.url, k);
        assert_eq!(status, expect, "{what}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert!(v["error"].is_string(), "{what}: error body {text}");
        assert_eq!(head(&d), before, "{what}: nothing may be written");
    };
    let post = || Raw::new("POST", "/v1/changes").json(&body);
    let mut r = post();
    r.unsigned = true;
    check("no signature", r, &clerk, 401);
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    check("unregistered key", post(), &stranger, 401);
    check(
        "revoked key",
        post(),
        &key(&dir.join("keys/clerk2.key")),
        401,
    );
    let mut r = post();
    r.signed_body = Some(b"{}".to_vec());
    check("altered body", r, &clerk, 401);
    let mut r = post();
    r.signed_path = Some("/v1/records");
    check("altered path", r, &clerk, 401);
    let mut r = post();
    r.created_offset = -120;
    check("stale created", r, &clerk, 401);
    let mut r = post();
    r.created_offset = 120;
    check("created in the future", r, &clerk, 401);
    // Another person's valid change, relayed by a clerk: refused.
    let other = Client::new(&d.url, key(&dir.join("keys/supervisor.key"))).unwrap();
    check(
        "someone else's change",
        Raw::new("POST", "/v1/changes").json(&create_body(&other, b"{}")),
        &clerk,
        403,
    );

    // A replayed request: the first is recorded, the identical second refused.
    let nonce = blotter::httpsig::new_nonce();
    let mut r = post();
    r.nonce = Some(nonce.clone());
    let (status, text) = r.send(&d.url, &clerk);
    assert_eq!(status, 200, "{text}");
    let after = head(&d);
    assert_eq!(after, before + 1);
    let mut r = post();
    r.nonce = Some(nonce);
    let (status, text) = r.send(&d.url, &clerk);
    assert_eq!(status, 401, "replay: {text}");
    // The same signed change sent again in a fresh request is "already recorded".
    let (status, text) = post().send(&d.url, &clerk);
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["outcomes"][0]["already_recorded"], true, "{text}");
    assert_eq!(head(&d), after, "a retried write lands once");

    // Reads are authenticated too; the public read side is not.
    let mut r = Raw::new("GET", "/v1/records");
    r.unsigned = true;
    assert_eq!(r.send(&d.url, &clerk).0, 401);
    let res = reqwest::blocking::get(format!("{}/checkpoint", d.url)).unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.text().unwrap().starts_with("demo.blotter.example/pd\n"));
}

/// DESIGN.md's roles table, per route: which roles are allowed.
#[test]
fn role_matrix() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "d", 20);
    let d = Daemon::start(&dir);
    let roles = ["clerk", "supervisor", "auditor", "admin"];
    let keys: BTreeMap<&str, _> = roles
        .iter()
        .map(|r| (*r, key(&dir.join(format!("keys/{r}.key")))))
        .collect();
    let record = {
        let (code, out, err) = run(&[
            "--ledger",
            "unused",
            "--server",
            &d.url,
            "--key",
            dir.join("keys/clerk.key").to_str().unwrap(),
            "--json",
            "record",
            "list",
        ]);
        assert_eq!(code, 0, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        // An ordinary live record: the demo disposes, seals and marks some confidential
        // at random, and those answer some routes differently.
        let live = v.as_array().unwrap().iter().find(|r| {
            r["disposed"].is_null() && r["sealed"] == false && r["confidential"] == false
        });
        live.expect("an ordinary live record")["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let all = &roles[..];
    let rec = |s: &str| s.replace("{id}", &record);
    // (method, path, roles allowed). Arguments that are wrong on purpose still show the
    // role check: a refused role is 403 before anything else is looked at.
    let table: Vec<(&str, String, &[&str])> = vec![
        ("GET", "/v1/ledger".into(), all),
        ("GET", "/v1/whoami".into(), all),
        ("GET", "/v1/keys".into(), all),
        ("GET", "/v1/records".into(), all),
        ("GET", rec("/v1/records/{id}"), all),
        ("GET", rec("/v1/records/{id}/history"), all),
        ("POST", rec("/v1/records/{id}/content"), all),
        ("GET", rec("/v1/records/{id}/attachments"), all),
        (
            "POST",
            rec("/v1/records/{id}/blobs"),
            &["clerk", "supervisor"],
        ),
        ("GET", "/v1/entries/0".into(), all),
        ("POST", "/v1/verify".into(), all),
        ("GET", "/v1/checkpoints".into(), all),
        ("GET", "/v1/checkpoints/latest".into(), all),
        ("GET", "/v1/proofs/inclusion?seq=0".into(), all),
        ("GET", "/v1/proofs/consistency?from=1".into(), all),
        ("POST", "/v1/backup".into(), &["admin"]),
        ("GET", "/v1/schedules".into(), all),
        (
            "POST",
            "/v1/schedules/documents".into(),
            &["supervisor", "admin"],
        ),
        ("GET", "/v1/holds".into(), all),
        ("GET", "/v1/authorities?kind=purge-plan".into(), all),
        ("GET", rec("/v1/authorities/{id}"), all),
        ("GET", rec("/v1/authorities/{id}/certificate"), all),
        ("POST", "/v1/authorities/plans".into(), &["supervisor"]),
        (
            "POST",
            "/v1/authorities/orders".into(),
            &["supervisor", "admin"],
        ),
        (
            "GET",
            rec("/v1/authorities/{id}/targets"),
            &["supervisor", "admin"],
        ),
        (
            "POST",
            rec("/v1/authorities/{id}/finish"),
            &["supervisor", "admin"],
        ),
        ("GET", rec("/v1/authorities/{id}/transfer"), &["admin"]),
        (
            "POST",
            rec("/v1/authorities/{id}/transfer/finish"),
            &["admin"],
        ),
        ("POST", "/v1/records/states".into(), all),
        ("GET", format!("/v1/documents/{}", "ab".repeat(32)), all),
        ("POST", "/v1/archives".into(), &["admin"]),
        ("POST", "/v1/checkpoints/cosignatures".into(), &["admin"]),
        ("GET", "/v1/witnesses".into(), all),
        // The route admits every role; each change's action is checked by role after.
        ("POST", "/v1/changes".into(), all),
        ("GET", "/tile/entries/000".into(), all),
        ("POST", "/v1/checkpoints".into(), all),
        ("GET", "/v1/retention/report?as_of=2031-06-30".into(), all),
        (
            "POST",
            rec(&format!(
                "/v1/records/{{id}}/attachments/{}",
                "cd".repeat(32)
            )),
            all,
        ),
    ];
    // Every authenticated route is in the table.
    let in_table = |method: &str, route: &str| {
        table.iter().any(|(m, p, _)| {
            let p = p.split('?').next().unwrap_or_default();
            *m == method
                && p.split('/').count() == route.split('/').count()
                && route
                    .split('/')
                    .zip(p.split('/'))
                    .all(|(a, b)| a == b || a.starts_with('{'))
        })
    };
    let missing: Vec<String> = blotter::daemon::routes::ROUTES
        .iter()
        .filter(|r| !in_table(r.method.as_str(), r.path))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(missing.is_empty(), "not in the role matrix: {missing:?}");
    for (method, path, allowed) in &table {
        for role in roles {
            let (status, text) = Raw::new(method, path).send(&d.url, &keys[role]);
            let ok = allowed.contains(&role);
            assert_eq!(
                status == 403,
                !ok,
                "{role} {method} {path}: {status} {text}"
            );
            assert_ne!(status, 401, "{role} {method} {path}: {text}");
            assert_ne!(status, 500, "{role} {method} {path}: {text}");
        }
    }
    // A document not kept is 404, naming the hash and no server path.
    let missing = format!("/v1/documents/{}", "ab".repeat(32));
    let (status, text) = Raw::new("GET", &missing).send(&d.url, &keys["clerk"]);
    assert_eq!(status, 404, "{text}");
    assert!(
        text.contains(&"ab".repeat(32)) && !text.contains(dir.to_str().unwrap()),
        "{text}"
    );
    // Writes: each action by each role, through the CLI, as DESIGN.md's table says.
    let payload = tmp.path().join("p.json");
    std::fs::write(&payload, r#"{"a":1}"#).unwrap();
    for role in roles {
        let (code, _, err) = as_who(
            &d,
            role,
            &[
                "record",
                "create",
                "--type",
                "incident",
                "--payload",
                payload.to_str().unwrap(),
            ],
        );
        let ok = role == "clerk" || role == "supervisor";
        assert_eq!(code == 0, ok, "{role} record create: {err}");
        if !ok {
            assert!(err.contains("(403)"), "{role}: {err}");
        }
        let (code, _, err) = as_who(
            &d,
            role,
            &["record", "seal", &record, "--court-order", "CO-1"],
        );
        assert_eq!(code == 0, role == "supervisor", "{role} seal: {err}");
        if role == "supervisor" {
            let (code, _, err) = as_who(
                &d,
                "supervisor",
                &["record", "unseal", &record, "--court-order", "CO-1"],
            );
            assert_eq!(code, 0, "{err}");
        }
    }
}

/// Sealed and confidential records: content only to supervisors and auditors, each
/// read logged as their signed access entry before the content is returned.
#[test]
fn restricted_reads_are_logged_first() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "d", 20);
    let d = Daemon::start(&dir);
    let payload = tmp.path().join("p.json");
    std::fs::write(&payload, r#"{"juvenile":true}"#).unwrap();
    let (code, out, err) = as_who(
        &d,
        "clerk",
        &[
            "--json",
            "record",
            "create",
            "--type",
            "incident",
            "--payload",
            payload.to_str().unwrap(),
            "--confidential",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let id = serde_json::from_str::<Value>(&out).unwrap()["record"]
        .as_str()
        .unwrap()
        .to_string();
    let history = |who: &str| {
        let (code, out, err) = as_who(&d, who, &["--json", "record", "history", &id]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<Value>(&out).unwrap()
    };
    for who in ["clerk", "admin"] {
        let (code, out, err) = as_who(&d, who, &["record", "show", &id]);
        assert_eq!(code, 2, "{who} must not read it: {out}");
        assert!(err.contains("(403)"), "{who}: {err}");
        assert!(!out.contains("juvenile"));
    }
    assert_eq!(
        history("clerk").as_array().unwrap().len(),
        1,
        "refused reads log nothing"
    );
    for (n, who) in ["supervisor", "auditor"].iter().enumerate() {
        let (code, out, err) = as_who(&d, who, &["--json", "record", "show", &id]);
        assert_eq!(code, 0, "{who}: {err}");
        assert!(out.contains("juvenile"));
        let h = history(who);
        assert_eq!(h.as_array().unwrap().len(), 2 + n, "{h}");
        assert_eq!(h[1 + n]["action"], "access", "{h}");
    }
}

#[test]
fn script_through_server_matches_local() {
    let tmp = tempfile::tempdir().unwrap();
    let local = demo(tmp.path(), "local", 5);
    let remote = demo(tmp.path(), "remote", 5);
    let d = Daemon::start(&remote);
    let file = tmp.path().join("scan.bin");
    std::fs::write(
        &file,
        (0..200_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    let p1 = tmp.path().join("p1.json");
    let p2 = tmp.path().join("p2.json");
    std::fs::write(&p1, r#"{"offense":"theft","value":120}"#).unwrap();
    std::fs::write(&p2, r#"{"offense":"theft","value":1200}"#).unwrap();
    let script = |dir: &Path, server: Option<&str>| -> Vec<Value> {
        let key = dir.join("keys/clerk.key");
        let base: Vec<String> = match server {
            Some(u) => vec!["--server".into(), u.into()],
            None => vec!["--ledger".into(), dir.to_str().unwrap().into()],
        };
        let go = |args: &[&str]| -> Value {
            let mut all: Vec<&str> = base.iter().map(String::as_str).collect();
            all.extend(["--key", key.to_str().unwrap(), "--json"]);
            all.extend(args);
            let (code, out, err) = run(&all);
            assert_eq!(code, 0, "{args:?}: {err}");
            serde_json::from_str(&out).unwrap()
        };
        let created = go(&[
            "record",
            "create",
            "--type",
            "arrest",
            "--payload",
            p1.to_str().unwrap(),
            "--case",
            "24-0042",
            "--created-on",
            "2024-03-01",
        ]);
        let id = created["record"].as_str().unwrap().to_string();
        go(&["record", "amend", &id, "--payload", p2.to_str().unwrap()]);
        go(&[
            "record",
            "status",
            &id,
            "--status",
            "closed",
            "--date",
            "2024-06-30",
        ]);
        go(&["record", "attach", &id, file.to_str().unwrap()]);
        let mut show = go(&["record", "show", &id]);
        let atts = go(&["record", "attachments", &id]);
        let blob = atts[0]["blob"].as_str().unwrap().to_string();
        let out = dir.join("out.bin");
        go(&[
            "record",
            "get-attachment",
            &id,
            &blob,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&file).unwrap());
        let history: Vec<Value> = go(&["record", "history", &id])
            .as_array()
            .unwrap()
            .iter()
            .map(|h| json!([h["action"], h["person"]]))
            .collect();
        let listed = go(&["record", "list", "--case", "24-0042"]);
        assert_eq!(listed.as_array().unwrap().len(), 1);
        // What differs between two ledgers by construction: ids, hashes, sequence numbers.
        for k in [
            "id",
            "latest",
            "case",
            "first_seq",
            "last_seq",
            "last_change_ms",
        ] {
            show.as_object_mut().unwrap().remove(k);
        }
        let verified = go(&["verify"]);
        assert!(verified["problem"].is_null());
        vec![show, json!(history), json!(atts[0]["size"])]
    };
    let a = script(&local, None);
    let b = script(&remote, Some(&d.url));
    assert_eq!(a, b);
}

/// 32 clients append at once for a bounded time; every acknowledged change is in the
/// log exactly once, sequence numbers are dense, and the ledger verifies.
#[test]
fn concurrent_clients_group_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "d", 5);
    let d = Daemon::start(&dir);
    let before = head(&d);
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Instant::now() + Duration::from_secs(4);
    std::thread::scope(|s| {
        for t in 0..32 {
            let acked = acked.clone();
            let url = d.url.clone();
            let k = key(&dir.join(if t % 2 == 0 {
                "keys/clerk.key"
            } else {
                "keys/clerk2.key"
            }));
            s.spawn(move || {
                let c = Client::new(&url, k).unwrap();
                let mut i = 0;
                while Instant::now() < stop {
                    let (sub, _) = create_sub(&c, format!("{{\"t\":{t},\"i\":{i}}}").as_bytes());
                    let (o, _) = c.append(&[sub]).unwrap();
                    acked.lock().unwrap().push((o[0].seq(), t, i));
                    i += 1;
                }
            });
        }
    });
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 32, "only {} appends", acked.len());
    let seqs: BTreeSet<u64> = acked.iter().map(|a| a.0).collect();
    assert_eq!(seqs.len(), acked.len(), "a sequence number was given twice");
    let after = head(&d);
    assert_eq!(
        after,
        before + acked.len() as u64,
        "dense: nothing else appended"
    );
    assert_verifies(&d);
    assert_eq!(d.stop(), 0, "a clean shutdown");
}

/// kill -9 under load, restart: every acknowledged change is there.
#[test]
fn crash_under_load_keeps_acknowledged_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "d", 5);
    let d = Daemon::start(&dir);
    let acked = Arc::new(Mutex::new(Vec::new()));
    let url = d.url.clone();
    let workers: Vec<_> = (0..8)
        .map(|t| {
            let acked = acked.clone();
            let url = url.clone();
            let k = key(&dir.join("keys/clerk.key"));
            std::thread::spawn(move || {
                let c = Client::new(&url, k).unwrap();
                for i in 0.. {
                    let (sub, id) = create_sub(&c, format!("{{\"t\":{t},\"i\":{i}}}").as_bytes());
                    match c.append(&[sub]) {
                        Ok((o, _)) => acked.lock().unwrap().push((id, o[0].seq())),
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    d.kill();
    for w in workers {
        let _ = w.join();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(!acked.is_empty());
    let d = Daemon::start(&dir);
    let c = Client::new(&d.url, key(&dir.join("keys/auditor.key"))).unwrap();
    for (id, seq) in &acked {
        let h: Vec<Value> = c.get(&format!("/v1/records/{id}/history")).unwrap();
        assert_eq!(h.len(), 1, "record {id}");
        assert_eq!(h[0]["seq"].as_u64(), Some(*seq), "record {id}");
    }
    assert_verifies(&d);
}

/// docs/openapi.json names exactly the router's routes, with their roles.
#[test]
fn openapi_matches_router() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json"))
        .expect("docs/openapi.json");
    let doc: Value = serde_json::from_str(&text).expect("openapi.json is JSON");
    let mut documented = BTreeMap::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            let roles: Vec<String> = op["x-roles"]
                .as_array()
                .map(|a| a.iter().map(|r| r.as_str().unwrap().to_string()).collect())
                .unwrap_or_default();
            documented.insert((method.to_uppercase(), path.clone()), roles);
        }
    }
    let mut routed = BTreeMap::new();
    for r in blotter::daemon::routes::ROUTES {
        routed.insert(
            (r.method.to_string(), r.path.replace("{*path}", "{path}")),
            r.roles.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
        );
    }
    for p in blotter::daemon::routes::PUBLIC {
        routed.insert(
            ("GET".to_string(), p.replace("{*path}", "{path}")),
            Vec::new(),
        );
    }
    assert_eq!(documented, routed);
}

/// The public read side follows C2SP tlog-tiles; entry bundles need a signed request;
/// a backup taken under load restores and verifies against a checkpoint taken before.
#[test]
fn tiles_and_backup_under_load() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "d", 20);
    let d = Daemon::start(&dir);
    let admin = Client::new(&d.url, key(&dir.join("keys/admin.key"))).unwrap();
    let kept: Value = admin.post("/v1/checkpoints", &json!({})).unwrap();
    let size = kept["size"].as_u64().unwrap();
    let cp = tmp.path().join("cp.txt");
    std::fs::write(&cp, kept["note"].as_str().unwrap()).unwrap();
    let vkey = admin.info().unwrap().verifier_key;
    let width = |s: u64| {
        if s >= 256 {
            String::new()
        } else {
            format!(".p/{s}")
        }
    };
    let res = reqwest::blocking::get(format!("{}/tile/0/000{}", d.url, width(size))).unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.bytes().unwrap().len() as u64, 32 * size.min(256));
    let res = reqwest::blocking::get(format!("{}/tile/0/001", d.url)).unwrap();
    assert_eq!(res.status().as_u16(), 404, "no tile past the tree");
    let res = reqwest::blocking::get(format!("{}/tile/0/0", d.url)).unwrap();
    assert_eq!(res.status().as_u16(), 404, "not a canonical path");
    let bundle = format!("/tile/entries/000{}", width(size));
    let mut r = Raw::new("GET", &bundle);
    r.unsigned = true;
    assert_eq!(r.send(&d.url, &key(&dir.join("keys/clerk.key"))).0, 401);
    let (status, _) = Raw::new("GET", &bundle).send(&d.url, &key(&dir.join("keys/auditor.key")));
    assert_eq!(status, 200);

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let stop = stop.clone();
            let url = d.url.clone();
            let k = key(&dir.join("keys/clerk.key"));
            std::thread::spawn(move || {
                let c = Client::new(&url, k).unwrap();
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let (sub, _) = create_sub(&c, format!("{{\"t\":{t},\"n\":{n}}}").as_bytes());
                    c.append(&[sub]).unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let out = tmp.path().join("backup");
    let (code, stdout, err) = as_who(
        &d,
        "admin",
        &["--json", "backup", "--out", out.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(written > 0);
    assert!(summary["entries"].as_u64().unwrap() > size);
    // Only an admin may take one.
    let (code, _, err) = as_who(
        &d,
        "supervisor",
        &["backup", "--out", tmp.path().join("b2").to_str().unwrap()],
    );
    assert_eq!(code, 2);
    assert!(err.contains("(403)"), "{err}");
    assert!(!tmp.path().join("b2").exists());
    let (code, out2, err) = run(&[
        "--ledger",
        out.to_str().unwrap(),
        "--json",
        "verify",
        "--checkpoint",
        cp.to_str().unwrap(),
        "--ledger-key",
        &vkey,
    ]);
    assert_eq!(code, 0, "{out2} {err}");
}

/// What a job finished writing into `dir`: names starting with `prefix` (its temporary
/// files have other names).
fn finished(dir: &Path, prefix: &str) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The configured jobs: a checkpoint on a timer once the log grew, the retention report
/// and an online backup written into their folders.
#[test]
fn jobs_from_the_config_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "d", 10);
    let config = tmp.path().join("blotter.toml");
    let reports = tmp.path().join("reports");
    let backups = tmp.path().join("backups");
    std::fs::write(
        &config,
        format!(
            "checkpoint_secs = 1\n[report]\ndir = {:?}\nevery_secs = 1\n[backup]\ndir = {:?}\nevery_secs = 1\n",
            reports, backups
        ),
    )
    .unwrap();
    let d = Daemon::start_with(&dir, &["--config", config.to_str().unwrap()]);
    let c = Client::new(&d.url, key(&dir.join("keys/clerk.key"))).unwrap();
    let (sub, _) = create_sub(&c, b"{\"job\":1}");
    let (_, grown) = c.append(&[sub]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let latest: Value = c.get("/v1/checkpoints/latest").unwrap();
        let report = finished(&reports, "retention-").len();
        let backup = finished(&backups, "backup-").len();
        if latest["size"].as_u64() == Some(grown) && report > 0 && backup > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "jobs did not run: {latest} {report} {backup}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let report = finished(&reports, "retention-")[0].clone();
    let doc: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert!(doc["summary"]["records"].as_u64().unwrap() > 0, "{doc}");
    drop(d);
    let backup = finished(&backups, "backup-")[0].clone();
    let (code, out, err) = run(&["--ledger", backup.to_str().unwrap(), "--json", "verify"]);
    assert_eq!(code, 0, "{out} {err}");
    // A wrong config file is refused with file:line:column, and nothing is served.
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nbogus = 1\n").unwrap();
    let (code, _, err) = run(&[
        "--ledger",
        dir.to_str().unwrap(),
        "serve",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("blotter.toml:2:1"), "{err}");
    // A non-loopback address without TLS is refused.
    let (code, _, err) = run(&[
        "--ledger",
        dir.to_str().unwrap(),
        "serve",
        "--listen",
        "0.0.0.0:0",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("only loopback"), "{err}");
}

/// Review findings, pinned: no import source references through the API; an upload
/// never replaces another blob; with `public_url`, a request signed for another host is
/// refused.
#[test]
fn api_refuses_sources_blob_overwrites_and_other_hosts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "d", 10);
    {
        let l = blotter::ledger::Ledger::open(&dir).unwrap();
        let rid = l
            .list(&Default::default())
            .unwrap()
            .into_iter()
            .find(|r| r.disposed.is_none())
            .unwrap()
            .id;
        let salt = [9u8; 32];
        let first = l
            .stage_attachment_salted(&rid, &mut &b"scan"[..], salt)
            .unwrap();
        let again = l.stage_attachment_salted(&rid, &mut &b"scan"[..], salt);
        assert!(
            again.is_err(),
            "a second blob of the same name must be refused"
        );
        let path = dir.join("blobs").join(hex::encode(first.commitment));
        assert!(path.is_file(), "the first blob stays");
    }
    let config = tmp.path().join("c.toml");
    std::fs::write(
        &config,
        "public_url = \"http://records.example.test:7000\"\n",
    )
    .unwrap();
    let d = Daemon::start_with(&dir, &["--config", config.to_str().unwrap()]);
    let clerk = key(&dir.join("keys/clerk.key"));
    let mut r = Raw::new("GET", "/v1/whoami");
    r.host = Some("records.example.test:7000".into());
    assert_eq!(r.send(&d.url, &clerk).0, 200, "the configured host");
    let (status, text) = Raw::new("GET", "/v1/whoami").send(&d.url, &clerk);
    assert_eq!(status, 401, "signed for another host: {text}");
    let mut r = Raw::new("GET", "/v1/whoami");
    r.host = Some("other.example.test:7000".into());
    assert_eq!(r.send(&d.url, &clerk).0, 401);
    drop(d);

    let d = Daemon::start(&dir);
    let c = Client::new(&d.url, clerk.clone()).unwrap();
    let (mut sub, _) = create_sub(&c, b"{}");
    sub.source = Some(("RMS-1".into(), "RMS-1/1".into()));
    let body = json!({"submissions": [blotter::api::SubmissionWire::from_submission(&sub)]});
    let before = head(&d);
    let (status, text) = Raw::new("POST", "/v1/changes")
        .json(&body)
        .send(&d.url, &clerk);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("import"), "{text}");
    assert_eq!(head(&d), before);
}

/// A request with many changes (checked off the async workers): one change signed by
/// another key refuses the whole request and writes nothing; all the caller's own are
/// appended in order.
#[test]
fn many_changes_in_one_request() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "d", 5);
    let d = Daemon::start(&dir);
    let clerk = Client::new(&d.url, key(&dir.join("keys/clerk.key"))).unwrap();
    let other = Client::new(&d.url, key(&dir.join("keys/clerk2.key"))).unwrap();
    let before = head(&d);
    let mut subs: Vec<_> = (0..20)
        .map(|i| create_sub(&clerk, format!(r#"{{"n":{i}}}"#).as_bytes()).0)
        .collect();
    let (stranger, _) = create_sub(&other, br#"{"n":"x"}"#);
    let mut mixed = subs.clone();
    mixed[13] = stranger;
    let e = clerk.append(&mixed).unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");
    assert!(e.to_string().contains("change 13"), "{e}");
    assert_eq!(head(&d), before, "nothing written");
    let (outcomes, size) = clerk.append(&subs).unwrap();
    assert_eq!(outcomes.len(), 20);
    let seqs: Vec<u64> = outcomes.iter().map(|o| o.seq()).collect();
    assert_eq!(seqs, (before..before + 20).collect::<Vec<_>>());
    assert_eq!(size, before + 20);
    // Again: every change is already recorded, at the same sequence numbers.
    subs.truncate(10);
    let (again, _) = clerk.append(&subs).unwrap();
    assert_eq!(
        again.iter().map(|o| o.seq()).collect::<Vec<_>>(),
        seqs[..10].to_vec()
    );
    assert_verifies(&d);
}

/// The framework's own rejections (a body that is not the request's JSON, a wrong
/// method) come back with the API's JSON error body, and write nothing.
#[test]
fn framework_rejections_are_json_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path(), "d", 5);
    let d = Daemon::start(&dir);
    let clerk = key(&dir.join("keys/clerk.key"));
    let before = head(&d);
    let cases = [
        (
            Raw::new("POST", "/v1/changes").json(&json!({"submissions": 5})),
            422,
        ),
        (
            Raw {
                body: b"{not json".to_vec(),
                ..Raw::new("POST", "/v1/changes")
            },
            400,
        ),
        (Raw::new("GET", "/v1/no-such-route"), 404),
        // A wrong method on a public route (the authenticated ones answer 404 JSON).
        (Raw::new("POST", "/checkpoint"), 405),
    ];
    for (raw, want) in cases {
        let (status, text) = raw.send(&d.url, &clerk);
        assert_eq!(status, want, "{} {}: {text}", raw.method, raw.path);
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} {}: not JSON ({e}): {text}", raw.method, raw.path));
        let error = v["error"].as_str().unwrap_or_default();
        assert!(!error.is_empty(), "{} {}: {text}", raw.method, raw.path);
        assert!(!error.contains(dir.to_str().unwrap()), "{text}");
    }
    assert_eq!(head(&d), before);
}
