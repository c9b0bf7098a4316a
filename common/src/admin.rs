//! The admin HTTP server every binary runs (Jaeger's ports: agent 14271, collector 14269,
//! query 16687, ingester 14270): `GET /` health in Jaeger's JSON shape, `GET /metrics` in
//! Prometheus text format from the process-wide default registry.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use clap::Args;

use crate::net::parse_listen_addr;
use crate::shutdown::Shutdown;

#[derive(Args, Debug, Clone, Default)]
pub struct AdminArgs {
    /// Admin HTTP server address (health at `/`, Prometheus metrics at `/metrics`).
    /// Defaults to the component's Jaeger admin port on all interfaces.
    #[arg(long = "admin.http.host-port", env = "ADMIN_HTTP_HOST_PORT")]
    pub host_port: Option<String>,
}

impl AdminArgs {
    pub fn addr(&self, default_port: u16) -> Result<SocketAddr, crate::net::HostPortError> {
        match &self.host_port {
            Some(hp) => parse_listen_addr(hp),
            None => Ok(SocketAddr::from(([0, 0, 0, 0], default_port))),
        }
    }
}

/// Readiness as the health endpoint reports it. Starts "unavailable"; a binary marks it
/// ready once its servers listen, and unavailable again while it shuts down.
#[derive(Clone)]
pub struct Health {
    ready: Arc<AtomicBool>,
    started: Instant,
    started_at: SystemTime,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            ready: Arc::new(AtomicBool::new(false)),
            started: Instant::now(),
            started_at: SystemTime::now(),
        }
    }
}

impl Health {
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

async fn health(State(h): State<Health>) -> impl IntoResponse {
    let since = h
        .started_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let uptime = format!("{:?}", h.started.elapsed());
    if h.is_ready() {
        let body =
            serde_json::json!({"status": "Server available", "upSince": since, "uptime": uptime});
        (StatusCode::OK, axum::Json(body))
    } else {
        let body = serde_json::json!({"status": "Server not available", "upSince": since, "uptime": uptime});
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body))
    }
}

/// Renders the default Prometheus registry in the text exposition format.
pub fn render_metrics() -> String {
    let encoder = prometheus::TextEncoder::new();
    encoder
        .encode_to_string(&prometheus::gather())
        .unwrap_or_else(|e| format!("# metrics encoding failed: {e}\n"))
}

async fn metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        render_metrics(),
    )
}

/// The admin routes, for embedding or tests.
pub fn router(health_state: Health) -> Router {
    Router::new()
        .route("/", get(health))
        .route("/metrics", get(metrics))
        .with_state(health_state)
}

/// Binds the admin server and serves it until `shutdown`. Returns the bound address (useful
/// with port 0) once listening.
pub async fn serve(
    addr: SocketAddr,
    health_state: Health,
    shutdown: Shutdown,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tracing::info!(%local, "admin server listening");
    let handle = tokio::spawn(async move {
        let app = router(health_state);
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.wait().await })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "admin server failed");
        }
    });
    Ok((local, handle))
}
