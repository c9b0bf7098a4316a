//! `jaeger.api_v2.QueryService` (jaeger `cmd/query/app/grpc_handler.go`). Spans stream in
//! `SpansResponseChunk`s, one trace after another, each trace in size-bounded chunks.

use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::Stream;
use prost::Message;
use sextant_model::api_v2::{span_to_proto, trace_id_from_bytes};
use sextant_model::{SpanKind, Trace};
use sextant_proto::jaeger::api_v2 as pb;
use sextant_proto::jaeger::api_v2::query_service_server::{
    QueryService as Api, QueryServiceServer,
};
use sextant_storage::TraceQuery;
use tonic::{Request, Response, Status};

use super::{chunk_by_size, duration_nanos, invalid, status, timestamp_nanos, FIELD_OVERHEAD};
use crate::service::{ArchiveError, QueryService};

pub fn server(service: QueryService) -> QueryServiceServer<V2> {
    QueryServiceServer::new(V2 { service })
}

pub struct V2 {
    service: QueryService,
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<pb::SpansResponseChunk, Status>> + Send>>;

/// Every trace's spans as size-bounded chunks.
fn chunks(traces: Vec<Trace>) -> ChunkStream {
    let mut out = Vec::new();
    for trace in traces {
        let spans: Vec<pb::Span> = trace.spans.iter().map(span_to_proto).collect();
        for spans in chunk_by_size(spans, |s| s.encoded_len() + FIELD_OVERHEAD) {
            out.push(Ok(pb::SpansResponseChunk { spans }));
        }
    }
    Box::pin(tokio_stream::iter(out))
}

fn kind_filter(text: &str) -> Result<Option<SpanKind>, Status> {
    match SpanKind::from_jaeger_str(text) {
        Some(SpanKind::Unspecified) if text.is_empty() => Ok(None),
        Some(k) => Ok(Some(k)),
        None => Err(invalid(format!("unsupported span kind {text:?}"))),
    }
}

#[tonic::async_trait]
impl Api for V2 {
    type GetTraceStream = ChunkStream;
    type FindTracesStream = ChunkStream;

    async fn get_trace(
        &self,
        request: Request<pb::GetTraceRequest>,
    ) -> Result<Response<Self::GetTraceStream>, Status> {
        let req = request.into_inner();
        let id = trace_id_from_bytes(&req.trace_id).map_err(|e| invalid(e.to_string()))?;
        if id.is_zero() {
            return Err(invalid("malformed trace_id"));
        }
        match self
            .service
            .get_trace(id, req.raw_traces)
            .await
            .map_err(status)?
        {
            Some(trace) => Ok(Response::new(chunks(vec![trace]))),
            None => Err(Status::not_found("trace not found")),
        }
    }

    async fn archive_trace(
        &self,
        request: Request<pb::ArchiveTraceRequest>,
    ) -> Result<Response<pb::ArchiveTraceResponse>, Status> {
        let req = request.into_inner();
        let id = trace_id_from_bytes(&req.trace_id).map_err(|e| invalid(e.to_string()))?;
        match self.service.archive_trace(id).await {
            Ok(()) => Ok(Response::new(pb::ArchiveTraceResponse {})),
            Err(ArchiveError::NotFound) => Err(Status::not_found("trace not found")),
            Err(ArchiveError::NotConfigured) => {
                Err(Status::internal(ArchiveError::NotConfigured.to_string()))
            }
            Err(ArchiveError::Storage(e)) => Err(status(e)),
        }
    }

    async fn find_traces(
        &self,
        request: Request<pb::FindTracesRequest>,
    ) -> Result<Response<Self::FindTracesStream>, Status> {
        let q = request
            .into_inner()
            .query
            .ok_or_else(|| invalid("missing query"))?;
        let mut tags: Vec<(String, String)> = q.tags.into_iter().collect();
        tags.sort();
        let query = TraceQuery {
            service_name: q.service_name,
            operation_name: q.operation_name,
            tags,
            start_time_min: q.start_time_min.as_ref().map(timestamp_nanos),
            start_time_max: q.start_time_max.as_ref().map(timestamp_nanos),
            duration_min: q.duration_min.as_ref().and_then(duration_nanos),
            duration_max: q.duration_max.as_ref().and_then(duration_nanos),
            num_traces: usize::try_from(q.search_depth).unwrap_or(0),
        };
        let traces = self
            .service
            .find_traces(&query, q.raw_traces)
            .await
            .map_err(status)?;
        Ok(Response::new(chunks(traces)))
    }

    async fn get_services(
        &self,
        _request: Request<pb::GetServicesRequest>,
    ) -> Result<Response<pb::GetServicesResponse>, Status> {
        let services = self.service.get_services().await.map_err(status)?;
        Ok(Response::new(pb::GetServicesResponse { services }))
    }

    async fn get_operations(
        &self,
        request: Request<pb::GetOperationsRequest>,
    ) -> Result<Response<pb::GetOperationsResponse>, Status> {
        let req = request.into_inner();
        let kind = kind_filter(&req.span_kind)?;
        let ops = self
            .service
            .get_operations(&req.service, kind)
            .await
            .map_err(status)?;
        let mut names: Vec<String> = ops.iter().map(|o| o.name.clone()).collect();
        names.dedup();
        Ok(Response::new(pb::GetOperationsResponse {
            operation_names: names,
            operations: ops
                .into_iter()
                .map(|o| pb::Operation {
                    name: o.name,
                    span_kind: o.span_kind.as_jaeger_str().to_string(),
                })
                .collect(),
        }))
    }

    async fn get_dependencies(
        &self,
        request: Request<pb::GetDependenciesRequest>,
    ) -> Result<Response<pb::GetDependenciesResponse>, Status> {
        let req = request.into_inner();
        let (end, lookback) = dependency_window(req.start_time.as_ref(), req.end_time.as_ref());
        let links = self
            .service
            .get_dependencies(end, lookback)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::GetDependenciesResponse {
            dependencies: links
                .into_iter()
                .map(|l| pb::DependencyLink {
                    parent: l.parent,
                    child: l.child,
                    call_count: l.call_count,
                    source: String::new(),
                })
                .collect(),
        }))
    }
}

/// `(end, lookback)` for a dependencies request: `end` defaults to now, `start` to 24h
/// before `end` (Jaeger's default lookback).
pub fn dependency_window(
    start: Option<&prost_types::Timestamp>,
    end: Option<&prost_types::Timestamp>,
) -> (u64, Duration) {
    let end = end.map(timestamp_nanos).unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    });
    let lookback = match start.map(timestamp_nanos) {
        Some(s) => Duration::from_nanos(end.saturating_sub(s)),
        None => crate::http::params::DEFAULT_DEPENDENCY_LOOKBACK,
    };
    (end, lookback)
}
