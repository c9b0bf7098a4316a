//! Jaeger api_v2 gRPC receiver: `jaeger.api_v2.CollectorService/PostSpans` on
//! `--collector.grpc-server.host-port` (default `:14250`), what Jaeger agents and Jaeger's
//! gRPC exporters send to.

use sextant_proto::jaeger::api_v2::collector_service_server::{
    CollectorService, CollectorServiceServer,
};
use sextant_proto::jaeger::api_v2::{PostSpansRequest, PostSpansResponse};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use crate::processor::{SpanFormat, SpanProcessor, Transport};
use crate::receivers::{grpc_invalid, grpc_status};

pub struct ApiV2Receiver {
    processor: SpanProcessor,
}

/// The tonic service, accepting gzip-compressed requests up to `max_message_size` bytes.
pub fn service(
    processor: SpanProcessor,
    max_message_size: usize,
) -> CollectorServiceServer<ApiV2Receiver> {
    CollectorServiceServer::new(ApiV2Receiver { processor })
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max_message_size)
}

#[tonic::async_trait]
impl CollectorService for ApiV2Receiver {
    async fn post_spans(
        &self,
        request: Request<PostSpansRequest>,
    ) -> Result<Response<PostSpansResponse>, Status> {
        // A request without a batch carries no spans; Jaeger accepts it as empty.
        let Some(batch) = request.into_inner().batch else {
            return Ok(Response::new(PostSpansResponse {}));
        };
        let spans = sextant_model::api_v2::batch_to_spans(batch).map_err(|e| {
            self.processor
                .count_malformed(SpanFormat::Proto, Transport::Grpc);
            tracing::debug!(error = %e, "malformed api_v2 batch");
            grpc_invalid(&e)
        })?;
        self.processor
            .process(spans, SpanFormat::Proto, Transport::Grpc)
            .await
            .map_err(|e| grpc_status(&e))?;
        Ok(Response::new(PostSpansResponse {}))
    }
}
