//! Jaeger's Thrift formats: the `jaeger.thrift` `Batch` (HTTP collector endpoint
//! `POST /api/traces`, binary protocol) and the agent's UDP `emitBatch` message (compact on
//! 6831, binary on 6832), decoded straight into the internal [`Span`] and encoded back; and,
//! for the agent's forwarding hot path, [`to_api_v2`]: the same messages decoded straight
//! into Jaeger api_v2 protobuf (a 1:1 field mapping, no internal model in between).
//!
//! The codec is hand-written (no Thrift compiler is needed to build): [`protocol`] holds the
//! protocol-neutral reader/writer traits and skipping, [`compact`] and [`binary`] the two
//! wire protocols, `jaeger` the `Batch` mapping and `agent` the message envelope.
//!
//! Decoding is one pass over a borrowed buffer: strings are copied once, into the `Span`;
//! every length is checked against the input left before anything is sized from it; unknown
//! fields of any type are skipped up to [`protocol::MAX_DEPTH`] levels of nesting. Trailing
//! bytes after the batch are ignored, as Jaeger's deserializer does.

mod agent;
pub mod binary;
pub mod compact;
mod jaeger;
pub mod protocol;
pub mod to_api_v2;

use std::sync::Arc;

use crate::span::{Resource, Span};
use crate::DecodeError;

pub use agent::{EMIT_BATCH, EMIT_ZIPKIN_BATCH};
pub use binary::{BinaryReader, BinaryWriter};
pub use compact::{CompactReader, CompactWriter};
pub use jaeger::{BatchMeta, ClientStats, DecodedBatch};
pub use protocol::{MessageType, ProtocolReader, ProtocolWriter, TType};
pub use to_api_v2::{decode_batch_to_api_v2, decode_emit_batch_to_api_v2, ApiV2Batch, DirectSpan};

/// Which Thrift wire protocol a payload uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// The agent's UDP port 6831.
    Compact,
    /// The agent's UDP port 6832 and the collector's HTTP `/api/traces`.
    Binary,
}

/// Decodes a bare `Batch` struct into spans sharing one process.
pub fn decode_batch(bytes: &[u8], protocol: Protocol) -> Result<Vec<Span>, DecodeError> {
    decode_batch_with_meta(bytes, protocol).map(|b| b.spans)
}

/// Like [`decode_batch`], also returning the batch's `seqNo` and client `stats`.
pub fn decode_batch_with_meta(
    bytes: &[u8],
    protocol: Protocol,
) -> Result<DecodedBatch, DecodeError> {
    match protocol {
        Protocol::Compact => jaeger::read_batch(&mut CompactReader::new(bytes)),
        Protocol::Binary => jaeger::read_batch(&mut BinaryReader::new(bytes)),
    }
}

/// Decodes an agent UDP packet: an `emitBatch` message whose argument 1 is a `Batch`.
/// An `emitZipkinBatch` message is refused with a clear error.
pub fn decode_emit_batch(bytes: &[u8], protocol: Protocol) -> Result<Vec<Span>, DecodeError> {
    decode_emit_batch_with_meta(bytes, protocol).map(|b| b.spans)
}

/// Like [`decode_emit_batch`], also returning the batch's `seqNo` and client `stats`.
pub fn decode_emit_batch_with_meta(
    bytes: &[u8],
    protocol: Protocol,
) -> Result<DecodedBatch, DecodeError> {
    match protocol {
        Protocol::Compact => agent::read_emit_batch(&mut CompactReader::new(bytes)),
        Protocol::Binary => agent::read_emit_batch(&mut BinaryReader::new(bytes)),
    }
}

/// Encodes one `Batch` with `process` for all `spans` (their own `resource` is not
/// consulted; see [`encode_batches`] to split spans by process).
pub fn encode_batch(
    process: &Resource,
    spans: &[Span],
    meta: &BatchMeta,
    protocol: Protocol,
) -> Vec<u8> {
    match protocol {
        Protocol::Compact => {
            let mut w = CompactWriter::with_capacity(estimate(spans));
            jaeger::write_batch(&mut w, process, spans, meta);
            w.into_bytes()
        }
        Protocol::Binary => {
            let mut w = BinaryWriter::with_capacity(estimate(spans));
            jaeger::write_batch(&mut w, process, spans, meta);
            w.into_bytes()
        }
    }
}

/// Encodes spans as one `Batch` per distinct process (first-seen order), since a Thrift
/// batch carries a single process.
pub fn encode_batches(spans: &[Span], protocol: Protocol) -> Vec<Vec<u8>> {
    group_by_process(spans)
        .into_iter()
        .map(|(process, group)| encode_batch(&process, &group, &BatchMeta::default(), protocol))
        .collect()
}

/// Encodes an agent UDP packet: an ONEWAY `emitBatch` message carrying one `Batch`.
pub fn encode_emit_batch(
    process: &Resource,
    spans: &[Span],
    meta: &BatchMeta,
    protocol: Protocol,
    seq_id: i32,
) -> Vec<u8> {
    match protocol {
        Protocol::Compact => {
            let mut w = CompactWriter::with_capacity(estimate(spans));
            agent::write_emit_batch(&mut w, process, spans, meta, seq_id);
            w.into_bytes()
        }
        Protocol::Binary => {
            let mut w = BinaryWriter::with_capacity(estimate(spans));
            agent::write_emit_batch(&mut w, process, spans, meta, seq_id);
            w.into_bytes()
        }
    }
}

/// Splits spans by process (equal [`Resource`]s), keeping first-seen order within and
/// across groups.
pub fn group_by_process(spans: &[Span]) -> Vec<(Arc<Resource>, Vec<Span>)> {
    let mut groups: Vec<(Arc<Resource>, Vec<Span>)> = Vec::new();
    for span in spans {
        let found = groups
            .iter_mut()
            .find(|(p, _)| Arc::ptr_eq(p, &span.resource) || **p == *span.resource);
        match found {
            Some((_, group)) => group.push(span.clone()),
            None => groups.push((span.resource.clone(), vec![span.clone()])),
        }
    }
    groups
}

/// A starting buffer size: typical client spans encode to a few hundred bytes.
fn estimate(spans: &[Span]) -> usize {
    spans.len().saturating_mul(256).saturating_add(64)
}
