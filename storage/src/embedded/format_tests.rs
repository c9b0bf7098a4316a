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
use super::segment_write::{write_segment, Edges, WriteOptions};
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
        decode_spans(&encode_spans::<Span>(&[])).unwrap(),
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
    let spans = sample();
    write_segment(
        dir,
        1,
        7,
        spans.iter().collect(),
        &edges,
        WriteOptions::default(),
    )
    .unwrap()
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

/// `testdata/v1.seg` was written by the version 1 writer from `sample()` (segment 1,
/// partition 7, edges a→b at 10, 20, 30): this build must keep reading it, every index
/// included.
#[test]
fn version_1_segments_are_still_read() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/embedded/testdata/v1.seg");
    let old = Segment::open(&path, 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let new = Segment::open(&write_sample(dir.path()), 2).unwrap();
    assert_eq!(old.span_count, new.span_count);
    let cache = super::cache::BlockCache::new(1000);
    for t in 1..=20u128 {
        let (a, b) = (old.trace_ordinal(TraceId(t)), new.trace_ordinal(TraceId(t)));
        assert_eq!(a, b);
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(cache.trace(&old, a).unwrap(), cache.trace(&new, b).unwrap());
    }
    for (service, op) in [("", ""), ("svc-0", ""), ("svc-1", "op-1"), ("", "op-2")] {
        assert_eq!(
            old.stat_posting(service, op).unwrap(),
            new.stat_posting(service, op).unwrap(),
            "{service}/{op}"
        );
    }
    for (key, value) in [("host", "h1"), ("s", "t.*"), ("long", "x+"), ("i", "-42")] {
        let m = ValueMatcher::new(value).unwrap();
        let got = old.tag_ordinals(key, &m).unwrap();
        assert!(!got.is_empty(), "{key}={value}");
        assert_eq!(got, new.tag_ordinals(key, &m).unwrap(), "{key}={value}");
    }
    assert_eq!(old.edges().unwrap(), new.edges().unwrap());
}

/// Postings up to the inline limit live in the dictionary, longer ones in the file; a
/// trace's service/operation stats survive the relative encoding exactly.
#[test]
fn inline_and_file_postings_and_stats_round_trip() {
    use super::segment_write::INLINE_POSTING;
    let mut spans = Vec::new();
    for t in 1..=(INLINE_POSTING as u128 + 3) {
        for i in 1..=3u64 {
            let mut s = rich(t, i, 0, 1_000_000_000 * t as u64 + 7 * i);
            // Value shared by the first `n` traces, for n around the inline limit.
            for n in [1, INLINE_POSTING, INLINE_POSTING + 1] {
                if t as usize <= n {
                    s.attributes
                        .push(KeyValue::new(format!("first-{n}"), "yes"));
                }
            }
            s.end_time_unix_nano = s.start_time_unix_nano + 1000 * i;
            spans.push(s);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let seg = Segment::open(
        &write_segment(
            dir.path(),
            1,
            0,
            spans.iter().collect(),
            &Edges::new(),
            WriteOptions::default(),
        )
        .unwrap(),
        1,
    )
    .unwrap();
    for n in [1, INLINE_POSTING, INLINE_POSTING + 1] {
        let got = seg
            .tag_ordinals(&format!("first-{n}"), &ValueMatcher::new("yes").unwrap())
            .unwrap();
        assert_eq!(got, (0..n as u32).collect::<Vec<_>>());
    }
    for (service, op) in [("", ""), ("svc-1", ""), ("svc-0", "op-2")] {
        for (ord, st) in seg.stat_posting(service, op).unwrap() {
            let trace = TraceId(u128::from(ord) + 1);
            let mine: Vec<&Span> = spans
                .iter()
                .filter(|s| s.trace_id == trace)
                .filter(|s| service.is_empty() || s.service_name() == service)
                .filter(|s| op.is_empty() || s.name == op)
                .collect();
            assert_eq!(st.count, mine.len() as u64);
            let starts = mine.iter().map(|s| s.start_time_unix_nano);
            let durs = mine.iter().map(|s| s.duration_nanos());
            assert_eq!(st.min_start, starts.clone().min().unwrap());
            assert_eq!(st.max_start, starts.max().unwrap());
            assert_eq!(st.min_dur, durs.clone().min().unwrap());
            assert_eq!(st.max_dur, durs.max().unwrap());
        }
    }
}
