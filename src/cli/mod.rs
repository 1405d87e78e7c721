//! The `blotter` CLI: parse, open what the command needs, call the library, print.
//!
//! A command's result goes to stdout (as one JSON document with `--json`, and nothing
//! else there); errors, notes and progress go to stderr.
//! Exit codes: 0 ok, 1 the thing verified is wrong, 2 the command could not run.

mod archive;
pub mod args;
mod backend;
mod backup;
mod purge;
mod records;
mod retention;
mod serve;
mod tlog;

use std::io::IsTerminal;
use std::path::Path;

use age::secrecy::SecretString;
use clap::Parser;
use ed25519_dalek::SigningKey;
use serde_json::json;

use crate::crypto::{keyfile, parse_hex32};
use crate::format::{Action, Role};
use crate::ledger::verify::VerifyOptions;
use crate::ledger::{InitOptions, Ledger, Settings};
use args::{Cli, Command, KeyCmd};
use backend::Backend;

/// A CLI failure: the message, what to do, and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            code: 2,
            message: e.to_string(),
        }
    }
}

pub type Res<T> = Result<T, Failure>;

/// The sequence number of the first change appended (an answer without one is an error,
/// never entry 0).
pub(crate) fn first_seq(outcomes: &[crate::ledger::Outcome]) -> Res<u64> {
    match outcomes.first() {
        Some(o) => Ok(o.seq()),
        None => fail("the append was answered without an outcome"),
    }
}

pub fn fail<T>(message: impl Into<String>) -> Res<T> {
    Err(Failure {
        code: 2,
        message: message.into(),
    })
}

/// Runs the CLI; returns the exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(f) => {
            if cli.json {
                println!("{}", json!({"error": f.message}));
            }
            eprintln!("blotter: error: {}", f.message);
            f.code
        }
    }
}

pub(crate) struct Ctx<'a> {
    pub cli: &'a Cli,
}

impl Ctx<'_> {
    pub fn ledger_dir(&self) -> Res<&Path> {
        match &self.cli.ledger {
            Some(p) => Ok(p),
            None => fail("no ledger given: pass --ledger DIR or set BLOTTER_LEDGER"),
        }
    }
    pub fn open(&self) -> Res<Ledger> {
        if self.cli.server.is_some() {
            return fail(backend::NOT_REMOTE);
        }
        Ok(Ledger::open_announcing(self.ledger_dir()?, |from| {
            eprintln!(
                "blotter: migrating the ledger's store from layout {from} to layout {}, once; \
                 on a large ledger this takes minutes",
                crate::store::STORE_VERSION
            )
        })?)
    }
    /// Opens the ledger for a write that keeps a checkpoint in its own batch.
    pub fn open_for_write(&self) -> Res<Ledger> {
        let mut l = self.open()?;
        tlog::arm_checkpoints(&mut l);
        Ok(l)
    }
    pub fn key(&self) -> Res<SigningKey> {
        match &self.cli.key {
            Some(p) => load_key(p),
            None => fail("this command signs a change: pass --key FILE or set BLOTTER_KEY"),
        }
    }
    /// Prints `value` as JSON with --json, else the human text.
    pub fn out(&self, value: serde_json::Value, human: impl FnOnce() -> String) {
        use std::io::Write;
        let text = if self.cli.json {
            value.to_string()
        } else {
            human()
        };
        if !text.is_empty() {
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
    }
    pub fn progress(&self, len: u64, what: &str) -> indicatif::ProgressBar {
        if self.cli.json || !std::io::stderr().is_terminal() {
            return indicatif::ProgressBar::hidden();
        }
        let pb = indicatif::ProgressBar::new(len);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg} [{bar:40}] {pos}/{len} ({per_sec}, {eta})",
        ) {
            pb.set_style(style);
        }
        pb.set_message(what.to_string());
        pb
    }
}

pub(crate) fn passphrase() -> Option<SecretString> {
    if let Ok(p) = std::env::var("BLOTTER_PASSPHRASE") {
        return Some(SecretString::from(p));
    }
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("Passphrase: ")
            .ok()
            .map(SecretString::from);
    }
    None
}

pub fn load_key(path: &Path) -> Res<SigningKey> {
    Ok(keyfile::load(path, passphrase)?)
}

fn protection(protect: bool, work_factor: Option<u8>) -> Res<Option<keyfile::Protection>> {
    if !protect {
        return Ok(None);
    }
    match passphrase() {
        Some(p) => Ok(Some(keyfile::Protection {
            passphrase: p,
            work_factor,
        })),
        None => fail("--protect needs a passphrase: set BLOTTER_PASSPHRASE or run on a terminal"),
    }
}

pub fn parse_key(s: &str) -> Res<[u8; 32]> {
    parse_hex32(s).map_or_else(
        || fail(format!("{s:?} is not a public key (64 hex digits)")),
        Ok,
    )
}

fn run(cli: &Cli) -> Res<i32> {
    let ctx = Ctx { cli };
    match &cli.command {
        Command::Init(a) => init(&ctx, a),
        Command::Key(k) => key_cmd(&ctx, k),
        Command::Record(r) => records::run(&ctx, r),
        Command::Import { file } => import(&ctx, file),
        Command::Verify(v) => verify(&ctx, v),
        Command::Checkpoint { cmd } => tlog::checkpoint(&ctx, cmd.as_ref()),
        Command::Proof(p) => tlog::proof(&ctx, p),
        Command::Audit(a) => tlog::audit(&ctx, a),
        Command::Witness(w) => tlog::witness(&ctx, w),
        Command::Schedule(c) => retention::schedule(&ctx, c),
        Command::Hold(c) => retention::hold(&ctx, c),
        Command::Retention(c) => retention::report(&ctx, c),
        Command::Purge(c) => purge::purge(&ctx, c),
        Command::Order(c) => purge::order(&ctx, c),
        Command::Archive(c) => archive::run(&ctx, c),
        Command::Serve(a) => serve::run(&ctx, a),
        Command::Backup(a) => backup::run(&ctx, a),
        Command::Demo { dir, records } => demo(&ctx, dir, *records),
    }
}

fn init(ctx: &Ctx, a: &args::InitArgs) -> Res<i32> {
    let settings: Settings = match &a.settings {
        None => Settings::default(),
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            serde_json::from_str(&text)
                .map_err(|e| format!("{}:{}:{}: {e}", p.display(), e.line(), e.column()))?
        }
    };
    crate::format::action::check_note_name(&a.origin)?;
    if a.admin_key.starts_with(&a.dir) {
        return fail("the first admin key must not be written inside the ledger folder; pass --admin-key elsewhere");
    }
    let admin = keyfile::create(&a.admin_key, protection(a.protect, None)?)?;
    let opts = InitOptions {
        origin: a.origin.clone(),
        admin_person: a.person.clone(),
        settings,
        ledger_key_path: a.ledger_key.clone(),
    };
    let mut l = match Ledger::init(&a.dir, &admin, opts) {
        Ok(l) => l,
        Err(e) => {
            let _ = std::fs::remove_file(&a.admin_key);
            return Err(e.into());
        }
    };
    tlog::after_write(&mut l);
    let admin_pub = hex::encode(admin.verifying_key().to_bytes());
    ctx.out(
        json!({"ledger": a.dir, "origin": l.origin(), "admin_key": a.admin_key, "admin_public_key": admin_pub}),
        || format!("created ledger {} ({})\nfirst admin key: {} (public {admin_pub})\nregister a second administrator soon: `blotter key register`", a.dir.display(), l.origin(), a.admin_key.display()),
    );
    Ok(0)
}

fn key_cmd(ctx: &Ctx, k: &KeyCmd) -> Res<i32> {
    match k {
        KeyCmd::New {
            out,
            protect,
            scrypt_work_factor,
        } => {
            let key = keyfile::create(out, protection(*protect, *scrypt_work_factor)?)?;
            let p = hex::encode(key.verifying_key().to_bytes());
            ctx.out(json!({"file": out, "public_key": p}), || p.clone());
            Ok(0)
        }
        KeyCmd::Public { file } => {
            let p = hex::encode(load_key(file)?.verifying_key().to_bytes());
            ctx.out(json!({"public_key": p}), || p.clone());
            Ok(0)
        }
        KeyCmd::Register {
            public_key,
            person,
            role,
        } => {
            let role: Role = role.parse()?;
            let key = parse_key(public_key)?;
            let action = Action::KeyRegister {
                key,
                person: person.clone(),
                role,
                replaces: None,
            };
            let today = crate::ledger::append::today();
            append_one(
                ctx,
                crate::ledger::Draft::new_record("key", today, action),
                "registered",
            )
        }
        KeyCmd::Revoke {
            public_key,
            compromised_since,
        } => {
            let key = parse_key(public_key)?;
            append_with(ctx, "revoked", |l| {
                let st = l
                    .key_state(&key)?
                    .ok_or_else(|| format!("key {public_key} is not registered"))?;
                let action = Action::KeyRevoke {
                    key,
                    compromised_since: *compromised_since,
                };
                l.draft(&st.record, action)
            })
        }
        KeyCmd::Rotate { old, new } => {
            let (old, new) = (parse_key(old)?, parse_key(new)?);
            append_with(ctx, "rotated", |l| {
                let st = l.key_state(&old)?.ok_or("the old key is not registered")?;
                let action = Action::KeyRegister {
                    key: new,
                    role: st.role(),
                    person: st.person.clone(),
                    replaces: Some(old),
                };
                let today = crate::ledger::append::today();
                Ok(crate::ledger::Draft::new_record("key", today, action))
            })
        }
        KeyCmd::Ledger => tlog::ledger_key(ctx),
        KeyCmd::List => {
            let keys = ctx.backend()?.keys()?;
            ctx.out(serde_json::to_value(&keys)?, || {
                keys.iter()
                    .map(|k| {
                        let state = if k.revoked.is_some() {
                            "revoked"
                        } else if k.replaced.is_some() {
                            "replaced"
                        } else {
                            "active"
                        };
                        format!(
                            "{}  {:<10} {:<12} {state} (entry {})",
                            hex::encode(k.key),
                            k.role,
                            k.person,
                            k.registered
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(0)
        }
    }
}

/// Signs `d` with --key, appends it, and prints the outcome.
pub(crate) fn append_one(ctx: &Ctx, d: crate::ledger::Draft, verb: &str) -> Res<i32> {
    append_with(ctx, verb, |_| Ok(d))
}

/// Opens the ledger (or reaches the daemon) once, builds the draft from it, signs it
/// with --key, appends it, and prints the outcome.
pub(crate) fn append_with(
    ctx: &Ctx,
    verb: &str,
    build: impl FnOnce(&Backend) -> Res<crate::ledger::Draft>,
) -> Res<i32> {
    let key = ctx.key()?;
    let mut b = ctx.backend_for_write()?;
    let d = build(&b)?;
    let record = hex::encode(d.record);
    let sub = b.sign(&key, d)?;
    let (outcomes, head) = b.append(vec![sub])?;
    let seq = first_seq(&outcomes)?;
    ctx.out(json!({"record": record, "seq": seq, "head": head}), || {
        format!("{verb} {record} at entry {seq}")
    });
    Ok(0)
}

fn import(ctx: &Ctx, file: &Path) -> Res<i32> {
    let key = ctx.key()?;
    let mut l = ctx.open_for_write()?;
    let pb = ctx.progress(0, "import");
    let sum = crate::import::import(&mut l, &key, file, &|n, total| {
        pb.set_length(total);
        pb.set_position(n);
    })?;
    pb.finish_and_clear();
    tlog::after_write(&mut l);
    ctx.out(serde_json::to_value(&sum)?, || {
        format!(
            "imported {} changes ({} already recorded, skipped); ledger now has {} entries",
            sum.appended, sum.skipped, sum.head
        )
    });
    Ok(0)
}

fn verify(ctx: &Ctx, v: &args::VerifyArgs) -> Res<i32> {
    let l = ctx.backend()?;
    let expect_head = match &v.expect_head {
        None => None,
        Some(s) => {
            let (size, hash) = s.split_once(':').ok_or("--expect-head must be SIZE:HASH")?;
            let size: u64 = size
                .parse()
                .map_err(|_| format!("--expect-head: {size:?} is not a size"))?;
            Some((
                size,
                parse_hex32(hash).ok_or("--expect-head: HASH must be 64 hex digits")?,
            ))
        }
    };
    let record = match &v.record {
        None => None,
        Some(r) => {
            let id = records::parse_id(r)?;
            if l.record(&id)?.is_none() {
                return fail(format!("record {r} not found"));
            }
            let seqs: Vec<u64> = l.history(&id)?.iter().map(|h| h.seq).collect();
            Some((r.clone(), seqs))
        }
    };
    let pb = ctx.progress(l.head_size()?, "verify");
    let report = l.verify(
        &VerifyOptions {
            from: v.from,
            expect_head,
            checkpoint: match &v.checkpoint {
                None => None,
                Some(p) => {
                    Some(std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?)
                }
            },
            ledger_key: match &v.ledger_key {
                None => None,
                Some(k) => Some(tlog::read_vkey(k)?),
            },
        },
        &|n| pb.set_position(n),
    )?;
    pb.finish_and_clear();
    let mut value = serde_json::to_value(&report)?;
    if let Some((r, seqs)) = &record {
        value["record"] = json!({"id": r, "entries": seqs});
    }
    ctx.out(value, || match &report.problem {
        None => {
            let mut s = format!(
                "ok: {} entries, {} records, head {}:{}",
                report.entries, report.records, report.entries, report.head
            );
            if !report.disposed.is_empty() {
                s.push_str(&format!(
                    "\n{} records disposed, each by an approved plan or order (--json lists them)",
                    report.disposed.len()
                ));
            }
            if let Some((r, seqs)) = &record {
                s.push_str(&format!(
                    "\nrecord {r}: {} changes, its own chain and the whole log verified",
                    seqs.len()
                ));
            }
            for f in &report.flagged {
                s.push_str(&format!("\nflagged: entry {}: {}", f.seq, f.what));
            }
            s
        }
        Some(p) => format!("FAILED at entry {}: {}", p.seq, p.what),
    });
    if let Some(p) = &report.problem {
        eprintln!(
            "blotter: verification failed at entry {}: {}",
            p.seq, p.what
        );
        return Ok(1);
    }
    Ok(if report.flagged.is_empty() { 0 } else { 1 })
}

fn demo(ctx: &Ctx, dir: &Path, records: usize) -> Res<i32> {
    let summary = crate::demo::build(dir, records, &|m| {
        if !ctx.cli.json {
            eprintln!("{m}")
        }
    })?;
    ctx.out(serde_json::to_value(&summary)?, || summary.text());
    Ok(if summary.verified { 0 } else { 1 })
}
