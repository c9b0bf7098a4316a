//! Kafka `jaeger-spans` messages: protobuf and JSON round trips of a rich span, a JSON
//! message written by hand as Jaeger's Go collector writes it, a protobuf message built
//! field by field, Zipkin thrift lists, message keys, and hostile input.

use std::sync::Arc;

use proptest::prelude::*;
use prost::Message;
use prost_types::{Duration, Timestamp};
use serde_json::{json, Value};
use sextant_model::api_v2::{span_from_proto, span_to_proto};
use sextant_model::kafka::{decode_message, encode_span, message_key, EncodeError, Encoding};
use sextant_model::thrift::{BinaryWriter, ProtocolWriter, TType};
use sextant_model::*;
use sextant_proto::jaeger::api_v2 as pb;

const PRODUCED: [Encoding; 2] = [Encoding::Protobuf, Encoding::Json];

fn one(value: &[u8], encoding: Encoding) -> Span {
    let mut spans = decode_message(value, encoding)
        .unwrap_or_else(|e| panic!("{encoding} message does not decode: {e}"));
    assert_eq!(spans.len(), 1, "{encoding} message must carry one span");
    spans.remove(0)
}

/// A span using everything the Jaeger v1 model carries.
fn rich_span(trace_id: TraceId) -> Span {
    let start = 1_700_000_000_123_456_789;
    Span {
        trace_id,
        span_id: SpanId(0xfeed_beef_0000_0001),
        parent_span_id: SpanId(0x42),
        name: "POST /checkout \"quoted\" ünïcode\n".into(),
        kind: SpanKind::Client,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 1_500_000_001,
        attributes: vec![
            KeyValue::new("http.method", "POST"),
            KeyValue::new("empty.str", ""),
            KeyValue::new("http.status_code", 503i64),
            KeyValue::new("neg", i64::MIN),
            KeyValue::new("zero", 0i64),
            KeyValue::new("retry", true),
            KeyValue::new("cached", false),
            KeyValue::new("ratio", 0.125),
            KeyValue::new("huge", 1.5e300),
            KeyValue::new("tiny", -2.5e-9),
            KeyValue::new("inf", f64::NEG_INFINITY),
            KeyValue::new("nought", 0.0),
            KeyValue {
                key: "blob".into(),
                value: AnyValue::Bytes(vec![0, 1, 2, 0xfe, 0xff]),
            },
            KeyValue {
                key: "no.bytes".into(),
                value: AnyValue::Bytes(vec![]),
            },
        ],
        events: vec![
            Event {
                time_unix_nano: start + 1_000,
                name: "retrying".into(),
                attributes: vec![
                    KeyValue::new("attempt", 2i64),
                    KeyValue::new("backoff.s", 0.5),
                ],
                ..Default::default()
            },
            Event {
                time_unix_nano: start + 7,
                name: String::new(),
                attributes: vec![KeyValue::new("message", "no event field")],
                ..Default::default()
            },
        ],
        links: vec![
            Link {
                trace_id: TraceId(0x77),
                span_id: SpanId(0x99),
                attributes: vec![KeyValue::new(REF_TYPE_ATTR, "follows_from")],
                ..Default::default()
            },
            Link {
                trace_id: TraceId::from_halves(3, 4),
                span_id: SpanId(5),
                attributes: vec![KeyValue::new(REF_TYPE_ATTR, "child_of")],
                ..Default::default()
            },
        ],
        status: Status {
            code: StatusCode::Error,
            message: "payment declined".into(),
        },
        flags: 3,
        resource: Arc::new(Resource {
            service_name: "checkout".into(),
            attributes: vec![
                KeyValue::new("hostname", "host-1"),
                KeyValue::new("cpus", 8i64),
                KeyValue::new("ip", "10.1.2.3"),
            ],
            ..Default::default()
        }),
        warnings: vec!["first warning".into(), "second".into()],
        ..Default::default()
    }
}

#[test]
fn rich_spans_round_trip_in_both_encodings() {
    for trace_id in [
        TraceId::from_halves(0x5ab0_c5a2_b1d3_e4f6, 0x0102_0304_0506_0708),
        TraceId(0xdead_beef),
    ] {
        let span = rich_span(trace_id);
        for encoding in PRODUCED {
            let value = encode_span(&span, encoding).unwrap();
            let back = one(&value, encoding);
            assert_eq!(
                span_to_proto(&back),
                span_to_proto(&span),
                "{encoding}, trace {trace_id:?}"
            );
            // The span is Jaeger-representable, so nothing at all is lost.
            assert_eq!(back, span, "{encoding}, trace {trace_id:?}");
        }
    }
}

#[test]
fn protobuf_messages_carry_the_process() {
    let span = rich_span(TraceId(1));
    let value = encode_span(&span, Encoding::Protobuf).unwrap();
    let msg = pb::Span::decode(value.as_slice()).unwrap();
    let process = msg.process.expect("process set");
    assert_eq!(process.service_name, "checkout");
    assert_eq!(process.tags.len(), 3);
    assert_eq!(msg.process_id, "");
}

#[test]
fn nan_survives_json() {
    let mut span = rich_span(TraceId(1));
    span.attributes = vec![KeyValue::new("nan", f64::NAN)];
    let value = encode_span(&span, Encoding::Json).unwrap();
    let json: Value = serde_json::from_slice(&value).unwrap();
    assert_eq!(json["tags"][0]["vFloat64"], "NaN");
    let back = one(&value, Encoding::Json);
    assert!(matches!(back.attributes[0].value, AnyValue::Double(f) if f.is_nan()));
}

// ---------------------------------------------------------------------------------------
// A message as Jaeger's Go collector writes it.

const TRACE_B64: &str = "WrDForHT5PYBAgMEBQYHCA=="; // 5ab0c5a2b1d3e4f6 0102030405060708
const SPAN_B64: &str = "AAAAAAAAAKE="; // a1
const PARENT_B64: &str = "AAAAAAAAAKA="; // a0
const OTHER_TRACE_B64: &str = "AAAAAAAAAAAAAAAAAAAAdw=="; // 64-bit 77
const OTHER_SPAN_B64: &str = "AAAAAAAAAJk="; // 99

/// Written field by field per gogo `jsonpb.Marshaler{}`: proto field order, zero values
/// omitted (`vType` STRING, `refType` CHILD_OF, the zero `retries`), enums by name, int64
/// quoted, IDs base64, protobuf JSON times.
const GO_JSON: &str = r#"{"traceId":"WrDForHT5PYBAgMEBQYHCA==","spanId":"AAAAAAAAAKE=","operationName":"HTTP GET /customer","references":[{"traceId":"WrDForHT5PYBAgMEBQYHCA==","spanId":"AAAAAAAAAKA="},{"traceId":"AAAAAAAAAAAAAAAAAAAAdw==","spanId":"AAAAAAAAAJk=","refType":"FOLLOWS_FROM"}],"flags":1,"startTime":"2017-01-26T16:46:31.639875Z","duration":"0.001234s","tags":[{"key":"http.method","vStr":"GET"},{"key":"http.status_code","vType":"INT64","vInt64":"200"},{"key":"sampler.param","vType":"BOOL","vBool":true},{"key":"ratio","vType":"FLOAT64","vFloat64":0.25},{"key":"blob","vType":"BINARY","vBinary":"AQID/w=="},{"key":"retries","vType":"INT64"},{"key":"span.kind","vStr":"server"},{"key":"error","vType":"BOOL","vBool":true}],"logs":[{"timestamp":"2017-01-26T16:46:31.640Z","fields":[{"key":"event","vStr":"cache miss"},{"key":"key","vStr":"customer:123"}]},{"timestamp":"2017-01-26T16:46:31.640875123Z","fields":[{"key":"level","vStr":"info"}]}],"process":{"serviceName":"customer","tags":[{"key":"hostname","vStr":"host-7"},{"key":"ip","vStr":"10.0.0.7"},{"key":"jaeger.version","vStr":"Go-2.30.0"}]},"warnings":["clock skew adjusted"]}"#;

const START_NS: u64 = 1_485_449_191_639_875_000;

fn go_trace_id() -> TraceId {
    TraceId::from_halves(0x5ab0_c5a2_b1d3_e4f6, 0x0102_0304_0506_0708)
}

/// The span [`GO_JSON`] describes.
fn go_span() -> Span {
    Span {
        trace_id: go_trace_id(),
        span_id: SpanId(0xa1),
        parent_span_id: SpanId(0xa0),
        name: "HTTP GET /customer".into(),
        kind: SpanKind::Server,
        start_time_unix_nano: START_NS,
        end_time_unix_nano: START_NS + 1_234_000,
        attributes: vec![
            KeyValue::new("http.method", "GET"),
            KeyValue::new("http.status_code", 200i64),
            KeyValue::new("sampler.param", true),
            KeyValue::new("ratio", 0.25),
            KeyValue {
                key: "blob".into(),
                value: AnyValue::Bytes(vec![1, 2, 3, 255]),
            },
            KeyValue::new("retries", 0i64),
        ],
        events: vec![
            Event {
                time_unix_nano: 1_485_449_191_640_000_000,
                name: "cache miss".into(),
                attributes: vec![KeyValue::new("key", "customer:123")],
                ..Default::default()
            },
            Event {
                time_unix_nano: 1_485_449_191_640_875_123,
                attributes: vec![KeyValue::new("level", "info")],
                ..Default::default()
            },
        ],
        links: vec![Link {
            trace_id: TraceId(0x77),
            span_id: SpanId(0x99),
            attributes: vec![KeyValue::new(REF_TYPE_ATTR, "follows_from")],
            ..Default::default()
        }],
        status: Status {
            code: StatusCode::Error,
            message: String::new(),
        },
        flags: 1,
        resource: Arc::new(Resource {
            service_name: "customer".into(),
            attributes: vec![
                KeyValue::new("hostname", "host-7"),
                KeyValue::new("ip", "10.0.0.7"),
                KeyValue::new("jaeger.version", "Go-2.30.0"),
            ],
            ..Default::default()
        }),
        warnings: vec!["clock skew adjusted".into()],
        ..Default::default()
    }
}

#[test]
fn go_collector_json_decodes() {
    assert_eq!(one(GO_JSON.as_bytes(), Encoding::Json), go_span());
}

#[test]
fn json_encoding_matches_go_collector_output() {
    let ours = encode_span(&go_span(), Encoding::Json).unwrap();
    let ours: Value = serde_json::from_slice(&ours).unwrap();
    let go: Value = serde_json::from_str(GO_JSON).unwrap();
    assert_eq!(ours, go);
    // Same bytes too, since we also write in proto field order.
    assert_eq!(
        String::from_utf8(encode_span(&go_span(), Encoding::Json).unwrap()).unwrap(),
        GO_JSON
    );
}

#[test]
fn json_decoding_is_lenient_like_jsonpb() {
    // snake_case names, int64 and flags as numbers or strings, enums as numbers, nulls,
    // unknown fields (including nested ones), an offset time and a Go-style duration.
    let lenient = json!({
        "trace_id": TRACE_B64,
        "span_id": SPAN_B64,
        "operation_name": "HTTP GET /customer",
        "references": [
            {"trace_id": TRACE_B64, "span_id": PARENT_B64, "ref_type": 0},
            {"traceId": OTHER_TRACE_B64, "spanId": OTHER_SPAN_B64, "refType": 1, "extra": [1, {"a": null}]}
        ],
        "flags": "1",
        "start_time": "2017-01-26T17:46:31.639875+01:00",
        "duration": "1.234ms",
        "tags": [
            {"key": "http.method", "v_type": "STRING", "v_str": "GET"},
            {"key": "http.status_code", "v_type": 2, "v_int64": 200},
            {"key": "sampler.param", "v_type": "BOOL", "v_bool": true, "v_str": null},
            {"key": "ratio", "v_type": 3, "v_float64": "0.25"},
            {"key": "blob", "v_type": "BINARY", "v_binary": "AQID_w"},
            {"key": "retries", "vType": "INT64", "vInt64": "0"},
            {"key": "span.kind", "vStr": "server"},
            {"key": "error", "vType": "BOOL", "vBool": true}
        ],
        "logs": [
            {"timestamp": "2017-01-26T16:46:31.640Z", "fields": [
                {"key": "event", "vStr": "cache miss"}, {"key": "key", "vStr": "customer:123"}
            ], "unknown": {"deep": [[[]]]}},
            {"timestamp": "2017-01-26T16:46:31.640875123Z", "fields": [{"key": "level", "vStr": "info"}]}
        ],
        "process": {"service_name": "customer", "tags": [
            {"key": "hostname", "vStr": "host-7"},
            {"key": "ip", "vStr": "10.0.0.7"},
            {"key": "jaeger.version", "vStr": "Go-2.30.0"}
        ]},
        "process_id": null,
        "warnings": ["clock skew adjusted"],
        "somethingNew": {"x": 1}
    });
    let value = serde_json::to_vec(&lenient).unwrap();
    assert_eq!(one(&value, Encoding::Json), go_span());
}

#[test]
fn json_missing_fields_are_defaults() {
    let span = one(b"{}", Encoding::Json);
    assert_eq!(span.trace_id, TraceId(0));
    assert_eq!(span.span_id, SpanId(0));
    assert_eq!(span.start_time_unix_nano, 0);
    assert_eq!(span.service_name(), "");
    let span = one(
        br#"{"traceId":null,"tags":null,"process":null,"duration":null,"startTime":null}"#,
        Encoding::Json,
    );
    assert!(span.attributes.is_empty());
    // A zero span ID and zero duration are what Go omits; they decode back to zero.
    let minimal = one(
        br#"{"traceId":"AAAAAAAAAAAAAAAAAAAAAQ==","startTime":"1970-01-01T00:00:01Z"}"#,
        Encoding::Json,
    );
    assert_eq!(minimal.trace_id, TraceId(1));
    assert_eq!(minimal.start_time_unix_nano, 1_000_000_000);
    assert_eq!(minimal.duration_nanos(), 0);
}

#[test]
fn json_omits_what_go_omits() {
    let span = Span {
        trace_id: TraceId(0),
        resource: Arc::new(Resource::default()),
        ..Default::default()
    };
    let value = encode_span(&span, Encoding::Json).unwrap();
    assert_eq!(
        std::str::from_utf8(&value).unwrap(),
        r#"{"traceId":"AAAAAAAAAAAAAAAAAAAAAA==","startTime":"1970-01-01T00:00:00Z","process":{}}"#
    );
}

// ---------------------------------------------------------------------------------------
// A protobuf message built with the generated types, as Jaeger's collector writes it.

fn id16(high: u64, low: u64) -> Vec<u8> {
    let mut b = high.to_be_bytes().to_vec();
    b.extend(low.to_be_bytes());
    b
}

fn kv(key: &str, v_type: pb::ValueType) -> pb::KeyValue {
    pb::KeyValue {
        key: key.into(),
        v_type: v_type as i32,
        ..Default::default()
    }
}

fn kv_str(key: &str, v: &str) -> pb::KeyValue {
    pb::KeyValue {
        v_str: v.into(),
        ..kv(key, pb::ValueType::String)
    }
}

/// [`go_span`] as api_v2 protobuf, field by field.
fn go_proto() -> pb::Span {
    pb::Span {
        trace_id: id16(0x5ab0_c5a2_b1d3_e4f6, 0x0102_0304_0506_0708),
        span_id: 0xa1u64.to_be_bytes().to_vec(),
        operation_name: "HTTP GET /customer".into(),
        references: vec![
            pb::SpanRef {
                trace_id: id16(0x5ab0_c5a2_b1d3_e4f6, 0x0102_0304_0506_0708),
                span_id: 0xa0u64.to_be_bytes().to_vec(),
                ref_type: pb::SpanRefType::ChildOf as i32,
            },
            pb::SpanRef {
                trace_id: id16(0, 0x77),
                span_id: 0x99u64.to_be_bytes().to_vec(),
                ref_type: pb::SpanRefType::FollowsFrom as i32,
            },
        ],
        flags: 1,
        start_time: Some(Timestamp {
            seconds: 1_485_449_191,
            nanos: 639_875_000,
        }),
        duration: Some(Duration {
            seconds: 0,
            nanos: 1_234_000,
        }),
        tags: vec![
            kv_str("http.method", "GET"),
            pb::KeyValue {
                v_int64: 200,
                ..kv("http.status_code", pb::ValueType::Int64)
            },
            pb::KeyValue {
                v_bool: true,
                ..kv("sampler.param", pb::ValueType::Bool)
            },
            pb::KeyValue {
                v_float64: 0.25,
                ..kv("ratio", pb::ValueType::Float64)
            },
            pb::KeyValue {
                v_binary: vec![1, 2, 3, 255],
                ..kv("blob", pb::ValueType::Binary)
            },
            kv("retries", pb::ValueType::Int64),
            kv_str("span.kind", "server"),
            pb::KeyValue {
                v_bool: true,
                ..kv("error", pb::ValueType::Bool)
            },
        ],
        logs: vec![
            pb::Log {
                timestamp: Some(Timestamp {
                    seconds: 1_485_449_191,
                    nanos: 640_000_000,
                }),
                fields: vec![kv_str("event", "cache miss"), kv_str("key", "customer:123")],
            },
            pb::Log {
                timestamp: Some(Timestamp {
                    seconds: 1_485_449_191,
                    nanos: 640_875_123,
                }),
                fields: vec![kv_str("level", "info")],
            },
        ],
        process: Some(pb::Process {
            service_name: "customer".into(),
            tags: vec![
                kv_str("hostname", "host-7"),
                kv_str("ip", "10.0.0.7"),
                kv_str("jaeger.version", "Go-2.30.0"),
            ],
        }),
        process_id: String::new(),
        warnings: vec!["clock skew adjusted".into()],
    }
}

#[test]
fn hand_built_protobuf_message_decodes() {
    let value = go_proto().encode_to_vec();
    assert_eq!(one(&value, Encoding::Protobuf), go_span());
}

#[test]
fn protobuf_encoding_matches_go_collector_output() {
    let value = encode_span(&go_span(), Encoding::Protobuf).unwrap();
    assert_eq!(pb::Span::decode(value.as_slice()).unwrap(), go_proto());
    assert_eq!(value, go_proto().encode_to_vec());
}

#[test]
fn protobuf_and_json_agree() {
    let from_proto = one(&go_proto().encode_to_vec(), Encoding::Protobuf);
    let from_json = one(GO_JSON.as_bytes(), Encoding::Json);
    assert_eq!(from_proto, from_json);
    assert_eq!(span_from_proto(go_proto()).unwrap(), from_json);
}

// ---------------------------------------------------------------------------------------
// Zipkin thrift (consume only).

fn endpoint(w: &mut BinaryWriter, id: i16, service: &str) {
    w.field_begin(id, TType::Struct);
    let t = w.struct_begin();
    w.field_begin(1, TType::I32);
    w.write_i32(0x0a00_0001);
    w.field_begin(2, TType::I16);
    w.write_i16(8080);
    w.field_begin(3, TType::Binary);
    w.write_binary(service.as_bytes());
    w.struct_end(t);
}

fn zipkin_span(w: &mut BinaryWriter, trace_low: i64, id: i64, name: &str, service: &str) {
    let t = w.struct_begin();
    w.field_begin(1, TType::I64);
    w.write_i64(trace_low);
    w.field_begin(3, TType::Binary);
    w.write_binary(name.as_bytes());
    w.field_begin(4, TType::I64);
    w.write_i64(id);
    w.field_begin(6, TType::List);
    w.list_begin(TType::Struct, 2);
    for (value, ts) in [("sr", 1_000_000i64), ("ss", 1_000_250)] {
        let a = w.struct_begin();
        w.field_begin(1, TType::I64);
        w.write_i64(ts);
        w.field_begin(2, TType::Binary);
        w.write_binary(value.as_bytes());
        endpoint(w, 3, service);
        w.struct_end(a);
    }
    w.field_begin(8, TType::List);
    w.list_begin(TType::Struct, 1);
    let b = w.struct_begin();
    w.field_begin(1, TType::Binary);
    w.write_binary(b"http.path");
    w.field_begin(2, TType::Binary);
    w.write_binary(b"/api");
    w.field_begin(3, TType::I32);
    w.write_i32(6); // STRING
    endpoint(w, 4, service);
    w.struct_end(b);
    w.field_begin(10, TType::I64);
    w.write_i64(1_000_000);
    w.field_begin(11, TType::I64);
    w.write_i64(250);
    w.field_begin(12, TType::I64);
    w.write_i64(7);
    w.struct_end(t);
}

fn zipkin_list() -> Vec<u8> {
    let mut w = BinaryWriter::new();
    w.list_begin(TType::Struct, 2);
    zipkin_span(&mut w, 0x11, 0x21, "get", "backend");
    zipkin_span(&mut w, 0x12, 0x22, "put", "db");
    w.into_bytes()
}

#[test]
fn zipkin_thrift_lists_decode_to_every_span() {
    let spans = decode_message(&zipkin_list(), Encoding::ZipkinThrift).unwrap();
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0].trace_id, TraceId::from_halves(7, 0x11));
    assert_eq!(spans[0].span_id, SpanId(0x21));
    assert_eq!(spans[0].name, "get");
    assert_eq!(spans[0].kind, SpanKind::Server);
    assert_eq!(spans[0].service_name(), "backend");
    assert_eq!(spans[0].start_time_unix_nano, 1_000_000_000);
    assert_eq!(spans[0].duration_nanos(), 250_000);
    assert_eq!(
        find_attr(&spans[0].attributes, "http.path"),
        Some(&AnyValue::from("/api"))
    );
    assert_eq!(spans[1].name, "put");
    assert_eq!(spans[1].service_name(), "db");
}

#[test]
fn zipkin_thrift_is_consume_only() {
    let span = go_span();
    assert_eq!(
        encode_span(&span, Encoding::ZipkinThrift),
        Err(EncodeError::ConsumeOnly(Encoding::ZipkinThrift))
    );
    assert!("zipkin-thrift"
        .parse::<Encoding>()
        .is_ok_and(|e| !e.can_produce()));
}

// ---------------------------------------------------------------------------------------
// Keys and hostile input.

#[test]
fn message_keys_print_like_jaeger() {
    assert_eq!(message_key(&TraceId(0xabc)), "0000000000000abc");
    assert_eq!(
        message_key(&TraceId::from_halves(1, 2)),
        "00000000000000010000000000000002"
    );
    let id = go_trace_id();
    assert_eq!(message_key(&id), "5ab0c5a2b1d3e4f60102030405060708");
    assert_eq!(
        message_key(&id),
        format!("{:016x}{:016x}", id.high(), id.low())
    );
    assert_eq!(message_key(&TraceId(u64::MAX as u128)), "ffffffffffffffff");
    assert_eq!(message_key(&TraceId(0)), "0000000000000000");
}

#[test]
fn garbage_protobuf_is_an_error() {
    let full = go_proto().encode_to_vec();
    for bad in [
        &b"\xff\xff\xff\xff"[..],
        b"\x0a\x10\x01\x02",         // trace_id claims 16 bytes, has 2
        b"\x08\x01",                 // trace_id as a varint
        b"\x0a\x03\x01\x02\x03",     // a 3-byte trace ID
        b"\x12\x02\x01\x02",         // a 2-byte span ID
        b"\x42\x04\x10\x09\x1a\x00", // a tag of value type 9
        b"\x1a\x02\xff\xfe",         // operation name not UTF-8
        &full[..full.len() - 1],     // cut inside the last field
    ] {
        assert!(
            decode_message(bad, Encoding::Protobuf).is_err(),
            "{bad:02x?} decoded"
        );
    }
    // Any cut either fails or (at a field boundary) gives a smaller span; never panics.
    for cut in 0..full.len() {
        let _ = decode_message(&full[..cut], Encoding::Protobuf);
    }
}

#[test]
fn garbage_json_is_an_error() {
    for bad in [
        "",
        "{",
        "[]",
        "null",
        "\"span\"",
        "{} {}",
        r#"{"traceId":5}"#,
        r#"{"traceId":"!!"}"#,
        r#"{"traceId":"AAE="}"#,        // 2 bytes
        r#"{"spanId":"AAAAAAAAAAAA"}"#, // 9 bytes
        r#"{"flags":-1}"#,
        r#"{"flags":4294967296}"#,
        r#"{"flags":1.5}"#,
        r#"{"operationName":7}"#,
        r#"{"startTime":"yesterday"}"#,
        r#"{"startTime":1485449191}"#,
        r#"{"duration":"5"}"#,
        r#"{"tags":{}}"#,
        r#"{"tags":[null]}"#,
        r#"{"tags":[{"key":"a","vType":"STRNG"}]}"#,
        r#"{"tags":[{"key":"a","vType":9}]}"#,
        r#"{"tags":[{"key":"a","vType":"INT64","vInt64":"12x"}]}"#,
        r#"{"tags":[{"key":"a","vType":"INT64","vInt64":9223372036854775808}]}"#,
        r#"{"tags":[{"key":"a","vType":"INT64","vInt64":1.5}]}"#,
        r#"{"tags":[{"key":"a","vType":"FLOAT64","vFloat64":"inf"}]}"#,
        r#"{"tags":[{"key":"a","vType":"BOOL","vBool":"true"}]}"#,
        r#"{"references":[{"refType":"PARENT"}]}"#,
        r#"{"process":[]}"#,
        r#"{"warnings":[1]}"#,
    ] {
        assert!(
            decode_message(bad.as_bytes(), Encoding::Json).is_err(),
            "{bad:?} decoded"
        );
    }
    assert!(decode_message(b"{\"operationName\":\"\xff\"}", Encoding::Json).is_err());
    let full = encode_span(&rich_span(TraceId(9)), Encoding::Json).unwrap();
    for cut in 0..full.len() {
        assert!(
            decode_message(&full[..cut], Encoding::Json).is_err(),
            "prefix of {cut} bytes decoded"
        );
    }
}

#[test]
fn garbage_zipkin_thrift_is_an_error() {
    for bad in [
        &b""[..],
        b"\x0c",
        b"\x0c\x00\x00\x00\x01",                 // one span, no bytes
        b"\x08\x00\x00\x00\x01\x00\x00\x00\x01", // a list of i32
        b"\x0c\x7f\xff\xff\xff\x00",             // absurd size
        b"{\"traceId\":\"1\"}",
    ] {
        assert!(
            decode_message(bad, Encoding::ZipkinThrift).is_err(),
            "{bad:02x?} decoded"
        );
    }
    let full = zipkin_list();
    for cut in 0..full.len() {
        assert!(
            decode_message(&full[..cut], Encoding::ZipkinThrift).is_err(),
            "prefix of {cut} bytes decoded"
        );
    }
}

#[test]
fn decoding_throughput() {
    // Not a benchmark (tests run unoptimised); it guards against an accidental
    // quadratic path and prints a rough rate. Measure with `--release` for real numbers.
    let value = go_proto().encode_to_vec();
    let json = GO_JSON.as_bytes();
    let n = 2_000;
    for (encoding, bytes) in [(Encoding::Protobuf, &value[..]), (Encoding::Json, json)] {
        let start = std::time::Instant::now();
        for _ in 0..n {
            let spans = decode_message(bytes, encoding).unwrap();
            assert_eq!(spans.len(), 1);
        }
        let rate = n as f64 / start.elapsed().as_secs_f64();
        println!("{encoding}: {rate:.0} spans/s ({} bytes each)", bytes.len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        for encoding in Encoding::ALL {
            let _ = decode_message(&bytes, encoding);
        }
    }

    #[test]
    fn mutated_messages_never_panic(
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        which in 0usize..3,
    ) {
        let (mut bytes, encoding) = match which {
            0 => (go_proto().encode_to_vec(), Encoding::Protobuf),
            1 => (GO_JSON.as_bytes().to_vec(), Encoding::Json),
            _ => (zipkin_list(), Encoding::ZipkinThrift),
        };
        let i = at.index(bytes.len());
        bytes[i] = byte;
        let _ = decode_message(&bytes, encoding);
    }

    #[test]
    fn spans_with_random_values_round_trip(
        high in any::<u64>(),
        low in any::<u64>(),
        span_id in any::<u64>(),
        start in 0u64..4_000_000_000_000_000_000,
        duration in 0u64..1_000_000_000_000,
        flags in any::<u32>(),
        name in ".{0,20}",
        int in any::<i64>(),
        float in any::<f64>().prop_filter("NaN never compares equal", |f| !f.is_nan()),
        text in "\\PC{0,20}",
        bytes in proptest::collection::vec(any::<u8>(), 0..20),
    ) {
        let mut span = rich_span(TraceId::from_halves(high, low));
        span.span_id = SpanId(span_id);
        span.start_time_unix_nano = start;
        span.end_time_unix_nano = start + duration;
        span.flags = flags;
        span.name = name;
        span.attributes = vec![
            KeyValue::new("i", int),
            KeyValue::new("f", float),
            KeyValue::new("s", text),
            KeyValue { key: "b".into(), value: AnyValue::Bytes(bytes) },
        ];
        for encoding in PRODUCED {
            let value = encode_span(&span, encoding).unwrap();
            let back = one(&value, encoding);
            // -0.0 comes back as 0.0 through JSON (Go omits it as a zero value).
            prop_assert_eq!(span_to_proto(&back), span_to_proto(&span));
        }
    }
}
