//! The Sextant agent: a per-host daemon that receives spans from Jaeger client libraries
//! over UDP (thrift `emitBatch`, compact protocol on 6831, binary on 6832) and forwards them
//! to a collector over gRPC (api_v2 `PostSpans`, default `localhost:14250`).
//!
//! Layout: [`config`] holds the flags (shared with the all-in-one), [`udp_server`] the
//! socket reader and its bounded queue, [`processor`] the decoding workers, [`reporter`]
//! the gRPC forwarder with retries, [`metrics`] Jaeger's agent metric names. [`run`] starts
//! everything and returns the bound addresses.
//!
//! Shutdown: readers stop at once, workers drain what is queued (forwarding it), and the
//! caller bounds the wait with [`RunningAgent::join`].

pub mod config;
pub mod metrics;
pub mod processor;
pub mod reporter;
pub mod udp_server;

use std::net::SocketAddr;
use std::time::Duration;

use sextant_common::net::HostPortError;
use sextant_common::shutdown::Shutdown;
use sextant_model::thrift::Protocol;
use tokio::task::JoinHandle;

pub use config::AgentArgs;
use processor::ProcessorConfig;
use reporter::GrpcReporter;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("invalid UDP address: {0}")]
    Address(HostPortError),
    #[error("cannot listen on UDP {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("reporter: {0}")]
    Reporter(String),
}

/// The `model` / `protocol` labels of Jaeger's UDP server and processor metrics.
#[derive(Clone, Copy, Debug)]
pub struct Labels {
    protocol: &'static str,
}

impl Labels {
    pub fn for_protocol(protocol: Protocol) -> Self {
        Labels {
            protocol: match protocol {
                Protocol::Compact => "compact",
                Protocol::Binary => "binary",
            },
        }
    }

    /// `[model, protocol]`; the model is always Jaeger's (Zipkin-over-UDP is not served).
    pub fn values(self) -> [&'static str; 2] {
        ["jaeger", self.protocol]
    }
}

/// A started agent: where its UDP servers listen, and its tasks.
pub struct RunningAgent {
    /// Compact-protocol `emitBatch` (Jaeger clients' default).
    pub compact_addr: SocketAddr,
    /// Binary-protocol `emitBatch`.
    pub binary_addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningAgent {
    /// Waits until readers and workers have finished after shutdown (queued packets
    /// forwarded), or `timeout` passed; returns whether everything finished in time. Work
    /// still pending at the deadline is abandoned.
    pub async fn join(self, timeout: Duration) -> bool {
        let aborts: Vec<_> = self.tasks.iter().map(|t| t.abort_handle()).collect();
        match tokio::time::timeout(timeout, futures::future::join_all(self.tasks)).await {
            Ok(_) => true,
            Err(_) => {
                tracing::warn!(?timeout, "agent did not drain its queues in time");
                aborts.iter().for_each(|a| a.abort());
                false
            }
        }
    }
}

/// Binds both UDP ports and starts forwarding; returns once the sockets are bound.
pub async fn run(args: &AgentArgs, shutdown: Shutdown) -> Result<RunningAgent, AgentError> {
    let reporter = GrpcReporter::new(&args.reporter_host_port, args.reporter_retry_max)?;
    let compact = udp_server::bind(&args.compact_host_port).await?;
    let binary = udp_server::bind(&args.binary_host_port).await?;
    let local = |s: &tokio::net::UdpSocket, hp: &str| {
        s.local_addr().map_err(|source| AgentError::Bind {
            addr: sextant_common::net::parse_listen_addr(hp)
                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0))),
            source,
        })
    };
    let compact_addr = local(&compact, &args.compact_host_port)?;
    let binary_addr = local(&binary, &args.binary_host_port)?;

    let compact_cfg = ProcessorConfig {
        protocol: Protocol::Compact,
        max_packet_size: args.compact_max_packet_size,
        queue_size: args.compact_queue_size,
        workers: args.compact_workers,
    };
    let binary_cfg = ProcessorConfig {
        protocol: Protocol::Binary,
        max_packet_size: args.binary_max_packet_size,
        queue_size: args.binary_queue_size,
        workers: args.binary_workers,
    };
    let mut tasks = processor::start(
        compact,
        compact_addr,
        &compact_cfg,
        reporter.clone(),
        shutdown.clone(),
    );
    tasks.extend(processor::start(
        binary,
        binary_addr,
        &binary_cfg,
        reporter,
        shutdown,
    ));
    tracing::info!(protocol = "compact", addr = %compact_addr, "listening addr={compact_addr}");
    tracing::info!(protocol = "binary", addr = %binary_addr, "listening addr={binary_addr}");
    tracing::info!(collector = %args.reporter_host_port, "forwarding spans over gRPC");
    Ok(RunningAgent {
        compact_addr,
        binary_addr,
        tasks,
    })
}
