//! `sextant`: the all-in-one quick start — flags → components → serve until SIGTERM/SIGINT.

use clap::Parser;
use sextant_all_in_one::{run, AllInOneArgs};
use sextant_common::admin::AdminArgs;
use sextant_common::logging::LogArgs;
use sextant_common::service::{ServiceRuntime, DRAIN_TIMEOUT};

// The servers' allocator (sextant_common::alloc): the collector's and the store's
// allocations dominate ingest.
#[global_allocator]
static GLOBAL: sextant_common::alloc::MiMalloc = sextant_common::alloc::MiMalloc;

/// Jaeger all-in-one's admin port (the collector's).
const ADMIN_PORT: u16 = 14269;

/// Sextant all-in-one: agent, collector and query over one built-in store, with Jaeger's
/// ports and flags. Every flag can also be set from the environment (name in capitals, `.`
/// and `-` as `_`, e.g. SPAN_STORAGE_TYPE).
#[derive(Parser, Debug)]
#[command(name = "sextant", version, about)]
struct Cli {
    #[command(flatten)]
    all: AllInOneArgs,
    #[command(flatten)]
    admin: AdminArgs,
    #[command(flatten)]
    log: LogArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let service = ServiceRuntime::start(&cli.log, &cli.admin, ADMIN_PORT).await?;
    let running = run(&cli.all, service.shutdown.clone()).await?;
    service.ready_until_shutdown().await;
    running.join(DRAIN_TIMEOUT).await;
    service.finish().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every component's flags are flattened into one command: clap rejects duplicate
    /// argument ids only at run time, so check the whole command here.
    #[test]
    fn flags_of_all_components_fit_in_one_command() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["sextant", "--span-storage.type=memory"]).unwrap();
        assert_eq!(cli.all.query.http_host_port, ":16686");
        assert_eq!(cli.all.collector.grpc_host_port, ":14250");
    }
}
