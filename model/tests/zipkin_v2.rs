//! Zipkin v2 decoding with payloads shaped like real clients' (OpenTelemetry Python's Zipkin
//! exporter, Brave / zipkin-js, Jaeger's own receiver fixtures), plus malformed input.

use std::sync::Arc;

use sextant_model::zipkin::{decode_v2_json, decode_v2_proto, ATTR_SHARED, ATTR_START_TIME_ABSENT};
use sextant_model::{AnyValue, DecodeError, KeyValue, SpanId, SpanKind, StatusCode, TraceId};

/// What `opentelemetry-exporter-zipkin-json` (v2 encoder) posts: Python's `json.dumps`
/// spacing, resource attributes and `otel.library.*` merged into tags, status as
/// `otel.status_code` + `error`, events as `{"name": {attrs}}` annotations, `debug` set
/// because the span was sampled, and `"kind": null` for an internal span.
const OTEL_PYTHON: &str = r#"[{"traceId": "6e0c63257de34c92bf9efcd03927272e", "id": "2fe30e1a2a0c2c5a", "name": "GET /checkout", "timestamp": 1700000000123457, "duration": 2500, "localEndpoint": {"serviceName": "checkout", "ipv4": "10.1.2.3", "port": 8000}, "kind": "SERVER", "tags": {"http.method": "GET", "http.status_code": "500", "service.name": "checkout", "telemetry.sdk.language": "python", "telemetry.sdk.name": "opentelemetry", "telemetry.sdk.version": "1.27.0", "otel.library.name": "opentelemetry.instrumentation.flask", "otel.library.version": "0.48b0", "otel.status_code": "ERROR", "error": "ZeroDivisionError: division by zero"}, "annotations": [{"timestamp": 1700000000124000, "value": "{\"exception\": {\"exception.escaped\": \"False\", \"exception.message\": \"division by zero\", \"exception.stacktrace\": \"Traceback (most recent call last):\\n  File \\\"app.py\\\"\", \"exception.type\": \"ZeroDivisionError\"}}"}], "debug": true}, {"traceId": "6e0c63257de34c92bf9efcd03927272e", "id": "00f067aa0ba902b7", "name": "compute-total", "timestamp": 1700000000123600, "duration": 800, "localEndpoint": {"serviceName": "checkout", "ipv4": "10.1.2.3", "port": 8000}, "kind": null, "tags": {"items": "3", "otel.library.name": "checkout.app", "otel.library.version": null}, "debug": true, "parentId": "2fe30e1a2a0c2c5a"}]"#;

#[test]
fn otel_python_exporter_payload() {
    let spans = decode_v2_json(OTEL_PYTHON.as_bytes()).expect("decodes");
    assert_eq!(spans.len(), 2);
    let (server, internal) = (&spans[0], &spans[1]);

    assert_eq!(
        server.trace_id,
        "6e0c63257de34c92bf9efcd03927272e"
            .parse::<TraceId>()
            .unwrap()
    );
    assert_eq!(server.span_id, SpanId(0x2fe30e1a2a0c2c5a));
    assert!(server.is_root());
    assert_eq!(server.name, "GET /checkout");
    assert_eq!(server.kind, SpanKind::Server);
    assert_eq!(server.start_time_unix_nano, 1_700_000_000_123_457_000);
    assert_eq!(server.duration_nanos(), 2_500_000);
    assert_eq!(server.flags, 0b11, "debug → sampled + debug");
    assert_eq!(server.status.code, StatusCode::Error);
    assert_eq!(server.status.message, "ZeroDivisionError: division by zero");
    assert_eq!(server.scope.name, "opentelemetry.instrumentation.flask");
    assert_eq!(server.scope.version, "0.48b0");
    assert_eq!(server.resource.service_name, "checkout");
    assert_eq!(
        server.resource.attributes,
        vec![
            KeyValue::new("net.host.ip", "10.1.2.3"),
            KeyValue::new("net.host.port", 8000i64),
        ]
    );
    let keys: Vec<&str> = server.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "http.method",
            "http.status_code",
            "service.name",
            "telemetry.sdk.language",
            "telemetry.sdk.name",
            "telemetry.sdk.version",
        ],
        "tags sorted by key, lifted ones removed"
    );
    assert_eq!(
        server.attributes[1],
        KeyValue::new("http.status_code", "500"),
        "tags stay strings"
    );
    let exception = &server.events[0];
    assert_eq!(exception.name, "exception");
    assert_eq!(exception.time_unix_nano, 1_700_000_000_124_000_000);
    assert!(exception
        .attributes
        .contains(&KeyValue::new("exception.type", "ZeroDivisionError")));
    assert!(exception.attributes.contains(&KeyValue::new(
        "exception.stacktrace",
        "Traceback (most recent call last):\n  File \"app.py\""
    )));

    assert_eq!(internal.kind, SpanKind::Unspecified, "null kind is absent");
    assert_eq!(internal.parent_span_id, server.span_id);
    assert_eq!(internal.scope.name, "checkout.app");
    assert_eq!(internal.scope.version, "", "a null tag is skipped");
    assert_eq!(internal.attributes, vec![KeyValue::new("items", "3")]);
    assert!(
        Arc::ptr_eq(&server.resource, &internal.resource),
        "one Arc<Resource> per local endpoint"
    );
    assert!(server.warnings.is_empty() && internal.warnings.is_empty());
}

/// A Brave/zipkin-js style RPC: the client span from `frontend`, and `backend`'s server
/// span sharing the client's span ID (`shared: true`), with remote endpoints.
const BRAVE_RPC: &str = r#"[
  {"traceId":"5af7183fb1d4cf5f","parentId":"6b221d5bc9e6496c","id":"352bff9a74ca9ad2","kind":"CLIENT","name":"get","timestamp":1556604172355737,"duration":1431,"localEndpoint":{"serviceName":"frontend","ipv4":"192.168.99.1"},"remoteEndpoint":{"serviceName":"backend","ipv4":"172.19.0.2","port":9000},"annotations":[{"timestamp":1556604172355800,"value":"wire send"}],"tags":{"http.method":"GET","http.path":"/api"}},
  {"traceId":"5af7183fb1d4cf5f","parentId":"6b221d5bc9e6496c","id":"352bff9a74ca9ad2","kind":"SERVER","name":"get /api","timestamp":1556604172356000,"duration":1000,"localEndpoint":{"serviceName":"backend","ipv4":"172.19.0.2","port":9000},"remoteEndpoint":{"ipv6":"2001:db8::c001","port":58648},"tags":{"http.method":"GET","http.path":"/api","mvc.controller.class":"Backend"},"shared":true}
]"#;

#[test]
fn brave_rpc_with_shared_server_span() {
    let spans = decode_v2_json(BRAVE_RPC.as_bytes()).expect("decodes");
    let (client, server) = (&spans[0], &spans[1]);
    assert_eq!(client.kind, SpanKind::Client);
    assert_eq!(client.flags, 1, "reported spans are sampled");
    assert_eq!(client.parent_span_id, SpanId(0x6b221d5bc9e6496c));
    assert_eq!(client.resource.service_name, "frontend");
    assert!(client
        .attributes
        .contains(&KeyValue::new("peer.service", "backend")));
    assert!(client
        .attributes
        .contains(&KeyValue::new("net.peer.ip", "172.19.0.2")));
    assert!(client
        .attributes
        .contains(&KeyValue::new("net.peer.port", 9000i64)));
    assert_eq!(client.events[0].name, "wire send");
    assert!(client.attributes.iter().all(|kv| kv.key != ATTR_SHARED));

    assert_eq!(server.span_id, client.span_id);
    assert_eq!(server.kind, SpanKind::Server);
    assert!(server
        .attributes
        .contains(&KeyValue::new(ATTR_SHARED, true)));
    assert!(server
        .attributes
        .contains(&KeyValue::new("net.peer.ip", "2001:db8::c001")));
    assert_eq!(server.resource.service_name, "backend");
    assert!(!Arc::ptr_eq(&client.resource, &server.resource));
}

#[test]
fn jaeger_receiver_fixture_with_short_ids() {
    // Jaeger's cmd/collector/app/handler/testdata/zipkin_v2_02.json.
    let body = r#"[{"traceId":"2","id":"2","name":"foo","timestamp":1,"duration":10,
        "localEndpoint":{"serviceName":"bar","ipv4":"10.43.17.42","port":8080}}]"#;
    let spans = decode_v2_json(body.as_bytes()).expect("decodes");
    assert_eq!(spans[0].trace_id, TraceId(2));
    assert_eq!(spans[0].span_id, SpanId(2));
    assert_eq!(spans[0].start_time_unix_nano, 1000);
    assert_eq!(spans[0].end_time_unix_nano, 11_000);
}

#[test]
fn late_span_without_timestamp_is_marked() {
    let body = br#"[{"traceId":"a","id":"b","tags":{"late":"yes"}}]"#;
    let span = &decode_v2_json(body).expect("decodes")[0];
    assert_eq!(span.start_time_unix_nano, 0);
    assert_eq!(span.resource.service_name, "");
    assert!(span
        .attributes
        .contains(&KeyValue::new(ATTR_START_TIME_ABSENT, true)));
}

#[test]
fn lenient_where_zipkin_is_lenient() {
    let body = br#"[{"traceId":"a","id":"b","parentId":"","timestamp":-5,"kind":"sideways",
        "localEndpoint":{"serviceName":"s","ipv4":"not-an-ip","port":70000},
        "tags":{"n":42,"f":1.5,"b":true,"nul":null},"unknownField":{"x":[1]}}]"#;
    let span = &decode_v2_json(body).expect("decodes")[0];
    assert!(span.is_root());
    assert_eq!(span.kind, SpanKind::Unspecified);
    assert_eq!(span.resource.attributes, vec![]);
    assert_eq!(span.warnings.len(), 4, "{:?}", span.warnings);
    let tag = |k: &str| sextant_model::find_attr(&span.attributes, k).cloned();
    assert_eq!(tag("n"), Some(AnyValue::Str("42".into())));
    assert_eq!(tag("f"), Some(AnyValue::Str("1.5".into())));
    assert_eq!(tag("b"), Some(AnyValue::Str("true".into())));
    assert_eq!(tag("nul"), None);
}

#[test]
fn empty_batches() {
    assert_eq!(decode_v2_json(b"[]"), Ok(vec![]));
    assert_eq!(decode_v2_json(b" [ ] \n"), Ok(vec![]));
    assert_eq!(decode_v2_proto(b""), Ok(vec![]));
}

fn assert_malformed(result: Result<Vec<sextant_model::Span>, DecodeError>, why: &str) {
    match result {
        Err(DecodeError::Malformed { .. }) => {}
        other => panic!("{why}: expected Malformed, got {other:?}"),
    }
}

#[test]
fn malformed_json_is_an_error() {
    let cases: &[(&str, &str)] = &[
        ("", "empty body"),
        ("{}", "object instead of array"),
        ("[null]", "null span"),
        (r#"[{"id":"1"}]"#, "missing traceId"),
        (r#"[{"traceId":"1"}]"#, "missing id"),
        (r#"[{"traceId":"xyz","id":"1"}]"#, "bad hex"),
        (r#"[{"traceId":"","id":"1"}]"#, "empty trace id"),
        (
            r#"[{"traceId":"1","id":"12345678901234567"}]"#,
            "17-digit span id",
        ),
        (
            r#"[{"traceId":"123456789012345678901234567890123","id":"1"}]"#,
            "33-digit trace id",
        ),
        (
            r#"[{"traceId":"1","id":"1","parentId":"zz"}]"#,
            "bad parent",
        ),
        (r#"[{"traceId":"0","id":"1"}]"#, "zero trace id"),
        (r#"[{"traceId":"1","id":"0000"}]"#, "zero span id"),
        (r#"[{"traceId":1,"id":"1"}]"#, "numeric trace id"),
        (
            r#"[{"traceId":"1","id":"1","timestamp":"5"}]"#,
            "string timestamp",
        ),
        (
            r#"[{"traceId":"1","id":"1","timestamp":1.5}]"#,
            "float timestamp",
        ),
        (
            r#"[{"traceId":"1","id":"1","duration":18446744073709551615}]"#,
            "u64 duration",
        ),
        (
            r#"[{"traceId":"1","id":"1","tags":{"a":{"b":"c"}}}]"#,
            "object tag",
        ),
        (r#"[{"traceId":"1","id":"1","tags":["a"]}]"#, "tags array"),
        (
            r#"[{"traceId":"1","id":"1","annotations":{}}]"#,
            "annotations object",
        ),
        (
            r#"[{"traceId":"1","id":"1","debug":"yes"}]"#,
            "string debug",
        ),
        (
            r#"[{"traceId":"1","id":"1","localEndpoint":"x"}]"#,
            "string endpoint",
        ),
        (r#"[{"traceId":"1","id":"1"}"#, "truncated"),
        (r#"[{"traceId":"1","id":"1"}] x"#, "trailing garbage"),
        (r#"[{"traceId":"\ud800","id":"1"}]"#, "lone surrogate"),
    ];
    for (body, why) in cases {
        assert_malformed(decode_v2_json(body.as_bytes()), why);
    }
}

#[test]
fn malformed_proto_is_an_error() {
    use prost::Message;
    use sextant_proto::zipkin::proto3 as pb;

    let encode = |span: pb::Span| pb::ListOfSpans { spans: vec![span] }.encode_to_vec();
    let good = pb::Span {
        trace_id: vec![1; 16],
        id: vec![2; 8],
        ..Default::default()
    };
    assert!(decode_v2_proto(&encode(good.clone())).is_ok());
    let cases = [
        (
            pb::Span {
                trace_id: vec![1; 12],
                ..good.clone()
            },
            "12-byte trace id",
        ),
        (
            pb::Span {
                trace_id: vec![],
                ..good.clone()
            },
            "no trace id",
        ),
        (
            pb::Span {
                trace_id: vec![0; 16],
                ..good.clone()
            },
            "zero trace id",
        ),
        (
            pb::Span {
                id: vec![2; 16],
                ..good.clone()
            },
            "16-byte span id",
        ),
        (
            pb::Span {
                id: vec![],
                ..good.clone()
            },
            "no span id",
        ),
        (
            pb::Span {
                parent_id: vec![3; 4],
                ..good.clone()
            },
            "4-byte parent id",
        ),
    ];
    for (span, why) in cases {
        assert_malformed(decode_v2_proto(&encode(span)), why);
    }
    // Field 1 (spans) declared 100 bytes long with 2 present; invalid UTF-8 in name.
    assert_malformed(decode_v2_proto(&[0x0a, 100, 0x0a, 0x00]), "truncated");
    let bad_utf8 = [0x0a, 4, 0x2a, 2, 0xff, 0xfe];
    assert_malformed(decode_v2_proto(&bad_utf8), "invalid UTF-8");
}

#[test]
fn proto_address_and_kind_edge_cases_are_warnings() {
    use prost::Message;
    use sextant_proto::zipkin::proto3 as pb;

    let body = pb::ListOfSpans {
        spans: vec![pb::Span {
            trace_id: vec![0, 0, 0, 0, 0, 0, 0, 9],
            id: vec![0, 0, 0, 0, 0, 0, 0, 1],
            kind: 42,
            timestamp: 1,
            local_endpoint: Some(pb::Endpoint {
                service_name: "svc".into(),
                ipv4: vec![1, 2, 3],
                ipv6: vec![0; 16],
                port: -1,
            }),
            ..Default::default()
        }],
    }
    .encode_to_vec();
    let span = &decode_v2_proto(&body).expect("decodes")[0];
    assert_eq!(span.trace_id, TraceId(9), "8-byte trace IDs are 64-bit IDs");
    assert_eq!(span.kind, SpanKind::Unspecified);
    assert_eq!(span.warnings.len(), 3, "{:?}", span.warnings);
    assert_eq!(
        span.resource.attributes,
        vec![KeyValue::new("net.host.ip", "::")]
    );
}
