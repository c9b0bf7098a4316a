//! `sextant-query`: flags → logging → admin server → storage (+ archive) → HTTP and gRPC
//! query APIs, until SIGTERM/SIGINT.

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use sextant_common::admin::{self, AdminArgs, Health};
use sextant_common::logging::{self, LogArgs};
use sextant_common::shutdown::Shutdown;
use sextant_query::QueryArgs;
use sextant_storage::StorageArgs;

// The servers' allocator (sextant_common::alloc): a trace response is many small strings.
#[global_allocator]
static GLOBAL: sextant_common::alloc::MiMalloc = sextant_common::alloc::MiMalloc;

/// Jaeger's query admin port (health at `/`, metrics at `/metrics`).
const ADMIN_PORT: u16 = 16687;
/// How long in-flight requests get to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Sextant query service: Jaeger's query HTTP and gRPC APIs over the configured span storage.
#[derive(Parser, Debug)]
#[command(name = "sextant-query", version, about)]
struct Cli {
    #[command(flatten)]
    query: QueryArgs,
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
    let admin_addr = cli.admin.addr(ADMIN_PORT)?;
    let (_, admin_task) = admin::serve(admin_addr, health.clone(), shutdown.clone())
        .await
        .with_context(|| format!("starting the admin server on {admin_addr}"))?;

    if cli.storage.resolve(sextant_storage::StorageType::Memory)
        == sextant_storage::StorageType::Kafka
    {
        anyhow::bail!(
            "--span-storage.type=kafka cannot be read; query the storage sextant-ingester writes to"
        );
    }
    let storage = sextant_storage::build(&cli.storage)
        .await
        .context("building span storage")?;
    let archive = sextant_storage::factory::archive::build_archive_with_default(
        &cli.storage,
        sextant_storage::StorageType::Memory,
    )
    .await
    .context("building archive storage")?;
    let stores = sextant_query::Stores {
        primary: storage,
        archive,
    };
    let query = sextant_query::run(&cli.query, stores, shutdown.clone()).await?;
    health.set_ready(true);

    shutdown.wait().await;
    health.set_ready(false);
    if tokio::time::timeout(DRAIN_TIMEOUT, query.wait())
        .await
        .is_err()
    {
        tracing::warn!("query server did not drain in time; exiting");
    }
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, admin_task).await;
    Ok(())
}
