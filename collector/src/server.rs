//! Binding and serving: each receiver gets its own listener, served until the shared
//! [`Shutdown`] fires. On shutdown servers stop accepting, let in-flight requests finish and
//! close idle connections; the caller bounds how long it waits for that (see
//! [`crate::RunningCollector::join`]). With TLS the same holds: connections arrive through
//! a [`TlsListener`] once their handshake succeeded, and are then served exactly like plain
//! ones.

use std::net::SocketAddr;
use std::sync::Arc;

use sextant_common::net::parse_listen_addr;
use sextant_common::shutdown::Shutdown;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::rustls::ServerConfig;
use tokio_stream::wrappers::TcpListenerStream;

use crate::tls::TlsListener;
use crate::CollectorError;

/// Binds a TCP listener on a Jaeger-style `host:port` flag value.
pub async fn bind(what: &'static str, host_port: &str) -> Result<TcpListener, CollectorError> {
    let addr =
        parse_listen_addr(host_port).map_err(|source| CollectorError::Address { what, source })?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| CollectorError::Bind { what, addr, source })?;
    Ok(listener)
}

fn local_addr(what: &'static str, listener: &TcpListener) -> Result<SocketAddr, CollectorError> {
    listener
        .local_addr()
        .map_err(|source| CollectorError::Bind {
            what,
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            source,
        })
}

/// Serves a tonic router on `listener` until shutdown, over TLS when `tls` is given.
pub fn spawn_grpc(
    what: &'static str,
    router: tonic::transport::server::Router,
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    shutdown: Shutdown,
) -> Result<(SocketAddr, JoinHandle<()>), CollectorError> {
    let addr = local_addr(what, &listener)?;
    tracing::info!(receiver = what, %addr, tls = tls.is_some(), "listening addr={addr}");
    let handle = tokio::spawn(async move {
        let stop = async move { shutdown.wait().await };
        let result = match tls {
            Some(config) => {
                let incoming = TlsListener::new(what, listener, config).into_stream();
                router.serve_with_incoming_shutdown(incoming, stop).await
            }
            None => {
                let incoming = TcpListenerStream::new(listener);
                router.serve_with_incoming_shutdown(incoming, stop).await
            }
        };
        match result {
            Ok(()) => tracing::info!(receiver = what, "stopped"),
            Err(e) => tracing::error!(receiver = what, error = %e, "gRPC server failed"),
        }
    });
    Ok((addr, handle))
}

/// Serves an axum router on `listener` until shutdown, over TLS when `tls` is given.
pub fn spawn_http(
    what: &'static str,
    router: axum::Router,
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    shutdown: Shutdown,
) -> Result<(SocketAddr, JoinHandle<()>), CollectorError> {
    let addr = local_addr(what, &listener)?;
    tracing::info!(receiver = what, %addr, tls = tls.is_some(), "listening addr={addr}");
    let handle = tokio::spawn(async move {
        let stop = async move { shutdown.wait().await };
        let result = match tls {
            Some(config) => {
                let listener = TlsListener::new(what, listener, config);
                axum::serve(listener, router)
                    .with_graceful_shutdown(stop)
                    .await
            }
            None => {
                axum::serve(listener, router)
                    .with_graceful_shutdown(stop)
                    .await
            }
        };
        match result {
            Ok(()) => tracing::info!(receiver = what, "stopped"),
            Err(e) => tracing::error!(receiver = what, error = %e, "HTTP server failed"),
        }
    });
    Ok((addr, handle))
}
