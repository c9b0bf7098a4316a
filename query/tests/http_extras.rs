//! The HTTP surfaces beyond v1 over real sockets, against hand-written expected documents:
//! api_v3 (OTLP JSON), archive with lookup fallback, critical path, SPM metrics, CORS, and
//! the adjusters (with `raw=true` turning them off).

mod support;

use std::sync::Arc;

use serde_json::{json, Value};
use sextant_model::{KeyValue, Resource, Span, SpanId, SpanKind, TraceId};
use sextant_query::Stores;
use sextant_storage::memory::MemoryStore;
use sextant_storage::Storage;
use support::{args, fixture, start, start_args, start_stores, t0_us, Server, T1, T2};

async fn get(s: &Server, path: &str) -> (u16, Value) {
    let resp = reqwest::get(s.url(path)).await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

fn memory() -> Storage {
    Storage::from_backend(Arc::new(MemoryStore::new(100)))
}

#[tokio::test]
async fn api_v3_golden_documents() {
    let s = start("/").await;
    let start_ns = s.t0_us * 1000 + 60_000_000_000;
    let (status, body) = get(&s, &format!("/api/v3/traces/{}", T2)).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"result": {"resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": "frontend"}},
                {"key": "hostname", "value": {"stringValue": "web-1"}}
            ]},
            "scopeSpans": [{
                "scope": {},
                "spans": [{
                    "traceId": T2.to_string(),
                    "spanId": "0000000000000003",
                    "flags": 1,
                    "name": "HTTP GET /customer",
                    "kind": 2,
                    "startTimeUnixNano": start_ns.to_string(),
                    "endTimeUnixNano": (start_ns + 5_000_000).to_string(),
                    "attributes": [{"key": "customer", "value": {"stringValue": "123"}}],
                    "status": {}
                }]
            }]
        }]}})
    );
    assert_eq!(
        get(&s, "/api/v3/services").await,
        (200, json!({"services": ["frontend", "mysql"]}))
    );
    assert_eq!(
        get(&s, "/api/v3/operations?service=mysql").await,
        (
            200,
            json!({"operations": [{"name": "SQL SELECT", "spanKind": "client"}]})
        )
    );
    assert_eq!(
        get(&s, "/api/v3/operations?service=mysql&span_kind=server").await,
        (200, json!({}))
    );
    assert_eq!(
        get(&s, "/api/v3/traces/00000000000000000000000000000077").await,
        (
            404,
            json!({"error": {"httpCode": 404, "message": "No traces found"}})
        )
    );
    let (status, body) = get(&s, "/api/v3/traces/nothex").await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("malformed parameter trace_id:"));

    // Search with the gateway's parameter names and RFC 3339 times.
    let t = |us: u64| {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let search = format!(
        "/api/v3/traces?query.service_name=mysql&query.start_time_min={}&query.start_time_max={}",
        t(s.t0_us - 1),
        t(s.t0_us + 120_000_000)
    );
    let (status, body) = get(&s, &search).await;
    assert_eq!(status, 200);
    let spans: Vec<&Value> = body["result"]["resourceSpans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|rs| rs["scopeSpans"][0]["spans"].as_array().unwrap())
        .collect();
    assert_eq!(spans.len(), 2, "the whole trace T1");
    assert_eq!(
        get(&s, "/api/v3/traces?query.service_name=mysql").await,
        (
            400,
            json!({"error": {"httpCode": 400, "message": "query.start_time_min and query.start_time_max are required"}})
        )
    );
    let (status, _) = get(&s, &format!("{search}&query.duration_min=abc")).await;
    assert_eq!(status, 400);
    s.stop().await;
}

#[tokio::test]
async fn archive_copies_and_lookups_fall_back() {
    let primary = memory();
    let archive = memory();
    primary.writer.write_spans(fixture(t0_us())).await.unwrap();
    let s = start_stores(
        Stores {
            primary: primary.clone(),
            archive: Some(archive.clone()),
        },
        "/",
    )
    .await;
    let client = reqwest::Client::new();
    let resp = client
        .post(s.url(&format!("/api/archive/{}", T1.to_jaeger_string())))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"data": [], "total": 0, "limit": 0, "offset": 0, "errors": []})
    );
    // The primary forgets everything (retention); the archived trace is still served.
    primary.purger.purge().await.unwrap();
    let (status, body) = get(&s, &format!("/api/traces/{}", T1.to_jaeger_string())).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"][0]["spans"].as_array().unwrap().len(), 2);
    let (status, _) = get(&s, &format!("/api/traces/{}", T2.to_jaeger_string())).await;
    assert_eq!(status, 404);
    let resp = client
        .post(s.url("/api/archive/0000000000000077"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    s.stop().await;

    // Without an archive store: Jaeger's error.
    let s = start("/").await;
    let resp = client
        .post(s.url(&format!("/api/archive/{}", T1.to_jaeger_string())))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"data": null, "total": 0, "limit": 0, "offset": 0,
               "errors": [{"code": 500, "msg": "archive span storage was not configured"}]})
    );
    s.stop().await;
}

#[tokio::test]
async fn critical_path_document() {
    let s = start("/").await;
    let t0 = s.t0_us;
    // T1: dispatch 0..100ms waits for SELECT 10..60ms.
    assert_eq!(
        get(
            &s,
            &format!("/api/traces/{}/critical-path", T1.to_jaeger_string())
        )
        .await,
        (
            200,
            json!({"data": [
                {"spanID": "0000000000000001", "sectionStart": t0, "sectionEnd": t0 + 10_000},
                {"spanID": "0000000000000002", "sectionStart": t0 + 10_000, "sectionEnd": t0 + 60_000},
                {"spanID": "0000000000000001", "sectionStart": t0 + 60_000, "sectionEnd": t0 + 100_000}
            ], "total": 3, "limit": 0, "offset": 0, "errors": null})
        )
    );
    let (status, _) = get(&s, "/api/traces/0000000000000077/critical-path").await;
    assert_eq!(status, 404);
    s.stop().await;
}

#[tokio::test]
async fn spm_metrics_from_stored_spans() {
    let s = start("/").await;
    // One point, at t0 + 70s, over a 2-minute window holding both frontend server spans.
    let end_ms = s.t0_us / 1000 + 70_000;
    let q = format!("service=frontend&endTs={end_ms}&lookback=0&step=1000&ratePer=120000");
    let ts = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(end_ms) * 1_000_000)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let labels = json!([{"name": "service_name", "value": "frontend"}]);
    assert_eq!(
        get(&s, &format!("/api/metrics/calls?{q}")).await,
        (
            200,
            json!({"name": "service_call_rate", "type": "GAUGE",
                   "help": "calls/sec, grouped by service",
                   "metrics": [{"labels": labels, "metricPoints": [
                       {"gaugeValue": {"doubleValue": 2.0 / 120.0}, "timestamp": ts}]}]})
        )
    );
    let (_, errors) = get(&s, &format!("/api/metrics/errors?{q}")).await;
    assert_eq!(errors["name"], "service_error_rate");
    assert_eq!(
        errors["metrics"][0]["metricPoints"][0]["gaugeValue"]["doubleValue"],
        0.5
    );
    let (_, lat) = get(
        &s,
        &format!("/api/metrics/latencies?{q}&quantile=1&groupByOperation=true"),
    )
    .await;
    assert_eq!(lat["name"], "service_operation_latencies");
    assert_eq!(
        lat["help"],
        "1.00th quantile latency, grouped by service & operation"
    );
    let by_op: Vec<(String, f64)> = lat["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["labels"][1]["value"].as_str().unwrap().to_string(),
                m["metricPoints"][0]["gaugeValue"]["doubleValue"]
                    .as_f64()
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(
        by_op,
        vec![
            ("HTTP GET /customer".into(), 5.0),
            ("HTTP GET /dispatch".into(), 100.0)
        ]
    );
    assert_eq!(
        get(&s, "/api/metrics/minstep").await,
        (
            200,
            json!({"data": 1000, "total": 0, "limit": 0, "offset": 0, "errors": null})
        )
    );
    let (status, body) = get(&s, "/api/metrics/latencies?service=frontend").await;
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"][0]["msg"],
        "please provide a quantile between (0, 1]"
    );
    let (status, _) = get(&s, "/api/metrics/calls").await;
    assert_eq!(status, 400);
    s.stop().await;
}

#[tokio::test]
async fn cors_headers_follow_the_flags() {
    let mut a = args("/");
    a.cors_allowed_origins = "http://grafana.example".into();
    let s = start_args(Stores::from(memory()), a).await;
    let resp = reqwest::Client::new()
        .get(s.url("/api/services"))
        .header("origin", "http://grafana.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "http://grafana.example"
    );
    let other = reqwest::Client::new()
        .get(s.url("/api/services"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    s.stop().await;

    let s = start("/").await;
    let resp = reqwest::Client::new()
        .get(s.url("/api/services"))
        .header("origin", "http://grafana.example")
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    s.stop().await;
}

#[tokio::test]
async fn adjusters_apply_unless_raw() {
    // A Zipkin-style shared span ID: client and server halves on two hosts, the server's
    // clock 1s ahead.
    let host = |name: &str, ip: &str| {
        Arc::new(Resource {
            service_name: name.into(),
            attributes: vec![KeyValue::new("ip", ip)],
            ..Default::default()
        })
    };
    let t0 = t0_us() * 1000;
    let trace_id = TraceId(0x5a);
    let client = Span {
        trace_id,
        span_id: SpanId(7),
        name: "call".into(),
        kind: SpanKind::Client,
        start_time_unix_nano: t0,
        end_time_unix_nano: t0 + 100_000_000,
        resource: host("web", "10.0.0.1"),
        ..Default::default()
    };
    let server = Span {
        kind: SpanKind::Server,
        name: "handle".into(),
        start_time_unix_nano: t0 + 1_010_000_000,
        end_time_unix_nano: t0 + 1_090_000_000,
        resource: host("api", "10.0.0.2"),
        attributes: vec![KeyValue::new("peer.ipv4", 0x0a00_0001i64)],
        ..client.clone()
    };
    let storage = memory();
    storage
        .writer
        .write_spans(vec![client, server])
        .await
        .unwrap();
    let mut a = args("/");
    a.max_clock_skew_adjustment = std::time::Duration::from_secs(5);
    let s = start_args(Stores::from(storage), a).await;

    let (_, body) = get(&s, &format!("/api/traces/{}", trace_id.to_jaeger_string())).await;
    let spans = body["data"][0]["spans"].as_array().unwrap();
    let server = spans
        .iter()
        .find(|sp| sp["operationName"] == "handle")
        .unwrap();
    assert_eq!(
        server["spanID"], "0000000000000001",
        "fresh ID for the server half"
    );
    assert_eq!(
        server["references"],
        json!([{"refType": "CHILD_OF", "traceID": trace_id.to_jaeger_string(), "spanID": "0000000000000007"}])
    );
    assert_eq!(
        server["startTime"],
        json!(t0 / 1000 + 10_000),
        "skew removed"
    );
    assert_eq!(
        server["warnings"],
        json!(["This span's timestamps were adjusted by -1s"])
    );
    let ip = server["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == "peer.ipv4")
        .unwrap();
    assert_eq!(ip["value"], "10.0.0.1");

    let (_, raw) = get(
        &s,
        &format!("/api/traces/{}?raw=true", trace_id.to_jaeger_string()),
    )
    .await;
    let ids: Vec<&str> = raw["data"][0]["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sp| sp["spanID"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["0000000000000007", "0000000000000007"]);
    s.stop().await;
}
