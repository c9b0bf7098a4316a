//! OTLP/HTTP receiver: `POST /v1/traces` on `--collector.otlp.http.host-port` (default
//! `:4318`), following the OTLP/HTTP specification:
//!
//! * `Content-Type: application/x-protobuf` (or `application/protobuf`) → binary protobuf
//!   request and response; `application/json` → OTLP JSON request and response; anything
//!   else → 415.
//! * `Content-Encoding: gzip` / `deflate` bodies are decompressed (bounded, see
//!   [`super::http_body`]).
//! * Success is 200 with an `ExportTraceServiceResponse` in the request's encoding (`{}` in
//!   JSON), carrying `partial_success` when the processor rejected some spans (see
//!   [`crate::processor::Accepted`]). A malformed body is 400, busy or failing storage 503
//!   with `Retry-After` (the spec's retryable answer for overload); those bodies are a
//!   `google.rpc.Status` in the request's encoding, as the spec asks.
//! * The protobuf body is decoded by the same direct decoder as the gRPC receiver.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use prost::Message;
use sextant_proto::otlp::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};

use crate::processor::{Accepted, ProcessError, SpanFormat, SpanProcessor, Transport};
use crate::receivers::http_body::{decoded_body, media_type, BodyError};
use crate::receivers::RETRY_AFTER_SECS;

/// The OTLP/HTTP traces path.
pub const TRACES_PATH: &str = "/v1/traces";

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// gRPC status codes used in error bodies.
const CODE_INVALID_ARGUMENT: i32 = 3;
const CODE_RESOURCE_EXHAUSTED: i32 = 8;
const CODE_UNAVAILABLE: i32 = 14;

/// `google.rpc.Status` without details: all an OTLP client reads from an error body.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

struct Receiver {
    processor: SpanProcessor,
    max_body_size: usize,
}

/// The axum router serving `POST /v1/traces`; bodies above `max_body_size` bytes, on the wire
/// or decompressed, are refused with 413.
pub fn router(processor: SpanProcessor, max_body_size: usize) -> Router {
    let state = Arc::new(Receiver {
        processor,
        max_body_size,
    });
    Router::new()
        .route(TRACES_PATH, post(export))
        .layer(DefaultBodyLimit::max(max_body_size))
        .with_state(state)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

async fn export(State(rx): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> Response {
    let encoding = match media_type(&headers).as_str() {
        PROTOBUF | "application/protobuf" => Encoding::Protobuf,
        JSON => Encoding::Json,
        other => {
            let msg = format!("unsupported Content-Type {other:?}: use {PROTOBUF} or {JSON}");
            return (StatusCode::UNSUPPORTED_MEDIA_TYPE, msg).into_response();
        }
    };
    let format = SpanFormat::Otlp;
    let body = match decoded_body(&headers, body, rx.max_body_size).await {
        Ok(b) => b,
        Err(BodyError::TooLarge(limit)) => {
            let msg = format!("decompressed request body exceeds {limit} bytes");
            return status(
                encoding,
                StatusCode::PAYLOAD_TOO_LARGE,
                CODE_INVALID_ARGUMENT,
                msg,
            );
        }
        Err(e) => {
            rx.processor.count_malformed(format, Transport::Http);
            return status(
                encoding,
                StatusCode::BAD_REQUEST,
                CODE_INVALID_ARGUMENT,
                e.to_string(),
            );
        }
    };
    let decoded = match encoding {
        Encoding::Protobuf => sextant_model::otlp::decode_export_request(&body),
        Encoding::Json => sextant_model::otlp_json::decode_export_request(&body),
    };
    let spans = match decoded {
        Ok(spans) => spans,
        Err(e) => {
            rx.processor.count_malformed(format, Transport::Http);
            tracing::debug!(error = %e, "malformed OTLP/HTTP request");
            return status(
                encoding,
                StatusCode::BAD_REQUEST,
                CODE_INVALID_ARGUMENT,
                e.to_string(),
            );
        }
    };
    match rx
        .processor
        .process_partial(spans, format, Transport::Http)
        .await
    {
        Ok(accepted) => success(encoding, &accepted),
        Err(e) => unavailable(encoding, &e),
    }
}

fn success(encoding: Encoding, accepted: &Accepted) -> Response {
    let rejection = accepted.rejection();
    match encoding {
        Encoding::Protobuf => {
            let partial_success = rejection.map(|(rejected, message)| ExportTracePartialSuccess {
                rejected_spans: i64::try_from(rejected).unwrap_or(i64::MAX),
                error_message: message,
            });
            (
                [(header::CONTENT_TYPE, PROTOBUF)],
                ExportTraceServiceResponse { partial_success }.encode_to_vec(),
            )
                .into_response()
        }
        Encoding::Json => {
            // OTLP/JSON: lowerCamelCase names, 64-bit integers as decimal strings.
            let body = match rejection {
                None => "{}".to_string(),
                Some((rejected, message)) => serde_json::json!({
                    "partialSuccess": {
                        "rejectedSpans": rejected.to_string(),
                        "errorMessage": message,
                    }
                })
                .to_string(),
            };
            ([(header::CONTENT_TYPE, JSON)], body).into_response()
        }
    }
}

fn unavailable(encoding: Encoding, err: &ProcessError) -> Response {
    let code = if err.is_overload() {
        CODE_RESOURCE_EXHAUSTED
    } else {
        CODE_UNAVAILABLE
    };
    let mut response = status(
        encoding,
        StatusCode::SERVICE_UNAVAILABLE,
        code,
        err.to_string(),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    response
}

/// An error answer: `google.rpc.Status` encoded like the request.
fn status(encoding: Encoding, http: StatusCode, code: i32, message: String) -> Response {
    match encoding {
        Encoding::Protobuf => (
            http,
            [(header::CONTENT_TYPE, PROTOBUF)],
            RpcStatus { code, message }.encode_to_vec(),
        )
            .into_response(),
        Encoding::Json => (
            http,
            [(header::CONTENT_TYPE, JSON)],
            serde_json::json!({ "code": code, "message": message }).to_string(),
        )
            .into_response(),
    }
}
