//! `sextant-collector`: flags → storage → collector, plus the admin server (health and
//! Prometheus metrics on :14269). Exits cleanly on SIGTERM/SIGINT.

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use sextant_collector::{run, CollectorArgs};
use sextant_common::admin::{self, AdminArgs, Health};
use sextant_common::logging::{self, LogArgs};
use sextant_common::shutdown::Shutdown;
use sextant_storage::StorageArgs;

/// Jaeger's collector admin port.
const ADMIN_PORT: u16 = 14269;
/// How long in-flight requests may take to finish once shutdown starts.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Receives spans (Jaeger gRPC and thrift HTTP, OTLP gRPC and HTTP) and writes them to span
/// storage. Every flag can also be set from the environment (name in capitals, `.` and `-`
/// as `_`).
#[derive(Parser, Debug)]
#[command(name = "sextant-collector", version)]
struct Cli {
    #[command(flatten)]
    collector: CollectorArgs,
    #[command(flatten)]
    storage: StorageArgs,
    #[command(flatten)]
    admin: AdminArgs,
    #[command(flatten)]
    log: LogArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    logging::init(&cli.log);

    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    let health = Health::default();
    let admin_addr = cli.admin.addr(ADMIN_PORT).context("admin address")?;
    let (_, admin_task) = admin::serve(admin_addr, health.clone(), shutdown.clone())
        .await
        .with_context(|| format!("starting admin server on {admin_addr}"))?;

    let storage = sextant_storage::build(&cli.storage)
        .await
        .context("building span storage")?;
    let collector = run(&cli.collector, storage, shutdown.clone())
        .await
        .context("starting collector")?;
    health.set_ready(true);
    tracing::info!("collector ready");

    shutdown.wait().await;
    health.set_ready(false);
    tracing::info!("shutting down");
    let drained = collector.join(DRAIN_TIMEOUT).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), admin_task).await;
    if !drained {
        tracing::warn!("some requests were still in flight at exit");
    }
    Ok(())
}
