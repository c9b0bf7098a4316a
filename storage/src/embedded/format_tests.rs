//! Round trips and damage tests for the span encoding and the segment file: every field
//! survives, and truncated or corrupted bytes give errors, never panics.

use std::collections::BTreeMap;
use std::sync::Arc;

use sextant_model::{
    AnyValue, Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, Status, StatusCode,
    TraceId,
};

use super::codec::{decode_spans, encode_spans};
use super::segment::Segment;
use super::segment_write::{write_segment, Edges};
use crate::matcher::ValueMatcher;

fn rich(trace: u128, id: u64, parent: u64, start: u64) -> Span {
    Span {
        trace_id: TraceId(trace),
        span_id: SpanId(id),
        parent_span_id: SpanId(parent),
        trace_state: "k=v".into(),
        name: format!("op-{}", id % 3),
        kind: SpanKind::Server,
        start_time_unix_nano: start,
        end_time_unix_nano: start.wrapping_sub(5), // ends before it starts: kept as is
        attributes: vec![
            KeyValue::new("s", "text"),
            KeyValue::new("i", -42i64),
            KeyValue::new("d", 2.5),
            KeyValue::new("b", true),
            KeyValue::new("long", "x".repeat(200)),
            KeyValue {
                key: "nested".into(),
                value: AnyValue::Array(vec![
                    AnyValue::Bytes(vec![0, 1, 2]),
                    AnyValue::KvList(vec![KeyValue::new("in", AnyValue::Empty)]),
                ]),
            },
        ],
        dropped_attributes_count: 1,
        events: vec![Event {
            time_unix_nano: start + 7,
            name: "retry".into(),
            attributes: vec![KeyValue::new("n", 1i64)],
            dropped_attributes_count: 2,
        }],
        dropped_events_count: 3,
        links: vec![Link {
            trace_id: TraceId(99),
            span_id: SpanId(98),
            trace_state: "a=b".into(),
            attributes: vec![KeyValue::new("opentracing.ref_type", "follows_from")],
            dropped_attributes_count: 4,
            flags: 1,
        }],
        dropped_links_count: 5,
        status: Status {
            code: StatusCode::Error,
            message: "boom".into(),
        },
        flags: 0x301,
        resource: Arc::new(Resource {
            service_name: format!("svc-{}", id % 2),
            attributes: vec![KeyValue::new("host", "h1")],
            dropped_attributes_count: 6,
            schema_url: "https://schema".into(),
        }),
        scope: Arc::new(Scope {
            name: "lib".into(),
            version: "1.0".into(),
            attributes: vec![KeyValue::new("sc", "x")],
            dropped_attributes_count: 7,
            schema_url: "https://scope".into(),
        }),
        warnings: vec!["clamped".into()],
    }
}

fn sample() -> Vec<Span> {
    let mut spans = Vec::new();
    for t in 1..=20u128 {
        for i in 1..=6u64 {
            let parent = if i == 1 { 0 } else { i - 1 };
            spans.push(rich(t, i, parent, 1_000_000 + t as u64 * 100 + i));
        }
    }
    // The same span ID twice in one trace (Zipkin's shared spans), and a foreign parent.
    let mut dup = rich(1, 1, 0, 5);
    dup.name = "other".into();
    spans.push(dup);
    spans.push(rich(2, 77, 12345, 6));
    spans
}

#[test]
fn spans_round_trip_losslessly() {
    let spans = sample();
    assert_eq!(decode_spans(&encode_spans(&spans)).unwrap(), spans);
    assert_eq!(
        decode_spans(&encode_spans(&[])).unwrap(),
        Vec::<Span>::new()
    );
}

#[test]
fn damaged_span_payloads_are_errors_not_panics() {
    let bytes = encode_spans(&sample());
    for cut in 0..bytes.len() {
        assert!(decode_spans(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    // Flipped bytes may still decode to something; they must never panic.
    for i in (0..bytes.len()).step_by(7) {
        let mut bad = bytes.clone();
        bad[i] ^= 0xa5;
        let _ = decode_spans(&bad);
    }
    assert!(decode_spans(&[9]).is_err(), "unknown version");
}

fn write_sample(dir: &std::path::Path) -> std::path::PathBuf {
    let mut edges = Edges::new();
    edges.insert(("a".into(), "b".into()), vec![10, 20, 30]);
    write_segment(dir, 1, 7, sample(), &edges, 3).unwrap()
}

#[test]
fn segments_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_sample(dir.path());
    let seg = Segment::open(&path, 1).unwrap();
    assert_eq!(seg.partition, 7);
    assert_eq!(seg.span_count, sample().len() as u64);
    let cache = super::cache::BlockCache::new(1000);
    let ord = seg.trace_ordinal(TraceId(2)).unwrap();
    let got = cache.trace(&seg, ord).unwrap();
    let want: Vec<Span> = sample()
        .into_iter()
        .filter(|s| s.trace_id == TraceId(2))
        .collect();
    assert_eq!(got.len(), want.len());
    assert!(want.iter().all(|w| got.contains(w)));
    assert!(seg.trace_ordinal(TraceId(500)).is_none());
    assert_eq!(seg.services().collect::<Vec<_>>(), vec!["svc-0", "svc-1"]);
    let exact = ValueMatcher::new("h1").unwrap();
    assert_eq!(seg.tag_ordinals("host", &exact).unwrap().len(), 20);
    let regex = ValueMatcher::new("x+").unwrap();
    assert_eq!(
        seg.tag_ordinals("long", &regex).unwrap().len(),
        20,
        "truncated values are candidates"
    );
    let long = ValueMatcher::new(&"x".repeat(200)).unwrap();
    assert_eq!(seg.tag_ordinals("long", &long).unwrap().len(), 20);
    assert!(seg
        .tag_ordinals("host", &ValueMatcher::new("h2").unwrap())
        .unwrap()
        .is_empty());
    let posting = seg.stat_posting("svc-1", "op-1").unwrap();
    assert_eq!(posting.len(), 20);
    let mut deps = BTreeMap::new();
    seg.dependencies(15, 30, &mut deps).unwrap();
    assert_eq!(deps.get(&("a".to_string(), "b".to_string())), Some(&2));
}

#[test]
fn damaged_segments_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_sample(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    let bad_path = dir.path().join("bad.seg");
    for cut in [0, 7, 8, 100, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&bad_path, &bytes[..cut]).unwrap();
        assert!(Segment::open(&bad_path, 2).is_err(), "cut at {cut}");
    }
    let cache = super::cache::BlockCache::new(1000);
    for i in (0..bytes.len()).step_by(5) {
        let mut bad = bytes.clone();
        bad[i] ^= 0x5a;
        std::fs::write(&bad_path, &bad).unwrap();
        // Either the damage is caught at open, or reading what it touches fails cleanly.
        if let Ok(seg) = Segment::open(&bad_path, 1000 + i as u64) {
            for t in 1..=20u128 {
                if let Some(ord) = seg.trace_ordinal(TraceId(t)) {
                    let _ = cache.trace(&seg, ord);
                }
            }
            let _ = seg.tag_ordinals("host", &ValueMatcher::new("h1").unwrap());
            let _ = seg.tag_ordinals("s", &ValueMatcher::new("t.*").unwrap());
        }
    }
}
