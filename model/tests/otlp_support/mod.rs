//! Proptest strategies for model spans, shared by the OTLP and api_v2 tests.
//!
//! Attribute keys start with `k`, so they never collide with the keys the converters treat
//! specially (`service.name`, `@jaeger@warnings`, `span.kind`, `error`, `event`, …).
#![allow(dead_code)]

use std::sync::Arc;

use proptest::prelude::*;
use sextant_model::*;

pub fn key() -> impl Strategy<Value = String> {
    "k[a-z0-9_.]{0,8}"
}

pub fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z0-9 ._/-]{0,12}", "\\PC{0,6}"]
}

/// Finite doubles only: NaN never equals itself, which would fail every equality check.
pub fn double() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |d| d.is_finite()),
        Just(72.5),
        Just(0.1),
        Just(-0.0),
    ]
}

/// Scalar values that every format (api_v2 included) carries without loss.
pub fn scalar_value() -> impl Strategy<Value = AnyValue> {
    prop_oneof![
        text().prop_map(AnyValue::Str),
        any::<bool>().prop_map(AnyValue::Bool),
        any::<i64>().prop_map(AnyValue::Int),
        double().prop_map(AnyValue::Double),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(AnyValue::Bytes),
    ]
}

/// Any OTLP value, nested a few levels.
pub fn any_value() -> impl Strategy<Value = AnyValue> {
    let leaf = prop_oneof![Just(AnyValue::Empty), scalar_value()];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(AnyValue::Array),
            proptest::collection::vec((key(), inner), 0..4).prop_map(|kvs| AnyValue::KvList(
                kvs.into_iter()
                    .map(|(key, value)| KeyValue { key, value })
                    .collect()
            )),
        ]
    })
}

pub fn attrs(value: impl Strategy<Value = AnyValue>) -> impl Strategy<Value = Vec<KeyValue>> {
    proptest::collection::vec((key(), value), 0..4).prop_map(|kvs| {
        kvs.into_iter()
            .map(|(key, value)| KeyValue { key, value })
            .collect()
    })
}

pub fn resource() -> impl Strategy<Value = Resource> {
    (text(), attrs(any_value()), any::<u32>(), text()).prop_map(
        |(service_name, attributes, dropped_attributes_count, schema_url)| Resource {
            service_name,
            attributes,
            dropped_attributes_count,
            schema_url,
        },
    )
}

pub fn scope() -> impl Strategy<Value = Scope> {
    (text(), text(), attrs(any_value()), any::<u32>(), text()).prop_map(
        |(name, version, attributes, dropped_attributes_count, schema_url)| Scope {
            name,
            version,
            attributes,
            dropped_attributes_count,
            schema_url,
        },
    )
}

fn kind() -> impl Strategy<Value = SpanKind> {
    (0i32..6).prop_map(SpanKind::from_otlp)
}

fn status() -> impl Strategy<Value = Status> {
    (
        prop_oneof![
            Just(StatusCode::Unset),
            Just(StatusCode::Ok),
            Just(StatusCode::Error)
        ],
        text(),
    )
        .prop_map(|(code, message)| Status { code, message })
}

fn event() -> impl Strategy<Value = Event> {
    (any::<u64>(), text(), attrs(any_value()), any::<u32>()).prop_map(
        |(time_unix_nano, name, attributes, dropped_attributes_count)| Event {
            time_unix_nano,
            name,
            attributes,
            dropped_attributes_count,
        },
    )
}

fn link() -> impl Strategy<Value = Link> {
    (
        any::<u128>(),
        any::<u64>(),
        text(),
        attrs(any_value()),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(t, s, trace_state, attributes, dropped_attributes_count, flags)| Link {
                trace_id: TraceId(t),
                span_id: SpanId(s),
                trace_state,
                attributes,
                dropped_attributes_count,
                flags,
            },
        )
}

/// Everything about a span except its IDs, resource and scope.
#[derive(Debug, Clone)]
pub struct Body {
    trace_id: u128,
    parent: u64,
    trace_state: String,
    name: String,
    kind: SpanKind,
    start: u64,
    end: u64,
    attributes: Vec<KeyValue>,
    dropped: (u32, u32, u32),
    events: Vec<Event>,
    links: Vec<Link>,
    status: Status,
    flags: u32,
    warnings: Vec<String>,
}

fn body() -> impl Strategy<Value = Body> {
    (
        (
            any::<u128>(),
            prop_oneof![Just(0u64), any::<u64>()],
            text(),
            text(),
            kind(),
        ),
        (
            any::<u64>(),
            any::<u64>(),
            attrs(any_value()),
            any::<(u32, u32, u32)>(),
        ),
        (
            proptest::collection::vec(event(), 0..3),
            proptest::collection::vec(link(), 0..3),
            status(),
            any::<u32>(),
            proptest::collection::vec(text(), 0..3),
        ),
    )
        .prop_map(
            |(
                (trace_id, parent, trace_state, name, kind),
                (start, end, attributes, dropped),
                (events, links, status, flags, warnings),
            )| Body {
                trace_id,
                parent,
                trace_state,
                name,
                kind,
                start,
                end,
                attributes,
                dropped,
                events,
                links,
                status,
                flags,
                warnings,
            },
        )
}

/// A batch of spans over a few resources and scopes, sharing them by `Arc` the way
/// decoders do. Span IDs are the span's position + 1, so tests can sort by them.
pub fn spans() -> impl Strategy<Value = Vec<Span>> {
    (
        proptest::collection::vec(resource(), 1..3),
        proptest::collection::vec(scope(), 1..3),
        proptest::collection::vec((any::<usize>(), any::<usize>(), body()), 0..6),
    )
        .prop_map(|(resources, scopes, bodies)| {
            let resources: Vec<_> = resources.into_iter().map(Arc::new).collect();
            let scopes: Vec<_> = scopes.into_iter().map(Arc::new).collect();
            bodies
                .into_iter()
                .enumerate()
                .map(|(i, (r, s, b))| Span {
                    trace_id: TraceId(b.trace_id),
                    span_id: SpanId(i as u64 + 1),
                    parent_span_id: SpanId(b.parent),
                    trace_state: b.trace_state,
                    name: b.name,
                    kind: b.kind,
                    start_time_unix_nano: b.start,
                    end_time_unix_nano: b.end,
                    attributes: b.attributes,
                    dropped_attributes_count: b.dropped.0,
                    events: b.events,
                    dropped_events_count: b.dropped.1,
                    links: b.links,
                    dropped_links_count: b.dropped.2,
                    status: b.status,
                    flags: b.flags,
                    resource: resources[r % resources.len()].clone(),
                    scope: scopes[s % scopes.len()].clone(),
                    warnings: b.warnings,
                })
                .collect()
        })
}

/// Spans that Jaeger's v1 model represents without loss: scalar tags, no OTLP-only
/// counts, schema URLs or scope attributes, links that are `follows_from` references,
/// and an end no earlier than the start.
pub fn jaeger_spans() -> impl Strategy<Value = Vec<Span>> {
    spans().prop_map(|spans| {
        spans
            .into_iter()
            .map(|mut s| {
                let scalarize = |attrs: &mut Vec<KeyValue>| {
                    for kv in attrs.iter_mut() {
                        if matches!(
                            kv.value,
                            AnyValue::Empty | AnyValue::Array(_) | AnyValue::KvList(_)
                        ) {
                            kv.value = AnyValue::Str(kv.value.to_string_lossy());
                        }
                    }
                };
                let mut resource = (*s.resource).clone();
                resource.dropped_attributes_count = 0;
                resource.schema_url.clear();
                scalarize(&mut resource.attributes);
                s.resource = Arc::new(resource);
                s.scope = Arc::new(Scope {
                    name: s.scope.name.clone(),
                    version: s.scope.version.clone(),
                    ..Default::default()
                });
                scalarize(&mut s.attributes);
                s.dropped_attributes_count = 0;
                s.dropped_events_count = 0;
                s.dropped_links_count = 0;
                if s.end_time_unix_nano < s.start_time_unix_nano {
                    std::mem::swap(&mut s.end_time_unix_nano, &mut s.start_time_unix_nano);
                }
                for e in &mut s.events {
                    scalarize(&mut e.attributes);
                    e.dropped_attributes_count = 0;
                }
                for l in &mut s.links {
                    *l = Link {
                        trace_id: l.trace_id,
                        span_id: l.span_id,
                        attributes: vec![KeyValue::new(REF_TYPE_ATTR, "follows_from")],
                        ..Default::default()
                    };
                }
                s
            })
            .collect()
    })
}

/// Orders spans by span ID (unique in [`spans`]), since encoders regroup them.
pub fn sorted(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by_key(|s| s.span_id);
    spans
}
