//! Zipkin receiver: `POST /api/v1/spans` and `POST /api/v2/spans` on
//! `--collector.zipkin.host-port` (off unless set, as in Jaeger; Zipkin's port is 9411).
//!
//! * v1: `application/x-thrift` → Zipkin v1 thrift list; anything else → v1 JSON.
//! * v2: `application/x-protobuf` (or `application/protobuf`) → proto3 `ListOfSpans`;
//!   anything else → v2 JSON. (Zipkin reporters send JSON with or without a content type.)
//! * `Content-Encoding: gzip`/`deflate` bodies are decompressed with the shared bound.
//! * `X-B3-Flags: 1` marks every span of the request as debug (Jaeger's debug flag), the
//!   B3 convention for "debug" in a header.
//! * Answers: 202 Accepted, 400 malformed, 413 too large, 503 + `Retry-After` when busy or
//!   storage fails. CORS per `--collector.zipkin.allowed-origins/headers`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use sextant_model::{DecodeError, Span};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::processor::{SpanFormat, SpanProcessor, Transport};
use crate::receivers::http_body::{decoded_body, media_type, BodyError};
use crate::receivers::RETRY_AFTER_SECS;

pub const V1_PATH: &str = "/api/v1/spans";
pub const V2_PATH: &str = "/api/v2/spans";

const JAEGER_DEBUG_FLAG: u32 = 2;

struct Receiver {
    processor: SpanProcessor,
    max_body_size: usize,
}

/// CORS settings, from the comma-separated flag values.
pub struct Cors<'a> {
    pub allowed_origins: &'a str,
    pub allowed_headers: &'a str,
}

pub fn router(processor: SpanProcessor, max_body_size: usize, cors: Cors<'_>) -> Router {
    let state = Arc::new(Receiver {
        processor,
        max_body_size,
    });
    Router::new()
        .route(V1_PATH, post(v1))
        .route(V2_PATH, post(v2))
        .layer(DefaultBodyLimit::max(max_body_size))
        .layer(cors_layer(&cors))
        .with_state(state)
}

fn split(list: &str) -> Vec<String> {
    list.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn cors_layer(cors: &Cors<'_>) -> CorsLayer {
    let origins = split(cors.allowed_origins);
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    let headers = split(cors.allowed_headers)
        .iter()
        .filter_map(|h| header::HeaderName::from_bytes(h.as_bytes()).ok())
        .collect::<Vec<_>>();
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers(AllowHeaders::list(headers))
}

async fn v1(State(rx): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> Response {
    let thrift = media_type(&headers) == "application/x-thrift";
    receive(&rx, &headers, body, move |b| {
        if thrift {
            sextant_model::zipkin::decode_v1_thrift(b)
        } else {
            sextant_model::zipkin::decode_v1_json(b)
        }
    })
    .await
}

async fn v2(State(rx): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> Response {
    let proto = matches!(
        media_type(&headers).as_str(),
        "application/x-protobuf" | "application/protobuf"
    );
    receive(&rx, &headers, body, move |b| {
        if proto {
            sextant_model::zipkin::decode_v2_proto(b)
        } else {
            sextant_model::zipkin::decode_v2_json(b)
        }
    })
    .await
}

async fn receive(
    rx: &Receiver,
    headers: &HeaderMap,
    body: Bytes,
    decode: impl FnOnce(&[u8]) -> Result<Vec<Span>, DecodeError>,
) -> Response {
    let format = SpanFormat::Zipkin;
    let body = match decoded_body(headers, body, rx.max_body_size).await {
        Ok(b) => b,
        Err(e @ BodyError::TooLarge(_)) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()).into_response()
        }
        Err(e) => {
            rx.processor.count_malformed(format, Transport::Http);
            return (StatusCode::BAD_REQUEST, e.to_string()).into_response();
        }
    };
    let mut spans = match decode(&body) {
        Ok(spans) => spans,
        Err(e) => {
            rx.processor.count_malformed(format, Transport::Http);
            tracing::debug!(error = %e, "malformed zipkin request");
            return (StatusCode::BAD_REQUEST, e.to_string()).into_response();
        }
    };
    let debug = headers
        .get("x-b3-flags")
        .is_some_and(|v| v.as_bytes() == b"1");
    if debug {
        spans.iter_mut().for_each(|s| s.flags |= JAEGER_DEBUG_FLAG);
    }
    match rx.processor.process(spans, format, Transport::Http).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(e) => {
            let mut response = (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            response
        }
    }
}
