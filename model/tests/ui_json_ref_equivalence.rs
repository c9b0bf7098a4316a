//! The borrowed UI JSON writer (`UiTraceRef`) against the reference encoder
//! (`serde_json` of `UiTrace::from_spans`): the bytes must be identical, compact and pretty,
//! for every trace — every value type (big integers, non-finite floats, bytes, arrays and
//! maps, empty and escaped strings), events, links with and without a reference type,
//! status, scope, trace state, warnings, zero flags, and more than ten processes shared or
//! not by `Arc` (so `p10` sorts before `p2`). The compact form is checked twice: serde_json of
//! `UiTraceRef`, and its direct byte writer (`write_compact`, what the query API sends).

mod otlp_support;

use std::sync::Arc;

use proptest::prelude::*;
use serde::Serialize;
use sextant_model::ui_json::{write_compact_traces, UiTrace, UiTraceRef};
use sextant_model::{
    AnyValue, Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, Status, StatusCode,
    Trace, TraceId, REF_TYPE_ATTR,
};

const JS_MAX: i64 = (1 << 53) - 1;

fn compact<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// The query API's `prettyPrint` layout (4 spaces), and serde_json's default one.
fn pretty<T: Serialize>(v: &T, indent: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(indent);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    v.serialize(&mut ser).unwrap();
    out
}

/// Asserts byte equality in every layout, for one trace and for a list (a search result).
fn assert_same(spans: &[Span]) {
    let reference = UiTrace::from_spans(spans);
    let borrowed = UiTraceRef::from_spans(spans);
    let show = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert_eq!(show(&compact(&borrowed)), show(&compact(&reference)));
    // The direct compact writer the query service's responses use.
    let mut direct = b"prefix".to_vec();
    borrowed.write_compact(&mut direct);
    assert_eq!(show(&direct[6..]), show(&compact(&reference)));
    for indent in [&b"    "[..], b"  "] {
        assert_eq!(
            show(&pretty(&borrowed, indent)),
            show(&pretty(&reference, indent))
        );
    }
    let list = [borrowed, borrowed];
    let reference_list = [reference.clone(), reference];
    assert_eq!(compact(&list), compact(&reference_list));
    let mut direct = Vec::new();
    write_compact_traces(&list, &mut direct);
    assert_eq!(direct, compact(&reference_list));
    direct.clear();
    write_compact_traces(&[], &mut direct);
    assert_eq!(direct, b"[]");
    assert_eq!(pretty(&list, b"    "), pretty(&reference_list, b"    "));
}

fn tricky_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        ".{0,8}",
        "\\PC{0,8}",
        "[\\x00-\\x1f\"\\\\/\u{7f}\u{2028}\u{2029}]{0,6}",
        // Long enough for the writer's eight-bytes-at-a-time scan, with escapes anywhere.
        "[a-z0-9 <>&/\u{e9}\u{1f600}\u{2028}\u{2029}\u{7f}]{8,40}",
        "[a-z\\x00-\\x1f\"\\\\<>&\u{e9}\u{2028}]{8,40}",
        Just("\"quoted\"\n\ttab \\ back é 😀 \u{0} \u{1f}".to_string()),
    ]
}

fn tricky_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => otlp_support::key(),
        1 => tricky_text(),
        // Keys the Jaeger mapping derives itself: as plain attributes they stay plain.
        1 => prop_oneof![
            Just("event".to_string()),
            Just("error".to_string()),
            Just("span.kind".to_string()),
            Just("otel.status_code".to_string()),
            Just(REF_TYPE_ATTR.to_string()),
        ],
    ]
}

fn tricky_double() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(1.0),
        Just(0.1 + 0.2),
        Just(1e-7),
        Just(1e21),
        Just(8.9e18),
        Just(9.0e18),
        Just(-9.0e18),
        Just(2f64.powi(53)),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        (-1_000_000i64..1_000_000).prop_map(|i| i as f64),
    ]
}

fn tricky_int() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        -100i64..100,
        Just(JS_MAX),
        Just(JS_MAX + 1),
        Just(-JS_MAX),
        Just(-JS_MAX - 1),
        Just(i64::MAX),
        Just(i64::MIN),
    ]
}

fn tricky_value() -> impl Strategy<Value = AnyValue> {
    prop_oneof![
        3 => otlp_support::any_value(),
        1 => tricky_text().prop_map(AnyValue::Str),
        1 => tricky_int().prop_map(AnyValue::Int),
        1 => tricky_double().prop_map(AnyValue::Double),
        // Both sides of the writer's stack buffer for base64 (96 input bytes).
        1 => proptest::collection::vec(any::<u8>(), 0..200).prop_map(AnyValue::Bytes),
        1 => Just(AnyValue::Empty),
        1 => proptest::collection::vec(tricky_double().prop_map(AnyValue::Double), 0..3)
            .prop_map(AnyValue::Array),
        1 => proptest::collection::vec((tricky_key(), tricky_value_leaf()), 0..3).prop_map(
            |kvs| AnyValue::KvList(kvs.into_iter().map(|(key, value)| KeyValue { key, value }).collect())
        ),
    ]
}

fn tricky_value_leaf() -> impl Strategy<Value = AnyValue> {
    prop_oneof![
        tricky_text().prop_map(AnyValue::Str),
        tricky_int().prop_map(AnyValue::Int),
        tricky_double().prop_map(AnyValue::Double),
    ]
}

fn tricky_attrs(max: usize) -> impl Strategy<Value = Vec<KeyValue>> {
    proptest::collection::vec((tricky_key(), tricky_value()), 0..max).prop_map(|kvs| {
        kvs.into_iter()
            .map(|(key, value)| KeyValue { key, value })
            .collect()
    })
}

fn tricky_resource() -> impl Strategy<Value = Resource> {
    (
        prop_oneof![otlp_support::text(), tricky_text()],
        tricky_attrs(4),
    )
        .prop_map(|(service_name, attributes)| Resource {
            service_name,
            attributes,
            ..Default::default()
        })
}

/// What to do to one span of the generated base, so that the rare cases are common.
#[derive(Debug, Clone)]
struct Edit {
    resource: usize,
    /// Give the span its own `Arc` holding an equal resource (as a store decoding span by
    /// span does), instead of sharing the pool's.
    fresh_arc: bool,
    zero_flags: bool,
    short_trace_id: bool,
    extra_attrs: Vec<KeyValue>,
    /// The `opentracing.ref_type` value given to the span's links (None: leave them).
    ref_type: Option<AnyValue>,
    event_name: Option<String>,
    status_message: Option<String>,
    scope: Option<(String, String)>,
    trace_state: Option<String>,
}

fn edit() -> impl Strategy<Value = Edit> {
    (
        (any::<usize>(), any::<bool>(), any::<bool>(), any::<bool>()),
        tricky_attrs(4),
        proptest::option::of(prop_oneof![
            Just(AnyValue::from("child_of")),
            Just(AnyValue::from("follows_from")),
            Just(AnyValue::from("CHILD_OF")),
            Just(AnyValue::from("")),
            Just(AnyValue::Int(1)),
        ]),
        (
            proptest::option::of(tricky_text()),
            proptest::option::of(tricky_text()),
            proptest::option::of((tricky_text(), tricky_text())),
            proptest::option::of(tricky_text()),
        ),
    )
        .prop_map(
            |(
                (resource, fresh_arc, zero_flags, short_trace_id),
                extra_attrs,
                ref_type,
                (event_name, status_message, scope, trace_state),
            )| Edit {
                resource,
                fresh_arc,
                zero_flags,
                short_trace_id,
                extra_attrs,
                ref_type,
                event_name,
                status_message,
                scope,
                trace_state,
            },
        )
}

/// A trace: spans from the shared generator, re-pointed at a pool of up to 23 resources
/// (some equal by value under different `Arc`s), with the edits above applied.
fn trace() -> impl Strategy<Value = Vec<Span>> {
    (
        proptest::collection::vec(otlp_support::spans(), 1..6),
        proptest::collection::vec(tricky_resource(), 1..24),
        proptest::collection::vec(edit(), 1..8),
        any::<bool>(),
    )
        .prop_map(|(batches, resources, edits, duplicate_resources)| {
            let mut pool: Vec<Arc<Resource>> = resources.into_iter().map(Arc::new).collect();
            if duplicate_resources {
                // Equal by value to an earlier entry: must share its key.
                let copies: Vec<_> = pool.iter().map(|r| Arc::new((**r).clone())).collect();
                pool.extend(copies);
            }
            let mut spans: Vec<Span> = batches.into_iter().flatten().collect();
            for (i, span) in spans.iter_mut().enumerate() {
                let e = &edits[i % edits.len()];
                let shared = &pool[(e.resource ^ i) % pool.len()];
                span.resource = if e.fresh_arc {
                    Arc::new((**shared).clone())
                } else {
                    shared.clone()
                };
                if e.zero_flags {
                    span.flags = 0;
                }
                if e.short_trace_id {
                    span.trace_id = TraceId(u128::from(span.trace_id.low()));
                }
                span.attributes.extend(e.extra_attrs.iter().cloned());
                if let Some(rt) = &e.ref_type {
                    for link in &mut span.links {
                        link.attributes
                            .insert(0, KeyValue::new(REF_TYPE_ATTR, rt.clone()));
                    }
                }
                if let Some(name) = &e.event_name {
                    span.events.push(Event {
                        time_unix_nano: span.start_time_unix_nano,
                        name: name.clone(),
                        attributes: e.extra_attrs.clone(),
                        ..Default::default()
                    });
                }
                if let Some(m) = &e.status_message {
                    span.status.message = m.clone();
                }
                if let Some((name, version)) = &e.scope {
                    span.scope = Arc::new(Scope {
                        name: name.clone(),
                        version: version.clone(),
                        ..Default::default()
                    });
                }
                if let Some(ts) = &e.trace_state {
                    span.trace_state = ts.clone();
                }
            }
            spans
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn borrowed_writer_matches_reference(spans in trace()) {
        assert_same(&spans);
    }

    #[test]
    fn every_tag_value_matches_reference(values in proptest::collection::vec(tricky_value(), 0..12)) {
        let span = Span {
            span_id: SpanId(1),
            attributes: values
                .iter()
                .enumerate()
                .map(|(i, v)| KeyValue { key: format!("k{i}"), value: v.clone() })
                .collect(),
            events: vec![Event {
                attributes: values.iter().map(|v| KeyValue::new("f", v.clone())).collect(),
                ..Default::default()
            }],
            resource: Arc::new(Resource {
                service_name: "s".into(),
                attributes: values.iter().map(|v| KeyValue::new("r", v.clone())).collect(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_same(std::slice::from_ref(&span));
    }
}

/// 25 distinct processes, each first seen in order, then revisited out of order: keys go
/// `p1 … p25` by first appearance and are written `p1, p10, …, p19, p2, p20, …`.
#[test]
fn many_processes_are_keyed_and_sorted_like_go() {
    let resources: Vec<Arc<Resource>> = (0..25)
        .map(|i| {
            Arc::new(Resource {
                service_name: format!("svc-{i}"),
                attributes: vec![KeyValue::new("hostname", format!("h{}", i % 3))],
                ..Default::default()
            })
        })
        .collect();
    let spans: Vec<Span> = (0..60u64)
        .map(|i| {
            let r = if i < 25 {
                resources[i as usize].clone()
            } else {
                // Unshared but equal: the same key as the original.
                Arc::new((*resources[(i * 7 % 25) as usize]).clone())
            };
            Span {
                trace_id: TraceId(0x1234),
                span_id: SpanId(i + 1),
                parent_span_id: SpanId(i),
                name: format!("op-{i}"),
                kind: SpanKind::from_otlp((i % 6) as i32),
                start_time_unix_nano: 1_700_000_000_000_000_000 + i * 1_000,
                end_time_unix_nano: 1_700_000_000_000_000_000 + i * 2_500,
                flags: (i % 2) as u32,
                status: Status {
                    code: [StatusCode::Unset, StatusCode::Ok, StatusCode::Error][(i % 3) as usize],
                    message: if i % 4 == 0 {
                        "boom".into()
                    } else {
                        String::new()
                    },
                },
                links: vec![Link {
                    trace_id: TraceId::from_halves(1, i),
                    span_id: SpanId(i + 100),
                    ..Default::default()
                }],
                resource: r,
                ..Default::default()
            }
        })
        .collect();
    assert_same(&spans);

    let text = String::from_utf8(compact(&UiTraceRef::from_spans(&spans))).unwrap();
    let at = text.find("\"processes\":").unwrap() + "\"processes\":".len();
    let processes = &text[at..];
    let keys: Vec<&str> = processes
        .match_indices("\"p")
        .map(|(at, _)| {
            let rest = &processes[at + 1..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect();
    let mut expected: Vec<String> = (1..=25).map(|i| format!("p{i}")).collect();
    expected.sort();
    assert_eq!(keys, expected);
    assert!(text.contains(r#""processID":"p25""#));
}

#[test]
fn empty_trace_matches_reference() {
    assert_same(&[]);
    let trace = Trace::default();
    assert_eq!(
        compact(&UiTraceRef::new(&trace)),
        br#"{"traceID":"","spans":[],"processes":{},"warnings":null}"#
    );
}

/// A resource with a NaN tag never equals itself; its spans still share one process key
/// whether or not other spans come between them (pointer identity decides first).
#[test]
fn resource_with_nan_tag_keeps_one_key() {
    let nan = Arc::new(Resource {
        service_name: "nan".into(),
        attributes: vec![KeyValue::new("load", f64::NAN)],
        ..Default::default()
    });
    let other = Arc::new(Resource {
        service_name: "other".into(),
        ..Default::default()
    });
    let spans: Vec<Span> = [&nan, &other, &nan]
        .iter()
        .enumerate()
        .map(|(i, r)| Span {
            span_id: SpanId(i as u64 + 1),
            resource: Arc::clone(r),
            ..Default::default()
        })
        .collect();
    assert_same(&spans);
    let ui = UiTrace::from_spans(&spans);
    assert_eq!(ui.processes.len(), 2);
    assert_eq!(ui.spans[2].process_id, "p1");
}
