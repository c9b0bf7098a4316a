//! Hostile length prefixes must be rejected before anything is sized from them. This test
//! binary installs a counting allocator and records the largest single allocation, so it
//! holds one test only (tests in one binary run in parallel and would blur the count).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sextant_model::thrift::{
    decode_batch, decode_emit_batch, encode_emit_batch, BatchMeta, Protocol,
};
use sextant_model::{KeyValue, Resource, Span, SpanId, TraceId};

struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f`, returning the largest single allocation it made and how long it took.
fn measure(f: impl FnOnce()) -> (usize, Duration) {
    LARGEST.store(0, Ordering::Relaxed);
    let start = Instant::now();
    f();
    (LARGEST.load(Ordering::Relaxed), start.elapsed())
}

fn compact_header() -> Vec<u8> {
    let mut b = vec![0x82, 0x81, 0x01, 0x09];
    b.extend_from_slice(b"emitBatch");
    b
}

#[test]
fn hostile_length_prefixes_are_rejected_fast_without_allocating() {
    let mut cases: Vec<(&str, Protocol, Vec<u8>, bool)> = Vec::new();

    // Compact: args.1 → Batch.2 spans = list<struct> of 2^31 - 1 elements. 21 bytes.
    let mut b = compact_header();
    b.extend_from_slice(&[0x1c, 0x29, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07]);
    cases.push(("compact spans list", Protocol::Compact, b, true));

    // Compact: a 2^31 - 1 byte operation name inside a span.
    let mut b = compact_header();
    b.extend_from_slice(&[0x1c, 0x29, 0x1c, 0x58, 0xff, 0xff, 0xff, 0xff, 0x07, b'x']);
    cases.push(("compact string", Protocol::Compact, b, true));

    // Compact: an unknown map field claiming 2^31 - 1 entries, to be skipped.
    let mut b = compact_header();
    b.extend_from_slice(&[0x1c, 0xfb, 0xff, 0xff, 0xff, 0xff, 0x07, 0x88, 0x00]);
    cases.push(("compact skipped map", Protocol::Compact, b, true));

    // Binary bare Batch: spans = list<struct> of 2^31 - 1 elements. 13 bytes.
    let b = vec![0x0f, 0, 2, 0x0c, 0x7f, 0xff, 0xff, 0xff, 0x0c, 0, 1, 0, 0];
    cases.push(("binary spans list", Protocol::Binary, b, false));

    // Binary: a process tags list of 2^31 - 1 elements.
    let b = vec![0x0c, 0, 1, 0x0f, 0, 2, 0x0c, 0x7f, 0xff, 0xff, 0xff, 0, 0];
    cases.push(("binary tags list", Protocol::Binary, b, false));

    // Binary: a negative string length.
    let b = vec![0x0c, 0, 1, 0x0b, 0, 1, 0x80, 0, 0, 0, 0, 0];
    cases.push(("binary negative string", Protocol::Binary, b, false));

    for (name, protocol, bytes, emit) in cases {
        assert!(
            bytes.len() <= 24,
            "{name}: fixture is {} bytes",
            bytes.len()
        );
        let mut result = None;
        let (largest, took) = measure(|| {
            result = Some(if emit {
                decode_emit_batch(&bytes, protocol)
            } else {
                decode_batch(&bytes, protocol)
            });
        });
        assert!(matches!(result, Some(Err(_))), "{name}: decoded {result:?}");
        // Error messages allocate a little; nothing sized from the claimed length.
        assert!(largest < 4096, "{name}: allocated {largest} bytes at once");
        assert!(took < Duration::from_millis(100), "{name}: took {took:?}");
    }

    // A full-size packet whose spans list claims as many elements as there are bytes:
    // the reserved capacity stays within a small multiple of the packet.
    let mut b = compact_header();
    b.extend_from_slice(&[0x1c, 0x29, 0xfc]);
    let claimed = 60_000u32;
    let mut v = claimed;
    while v >= 0x80 {
        b.push((v as u8) | 0x80);
        v >>= 7;
    }
    b.push(v as u8);
    b.resize(b.len() + claimed as usize, 0x00);
    let (largest, _) = measure(|| {
        let _ = decode_emit_batch(&b, Protocol::Compact);
    });
    assert!(
        largest < 32 * b.len(),
        "reserved {largest} bytes for a {}-byte packet",
        b.len()
    );

    // And a real packet is not disturbed by the counting allocator.
    let span = Span {
        trace_id: TraceId(1),
        span_id: SpanId(2),
        name: "op".into(),
        attributes: vec![KeyValue::new("k", "v")],
        ..Default::default()
    };
    let process = Resource {
        service_name: "svc".into(),
        ..Default::default()
    };
    let bytes = encode_emit_batch(
        &process,
        &[span],
        &BatchMeta::default(),
        Protocol::Binary,
        0,
    );
    assert_eq!(
        decode_emit_batch(&bytes, Protocol::Binary).map(|s| s.len()),
        Ok(1)
    );
}
