//! Jaeger api_v2 protobuf ⇄ model: the field mapping checked by hand, process fallback,
//! time precision and clamping, the ID and type rules, round trips over random
//! Jaeger-representable spans, and hostile bytes.

mod otlp_support;

use std::sync::Arc;

use proptest::prelude::*;
use prost::Message;
use prost_types::{Duration, Timestamp};
use sextant_model::api_v2;
use sextant_model::*;
use sextant_proto::jaeger::api_v2 as pb;

fn tag(key: &str, v_type: pb::ValueType) -> pb::KeyValue {
    pb::KeyValue {
        key: key.into(),
        v_type: v_type as i32,
        ..Default::default()
    }
}

fn str_tag(key: &str, v: &str) -> pb::KeyValue {
    pb::KeyValue {
        v_str: v.into(),
        ..tag(key, pb::ValueType::String)
    }
}

fn trace_bytes() -> Vec<u8> {
    let mut b = 1u64.to_be_bytes().to_vec();
    b.extend(2u64.to_be_bytes());
    b
}

fn sample_span() -> pb::Span {
    pb::Span {
        trace_id: trace_bytes(),
        span_id: 7u64.to_be_bytes().to_vec(),
        operation_name: "GET /cart".into(),
        references: vec![
            pb::SpanRef {
                trace_id: trace_bytes(),
                span_id: 3u64.to_be_bytes().to_vec(),
                ref_type: pb::SpanRefType::ChildOf as i32,
            },
            pb::SpanRef {
                trace_id: trace_bytes(),
                span_id: 4u64.to_be_bytes().to_vec(),
                ref_type: pb::SpanRefType::FollowsFrom as i32,
            },
        ],
        flags: 1,
        start_time: Some(Timestamp {
            seconds: 1_700_000_000,
            nanos: 123_456_789,
        }),
        duration: Some(Duration {
            seconds: 1,
            nanos: 500,
        }),
        tags: vec![
            str_tag("http.method", "GET"),
            str_tag("span.kind", "server"),
            pb::KeyValue {
                v_bool: true,
                ..tag("error", pb::ValueType::Bool)
            },
            pb::KeyValue {
                v_int64: -5,
                ..tag("n", pb::ValueType::Int64)
            },
            pb::KeyValue {
                v_float64: 72.5,
                ..tag("f", pb::ValueType::Float64)
            },
            pb::KeyValue {
                v_binary: vec![0, 1, 2],
                ..tag("b", pb::ValueType::Binary)
            },
        ],
        logs: vec![pb::Log {
            timestamp: Some(Timestamp {
                seconds: 1_700_000_000,
                nanos: 200_000_001,
            }),
            fields: vec![str_tag("event", "retry"), str_tag("why", "timeout")],
        }],
        process: None,
        process_id: String::new(),
        warnings: vec!["w1".into()],
    }
}

fn process(name: &str) -> pb::Process {
    pb::Process {
        service_name: name.into(),
        tags: vec![str_tag("hostname", "h1")],
    }
}

#[test]
fn every_field_maps_as_documented() {
    let spans = api_v2::batch_to_spans(pb::Batch {
        spans: vec![sample_span()],
        process: Some(process("cart")),
    })
    .unwrap();
    let span = &spans[0];
    assert_eq!(span.trace_id, TraceId::from_halves(1, 2));
    assert_eq!(span.span_id, SpanId(7));
    assert_eq!(span.parent_span_id, SpanId(3));
    assert_eq!(span.name, "GET /cart");
    assert_eq!(span.kind, SpanKind::Server);
    assert_eq!(span.status.code, StatusCode::Error);
    assert_eq!(span.flags, 1);
    assert_eq!(span.start_time_unix_nano, 1_700_000_000_123_456_789);
    assert_eq!(span.duration_nanos(), 1_000_000_500);
    assert_eq!(
        span.attributes,
        vec![
            KeyValue::new("http.method", "GET"),
            KeyValue::new("n", -5i64),
            KeyValue::new("f", 72.5),
            KeyValue::new("b", AnyValue::Bytes(vec![0, 1, 2])),
        ]
    );
    assert_eq!(
        span.links,
        vec![Link {
            trace_id: TraceId::from_halves(1, 2),
            span_id: SpanId(4),
            attributes: vec![KeyValue::new(REF_TYPE_ATTR, "follows_from")],
            ..Default::default()
        }]
    );
    assert_eq!(
        span.events,
        vec![Event {
            time_unix_nano: 1_700_000_000_200_000_001,
            name: "retry".into(),
            attributes: vec![KeyValue::new("why", "timeout")],
            dropped_attributes_count: 0,
        }]
    );
    assert_eq!(span.service_name(), "cart");
    assert_eq!(
        span.resource.attributes,
        vec![KeyValue::new("hostname", "h1")]
    );
    assert_eq!(span.warnings, vec!["w1".to_string()]);

    // Back out: the same span with its process embedded; re-created tags come last.
    let out = api_v2::span_to_proto(span);
    let mut want = sample_span();
    want.process = Some(process("cart"));
    want.tags
        .retain(|t| t.key != "span.kind" && t.key != "error");
    want.tags.push(str_tag("span.kind", "server"));
    want.tags.push(pb::KeyValue {
        v_bool: true,
        ..tag("error", pb::ValueType::Bool)
    });
    assert_eq!(out, want);
}

#[test]
fn spans_without_process_use_the_batch_process() {
    let mut own = sample_span();
    own.process = Some(process("own"));
    let mut own_again = sample_span();
    own_again.process = Some(process("own"));
    let mut same_as_batch = sample_span();
    same_as_batch.process = Some(process("batch"));
    let spans = api_v2::batch_to_spans(pb::Batch {
        spans: vec![sample_span(), own, own_again, same_as_batch, sample_span()],
        process: Some(process("batch")),
    })
    .unwrap();
    let names: Vec<_> = spans.iter().map(|s| s.service_name()).collect();
    assert_eq!(names, ["batch", "own", "own", "batch", "batch"]);
    assert!(Arc::ptr_eq(&spans[0].resource, &spans[4].resource));
    assert!(Arc::ptr_eq(&spans[0].resource, &spans[3].resource));
    assert!(Arc::ptr_eq(&spans[1].resource, &spans[2].resource));

    let lone = api_v2::batch_to_spans(pb::Batch {
        spans: vec![sample_span()],
        process: None,
    })
    .unwrap();
    assert_eq!(lone[0].service_name(), "");
}

#[test]
fn single_span_with_embedded_process() {
    let mut span = sample_span();
    span.process = Some(process("kafka"));
    let decoded = api_v2::span_from_proto(span).unwrap();
    assert_eq!(decoded.service_name(), "kafka");
    let bytes = api_v2::span_to_proto(&decoded).encode_to_vec();
    let again = api_v2::span_from_proto(pb::Span::decode(&bytes[..]).unwrap()).unwrap();
    assert_eq!(again, decoded);
}

#[test]
fn out_of_range_times_are_clamped_with_warnings() {
    let mut span = sample_span();
    span.start_time = Some(Timestamp {
        seconds: -10,
        nanos: 0,
    });
    span.duration = Some(Duration {
        seconds: i64::MAX,
        nanos: 0,
    });
    span.logs[0].timestamp = Some(Timestamp {
        seconds: 0,
        nanos: -1,
    });
    let span = api_v2::span_from_proto(span).unwrap();
    assert_eq!(span.start_time_unix_nano, 0);
    assert_eq!(span.end_time_unix_nano, u64::MAX);
    assert_eq!(span.events[0].time_unix_nano, 0);
    let w = span.warnings.join("|");
    assert!(w.contains("negative start time"), "{w}");
    assert!(w.contains("duration") && w.contains("out of range"), "{w}");
    assert!(w.contains("negative log timestamp"), "{w}");

    let mut missing = sample_span();
    missing.start_time = None;
    missing.duration = None;
    let span = api_v2::span_from_proto(missing).unwrap();
    assert_eq!((span.start_time_unix_nano, span.end_time_unix_nano), (0, 0));
    assert_eq!(span.warnings, vec!["w1".to_string()]);
}

#[test]
fn ids_follow_the_length_rules() {
    let mut short = sample_span();
    short.trace_id = 9u64.to_be_bytes().to_vec();
    assert_eq!(api_v2::span_from_proto(short).unwrap().trace_id, TraceId(9));
    let mut empty = sample_span();
    empty.trace_id.clear();
    empty.span_id.clear();
    let span = api_v2::span_from_proto(empty).unwrap();
    assert!(span.trace_id.is_zero() && span.span_id.is_zero());

    for mutate in [
        |s: &mut pb::Span| s.trace_id = vec![1; 12],
        |s: &mut pb::Span| s.span_id = vec![1; 16],
        |s: &mut pb::Span| s.references[0].trace_id = vec![1; 3],
        |s: &mut pb::Span| s.references[1].span_id = vec![1; 9],
    ] {
        let mut span = sample_span();
        mutate(&mut span);
        assert!(matches!(
            api_v2::span_from_proto(span),
            Err(DecodeError::Malformed { .. })
        ));
    }
    assert_eq!(
        api_v2::trace_id_from_bytes(&TraceId(5).to_bytes()).unwrap(),
        TraceId(5)
    );
}

#[test]
fn unknown_enum_values_are_rejected() {
    let mut span = sample_span();
    span.tags[0].v_type = 9;
    let err = api_v2::span_from_proto(span).unwrap_err();
    assert!(err.to_string().contains("http.method"), "{err}");
    let mut span = sample_span();
    span.references[0].ref_type = 5;
    assert!(api_v2::span_from_proto(span).is_err());
}

#[test]
fn otlp_only_values_become_strings() {
    let span = Span {
        trace_id: TraceId(1),
        span_id: SpanId(2),
        attributes: vec![
            KeyValue::new(
                "arr",
                AnyValue::Array(vec![AnyValue::Int(1), AnyValue::from("x")]),
            ),
            KeyValue::new("map", AnyValue::KvList(vec![KeyValue::new("a", true)])),
            KeyValue::new("none", AnyValue::Empty),
        ],
        ..Default::default()
    };
    let tags = api_v2::span_to_proto(&span).tags;
    assert_eq!(
        tags,
        vec![
            str_tag("arr", r#"[1,"x"]"#),
            str_tag("map", r#"{"a":true}"#),
            str_tag("none", ""),
        ]
    );
}

#[test]
fn chunk_holds_every_span_with_its_process() {
    let spans = api_v2::batch_to_spans(pb::Batch {
        spans: vec![sample_span(), sample_span()],
        process: Some(process("p")),
    })
    .unwrap();
    let chunk = api_v2::spans_to_proto_chunk(&spans);
    assert_eq!(chunk.spans.len(), 2);
    assert!(chunk
        .spans
        .iter()
        .all(|s| s.process.as_ref().map(|p| p.service_name.as_str()) == Some("p")));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn model_to_api_v2_to_model_is_lossless(spans in otlp_support::jaeger_spans()) {
        for span in spans {
            let bytes = api_v2::span_to_proto(&span).encode_to_vec();
            let back = api_v2::span_from_proto(pb::Span::decode(&bytes[..]).unwrap()).unwrap();
            prop_assert_eq!(back, span);
        }
    }

    #[test]
    fn random_batches_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(batch) = pb::Batch::decode(&bytes[..]) {
            let _ = api_v2::batch_to_spans(batch);
        }
    }

    #[test]
    fn mutated_spans_never_panic(
        spans in otlp_support::jaeger_spans(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        for span in spans {
            let mut bytes = api_v2::span_to_proto(&span).encode_to_vec();
            let len = bytes.len();
            for (at, b) in &edits {
                bytes[at.index(len)] = *b;
            }
            if let Ok(span) = pb::Span::decode(&bytes[..]) {
                let _ = api_v2::span_from_proto(span);
            }
        }
    }
}
