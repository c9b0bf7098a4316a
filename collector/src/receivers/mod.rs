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

use prost::Message;
use sextant_model::DecodeError;

use crate::processor::ProcessError;

/// Seconds a client is asked to wait before retrying when the collector is busy.
pub const RETRY_AFTER_SECS: u64 = 1;

/// The gRPC status for a failed batch: busy → RESOURCE_EXHAUSTED (what Jaeger answers),
/// storage failure → UNAVAILABLE (retryable by every SDK).
///
/// The OTLP specification lets a client retry RESOURCE_EXHAUSTED only when the status
/// carries a `google.rpc.RetryInfo` detail (the OTel SDKs drop the batch otherwise), so the
/// overload status always carries one asking for a retry after [`RETRY_AFTER_SECS`].
pub fn grpc_status(err: &ProcessError) -> tonic::Status {
    if err.is_overload() {
        let message = err.to_string();
        let details = RpcStatus {
            code: tonic::Code::ResourceExhausted as i32,
            message: message.clone(),
            details: vec![ProtoAny {
                type_url: RETRY_INFO_TYPE.to_string(),
                value: RetryInfo {
                    retry_delay: Some(ProtoDuration {
                        seconds: i64::try_from(RETRY_AFTER_SECS).unwrap_or(i64::MAX),
                        nanos: 0,
                    }),
                }
                .encode_to_vec(),
            }],
        };
        tonic::Status::with_details(
            tonic::Code::ResourceExhausted,
            message,
            details.encode_to_vec().into(),
        )
    } else {
        tonic::Status::unavailable(err.to_string())
    }
}

/// The `Any` type URL of `google.rpc.RetryInfo`.
pub const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// `google.rpc.Status`, the payload of the `grpc-status-details-bin` trailer.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<ProtoAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ProtoAny {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ProtoDuration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// The gRPC status for a payload that could not be converted into spans.
pub fn grpc_invalid(err: &DecodeError) -> tonic::Status {
    tonic::Status::invalid_argument(err.to_string())
}
