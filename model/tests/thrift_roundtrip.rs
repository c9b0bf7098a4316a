//! Jaeger thrift through the public API: rich spans round-trip through both protocols,
//! hand-assembled byte fixtures (built from the protocol specs, not by our encoder) decode
//! to the expected spans, and damaged input of every kind errors without panicking.

use std::sync::Arc;

use proptest::prelude::*;
use sextant_model::thrift::{
    decode_batch, decode_batch_with_meta, decode_emit_batch, decode_emit_batch_with_meta,
    encode_batch, encode_batches, encode_emit_batch, BatchMeta, ClientStats, Protocol,
};
use sextant_model::*;

const PROTOCOLS: [Protocol; 2] = [Protocol::Compact, Protocol::Binary];

fn process() -> Arc<Resource> {
    Arc::new(Resource {
        service_name: "checkout".into(),
        attributes: vec![
            KeyValue::new("hostname", "host-1"),
            KeyValue::new("ip", "10.0.0.1"),
            KeyValue::new("jaeger.version", "Go-2.30.0"),
            KeyValue::new("client-uuid", "2f8e1a"),
        ],
        ..Default::default()
    })
}

/// A span in the canonical form `JaegerSpan::into_span` produces, using every feature the
/// Jaeger model has: all tag types, logs with and without names, a parent plus child_of and
/// follows_from links, a 128-bit trace id, flags, kind, error status and scope.
fn rich_span(resource: Arc<Resource>, n: u64) -> Span {
    let trace_id = TraceId::from_halves(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210 + n);
    let link = |tid: TraceId, sid: u64, kind: &str| Link {
        trace_id: tid,
        span_id: SpanId(sid),
        attributes: vec![KeyValue::new(REF_TYPE_ATTR, kind)],
        ..Default::default()
    };
    Span {
        trace_id,
        span_id: SpanId(u64::MAX - n),
        parent_span_id: SpanId(0x42),
        name: format!("GET /cart/{n}"),
        kind: SpanKind::Server,
        start_time_unix_nano: 1_700_000_000_123_456_000 + n * 1000,
        end_time_unix_nano: 1_700_000_000_223_456_000 + n * 1000,
        attributes: vec![
            KeyValue::new("http.method", "GET"),
            KeyValue::new("http.status_code", 503i64),
            KeyValue::new("retry.ratio", 0.25),
            KeyValue::new("cache.hit", false),
            KeyValue::new("payload", AnyValue::Bytes(vec![0, 1, 0xfe, 0xff])),
            KeyValue::new("negative", i64::MIN),
            KeyValue::new("unicode", "grüße 🚀"),
        ],
        events: vec![
            Event {
                time_unix_nano: 1_700_000_000_150_000_000,
                name: "retry".into(),
                attributes: vec![KeyValue::new("attempt", 2i64)],
                ..Default::default()
            },
            Event {
                time_unix_nano: 1_700_000_000_160_000_000,
                name: String::new(),
                attributes: vec![
                    KeyValue::new("message", "slow upstream"),
                    KeyValue::new("ok", true),
                ],
                ..Default::default()
            },
        ],
        links: vec![
            link(TraceId(0x99), 0x77, "child_of"),
            link(trace_id, 0x43, "follows_from"),
        ],
        status: Status {
            code: StatusCode::Error,
            message: String::new(),
        },
        flags: 3,
        resource,
        scope: Arc::new(Scope {
            name: "io.opentelemetry.http".into(),
            version: "1.2.3".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn rich_spans(count: u64) -> Vec<Span> {
    let p = process();
    (0..count).map(|n| rich_span(p.clone(), n)).collect()
}

#[test]
fn rich_spans_round_trip_through_both_protocols() {
    let spans = rich_spans(3);
    for protocol in PROTOCOLS {
        let bytes = encode_batch(&process(), &spans, &BatchMeta::default(), protocol);
        let back = decode_batch(&bytes, protocol).unwrap();
        assert_eq!(back, spans, "{protocol:?}");
        assert!(Arc::ptr_eq(&back[0].resource, &back[2].resource));
    }
}

#[test]
fn emit_batch_round_trips_with_meta() {
    let spans = rich_spans(2);
    let meta = BatchMeta {
        seq_no: Some(i64::MAX),
        stats: Some(ClientStats {
            full_queue_dropped_spans: 1,
            too_large_dropped_spans: 2,
            failed_to_emit_spans: 3,
        }),
    };
    for protocol in PROTOCOLS {
        let bytes = encode_emit_batch(&process(), &spans, &meta, protocol, -2);
        let back = decode_emit_batch_with_meta(&bytes, protocol).unwrap();
        assert_eq!(back.spans, spans);
        assert_eq!(back.meta, meta);
        assert_eq!(decode_emit_batch(&bytes, protocol).unwrap(), spans);
        // A bare batch is not an emitBatch message, and the other way round.
        assert!(decode_batch(&bytes, protocol).is_err());
    }
}

#[test]
fn spans_of_several_processes_split_into_one_batch_each() {
    let other = Arc::new(Resource {
        service_name: "payments".into(),
        ..Default::default()
    });
    let mut spans = rich_spans(2);
    spans.insert(1, rich_span(other.clone(), 9));
    for protocol in PROTOCOLS {
        let batches = encode_batches(&spans, protocol);
        assert_eq!(batches.len(), 2);
        let first = decode_batch(&batches[0], protocol).unwrap();
        let second = decode_batch(&batches[1], protocol).unwrap();
        assert_eq!(first, vec![spans[0].clone(), spans[2].clone()]);
        assert_eq!(second, vec![spans[1].clone()]);
    }
}

#[test]
fn values_thrift_cannot_type_become_json_strings() {
    let mut span = rich_span(process(), 0);
    span.attributes = vec![
        KeyValue::new(
            "list",
            AnyValue::Array(vec![AnyValue::Int(1), AnyValue::from("a")]),
        ),
        KeyValue::new("none", AnyValue::Empty),
    ];
    for protocol in PROTOCOLS {
        let bytes = encode_batch(&process(), &[span.clone()], &BatchMeta::default(), protocol);
        let back = decode_batch(&bytes, protocol).unwrap();
        assert_eq!(
            back[0].attributes,
            vec![
                KeyValue::new("list", r#"[1,"a"]"#),
                KeyValue::new("none", "")
            ]
        );
    }
}

/// An agent packet assembled byte by byte from the compact-protocol spec.
fn compact_emit_batch_fixture() -> Vec<u8> {
    let mut b = Vec::new();
    // Message: protocol id, version 1 | ONEWAY (4) << 5, seq id 1, name.
    b.extend_from_slice(&[0x82, 0x81, 0x01, 0x09]);
    b.extend_from_slice(b"emitBatch");
    // args.1: struct (delta 1, type 12) → Batch.1 process: struct.
    b.extend_from_slice(&[0x1c, 0x1c]);
    // Process.1 serviceName: binary (8), "svc".
    b.extend_from_slice(&[0x18, 0x03]);
    b.extend_from_slice(b"svc");
    // Process.2 tags: list (9) of one struct (0x1c): Tag{key "hostname", vType 0, vStr "h1"}.
    b.extend_from_slice(&[0x19, 0x1c, 0x18, 0x08]);
    b.extend_from_slice(b"hostname");
    b.extend_from_slice(&[0x15, 0x00, 0x18, 0x02]);
    b.extend_from_slice(b"h1");
    b.extend_from_slice(&[0x00, 0x00]); // end Tag, end Process
                                        // Batch.2 spans: list of one struct.
    b.extend_from_slice(&[0x19, 0x1c]);
    // traceIdLow 5 (zigzag 10), traceIdHigh 0, spanId 6 (12), parentSpanId 0.
    b.extend_from_slice(&[0x16, 0x0a, 0x16, 0x00, 0x16, 0x0c, 0x16, 0x00]);
    // operationName "op".
    b.extend_from_slice(&[0x18, 0x02]);
    b.extend_from_slice(b"op");
    // flags (field 7, delta 2, i32) = 1 → zigzag 2.
    b.extend_from_slice(&[0x25, 0x02]);
    // startTime 1_000_000 µs → zigzag 2_000_000 = varint 80 89 7a.
    b.extend_from_slice(&[0x16, 0x80, 0x89, 0x7a]);
    // duration 250 µs → zigzag 500 = varint f4 03.
    b.extend_from_slice(&[0x16, 0xf4, 0x03]);
    // tags: two structs.
    b.extend_from_slice(&[0x19, 0x2c]);
    // Tag{key "http.status_code", vType LONG (3 → 6), vLong (field 6, delta 4) 200 → 90 03}.
    b.extend_from_slice(&[0x18, 0x10]);
    b.extend_from_slice(b"http.status_code");
    b.extend_from_slice(&[0x15, 0x06, 0x46, 0x90, 0x03, 0x00]);
    // Tag{key "cache", vType BOOL (2 → 4), vBool (field 5, delta 3) true in the header}.
    b.extend_from_slice(&[0x18, 0x05]);
    b.extend_from_slice(b"cache");
    b.extend_from_slice(&[0x15, 0x04, 0x31, 0x00]);
    // logs: one Log{timestamp 1_000_100 → zigzag 2_000_200 = c8 8a 7a, fields [event=retry]}.
    b.extend_from_slice(&[0x19, 0x1c, 0x16, 0xc8, 0x8a, 0x7a, 0x19, 0x1c, 0x18, 0x05]);
    b.extend_from_slice(b"event");
    b.extend_from_slice(&[0x15, 0x00, 0x18, 0x05]);
    b.extend_from_slice(b"retry");
    b.extend_from_slice(&[0x00, 0x00]); // end Tag, end Log
    b.push(0x00); // end Span
                  // Batch.3 seqNo (delta 1 from 2, i64) = 7 → zigzag 14; end Batch; end args.
    b.extend_from_slice(&[0x16, 0x0e, 0x00, 0x00]);
    b
}

#[test]
fn hand_built_compact_emit_batch_decodes_as_the_spec_says() {
    let decoded =
        decode_emit_batch_with_meta(&compact_emit_batch_fixture(), Protocol::Compact).unwrap();
    assert_eq!(decoded.meta.seq_no, Some(7));
    let expected = Span {
        trace_id: TraceId(5),
        span_id: SpanId(6),
        name: "op".into(),
        flags: 1,
        start_time_unix_nano: 1_000_000_000,
        end_time_unix_nano: 1_000_250_000,
        attributes: vec![
            KeyValue::new("http.status_code", 200i64),
            KeyValue::new("cache", true),
        ],
        events: vec![Event {
            time_unix_nano: 1_000_100_000,
            name: "retry".into(),
            ..Default::default()
        }],
        resource: Arc::new(Resource {
            service_name: "svc".into(),
            attributes: vec![KeyValue::new("hostname", "h1")],
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(decoded.spans, vec![expected.clone()]);

    // Our encoder produces the same bytes for the same content.
    let meta = BatchMeta {
        seq_no: Some(7),
        stats: None,
    };
    let ours = encode_emit_batch(
        &expected.resource,
        std::slice::from_ref(&expected),
        &meta,
        Protocol::Compact,
        1,
    );
    assert_eq!(ours, compact_emit_batch_fixture());
}

#[test]
fn hand_built_binary_batch_decodes_as_the_spec_says() {
    let mut b = Vec::new();
    // Batch.1 process: struct (12), id 1 → Process.1 serviceName: string (11) "s"; STOP.
    b.extend_from_slice(&[0x0c, 0, 1, 0x0b, 0, 1, 0, 0, 0, 1, b's', 0]);
    // Batch.2 spans: list (15), id 2, of struct (12), 1 element.
    b.extend_from_slice(&[0x0f, 0, 2, 0x0c, 0, 0, 0, 1]);
    let i64_field = |b: &mut Vec<u8>, id: u8, v: i64| {
        b.extend_from_slice(&[0x0a, 0, id]);
        b.extend_from_slice(&v.to_be_bytes());
    };
    i64_field(&mut b, 1, -1); // traceIdLow: all bits set
    i64_field(&mut b, 2, 1); // traceIdHigh
    i64_field(&mut b, 3, 2); // spanId
    i64_field(&mut b, 4, 3); // parentSpanId, with no references
    b.extend_from_slice(&[0x0b, 0, 5, 0, 0, 0, 1, b'x']); // operationName
    b.extend_from_slice(&[0x08, 0, 7, 0, 0, 0, 2]); // flags: debug
    i64_field(&mut b, 8, 10); // startTime µs
    i64_field(&mut b, 9, 20); // duration µs
    b.extend_from_slice(&[0, 0]); // end Span, end Batch

    let spans = decode_batch(&b, Protocol::Binary).unwrap();
    assert_eq!(spans.len(), 1);
    let s = &spans[0];
    assert_eq!(s.trace_id, TraceId::from_halves(1, u64::MAX));
    assert_eq!(
        s.trace_id.to_jaeger_string(),
        "0000000000000001ffffffffffffffff"
    );
    assert_eq!(s.span_id, SpanId(2));
    assert_eq!(
        s.parent_span_id,
        SpanId(3),
        "parentSpanId becomes the parent"
    );
    assert!(s.links.is_empty());
    assert_eq!((s.name.as_str(), s.flags), ("x", 2));
    assert_eq!(s.start_time_unix_nano, 10_000);
    assert_eq!(s.duration_nanos(), 20_000);
    assert_eq!(s.service_name(), "s");
    // The compact reader does not accept binary bytes as a valid batch.
    assert!(decode_batch(&b, Protocol::Compact).is_err());
}

#[test]
fn every_truncation_of_a_valid_payload_is_an_error() {
    for protocol in PROTOCOLS {
        let bytes = encode_emit_batch(
            &process(),
            &rich_spans(2),
            &BatchMeta::default(),
            protocol,
            0,
        );
        for cut in 0..bytes.len() {
            assert!(
                decode_emit_batch(&bytes[..cut], protocol).is_err(),
                "{protocol:?} prefix of {cut} bytes decoded"
            );
        }
        let batch = encode_batch(&process(), &rich_spans(2), &BatchMeta::default(), protocol);
        for cut in 0..batch.len() {
            assert!(decode_batch(&batch[..cut], protocol).is_err());
        }
    }
    let fixture = compact_emit_batch_fixture();
    for cut in 0..fixture.len() {
        assert!(decode_emit_batch(&fixture[..cut], Protocol::Compact).is_err());
    }
}

#[test]
fn every_single_byte_mutation_is_handled_without_panic() {
    let mut outcomes = [0usize; 2];
    for protocol in PROTOCOLS {
        let bytes = encode_emit_batch(
            &process(),
            &rich_spans(1),
            &BatchMeta::default(),
            protocol,
            0,
        );
        for at in 0..bytes.len() {
            for value in [0x00, 0x01, 0x0f, 0x19, 0x7f, 0x80, 0xc0, 0xfc, 0xff] {
                let mut damaged = bytes.clone();
                damaged[at] = value;
                let ok = decode_emit_batch(&damaged, protocol).is_ok();
                outcomes[usize::from(ok)] += 1;
            }
        }
    }
    // Both outcomes occur: mutations in values decode, mutations in structure do not.
    assert!(outcomes[0] > 100 && outcomes[1] > 100, "{outcomes:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        for protocol in PROTOCOLS {
            let _ = decode_batch(&bytes, protocol);
            let _ = decode_emit_batch(&bytes, protocol);
        }
    }

    #[test]
    fn random_bytes_after_a_valid_header_never_panic(
        tail in proptest::collection::vec(any::<u8>(), 0..512),
        compact in any::<bool>(),
    ) {
        // Past the envelope, so the fuzzing reaches the batch decoder and skipping.
        let (protocol, mut bytes) = if compact {
            (Protocol::Compact, vec![0x82, 0x81, 0x00, 0x09])
        } else {
            (Protocol::Binary, vec![0x80, 0x01, 0x00, 0x04, 0, 0, 0, 9])
        };
        bytes.extend_from_slice(b"emitBatch");
        if !compact {
            bytes.extend_from_slice(&[0, 0, 0, 0]);
        }
        bytes.extend_from_slice(&tail);
        let _ = decode_emit_batch(&bytes, protocol);
    }

    #[test]
    fn random_mutations_of_rich_batches_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        compact in any::<bool>(),
    ) {
        let protocol = if compact { Protocol::Compact } else { Protocol::Binary };
        let mut bytes = encode_batch(&process(), &rich_spans(2), &BatchMeta::default(), protocol);
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if let Ok(batch) = decode_batch_with_meta(&bytes, protocol) {
            // Whatever decodes re-encodes and decodes again.
            let again = encode_batches(&batch.spans, protocol);
            for b in again {
                prop_assert!(decode_batch(&b, protocol).is_ok());
            }
        }
    }
}
