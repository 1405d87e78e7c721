//! The ledger's single writer, with group commit.
//!
//! Every write goes through one thread. It takes the first waiting job, then every other
//! append job already queued (up to `max_batch` changes), and appends them as one store
//! batch: one durable commit (one fsync) for all of them. Each request is answered
//! only after that batch is durable.
//!
//! Invariants:
//! - Sequence numbers stay dense and the chain unforked: only this thread appends.
//! - One request's refused change never fails another's: if a grouped batch is refused,
//!   each request is appended again on its own, so only the bad one is answered with the
//!   refusal.
//! - A failure of the store (not a refusal by the ledger's rules) or a panic stops all
//!   later writes (503) until the daemon is restarted: the store may then hold a batch
//!   the ledger in memory does not know, and must be reopened from disk.
//! - Dropping every [`Writer`] lets queued jobs finish, then ends the thread.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tokio::sync::{mpsc, oneshot};

use crate::ledger::{KeyState, Ledger, LedgerError, Outcome, Submission};

type Exclusive = Box<dyn FnOnce(&mut Ledger) + Send>;

enum Job {
    Append {
        subs: Vec<Submission>,
        keys_changed: bool,
        reply: oneshot::Sender<Result<(Vec<Outcome>, u64), LedgerError>>,
    },
    Exclusive(Exclusive),
}

/// The key registry as the authenticator reads it: replaced after every batch that
/// registered, rotated or revoked a key, so authentication never waits for a write.
pub type KeyRegistry = Arc<RwLock<Arc<KeyMap>>>;

/// Every registered key's state, with the key decompressed once for signature checks.
pub type KeyMap = HashMap<[u8; 32], (KeyState, ed25519_dalek::VerifyingKey)>;

/// The registry of `l`'s keys (a key that is not a valid point could never sign).
pub fn key_map(l: &Ledger) -> KeyMap {
    l.keys()
        .filter_map(|k| {
            let vk = ed25519_dalek::VerifyingKey::from_bytes(&k.key).ok()?;
            Some((k.key, (k.clone(), vk)))
        })
        .collect()
}

#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

/// The writer is gone (the daemon is shutting down).
#[derive(Debug)]
pub struct Stopped;

impl Writer {
    /// Starts the writer thread over `ledger`.
    pub fn start(
        ledger: Arc<RwLock<Ledger>>,
        keys: KeyRegistry,
        max_batch: usize,
    ) -> (Writer, std::thread::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4096);
        let handle = std::thread::Builder::new()
            .name("blotter-writer".into())
            .spawn(move || run(ledger, keys, rx, max_batch.max(1)));
        match handle {
            Ok(h) => (Writer { tx }, h),
            // Without its thread the daemon cannot write; answer every write "stopped".
            Err(e) => {
                tracing::error!(error = %e, "could not start the writer thread");
                let (tx, _) = mpsc::channel(1);
                (Writer { tx }, std::thread::spawn(|| {}))
            }
        }
    }

    /// Appends `subs` in the next group; returns their outcomes and the head after the
    /// durable batch.
    pub async fn append(
        &self,
        subs: Vec<Submission>,
        keys_changed: bool,
    ) -> Result<Result<(Vec<Outcome>, u64), LedgerError>, Stopped> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Append {
                subs,
                keys_changed,
                reply,
            })
            .await
            .map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }

    /// Runs `f` alone with the ledger, between groups (checkpoints, purges, backups).
    pub async fn exclusive<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Ledger) -> T + Send + 'static,
    ) -> Result<T, Stopped> {
        let (reply, rx) = oneshot::channel();
        let job: Exclusive = Box::new(move |l| {
            let _ = reply.send(f(l));
        });
        self.tx
            .send(Job::Exclusive(job))
            .await
            .map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }
}

struct Pending {
    subs: Vec<Submission>,
    reply: oneshot::Sender<Result<(Vec<Outcome>, u64), LedgerError>>,
}

fn run(
    ledger: Arc<RwLock<Ledger>>,
    keys: KeyRegistry,
    mut rx: mpsc::Receiver<Job>,
    max_batch: usize,
) {
    let mut next: Option<Job> = None;
    let mut failed = false;
    loop {
        let first = match next.take() {
            Some(j) => j,
            None => match rx.blocking_recv() {
                Some(j) => j,
                None => return,
            },
        };
        let mut group = Vec::new();
        let mut refresh = false;
        let mut count = 0;
        let mut job = Some(first);
        while let Some(j) = job.take() {
            match j {
                Job::Exclusive(f) if group.is_empty() => {
                    with_ledger(&ledger, |l| f(l));
                    refresh = true;
                    break;
                }
                Job::Exclusive(f) => {
                    next = Some(Job::Exclusive(f));
                    break;
                }
                Job::Append {
                    subs,
                    keys_changed,
                    reply,
                } => {
                    count += subs.len();
                    refresh |= keys_changed;
                    group.push(Pending { subs, reply });
                }
            }
            if count < max_batch {
                job = rx.try_recv().ok();
            }
        }
        if !group.is_empty() {
            commit(&ledger, group, &mut failed);
        }
        if refresh {
            with_ledger(&ledger, |l| {
                let map = key_map(l);
                if let Ok(mut g) = keys.write() {
                    *g = Arc::new(map);
                }
            });
        }
    }
}

fn with_ledger(ledger: &RwLock<Ledger>, f: impl FnOnce(&mut Ledger)) {
    match ledger.write() {
        Ok(mut l) => f(&mut l),
        // Appends run under catch_unwind and a failure stops writing (see `commit`), so
        // a poisoned lock is only ever read from.
        Err(poisoned) => f(&mut poisoned.into_inner()),
    }
}

/// Appends a group as one batch; if the ledger refuses it by its rules, appends each
/// request alone. A failure of the store (I/O, the storage engine) or a panic is fatal for writing:
/// the store may hold a batch the ledger in memory does not know, so every later write
/// is refused until the daemon is restarted and reopens the ledger from disk.
fn commit(ledger: &RwLock<Ledger>, group: Vec<Pending>, failed: &mut bool) {
    if *failed {
        for p in group {
            let _ = p.reply.send(Err(stopped()));
        }
        return;
    }
    if group.len() > 1 {
        let all: Vec<&Submission> = group.iter().flat_map(|p| p.subs.iter()).collect();
        match guarded(ledger, &all) {
            Ok((outcomes, head)) => {
                let mut rest = outcomes.into_iter();
                for p in group {
                    let mine: Vec<Outcome> = rest.by_ref().take(p.subs.len()).collect();
                    let _ = p.reply.send(Ok((mine, head)));
                }
                return;
            }
            Err(e) if !is_refusal(&e) => {
                *failed = true;
                tracing::error!(error = %e, "the store failed; refusing writes until restarted");
                for p in group {
                    let _ = p.reply.send(Err(stopped()));
                }
                return;
            }
            Err(_) => {}
        }
    }
    for p in group {
        if *failed {
            let _ = p.reply.send(Err(stopped()));
            continue;
        }
        let res = guarded(ledger, &p.subs.iter().collect::<Vec<_>>());
        if let Err(e) = &res {
            if !is_refusal(e) {
                *failed = true;
                tracing::error!(error = %e, "the store failed; refusing writes until restarted");
            }
        }
        let _ = p.reply.send(res);
    }
}

/// A refusal by the ledger's rules (the batch wrote nothing), as opposed to a failure
/// of the store.
fn is_refusal(e: &LedgerError) -> bool {
    matches!(
        e,
        LedgerError::Refused { .. }
            | LedgerError::Malformed { .. }
            | LedgerError::Invalid(_)
            | LedgerError::NoRecord(_)
            | LedgerError::Destroyed(_)
    )
}

fn stopped() -> LedgerError {
    LedgerError::Stopped
}

/// Appends under the write lock; a panic becomes an error (and so stops writes).
fn guarded(
    ledger: &RwLock<Ledger>,
    subs: &[&Submission],
) -> Result<(Vec<Outcome>, u64), LedgerError> {
    let mut res = None;
    with_ledger(ledger, |l| {
        res = Some(
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| append(l, subs)))
                .unwrap_or(Err(LedgerError::Stopped)),
        );
    });
    res.unwrap_or(Err(LedgerError::Stopped))
}

fn append(l: &mut Ledger, subs: &[&Submission]) -> Result<(Vec<Outcome>, u64), LedgerError> {
    let outcomes = l.append_borrowed(subs)?;
    Ok((outcomes, l.head().size))
}
