//! Jaeger thrift HTTP receiver: `POST /api/traces` on `--collector.http-server.host-port`
//! (default `:14268`), what Jaeger clients' HTTP senders use. The body is one `jaeger.thrift`
//! `Batch` in the binary protocol.
//!
//! Answers as Jaeger does: 202 Accepted on success, 400 for a wrong `Content-Type` or an
//! undecodable body; storage trouble is 503 with `Retry-After` (Jaeger says 500, but 503
//! tells clients the failure is temporary).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use sextant_model::thrift::{decode_batch, Protocol};

use crate::processor::{SpanFormat, SpanProcessor, Transport};
use crate::receivers::http_body::{decoded_body, media_type, BodyError};
use crate::receivers::RETRY_AFTER_SECS;

/// Jaeger's thrift batch path.
pub const TRACES_PATH: &str = "/api/traces";

/// The content types Jaeger's handler accepts for a binary-thrift batch.
const THRIFT_TYPES: [&str; 2] = [
    "application/x-thrift",
    "application/vnd.apache.thrift.binary",
];

struct Receiver {
    processor: SpanProcessor,
    max_body_size: usize,
}

/// The axum router serving `POST /api/traces`.
pub fn router(processor: SpanProcessor, max_body_size: usize) -> Router {
    let state = Arc::new(Receiver {
        processor,
        max_body_size,
    });
    Router::new()
        .route(TRACES_PATH, post(traces))
        .layer(DefaultBodyLimit::max(max_body_size))
        .with_state(state)
}

async fn traces(State(rx): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = media_type(&headers);
    if !THRIFT_TYPES.contains(&content_type.as_str()) {
        let msg = format!(
            "Unsupported content type: {content_type:?} (use {})",
            THRIFT_TYPES.join(" or ")
        );
        return (StatusCode::BAD_REQUEST, msg).into_response();
    }
    let format = SpanFormat::Jaeger;
    let body = match decoded_body(&headers, body, rx.max_body_size).await {
        Ok(b) => b,
        Err(e @ BodyError::TooLarge(_)) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()).into_response()
        }
        Err(e) => {
            rx.processor.count_malformed(format, Transport::Http);
            return (StatusCode::BAD_REQUEST, e.to_string()).into_response();
        }
    };
    let spans = match decode_batch(&body, Protocol::Binary) {
        Ok(spans) => spans,
        Err(e) => {
            rx.processor.count_malformed(format, Transport::Http);
            let msg = format!("Unable to process request body: {e}");
            return (StatusCode::BAD_REQUEST, msg).into_response();
        }
    };
    match rx.processor.process(spans, format, Transport::Http).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(e) => {
            let msg = format!("Cannot submit Jaeger batch: {e}");
            let mut response = (StatusCode::SERVICE_UNAVAILABLE, msg).into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            response
        }
    }
}
