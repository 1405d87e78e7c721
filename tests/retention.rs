//! Retention through the real binary: schedules, holds, reports, two-person purges,
//! court orders and certificates (DESIGN.md invariant 5 from every side).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::blotter;
use serde_json::Value;

const SCHEDULE: &str = "tests/fixtures/schedule-test.toml";
const AS_OF: &str = "2026-06-01";

struct Unit {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Unit {
    /// A small demo ledger with the test schedule adopted.
    fn new() -> Unit {
        let tmp = tempfile::tempdir().unwrap();
        let dir = common::demo(tmp.path(), "ledger", 3);
        let u = Unit { _tmp: tmp, dir };
        u.ok("supervisor", &["schedule", "adopt", SCHEDULE]);
        u
    }
    fn key(&self, who: &str) -> PathBuf {
        self.dir.join("keys").join(format!("{who}.key"))
    }
    fn run(&self, who: Option<&str>, args: &[&str]) -> Output {
        let mut c = blotter();
        c.arg("--ledger").arg(&self.dir);
        if let Some(w) = who {
            c.arg("--key").arg(self.key(w));
        }
        c.args(args).output().unwrap()
    }
    fn ok(&self, who: &str, args: &[&str]) -> Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = self.run(Some(who), &a);
        assert!(
            out.status.success(),
            "{args:?} as {who}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
    /// Runs a command that must be refused (exit 2) and returns its stderr.
    fn refused(&self, who: &str, args: &[&str]) -> String {
        let out = self.run(Some(who), args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?} as {who} must be refused: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
    fn create(&self, created_on: &str, case: Option<&str>, summary: &str) -> String {
        let p = self.dir.join("payload.json");
        std::fs::write(&p, format!(r#"{{"summary":"{summary}"}}"#)).unwrap();
        let mut args = vec![
            "record",
            "create",
            "--type",
            "incident",
            "--created-on",
            created_on,
            "--payload",
            p.to_str().unwrap(),
        ];
        if let Some(c) = case {
            args.extend(["--case", c]);
        }
        self.ok("clerk", &args)["record"]
            .as_str()
            .unwrap()
            .to_string()
    }
    fn head(&self) -> u64 {
        let out = self.run(None, &["--json", "verify"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(v["problem"].is_null(), "{v}");
        v["entries"].as_u64().unwrap()
    }
    fn report(&self) -> Vec<Value> {
        let out = self.run(None, &["--json", "retention", "report", "--as-of", AS_OF]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["records"].as_array().unwrap().clone()
    }
    fn status_of(&self, id: &str) -> String {
        self.report()
            .iter()
            .find(|o| o["record"] == id)
            .map(|o| o["status"].as_str().unwrap().to_string())
            .unwrap_or_else(|| "absent".into())
    }
}

fn scan_for(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    for e in walk(dir) {
        if let Ok(b) = std::fs::read(&e) {
            if b.windows(needle.len()).any(|w| w == needle) {
                hits.push(e);
            }
        }
    }
    hits
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn schedules_are_checked_and_adopted_whole() {
    let u = Unit::new();
    // The demo adopted its own schedule first; the test schedule, adopted last, is in force.
    let list = u.ok("auditor", &["schedule", "list"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["state"], "DEMO");
    assert_eq!(list[0]["in_force"], false);
    assert_eq!(list[1]["state"], "XX");
    assert_eq!(list[1]["in_force"], true);

    let bad = [
        (
            "bad-toml.toml",
            "format = 1\nstate = \"XX\"\ntitle = [\n",
            ":3:",
        ),
        (
            "unknown-trigger.toml",
            &std::fs::read_to_string(SCHEDULE)
                .unwrap()
                .replace("trigger = \"created\"", "trigger = \"arrival_of_spring\""),
            "arrival_of_spring",
        ),
        (
            "negative.toml",
            &std::fs::read_to_string(SCHEDULE)
                .unwrap()
                .replace("years = 2", "years = -2"),
            ":14:",
        ),
        (
            "no-authority.toml",
            &std::fs::read_to_string(SCHEDULE)
                .unwrap()
                .replace("authority = \"TEST-1\"\n", ""),
            "authority",
        ),
    ];
    let head = u.head();
    for (name, text, needle) in bad {
        let f = u.dir.join(name);
        std::fs::write(&f, text).unwrap();
        let f = f.to_str().unwrap();
        let e = u.refused("supervisor", &["schedule", "check", f]);
        assert!(e.contains(name) && e.contains(needle), "{name}: {e}");
        let e = u.refused("supervisor", &["schedule", "adopt", f]);
        assert!(e.contains(name), "{name}: {e}");
    }
    assert_eq!(u.head(), head, "a refused schedule writes nothing");
    // A clerk may not adopt a schedule.
    u.refused("clerk", &["schedule", "adopt", SCHEDULE]);
}

#[test]
fn holds_block_and_purges_need_a_second_person() {
    let u = Unit::new();
    let old = u.create("2020-01-01", None, "eligible one");
    let held = u.create("2020-01-02", None, "held by record");
    let cased = u.create("2020-01-03", Some("C-9"), "held by case");
    let young = u.create("2026-01-01", None, "not yet eligible");
    let hold = u.ok(
        "supervisor",
        &[
            "hold",
            "place",
            "--kind",
            "litigation",
            "--authority",
            "Doe v. City",
            &held,
        ],
    )["record"]
        .as_str()
        .unwrap()
        .to_string();
    u.ok(
        "supervisor",
        &[
            "hold",
            "place",
            "--kind",
            "records-request",
            "--authority",
            "PRR-77",
            "--case",
            "C-9",
        ],
    );
    // A record added to the held case later is held too.
    let later = u.create("2020-01-04", Some("C-9"), "added to the case later");
    assert_eq!(u.status_of(&old), "eligible");
    assert_eq!(u.status_of(&held), "blocked");
    assert_eq!(u.status_of(&cased), "blocked");
    assert_eq!(u.status_of(&later), "blocked");
    assert_eq!(u.status_of(&young), "not_yet");
    let e = u.refused("auditor", &["retention", "report", "--status", "eligibel"]);
    assert!(e.contains("use one of"), "{e}");
    // The ledger's own records take no record changes.
    let p = u.dir.join("payload.json");
    let hold_id = u.ok("auditor", &["hold", "list"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let e = u.refused(
        "supervisor",
        &[
            "record",
            "amend",
            &hold_id,
            "--payload",
            p.to_str().unwrap(),
        ],
    );
    assert!(e.contains("ledger's own hold record"), "{e}");
    // A clerk may not place holds.
    u.refused(
        "clerk",
        &["hold", "place", "--kind", "audit", "--authority", "X", &old],
    );

    let plan = u.ok("supervisor", &["purge", "plan", "--as-of", AS_OF]);
    let id = plan["plan"].as_str().unwrap().to_string();
    let shown = u.ok("auditor", &["purge", "show", &id]);
    let planned: Vec<&str> = shown["plan"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["record"].as_str().unwrap())
        .collect();
    assert!(planned.contains(&old.as_str()));
    for r in [&held, &cased, &later, &young] {
        assert!(!planned.contains(&r.as_str()), "{r} must not be planned");
    }

    // Unapproved: nothing happens. The planner cannot approve, not even with another
    // key of the same person.
    let e = u.refused("supervisor", &["purge", "apply", &id]);
    assert!(e.contains("not approved"), "{e}");
    let e = u.refused("supervisor", &["purge", "approve", &id]);
    assert!(e.contains("two-person"), "{e}");
    let second = u.dir.join("keys").join("supervisor-b.key");
    let out = u.run(None, &["key", "new", "--out", second.to_str().unwrap()]);
    assert!(out.status.success());
    let public = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let public = public.split_whitespace().last().unwrap().to_string();
    u.ok(
        "admin",
        &[
            "key",
            "register",
            &public,
            "--person",
            "S-220",
            "--role",
            "supervisor",
        ],
    );
    let e = u.refused("supervisor-b", &["purge", "approve", &id]);
    assert!(e.contains("two-person"), "{e}");
    let head = u.head();
    u.refused("supervisor", &["purge", "apply", &id]);
    assert_eq!(u.head(), head, "nothing written by a refused apply");

    u.ok("supervisor2", &["purge", "approve", &id]);
    // A hold placed between approval and apply removes the record from the purge.
    let released = u.create("2020-02-01", None, "will be released");
    u.ok("supervisor", &["hold", "release", &hold]);
    assert_eq!(u.status_of(&held), "eligible");
    let _ = released;
    let late_hold = u.ok(
        "supervisor",
        &[
            "hold",
            "place",
            "--kind",
            "audit",
            "--authority",
            "SAO-2026",
            &old,
        ],
    );
    assert!(late_hold["record"].is_string());
    let applied = u.ok("supervisor", &["purge", "apply", &id]);
    let nd = applied["not_disposed"].as_array().unwrap();
    assert!(
        nd.iter().any(|n| n["record"] == old.as_str()
            && n["why"].as_str().unwrap().contains("SAO-2026")),
        "{applied}"
    );
    let e = u.refused("supervisor", &["purge", "apply", &id]);
    assert!(e.contains("already applied"), "{e}");
    // The certificate states the hold check: held back at planning and at apply.
    let cert = u.ok("auditor", &["purge", "certificate", &id]);
    let c = &cert["certificate"];
    assert!(
        c["left_out_at_planning"]["blocked"].as_u64().unwrap() >= 3,
        "{c}"
    );
    assert!(
        c["not_disposed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["record"] == old.as_str()),
        "{c}"
    );
    assert!(!c["records"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r == old.as_str()));
    // The held record is intact and readable.
    u.ok("clerk", &["record", "show", &old]);
}

#[test]
fn an_applied_purge_destroys_certifies_and_still_verifies() {
    let u = Unit::new();
    let marker = "DISTINCTIVE-PLAINTEXT-7f3a9c";
    let gone = u.create("2019-05-05", None, marker);
    let kept = u.create("2026-02-02", None, "kept record");
    let plan = u.ok("supervisor", &["purge", "plan", "--as-of", AS_OF]);
    let id = plan["plan"].as_str().unwrap().to_string();
    u.ok("supervisor2", &["purge", "approve", &id]);
    let applied = u.ok("supervisor", &["purge", "apply", &id]);
    assert!(applied["disposed_now"].as_u64().unwrap() >= 1, "{applied}");
    assert!(applied["certificate_seq"].is_u64());

    // The destroyed record's content cannot be read; the kept one can.
    let out = u.run(Some("clerk"), &["record", "show", &gone]);
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("dispos") || e.contains("destroy"), "{e}");
    u.ok("clerk", &["record", "show", &kept]);
    assert!(scan_for(&u.dir, marker.as_bytes()).is_empty());

    // verify passes and reports the disposal by its plan and item.
    let out = u.run(None, &["--json", "verify"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = v["disposed"].as_array().unwrap();
    let row = d.iter().find(|r| r["record"] == gone.as_str()).unwrap();
    assert_eq!(row["authority"], id.as_str());
    assert_eq!(row["item"], "T-1");

    // The certificate: signed JSON and a page.
    let cert = u.ok("auditor", &["purge", "certificate", &id]);
    let c = &cert["certificate"];
    assert_eq!(c["approved_by"], "S-231");
    assert_eq!(c["planned_by"], "S-220");
    assert!(c["records"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r == gone.as_str()));
    assert_eq!(c["schedule"]["version"], "2026-1");
    let out = u.run(None, &["purge", "certificate", &id, "--text"]);
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.contains("CERTIFICATE OF RECORDS DESTRUCTION") && page.contains(&gone),
        "{page}"
    );

    // A disposed record takes no further change.
    let p = u.dir.join("payload.json");
    let out = u.run(
        Some("clerk"),
        &["record", "amend", &gone, "--payload", p.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn court_orders_need_a_second_person_and_dispose_outside_the_schedule() {
    let u = Unit::new();
    let young = u.create("2026-03-03", None, "expunge me");
    let held = u.create("2026-03-05", None, "expunge me after the hold");
    let to_seal = u.create("2026-03-04", None, "seal me");
    let hold = u.ok(
        "supervisor",
        &[
            "hold",
            "place",
            "--kind",
            "investigation",
            "--authority",
            "IA-7",
            &held,
        ],
    )["record"]
        .as_str()
        .unwrap()
        .to_string();
    let order = u.ok(
        "supervisor",
        &[
            "order",
            "record",
            "--court-order",
            "CR-26-1001",
            "--action",
            "expunge",
            &young,
            &held,
        ],
    )["record"]
        .as_str()
        .unwrap()
        .to_string();
    let e = u.refused("supervisor", &["order", "approve", &order]);
    assert!(e.contains("two-person"), "{e}");
    // Approved and carried out, except for the held record: the order stays open.
    let done = u.ok("admin", &["order", "approve", &order]);
    assert_eq!(done["disposed_now"], 1, "{done}");
    assert!(done["certificate_seq"].is_null(), "{done}");
    let out = u.run(None, &["purge", "certificate", &order]);
    assert_eq!(out.status.code(), Some(2));
    u.ok("clerk", &["record", "show", &held]);
    u.ok("supervisor", &["hold", "release", &hold]);
    let done = u.ok("admin", &["order", "apply", &order]);
    assert_eq!(done["disposed_now"], 1, "{done}");
    assert_eq!(done["already_disposed"], 1, "{done}");
    let cert = u.ok("auditor", &["purge", "certificate", &order]);
    assert_eq!(cert["certificate"]["record_count"], 2);
    assert_eq!(cert["certificate"]["court_order"], "CR-26-1001");

    let seal = u.ok(
        "supervisor",
        &[
            "order",
            "record",
            "--court-order",
            "CR-26-1002",
            "--action",
            "seal",
            &to_seal,
        ],
    )["record"]
        .as_str()
        .unwrap()
        .to_string();
    // A plan is not an order, and an order is not a plan.
    let e = u.refused("admin", &["purge", "approve", &seal]);
    assert!(e.contains("not a purge-plan"), "{e}");
    // A hold does not stop sealing. An administrator's approval is recorded; sealing
    // is a supervisor's change, so a supervisor carries the order out.
    u.ok(
        "supervisor",
        &[
            "hold",
            "place",
            "--kind",
            "litigation",
            "--authority",
            "X v. Y",
            &to_seal,
        ],
    );
    let done = u.ok("admin", &["order", "approve", &seal]);
    assert_eq!(done["applied"], false, "{done}");
    let done = u.ok("supervisor2", &["order", "apply", &seal]);
    assert_eq!(done["sealed"], 1, "{done}");
    let shown = u.run(Some("clerk"), &["--json", "record", "show", &to_seal]);
    assert_eq!(
        shown.status.code(),
        Some(2),
        "a sealed record is not shown to a clerk"
    );
    assert_eq!(u.run(None, &["verify"]).status.code(), Some(0));
}

#[test]
fn the_demo_adopts_a_schedule_covering_every_record_type_and_purges() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = common::demo(tmp.path(), "demo", 200);
    let out = blotter()
        .arg("--ledger")
        .arg(&dir)
        .args(["--json", "retention", "report"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["schedule"]["state"], "DEMO");
    let by = &v["summary"]["by_status"];
    assert!(
        by.get("uncovered").is_none(),
        "every demo type is covered: {by}"
    );
    // The demo ran a purge and a court order, both certified, and still verifies.
    let plans = blotter()
        .arg("--ledger")
        .arg(&dir)
        .args(["--json", "purge", "list"])
        .output()
        .unwrap();
    let plans: Value = serde_json::from_slice(&plans.stdout).unwrap();
    assert!(plans[0]["certified"].is_u64(), "{plans}");
    let v = common::assert_clean(&dir, &[], "demo after its purge");
    let _ = v;
}
