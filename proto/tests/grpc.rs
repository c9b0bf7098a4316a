//! Loopback gRPC smoke test: the generated tonic servers and clients talk to
//! each other over TCP (unary Jaeger PostSpans, server-streaming Jaeger
//! GetTrace, OTLP Export).

use std::net::SocketAddr;

use sextant_proto::jaeger::api_v2::{
    collector_service_client::CollectorServiceClient,
    collector_service_server::{CollectorService, CollectorServiceServer},
    query_service_client::QueryServiceClient,
    query_service_server::{QueryService, QueryServiceServer},
    ArchiveTraceRequest, ArchiveTraceResponse, Batch, FindTracesRequest, GetDependenciesRequest,
    GetDependenciesResponse, GetOperationsRequest, GetOperationsResponse, GetServicesRequest,
    GetServicesResponse, GetTraceRequest, PostSpansRequest, PostSpansResponse, Span,
    SpansResponseChunk,
};
use sextant_proto::otlp::collector::trace::v1::{
    trace_service_client::TraceServiceClient,
    trace_service_server::{TraceService, TraceServiceServer},
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status};

struct Collector;

#[tonic::async_trait]
impl CollectorService for Collector {
    async fn post_spans(
        &self,
        request: Request<PostSpansRequest>,
    ) -> Result<Response<PostSpansResponse>, Status> {
        let n = request
            .into_inner()
            .batch
            .map(|b| b.spans.len())
            .unwrap_or(0);
        if n == 0 {
            return Err(Status::invalid_argument("empty batch"));
        }
        Ok(Response::new(PostSpansResponse {}))
    }
}

struct Query;

type ChunkStream = tokio_stream::Iter<std::vec::IntoIter<Result<SpansResponseChunk, Status>>>;

#[tonic::async_trait]
impl QueryService for Query {
    type GetTraceStream = ChunkStream;
    type FindTracesStream = ChunkStream;

    async fn get_trace(
        &self,
        request: Request<GetTraceRequest>,
    ) -> Result<Response<Self::GetTraceStream>, Status> {
        let trace_id = request.into_inner().trace_id;
        let chunk = |op: &str| {
            Ok(SpansResponseChunk {
                spans: vec![Span {
                    trace_id: trace_id.clone(),
                    operation_name: op.into(),
                    ..Default::default()
                }],
            })
        };
        Ok(Response::new(tokio_stream::iter(vec![
            chunk("a"),
            chunk("b"),
        ])))
    }

    async fn archive_trace(
        &self,
        _: Request<ArchiveTraceRequest>,
    ) -> Result<Response<ArchiveTraceResponse>, Status> {
        Err(Status::unimplemented("archive"))
    }

    async fn find_traces(
        &self,
        _: Request<FindTracesRequest>,
    ) -> Result<Response<Self::FindTracesStream>, Status> {
        Ok(Response::new(tokio_stream::iter(Vec::new())))
    }

    async fn get_services(
        &self,
        _: Request<GetServicesRequest>,
    ) -> Result<Response<GetServicesResponse>, Status> {
        Ok(Response::new(GetServicesResponse {
            services: vec!["frontend".into()],
        }))
    }

    async fn get_operations(
        &self,
        _: Request<GetOperationsRequest>,
    ) -> Result<Response<GetOperationsResponse>, Status> {
        Err(Status::unimplemented("operations"))
    }

    async fn get_dependencies(
        &self,
        _: Request<GetDependenciesRequest>,
    ) -> Result<Response<GetDependenciesResponse>, Status> {
        Err(Status::unimplemented("dependencies"))
    }
}

struct Otlp;

#[tonic::async_trait]
impl TraceService for Otlp {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let n = request.into_inner().resource_spans.len() as i64;
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: n,
                error_message: "counted".into(),
            }),
        }))
    }
}

async fn serve() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(CollectorServiceServer::new(Collector))
            .add_service(QueryServiceServer::new(Query))
            .add_service(TraceServiceServer::new(Otlp))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    addr
}

#[tokio::test]
async fn generated_servers_and_clients_interoperate() {
    let addr = serve().await;
    let url = format!("http://{addr}");

    let mut collector = CollectorServiceClient::connect(url.clone()).await.unwrap();
    collector
        .post_spans(PostSpansRequest {
            batch: Some(Batch {
                spans: vec![Span::default()],
                process: None,
            }),
        })
        .await
        .unwrap();
    let err = collector
        .post_spans(PostSpansRequest { batch: None })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    let mut query = QueryServiceClient::connect(url.clone()).await.unwrap();
    let mut stream = query
        .get_trace(GetTraceRequest {
            trace_id: vec![7; 16],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut ops = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        assert_eq!(chunk.spans[0].trace_id, vec![7; 16]);
        ops.push(chunk.spans[0].operation_name.clone());
    }
    assert_eq!(ops, ["a", "b"]);
    let services = query
        .get_services(GetServicesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(services.services, ["frontend"]);

    let mut otlp = TraceServiceClient::connect(url).await.unwrap();
    let resp = otlp
        .export(ExportTraceServiceRequest {
            resource_spans: vec![Default::default(), Default::default()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.partial_success.unwrap().rejected_spans, 2);
}
