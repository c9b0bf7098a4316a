//! OTLP gRPC receiver: `opentelemetry.proto.collector.trace.v1.TraceService/Export` on
//! `--collector.otlp.grpc.host-port` (default `:4317`).

use sextant_proto::otlp::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use sextant_proto::otlp::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use crate::processor::{SpanFormat, SpanProcessor, Transport};
use crate::receivers::{grpc_invalid, grpc_status};

pub struct OtlpGrpcReceiver {
    processor: SpanProcessor,
}

/// The tonic service, accepting gzip-compressed requests (the OTel SDKs' usual setting) up
/// to `max_message_size` bytes.
pub fn service(
    processor: SpanProcessor,
    max_message_size: usize,
) -> TraceServiceServer<OtlpGrpcReceiver> {
    TraceServiceServer::new(OtlpGrpcReceiver { processor })
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max_message_size)
}

#[tonic::async_trait]
impl TraceService for OtlpGrpcReceiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let request = request.into_inner();
        let spans = sextant_model::otlp::spans_from_resource_spans(request.resource_spans)
            .map_err(|e| {
                self.processor
                    .count_malformed(SpanFormat::Otlp, Transport::Grpc);
                tracing::debug!(error = %e, "malformed OTLP export request");
                grpc_invalid(&e)
            })?;
        self.processor
            .process(spans, SpanFormat::Otlp, Transport::Grpc)
            .await
            .map_err(|e| grpc_status(&e))?;
        // Every span was accepted: no partial success to report.
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}
