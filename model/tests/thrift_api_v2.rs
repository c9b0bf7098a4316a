//! The agent's direct path (`thrift::decode_emit_batch_to_api_v2`) against the model path
//! (`thrift::decode_emit_batch` then `api_v2::span_to_proto`), for both thrift protocols.
//!
//! What must hold for every packet:
//! * both paths accept or reject it alike, with the same `DecodeError`;
//! * the direct path's process equals `api_v2::process_to_proto` of the model's resource;
//! * its hand-written protobuf bytes equal prost's encoding of its `pb::Span`/`pb::Process`;
//! * a collector decoding the direct path's batch (`api_v2::batch_to_spans`) gets exactly
//!   the spans the model path decoded.
//!
//! And where the model path does not rearrange anything (no tag it lifts into span kind,
//! status or scope; a log's `event` field first; the parent reference first), the direct
//! `pb::Span`s equal the model path's field for field.

use std::sync::Arc;

use proptest::prelude::*;
use prost::Message;
use sextant_model::api_v2;
use sextant_model::thrift::*;
use sextant_model::{Event, KeyValue, Resource, Span, SpanId, TraceId};
use sextant_proto::jaeger::api_v2 as pb;

const STRING: i32 = 0;
const DOUBLE: i32 = 1;
const BOOL: i32 = 2;
const LONG: i32 = 3;
const BINARY: i32 = 4;
const CHILD_OF: i32 = 0;
const FOLLOWS_FROM: i32 = 1;

#[derive(Clone, Debug)]
enum V {
    Str(&'static [u8]),
    Double(f64),
    Bool(bool),
    Long(i64),
    Bin(&'static [u8]),
    /// A tag with an unknown vType and no value.
    Unknown(i32),
}

type Tags = Vec<(&'static [u8], V)>;

#[derive(Clone, Debug)]
struct SpanSpec {
    low: i64,
    high: i64,
    span_id: i64,
    parent: i64,
    op: &'static [u8],
    refs: Vec<(i32, i64, i64, i64)>,
    flags: i32,
    start: i64,
    duration: i64,
    tags: Tags,
    logs: Vec<(i64, Tags)>,
}

impl Default for SpanSpec {
    fn default() -> Self {
        SpanSpec {
            low: 0x0123_4567_89ab_cdef,
            high: 0x7edc_ba98_7654_3210,
            span_id: 0x55,
            parent: 0,
            op: b"GET /x",
            refs: vec![],
            flags: 1,
            start: 1_700_000_000_123_456,
            duration: 2_500,
            tags: vec![],
            logs: vec![],
        }
    }
}

fn i64_field(w: &mut dyn ProtocolWriter, id: i16, v: i64) {
    w.field_begin(id, TType::I64);
    w.write_i64(v);
}

fn str_field(w: &mut dyn ProtocolWriter, id: i16, v: &[u8]) {
    w.field_begin(id, TType::Binary);
    w.write_binary(v);
}

fn write_tags(w: &mut dyn ProtocolWriter, id: i16, tags: &Tags) {
    w.field_begin(id, TType::List);
    w.list_begin(TType::Struct, tags.len());
    for (key, v) in tags {
        let t = w.struct_begin();
        str_field(w, 1, key);
        let vtype = match v {
            V::Str(_) => STRING,
            V::Double(_) => DOUBLE,
            V::Bool(_) => BOOL,
            V::Long(_) => LONG,
            V::Bin(_) => BINARY,
            V::Unknown(n) => *n,
        };
        w.field_begin(2, TType::I32);
        w.write_i32(vtype);
        match v {
            V::Str(s) => str_field(w, 3, s),
            V::Double(d) => {
                w.field_begin(4, TType::Double);
                w.write_double(*d);
            }
            V::Bool(b) => w.bool_field(5, *b),
            V::Long(l) => i64_field(w, 6, *l),
            V::Bin(b) => str_field(w, 7, b),
            V::Unknown(_) => {}
        }
        w.struct_end(t);
    }
}

fn write_span(w: &mut dyn ProtocolWriter, s: &SpanSpec) {
    let t = w.struct_begin();
    i64_field(w, 1, s.low);
    i64_field(w, 2, s.high);
    i64_field(w, 3, s.span_id);
    i64_field(w, 4, s.parent);
    str_field(w, 5, s.op);
    if !s.refs.is_empty() {
        w.field_begin(6, TType::List);
        w.list_begin(TType::Struct, s.refs.len());
        for &(kind, low, high, span) in &s.refs {
            let rt = w.struct_begin();
            w.field_begin(1, TType::I32);
            w.write_i32(kind);
            i64_field(w, 2, low);
            i64_field(w, 3, high);
            i64_field(w, 4, span);
            w.struct_end(rt);
        }
    }
    w.field_begin(7, TType::I32);
    w.write_i32(s.flags);
    i64_field(w, 8, s.start);
    i64_field(w, 9, s.duration);
    if !s.tags.is_empty() {
        write_tags(w, 10, &s.tags);
    }
    if !s.logs.is_empty() {
        w.field_begin(11, TType::List);
        w.list_begin(TType::Struct, s.logs.len());
        for (ts, fields) in &s.logs {
            let lt = w.struct_begin();
            i64_field(w, 1, *ts);
            write_tags(w, 2, fields);
            w.struct_end(lt);
        }
    }
    w.struct_end(t);
}

fn write_emit_batch(w: &mut dyn ProtocolWriter, service: &[u8], ptags: &Tags, spans: &[SpanSpec]) {
    w.message_begin(EMIT_BATCH, MessageType::Oneway, 3);
    let args = w.struct_begin();
    w.field_begin(1, TType::Struct);
    let b = w.struct_begin();
    w.field_begin(1, TType::Struct);
    let p = w.struct_begin();
    str_field(w, 1, service);
    if !ptags.is_empty() {
        write_tags(w, 2, ptags);
    }
    w.struct_end(p);
    w.field_begin(2, TType::List);
    w.list_begin(TType::Struct, spans.len());
    for s in spans {
        write_span(w, s);
    }
    i64_field(w, 3, 99);
    w.struct_end(b);
    w.struct_end(args);
}

/// The same packet in both protocols.
fn packets(service: &[u8], ptags: &Tags, spans: &[SpanSpec]) -> [(Protocol, Vec<u8>); 2] {
    let mut c = CompactWriter::new();
    write_emit_batch(&mut c, service, ptags, spans);
    let mut b = BinaryWriter::new();
    write_emit_batch(&mut b, service, ptags, spans);
    [
        (Protocol::Compact, c.into_bytes()),
        (Protocol::Binary, b.into_bytes()),
    ]
}

fn agent_tags() -> Vec<pb::KeyValue> {
    vec![pb::KeyValue {
        key: "zone".into(),
        v_str: "z1".into(),
        ..Default::default()
    }]
}

/// The properties every packet must have (module docs); returns the direct path's spans
/// and the model path's `pb::Span`s (process removed) when the packet decodes.
fn check(protocol: Protocol, bytes: &[u8]) -> Option<(Vec<pb::Span>, Vec<pb::Span>)> {
    let model = decode_emit_batch(bytes, protocol);
    let direct = decode_emit_batch_to_api_v2(bytes, protocol);
    let (model, direct) = match (model, direct) {
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "both paths reject, with the same error");
            return None;
        }
        (Ok(m), Ok(d)) => (m, d),
        (m, d) => panic!(
            "paths disagree: model {m:?}, direct {:?}",
            d.map(|b| b.len())
        ),
    };
    assert_eq!(direct.len(), model.len());

    let process = direct.process_proto();
    if let Some(first) = model.first() {
        assert_eq!(process, api_v2::process_to_proto(&first.resource));
    }
    // The process bytes, with the agent's tags appended, are prost's.
    let extra = agent_tags();
    let mut with_extra = process.clone();
    with_extra.tags.extend(extra.iter().cloned());
    let mut out = Vec::new();
    direct.encode_process(&extra, &mut out);
    assert_eq!(out, with_extra.encode_to_vec());
    assert_eq!(direct.encoded_process_len(&extra), out.len());

    let spans = direct.spans_proto();
    for (s, p) in direct.spans().zip(&spans) {
        let mut out = Vec::new();
        s.encode(&mut out);
        assert_eq!(out, p.encode_to_vec(), "hand-written bytes are prost's");
        assert_eq!(s.encoded_len(), out.len());
        let mut field = Vec::new();
        s.encode_as_field(1, &mut field);
        let mut expect = Vec::new();
        prost::encoding::message::encode(1, p, &mut expect);
        assert_eq!(field, expect);
    }

    // What a collector makes of the direct path's batch is what the model path decoded.
    let collected = api_v2::batch_to_spans(pb::Batch {
        spans: spans.clone(),
        process: Some(process),
    })
    .expect("the direct path's batch is valid api_v2");
    assert_eq!(collected, model);

    let via_model = model
        .iter()
        .map(|s| {
            let mut p = api_v2::span_to_proto(s);
            p.process = None;
            p
        })
        .collect();
    Some((spans, via_model))
}

/// [`check`], plus field-for-field equality with the model path.
fn check_exact(protocol: Protocol, bytes: &[u8]) {
    let (direct, via_model) = check(protocol, bytes).expect("packet decodes");
    assert_eq!(direct, via_model, "{protocol:?}");
}

fn every_tag_type() -> Tags {
    vec![
        (b"s", V::Str(b"value")),
        (b"empty", V::Str(b"")),
        (b"d", V::Double(1.5)),
        (b"d0", V::Double(0.0)),
        (b"dneg", V::Double(-2.25)),
        (b"dmax", V::Double(f64::MAX)),
        (b"b", V::Bool(true)),
        (b"bf", V::Bool(false)),
        (b"l", V::Long(-7)),
        (b"l0", V::Long(0)),
        (b"lmax", V::Long(i64::MAX)),
        (b"x", V::Bin(&[0, 0xff, 7])),
        (b"x0", V::Bin(b"")),
        (b"unknown", V::Unknown(9)),
        (b"bad\xffkey", V::Str(b"bad\xc3")),
        (b"", V::Str(b"keyless")),
    ]
}

#[test]
fn every_tag_type_logs_and_ids_match_exactly() {
    let spans = vec![
        SpanSpec {
            tags: every_tag_type(),
            logs: vec![
                (
                    1_700_000_000_123_999,
                    vec![(b"event", V::Str(b"retry")), (b"attempt", V::Long(2))],
                ),
                (1_700_000_000_124_000, every_tag_type()),
                (0, vec![]),
            ],
            ..SpanSpec::default()
        },
        // A 64-bit trace ID, no flags, an empty operation name, a zero span ID.
        SpanSpec {
            high: 0,
            low: 42,
            span_id: 0,
            flags: 0,
            op: b"",
            start: 0,
            duration: 0,
            ..SpanSpec::default()
        },
        // Flags and IDs with the sign bit set.
        SpanSpec {
            high: -1,
            low: i64::MIN,
            span_id: -2,
            flags: -1,
            ..SpanSpec::default()
        },
    ];
    for (protocol, bytes) in packets(b"frontend", &every_tag_type(), &spans) {
        check_exact(protocol, &bytes);
    }
}

#[test]
fn references_and_parent_span_id() {
    let (low, high) = (0x11, 0x22);
    let base = SpanSpec {
        low,
        high,
        ..SpanSpec::default()
    };
    let exact = vec![
        // parentSpanId alone becomes a first CHILD_OF reference.
        SpanSpec {
            parent: 0x44,
            ..base.clone()
        },
        // …not repeated when a CHILD_OF reference already names it.
        SpanSpec {
            parent: 0x44,
            refs: vec![(CHILD_OF, low, high, 0x44), (FOLLOWS_FROM, 1, 2, 3)],
            ..base.clone()
        },
        // …added first when only a FOLLOWS_FROM reference names it.
        SpanSpec {
            parent: 0x44,
            refs: vec![(FOLLOWS_FROM, low, high, 0x44)],
            ..base.clone()
        },
        // …added when the CHILD_OF reference is to another trace.
        SpanSpec {
            parent: 0x44,
            refs: vec![(CHILD_OF, low, 0, 0x44)],
            ..base.clone()
        },
        // Unknown reference types are sent as FOLLOWS_FROM with a warning.
        SpanSpec {
            refs: vec![(CHILD_OF, low, high, 0x45), (7, 8, 9, 10)],
            ..base.clone()
        },
        // References with zero IDs and 64-bit trace IDs.
        SpanSpec {
            refs: vec![(FOLLOWS_FROM, 0, 0, 0), (CHILD_OF, 5, 0, 6)],
            ..base.clone()
        },
    ];
    for (protocol, bytes) in packets(b"svc", &vec![], &exact) {
        check_exact(protocol, &bytes);
        let direct = decode_emit_batch_to_api_v2(&bytes, protocol).unwrap();
        let spans = direct.spans_proto();
        assert_eq!(spans[0].references.len(), 1);
        assert_eq!(spans[0].references[0].span_id, 0x44u64.to_be_bytes());
        assert_eq!(spans[1].references.len(), 2);
        assert_eq!(spans[2].references.len(), 2);
        assert_eq!(
            spans[4].references[1].ref_type,
            pb::SpanRefType::FollowsFrom as i32
        );
        assert_eq!(
            spans[4].warnings,
            vec!["unknown reference type 7 read as follows_from".to_string()]
        );
    }

    // The model path moves the parent reference first; the direct path keeps the client's
    // order. A collector reads the same span from both (`check`).
    let reordered = vec![SpanSpec {
        parent: 0x44,
        refs: vec![(FOLLOWS_FROM, 1, 2, 3), (CHILD_OF, low, high, 0x44)],
        ..base
    }];
    for (protocol, bytes) in packets(b"svc", &vec![], &reordered) {
        check(protocol, &bytes).unwrap();
    }
}

#[test]
fn negative_and_huge_times_are_clamped_alike() {
    let spans = vec![
        SpanSpec {
            start: -5,
            duration: -1,
            logs: vec![(-3, vec![(b"k", V::Long(1))]), (7, vec![])],
            refs: vec![(3, 1, 1, 1)],
            ..SpanSpec::default()
        },
        SpanSpec {
            start: i64::MAX,
            duration: i64::MAX,
            logs: vec![(i64::MAX, vec![])],
            ..SpanSpec::default()
        },
        // The end saturates, shortening the duration.
        SpanSpec {
            start: (u64::MAX / 1000 - 10) as i64,
            duration: 1_000,
            ..SpanSpec::default()
        },
    ];
    for (protocol, bytes) in packets(b"svc", &vec![], &spans) {
        check_exact(protocol, &bytes);
        let direct = decode_emit_batch_to_api_v2(&bytes, protocol).unwrap();
        let first = &direct.spans_proto()[0];
        assert_eq!(first.start_time, Some(Default::default()));
        assert_eq!(first.warnings.len(), 4, "{:?}", first.warnings);
    }
}

#[test]
fn special_tags_reach_the_collector_unchanged_in_meaning() {
    // The model path lifts these into kind/status/scope and writes them back at the end of
    // the tags (some respelled); the direct path forwards them as sent.
    let tags: Tags = vec![
        (b"span.kind", V::Str(b"SERVER")),
        (b"http.method", V::Str(b"GET")),
        (b"error", V::Str(b"TRUE")),
        (b"otel.status_code", V::Str(b"ERROR")),
        (b"otel.status_description", V::Long(5)),
        (b"w3c.tracestate", V::Str(b"a=b")),
        (b"otel.library.name", V::Str(b"lib")),
        (b"otel.scope.version", V::Str(b"1.0")),
        (b"error", V::Bool(false)),
    ];
    let spans = vec![
        SpanSpec {
            tags: tags.clone(),
            logs: vec![(9, vec![(b"k", V::Long(1)), (b"event", V::Str(b"e"))])],
            ..SpanSpec::default()
        },
        SpanSpec {
            tags: vec![
                (b"span.kind", V::Str(b"weird")),
                (b"span.kind", V::Str(b"")),
            ],
            logs: vec![(9, vec![(b"event", V::Str(b""))])],
            ..SpanSpec::default()
        },
        SpanSpec {
            tags: vec![(b"otel.status_code", V::Str(b"ok"))],
            ..SpanSpec::default()
        },
    ];
    for (protocol, bytes) in packets(b"svc", &tags, &spans) {
        let (direct, _) = check(protocol, &bytes).unwrap();
        assert_eq!(direct[0].tags[0].key, "span.kind");
        assert_eq!(direct[0].tags[0].v_str, "SERVER");
    }
}

#[test]
fn several_spans_empty_batches_and_process_without_tags() {
    let many: Vec<SpanSpec> = (0..40)
        .map(|i| SpanSpec {
            span_id: i + 1,
            parent: i,
            tags: vec![(b"i", V::Long(i))],
            ..SpanSpec::default()
        })
        .collect();
    for (protocol, bytes) in packets(b"svc", &vec![], &many) {
        check_exact(protocol, &bytes);
    }
    for (protocol, bytes) in packets(b"svc", &every_tag_type(), &[]) {
        check_exact(protocol, &bytes);
        let direct = decode_emit_batch_to_api_v2(&bytes, protocol).unwrap();
        assert!(direct.is_empty());
        assert_eq!(direct.service_name(), "svc");
        assert_eq!(direct.meta().seq_no, Some(99));
    }
}

#[test]
fn doubles_prost_treats_specially_encode_like_prost() {
    for d in [-0.0, f64::NAN, f64::INFINITY, f64::MIN_POSITIVE] {
        let spans = vec![SpanSpec {
            tags: vec![(b"d", V::Double(d))],
            ..SpanSpec::default()
        }];
        for (protocol, bytes) in packets(b"svc", &vec![], &spans) {
            let direct = decode_emit_batch_to_api_v2(&bytes, protocol).unwrap();
            let span = direct.spans().next().unwrap();
            let mut out = Vec::new();
            span.encode(&mut out);
            assert_eq!(out, span.to_proto().encode_to_vec(), "{d}");
            assert_eq!(span.encoded_len(), out.len());
        }
    }
}

/// Packets written by the model's encoder from internal spans, as a client library would.
fn model_packet(protocol: Protocol, n: u64, seed: u64) -> Vec<u8> {
    let resource = Arc::new(Resource {
        service_name: format!("svc-{seed}"),
        attributes: vec![
            KeyValue::new("host", "h"),
            KeyValue::new("n", seed as i64),
            KeyValue::new("f", 0.25),
        ],
        ..Resource::default()
    });
    let spans: Vec<Span> = (1..=n)
        .map(|i| Span {
            trace_id: TraceId(u128::from(seed) << 64 | u128::from(i)),
            span_id: SpanId(i),
            parent_span_id: SpanId(i.saturating_sub(1)),
            name: format!("op-{i}"),
            start_time_unix_nano: 1_700_000_000_000_000_000 + i * 1000,
            end_time_unix_nano: 1_700_000_000_000_000_000 + i * 3000,
            attributes: vec![
                KeyValue::new("k", "v"),
                KeyValue::new("b", true),
                KeyValue::new("x", sextant_model::AnyValue::Bytes(vec![1, 2])),
            ],
            events: vec![Event {
                time_unix_nano: 1_700_000_000_000_000_000 + i * 2000,
                name: "cache.miss".into(),
                attributes: vec![KeyValue::new("key", "item")],
                ..Event::default()
            }],
            resource: resource.clone(),
            ..Span::default()
        })
        .collect();
    encode_emit_batch(&resource, &spans, &BatchMeta::default(), protocol, 7)
}

#[test]
fn model_encoded_packets_match_exactly() {
    for protocol in [Protocol::Compact, Protocol::Binary] {
        for n in [0, 1, 50] {
            check_exact(protocol, &model_packet(protocol, n, n * 31));
        }
    }
}

#[test]
fn bare_batches_decode_too() {
    let resource = Resource {
        service_name: "svc".into(),
        ..Resource::default()
    };
    let span = Span {
        trace_id: TraceId(9),
        span_id: SpanId(8),
        name: "op".into(),
        ..Span::default()
    };
    for protocol in [Protocol::Compact, Protocol::Binary] {
        let bytes = encode_batch(
            &resource,
            std::slice::from_ref(&span),
            &BatchMeta::default(),
            protocol,
        );
        let direct = decode_batch_to_api_v2(&bytes, protocol).unwrap();
        let model = decode_batch(&bytes, protocol).unwrap();
        let mut expect = api_v2::span_to_proto(&model[0]);
        expect.process = None;
        assert_eq!(direct.spans_proto(), vec![expect]);
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Cut and overwritten packets: both paths agree on every outcome.
    #[test]
    fn damaged_packets_agree(
        binary in any::<bool>(),
        n in 1u64..6,
        seed in any::<u64>(),
        cut in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
    ) {
        let protocol = if binary { Protocol::Binary } else { Protocol::Compact };
        let mut packet = model_packet(protocol, n, seed);
        for (at, byte) in edits {
            let i = at.index(packet.len());
            packet[i] = byte;
        }
        check(protocol, &packet);
        let cut_at = cut.index(packet.len());
        check(protocol, &packet[..cut_at]);
    }

    #[test]
    fn random_bytes_agree(
        binary in any::<bool>(),
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let protocol = if binary { Protocol::Binary } else { Protocol::Compact };
        check(protocol, &bytes);
    }
}
