//! `GET /api/sampling?service=NAME` on the collector's HTTP port (14268), answered with
//! [`sextant_model::sampling_json::proto_json`]. As in Jaeger, `service` must be given exactly once
//! (else 400).

use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::SamplingProvider;
use sextant_model::sampling_json::proto_json as response_json;

pub const SAMPLING_PATH: &str = "/api/sampling";

pub fn router(provider: SamplingProvider) -> Router {
    Router::new()
        .route(SAMPLING_PATH, get(sampling))
        .with_state(provider)
}

async fn sampling(State(provider): State<SamplingProvider>, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let services: Vec<String> = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "service")
        .map(|(_, v)| v.into_owned())
        .collect();
    let [service] = services.as_slice() else {
        let msg = "'service' parameter must be provided once";
        return (StatusCode::BAD_REQUEST, msg).into_response();
    };
    let body = response_json(&provider.strategy(service));
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
