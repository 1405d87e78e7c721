//! `blotter serve`: the daemon. One per ledger; the only process holding the store.
//!
//! - [`router`] builds the HTTP API (axum) from the route table in `routes.rs`, so tests
//!   drive it with or without a socket.
//! - Every route but the public read side (`/checkpoint`, hash tiles) is authenticated
//!   (`auth.rs`, RFC 9421 via `crate::httpsig`) and role-checked on the server.
//! - Writes go through one writer thread that groups concurrent appends into one durable
//!   batch (`writer.rs`); a request is answered only once its batch is durable.
//! - Background jobs (`jobs.rs`): checkpoints on a timer, a daily retention report.
//! - Shutdown on SIGTERM or SIGINT: the listener closes, in-flight requests finish, the
//!   writer drains its queue, then the store is closed.

pub mod auth;
pub mod config;
mod error;
mod handlers;
mod jobs;
mod public;
pub mod routes;
mod writer;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;
use axum::Router;
use ed25519_dalek::SigningKey;

pub use config::Config;
pub use error::{ApiError, ApiResult};

use crate::httpsig::ReplayCache;
use crate::ledger::checkpoint::Kept;
use crate::ledger::{KeyState, Ledger, LedgerError, Outcome, StagedBlob, Submission};
use writer::{KeyRegistry, Writer};

/// Errors that stop the daemon from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("{0}")]
    Config(String),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

/// An uploaded blob and who uploaded it.
type Staged = ([u8; 32], StagedBlob);

/// The shared state behind every handler.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    ledger: Arc<RwLock<Ledger>>,
    writer: Writer,
    keys: KeyRegistry,
    replay: ReplayCache,
    /// Uploaded blobs awaiting their attach change: commitment → (uploader, blob).
    staged: Mutex<HashMap<[u8; 32], Staged>>,
    /// From `public_url`: the only scheme and authority requests are accepted for.
    public: Option<(String, String)>,
    ledger_key: Option<SigningKey>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Wraps an open ledger: starts its writer thread. `ledger_key` signs checkpoints.
    pub fn new(
        ledger: Ledger,
        ledger_key: Option<SigningKey>,
        config: &Config,
    ) -> (AppState, std::thread::JoinHandle<()>) {
        let keys: KeyRegistry = Arc::new(RwLock::new(Arc::new(writer::key_map(&ledger))));
        let ledger = Arc::new(RwLock::new(ledger));
        let (writer, handle) = Writer::start(ledger.clone(), keys.clone(), config.max_batch);
        let state = AppState(Arc::new(Inner {
            ledger,
            writer,
            keys,
            replay: ReplayCache::new(config.replay_capacity),
            staged: Mutex::new(HashMap::new()),
            public: config
                .public_url
                .as_deref()
                .and_then(|u| config::public_base(u).ok()),
            ledger_key,
        }));
        (state, handle)
    }

    /// A registered key's state and decompressed key, without waiting for the writer.
    pub fn key(&self, key: &[u8; 32]) -> Option<(KeyState, ed25519_dalek::VerifyingKey)> {
        let map = self.keys.read().ok()?.clone();
        map.get(key).cloned()
    }

    /// Runs `f` with the ledger on a blocking thread under the read lock.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Ledger) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        let ledger = self.ledger.clone();
        tokio::task::spawn_blocking(move || {
            let guard = match ledger.read() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            f(&guard)
        })
        .await
        .map_err(|e| ApiError::internal("a read", e))?
    }

    /// Appends through the writer (group commit); answers once durable.
    pub async fn write(
        &self,
        subs: Vec<Submission>,
        keys_changed: bool,
    ) -> ApiResult<(Vec<Outcome>, u64)> {
        match self.writer.append(subs, keys_changed).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(ApiError::unavailable("the daemon is shutting down")),
        }
    }

    /// Runs `f` alone with the ledger, between write groups.
    pub async fn exclusive<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Ledger) -> Result<T, LedgerError> + Send + 'static,
    ) -> ApiResult<T> {
        match self.writer.exclusive(f).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(ApiError::unavailable("the daemon is shutting down")),
        }
    }

    /// Signs a checkpoint of the current head with the ledger key, between write groups.
    pub async fn checkpoint(&self) -> ApiResult<Kept> {
        let key = self.ledger_key.clone().ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "this daemon holds no ledger key, so it cannot sign checkpoints",
            )
        })?;
        self.exclusive(move |l| l.sign_checkpoint(&key)).await
    }

    fn take_staged(
        &self,
        owner: &[u8; 32],
        record: &[u8; 16],
        blob: &[u8; 32],
    ) -> Option<StagedBlob> {
        let mut m = self.staged.lock().ok()?;
        match m.get(blob) {
            Some((o, b)) if o == owner && b.record == *record => m.remove(blob).map(|(_, b)| b),
            _ => None,
        }
    }

    fn put_staged(&self, owner: [u8; 32], blob: StagedBlob) {
        if let Ok(mut m) = self.staged.lock() {
            m.insert(blob.commitment, (owner, blob));
        }
    }
}

/// The HTTP API over `state`.
pub fn router(state: AppState) -> Router {
    let mut authed = Router::new();
    for spec in routes::ROUTES {
        if let Some(m) = routes::handler(&spec.method, spec.path) {
            authed = authed.route(spec.path, m);
        }
    }
    let authed = authed.route_layer(from_fn_with_state(state.clone(), auth::authenticate));
    let public = Router::new()
        .route(routes::PUBLIC[0], get(public::checkpoint))
        .route(routes::PUBLIC[1], get(public::tile));
    Router::new()
        .merge(public)
        .merge(authed)
        // The authenticator reads bodies up to MAX_JSON_BODY itself; let `Json` take them.
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::api::MAX_JSON_BODY,
        ))
        .layer(from_fn(error::json_errors))
        .layer(from_fn(public::log_request))
        .with_state(state)
}

/// What `blotter serve` was asked for.
pub struct ServeOptions {
    pub ledger: PathBuf,
    pub listen: Option<SocketAddr>,
    pub config: Config,
    /// Bind a non-loopback address without TLS (documented as unsafe).
    pub insecure_non_loopback: bool,
    /// Called once with the bound address, before serving.
    pub on_listening: Box<dyn FnOnce(SocketAddr) + Send>,
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn serve(opts: ServeOptions) -> Result<(), DaemonError> {
    let listen = opts.listen.unwrap_or(opts.config.listen);
    if !listen.ip().is_loopback() && !opts.insecure_non_loopback {
        return Err(DaemonError::Config(format!(
            "refusing to listen on {listen}: only loopback addresses are served without TLS, and this version has no TLS; put a TLS-terminating proxy in front and keep the daemon on 127.0.0.1, or pass --insecure-non-loopback (requests stay signed, but their contents, record contents included, cross the network in clear)"
        )));
    }
    let ledger = Ledger::open(&opts.ledger)?;
    // This process now holds the ledger: nothing else is exporting into its folder.
    handlers::remove_leftover_exports(ledger.dir());
    let key_path = opts
        .config
        .ledger_key
        .clone()
        .unwrap_or_else(|| ledger.checkpoint_key_path());
    let ledger_key = if key_path.is_file() {
        let k = crate::crypto::keyfile::load(&key_path, || None).map_err(LedgerError::from)?;
        Some(k)
    } else {
        tracing::warn!(
            "no ledger key at {}: checkpoints will not be signed",
            key_path.display()
        );
        None
    };
    let config = opts.config;
    let (state, writer) = AppState::new(ledger, ledger_key, &config);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| DaemonError::Io("the async runtime".into(), e))?;
    let result = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| DaemonError::Io(format!("listening on {listen}"), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| DaemonError::Io(format!("listening on {listen}"), e))?;
        let jobs = jobs::start(state.clone(), &config);
        (opts.on_listening)(addr);
        tracing::info!(%addr, "serving");
        let app = router(state.clone());
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| DaemonError::Io("serving".into(), e));
        for j in jobs {
            j.abort();
        }
        served
    });
    // Every request has finished; dropping the last state lets the writer drain and stop.
    drop(state);
    drop(rt);
    let _ = writer.join();
    tracing::info!("stopped; every acknowledged change is durable");
    result
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
