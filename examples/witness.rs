//! `witness`: a small standalone C2SP witness for Blotter ledgers, the kind a state
//! archives office can run for the records units whose logs it witnesses.
//!
//! A witness keeps, for each log it witnesses, the size and root of the last checkpoint
//! it cosigned. It cosigns a new checkpoint only if the log signed it and an RFC 6962
//! consistency proof shows that the new tree extends the old one. A log that rewrote or
//! removed history, or shows different histories to different people, can then never
//! get both versions cosigned by the same witness.
//!
//! It is built on `blotter::merkle` (signed notes, checkpoints, cosignatures, the
//! tlog-witness `add-checkpoint` body and proof verification) and on
//! `blotter::crypto::keyfile` for its key file. It does not open a ledger. It runs as a
//! command, so the exchange can go over whatever channel the two offices already use
//! (mail, a shared folder, sneakernet); an HTTP front end would call the same checks.
//!
//! Setup, end to end (see `examples/witness-demo.sh`, which runs all of it):
//!
//! ```sh
//! # Archives office, once: make the witness key (mode 0600) and send the vkey it
//! # prints to the records unit.
//! witness new --name archives.example.gov/witness --key witness.key
//!
//! # Records unit, once: send the ledger's verifier key to the archives office, and
//! # have an admin register the witness's vkey.
//! blotter --ledger L key ledger
//! blotter --ledger L --key admin.key witness register 'archives.example.gov/witness+…'
//!
//! # First round: the witness has cosigned nothing yet, so the request is `old 0`
//! # with no proof.
//! blotter --ledger L checkpoint
//! { printf 'old 0\n\n'; blotter --ledger L checkpoint show; } > request.txt
//! witness cosign --key witness.key --name archives.example.gov/witness \
//!     --log-key 'records.example-pd.gov/ledger+…' --state state/ < request.txt > cosigned.txt
//! blotter --ledger L checkpoint cosign cosigned.txt
//!
//! # Every later round: a consistency proof from the size the witness last cosigned.
//! blotter --ledger L proof consistency --from 76 > request.txt
//! witness cosign … < request.txt > cosigned.txt
//! blotter --ledger L checkpoint cosign cosigned.txt
//!
//! # Anyone holding both verifier keys can check a cosigned checkpoint.
//! witness verify --witness-key 'archives…+…' --log-key 'records…+…' < cosigned.txt
//! ```
//!
//! `witness cosign` follows the checks of C2SP tlog-witness `add-checkpoint`
//! (<https://c2sp.org/tlog-witness>) and names each refusal by the HTTP status the spec
//! gives it: 400 (malformed request), 404 (a log it does not witness), 403 (not signed
//! by the log's key), 409 (`old` is not the size it last cosigned; the message says
//! which size that is) and 422 (the proof does not verify: the log is not consistent
//! with what the witness cosigned before). On success it saves the new size and root
//! atomically (temporary file, fsync, rename, fsync of the folder) *before* printing
//! the checkpoint note with its cosignature line appended. The request behind a 422 is
//! kept in the state folder: it is signed by the log, so it is evidence.
//!
//! The state folder belongs to one witness identity (name and key): the first cosign
//! writes `witness.vkey` there and later runs refuse another identity. A lock file
//! (`lock`) serializes runs; if a run is killed it stays behind and must be removed by
//! hand after checking that no other run is going on. Losing the state folder means
//! the witness can no longer keep its promise: retire the key and make a new one.
//!
//! Exit codes: 0 cosigned (or verified), 1 refused, 2 could not run.
#![forbid(unsafe_code)]

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use blotter::crypto::keyfile;
use blotter::merkle::cosignature::{self, WitnessKey};
use blotter::merkle::note::{is_valid_name, Note, NoteVerifier, Verifier as _};
use blotter::merkle::proof_text::AddCheckpoint;
use blotter::merkle::{verify_consistency, Hash, EMPTY_ROOT};
use clap::{Parser, Subcommand};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The largest request or note read from stdin. Real ones are a few kilobytes.
const MAX_INPUT: u64 = 1 << 20;

#[derive(Parser, Debug)]
#[command(
    name = "witness",
    about = "A standalone C2SP witness that cosigns Blotter checkpoints"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Create a witness key file (mode 0600) and print the witness verifier key.
    New {
        /// The witness name, e.g. archives.example.gov/witness.
        #[arg(long)]
        name: String,
        /// Where to write the key; an existing file is never overwritten.
        #[arg(long)]
        key: PathBuf,
    },
    /// Print the witness verifier key of an existing key file.
    Vkey {
        #[arg(long)]
        name: String,
        #[arg(long)]
        key: PathBuf,
    },
    /// Check an add-checkpoint request on stdin and print the cosigned checkpoint note.
    Cosign {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        name: String,
        /// The verifier key of a log this witness witnesses (or a file holding it), as
        /// printed by `blotter key ledger`. Repeat for several logs.
        #[arg(long = "log-key", required = true)]
        log_keys: Vec<String>,
        /// The folder where the witness keeps what it last cosigned for each log.
        #[arg(long)]
        state: PathBuf,
    },
    /// Check a cosigned checkpoint note on stdin: the log's signature and the
    /// witness's cosignature.
    Verify {
        /// The witness verifier key (or a file holding it).
        #[arg(long)]
        witness_key: String,
        /// The log's verifier key (or a file holding it).
        #[arg(long)]
        log_key: String,
    },
}

/// Why a command did not succeed.
#[derive(Debug)]
enum Stop {
    /// The request (or note) is refused: exit 1.
    Refused(String),
    /// The command could not run: exit 2.
    Failed(String),
}

type Res<T> = Result<T, Stop>;

fn failed<T>(msg: impl Into<String>) -> Res<T> {
    Err(Stop::Failed(msg.into()))
}

fn refused<T>(msg: impl Into<String>) -> Res<T> {
    Err(Stop::Refused(msg.into()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Stop::Refused(m)) => {
            eprintln!("witness: refused: {m}");
            ExitCode::from(1)
        }
        Err(Stop::Failed(m)) => {
            eprintln!("witness: error: {m}");
            ExitCode::from(2)
        }
    }
}

fn run(cmd: Cmd) -> Res<()> {
    match cmd {
        Cmd::New { name, key } => {
            check_witness_name(&name)?;
            let sk = keyfile::create(&key, None).or_else(|e| failed(e.to_string()))?;
            let vkey = witness_key(&name, &sk)?.to_vkey();
            eprintln!(
                "witness: wrote the witness key to {}; send this verifier key to the records unit:",
                key.display()
            );
            print_out(&format!("{vkey}\n"))
        }
        Cmd::Vkey { name, key } => {
            check_witness_name(&name)?;
            let sk = load_key(&key)?;
            print_out(&format!("{}\n", witness_key(&name, &sk)?.to_vkey()))
        }
        Cmd::Cosign {
            key,
            name,
            log_keys,
            state,
        } => cosign(&key, &name, &log_keys, &state),
        Cmd::Verify {
            witness_key,
            log_key,
        } => verify(&witness_key, &log_key),
    }
}

fn check_witness_name(name: &str) -> Res<()> {
    if is_valid_name(name) && name.len() <= 255 {
        Ok(())
    } else {
        failed(format!(
            "invalid witness name {name:?}: it must be 1 to 255 bytes with no spaces or '+'"
        ))
    }
}

fn load_key(path: &Path) -> Res<SigningKey> {
    keyfile::load(path, || None).or_else(|e| failed(e.to_string()))
}

fn witness_key(name: &str, sk: &SigningKey) -> Res<WitnessKey> {
    WitnessKey::new(name, sk.verifying_key()).or_else(|e| failed(format!("witness key: {e}")))
}

fn print_out(text: &str) -> Res<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .or_else(|e| failed(format!("writing to stdout: {e}")))
}

fn read_stdin() -> Res<String> {
    let mut buf = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_INPUT + 1)
        .read_to_end(&mut buf)
        .or_else(|e| failed(format!("reading stdin: {e}")))?;
    if buf.len() as u64 > MAX_INPUT {
        return refused(format!(
            "400 Bad Request: the input is larger than {MAX_INPUT} bytes"
        ));
    }
    String::from_utf8(buf).or_else(|_| refused("400 Bad Request: the input is not UTF-8"))
}

/// A verifier key given on the command line, or the path of a file holding one.
fn read_vkey(arg: &str) -> Res<String> {
    let p = Path::new(arg);
    if !arg.contains('+') && p.is_file() {
        let text = fs::read_to_string(p).or_else(|e| failed(format!("{}: {e}", p.display())))?;
        return Ok(text.trim().to_string());
    }
    Ok(arg.trim().to_string())
}

/// What the witness last cosigned for one log.
#[derive(Serialize, Deserialize, Debug, PartialEq, Eq)]
struct LogState {
    origin: String,
    size: u64,
    /// Base64 of the 32-byte root.
    root: String,
}

/// The state file of a log: one per origin, named by a hash of the origin (an origin
/// may hold `/` and other characters that do not belong in a file name).
fn state_file_name(origin: &str) -> String {
    let d = Sha256::digest(origin.as_bytes());
    format!("log-{}.json", hex::encode(&d[..16]))
}

/// Held while a run reads and updates the state folder; removes the lock file on drop.
struct Lock(PathBuf);

impl Lock {
    fn take(dir: &Path) -> Res<Lock> {
        let path = dir.join("lock");
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut f) => {
                // The pid is for the operator; nothing reads it back.
                let _ = writeln!(f, "{}", std::process::id());
                Ok(Lock(path))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => failed(format!(
                "{} exists: another `witness cosign` is using this state folder. If none is running, a run was killed: remove the lock file and try again",
                path.display()
            )),
            Err(e) => failed(format!("{}: {e}", path.display())),
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_file(&self.0) {
            eprintln!(
                "witness: warning: could not remove the lock file {}: {e}",
                self.0.display()
            );
        }
    }
}

/// Replaces `dir/name` with `contents` atomically and durably: a temporary file in the
/// same folder, fsync, rename over the old file, fsync of the folder.
fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> Res<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let target = dir.join(name);
    let err = |what: &Path, e: std::io::Error| Stop::Failed(format!("{}: {e}", what.display()));
    // A temporary file left by a killed run: we hold the lock, so it is nobody's.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(&tmp, e)),
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| err(&tmp, e))?;
    f.write_all(contents).map_err(|e| err(&tmp, e))?;
    f.sync_all().map_err(|e| err(&tmp, e))?;
    drop(f);
    fs::rename(&tmp, &target).map_err(|e| err(&target, e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| err(dir, e))
}

fn load_state(dir: &Path, origin: &str) -> Res<Option<(u64, Hash)>> {
    let path = dir.join(state_file_name(origin));
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return failed(format!("{}: {e}", path.display())),
    };
    let corrupt = |why: &str| {
        Stop::Failed(format!(
            "{} is damaged ({why}); the witness cannot tell what it last cosigned for {origin:?}. Restore it from a backup, or retire this witness key",
            path.display()
        ))
    };
    let s: LogState = serde_json::from_str(&text).map_err(|e| corrupt(&e.to_string()))?;
    if s.origin != origin {
        return Err(corrupt("it is the state of another log"));
    }
    let root: Hash = STANDARD
        .decode(&s.root)
        .ok()
        .and_then(|r| r.try_into().ok())
        .ok_or_else(|| corrupt("the root is not base64 of 32 bytes"))?;
    Ok(Some((s.size, root)))
}

/// Binds the state folder to one witness identity (name and key).
fn check_identity(dir: &Path, vkey: &str) -> Res<()> {
    let path = dir.join("witness.vkey");
    match fs::read_to_string(&path) {
        Ok(held) if held.trim() == vkey => Ok(()),
        Ok(held) => failed(format!(
            "the state folder {} belongs to the witness {}, not to {vkey}; use that witness's --name and --key, or another --state folder",
            dir.display(),
            held.trim()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            write_atomic(dir, "witness.vkey", format!("{vkey}\n").as_bytes())
        }
        Err(e) => failed(format!("{}: {e}", path.display())),
    }
}

fn now_unix_seconds() -> Res<u64> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .or_else(|_| failed("the system clock is set before 1970"))
}

fn cosign(key: &Path, name: &str, log_keys: &[String], state: &Path) -> Res<()> {
    check_witness_name(name)?;
    let sk = load_key(key)?;
    let me = witness_key(name, &sk)?;
    let mut logs = Vec::new();
    for arg in log_keys {
        let v = read_vkey(arg)?;
        logs.push(NoteVerifier::parse(&v).or_else(|e| {
            failed(format!(
                "--log-key {v:?}: {e} (expected the output of `blotter key ledger`)"
            ))
        })?);
    }
    let body = read_stdin()?;

    // 400: the request must parse (this also refuses `old` above the checkpoint size).
    let req = AddCheckpoint::parse(&body)
        .or_else(|e| refused(format!("400 Bad Request: add-checkpoint body: {e}")))?;
    let cp = req.checkpoint();
    // 404: the origin names the log, and the log key's name must be the origin.
    let Some(log) = logs.iter().find(|v| v.name() == cp.origin) else {
        let known: Vec<&str> = logs.iter().map(|v| v.name()).collect();
        return refused(format!(
            "404 Not Found: this witness does not witness the log {:?} (it witnesses {})",
            cp.origin,
            known.join(", ")
        ));
    };
    // 403: the log must have signed the checkpoint.
    req.note().verify(std::slice::from_ref(log)).or_else(|e| {
        refused(format!(
            "403 Forbidden: the checkpoint is not validly signed by the log key {}: {e}",
            log.to_vkey()
        ))
    })?;

    fs::create_dir_all(state).or_else(|e| failed(format!("{}: {e}", state.display())))?;
    let _lock = Lock::take(state)?;
    check_identity(state, &me.to_vkey())?;
    let (held_size, held_root) = load_state(state, &cp.origin)?.unwrap_or((0, EMPTY_ROOT));

    // 409: the log must prove consistency from what this witness last cosigned.
    if req.old_size() != held_size {
        return refused(format!(
            "409 Conflict: the request is from size {}, but the last cosigned size is {held_size} for {}; send a consistency proof from {held_size} (`blotter proof consistency --from {held_size}`)",
            req.old_size(),
            cp.origin
        ));
    }
    // 422: the proof must verify from the held root to the new one.
    let inconsistent = |why: String| -> Stop {
        let kept = keep_evidence(state, &body, cp.size);
        Stop::Refused(format!(
            "422 Unprocessable Entity: {why}. The log {:?} signed a checkpoint of size {} that does not extend the one of size {held_size} this witness cosigned: treat this as an alarm (history rewritten or a split view).{kept}",
            cp.origin, cp.size
        ))
    };
    if held_size == 0 {
        if !req.proof().is_empty() {
            return Err(inconsistent(
                "a request from size 0 must carry an empty proof".into(),
            ));
        }
        if cp.size == 0 && cp.root != EMPTY_ROOT {
            return Err(inconsistent(
                "a checkpoint of size 0 must have the empty tree's root".into(),
            ));
        }
    } else {
        verify_consistency(held_size, cp.size, req.proof(), &held_root, &cp.root)
            .map_err(|e| inconsistent(format!("the consistency proof does not verify ({e})")))?;
    }

    let line = cosignature::cosign(req.note().text(), name, &sk, now_unix_seconds()?)
        .or_else(|e| failed(format!("cosigning: {e}")))?;
    let mut note = req.note().clone();
    note.push_signature_lines(&line)
        .or_else(|e| failed(format!("adding the cosignature: {e}")))?;
    let out = note
        .encode()
        .or_else(|e| failed(format!("encoding the note: {e}")))?;

    // Persist before answering: once the cosignature is out, the witness is bound to it.
    let new_state = LogState {
        origin: cp.origin.clone(),
        size: cp.size,
        root: STANDARD.encode(cp.root),
    };
    let json = serde_json::to_vec_pretty(&new_state)
        .or_else(|e| failed(format!("encoding the state: {e}")))?;
    write_atomic(state, &state_file_name(&cp.origin), &json)?;
    eprintln!(
        "witness: cosigned {} at size {} (consistent with size {held_size})",
        cp.origin, cp.size
    );
    print_out(&out)
}

/// Saves a refused request signed by the log; returns a sentence for the message.
fn keep_evidence(state: &Path, body: &str, size: u64) -> String {
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let digest = Sha256::digest(body.as_bytes());
    let name = format!("refused-{ts}-size-{size}-{}.txt", hex::encode(&digest[..4]));
    match write_atomic(state, &name, body.as_bytes()) {
        Ok(()) => format!(
            " The request is kept as evidence in {}",
            state.join(name).display()
        ),
        Err(Stop::Failed(e) | Stop::Refused(e)) => {
            format!(" Could not keep the request as evidence: {e}")
        }
    }
}

fn verify(witness_arg: &str, log_arg: &str) -> Res<()> {
    let wv = read_vkey(witness_arg)?;
    let w = WitnessKey::parse(&wv).or_else(|e| failed(format!("--witness-key {wv:?}: {e}")))?;
    let lv = read_vkey(log_arg)?;
    let log = NoteVerifier::parse(&lv).or_else(|e| failed(format!("--log-key {lv:?}: {e}")))?;
    let text = read_stdin()?;
    let note = Note::parse(&text).or_else(|e| refused(format!("not a signed note: {e}")))?;
    let cp = blotter::merkle::checkpoint::Checkpoint::from_note(&note)
        .or_else(|e| refused(format!("not a checkpoint: {e}")))?;
    if cp.origin != log.name() {
        return refused(format!(
            "the checkpoint is for {:?}, the log key is for {:?}",
            cp.origin,
            log.name()
        ));
    }
    note.verify(std::slice::from_ref(&log))
        .or_else(|e| refused(format!("log signature: {e}")))?;
    let Some(ts) = w
        .verify_note(&note)
        .or_else(|e| refused(format!("cosignature of {}: {e}", w.name())))?
    else {
        return refused(format!(
            "the checkpoint carries no cosignature of {}",
            w.name()
        ));
    };
    let when = i64::try_from(ts)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map_or_else(|| ts.to_string(), |t| t.to_string());
    print_out(&format!(
        "ok: {} checkpoint of size {} is signed by the log and cosigned by {} at {when}\n",
        cp.origin,
        cp.size,
        w.name()
    ))
}
