//! `sextant-ingester`: flags → storage → Kafka consumer, plus the admin server (health and
//! Prometheus metrics on :14270). Exits cleanly on SIGTERM/SIGINT, and non-zero when the
//! deadlock detector (`--ingester.deadlockInterval`) fires.

use anyhow::Context;
use clap::Parser;
use sextant_common::admin::AdminArgs;
use sextant_common::logging::LogArgs;
use sextant_common::service::ServiceRuntime;
use sextant_ingester::{run, IngesterArgs};
use sextant_storage::{StorageArgs, StorageType};

// mimalloc without transparent huge pages (sextant_common::alloc): spans per CPU-second of
// the ingester rose by about a third against glibc's malloc (docs/benchmarks.md, Kafka).
#[global_allocator]
static GLOBAL: sextant_common::alloc::MiMalloc = sextant_common::alloc::MiMalloc;

/// Jaeger's ingester admin port.
const ADMIN_PORT: u16 = 14270;
/// The store an ingester fills when none is named: the cluster backend Sextant supports
/// (Jaeger's default, Cassandra, is not available here).
const DEFAULT_STORAGE: StorageType = StorageType::Elasticsearch;

/// Reads spans from Jaeger's Kafka topic and writes them to span storage, at least once.
/// Every flag can also be set from the environment (name in capitals, `.` and `-` as `_`).
#[derive(Parser, Debug)]
#[command(name = "sextant-ingester", version)]
struct Cli {
    #[command(flatten)]
    ingester: IngesterArgs,
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
    let service = ServiceRuntime::start(&cli.log, &cli.admin, ADMIN_PORT).await?;
    if cli.storage.resolve(DEFAULT_STORAGE) == StorageType::Kafka {
        anyhow::bail!("--span-storage.type=kafka would feed the topic back into itself; choose the store to fill");
    }
    let storage = sextant_storage::build_with_default(&cli.storage, DEFAULT_STORAGE)
        .await
        .context("building span storage")?;
    let mut ingester = tokio::spawn({
        let args = cli.ingester.clone();
        let shutdown = service.shutdown.clone();
        async move { run(&args, storage.writer, shutdown).await }
    });
    // An ingester that stops on its own (deadlock, bad configuration) ends the process too.
    let early = tokio::select! {
        _ = service.ready_until_shutdown() => None,
        result = &mut ingester => Some(result),
    };
    service.shutdown.trigger();
    let result = match early {
        Some(result) => result,
        None => ingester.await,
    };
    service.finish().await;
    result.context("ingester task")?.context("ingester")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Flattened flag groups clash only at run time in clap; check the whole command here.
    #[test]
    fn flags_fit_in_one_command() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "sextant-ingester",
            "--kafka.consumer.brokers=k:9092",
            "--span-storage.type=memory",
        ])
        .unwrap();
        assert_eq!(cli.ingester.connection.brokers, "k:9092");
        assert_eq!(cli.storage.resolve(DEFAULT_STORAGE), StorageType::Memory);
    }
}
