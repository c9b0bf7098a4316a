//! `sextant-agent`: flags → agent, plus the admin server (health and Prometheus metrics on
//! :14271). On SIGTERM/SIGINT it stops reading, forwards what is queued (bounded wait) and
//! exits.

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use sextant_agent::{run, AgentArgs};
use sextant_common::admin::{self, AdminArgs, Health};
use sextant_common::logging::{self, LogArgs};
use sextant_common::shutdown::Shutdown;

/// Jaeger's agent admin port.
const ADMIN_PORT: u16 = 14271;
/// How long queued packets may take to be forwarded once shutdown starts.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Receives spans from Jaeger client libraries over UDP (thrift compact on 6831, binary on
/// 6832) and forwards them to a collector over gRPC. Every flag can also be set from the
/// environment (name in capitals, `.` and `-` as `_`).
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
    logging::init(&cli.log);

    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    let health = Health::default();
    let admin_addr = cli.admin.addr(ADMIN_PORT).context("admin address")?;
    let (_, admin_task) = admin::serve(admin_addr, health.clone(), shutdown.clone())
        .await
        .with_context(|| format!("starting admin server on {admin_addr}"))?;

    let agent = run(&cli.agent, shutdown.clone())
        .await
        .context("starting agent")?;
    health.set_ready(true);
    tracing::info!("agent ready");

    shutdown.wait().await;
    health.set_ready(false);
    tracing::info!("shutting down: forwarding queued spans");
    if !agent.join(DRAIN_TIMEOUT).await {
        tracing::warn!("some queued spans were not forwarded before exit");
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), admin_task).await;
    Ok(())
}
