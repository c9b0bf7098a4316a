//! `jaeger.api_v3.QueryService` (jaeger `cmd/query/app/apiv3/grpc_handler.go`): traces as
//! OTLP `TracesData`, one trace after another, each in size-bounded messages.
//! `FindTraceSummaries` is answered from the same search, one summary per trace.

use std::collections::BTreeMap;
use std::pin::Pin;

use futures::Stream;
use prost::Message;
use sextant_model::otlp::{span_to_proto, spans_to_resource_spans};
use sextant_model::{Span, SpanKind, StatusCode, Trace, TraceId};
use sextant_proto::jaeger::api_v3 as pb;
use sextant_proto::jaeger::api_v3::query_service_server::{
    QueryService as Api, QueryServiceServer,
};
use sextant_proto::otlp::trace::v1::TracesData;
use sextant_storage::TraceQuery;
use tonic::{Request, Response, Status};

use super::api_v2::dependency_window;
use super::{chunk_by_size, duration_nanos, invalid, status, timestamp_nanos, FIELD_OVERHEAD};
use crate::service::QueryService;

pub fn server(service: QueryService) -> QueryServiceServer<V3> {
    QueryServiceServer::new(V3 { service })
}

pub struct V3 {
    service: QueryService,
}

type DataStream = Pin<Box<dyn Stream<Item = Result<TracesData, Status>> + Send>>;
type SummaryStream =
    Pin<Box<dyn Stream<Item = Result<pb::FindTraceSummariesResponse, Status>> + Send>>;

fn traces_data(traces: Vec<Trace>) -> DataStream {
    let mut out = Vec::new();
    for trace in traces {
        for spans in chunk_by_size(trace.spans, |s: &Span| {
            span_to_proto(s).encoded_len() + FIELD_OVERHEAD
        }) {
            out.push(Ok(TracesData {
                resource_spans: spans_to_resource_spans(&spans),
            }));
        }
    }
    Box::pin(tokio_stream::iter(out))
}

fn query_from(q: Option<pb::TraceQueryParameters>) -> Result<(TraceQuery, bool), Status> {
    let q = q.ok_or_else(|| invalid("missing query"))?;
    let (Some(min), Some(max)) = (q.start_time_min.as_ref(), q.start_time_max.as_ref()) else {
        return Err(invalid("start time min and max are required parameters"));
    };
    let mut tags: Vec<(String, String)> = q.attributes.into_iter().collect();
    tags.sort();
    Ok((
        TraceQuery {
            service_name: q.service_name,
            operation_name: q.operation_name,
            tags,
            start_time_min: Some(timestamp_nanos(min)),
            start_time_max: Some(timestamp_nanos(max)),
            duration_min: q.duration_min.as_ref().and_then(duration_nanos),
            duration_max: q.duration_max.as_ref().and_then(duration_nanos),
            num_traces: usize::try_from(q.search_depth).unwrap_or(0),
        },
        q.raw_traces,
    ))
}

fn summary(trace: &Trace) -> pb::TraceSummary {
    let ids: std::collections::HashSet<_> = trace.spans.iter().map(|s| s.span_id).collect();
    let root = trace
        .spans
        .iter()
        .filter(|s| s.is_root())
        .min_by_key(|s| s.start_time_unix_nano);
    let mut services: BTreeMap<&str, (i32, i32)> = BTreeMap::new();
    for s in &trace.spans {
        let e = services.entry(s.service_name()).or_default();
        e.0 = e.0.saturating_add(1);
        if s.status.code == StatusCode::Error {
            e.1 = e.1.saturating_add(1);
        }
    }
    let count = |f: &dyn Fn(&Span) -> bool| {
        i32::try_from(trace.spans.iter().filter(|s| f(s)).count()).unwrap_or(i32::MAX)
    };
    pb::TraceSummary {
        trace_id: trace.trace_id().unwrap_or_default().to_string(),
        root_service_name: root
            .map(|r| r.service_name().to_string())
            .unwrap_or_default(),
        root_operation_name: root.map(|r| r.name.clone()).unwrap_or_default(),
        min_start_time_unix_nano: trace
            .spans
            .iter()
            .map(|s| s.start_time_unix_nano)
            .min()
            .unwrap_or(0),
        max_end_time_unix_nano: trace
            .spans
            .iter()
            .map(|s| s.end_time_unix_nano)
            .max()
            .unwrap_or(0),
        span_count: count(&|_| true),
        error_span_count: count(&|s| s.status.code == StatusCode::Error),
        orphan_span_count: count(&|s| !s.is_root() && !ids.contains(&s.parent_span_id)),
        services: services
            .into_iter()
            .map(|(name, (spans, errors))| pb::ServiceSummary {
                name: name.to_string(),
                span_count: spans,
                error_span_count: errors,
            })
            .collect(),
    }
}

#[tonic::async_trait]
impl Api for V3 {
    type GetTraceStream = DataStream;
    type FindTracesStream = DataStream;
    type FindTraceSummariesStream = SummaryStream;

    async fn get_trace(
        &self,
        request: Request<pb::GetTraceRequest>,
    ) -> Result<Response<Self::GetTraceStream>, Status> {
        let req = request.into_inner();
        let id: TraceId = req
            .trace_id
            .parse()
            .map_err(|e: sextant_model::IdParseError| invalid(e.to_string()))?;
        match self
            .service
            .get_trace(id, req.raw_traces)
            .await
            .map_err(status)?
        {
            Some(trace) => Ok(Response::new(traces_data(vec![trace]))),
            None => Err(Status::not_found("trace not found")),
        }
    }

    async fn find_traces(
        &self,
        request: Request<pb::FindTracesRequest>,
    ) -> Result<Response<Self::FindTracesStream>, Status> {
        let (query, raw) = query_from(request.into_inner().query)?;
        let traces = self
            .service
            .find_traces(&query, raw)
            .await
            .map_err(status)?;
        Ok(Response::new(traces_data(traces)))
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
        let kind = match SpanKind::from_jaeger_str(&req.span_kind) {
            Some(_) if req.span_kind.is_empty() => None,
            Some(k) => Some(k),
            None => return Ok(Response::new(pb::GetOperationsResponse::default())),
        };
        let ops = self
            .service
            .get_operations(&req.service, kind)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::GetOperationsResponse {
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
    ) -> Result<Response<pb::DependenciesResponse>, Status> {
        let req = request.into_inner();
        let (end, lookback) = dependency_window(req.start_time.as_ref(), req.end_time.as_ref());
        let links = self
            .service
            .get_dependencies(end, lookback)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::DependenciesResponse {
            dependencies: links
                .into_iter()
                .map(|l| pb::Dependency {
                    parent: l.parent,
                    child: l.child,
                    call_count: l.call_count,
                })
                .collect(),
        }))
    }

    async fn find_trace_summaries(
        &self,
        request: Request<pb::FindTraceSummariesRequest>,
    ) -> Result<Response<Self::FindTraceSummariesStream>, Status> {
        let (query, raw) = query_from(request.into_inner().query)?;
        let traces = self
            .service
            .find_traces(&query, raw)
            .await
            .map_err(status)?;
        let summaries = traces.iter().map(summary).collect();
        let out = vec![Ok(pb::FindTraceSummariesResponse { summaries })];
        Ok(Response::new(Box::pin(tokio_stream::iter(out))))
    }
}
