//! Decode throughput of the agent's UDP payload (`emitBatch`), on one core.
//!
//! Builds a batch shaped like a real jaeger-client flush — a process with the usual client
//! tags, spans with ~8 tags and 1–2 logs, as many as fit a 65,000-byte UDP packet (at most
//! 100) — then decodes it back-to-back for one second, five times per protocol, and prints
//! the median MB/s and spans/s. Decoding includes building every `Span` and dropping it.
//!
//! Two more cases per protocol measure the agent's work per packet: the model path
//! (decode, then `api_v2::span_to_proto` and protobuf-encode every span) and the direct path
//! (`decode_emit_batch_to_api_v2`, then encode every span straight from the packet).
//!
//! Run: `cargo bench -p sextant-model --bench thrift_decode [-- compact|binary]`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sextant_model::thrift::{
    decode_emit_batch, decode_emit_batch_to_api_v2, encode_emit_batch, BatchMeta, Protocol,
};
use sextant_model::*;

/// One measured case: decodes (and maybe encodes) the packet once, returns the span count.
type Case<'a> = Box<dyn FnMut() -> usize + 'a>;

const MAX_PACKET: usize = 65_000;
const MAX_SPANS: usize = 100;
const RUNS: usize = 5;
const RUN_TIME: Duration = Duration::from_secs(1);

fn process() -> Arc<Resource> {
    Arc::new(Resource {
        service_name: "frontend".into(),
        attributes: vec![
            KeyValue::new("jaeger.version", "Go-2.30.0"),
            KeyValue::new("hostname", "frontend-7d9c8b6f5-x2x9q"),
            KeyValue::new("ip", "10.42.3.17"),
            KeyValue::new("client-uuid", "6f1e3c2a9b8d7e01"),
        ],
        ..Default::default()
    })
}

fn span(process: &Arc<Resource>, i: u64) -> Span {
    let start = 1_700_000_000_000_000_000 + i * 1_370_000;
    let trace_id = TraceId::from_halves(0x4bf9_2f35_77b3_4da6, 0xa3ce_929d_0e0e_4736 + i / 10);
    let mut events = vec![Event {
        time_unix_nano: start + 150_000,
        name: "cache miss".into(),
        attributes: vec![KeyValue::new("key", format!("session:{i:08x}"))],
        ..Default::default()
    }];
    if i.is_multiple_of(2) {
        events.push(Event {
            time_unix_nano: start + 900_000,
            name: String::new(),
            attributes: vec![
                KeyValue::new("level", "info"),
                KeyValue::new("message", "upstream responded after retry"),
            ],
            ..Default::default()
        });
    }
    Span {
        trace_id,
        span_id: SpanId(0x00f0_67aa_0ba9_02b7 + i),
        parent_span_id: SpanId(if i.is_multiple_of(10) {
            0
        } else {
            0x00f0_67aa_0ba9_02b6 + i
        }),
        name: format!("HTTP GET /api/v1/customers/{}", i % 7),
        kind: SpanKind::Client,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 1_250_000 + i * 1000,
        attributes: vec![
            KeyValue::new("component", "net/http"),
            KeyValue::new("http.method", "GET"),
            KeyValue::new(
                "http.url",
                format!("http://customer.default.svc:8081/customer?id={}", 100 + i),
            ),
            KeyValue::new("http.status_code", 200i64),
            KeyValue::new("peer.service", "customer"),
            KeyValue::new("net.peer.port", 8081i64),
            KeyValue::new("sampler.param", 1.0),
        ],
        events,
        flags: 1,
        resource: process.clone(),
        ..Default::default()
    }
}

/// The largest batch (up to `MAX_SPANS`) whose packet fits `MAX_PACKET`.
fn payload(protocol: Protocol) -> (Vec<u8>, usize) {
    let p = process();
    let mut spans: Vec<Span> = (0..MAX_SPANS as u64).map(|i| span(&p, i)).collect();
    loop {
        let bytes = encode_emit_batch(&p, &spans, &BatchMeta::default(), protocol, 1);
        if bytes.len() <= MAX_PACKET || spans.len() <= 1 {
            return (bytes, spans.len());
        }
        spans.pop();
    }
}

fn main() {
    println!("thrift emitBatch decode, one core, median of {RUNS} runs of {RUN_TIME:?}");
    // `cargo bench` passes `--bench`; any other argument picks one protocol.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    for protocol in [Protocol::Compact, Protocol::Binary] {
        let name = format!("{protocol:?}").to_ascii_lowercase();
        if !only.is_empty() && !only.contains(&name) {
            continue;
        }
        let (bytes, span_count) = payload(protocol);
        let decoded = decode_emit_batch(&bytes, protocol).unwrap_or_default();
        assert_eq!(decoded.len(), span_count, "payload must decode");

        let packet = &bytes;
        let mut model_out: Vec<u8> = Vec::new();
        let mut direct_out: Vec<u8> = Vec::new();
        let cases: [(&str, Case<'_>); 3] = [
            (
                "decode to model",
                Box::new(move || {
                    decode_emit_batch(black_box(packet), protocol).map_or(0, |s| s.len())
                }),
            ),
            (
                "model → api_v2 bytes",
                Box::new(move || {
                    model_out.clear();
                    let spans = decode_emit_batch(black_box(packet), protocol).unwrap_or_default();
                    for span in &spans {
                        let mut pb = sextant_model::api_v2::span_to_proto(span);
                        pb.process = None;
                        prost::encoding::message::encode(1, &pb, &mut model_out);
                    }
                    black_box(model_out.len())
                }),
            ),
            (
                "direct → api_v2 bytes",
                Box::new(move || {
                    direct_out.clear();
                    let n = match decode_emit_batch_to_api_v2(black_box(packet), protocol) {
                        Ok(batch) => {
                            for span in batch.spans() {
                                span.encode_as_field(1, &mut direct_out);
                            }
                            batch.len()
                        }
                        Err(_) => 0,
                    };
                    black_box(direct_out.len());
                    n
                }),
            ),
        ];
        for (case, mut run) in cases {
            let mut rates: Vec<(f64, f64)> = (0..RUNS)
                .map(|_| {
                    let start = Instant::now();
                    let mut iterations = 0u64;
                    while start.elapsed() < RUN_TIME {
                        for _ in 0..16 {
                            black_box(run());
                        }
                        iterations += 16;
                    }
                    let secs = start.elapsed().as_secs_f64();
                    let mb_s = (bytes.len() as f64 * iterations as f64) / secs / 1e6;
                    let spans_s = (span_count as f64 * iterations as f64) / secs;
                    (mb_s, spans_s)
                })
                .collect();
            rates.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (mb_s, spans_s) = rates[RUNS / 2];
            println!(
                "{protocol:?} {case}: {span_count} spans, {} bytes/packet ({} bytes/span): \
                 {mb_s:.0} MB/s, {:.2} M spans/s, {:.0} ns/span",
                bytes.len(),
                bytes.len() / span_count,
                spans_s / 1e6,
                1e9 / spans_s,
            );
        }
    }
}
