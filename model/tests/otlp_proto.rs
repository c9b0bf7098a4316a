//! OTLP protobuf ⇄ model: field mapping checked by hand, the rejection rules, grouping on
//! the way out, lossless round trips over random spans, and hostile bytes.

mod otlp_support;

use std::sync::Arc;

use proptest::prelude::*;
use prost::Message;
use sextant_model::otlp::{self, MAX_VALUE_DEPTH, WARNINGS_ATTR};
use sextant_model::*;
use sextant_proto::otlp::collector::trace::v1::ExportTraceServiceRequest;
use sextant_proto::otlp::common::v1 as pbc;
use sextant_proto::otlp::resource::v1 as pbr;
use sextant_proto::otlp::trace::v1 as pb;

fn kv(key: &str, value: pbc::any_value::Value) -> pbc::KeyValue {
    pbc::KeyValue {
        key: key.into(),
        value: Some(pbc::AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(v: &str) -> pbc::any_value::Value {
    pbc::any_value::Value::StringValue(v.into())
}

fn sample_span() -> pb::Span {
    pb::Span {
        trace_id: (1u8..=16).collect(),
        span_id: vec![0, 0, 0, 0, 0, 0, 0, 7],
        trace_state: "rojo=00f067aa0ba902b7".into(),
        parent_span_id: vec![0, 0, 0, 0, 0, 0, 0, 3],
        flags: 0x301,
        name: "GET /cart".into(),
        kind: pb::span::SpanKind::Server as i32,
        start_time_unix_nano: 1_700_000_000_123_456_789,
        end_time_unix_nano: 1_700_000_000_223_456_789,
        attributes: vec![
            kv("http.method", s("GET")),
            kv(
                "tags",
                pbc::any_value::Value::ArrayValue(pbc::ArrayValue {
                    values: vec![pbc::AnyValue {
                        value: Some(pbc::any_value::Value::IntValue(-4)),
                    }],
                }),
            ),
            kv(
                "m",
                pbc::any_value::Value::KvlistValue(pbc::KeyValueList {
                    values: vec![kv("x", pbc::any_value::Value::BytesValue(vec![0, 1]))],
                }),
            ),
            pbc::KeyValue {
                key: "nothing".into(),
                value: None,
                ..Default::default()
            },
        ],
        dropped_attributes_count: 2,
        events: vec![pb::span::Event {
            time_unix_nano: 1_700_000_000_200_000_001,
            name: "retry".into(),
            attributes: vec![kv("attempt", pbc::any_value::Value::DoubleValue(2.5))],
            dropped_attributes_count: 1,
        }],
        dropped_events_count: 3,
        links: vec![pb::span::Link {
            trace_id: vec![9; 16],
            span_id: vec![8; 8],
            trace_state: "k=v".into(),
            attributes: vec![kv("why", s("batch"))],
            dropped_attributes_count: 4,
            flags: 1,
        }],
        dropped_links_count: 5,
        status: Some(pb::Status {
            message: "boom".into(),
            code: pb::status::StatusCode::Error as i32,
        }),
    }
}

fn request(spans: Vec<pb::Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![pb::ResourceSpans {
            resource: Some(pbr::Resource {
                attributes: vec![kv("host.name", s("h1")), kv("service.name", s("cart"))],
                dropped_attributes_count: 6,
                ..Default::default()
            }),
            scope_spans: vec![pb::ScopeSpans {
                scope: Some(pbc::InstrumentationScope {
                    name: "io.opentelemetry.http".into(),
                    version: "1.2".into(),
                    attributes: vec![kv("scope.attr", s("x"))],
                    dropped_attributes_count: 7,
                }),
                spans,
                schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
            }],
            schema_url: "https://opentelemetry.io/schemas/1.20.0".into(),
        }],
    }
}

#[test]
fn every_field_maps_as_documented() {
    let bytes = request(vec![sample_span()]).encode_to_vec();
    let spans = otlp::decode_export_request(&bytes).unwrap();
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(
        span.trace_id.to_string(),
        "0102030405060708090a0b0c0d0e0f10"
    );
    assert_eq!(span.span_id, SpanId(7));
    assert_eq!(span.parent_span_id, SpanId(3));
    assert_eq!(span.trace_state, "rojo=00f067aa0ba902b7");
    assert_eq!(span.flags, 0x301);
    assert_eq!(span.name, "GET /cart");
    assert_eq!(span.kind, SpanKind::Server);
    assert_eq!(span.start_time_unix_nano, 1_700_000_000_123_456_789);
    assert_eq!(span.end_time_unix_nano, 1_700_000_000_223_456_789);
    assert_eq!(
        span.attributes,
        vec![
            KeyValue::new("http.method", "GET"),
            KeyValue::new("tags", AnyValue::Array(vec![AnyValue::Int(-4)])),
            KeyValue::new(
                "m",
                AnyValue::KvList(vec![KeyValue::new("x", AnyValue::Bytes(vec![0, 1]))])
            ),
            KeyValue::new("nothing", AnyValue::Empty),
        ]
    );
    assert_eq!(span.dropped_attributes_count, 2);
    assert_eq!(
        span.events,
        vec![Event {
            time_unix_nano: 1_700_000_000_200_000_001,
            name: "retry".into(),
            attributes: vec![KeyValue::new("attempt", 2.5)],
            dropped_attributes_count: 1,
        }]
    );
    assert_eq!(span.dropped_events_count, 3);
    assert_eq!(
        span.links,
        vec![Link {
            trace_id: TraceId(u128::from_be_bytes([9; 16])),
            span_id: SpanId(u64::from_be_bytes([8; 8])),
            trace_state: "k=v".into(),
            attributes: vec![KeyValue::new("why", "batch")],
            dropped_attributes_count: 4,
            flags: 1,
        }]
    );
    assert_eq!(span.dropped_links_count, 5);
    assert_eq!(
        span.status,
        Status {
            code: StatusCode::Error,
            message: "boom".into()
        }
    );
    assert_eq!(
        *span.resource,
        Resource {
            service_name: "cart".into(),
            attributes: vec![KeyValue::new("host.name", "h1")],
            dropped_attributes_count: 6,
            schema_url: "https://opentelemetry.io/schemas/1.20.0".into(),
        }
    );
    assert_eq!(
        *span.scope,
        Scope {
            name: "io.opentelemetry.http".into(),
            version: "1.2".into(),
            attributes: vec![KeyValue::new("scope.attr", "x")],
            dropped_attributes_count: 7,
            schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
        }
    );
    assert!(span.warnings.is_empty());

    // And back: the same message, except that service.name now comes first and an
    // attribute without a value is written as an empty AnyValue.
    let back = ExportTraceServiceRequest::decode(&otlp::encode_export_request(&spans)[..]).unwrap();
    let mut want = request(vec![sample_span()]);
    let rs = &mut want.resource_spans[0];
    rs.resource.as_mut().unwrap().attributes.reverse();
    rs.scope_spans[0].spans[0].attributes[3].value = Some(pbc::AnyValue { value: None });
    assert_eq!(back, want);
}

#[test]
fn arcs_are_shared_per_resource_and_scope() {
    let mut req = request(vec![sample_span(), sample_span()]);
    let mut second_scope = req.resource_spans[0].scope_spans[0].clone();
    second_scope.scope.as_mut().unwrap().name = "other".into();
    req.resource_spans[0].scope_spans.push(second_scope);
    let spans = otlp::spans_from_resource_spans(req.resource_spans).unwrap();
    assert_eq!(spans.len(), 4);
    assert!(spans
        .iter()
        .all(|s| Arc::ptr_eq(&s.resource, &spans[0].resource)));
    assert!(Arc::ptr_eq(&spans[0].scope, &spans[1].scope));
    assert!(Arc::ptr_eq(&spans[2].scope, &spans[3].scope));
    assert!(!Arc::ptr_eq(&spans[1].scope, &spans[2].scope));
}

#[test]
fn missing_service_name_and_resource_give_empty_name() {
    let mut req = request(vec![sample_span()]);
    req.resource_spans[0].resource = None;
    req.resource_spans[0].scope_spans[0].scope = None;
    let spans = otlp::spans_from_resource_spans(req.resource_spans).unwrap();
    assert_eq!(spans[0].resource.service_name, "");
    assert!(spans[0].resource.attributes.is_empty());
    assert_eq!(spans[0].scope.name, "");

    let req = ExportTraceServiceRequest {
        resource_spans: vec![pb::ResourceSpans {
            resource: Some(pbr::Resource {
                attributes: vec![
                    kv("service.name", pbc::any_value::Value::IntValue(42)),
                    kv("service.name", s("dup")),
                ],
                ..Default::default()
            }),
            scope_spans: vec![pb::ScopeSpans {
                spans: vec![sample_span()],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let spans = otlp::spans_from_resource_spans(req.resource_spans).unwrap();
    assert_eq!(
        spans[0].resource.service_name, "42",
        "first one wins, as text"
    );
    assert!(spans[0].resource.attributes.is_empty(), "never kept twice");
}

#[test]
fn id_lengths_are_enforced() {
    type Mutation = fn(&mut pb::Span);
    let cases: [(&str, Mutation); 7] = [
        ("trace_id", |s| s.trace_id.truncate(8)),
        ("trace_id", |s| s.trace_id.clear()),
        ("span_id", |s| s.span_id.push(0)),
        ("span_id", |s| s.span_id.clear()),
        ("parent_span_id", |s| s.parent_span_id = vec![1; 4]),
        ("link trace_id", |s| s.links[0].trace_id = vec![1; 17]),
        ("link span_id", |s| s.links[0].span_id = vec![]),
    ];
    for (what, mutate) in cases {
        let mut span = sample_span();
        mutate(&mut span);
        let err = otlp::decode_export_request(&request(vec![span]).encode_to_vec()).unwrap_err();
        assert!(err.to_string().contains(what), "{what}: {err}");
    }
}

#[test]
fn empty_or_zero_parent_means_root() {
    for parent in [vec![], vec![0; 8]] {
        let mut span = sample_span();
        span.parent_span_id = parent;
        let spans = otlp::decode_export_request(&request(vec![span]).encode_to_vec()).unwrap();
        assert!(spans[0].is_root());
    }
}

fn nested(depth: usize) -> pbc::AnyValue {
    let mut v = pbc::AnyValue {
        value: Some(s("leaf")),
    };
    for _ in 0..depth {
        v = pbc::AnyValue {
            value: Some(pbc::any_value::Value::ArrayValue(pbc::ArrayValue {
                values: vec![v],
            })),
        };
    }
    v
}

#[test]
fn value_nesting_is_limited() {
    for (depth, ok) in [(MAX_VALUE_DEPTH, true), (MAX_VALUE_DEPTH + 1, false)] {
        let mut span = sample_span();
        span.attributes = vec![pbc::KeyValue {
            key: "deep".into(),
            value: Some(nested(depth)),
            ..Default::default()
        }];
        let result = otlp::decode_export_request(&request(vec![span]).encode_to_vec());
        assert_eq!(result.is_ok(), ok, "depth {depth}: {result:?}");
        if !ok {
            assert!(matches!(result, Err(DecodeError::TooLarge(_))));
        }
    }
    // Far deeper than prost's own recursion limit: a decode error, not a stack overflow.
    let mut span = sample_span();
    span.attributes = vec![pbc::KeyValue {
        key: "deeper".into(),
        value: Some(nested(500)),
        ..Default::default()
    }];
    assert!(otlp::decode_export_request(&request(vec![span]).encode_to_vec()).is_err());
}

#[test]
fn string_table_index_is_rejected() {
    let mut span = sample_span();
    span.attributes = vec![kv("x", pbc::any_value::Value::StringValueStrindex(1))];
    assert!(otlp::decode_export_request(&request(vec![span]).encode_to_vec()).is_err());
}

#[test]
fn warnings_travel_as_jaeger_v2_attribute() {
    let span = Span {
        trace_id: TraceId(1),
        span_id: SpanId(2),
        warnings: vec!["clock skew adjusted".into()],
        ..Default::default()
    };
    let rs = otlp::spans_to_resource_spans(std::slice::from_ref(&span));
    let attrs = &rs[0].scope_spans[0].spans[0].attributes;
    assert_eq!(attrs.len(), 1);
    assert_eq!(attrs[0].key, WARNINGS_ATTR);
    assert_eq!(otlp::spans_from_resource_spans(rs).unwrap(), vec![span]);

    // An attribute of that name that is not a list of strings stays an attribute.
    let mut odd = sample_span();
    odd.attributes = vec![kv(WARNINGS_ATTR, s("not a list"))];
    let spans = otlp::decode_export_request(&request(vec![odd]).encode_to_vec()).unwrap();
    assert!(spans[0].warnings.is_empty());
    assert_eq!(spans[0].attributes.len(), 1);
}

#[test]
fn encoding_groups_by_pointer_then_by_value() {
    let a = Arc::new(Resource {
        service_name: "a".into(),
        ..Default::default()
    });
    let a_copy = Arc::new((*a).clone());
    let b = Arc::new(Resource {
        service_name: "b".into(),
        ..Default::default()
    });
    let scope = Arc::new(Scope {
        name: "lib".into(),
        ..Default::default()
    });
    let other_scope_same_name = Arc::new(Scope {
        name: "lib".into(),
        version: "2".into(),
        ..Default::default()
    });
    let mk = |id: u64, resource: &Arc<Resource>, scope: &Arc<Scope>| Span {
        trace_id: TraceId(1),
        span_id: SpanId(id),
        resource: resource.clone(),
        scope: scope.clone(),
        ..Default::default()
    };
    let spans = vec![
        mk(1, &a, &scope),
        mk(2, &b, &scope),
        mk(3, &a_copy, &scope),
        mk(4, &a, &other_scope_same_name),
        mk(5, &b, &scope),
    ];
    let rs = otlp::spans_to_resource_spans(&spans);
    let shape: Vec<Vec<Vec<u8>>> = rs
        .iter()
        .map(|r| {
            r.scope_spans
                .iter()
                .map(|ss| ss.spans.iter().map(|s| s.span_id[7]).collect())
                .collect()
        })
        .collect();
    assert_eq!(shape, vec![vec![vec![1, 3], vec![4]], vec![vec![2, 5]]]);
}

#[test]
fn empty_input_and_empty_request() {
    assert_eq!(otlp::decode_export_request(&[]).unwrap(), vec![]);
    assert!(otlp::encode_export_request(&[]).is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn model_to_proto_to_model_is_lossless(spans in otlp_support::spans()) {
        let back = otlp::decode_export_request(&otlp::encode_export_request(&spans)).unwrap();
        prop_assert_eq!(otlp_support::sorted(back), spans);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = otlp::decode_export_request(&bytes);
    }

    #[test]
    fn truncated_and_mutated_requests_never_panic(
        spans in otlp_support::spans(),
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let bytes = otlp::encode_export_request(&spans);
        if !bytes.is_empty() {
            let _ = otlp::decode_export_request(&bytes[..cut.index(bytes.len())]);
            let mut mutated = bytes.clone();
            for (at, b) in flips {
                mutated[at.index(bytes.len())] = b;
            }
            let _ = otlp::decode_export_request(&mutated);
        }
    }
}
