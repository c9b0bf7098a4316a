//! The all-in-one: the agent, collector and query libraries wired over one store in one
//! process. It reuses each component's flags (`AgentArgs`, `CollectorArgs`, `QueryArgs`,
//! `StorageArgs`) unchanged, so every flag means the same here as in the component binary.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use clap::Args;
use sextant_agent::AgentArgs;
use sextant_collector::CollectorArgs;
use sextant_common::shutdown::Shutdown;
use sextant_query::QueryArgs;
use sextant_storage::{StorageArgs, StorageType};

/// The backend used when `--span-storage.type` is not given: the persistent embedded
/// store, so a newcomer's traces survive a restart with no database to run.
pub const DEFAULT_STORAGE: StorageType = StorageType::Embedded;

#[derive(Args, Debug, Clone)]
pub struct AllInOneArgs {
    #[command(flatten)]
    pub agent: AgentArgs,
    #[command(flatten)]
    pub collector: CollectorArgs,
    #[command(flatten)]
    pub query: QueryArgs,
    #[command(flatten)]
    pub storage: StorageArgs,
}

#[derive(Debug, thiserror::Error)]
pub enum AllInOneError {
    #[error("span storage: {0}")]
    Storage(#[from] sextant_storage::StorageError),
    #[error("collector: {0}")]
    Collector(#[from] sextant_collector::CollectorError),
    #[error("query: {0}")]
    Query(#[from] sextant_query::QueryError),
    #[error("agent: {0}")]
    Agent(#[from] sextant_agent::AgentError),
}

/// What is running, with the real bound addresses.
pub struct RunningAllInOne {
    pub collector: sextant_collector::RunningCollector,
    pub query: sextant_query::RunningQuery,
    pub agent: sextant_agent::RunningAgent,
    /// Closed last, once nothing writes any more (the embedded store flushes its buffer).
    pub writers: Vec<std::sync::Arc<dyn sextant_storage::SpanWriter>>,
}

/// Closing a store flushes at most its write buffers; if that takes longer, nothing is
/// lost (the write-ahead log is replayed at the next start).
const STORE_CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

impl RunningAllInOne {
    /// Waits for every component to drain after shutdown (each bounded by `timeout`).
    pub async fn join(self, timeout: std::time::Duration) {
        // The agent goes first: it flushes what it holds into the collector, which must
        // still be accepting.
        self.agent.join(timeout).await;
        self.collector.join(timeout).await;
        let _ = tokio::time::timeout(timeout, self.query.wait()).await;
        for w in self.writers {
            match tokio::time::timeout(STORE_CLOSE_TIMEOUT, w.close()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "closing span storage"),
                Err(_) => tracing::warn!("span storage did not close in time"),
            }
        }
    }
}

/// Where the in-process agent should send: the collector's own gRPC port, on loopback when
/// the collector listens on every interface.
fn loopback_target(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        addr.ip()
    };
    SocketAddr::new(ip, addr.port()).to_string()
}

/// Starts storage, collector, query and agent. Returns once every listener is bound.
pub async fn run(
    args: &AllInOneArgs,
    shutdown: Shutdown,
) -> Result<RunningAllInOne, AllInOneError> {
    let storage = sextant_storage::build_with_default(&args.storage, DEFAULT_STORAGE).await?;
    // Adaptive sampling's state: in memory unless `--sampling-storage.type` says otherwise.
    let sampling_store = sextant_storage::sampling::build(
        args.collector.sampling.adaptive.storage_type,
        &args.storage,
    )?;
    let collector = sextant_collector::run_with_sampling_store(
        &args.collector,
        storage.clone(),
        sampling_store,
        shutdown.clone(),
    )
    .await?;
    let archive = sextant_storage::factory::archive::build_archive_with_default(
        &args.storage,
        DEFAULT_STORAGE,
    )
    .await?;
    let mut writers = vec![storage.writer.clone()];
    writers.extend(archive.as_ref().map(|a| a.writer.clone()));
    let stores = sextant_query::Stores {
        primary: storage,
        archive,
    };
    let query = sextant_query::run(&args.query, stores, shutdown.clone()).await?;

    // The agent always reports to this process's collector (as Jaeger's all-in-one does),
    // over real gRPC so the path is the same one a deployed agent takes.
    let mut agent_args = args.agent.clone();
    agent_args.reporter_host_port = loopback_target(collector.grpc_addr);
    let agent = sextant_agent::run(&agent_args, shutdown).await?;
    Ok(RunningAllInOne {
        collector,
        query,
        agent,
        writers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_targets_loopback_when_collector_listens_everywhere() {
        assert_eq!(
            loopback_target("0.0.0.0:14250".parse().unwrap()),
            "127.0.0.1:14250"
        );
        assert_eq!(
            loopback_target("127.0.0.5:999".parse().unwrap()),
            "127.0.0.5:999"
        );
    }
}
