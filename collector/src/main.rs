//! `sextant-collector`: flags → storage → collector, plus the admin server (health and
//! Prometheus metrics on :14269). Exits cleanly on SIGTERM/SIGINT.

use anyhow::Context;
use clap::Parser;
use sextant_collector::{run_with_sampling_store, CollectorArgs};
use sextant_common::admin::AdminArgs;
use sextant_common::logging::LogArgs;
use sextant_common::service::{ServiceRuntime, DRAIN_TIMEOUT};
use sextant_storage::StorageArgs;

// glibc malloc/free (with its cross-thread frees and arena consolidation) were ~30% of the
// collector's CPU under OTLP load: spans are allocated by the receiving task and freed by
// the writer. See sextant_common::alloc.
#[global_allocator]
static GLOBAL: sextant_common::alloc::MiMalloc = sextant_common::alloc::MiMalloc;

/// Jaeger's collector admin port.
const ADMIN_PORT: u16 = 14269;

/// Receives spans (Jaeger gRPC and thrift HTTP, OTLP gRPC and HTTP, Zipkin) and writes them
/// to span storage or to Kafka (`--span-storage.type=kafka`). Every flag can also be set from
/// the environment (name in capitals, `.` and `-` as `_`).
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
    let service = ServiceRuntime::start(&cli.log, &cli.admin, ADMIN_PORT).await?;
    let storage = sextant_storage::build(&cli.storage)
        .await
        .context("building span storage")?;
    let sampling_store = sextant_storage::sampling::build(
        cli.collector.sampling.adaptive.storage_type,
        &cli.storage,
    )
    .context("building sampling storage")?;
    let collector = run_with_sampling_store(
        &cli.collector,
        storage,
        sampling_store,
        service.shutdown.clone(),
    )
    .await
    .context("starting collector")?;
    service.ready_until_shutdown().await;
    if !collector.join(DRAIN_TIMEOUT).await {
        tracing::warn!("some requests were still in flight at exit");
    }
    service.finish().await;
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
            "sextant-collector",
            "--span-storage.type=kafka",
            "--kafka.producer.brokers=k:9092",
        ])
        .unwrap();
        assert_eq!(cli.storage.kafka.connection.brokers, "k:9092");
        let cli = Cli::try_parse_from([
            "sextant-collector",
            "--sampling.config-type=adaptive",
            "--sampling.calculation-interval=30s",
        ])
        .unwrap();
        let sampling = &cli.collector.sampling;
        assert_eq!(
            sampling.config_type,
            sextant_collector::sampling::ConfigType::Adaptive
        );
        assert_eq!(
            sampling.adaptive.calculation_interval,
            std::time::Duration::from_secs(30)
        );
    }
}
