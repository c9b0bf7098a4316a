//! Every receiver end to end on loopback: a real client sends spans, the test reads them back
//! through the storage reader. Malformed input gets 400 / InvalidArgument, is counted, and
//! the collector keeps serving.

use std::io::Write;
use std::time::Duration;

use flate2::write::GzEncoder;
use flate2::Compression;
use sextant_collector::metrics::METRICS;
use sextant_collector::{run, CollectorArgs};
use sextant_common::shutdown::Shutdown;
use sextant_model::{Span, TraceId};
use sextant_proto::jaeger::api_v2 as pb;
use sextant_proto::jaeger::api_v2::collector_service_client::CollectorServiceClient;
use sextant_proto::otlp::collector::trace::v1::trace_service_client::TraceServiceClient;
use sextant_proto::otlp::collector::trace::v1::ExportTraceServiceRequest;
use sextant_storage::StorageArgs;

mod support;
use support::{api_v2_batch, spans, Harness};

fn assert_same_spans(mut got: Vec<Span>, sent: &[Span]) {
    got.sort_by_key(|s| s.span_id);
    assert_eq!(got.len(), sent.len());
    for (g, s) in got.iter().zip(sent) {
        assert_eq!(g.span_id, s.span_id);
        assert_eq!(g.name, s.name);
        assert_eq!(g.service_name(), s.service_name());
        assert_eq!(g.kind, s.kind);
        assert_eq!(g.start_time_unix_nano, s.start_time_unix_nano);
        assert_eq!(g.end_time_unix_nano, s.end_time_unix_nano);
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn malformed(format: &str, transport: &str) -> u64 {
    METRICS
        .malformed_requests
        .with_label_values(&[format, transport])
        .get()
}

#[tokio::test]
async fn api_v2_grpc_post_spans() {
    let h = Harness::start().await;
    let sent = spans(0x1111, "grpc-svc", 3);
    let mut client = CollectorServiceClient::connect(format!("http://{}", h.running().grpc_addr))
        .await
        .unwrap();
    client
        .post_spans(pb::PostSpansRequest {
            batch: Some(api_v2_batch(&sent)),
        })
        .await
        .unwrap();
    assert_same_spans(h.spans_of(TraceId(0x1111), 3).await, &sent);

    // A batch whose span has a 3-byte trace ID is refused as InvalidArgument and counted.
    let before = malformed("proto", "grpc");
    let mut bad = api_v2_batch(&sent);
    bad.spans[0].trace_id = vec![1, 2, 3];
    let err = client
        .post_spans(pb::PostSpansRequest { batch: Some(bad) })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");
    assert!(malformed("proto", "grpc") > before);
    // A request without a batch is an empty success, as in Jaeger.
    client
        .post_spans(pb::PostSpansRequest { batch: None })
        .await
        .unwrap();
    h.stop().await;
}

#[tokio::test]
async fn otlp_grpc_export() {
    let h = Harness::start().await;
    let sent = spans(0x2222, "otlp-grpc-svc", 4);
    let url = format!("http://{}", h.running().otlp_grpc_addr.unwrap());
    let mut client = TraceServiceClient::connect(url).await.unwrap();
    let response = client
        .export(ExportTraceServiceRequest {
            resource_spans: sextant_model::otlp::spans_to_resource_spans(&sent),
        })
        .await
        .unwrap();
    assert!(response.into_inner().partial_success.is_none());
    assert_same_spans(h.spans_of(TraceId(0x2222), 4).await, &sent);

    let before = malformed("otlp", "grpc");
    let mut bad = sextant_model::otlp::spans_to_resource_spans(&sent);
    bad[0].scope_spans[0].spans[0].span_id = vec![9; 3];
    let err = client
        .export(ExportTraceServiceRequest {
            resource_spans: bad,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");
    assert!(malformed("otlp", "grpc") > before);
    h.stop().await;
}

#[tokio::test]
async fn otlp_http_protobuf_json_and_gzip() {
    let h = Harness::start().await;
    let http = reqwest::Client::new();

    let sent = spans(0x3333, "otlp-http-proto", 2);
    let r = http
        .post(h.otlp_http_url())
        .header("content-type", "application/x-protobuf")
        .body(sextant_model::otlp::encode_export_request(&sent))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-protobuf");
    assert_same_spans(h.spans_of(TraceId(0x3333), 2).await, &sent);

    let sent = spans(0x4444, "otlp-http-json", 2);
    let r = http
        .post(h.otlp_http_url())
        .header("content-type", "application/json")
        .body(sextant_model::otlp_json::encode_export_request(&sent))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body, serde_json::json!({}));
    assert_same_spans(h.spans_of(TraceId(0x4444), 2).await, &sent);

    let sent = spans(0x5555, "otlp-http-gzip", 3);
    let r = http
        .post(h.otlp_http_url())
        .header("content-type", "application/json; charset=utf-8")
        .header("content-encoding", "gzip")
        .body(gzip(&sextant_model::otlp_json::encode_export_request(
            &sent,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_same_spans(h.spans_of(TraceId(0x5555), 3).await, &sent);

    let sent = spans(0x5556, "otlp-http-gzip-proto", 1);
    let r = http
        .post(h.otlp_http_url())
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(gzip(&sextant_model::otlp::encode_export_request(&sent)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_same_spans(h.spans_of(TraceId(0x5556), 1).await, &sent);
    h.stop().await;
}

#[tokio::test]
async fn otlp_http_rejects_malformed_bodies_and_keeps_serving() {
    let h = Harness::start().await;
    let http = reqwest::Client::new();
    let good = sextant_model::otlp::encode_export_request(&spans(0x6666, "survivor", 2));
    let truncated = good[..good.len() / 2].to_vec();
    let random: Vec<u8> = (0..512u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();

    let cases: Vec<(&str, Option<&str>, Vec<u8>)> = vec![
        ("application/x-protobuf", None, random.clone()),
        ("application/x-protobuf", None, truncated),
        ("application/json", None, b"{\"resourceSpans\": [".to_vec()),
        ("application/json", None, b"[1,2,3]".to_vec()),
        (
            "application/json",
            Some("gzip"),
            b"not gzip at all".to_vec(),
        ),
    ];
    for (content_type, encoding, body) in cases {
        let before = malformed("otlp", "http");
        let mut req = http
            .post(h.otlp_http_url())
            .header("content-type", content_type);
        if let Some(enc) = encoding {
            req = req.header("content-encoding", enc);
        }
        let r = req.body(body).send().await.unwrap();
        assert_eq!(r.status(), 400, "{content_type} {encoding:?}");
        assert_eq!(r.headers()["content-type"], content_type);
        let text = r.bytes().await.unwrap();
        assert!(!text.is_empty(), "error body explains the failure");
        assert!(malformed("otlp", "http") > before, "{content_type} counted");
    }
    // JSON errors carry a google.rpc.Status in JSON.
    let r = http
        .post(h.otlp_http_url())
        .header("content-type", "application/json")
        .body("garbage")
        .send()
        .await
        .unwrap();
    let status: serde_json::Value = r.json().await.unwrap();
    assert_eq!(status["code"], 3);
    assert!(status["message"].as_str().unwrap().len() > 3);

    let r = http
        .post(h.otlp_http_url())
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);

    // Still serving.
    let r = http
        .post(h.otlp_http_url())
        .header("content-type", "application/x-protobuf")
        .body(good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    h.spans_of(TraceId(0x6666), 2).await;
    h.stop().await;
}

#[tokio::test]
async fn otlp_http_limits_body_size_including_decompressed() {
    let storage = sextant_storage::build(&StorageArgs::default())
        .await
        .unwrap();
    let shutdown = Shutdown::new();
    let args = CollectorArgs {
        http_max_body_size: 4096,
        ..CollectorArgs::loopback_ephemeral()
    };
    let collector = run(&args, storage, shutdown.clone()).await.unwrap();
    let url = format!("http://{}/v1/traces", collector.otlp_http_addr.unwrap());
    let http = reqwest::Client::new();
    let big = vec![b' '; 100_000];
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // Small on the wire, large once decompressed.
    let bomb = gzip(&big);
    assert!(bomb.len() < 4096);
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(bomb)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    shutdown.trigger();
    assert!(collector.join(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn thrift_http_api_traces() {
    use sextant_model::thrift::{encode_batch, BatchMeta, Protocol};
    let h = Harness::start().await;
    let http = reqwest::Client::new();
    let url = format!("http://{}/api/traces", h.running().http_addr);
    let sent = spans(0x7777, "thrift-http", 2);
    let body = encode_batch(
        &sent[0].resource,
        &sent,
        &BatchMeta::default(),
        Protocol::Binary,
    );
    let r = http
        .post(&url)
        .header("content-type", "application/x-thrift")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_same_spans(h.spans_of(TraceId(0x7777), 2).await, &sent);

    let before = malformed("jaeger", "http");
    let r = http
        .post(&url)
        .header("content-type", "application/x-thrift")
        .body(vec![0xff; 40])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(malformed("jaeger", "http") > before);
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    h.stop().await;
}

#[tokio::test]
async fn otlp_can_be_disabled() {
    let storage = sextant_storage::build(&StorageArgs::default())
        .await
        .unwrap();
    let shutdown = Shutdown::new();
    let args = CollectorArgs {
        otlp_enabled: false,
        ..CollectorArgs::loopback_ephemeral()
    };
    let collector = run(&args, storage, shutdown.clone()).await.unwrap();
    assert!(collector.otlp_grpc_addr.is_none());
    assert!(collector.otlp_http_addr.is_none());
    shutdown.trigger();
    assert!(collector.join(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn empty_service_name_is_sanitized() {
    let h = Harness::start().await;
    let sent = spans(0x8888, "", 1);
    let r = reqwest::Client::new()
        .post(h.otlp_http_url())
        .header("content-type", "application/x-protobuf")
        .body(sextant_model::otlp::encode_export_request(&sent))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got = h.spans_of(TraceId(0x8888), 1).await;
    assert_eq!(got[0].service_name(), "empty-service-name");
    h.stop().await;
}
