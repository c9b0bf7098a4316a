//! `sextant-agent`: flags → agent, plus the admin server (health and Prometheus metrics on
//! :14271). On SIGTERM/SIGINT it stops reading, forwards what is queued and buffered
//! (bounded wait) and exits.

use anyhow::Context;
use clap::Parser;
use sextant_agent::{run, AgentArgs};
use sextant_common::admin::AdminArgs;
use sextant_common::logging::LogArgs;
use sextant_common::service::{ServiceRuntime, DRAIN_TIMEOUT};

// malloc/free were a third of the agent's CPU under load; mimalloc's thread-local free
// lists make the per-packet allocations much cheaper.
#[global_allocator]
static GLOBAL: sextant_common::alloc::MiMalloc = sextant_common::alloc::MiMalloc;

/// Jaeger's agent admin port.
const ADMIN_PORT: u16 = 14271;

/// Receives spans from Jaeger client libraries over UDP (thrift compact on 6831, binary on
/// 6832), forwards them to collectors over gRPC, and serves sampling strategies on 5778.
/// Every flag can also be set from the environment (name in capitals, `.` and `-` as `_`).
#[derive(Parser, Debug)]
#[command(name = "sextant-agent", version)]
struct Cli {
    #[command(flatten)]
    agent: AgentArgs,
    #[command(flatten)]
    admin: AdminArgs,
    #[command(flatten)]
    log: LogArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let svc = ServiceRuntime::start(&cli.log, &cli.admin, ADMIN_PORT)
        .await
        .context("starting admin server")?;
    let agent = run(&cli.agent, svc.shutdown.clone())
        .await
        .context("starting agent")?;
    svc.ready_until_shutdown().await;
    if !agent.join(DRAIN_TIMEOUT).await {
        tracing::warn!("some buffered spans were not forwarded before exit");
    }
    svc.finish().await;
    Ok(())
}
