//! UI JSON round trips: model → JSON → model is lossless for everything Jaeger's v1 model
//! carries, and a Jaeger-written document survives JSON → model → JSON unchanged.

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{json, Value};
use sextant_model::ui_json::{from_ui_json, traces_from_ui_json, UiTrace};
use sextant_model::{AnyValue, KeyValue, Resource, Span, SpanId, SpanKind, TraceId};

/// A document in the shape Jaeger's query service writes (64-bit IDs, two processes,
/// a FOLLOWS_FROM reference, an unsafe-for-JavaScript integer, embedded span warnings).
fn jaeger_written() -> Value {
    json!({
        "traceID": "00000000000004d2",
        "spans": [
            {
                "traceID": "00000000000004d2",
                "spanID": "0000000000000001",
                "flags": 1,
                "operationName": "HTTP GET /customer",
                "references": [],
                "startTime": 1700000000000000u64,
                "duration": 1200,
                "tags": [
                    {"key": "sampler.type", "type": "string", "value": "const"},
                    {"key": "sampler.param", "type": "bool", "value": true},
                    {"key": "request.bytes", "type": "int64", "value": "-9007199254740993"},
                    {"key": "load", "type": "float64", "value": 0.25},
                    {"key": "span.kind", "type": "string", "value": "server"}
                ],
                "logs": [
                    {"timestamp": 1700000000000100u64, "fields": [
                        {"key": "event", "type": "string", "value": "cache miss"},
                        {"key": "payload", "type": "binary", "value": "3q2+7w=="}
                    ]},
                    {"timestamp": 1700000000000200u64, "fields": [
                        {"key": "message", "type": "string", "value": "no event field"}
                    ]}
                ],
                "processID": "p1",
                "warnings": null
            },
            {
                "traceID": "00000000000004d2",
                "spanID": "0000000000000002",
                "flags": 1,
                "operationName": "SQL SELECT",
                "references": [
                    {"refType": "CHILD_OF", "traceID": "00000000000004d2", "spanID": "0000000000000001"},
                    {"refType": "FOLLOWS_FROM", "traceID": "00000000000004d2", "spanID": "0000000000000003"}
                ],
                "startTime": 1700000000000300u64,
                "duration": 700,
                "tags": [{"key": "span.kind", "type": "string", "value": "client"}],
                "logs": [],
                "processID": "p2",
                "warnings": ["invalid parent span IDs=0000000000000009; skipping clock skew adjustment"]
            }
        ],
        "processes": {
            "p1": {"serviceName": "customer", "tags": [
                {"key": "hostname", "type": "string", "value": "box-1"},
                {"key": "jaeger.version", "type": "string", "value": "Go-2.30.0"}
            ]},
            "p2": {"serviceName": "mysql", "tags": []}
        },
        "warnings": null
    })
}

#[test]
fn jaeger_document_survives_json_model_json() {
    let doc = jaeger_written();
    let spans = from_ui_json(doc.to_string().as_bytes()).unwrap();
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0].kind, SpanKind::Server);
    assert_eq!(spans[1].parent_span_id, SpanId(1));
    assert_eq!(spans[0].events[0].name, "cache miss");
    let back = serde_json::to_value(UiTrace::from_spans(&spans)).unwrap();
    assert_eq!(back, doc);
}

#[test]
fn response_envelope_array_and_single_trace_all_open() {
    let doc = jaeger_written();
    let from_envelope = traces_from_ui_json(
        json!({"data": [doc.clone(), doc.clone()], "total": 0, "limit": 0, "offset": 0, "errors": null})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(from_envelope.len(), 2);
    let from_array = traces_from_ui_json(json!([doc.clone()]).to_string().as_bytes()).unwrap();
    let single = traces_from_ui_json(doc.to_string().as_bytes()).unwrap();
    assert_eq!(from_array, single);
    assert_eq!(from_envelope[0], single[0]);
    assert_eq!(single[0].spans.len(), 2);
}

#[test]
fn loose_documents_are_read() {
    // What a hand-edited file or Jaeger's storage JSON may look like: nulls for arrays,
    // no trace-level ID on spans, an embedded process, short IDs without leading zeros.
    let doc = json!({
        "traceID": "4d2",
        "spans": [{
            "spanID": "1",
            "operationName": "op",
            "references": null,
            "startTime": 5,
            "duration": 6,
            "tags": null,
            "process": {"serviceName": "svc", "tags": null}
        }]
    });
    let spans = from_ui_json(doc.to_string().as_bytes()).unwrap();
    assert_eq!(spans[0].trace_id, TraceId(0x4d2));
    assert_eq!(spans[0].service_name(), "svc");
    assert_eq!(spans[0].duration_nanos(), 6000);
}

fn scalar() -> impl Strategy<Value = AnyValue> {
    prop_oneof![
        ".*".prop_map(AnyValue::Str),
        any::<bool>().prop_map(AnyValue::Bool),
        any::<i64>().prop_map(AnyValue::Int),
        any::<f64>()
            .prop_filter("NaN never equals itself", |d| !d.is_nan())
            .prop_map(AnyValue::Double),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(AnyValue::Bytes),
    ]
}

proptest! {
    #[test]
    fn any_scalar_tag_round_trips(
        values in proptest::collection::vec(scalar(), 0..8),
        trace_id in any::<u128>(),
        span_id in any::<u64>(),
        start_us in 0u64..4_000_000_000_000_000,
        dur_us in 0u64..1_000_000_000,
    ) {
        let span = Span {
            trace_id: TraceId(trace_id),
            span_id: SpanId(span_id),
            name: "op".into(),
            start_time_unix_nano: start_us * 1000,
            end_time_unix_nano: (start_us + dur_us) * 1000,
            attributes: values
                .into_iter()
                .enumerate()
                .map(|(i, v)| KeyValue { key: format!("k{i}"), value: v })
                .collect(),
            resource: Arc::new(Resource { service_name: "s".into(), ..Default::default() }),
            ..Default::default()
        };
        let text = serde_json::to_string(&UiTrace::from_spans(std::slice::from_ref(&span))).unwrap();
        let back = from_ui_json(text.as_bytes()).unwrap();
        prop_assert_eq!(back, vec![span]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = from_ui_json(&bytes);
        let _ = traces_from_ui_json(&bytes);
    }
}
