//! One module per receiver. Each decodes its wire format with `sextant_model`, hands the
//! spans to the [`crate::processor::SpanProcessor`], and maps the outcome to its protocol's
//! answer. The mapping of processor errors to gRPC and HTTP answers is shared here so every
//! receiver tells clients the same thing.

pub mod grpc_api_v2;
pub mod http_body;
pub mod otlp_grpc;
pub mod otlp_http;
pub mod thrift_http;
pub mod zipkin;

use sextant_model::DecodeError;

use crate::processor::ProcessError;

/// Seconds a client is asked to wait before retrying when the collector is busy.
pub const RETRY_AFTER_SECS: u64 = 1;

/// The gRPC status for a failed batch: busy → RESOURCE_EXHAUSTED (retry later), storage
/// failure → UNAVAILABLE (retryable by every SDK).
pub fn grpc_status(err: &ProcessError) -> tonic::Status {
    if err.is_overload() {
        tonic::Status::resource_exhausted(err.to_string())
    } else {
        tonic::Status::unavailable(err.to_string())
    }
}

/// The gRPC status for a payload that could not be converted into spans.
pub fn grpc_invalid(err: &DecodeError) -> tonic::Status {
    tonic::Status::invalid_argument(err.to_string())
}
