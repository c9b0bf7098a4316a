//! OTLP partial success through real sockets: spans with all-zero IDs are rejected one by
//! one, the valid rest of the request is stored, and the answer says how many were
//! rejected — on gRPC, HTTP protobuf and HTTP JSON alike.

mod support;

use prost::Message;
use sextant_model::{Span, SpanId, TraceId};
use sextant_proto::otlp::collector::trace::v1::trace_service_client::TraceServiceClient;
use sextant_proto::otlp::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use support::{spans, Harness};

/// Four spans of `trace`, of which the second has a zero trace ID and the third a zero
/// span ID: two valid, two rejected.
fn mixed(trace: u128, service: &str) -> Vec<Span> {
    let mut s = spans(trace, service, 4);
    s[1].trace_id = TraceId(0);
    s[2].span_id = SpanId(0);
    s
}

fn assert_only_valid_stored(stored: &[Span]) {
    let mut ids: Vec<u64> = stored.iter().map(|s| s.span_id.0).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![1, 4]);
}

#[tokio::test]
async fn grpc_reports_rejected_spans_and_stores_the_rest() {
    let h = Harness::start().await;
    let url = format!("http://{}", h.running().otlp_grpc_addr.unwrap());
    let mut client = TraceServiceClient::connect(url).await.unwrap();

    let sent = mixed(0x7001, "partial-grpc");
    let response = client
        .export(ExportTraceServiceRequest {
            resource_spans: sextant_model::otlp::spans_to_resource_spans(&sent),
        })
        .await
        .unwrap()
        .into_inner();
    let partial = response.partial_success.expect("partial success reported");
    assert_eq!(partial.rejected_spans, 2);
    assert!(partial.error_message.contains("trace_id"), "{partial:?}");
    assert_only_valid_stored(&h.spans_of(TraceId(0x7001), 2).await);

    // A fully valid request leaves partial_success unset.
    let valid = spans(0x7002, "partial-grpc", 3);
    let response = client
        .export(ExportTraceServiceRequest {
            resource_spans: sextant_model::otlp::spans_to_resource_spans(&valid),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.partial_success, None);
    assert_eq!(h.spans_of(TraceId(0x7002), 3).await.len(), 3);
    h.stop().await;
}

#[tokio::test]
async fn http_protobuf_reports_rejected_spans() {
    let h = Harness::start().await;
    let sent = mixed(0x7003, "partial-http");
    let r = reqwest::Client::new()
        .post(h.otlp_http_url())
        .header("content-type", "application/x-protobuf")
        .body(sextant_model::otlp::encode_export_request(&sent))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.bytes().await.unwrap();
    let response = ExportTraceServiceResponse::decode(body.as_ref()).unwrap();
    let partial = response.partial_success.expect("partial success reported");
    assert_eq!(partial.rejected_spans, 2);
    assert!(!partial.error_message.is_empty());
    assert_only_valid_stored(&h.spans_of(TraceId(0x7003), 2).await);
    h.stop().await;
}

#[tokio::test]
async fn http_json_reports_rejected_spans() {
    let h = Harness::start().await;
    let client = reqwest::Client::new();
    let sent = mixed(0x7004, "partial-json");
    let r = client
        .post(h.otlp_http_url())
        .header("content-type", "application/json")
        .body(sextant_model::otlp_json::encode_export_request(&sent))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["partialSuccess"]["rejectedSpans"], "2", "{body}");
    assert!(body["partialSuccess"]["errorMessage"]
        .as_str()
        .is_some_and(|m| m.contains("span_id")));
    assert_only_valid_stored(&h.spans_of(TraceId(0x7004), 2).await);

    let valid = spans(0x7005, "partial-json", 1);
    let r = client
        .post(h.otlp_http_url())
        .header("content-type", "application/json")
        .body(sextant_model::otlp_json::encode_export_request(&valid))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "{}");
    h.stop().await;
}

#[tokio::test]
async fn jaeger_formats_still_store_zero_ids() {
    // Jaeger's own protocols cannot report partial success; Jaeger stores such spans.
    let h = Harness::start().await;
    let mut sent = spans(0x7006, "zero-ids-jaeger", 2);
    sent[1].span_id = SpanId(0);
    let url = format!("http://{}", h.running().grpc_addr);
    let mut client =
        sextant_proto::jaeger::api_v2::collector_service_client::CollectorServiceClient::connect(
            url,
        )
        .await
        .unwrap();
    client
        .post_spans(sextant_proto::jaeger::api_v2::PostSpansRequest {
            batch: Some(support::api_v2_batch(&sent)),
        })
        .await
        .unwrap();
    assert_eq!(h.spans_of(TraceId(0x7006), 2).await.len(), 2);
    h.stop().await;
}
