//! `blotter serve`: logging set up, configuration read, then the daemon runs until
//! SIGTERM or SIGINT.

use serde_json::json;

use super::args::ServeArgs;
use super::{Ctx, Res};
use crate::daemon::{self, Config, ServeOptions};

pub(crate) fn run(ctx: &Ctx, a: &ServeArgs) -> Res<i32> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BLOTTER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let config = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let json = ctx.cli.json;
    daemon::serve(ServeOptions {
        ledger: ctx.ledger_dir()?.to_path_buf(),
        listen: a.listen,
        config,
        insecure_non_loopback: a.insecure_non_loopback,
        on_listening: Box::new(move |addr| {
            use std::io::Write;
            let url = format!("http://{addr}");
            let line = if json {
                json!({"listening": url}).to_string()
            } else {
                format!("listening on {url}")
            };
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }),
    })?;
    Ok(0)
}
