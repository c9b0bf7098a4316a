//! The Sextant collector: receives spans in every format Jaeger's collector accepts and
//! writes them to storage.
//!
//! Layout: [`config`] holds the flags (shared with the all-in-one), [`receivers`] one module
//! per wire protocol, [`processor`] the single path every receiver's spans take to storage
//! (sanitising, metrics, backpressure), [`metrics`] Jaeger's metric names, [`server`] the
//! listener plumbing. [`run`] starts everything and returns the bound addresses.
//!
//! | receiver | flag | default |
//! | --- | --- | --- |
//! | Jaeger api_v2 gRPC `PostSpans` | `--collector.grpc-server.host-port` | `:14250` |
//! | Jaeger thrift HTTP `POST /api/traces` | `--collector.http-server.host-port` | `:14268` |
//! | OTLP gRPC `TraceService/Export` | `--collector.otlp.grpc.host-port` | `:4317` |
//! | OTLP HTTP `POST /v1/traces` | `--collector.otlp.http.host-port` | `:4318` |
//! | Zipkin `POST /api/v1/spans`, `/api/v2/spans` | `--collector.zipkin.host-port` | off |
//! | Sampling `SamplingManager` (gRPC) | on the api_v2 gRPC port | |
//! | Sampling `GET /api/sampling?service=` | on the thrift HTTP port | |
//!
//! Sampling strategies come from a file or from adaptive sampling (`--sampling.config-type`),
//! see [`sampling`]; adaptive sampling's shared state lives in a
//! [`SamplingStore`] ([`run_with_sampling_store`]).
//!
//! Every server can serve TLS, and require client certificates: see [`tls`].

pub mod config;
pub mod metrics;
pub mod processor;
pub mod receivers;
pub mod sampling;
pub mod sanitize;
pub mod server;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sextant_common::net::HostPortError;
use sextant_common::shutdown::Shutdown;
use sextant_storage::sampling::SamplingStore;
use sextant_storage::Storage;
use tokio::task::JoinHandle;

pub use config::CollectorArgs;
pub use processor::{ProcessError, SpanFormat, SpanProcessor, Transport};

#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    #[error("invalid {what} address: {source}")]
    Address {
        what: &'static str,
        source: HostPortError,
    },
    #[error(transparent)]
    Sampling(#[from] sampling::SamplingError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot listen for {what} on {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A started collector: where each receiver listens, and its server tasks.
pub struct RunningCollector {
    /// Jaeger api_v2 gRPC (`PostSpans`).
    pub grpc_addr: SocketAddr,
    /// Jaeger thrift over HTTP (`POST /api/traces`).
    pub http_addr: SocketAddr,
    /// OTLP gRPC; `None` when OTLP is disabled.
    pub otlp_grpc_addr: Option<SocketAddr>,
    /// OTLP HTTP; `None` when OTLP is disabled.
    pub otlp_http_addr: Option<SocketAddr>,
    /// Zipkin HTTP; `None` unless `--collector.zipkin.host-port` is set.
    pub zipkin_addr: Option<SocketAddr>,
    /// The sampling strategies served (over gRPC and HTTP).
    pub sampling: sampling::SamplingProvider,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningCollector {
    /// Waits until every receiver has stopped (after the [`Shutdown`] given to [`run`]
    /// fired), or until `timeout` has passed; returns whether all stopped in time. Servers
    /// still draining at the deadline are abandoned (aborted).
    pub async fn join(self, timeout: Duration) -> bool {
        let aborts: Vec<_> = self.tasks.iter().map(|t| t.abort_handle()).collect();
        let all = futures::future::join_all(self.tasks);
        match tokio::time::timeout(timeout, all).await {
            Ok(_) => true,
            Err(_) => {
                tracing::warn!(?timeout, "collector receivers did not drain in time");
                aborts.iter().for_each(|a| a.abort());
                false
            }
        }
    }
}

/// Binds every enabled receiver and serves until `shutdown` fires. Returns once all
/// listeners are bound, so a caller may report readiness right away. Adaptive sampling (if
/// configured) keeps its state in a sampling store of its own, in memory.
pub async fn run(
    args: &CollectorArgs,
    storage: Storage,
    shutdown: Shutdown,
) -> Result<RunningCollector, CollectorError> {
    let sampling_store = sextant_storage::sampling::build_memory();
    run_with_sampling_store(args, storage, sampling_store, shutdown).await
}

/// [`run`], with adaptive sampling's state in `sampling_store` (shared with other
/// collectors, so they agree on probabilities).
pub async fn run_with_sampling_store(
    args: &CollectorArgs,
    storage: Storage,
    sampling_store: Arc<dyn SamplingStore>,
    shutdown: Shutdown,
) -> Result<RunningCollector, CollectorError> {
    let sampling::Sampling {
        provider: sampling,
        aggregator,
    } = sampling::start(&args.sampling, sampling_store, shutdown.clone()).await?;
    let memory_bound = u64::from(args.queue_size_memory_mib) * 1024 * 1024;
    let processor = SpanProcessor::new(storage.writer.clone(), args.num_workers, args.queue_size)
        .with_memory_bound(memory_bound)
        .with_throughput_aggregator(aggregator);
    let max_msg = args.grpc_max_message_size;

    // TLS files are read (and checked) before anything binds or serves, so a bad
    // certificate fails start-up as a whole.
    let grpc_tls = args.grpc_tls.server_config(tls::ALPN_GRPC)?;
    let http_tls = args.http_tls.server_config(tls::ALPN_HTTP)?;
    let (otlp_grpc_tls, otlp_http_tls) = if args.otlp_enabled {
        (
            args.otlp_grpc_tls.server_config(tls::ALPN_GRPC)?,
            args.otlp_http_tls.server_config(tls::ALPN_HTTP)?,
        )
    } else {
        (None, None)
    };
    let zipkin_tls = args.zipkin_tls.server_config(tls::ALPN_HTTP)?;

    // Bind everything first: a port conflict must fail start-up before anything serves.
    let grpc_listener = server::bind("jaeger grpc", &args.grpc_host_port).await?;
    let http_listener = server::bind("jaeger http", &args.http_host_port).await?;
    let otlp_listeners = if args.otlp_enabled {
        Some((
            server::bind("otlp grpc", &args.otlp_grpc_host_port).await?,
            server::bind("otlp http", &args.otlp_http_host_port).await?,
        ))
    } else {
        None
    };
    let zipkin_listener = if args.zipkin_host_port.trim().is_empty() {
        None
    } else {
        Some(server::bind("zipkin", &args.zipkin_host_port).await?)
    };

    let mut tasks = Vec::new();
    let grpc_router = tonic::transport::Server::builder()
        .add_service(receivers::grpc_api_v2::service(processor.clone(), max_msg))
        .add_service(sampling::grpc::service(sampling.clone()));
    let (grpc_addr, t) = server::spawn_grpc(
        "jaeger grpc",
        grpc_router,
        grpc_listener,
        grpc_tls,
        shutdown.clone(),
    )?;
    tasks.push(t);

    let http_router = receivers::thrift_http::router(processor.clone(), args.http_max_body_size)
        .merge(sampling::http::router(sampling.clone()));
    let (http_addr, t) = server::spawn_http(
        "jaeger http",
        http_router,
        http_listener,
        http_tls,
        shutdown.clone(),
    )?;
    tasks.push(t);

    let (mut otlp_grpc_addr, mut otlp_http_addr) = (None, None);
    if let Some((grpc, http)) = otlp_listeners {
        let router = tonic::transport::Server::builder()
            .add_service(receivers::otlp_grpc::service(processor.clone(), max_msg));
        let (addr, t) = server::spawn_grpc(
            "otlp grpc",
            router,
            grpc,
            otlp_grpc_tls.clone(),
            shutdown.clone(),
        )?;
        otlp_grpc_addr = Some(addr);
        tasks.push(t);

        let router = receivers::otlp_http::router(processor.clone(), args.http_max_body_size);
        let (addr, t) = server::spawn_http(
            "otlp http",
            router,
            http,
            otlp_http_tls.clone(),
            shutdown.clone(),
        )?;
        otlp_http_addr = Some(addr);
        tasks.push(t);
    }

    let mut zipkin_addr = None;
    if let Some(listener) = zipkin_listener {
        let cors = receivers::zipkin::Cors {
            allowed_origins: &args.zipkin_allowed_origins,
            allowed_headers: &args.zipkin_allowed_headers,
        };
        let router = receivers::zipkin::router(processor.clone(), args.http_max_body_size, cors);
        let (addr, t) = server::spawn_http(
            "zipkin",
            router,
            listener,
            zipkin_tls.clone(),
            shutdown.clone(),
        )?;
        zipkin_addr = Some(addr);
        tasks.push(t);
    }

    Ok(RunningCollector {
        grpc_addr,
        http_addr,
        otlp_grpc_addr,
        otlp_http_addr,
        zipkin_addr,
        sampling,
        tasks,
    })
}
