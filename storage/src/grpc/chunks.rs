//! Splits the spans of `GetTrace` / `FindTraces` answers into `SpansResponseChunk` messages.
//!
//! A chunk holds at most [`MAX_CHUNK_SPANS`] spans (Jaeger's server sends 1000) and, unless a
//! single span is larger, at most [`MAX_CHUNK_BYTES`] encoded, so that one chunk stays well
//! under gRPC's default 4 MiB message limit of a Jaeger (Go) client. Spans are converted
//! lazily, chunk by chunk, as the response stream is polled: a large answer is never held
//! twice (internal and wire form) in memory. Traces follow each other in order and a chunk
//! may end one trace and start the next; clients (Jaeger's too) group spans by trace ID.

use prost::Message;
use sextant_model::api_v2::span_to_proto;
use sextant_model::{Span, Trace};
use sextant_proto::jaeger::api_v2 as model_pb;
use sextant_proto::jaeger::storage::v1 as pb;
use tonic::Status;

/// Spans per chunk, as Jaeger's `spanBatchSize`.
pub(crate) const MAX_CHUNK_SPANS: usize = 1000;
/// Encoded bytes per chunk (a single larger span still travels, alone).
pub(crate) const MAX_CHUNK_BYTES: usize = 3 * 1024 * 1024;

/// The response stream of chunks over some traces.
pub type ChunkStream = futures::stream::Iter<Chunks>;

pub(crate) fn stream(traces: Vec<Trace>) -> ChunkStream {
    futures::stream::iter(Chunks::new(traces))
}

/// Iterator of chunks; see the module docs.
pub struct Chunks {
    spans: Box<dyn Iterator<Item = Span> + Send>,
    /// A converted span that did not fit into the previous chunk.
    carried: Option<model_pb::Span>,
}

impl Chunks {
    fn new(traces: Vec<Trace>) -> Self {
        Chunks {
            spans: Box::new(traces.into_iter().flat_map(|t| t.spans)),
            carried: None,
        }
    }
}

impl Iterator for Chunks {
    type Item = Result<pb::SpansResponseChunk, Status>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut chunk = Vec::new();
        let mut bytes = 0usize;
        while chunk.len() < MAX_CHUNK_SPANS {
            let span = match self.carried.take() {
                Some(s) => s,
                None => match self.spans.next() {
                    Some(s) => span_to_proto(&s),
                    None => break,
                },
            };
            let size = span.encoded_len();
            if !chunk.is_empty() && bytes.saturating_add(size) > MAX_CHUNK_BYTES {
                self.carried = Some(span);
                break;
            }
            bytes = bytes.saturating_add(size);
            chunk.push(span);
        }
        // Never send an empty chunk: an empty answer is an empty stream.
        (!chunk.is_empty()).then_some(Ok(pb::SpansResponseChunk { spans: chunk }))
    }
}

#[cfg(test)]
mod tests {
    use sextant_model::{KeyValue, SpanId, TraceId};

    use super::*;

    fn trace(id: u128, spans: u64, attr_bytes: usize) -> Trace {
        Trace {
            spans: (1..=spans)
                .map(|n| Span {
                    trace_id: TraceId(id),
                    span_id: SpanId(n),
                    attributes: vec![KeyValue::new("blob", "x".repeat(attr_bytes))],
                    ..Default::default()
                })
                .collect(),
        }
    }

    fn sizes(traces: Vec<Trace>) -> Vec<usize> {
        Chunks::new(traces)
            .map(|c| c.map(|c| c.spans.len()).unwrap_or(0))
            .collect()
    }

    #[test]
    fn chunks_are_bounded_by_count_and_bytes() {
        assert_eq!(sizes(vec![trace(1, 2_500, 0)]), vec![1000, 1000, 500]);
        // 1 MiB spans: three fit under 3 MiB only without their framing, so two per chunk.
        assert_eq!(sizes(vec![trace(1, 5, 1 << 20)]), vec![2, 2, 1]);
        // A span above the byte budget still goes, alone.
        assert_eq!(sizes(vec![trace(1, 2, 4 << 20)]), vec![1, 1]);
        assert!(sizes(Vec::new()).is_empty());
        assert!(sizes(vec![Trace::default()]).is_empty());
    }

    #[test]
    fn traces_follow_each_other_in_order() {
        let got: Vec<(Vec<u8>, Vec<u8>)> = Chunks::new(vec![trace(7, 2, 0), trace(9, 1, 0)])
            .flat_map(|c| c.map(|c| c.spans).unwrap_or_default())
            .map(|s| (s.trace_id, s.span_id))
            .collect();
        let id = |t: u128, s: u64| {
            (
                TraceId(t).to_bytes().to_vec(),
                SpanId(s).to_bytes().to_vec(),
            )
        };
        assert_eq!(got, vec![id(7, 1), id(7, 2), id(9, 1)]);
    }
}
