//! The agent's HTTP server for client configuration (`--http-server.host-port`, Jaeger's
//! 5778), the endpoints Jaeger client libraries poll:
//!
//! | path | answer |
//! | --- | --- |
//! | `GET /sampling?service=S` | S's sampling strategy, Jaeger's protobuf JSON |
//! | `GET /?service=S` | the same in the legacy Thrift 0.9.2 JSON (numeric `strategyType`) |
//! | `GET /baggageRestrictions?service=S` | 500 `collector error: baggage not implemented`, as Jaeger's gRPC agent answers |
//!
//! Baggage restrictions have no collector API in Jaeger's api_v2; Jaeger's agent answers
//! this error, and clients then keep allowing baggage (their default). Answering `[]`
//! instead would make every restriction-aware client refuse *all* baggage keys.
//!
//! `service` must be given exactly once (else 400, as in Jaeger). Strategies come from
//! [`cache`], which never fails (it falls back to the last answer, then to the default).

pub mod cache;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sextant_common::net::parse_listen_addr;
use sextant_common::shutdown::Shutdown;
use sextant_model::sampling_json;
use tokio::task::JoinHandle;

use crate::metrics::METRICS;
use crate::AgentError;
use cache::StrategyCache;

/// Longest service name accepted; real ones are short, and the name becomes a cache key.
const MAX_SERVICE_LEN: usize = 1024;

pub fn router(cache: Arc<StrategyCache>) -> Router {
    Router::new()
        .route("/", get(legacy))
        .route("/sampling", get(sampling))
        .route("/baggageRestrictions", get(baggage))
        .with_state(cache)
}

/// Binds `host_port` and serves until shutdown; returns the bound address.
pub async fn serve(
    host_port: &str,
    cache: Arc<StrategyCache>,
    shutdown: Shutdown,
) -> Result<(SocketAddr, JoinHandle<()>), AgentError> {
    let addr = parse_listen_addr(host_port).map_err(AgentError::Address)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| AgentError::BindHttp { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| AgentError::BindHttp { addr, source })?;
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, router(cache))
            .with_graceful_shutdown(async move { shutdown.wait().await })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "sampling HTTP server failed");
        }
    });
    Ok((local, task))
}

async fn sampling(State(cache): State<Arc<StrategyCache>>, RawQuery(q): RawQuery) -> Response {
    match service(q.as_deref()) {
        Ok(s) => {
            let strategy = cache.get(&s).await;
            METRICS.http_requests.with_label_values(&["sampling"]).inc();
            json_ok(sampling_json::proto_json(&strategy))
        }
        Err(r) => r,
    }
}

async fn legacy(State(cache): State<Arc<StrategyCache>>, RawQuery(q): RawQuery) -> Response {
    match service(q.as_deref()) {
        Ok(s) => {
            let strategy = cache.get(&s).await;
            METRICS
                .http_requests
                .with_label_values(&["sampling-legacy"])
                .inc();
            json_ok(sampling_json::legacy_json(&strategy))
        }
        Err(r) => r,
    }
}

async fn baggage(RawQuery(q): RawQuery) -> Response {
    if let Err(r) = service(q.as_deref()) {
        return r;
    }
    METRICS
        .http_errors
        .with_label_values(&["collector-proxy", "5xx"])
        .inc();
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "collector error: baggage not implemented\n",
    )
        .into_response()
}

/// The single `service` parameter, or the 400 message.
#[allow(clippy::result_large_err)] // an axum response is the natural error of a handler helper
fn service(query: Option<&str>) -> Result<String, Response> {
    service_param(query).map_err(|msg| {
        METRICS.http_errors.with_label_values(&["all", "4xx"]).inc();
        (StatusCode::BAD_REQUEST, msg).into_response()
    })
}

fn service_param(query: Option<&str>) -> Result<String, &'static str> {
    let values: Vec<String> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "service")
        .map(|(_, v)| v.into_owned())
        .take(2)
        .collect();
    match values.as_slice() {
        [one] if one.len() <= MAX_SERVICE_LEN => Ok(one.clone()),
        [_] => Err("'service' parameter is too long\n"),
        _ => Err("'service' parameter must be provided once\n"),
    }
}

fn json_ok(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
