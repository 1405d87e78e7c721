//! `blotter demo`: a realistic demo ledger, built end to end through the library.
//!
//! People: two administrators, two supervisors, two clerks and an auditor, with keys in
//! `DIR/keys/`. Records of every type over several years, amendments, status changes,
//! attachments, a sealed record, a confidential juvenile record read by the auditor
//! (logged). A demo state archives witness (key in `DIR/keys/witness.key`) registered
//! and cosigning a checkpoint. Then a full verification.

mod archive;
mod retention;

use std::path::Path;

use ed25519_dalek::SigningKey;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::json;

use crate::crypto::keyfile;
use crate::format::{AccessTarget, Action, Date, RecordStatus, Role};
use crate::ledger::verify::VerifyOptions;
use crate::ledger::{Draft, InitOptions, Ledger, LedgerError, Settings};

const MARKER: &str = ".blotter-demo";

#[derive(Debug, Serialize)]
pub struct Summary {
    pub dir: String,
    pub entries: u64,
    pub records: usize,
    pub head: String,
    pub verified: bool,
    pub problem: Option<String>,
    pub sealed_record: String,
    pub confidential_record: String,
    /// Size of the checkpoint the demo witness cosigned.
    pub checkpoint: u64,
    /// The ledger's checkpoint verifier key.
    pub verifier_key: String,
    /// Schedule adoption, holds, a purge and a court order.
    pub retention: retention::RetentionRound,
    /// The transfer of the plan's transfer records to the state archives.
    pub archive: Option<archive::ArchiveRound>,
}

impl Summary {
    pub fn text(&self) -> String {
        let r = &self.retention;
        let plan = r.plan.as_deref().unwrap_or("PLAN");
        let retention = format!(
            "\nretention: {}; {} records destroyed by an approved purge, {} eligible ones held back by legal holds, 1 expunged by court order\n  blotter --ledger {dir} retention report --status eligible\n  blotter --ledger {dir} hold list\n  blotter --ledger {dir} purge certificate {plan} --text",
            r.schedule,
            r.disposed,
            r.held_back,
            dir = self.dir,
        );
        let main = format!(
            "demo ledger in {dir}: {} entries, {} records; verify: {}\nhead {}:{}\ntry:\n  blotter --ledger {dir} --key {dir}/keys/clerk.key record list --type arrest\n  blotter --ledger {dir} --key {dir}/keys/auditor.key record show {}   (sealed: the read is logged)\n  blotter --ledger {dir} verify\n  blotter --ledger {dir} checkpoint show        (cosigned by the demo state archives witness)\n  blotter --ledger {dir} proof inclusion --seq 5 --entry-out e5.bin > p5.txt\n  blotter --ledger {dir} checkpoint show > c.txt\n  blotter audit inclusion --ledger-key {vkey} --checkpoint c.txt --entry e5.bin --proof p5.txt",
            self.entries,
            self.records,
            if self.verified { "ok".to_string() } else { format!("FAILED: {}", self.problem.clone().unwrap_or_default()) },
            self.entries,
            self.head,
            self.sealed_record,
            dir = self.dir,
            vkey = self.verifier_key,
        );
        let archive = match &self.archive {
            Some(a) => format!(
                "\narchive: {} records transferred to the state archives as {} (age identity {}), live copies destroyed\n  blotter archive verify {} -i {} --ledger-key {vkey}\n  blotter archive restore {} -i {} --ledger-key {vkey} --into restored",
                a.records, a.archive, a.identity, a.archive, a.identity, a.archive, a.identity,
                vkey = self.verifier_key,
            ),
            None => String::new(),
        };
        main + &retention + &archive
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0} exists and is not a demo ledger; choose another folder")]
    NotDemo(String),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Key(#[from] keyfile::KeyFileError),
    #[error(transparent)]
    Archive(#[from] crate::archive::ArchiveError),
}

const PEOPLE: &[(&str, &str, Role)] = &[
    ("admin2", "A-002", Role::Admin),
    ("supervisor", "S-220", Role::Supervisor),
    ("supervisor2", "S-231", Role::Supervisor),
    ("clerk", "C-104", Role::Clerk),
    ("clerk2", "C-117", Role::Clerk),
    ("auditor", "AU-7", Role::Auditor),
];

const STREETS: &[&str] = &[
    "Main St",
    "Oak Ave",
    "5th St",
    "Harbor Blvd",
    "Pine Rd",
    "Mill Creek Dr",
    "Lincoln Way",
];

fn payload(rng: &mut impl Rng, t: &str, n: usize) -> serde_json::Value {
    let class = if rng.gen_bool(0.3) {
        "felony"
    } else {
        "misdemeanor"
    };
    json!({
        "summary": format!("{t} report #{n}"),
        "location": format!("{} {}", rng.gen_range(100..9999), STREETS[rng.gen_range(0..STREETS.len())]),
        "officer": format!("B-{}", rng.gen_range(1000..1100)),
        "offense_class": class,
        "narrative_pages": rng.gen_range(1..12),
    })
}

/// Builds the demo in `dir` (replacing an earlier demo there) and verifies it.
pub fn build(dir: &Path, records: usize, log: &dyn Fn(&str)) -> Result<Summary, DemoError> {
    let io = |e| DemoError::Io(dir.display().to_string(), e);
    if dir.exists() {
        if !dir.join(MARKER).exists() {
            return Err(DemoError::NotDemo(dir.display().to_string()));
        }
        std::fs::remove_dir_all(dir).map_err(io)?;
    }
    let admin = SigningKey::generate(&mut rand::rngs::OsRng);
    let opts = InitOptions {
        origin: "demo.blotter.example/pd".into(),
        admin_person: "A-001".into(),
        settings: Settings::default(),
        ledger_key_path: None,
    };
    let mut l = Ledger::init(dir, &admin, opts)?;
    std::fs::write(
        dir.join(MARKER),
        "a demo ledger made by `blotter demo`; it may be replaced\n",
    )
    .map_err(io)?;
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).map_err(io)?;
    keyfile::save(&keys.join("admin.key"), &admin, None)?;
    log(&format!(
        "created ledger {} with its first administrator",
        dir.display()
    ));

    let mut people = std::collections::HashMap::new();
    let mut regs = Vec::new();
    for (name, person, role) in PEOPLE {
        let k = keyfile::create(&keys.join(format!("{name}.key")), None)?;
        let action = Action::KeyRegister {
            key: k.verifying_key().to_bytes(),
            person: (*person).into(),
            role: *role,
            replaces: None,
        };
        regs.push(l.sign(&admin, Draft::new_record("key", today(), action))?);
        people.insert(*name, k);
    }
    l.append(regs)?;
    log(&format!("registered {} people", PEOPLE.len()));

    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let types: Vec<String> = l
        .settings()
        .record_types
        .iter()
        .filter(|t| *t != "juvenile")
        .cloned()
        .collect();
    let clerks = [&people["clerk"], &people["clerk2"]];
    let start = jiff::civil::date(2019, 1, 1);
    let mut made: Vec<([u8; 16], String)> = Vec::with_capacity(records);
    let mut done = 0;
    while done < records {
        let n = (records - done).min(1000);
        let mut batch = Vec::with_capacity(n * 3);
        for i in done..done + n {
            let t = &types[i % types.len()];
            let created = start
                .checked_add(jiff::Span::new().days(rng.gen_range(0..2850)))
                .unwrap_or(start);
            let created = Date::from_civil(created).unwrap_or(Date {
                year: 2019,
                month: 1,
                day: 1,
            });
            let clerk = clerks[i % 2];
            let actor = clerk.verifying_key().to_bytes();
            let mut d = Draft::new_record(
                t,
                created,
                Action::RecordCreate {
                    confidential: false,
                },
            );
            d.content = Some(payload(&mut rng, t, i).to_string().into_bytes());
            if matches!(t.as_str(), "incident" | "arrest" | "collision" | "evidence") {
                d.case_number = Some(format!(
                    "{}-{:05}",
                    created.year % 100,
                    rng.gen_range(1..40000)
                ));
            }
            let id = d.record;
            let p = l.prepare(&actor, d)?;
            let (mut prev, case) = (p.hash, p.case);
            batch.push((p, clerk));
            let follow = |action: Action, content: Option<Vec<u8>>, prev: [u8; 32]| {
                let mut d = Draft::new_record(t, created, action);
                d.record = id;
                d.record_prev = prev;
                d.case = case;
                d.content = content;
                d
            };
            if rng.gen_bool(0.4) {
                let p = l.prepare(
                    &actor,
                    follow(
                        Action::RecordAmend,
                        Some(payload(&mut rng, t, i).to_string().into_bytes()),
                        prev,
                    ),
                )?;
                prev = p.hash;
                batch.push((p, clerk));
            }
            if rng.gen_bool(0.6) {
                let closed = created
                    .to_civil()
                    .checked_add(jiff::Span::new().days(rng.gen_range(5..400)))
                    .unwrap_or(created.to_civil());
                let date =
                    Date::from_civil(closed.min(jiff::civil::date(2026, 11, 1))).unwrap_or(created);
                let p = l.prepare(
                    &actor,
                    follow(
                        Action::RecordStatus {
                            status: RecordStatus::Closed,
                            date,
                        },
                        None,
                        prev,
                    ),
                )?;
                batch.push((p, clerk));
            }
            made.push((id, t.clone()));
        }
        let subs: Vec<_> = batch.into_par_iter().map(|(p, k)| p.sign(k)).collect();
        l.append(subs)?;
        done += n;
        log(&format!("entered {done} records"));
    }

    // Attachments: scans of a few records.
    for (i, (id, _)) in made.iter().take(5).enumerate() {
        let scan: Vec<u8> = (0..(20_000 + i * 7919))
            .map(|j| (j * 31 % 251) as u8)
            .collect();
        let staged = l.stage_attachment(id, &mut &scan[..])?;
        let mut d = l.draft(
            id,
            Action::RecordAttach {
                blob: staged.commitment,
                size: staged.size,
            },
        )?;
        d.side_doc = Some(
            json!({"file_name": format!("scan-{i}.pdf")})
                .to_string()
                .into_bytes(),
        );
        d.attachment = Some(staged);
        let sub = l.sign(clerks[0], d)?;
        l.append(vec![sub])?;
    }
    log("attached 5 scans");

    // A sealed arrest record, on court order.
    let sealed = made
        .iter()
        .find(|(_, t)| t == "arrest")
        .map(|(id, _)| *id)
        .unwrap_or(made[0].0);
    let mut d = l.draft(&sealed, Action::RecordSeal)?;
    d.side_doc = Some(
        json!({"court_order": "CO-2026-0142"})
            .to_string()
            .into_bytes(),
    );
    let sub = l.sign(&people["supervisor"], d)?;
    l.append(vec![sub])?;

    // A confidential juvenile record, read by the auditor (the read is logged first).
    let mut d = Draft::new_record(
        "juvenile",
        Date {
            year: 2025,
            month: 3,
            day: 14,
        },
        Action::RecordCreate {
            confidential: false,
        },
    );
    d.content = Some(
        json!({"summary": "juvenile contact", "officer": "B-1042"})
            .to_string()
            .into_bytes(),
    );
    let juvenile = d.record;
    let sub = l.sign(clerks[1], d)?;
    l.append(vec![sub])?;
    let st = l
        .record(&juvenile)?
        .ok_or_else(|| LedgerError::NoRecord(hex::encode(juvenile)))?;
    let access = l.draft(
        &juvenile,
        Action::Access {
            target: AccessTarget::Payload,
            change: st.content.unwrap_or([0; 32]),
        },
    )?;
    let access = l.sign(&people["auditor"], access)?;
    l.read_content(&juvenile, Some(access))?;
    log("sealed one record on court order; logged the auditor's read of a confidential record");
    let retention = retention::round(&mut l, &people, &made, log)?;
    let archive = archive::transfer_round(dir, &mut l, &admin, retention.plan.as_deref(), log)?;
    let checkpoint = witness_round(dir, &mut l, &admin)?;
    log(&format!(
        "signed checkpoint {checkpoint} with the ledger key; the demo state archives witness cosigned it"
    ));

    let report = l.verify(&VerifyOptions::default(), &|_| {})?;
    Ok(Summary {
        dir: dir.display().to_string(),
        entries: report.entries,
        records: made.len() + 1,
        head: report.head.clone(),
        verified: report.ok(),
        problem: report
            .problem
            .map(|p| format!("entry {}: {}", p.seq, p.what)),
        sealed_record: hex::encode(sealed),
        confidential_record: hex::encode(juvenile),
        checkpoint,
        verifier_key: l.verifier_key()?,
        retention,
        archive,
    })
}

/// The name of the demo's outside witness (the state archives, played by the demo).
pub const DEMO_WITNESS: &str = "archives.demo-state.example/witness";

/// Registers a demo witness (key in `DIR/keys/witness.key`), signs a checkpoint with the
/// ledger key and has the witness cosign it, as `docs/WITNESS.md` describes. Returns the
/// checkpoint's size.
fn witness_round(dir: &Path, l: &mut Ledger, admin: &SigningKey) -> Result<u64, DemoError> {
    use crate::merkle::{cosignature, note::Note};
    let witness = SigningKey::generate(&mut rand::rngs::OsRng);
    keyfile::save(&dir.join("keys").join("witness.key"), &witness, None)?;
    let action = Action::WitnessRegister {
        key: witness.verifying_key().to_bytes(),
        name: DEMO_WITNESS.into(),
    };
    let reg = l.sign(admin, Draft::new_record("witness", today(), action))?;
    l.append(vec![reg])?;
    let ledger_key = keyfile::load(&l.checkpoint_key_path(), || None)?;
    let kept = l.sign_checkpoint(&ledger_key)?;
    let invalid = |e: crate::merkle::note::NoteError| LedgerError::Invalid(e.to_string());
    let mut note = Note::parse(&kept.note).map_err(invalid)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let line = cosignature::cosign(note.text(), DEMO_WITNESS, &witness, now).map_err(invalid)?;
    note.push_signature_lines(&line).map_err(invalid)?;
    l.add_cosignatures(&note.encode().map_err(invalid)?)?;
    Ok(kept.size)
}

fn today() -> Date {
    crate::ledger::append::today()
}
