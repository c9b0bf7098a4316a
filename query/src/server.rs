//! Binding and serving the HTTP and gRPC query servers until shutdown.

use std::net::SocketAddr;

use axum::serve::ListenerExt;
use axum::Router;
use sextant_common::net::parse_listen_addr;
use sextant_common::shutdown::Shutdown;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;

use crate::adjusters::Adjusters;
use crate::args::QueryArgs;
use crate::error::QueryError;
use crate::http::{self, cors::CorsConfig, ApiState};
use crate::service::{QueryService, Stores};

/// The query service configured by `args` over `stores`.
pub fn service(args: &QueryArgs, stores: impl Into<Stores>) -> QueryService {
    QueryService::new(
        stores.into(),
        Adjusters::new(args.max_clock_skew_adjustment),
    )
}

/// The whole HTTP surface for `args` over `stores`, for callers that serve it themselves
/// (the all-in-one, tests, benchmarks).
pub fn router(args: &QueryArgs, stores: impl Into<Stores>) -> Result<Router, QueryError> {
    let base_path = args.normalized_base_path()?;
    let cors = CorsConfig::from_flags(&args.cors_allowed_origins, &args.cors_allowed_headers)?;
    let state = ApiState {
        service: service(args, stores),
    };
    Ok(http::router(state, &base_path, &cors))
}

/// A started query service.
pub struct RunningQuery {
    /// The address the HTTP server listens on (the real port when `:0` was asked for).
    pub http_addr: SocketAddr,
    /// The address the gRPC server listens on.
    pub grpc_addr: SocketAddr,
    handles: Vec<JoinHandle<()>>,
}

impl RunningQuery {
    /// Resolves once both servers have stopped (after shutdown, when in-flight requests
    /// are answered).
    pub async fn wait(self) {
        for handle in self.handles {
            if let Err(e) = handle.await {
                tracing::error!(error = %e, "query server task failed");
            }
        }
    }
}

async fn bind(host_port: &str) -> Result<(TcpListener, SocketAddr), QueryError> {
    let addr = parse_listen_addr(host_port)?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| QueryError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| QueryError::Bind { addr, source })?;
    Ok((listener, bound))
}

/// Binds the HTTP and gRPC servers and serves them until `shutdown` is triggered.
pub async fn run(
    args: &QueryArgs,
    stores: impl Into<Stores>,
    shutdown: Shutdown,
) -> Result<RunningQuery, QueryError> {
    let stores = stores.into();
    let app = router(args, stores.clone())?;
    let grpc_routes = crate::grpc::routes(service(args, stores));
    // Bind both before serving either: a port conflict fails start-up cleanly.
    let (http_listener, http_addr) = bind(&args.http_host_port).await?;
    let (grpc_listener, grpc_addr) = bind(&args.grpc_host_port).await?;
    tracing::info!(%http_addr, %grpc_addr, base_path = %args.base_path, "query servers listening");

    let http_shutdown = shutdown.clone();
    let http = tokio::spawn(async move {
        // Responses are written whole (head and body in one vectored write), so Nagle's
        // algorithm can only delay the tail of a large body behind a delayed ACK.
        let http_listener = http_listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY on a query connection");
            }
        });
        let result = axum::serve(http_listener, app)
            .with_graceful_shutdown(async move { http_shutdown.wait().await })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "query HTTP server failed");
        }
    });
    let grpc = tokio::spawn(async move {
        let result = tonic::transport::Server::builder()
            .add_routes(grpc_routes)
            .serve_with_incoming_shutdown(TcpListenerStream::new(grpc_listener), async move {
                shutdown.wait().await
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "query gRPC server failed");
        }
    });
    Ok(RunningQuery {
        http_addr,
        grpc_addr,
        handles: vec![http, grpc],
    })
}
