//! Batching per process: spans decoded from many UDP packets of the same process (same
//! service and process tags, after `--agent.tags`) are joined into one `PostSpans` call,
//! sent when it reaches `--reporter.grpc.batch.max-spans` spans (or [`MAX_BATCH_BYTES`]),
//! or when its oldest span has waited `--reporter.grpc.batch.max-delay`.
//!
//! Each span is protobuf-encoded once, by the worker that decoded it, outside the lock, into
//! a per-thread scratch buffer; an open batch is just the encoded `spans` fields appended to
//! each other, keyed by the encoded process, and closing it adds the process field and the
//! request framing. A closed batch goes to the [`SendBuffer`]; if the buffer is full its
//! spans are dropped and counted.
//!
//! The UDP path ([`Batcher::add_api_v2`]) encodes straight from the thrift packet
//! ([`ApiV2Batch`]); [`Batcher::add`] takes internal-model spans.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use parking_lot::Mutex;
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};
use prost::Message;
use sextant_model::thrift::ApiV2Batch;
use sextant_model::{Resource, Span};
use sextant_proto::jaeger::api_v2 as pb;

use crate::metrics::{FORMAT, METRICS};
use crate::reporter::buffer::{ReadyBatch, SendBuffer};

/// A batch is closed before it grows past this, well under the collectors' default 4 MiB
/// gRPC message limit.
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;

/// `PostSpansRequest.batch` and, inside `Batch`, `spans` and `process` field numbers.
const REQUEST_BATCH: u32 = 1;
const BATCH_SPANS: u32 = 1;
const BATCH_PROCESS: u32 = 2;

/// A scratch buffer keeps at most this much capacity between packets, so one huge packet
/// does not pin memory in every worker thread.
const SCRATCH_KEEP: usize = 256 * 1024;

thread_local! {
    /// Per-thread scratch for the encoded process (the batch key) and spans of one packet:
    /// reused, so encoding a packet allocates nothing once the buffers have grown.
    static SCRATCH: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

pub struct Batcher {
    open: Mutex<HashMap<Bytes, Open>>,
    buffer: Arc<SendBuffer>,
    agent_tags: Vec<pb::KeyValue>,
    max_spans: usize,
    max_delay: Duration,
}

/// Bytes kept free at the front of an open batch for the request framing (the
/// `PostSpansRequest.batch` key and length: 1 + at most 5 bytes below 32 GiB), so closing a
/// batch writes its header in place instead of copying the spans behind one.
const HEADROOM: usize = 6;

struct Open {
    /// [`HEADROOM`] bytes, then the encoded `spans` fields.
    spans: BytesMut,
    count: usize,
    since: Instant,
}

impl Open {
    /// A batch with room for `expected` bytes of spans and process: the size the previous
    /// batch of the same process reached, so a steady stream never regrows (and recopies)
    /// its buffer.
    fn new(expected: usize) -> Self {
        let mut spans = BytesMut::with_capacity(HEADROOM.saturating_add(expected));
        spans.resize(HEADROOM, 0);
        Open {
            spans,
            count: 0,
            since: Instant::now(),
        }
    }

    fn spans_len(&self) -> usize {
        self.spans.len().saturating_sub(HEADROOM)
    }
}

impl Batcher {
    pub fn new(
        buffer: Arc<SendBuffer>,
        agent_tags: &[(String, String)],
        max_spans: usize,
        max_delay: Duration,
    ) -> Self {
        Batcher {
            open: Mutex::new(HashMap::new()),
            buffer,
            agent_tags: agent_tags
                .iter()
                .map(|(k, v)| pb::KeyValue {
                    key: k.clone(),
                    v_str: v.clone(),
                    ..pb::KeyValue::default()
                })
                .collect(),
            max_spans: max_spans.max(1),
            max_delay,
        }
    }

    /// Adds the spans of one packet decoded straight to api_v2 (the UDP path). A thrift
    /// batch has one process, so the whole packet goes to one per-process batch.
    pub fn add_api_v2(&self, batch: &ApiV2Batch<'_>) {
        if batch.is_empty() {
            return;
        }
        SCRATCH.with(|scratch| {
            // A nested borrow cannot happen (nothing below re-enters the batcher); should it
            // ever, fresh buffers keep it correct rather than panicking.
            let mut fresh = (Vec::new(), Vec::new());
            let mut guard = scratch.try_borrow_mut();
            let (key, spans) = match guard.as_deref_mut() {
                Ok(s) => s,
                Err(_) => &mut fresh,
            };
            key.clear();
            key.reserve(batch.encoded_process_len(&self.agent_tags));
            batch.encode_process(&self.agent_tags, key);
            let mut count = 0usize;
            spans.clear();
            for span in batch.spans() {
                span.encode_as_field(BATCH_SPANS, spans);
                count = count.saturating_add(1);
                if count >= self.max_spans || spans.len() >= MAX_BATCH_BYTES {
                    self.append(key, spans, count);
                    spans.clear();
                    count = 0;
                }
            }
            if count > 0 {
                self.append(key, spans, count);
            }
            for buf in [key, spans] {
                if buf.capacity() > SCRATCH_KEEP {
                    *buf = Vec::new();
                }
            }
        });
    }

    /// Adds internal-model spans. Spans normally share one process (one `Arc<Resource>`);
    /// runs of spans with the same process are encoded together.
    pub fn add(&self, spans: &[Span]) {
        let mut rest = spans;
        while let Some(first) = rest.first() {
            let run = rest
                .iter()
                .position(|s| !same_process(&s.resource, &first.resource))
                .unwrap_or(rest.len());
            let (group, tail) = rest.split_at(run);
            self.add_group(&first.resource, group);
            rest = tail;
        }
    }

    fn add_group(&self, resource: &Resource, spans: &[Span]) {
        let mut process = sextant_model::api_v2::process_to_proto(resource);
        process.tags.extend(self.agent_tags.iter().cloned());
        let key = process.encode_to_vec();
        let mut current = Vec::new();
        let mut count = 0usize;
        for span in spans {
            let mut pb_span = sextant_model::api_v2::span_to_proto(span);
            // The process travels once per batch, as Jaeger's agent sends it.
            pb_span.process = None;
            prost::encoding::message::encode(BATCH_SPANS, &pb_span, &mut current);
            count = count.saturating_add(1);
            if count >= self.max_spans || current.len() >= MAX_BATCH_BYTES {
                self.append(&key, &current, count);
                current.clear();
                count = 0;
            }
        }
        if count > 0 {
            self.append(&key, &current, count);
        }
    }

    /// Appends `count` encoded spans to the open batch of `process`, closing it first if
    /// they would not fit and after if it is full.
    fn append(&self, process: &[u8], spans: &[u8], count: usize) {
        let mut full = Vec::new();
        {
            let mut open = self.open.lock();
            // Look up by slice first: the key is copied only for a new process.
            let process_field = field_len(BATCH_PROCESS, process.len());
            let entry = match open.get_mut(process) {
                Some(entry) => entry,
                None => open
                    .entry(Bytes::copy_from_slice(process))
                    .or_insert_with(|| Open::new(spans.len().saturating_add(process_field))),
            };
            if entry.count > 0
                && (entry.count.saturating_add(count) > self.max_spans
                    || entry.spans_len().saturating_add(spans.len()) > MAX_BATCH_BYTES)
            {
                let expected = entry.spans_len().saturating_add(process_field);
                full.push(std::mem::replace(entry, Open::new(expected)));
            }
            if entry.count == 0 {
                // The delay bound counts from a batch's first span.
                entry.since = Instant::now();
            }
            entry.spans.extend_from_slice(spans);
            entry.count = entry.count.saturating_add(count);
            if entry.count >= self.max_spans || entry.spans_len() >= MAX_BATCH_BYTES {
                let expected = entry.spans_len().saturating_add(process_field);
                full.push(std::mem::replace(entry, Open::new(expected)));
            }
        }
        for done in full {
            self.close(process, done);
        }
    }

    /// Closes batches older than the delay bound (`all`: every batch, at shutdown).
    pub fn flush_due(&self, all: bool) {
        let now = Instant::now();
        let due: Vec<(Bytes, Open)> = {
            let mut open = self.open.lock();
            let keys: Vec<Bytes> = open
                .iter()
                .filter(|(_, o)| all || now.saturating_duration_since(o.since) >= self.max_delay)
                .map(|(k, _)| k.clone())
                .collect();
            keys.into_iter()
                .filter_map(|k| open.remove(&k).map(|o| (k, o)))
                .collect()
        };
        // An entry left empty after its batch filled is just dropped: it only kept the size hint.
        for (key, done) in due.into_iter().filter(|(_, o)| o.count > 0) {
            self.close(&key, done);
        }
    }

    /// Frames `PostSpansRequest { batch: Batch { spans…, process } }` and queues it.
    fn close(&self, process: &[u8], open: Open) {
        let process_field = field_len(BATCH_PROCESS, process.len());
        let batch_len = open.spans_len().saturating_add(process_field);
        let header_len = prost::encoding::key_len(REQUEST_BATCH)
            .saturating_add(encoded_len_varint(batch_len as u64));
        let count = open.count;
        let mut out = open.spans;
        match HEADROOM.checked_sub(header_len) {
            Some(start) => {
                let mut header = &mut out[start..HEADROOM];
                encode_key(REQUEST_BATCH, WireType::LengthDelimited, &mut header);
                encode_varint(batch_len as u64, &mut header);
                out.advance(start);
            }
            // Unreachable below 32 GiB; framed by copying rather than trusting that.
            None => {
                let mut framed = BytesMut::with_capacity(field_len(REQUEST_BATCH, batch_len));
                encode_key(REQUEST_BATCH, WireType::LengthDelimited, &mut framed);
                encode_varint(batch_len as u64, &mut framed);
                framed.extend_from_slice(out.get(HEADROOM..).unwrap_or_default());
                out = framed;
            }
        }
        encode_key(BATCH_PROCESS, WireType::LengthDelimited, &mut out);
        encode_varint(process.len() as u64, &mut out);
        out.extend_from_slice(process);
        let batch = ReadyBatch {
            request: out.freeze(),
            spans: count,
        };
        let spans = batch.spans;
        if self.buffer.push(batch).is_err() {
            let n = u64::try_from(spans).unwrap_or(u64::MAX);
            METRICS.buffer_dropped_spans.inc_by(n);
            METRICS
                .spans_failures
                .with_label_values(&[FORMAT])
                .inc_by(n);
            METRICS.batches_failures.with_label_values(&[FORMAT]).inc();
            tracing::debug!(spans, "send buffer full; batch dropped");
        }
        METRICS
            .buffer_bytes
            .set(i64::try_from(self.buffer.bytes()).unwrap_or(i64::MAX));
    }
}

fn same_process(a: &Arc<Resource>, b: &Arc<Resource>) -> bool {
    Arc::ptr_eq(a, b) || a == b
}

/// Bytes of a length-delimited field with `len` bytes of payload.
fn field_len(tag: u32, len: usize) -> usize {
    prost::encoding::key_len(tag)
        .saturating_add(encoded_len_varint(len as u64))
        .saturating_add(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_model::{KeyValue, SpanId, TraceId};

    fn spans(service: &str, n: u64) -> Vec<Span> {
        let resource = Arc::new(Resource {
            service_name: service.into(),
            attributes: vec![KeyValue::new("host", "h1")],
            ..Resource::default()
        });
        (1..=n)
            .map(|i| Span {
                trace_id: TraceId(7),
                span_id: SpanId(i),
                name: format!("op{i}"),
                resource: resource.clone(),
                ..Span::default()
            })
            .collect()
    }

    fn decode(b: &ReadyBatch) -> pb::Batch {
        pb::PostSpansRequest::decode(b.request.clone())
            .unwrap()
            .batch
            .unwrap()
    }

    #[tokio::test]
    async fn joins_packets_of_one_process_and_splits_at_max_spans() {
        let buffer = Arc::new(SendBuffer::new(1 << 20));
        let tags = vec![("zone".to_string(), "z1".to_string())];
        let b = Batcher::new(buffer.clone(), &tags, 5, Duration::from_secs(60));
        b.add(&spans("a", 3));
        b.add(&spans("b", 1));
        assert_eq!(buffer.bytes(), 0, "nothing full yet");
        b.add(&spans("a", 3)); // 3 + 3 > 5: the open 3 are closed, the new 3 stay open
        let first = buffer.pop().await.unwrap();
        assert_eq!(first.spans, 3);
        let batch = decode(&first);
        let process = batch.process.unwrap();
        assert_eq!(process.service_name, "a");
        assert_eq!(process.tags.len(), 2, "own tag plus the agent tag");
        assert_eq!(process.tags[1].key, "zone");
        assert!(batch.spans.iter().all(|s| s.process.is_none()));
        b.flush_due(true);
        let mut rest = [buffer.pop().await.unwrap(), buffer.pop().await.unwrap()];
        rest.sort_by_key(|r| r.spans);
        assert_eq!(rest[0].spans, 1);
        assert_eq!(decode(&rest[0]).process.unwrap().service_name, "b");
        assert_eq!(rest[1].spans, 3);
        assert_eq!(buffer.bytes(), 0);
    }

    #[tokio::test]
    async fn one_big_packet_is_split_and_the_delay_bound_flushes() {
        let buffer = Arc::new(SendBuffer::new(1 << 20));
        let b = Batcher::new(buffer.clone(), &[], 4, Duration::from_millis(1));
        b.add(&spans("a", 10));
        assert_eq!(buffer.pop().await.unwrap().spans, 4);
        assert_eq!(buffer.pop().await.unwrap().spans, 4);
        std::thread::sleep(Duration::from_millis(2));
        b.flush_due(false);
        let last = buffer.pop().await.unwrap();
        assert_eq!(last.spans, 2);
        assert_eq!(decode(&last).spans.len(), 2);
    }

    #[tokio::test]
    async fn direct_path_sends_the_same_request_as_the_model_path() {
        use sextant_model::thrift::{
            decode_emit_batch, decode_emit_batch_to_api_v2, encode_emit_batch, BatchMeta, Protocol,
        };
        let tags = vec![("zone".to_string(), "z1".to_string())];
        let sent = spans("a", 7);
        for protocol in [Protocol::Compact, Protocol::Binary] {
            let packet =
                encode_emit_batch(&sent[0].resource, &sent, &BatchMeta::default(), protocol, 1);
            let mut requests = Vec::new();
            for direct in [false, true] {
                let buffer = Arc::new(SendBuffer::new(1 << 20));
                // max 3 spans: the packet is split into 3 + 3 + 1 on both paths.
                let b = Batcher::new(buffer.clone(), &tags, 3, Duration::from_secs(60));
                if direct {
                    b.add_api_v2(&decode_emit_batch_to_api_v2(&packet, protocol).unwrap());
                } else {
                    b.add(&decode_emit_batch(&packet, protocol).unwrap());
                }
                b.flush_due(true);
                let mut out = Vec::new();
                for _ in 0..3 {
                    let r = buffer.pop().await.unwrap();
                    out.push((r.spans, r.request));
                }
                assert_eq!(buffer.bytes(), 0);
                requests.push(out);
            }
            assert_eq!(requests[0], requests[1], "{protocol:?}");
        }
    }

    #[tokio::test]
    async fn full_buffer_drops_and_counts() {
        let buffer = Arc::new(SendBuffer::new(10));
        let b = Batcher::new(buffer.clone(), &[], 100, Duration::from_secs(60));
        let before = METRICS.buffer_dropped_spans.get();
        b.add(&spans("a", 3));
        b.flush_due(true);
        assert!(METRICS.buffer_dropped_spans.get() >= before + 3);
        assert_eq!(buffer.bytes(), 0);
    }
}
