//! Binding and serving the HTTP API until shutdown.

use std::net::SocketAddr;

use axum::Router;
use sextant_common::net::parse_listen_addr;
use sextant_common::shutdown::Shutdown;
use sextant_storage::Storage;
use tokio::task::JoinHandle;

use crate::args::QueryArgs;
use crate::error::QueryError;
use crate::http::{self, ApiState};

/// The whole HTTP surface for `args` over `storage`, for callers that serve it themselves
/// (the all-in-one, tests).
pub fn router(args: &QueryArgs, storage: Storage) -> Result<Router, QueryError> {
    let base_path = args.normalized_base_path()?;
    Ok(http::router(ApiState { storage }, &base_path))
}

/// A started query service.
pub struct RunningQuery {
    /// The address the HTTP server listens on (the real port when `:0` was asked for).
    pub http_addr: SocketAddr,
    handle: JoinHandle<()>,
}

impl RunningQuery {
    /// Resolves once the server has stopped (after shutdown, when in-flight requests are
    /// answered).
    pub async fn wait(self) {
        if let Err(e) = self.handle.await {
            tracing::error!(error = %e, "query HTTP server task failed");
        }
    }
}

/// Binds the HTTP server and serves it until `shutdown` is triggered.
pub async fn run(
    args: &QueryArgs,
    storage: Storage,
    shutdown: Shutdown,
) -> Result<RunningQuery, QueryError> {
    let addr = parse_listen_addr(&args.http_host_port)?;
    let app = router(args, storage)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| QueryError::Bind { addr, source })?;
    let http_addr = listener
        .local_addr()
        .map_err(|source| QueryError::Bind { addr, source })?;
    tracing::info!(%http_addr, base_path = %args.base_path, "query HTTP server listening");
    let handle = tokio::spawn(async move {
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.wait().await })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "query HTTP server failed");
        }
    });
    Ok(RunningQuery { http_addr, handle })
}
