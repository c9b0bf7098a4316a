//! The Sextant agent: a per-host daemon that receives spans from Jaeger client libraries
//! over UDP (thrift `emitBatch`, compact protocol on 6831, binary on 6832), forwards them to
//! the collectors over gRPC (api_v2 `PostSpans`, default `localhost:14250`), and serves the
//! clients' sampling strategies over HTTP (5778).
//!
//! ```text
//! UDP 6831/6832 ─▶ udp_server ─▶ bounded queue ─▶ processor workers (decode)
//!                                                     │
//!                                                     ▼
//!        reporter::batcher (per process; size/delay bounds, encode once)
//!                                                     │
//!                                                     ▼
//!        reporter::buffer (bounded by bytes; drops counted) ─▶ senders ─▶ peers (round-robin,
//!                                                                          static or dns:///)
//! HTTP 5778 ─▶ sampling (cache per service) ─▶ collectors' SamplingManager
//! ```
//!
//! Layout: [`config`] the flags (shared with the all-in-one), [`udp_server`] the socket
//! readers, [`processor`] the decoding workers, [`reporter`] batching, buffering and
//! forwarding, [`sampling`] the HTTP server, [`tags`] `--agent.tags`, [`metrics`] Jaeger's
//! agent metric names. [`run`] starts everything and returns the bound addresses.
//!
//! Shutdown: readers stop at once, workers drain their queues, every open batch is closed,
//! and senders deliver what is buffered; the caller bounds the wait with
//! [`RunningAgent::join`].

pub mod config;
pub mod metrics;
pub mod processor;
pub mod reporter;
pub mod sampling;
pub mod tags;
pub mod tls;
pub mod udp_server;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sextant_common::net::HostPortError;
use sextant_common::shutdown::Shutdown;
use sextant_model::thrift::Protocol;
use tokio::task::JoinHandle;

pub use config::AgentArgs;
use processor::ProcessorConfig;
use reporter::batcher::Batcher;
use reporter::buffer::SendBuffer;
use reporter::peers::Peers;
use reporter::resolver::{Resolver, SystemResolver};
use reporter::target::Target;
use reporter::SenderConfig;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("invalid address: {0}")]
    Address(HostPortError),
    #[error("cannot listen on UDP {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot listen on HTTP {addr}: {source}")]
    BindHttp {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Target(#[from] reporter::target::TargetError),
    #[error(transparent)]
    Tags(#[from] tags::TagsError),
    #[error("TLS: {0}")]
    Tls(String),
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

/// A started agent: where its servers listen, and its tasks.
pub struct RunningAgent {
    /// Compact-protocol `emitBatch` (Jaeger clients' default).
    pub compact_addr: SocketAddr,
    /// Binary-protocol `emitBatch`.
    pub binary_addr: SocketAddr,
    /// Sampling strategies (`/sampling`, `/`, `/baggageRestrictions`).
    pub http_addr: SocketAddr,
    /// The collector addresses in use right now.
    pub peers: Arc<Peers>,
    /// Readers and workers; when they are done nothing more enters the batcher.
    intake: Vec<JoinHandle<()>>,
    batcher: Arc<Batcher>,
    buffer: Arc<SendBuffer>,
    senders: Vec<JoinHandle<()>>,
    background: Vec<JoinHandle<()>>,
}

impl RunningAgent {
    /// After shutdown: waits until every packet read has been decoded, every batch closed
    /// and every buffered batch delivered (or dropped and counted), or until `timeout` has
    /// passed; returns whether everything finished in time. Work still pending at the
    /// deadline is abandoned.
    pub async fn join(self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let RunningAgent {
            intake,
            batcher,
            buffer,
            senders,
            background,
            ..
        } = self;
        let mut aborts: Vec<_> = intake.iter().map(|t| t.abort_handle()).collect();
        aborts.extend(senders.iter().map(|t| t.abort_handle()));
        aborts.extend(background.iter().map(|t| t.abort_handle()));
        let drain = async move {
            futures::future::join_all(intake).await;
            batcher.flush_due(true);
            buffer.close();
            futures::future::join_all(senders).await;
            futures::future::join_all(background).await;
        };
        match tokio::time::timeout_at(deadline, drain).await {
            Ok(()) => true,
            Err(_) => {
                tracing::warn!(?timeout, "agent did not deliver everything it held in time");
                aborts.iter().for_each(|a| a.abort());
                false
            }
        }
    }
}

/// Binds every port and starts forwarding; returns once the sockets are bound. Collector
/// names of a `dns:///` target are resolved with the system resolver.
pub async fn run(args: &AgentArgs, shutdown: Shutdown) -> Result<RunningAgent, AgentError> {
    run_with_resolver(args, shutdown, Arc::new(SystemResolver)).await
}

/// [`run`] with another name service for `dns:///` targets (embedding, tests).
pub async fn run_with_resolver(
    args: &AgentArgs,
    shutdown: Shutdown,
    resolver: Arc<dyn Resolver>,
) -> Result<RunningAgent, AgentError> {
    let target = Target::parse(&args.reporter_host_port)?;
    let agent_tags = tags::parse(&args.agent_tags)?;
    let tls = tls::client_config(&args.tls, &target)?;
    let peers = Arc::new(Peers::new(tls));
    match &target {
        Target::Static(list) => peers.set(list)?,
        // The first resolution happens before the agent reports ready, so spans read at
        // once have somewhere to go; failures leave the set empty until the next refresh.
        Target::Dns { host, port } => {
            reporter::resolve_into(host, *port, &*resolver, &peers).await;
        }
    }

    let buffer = Arc::new(SendBuffer::new(args.buffer_max_bytes));
    let batcher = Arc::new(Batcher::new(
        buffer.clone(),
        &agent_tags,
        args.batch_max_spans,
        args.batch_max_delay,
    ));
    let senders = reporter::start_senders(
        peers.clone(),
        buffer.clone(),
        &SenderConfig {
            concurrency: args.reporter_concurrency,
            retry_max: args.reporter_retry_max,
        },
    );
    let mut background = vec![start_flusher(
        batcher.clone(),
        args.batch_max_delay,
        shutdown.clone(),
    )];
    background.extend(reporter::start_discovery(
        &target,
        peers.clone(),
        resolver,
        args.discovery_refresh_interval,
        shutdown.clone(),
    ));

    let cache = Arc::new(sampling::cache::StrategyCache::new(
        peers.clone(),
        args.sampling_refresh_interval,
    ));
    let (http_addr, http_task) =
        sampling::serve(&args.http_host_port, cache, shutdown.clone()).await?;
    background.push(http_task);

    let compact =
        udp_server::bind(&args.compact_host_port, args.compact_socket_buffer_size).await?;
    let binary = udp_server::bind(&args.binary_host_port, args.binary_socket_buffer_size).await?;
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
    let mut intake = processor::start(
        compact,
        compact_addr,
        &compact_cfg,
        batcher.clone(),
        shutdown.clone(),
    );
    intake.extend(processor::start(
        binary,
        binary_addr,
        &binary_cfg,
        batcher.clone(),
        shutdown,
    ));
    tracing::info!(protocol = "compact", addr = %compact_addr, "listening addr={compact_addr}");
    tracing::info!(protocol = "binary", addr = %binary_addr, "listening addr={binary_addr}");
    tracing::info!(addr = %http_addr, "serving sampling strategies addr={http_addr}");
    tracing::info!(collectors = %target, "forwarding spans over gRPC");
    Ok(RunningAgent {
        compact_addr,
        binary_addr,
        http_addr,
        peers,
        intake,
        batcher,
        buffer,
        senders,
        background,
    })
}

/// Closes batches that reached the delay bound, checking several times per bound so no
/// span waits much longer than it. Stops at shutdown ([`RunningAgent::join`] flushes the
/// rest once the workers are done).
fn start_flusher(batcher: Arc<Batcher>, max_delay: Duration, shutdown: Shutdown) -> JoinHandle<()> {
    let period = (max_delay / 4).max(Duration::from_millis(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.wait() => break,
                _ = tick.tick() => batcher.flush_due(false),
            }
        }
    })
}
