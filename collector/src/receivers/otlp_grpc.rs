//! OTLP gRPC receiver: `opentelemetry.proto.collector.trace.v1.TraceService/Export` on
//! `--collector.otlp.grpc.host-port` (default `:4317`).
//!
//! The service is written out here instead of using the tonic-generated
//! `TraceServiceServer`, for one reason: the generated server decodes the request into
//! prost's structs, which the model then converts again. [`ExportCodec`] hands the raw
//! message bytes to [`sextant_model::otlp::decode_export_request`], which builds model spans
//! in one pass and accepts exactly what prost does. Everything else (framing, compression,
//! size limits, status codes) is tonic's, as in the generated code.
//!
//! A request the model rejects is answered INVALID_ARGUMENT and counted; spans the
//! processor rejects one by one come back as `partial_success` (see
//! [`crate::processor::Accepted`]).

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Buf;
use prost::Message;
use sextant_model::{DecodeError, Span};
use sextant_proto::otlp::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use tonic::body::Body;
use tonic::codec::{
    Codec, CompressionEncoding, DecodeBuf, Decoder, EnabledCompressionEncodings, EncodeBuf, Encoder,
};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};

use crate::processor::{SpanFormat, SpanProcessor, Transport};
use crate::receivers::{grpc_invalid, grpc_status};

/// The gRPC method path this service answers.
pub const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// What the codec yields: the spans, or why the message could not become spans (answered
/// by the handler, so the failure is counted like every other malformed request).
pub type DecodedExport = Result<Vec<Span>, DecodeError>;

/// The OTLP trace service, accepting gzip-compressed requests (the OTel SDKs' usual
/// setting) up to `max_message_size` bytes.
#[derive(Clone)]
pub struct OtlpTraceService {
    processor: Arc<SpanProcessor>,
    accept: EnabledCompressionEncodings,
    max_message_size: usize,
}

/// The tonic service for the OTLP gRPC port.
pub fn service(processor: SpanProcessor, max_message_size: usize) -> OtlpTraceService {
    let mut accept = EnabledCompressionEncodings::default();
    accept.enable(CompressionEncoding::Gzip);
    OtlpTraceService {
        processor: Arc::new(processor),
        accept,
        max_message_size,
    }
}

impl NamedService for OtlpTraceService {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

impl<B> tonic::codegen::Service<http::Request<B>> for OtlpTraceService
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != EXPORT_PATH {
            return Box::pin(async { Ok(Status::unimplemented("").into_http()) });
        }
        let this = self.clone();
        Box::pin(async move {
            let mut grpc = Grpc::new(ExportCodec)
                .apply_compression_config(this.accept, EnabledCompressionEncodings::default())
                .apply_max_message_size_config(Some(this.max_message_size), None);
            let handler = ExportHandler {
                processor: this.processor.clone(),
            };
            Ok(grpc.unary(handler, req).await)
        })
    }
}

struct ExportHandler {
    processor: Arc<SpanProcessor>,
}

impl UnaryService<DecodedExport> for ExportHandler {
    type Response = ExportTraceServiceResponse;
    type Future = futures::future::BoxFuture<'static, Result<Response<Self::Response>, Status>>;

    fn call(&mut self, request: Request<DecodedExport>) -> Self::Future {
        let processor = self.processor.clone();
        Box::pin(async move {
            export(&processor, request.into_inner())
                .await
                .map(Response::new)
        })
    }
}

async fn export(
    processor: &SpanProcessor,
    decoded: DecodedExport,
) -> Result<ExportTraceServiceResponse, Status> {
    let spans = decoded.map_err(|e| {
        processor.count_malformed(SpanFormat::Otlp, Transport::Grpc);
        tracing::debug!(error = %e, "malformed OTLP export request");
        grpc_invalid(&e)
    })?;
    let accepted = processor
        .process_partial(spans, SpanFormat::Otlp, Transport::Grpc)
        .await
        .map_err(|e| grpc_status(&e))?;
    // Unset when every span was accepted, as the specification asks.
    let partial_success =
        accepted
            .rejection()
            .map(|(rejected, message)| ExportTracePartialSuccess {
                rejected_spans: i64::try_from(rejected).unwrap_or(i64::MAX),
                error_message: message,
            });
    Ok(ExportTraceServiceResponse { partial_success })
}

/// Decodes `ExportTraceServiceRequest` bytes straight into spans; encodes the response
/// with prost.
pub struct ExportCodec;

impl Codec for ExportCodec {
    type Encode = ExportTraceServiceResponse;
    type Decode = DecodedExport;
    type Encoder = ResponseEncoder;
    type Decoder = RequestDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        ResponseEncoder
    }
    fn decoder(&mut self) -> Self::Decoder {
        RequestDecoder
    }
}

pub struct ResponseEncoder;

impl Encoder for ResponseEncoder {
    type Item = ExportTraceServiceResponse;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("encoding the response: {e}")))
    }
}

pub struct RequestDecoder;

impl Decoder for RequestDecoder {
    type Item = DecodedExport;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DecodedExport>, Status> {
        let len = src.remaining();
        // tonic buffers a whole message contiguously, so this is the usual case.
        let decoded = if src.chunk().len() == len {
            let decoded = sextant_model::otlp::decode_export_request(src.chunk());
            src.advance(len);
            decoded
        } else {
            let bytes = src.copy_to_bytes(len);
            sextant_model::otlp::decode_export_request(&bytes)
        };
        Ok(Some(decoded))
    }
}
