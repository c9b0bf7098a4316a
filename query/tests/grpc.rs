//! The gRPC query API through tonic clients generated from Jaeger's protos: api_v2 and
//! api_v3 `QueryService`, reflection, errors, and a 50,000-span trace streamed in chunks.

mod support;

use std::sync::Arc;

use prost::Message;
use sextant_model::{Resource, Span, SpanId, TraceId};
use sextant_proto::jaeger::api_v2 as v2;
use sextant_proto::jaeger::api_v2::query_service_client::QueryServiceClient as V2Client;
use sextant_proto::jaeger::api_v3 as v3;
use sextant_proto::jaeger::api_v3::query_service_client::QueryServiceClient as V3Client;
use sextant_query::Stores;
use sextant_storage::memory::MemoryStore;
use sextant_storage::Storage;
use support::{start, start_stores, T1, T2};
use tonic::Code;

fn ts(us: u64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: (us / 1_000_000) as i64,
        nanos: ((us % 1_000_000) * 1000) as i32,
    }
}

#[tokio::test]
async fn api_v2_unary_calls_and_streams() {
    let s = start("/").await;
    let mut c = V2Client::connect(s.grpc.clone()).await.unwrap();
    let services = c
        .get_services(v2::GetServicesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(services.services, vec!["frontend", "mysql"]);

    let ops = c
        .get_operations(v2::GetOperationsRequest {
            service: "frontend".into(),
            span_kind: "server".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        ops.operation_names,
        vec!["HTTP GET /customer", "HTTP GET /dispatch"]
    );
    assert_eq!(ops.operations[0].span_kind, "server");

    let mut stream = c
        .get_trace(v2::GetTraceRequest {
            trace_id: T1.to_bytes().to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut ids = Vec::new();
    while let Some(chunk) = stream.message().await.unwrap() {
        ids.extend(
            chunk
                .spans
                .iter()
                .map(|sp| SpanId::from_slice(&sp.span_id).unwrap()),
        );
    }
    assert_eq!(ids, vec![SpanId(1), SpanId(2)], "ordered by start time");

    let query = v2::TraceQueryParameters {
        service_name: "frontend".into(),
        start_time_min: Some(ts(s.t0_us - 1)),
        start_time_max: Some(ts(s.t0_us + 120_000_000)),
        ..Default::default()
    };
    let mut stream = c
        .find_traces(v2::FindTracesRequest { query: Some(query) })
        .await
        .unwrap()
        .into_inner();
    let mut traces = Vec::new();
    while let Some(chunk) = stream.message().await.unwrap() {
        for sp in chunk.spans {
            let id = TraceId::from_slice(&sp.trace_id).unwrap();
            if traces.last() != Some(&id) {
                traces.push(id);
            }
        }
    }
    assert_eq!(traces, vec![T2, T1], "newest first");

    let deps = c
        .get_dependencies(v2::GetDependenciesRequest {
            start_time: Some(ts(s.t0_us - 1_000_000)),
            end_time: Some(ts(s.t0_us + 120_000_000)),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deps.dependencies.len(), 1);
    assert_eq!(
        (
            deps.dependencies[0].parent.as_str(),
            deps.dependencies[0].child.as_str()
        ),
        ("frontend", "mysql")
    );

    let missing = c
        .get_trace(v2::GetTraceRequest {
            trace_id: TraceId(0x77).to_bytes().to_vec(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let bad = c
        .get_trace(v2::GetTraceRequest {
            trace_id: vec![1, 2, 3],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let no_query = c
        .find_traces(v2::FindTracesRequest { query: None })
        .await
        .unwrap_err();
    assert_eq!(no_query.code(), Code::InvalidArgument);
    let no_archive = c
        .archive_trace(v2::ArchiveTraceRequest {
            trace_id: T1.to_bytes().to_vec(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(no_archive.code(), Code::Internal);
    assert_eq!(
        no_archive.message(),
        "archive span storage was not configured"
    );
    s.stop().await;
}

#[tokio::test]
async fn api_v3_calls_and_streams() {
    let s = start("/").await;
    let mut c = V3Client::connect(s.grpc.clone()).await.unwrap();
    let services = c
        .get_services(v3::GetServicesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(services.services, vec!["frontend", "mysql"]);
    let ops = c
        .get_operations(v3::GetOperationsRequest {
            service: "mysql".into(),
            span_kind: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ops.operations.len(), 1);
    assert_eq!(ops.operations[0].name, "SQL SELECT");
    assert_eq!(ops.operations[0].span_kind, "client");

    let mut stream = c
        .get_trace(v3::GetTraceRequest {
            trace_id: T1.to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut services = Vec::new();
    while let Some(data) = stream.message().await.unwrap() {
        for rs in data.resource_spans {
            let attrs = rs.resource.unwrap_or_default().attributes;
            let name = attrs.iter().find(|kv| kv.key == "service.name").unwrap();
            services.push(format!("{:?}", name.value));
        }
    }
    assert_eq!(services.len(), 2);

    let query = v3::TraceQueryParameters {
        service_name: "frontend".into(),
        start_time_min: Some(ts(s.t0_us - 1)),
        start_time_max: Some(ts(s.t0_us + 120_000_000)),
        attributes: [("customer".to_string(), "123".to_string())].into(),
        ..Default::default()
    };
    let mut stream = c
        .find_traces(v3::FindTracesRequest {
            query: Some(query.clone()),
        })
        .await
        .unwrap()
        .into_inner();
    let mut n = 0;
    while let Some(data) = stream.message().await.unwrap() {
        for rs in data.resource_spans {
            for ss in rs.scope_spans {
                for sp in ss.spans {
                    assert_eq!(TraceId::from_slice(&sp.trace_id), Some(T2));
                    n += 1;
                }
            }
        }
    }
    assert_eq!(n, 1);

    let mut summaries = c
        .find_trace_summaries(v3::FindTraceSummariesRequest { query: Some(query) })
        .await
        .unwrap()
        .into_inner();
    let first = summaries.message().await.unwrap().unwrap();
    assert_eq!(first.summaries.len(), 1);
    assert_eq!(first.summaries[0].root_operation_name, "HTTP GET /customer");

    let missing_times = c
        .find_traces(v3::FindTracesRequest {
            query: Some(v3::TraceQueryParameters::default()),
        })
        .await
        .unwrap_err();
    assert_eq!(missing_times.code(), Code::InvalidArgument);
    let bad_id = c
        .get_trace(v3::GetTraceRequest {
            trace_id: "xyz".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_id.code(), Code::InvalidArgument);
    s.stop().await;
}

#[tokio::test]
async fn a_50k_span_trace_streams_in_bounded_chunks() {
    const N: u64 = 50_000;
    let storage = Storage::from_backend(Arc::new(MemoryStore::new(10)));
    let res = Arc::new(Resource {
        service_name: "big".into(),
        ..Default::default()
    });
    let trace_id = TraceId(0xb16);
    let spans: Vec<Span> = (1..=N)
        .map(|i| Span {
            trace_id,
            span_id: SpanId(i),
            parent_span_id: SpanId(if i == 1 { 0 } else { 1 }),
            name: format!("op-{}", i % 100),
            start_time_unix_nano: 1_000_000_000 + i,
            end_time_unix_nano: 1_000_000_000 + i + 10,
            resource: res.clone(),
            ..Default::default()
        })
        .collect();
    storage.writer.write_spans(spans).await.unwrap();
    let s = start_stores(Stores::from(storage), "/").await;

    let mut c = V2Client::connect(s.grpc.clone()).await.unwrap();
    let mut stream = c
        .get_trace(v2::GetTraceRequest {
            trace_id: trace_id.to_bytes().to_vec(),
            raw_traces: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let (mut chunks, mut spans, mut largest) = (0, 0u64, 0usize);
    while let Some(chunk) = stream.message().await.unwrap() {
        assert!(!chunk.spans.is_empty());
        largest = largest.max(chunk.encoded_len());
        chunks += 1;
        spans += chunk.spans.len() as u64;
    }
    assert_eq!(spans, N);
    assert!(chunks > 1, "streamed in {chunks} chunk(s)");
    assert!(
        largest <= sextant_query::grpc::CHUNK_BYTES + 4096,
        "{largest}"
    );

    let mut c3 = V3Client::connect(s.grpc.clone()).await.unwrap();
    let mut stream = c3
        .get_trace(v3::GetTraceRequest {
            trace_id: trace_id.to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let (mut chunks, mut spans) = (0, 0u64);
    while let Some(data) = stream.message().await.unwrap() {
        chunks += 1;
        for rs in data.resource_spans {
            for ss in rs.scope_spans {
                spans += ss.spans.len() as u64;
            }
        }
    }
    assert_eq!(spans, N);
    assert!(chunks > 1);
    s.stop().await;
}

#[tokio::test]
async fn reflection_lists_both_query_services() {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;

    let s = start("/").await;
    let channel = tonic::transport::Channel::from_shared(s.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut c = ServerReflectionClient::new(channel);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut resp = c
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let msg = resp.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = msg.message_response else {
        panic!("unexpected reflection answer");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"jaeger.api_v2.QueryService".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"jaeger.api_v3.QueryService".to_string()),
        "{names:?}"
    );
    s.stop().await;
}
