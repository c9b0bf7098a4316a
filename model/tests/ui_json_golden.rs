//! The UI JSON encoder against a document written by hand from Jaeger's `uimodel` rules
//! (field order, `[]` vs `null`, omitted zero flags, typed values, p1/p2 process keys).
//! The comparison is byte for byte after removing the layout whitespace, so field order
//! and number spelling (`1`, not `1.0`) are checked too.

use std::sync::Arc;

use sextant_model::ui_json::{from_ui_json, UiTrace};
use sextant_model::{
    AnyValue, Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, Status, StatusCode,
    TraceId, REF_TYPE_ATTR,
};

const T0_US: u64 = 1_485_467_191_639_875;

fn us(v: u64) -> u64 {
    v * 1000
}

/// Three spans, two processes (the first one twice under different `Arc`s), every value type.
fn rich_trace() -> Vec<Span> {
    let trace_id = TraceId::from_halves(1, 2);
    let frontend = Arc::new(Resource {
        service_name: "frontend".into(),
        attributes: vec![KeyValue::new("hostname", "h1"), KeyValue::new("ip", 10i64)],
        ..Default::default()
    });
    let frontend_again = Arc::new((*frontend).clone());
    let backend = Arc::new(Resource {
        service_name: "backend".into(),
        ..Default::default()
    });
    let a = Span {
        trace_id,
        span_id: SpanId(0xa),
        name: "GET /dispatch".into(),
        kind: SpanKind::Server,
        start_time_unix_nano: us(T0_US),
        end_time_unix_nano: us(T0_US + 5000),
        attributes: vec![
            KeyValue::new("http.method", "GET"),
            KeyValue::new("http.status_code", 200i64),
            KeyValue::new("big", 9_223_372_036_854_775_222i64),
            KeyValue::new("temperature", 72.5),
            KeyValue::new("ratio", 1.0),
            KeyValue::new("blob", AnyValue::Bytes(vec![0, 0, 0x30, 0x39])),
        ],
        events: vec![Event {
            time_unix_nano: us(T0_US + 1),
            name: "retry".into(),
            attributes: vec![KeyValue::new("attempt", 2i64)],
            ..Default::default()
        }],
        status: Status {
            code: StatusCode::Error,
            message: String::new(),
        },
        flags: 1,
        resource: frontend,
        warnings: vec!["clock skew adjusted".into()],
        ..Default::default()
    };
    let b = Span {
        trace_id,
        span_id: SpanId(0xb),
        parent_span_id: SpanId(0xa),
        name: "SQL SELECT".into(),
        kind: SpanKind::Client,
        start_time_unix_nano: us(T0_US + 1000),
        end_time_unix_nano: us(T0_US + 3000),
        attributes: vec![KeyValue::new("db.statement", "SELECT 1")],
        links: vec![Link {
            trace_id: TraceId(0xff),
            span_id: SpanId(0xfe),
            attributes: vec![KeyValue::new(REF_TYPE_ATTR, "follows_from")],
            ..Default::default()
        }],
        flags: 1,
        scope: Arc::new(Scope {
            name: "sqlx".into(),
            version: "0.8".into(),
            ..Default::default()
        }),
        resource: frontend_again,
        ..Default::default()
    };
    let c = Span {
        trace_id,
        span_id: SpanId(0xc),
        parent_span_id: SpanId(0xb),
        name: "query".into(),
        start_time_unix_nano: us(T0_US + 1500),
        end_time_unix_nano: us(T0_US + 1500),
        resource: backend,
        ..Default::default()
    };
    vec![a, b, c]
}

const EXPECTED: &str = r#"
{
  "traceID": "00000000000000010000000000000002",
  "spans": [
    {
      "traceID": "00000000000000010000000000000002",
      "spanID": "000000000000000a",
      "flags": 1,
      "operationName": "GET /dispatch",
      "references": [],
      "startTime": 1485467191639875,
      "duration": 5000,
      "tags": [
        {"key": "http.method", "type": "string", "value": "GET"},
        {"key": "http.status_code", "type": "int64", "value": 200},
        {"key": "big", "type": "int64", "value": "9223372036854775222"},
        {"key": "temperature", "type": "float64", "value": 72.5},
        {"key": "ratio", "type": "float64", "value": 1},
        {"key": "blob", "type": "binary", "value": "AAAwOQ=="},
        {"key": "span.kind", "type": "string", "value": "server"},
        {"key": "error", "type": "bool", "value": true}
      ],
      "logs": [
        {
          "timestamp": 1485467191639876,
          "fields": [
            {"key": "event", "type": "string", "value": "retry"},
            {"key": "attempt", "type": "int64", "value": 2}
          ]
        }
      ],
      "processID": "p1",
      "warnings": ["clock skew adjusted"]
    },
    {
      "traceID": "00000000000000010000000000000002",
      "spanID": "000000000000000b",
      "flags": 1,
      "operationName": "SQL SELECT",
      "references": [
        {"refType": "CHILD_OF", "traceID": "00000000000000010000000000000002", "spanID": "000000000000000a"},
        {"refType": "FOLLOWS_FROM", "traceID": "00000000000000ff", "spanID": "00000000000000fe"}
      ],
      "startTime": 1485467191640875,
      "duration": 2000,
      "tags": [
        {"key": "db.statement", "type": "string", "value": "SELECT 1"},
        {"key": "span.kind", "type": "string", "value": "client"},
        {"key": "otel.scope.name", "type": "string", "value": "sqlx"},
        {"key": "otel.scope.version", "type": "string", "value": "0.8"}
      ],
      "logs": [],
      "processID": "p1",
      "warnings": null
    },
    {
      "traceID": "00000000000000010000000000000002",
      "spanID": "000000000000000c",
      "operationName": "query",
      "references": [
        {"refType": "CHILD_OF", "traceID": "00000000000000010000000000000002", "spanID": "000000000000000b"}
      ],
      "startTime": 1485467191641375,
      "duration": 0,
      "tags": [],
      "logs": [],
      "processID": "p2",
      "warnings": null
    }
  ],
  "processes": {
    "p1": {
      "serviceName": "frontend",
      "tags": [
        {"key": "hostname", "type": "string", "value": "h1"},
        {"key": "ip", "type": "int64", "value": 10}
      ]
    },
    "p2": {"serviceName": "backend", "tags": []}
  },
  "warnings": null
}
"#;

/// Drops whitespace outside string literals, giving the compact form Go's encoder writes.
fn compact(pretty: &str) -> String {
    let mut out = String::with_capacity(pretty.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in pretty.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

#[test]
fn rich_trace_matches_the_hand_written_document_byte_for_byte() {
    let ui = UiTrace::from_spans(&rich_trace());
    let got = serde_json::to_string(&ui).unwrap();
    assert_eq!(got, compact(EXPECTED));
}

#[test]
fn the_hand_written_document_decodes_to_the_model() {
    let spans = from_ui_json(EXPECTED.as_bytes()).unwrap();
    assert_eq!(spans, rich_trace());
}

#[test]
fn ten_processes_are_keyed_p1_to_p10_in_first_appearance_order() {
    let spans: Vec<Span> = (0..10u64)
        .map(|i| Span {
            trace_id: TraceId(7),
            span_id: SpanId(i + 1),
            resource: Arc::new(Resource {
                service_name: format!("svc-{i}"),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    let ui = UiTrace::from_spans(&spans);
    assert_eq!(ui.trace_id, "0000000000000007");
    for (i, span) in ui.spans.iter().enumerate() {
        let key = format!("p{}", i + 1);
        assert_eq!(span.process_id, key);
        assert_eq!(ui.processes[&key].service_name, format!("svc-{i}"));
    }
    // Go writes map keys sorted as strings: p1, p10, p2, …
    let text = serde_json::to_string(&ui.processes).unwrap();
    let p10 = text.find("\"p10\"").unwrap();
    let p2 = text.find("\"p2\"").unwrap();
    assert!(p10 < p2, "{text}");
}

#[test]
fn an_empty_trace_is_an_empty_document() {
    let got = serde_json::to_string(&UiTrace::from_spans(&[])).unwrap();
    assert_eq!(
        got,
        r#"{"traceID":"","spans":[],"processes":{},"warnings":null}"#
    );
}
