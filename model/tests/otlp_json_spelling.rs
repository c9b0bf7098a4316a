//! OTLP/JSON spelling rules (what protobuf's JSON mapping and OTLP allow a client to send),
//! round trips over random spans, and hostile JSON.

mod otlp_support;

use proptest::prelude::*;
use serde_json::json;
use sextant_model::*;
use sextant_model::{otlp, otlp_json};

fn decode(v: serde_json::Value) -> Result<Vec<Span>, DecodeError> {
    otlp_json::decode_export_request(v.to_string().as_bytes())
}

fn one_span(span: serde_json::Value) -> serde_json::Value {
    json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
        "scopeSpans": [{"scope": {"name": "lib"}, "spans": [span]}]
    }]})
}

#[test]
fn camel_case_strings_and_names() {
    let spans = decode(one_span(json!({
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "parentSpanId": "eee19b7ec3c1b173",
        "traceState": "a=b",
        "name": "op",
        "kind": "SPAN_KIND_CLIENT",
        "flags": 257,
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": 1544712661000000000u64,
        "droppedAttributesCount": "3",
        "droppedEventsCount": 4,
        "droppedLinksCount": 5,
        "attributes": [
            {"key": "i", "value": {"intValue": 12}},
            {"key": "i2", "value": {"intValue": "-12"}},
            {"key": "d", "value": {"doubleValue": "Infinity"}},
            {"key": "d2", "value": {"doubleValue": "1.5"}},
            {"key": "d3", "value": {"doubleValue": 3}},
            {"key": "b", "value": {"bytesValue": "_-8"}},
            {"key": "a", "value": {"arrayValue": {"values": [{"boolValue": true}, {}]}}},
            {"key": "m", "value": {"kvlistValue": {"values": [{"key": "x", "value": {"stringValue": "y"}}]}}},
            {"key": "e"}
        ],
        "events": [{"timeUnixNano": "5", "name": "ev", "droppedAttributesCount": 1}],
        "links": [{"traceId": "00000000000000000000000000000001", "spanId": "0000000000000002",
                   "traceState": "t", "flags": 1, "droppedAttributesCount": 2}],
        "status": {"code": "STATUS_CODE_ERROR", "message": "bad"}
    })))
    .unwrap();
    let span = &spans[0];
    assert_eq!(
        span.trace_id.to_string(),
        "5b8efff798038103d269b633813fc60c"
    );
    assert_eq!(span.span_id, SpanId(0xeee19b7ec3c1b174));
    assert_eq!(span.parent_span_id, SpanId(0xeee19b7ec3c1b173));
    assert_eq!(span.trace_state, "a=b");
    assert_eq!(span.kind, SpanKind::Client);
    assert_eq!(span.flags, 257);
    assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
    assert_eq!(span.end_time_unix_nano, 1_544_712_661_000_000_000);
    assert_eq!(
        (
            span.dropped_attributes_count,
            span.dropped_events_count,
            span.dropped_links_count
        ),
        (3, 4, 5)
    );
    assert_eq!(
        span.attributes,
        vec![
            KeyValue::new("i", 12i64),
            KeyValue::new("i2", -12i64),
            KeyValue::new("d", f64::INFINITY),
            KeyValue::new("d2", 1.5),
            KeyValue::new("d3", 3.0),
            KeyValue::new("b", AnyValue::Bytes(vec![0xff, 0xef])),
            KeyValue::new(
                "a",
                AnyValue::Array(vec![AnyValue::Bool(true), AnyValue::Empty])
            ),
            KeyValue::new("m", AnyValue::KvList(vec![KeyValue::new("x", "y")])),
            KeyValue::new("e", AnyValue::Empty),
        ]
    );
    assert_eq!(span.events[0].time_unix_nano, 5);
    assert_eq!(span.events[0].name, "ev");
    assert_eq!(span.events[0].dropped_attributes_count, 1);
    assert_eq!(span.links[0].trace_id, TraceId(1));
    assert_eq!(span.links[0].span_id, SpanId(2));
    assert_eq!(span.links[0].flags, 1);
    assert_eq!(span.links[0].dropped_attributes_count, 2);
    assert_eq!(span.status.code, StatusCode::Error);
    assert_eq!(span.status.message, "bad");
    assert_eq!(span.service_name(), "svc");
    assert_eq!(span.scope.name, "lib");
}

#[test]
fn snake_case_nulls_and_unknown_fields() {
    let doc = json!({"resource_spans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"string_value": "svc"}}],
                     "dropped_attributes_count": 1},
        "schema_url": "r",
        "scope_spans": [{"scope": null, "schema_url": "s", "spans": [{
            "trace_id": "00000000000000000000000000000009",
            "span_id": "0000000000000001",
            "parent_span_id": "",
            "name": null,
            "kind": 2,
            "start_time_unix_nano": null,
            "attributes": [{"key": "k", "value": {"int_value": "7", "future_field": 1}}],
            "events": null,
            "status": {"code": 1},
            "someday": {"nested": [1, 2, 3]}
        }]}]
    }]});
    let spans = decode(doc).unwrap();
    let span = &spans[0];
    assert_eq!(span.trace_id, TraceId(9));
    assert!(span.is_root());
    assert_eq!(span.name, "");
    assert_eq!(span.kind, SpanKind::Server);
    assert_eq!(span.start_time_unix_nano, 0);
    assert_eq!(span.attributes, vec![KeyValue::new("k", 7i64)]);
    assert_eq!(span.status.code, StatusCode::Ok);
    assert_eq!(span.resource.dropped_attributes_count, 1);
    assert_eq!(span.resource.schema_url, "r");
    assert_eq!(span.scope.schema_url, "s");
}

#[test]
fn malformed_documents_are_rejected() {
    let base = || {
        json!({
            "traceId": "00000000000000000000000000000009",
            "spanId": "0000000000000001"
        })
    };
    assert!(decode(one_span(base())).is_ok());
    let bad: Vec<(&str, serde_json::Value)> = vec![
        ("traceId", json!("zz000000000000000000000000000009")),
        ("traceId", json!("0009")),
        ("traceId", json!("AAAAAAAAAAAAAAAAAAAAAA==")),
        ("spanId", json!(12)),
        ("kind", json!("SERVER")),
        ("kind", json!(1.5)),
        ("kind", json!(1u64 << 40)),
        ("startTimeUnixNano", json!("-1")),
        ("startTimeUnixNano", json!("1.5")),
        ("startTimeUnixNano", json!(-1)),
        ("flags", json!(1u64 << 33)),
        (
            "attributes",
            json!([{"key": "k", "value": {"stringValue": "a", "intValue": 1}}]),
        ),
        (
            "attributes",
            json!([{"key": "k", "value": {"intValue": "nope"}}]),
        ),
        (
            "attributes",
            json!([{"key": "k", "value": {"intValue": "9223372036854775808"}}]),
        ),
        (
            "attributes",
            json!([{"key": "k", "value": {"doubleValue": "inf"}}]),
        ),
        (
            "attributes",
            json!([{"key": "k", "value": {"bytesValue": "!!"}}]),
        ),
        (
            "attributes",
            json!([{"key": "k", "value": {"boolValue": "true"}}]),
        ),
        ("attributes", json!({"key": "k"})),
    ];
    for (field, value) in bad {
        let mut span = base();
        span[field] = value.clone();
        assert!(
            decode(one_span(span)).is_err(),
            "{field} = {value} should be rejected"
        );
    }
    for doc in [&b""[..], b"{", b"null", b"7", b"{\"resourceSpans\": {}}"] {
        assert!(otlp_json::decode_export_request(doc).is_err(), "{doc:?}");
    }
    assert_eq!(otlp_json::decode_export_request(b"{}").unwrap(), vec![]);
}

#[test]
fn output_spelling() {
    let span = Span {
        trace_id: TraceId(0xabc),
        span_id: SpanId(0xdef),
        kind: SpanKind::Consumer,
        start_time_unix_nano: u64::MAX,
        attributes: vec![
            KeyValue::new("i", i64::MIN),
            KeyValue::new("nan", f64::NAN),
            KeyValue::new("bin", AnyValue::Bytes(vec![0xff, 0xef])),
        ],
        status: Status {
            code: StatusCode::Error,
            message: String::new(),
        },
        ..Default::default()
    };
    let v = otlp_json::to_json_value(std::slice::from_ref(&span));
    assert_eq!(
        v,
        json!({"resourceSpans": [{
            "resource": {},
            "scopeSpans": [{"scope": {}, "spans": [{
                "traceId": "00000000000000000000000000000abc",
                "spanId": "0000000000000def",
                "kind": 5,
                "startTimeUnixNano": "18446744073709551615",
                "attributes": [
                    {"key": "i", "value": {"intValue": "-9223372036854775808"}},
                    {"key": "nan", "value": {"doubleValue": "NaN"}},
                    {"key": "bin", "value": {"bytesValue": "/+8="}}
                ],
                "status": {"code": 2}
            }]}]
        }]})
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&otlp_json::encode_export_request(&[span]))
            .unwrap(),
        v
    );
    assert_eq!(otlp_json::to_json_value(&[]), json!({"resourceSpans": []}));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let nested = |depth: usize| {
        let mut value = json!({"stringValue": "leaf"});
        for _ in 0..depth {
            value = json!({"arrayValue": {"values": [value]}});
        }
        one_span(json!({
            "traceId": "00000000000000000000000000000001",
            "spanId": "0000000000000001",
            "attributes": [{"key": "k", "value": value}]
        }))
    };
    assert!(decode(nested(otlp::MAX_VALUE_DEPTH)).is_ok());
    assert!(matches!(
        decode(nested(otlp::MAX_VALUE_DEPTH + 1)),
        Err(DecodeError::TooLarge(_))
    ));

    // Built as text: serde_json's recursion guard must stop this while parsing.
    let depth = 2000;
    let mut text = String::from(
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"00000000000000000000000000000001","spanId":"0000000000000001","attributes":[{"key":"k","value":"#,
    );
    for _ in 0..depth {
        text.push_str(r#"{"arrayValue":{"values":["#);
    }
    text.push_str(r#"{"stringValue":"x"}"#);
    for _ in 0..depth {
        text.push_str("]}}");
    }
    text.push_str("}]}]}]}]}");
    assert!(otlp_json::decode_export_request(text.as_bytes()).is_err());
}

fn mutate(mut text: Vec<u8>, edits: &[(prop::sample::Index, u8)]) -> Vec<u8> {
    if text.is_empty() {
        return text;
    }
    let len = text.len();
    for (at, b) in edits {
        text[at.index(len)] = *b;
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn model_to_json_to_model_is_lossless(spans in otlp_support::spans()) {
        let back = otlp_json::decode_export_request(&otlp_json::encode_export_request(&spans))
            .unwrap();
        prop_assert_eq!(otlp_support::sorted(back), spans);
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        let _ = otlp_json::decode_export_request(text.as_bytes());
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = otlp_json::decode_export_request(&bytes);
    }

    #[test]
    fn truncated_and_mutated_documents_never_panic(
        spans in otlp_support::spans(),
        cut in any::<prop::sample::Index>(),
        edits in proptest::collection::vec(
            (any::<prop::sample::Index>(), prop::sample::select(b"{}[]\":,0a-9eE.\\ n".to_vec())),
            1..4,
        ),
    ) {
        let text = otlp_json::encode_export_request(&spans);
        let _ = otlp_json::decode_export_request(&text[..cut.index(text.len())]);
        let _ = otlp_json::decode_export_request(&mutate(text, &edits));
    }
}
