//! The agent's UDP payload: one Thrift message calling `Agent.emitBatch(1: jaeger.Batch)`
//! (agent.thrift), compact protocol on port 6831 and binary on 6832.
//!
//! `emitBatch` is declared `oneway`; Java and Node clients send ONEWAY messages, while Go's
//! Thrift client sends CALL for the same method, so both are accepted. `emitZipkinBatch`
//! (Zipkin v1 thrift spans over UDP) is recognised and refused with a clear error instead of
//! being misread as a Jaeger batch.

use super::jaeger::{read_batch, write_batch, BatchMeta, DecodedBatch};
use super::protocol::*;
use crate::span::Resource;
use crate::DecodeError;

pub const EMIT_BATCH: &str = "emitBatch";
pub const EMIT_ZIPKIN_BATCH: &str = "emitZipkinBatch";

pub(crate) fn read_emit_batch<'a, R: ProtocolReader<'a>>(
    r: &mut R,
) -> Result<DecodedBatch, DecodeError> {
    read_emit_batch_with(r, read_batch)
}

/// The `emitBatch` envelope around `read_batch`, whatever the batch is decoded into (the
/// internal model here, api_v2 protobuf for the agent's forwarding path).
pub(crate) fn read_emit_batch_with<'a, R: ProtocolReader<'a>, B>(
    r: &mut R,
    read_batch: impl Fn(&mut R) -> Result<B, DecodeError>,
) -> Result<B, DecodeError> {
    let header = r.read_message_begin()?;
    if header.name == EMIT_ZIPKIN_BATCH.as_bytes() {
        return Err(malformed("zipkin batches over UDP not supported"));
    }
    if header.name != EMIT_BATCH.as_bytes() {
        let shown: String = String::from_utf8_lossy(header.name)
            .chars()
            .take(64)
            .collect();
        return Err(malformed(format!("unknown agent method {shown:?}")));
    }
    if !matches!(header.kind, MessageType::Oneway | MessageType::Call) {
        return Err(malformed(format!(
            "emitBatch sent as a {:?} message",
            header.kind
        )));
    }
    // The arguments struct: field 1 is the batch.
    let token = r.struct_begin();
    let mut batch = None;
    while let Some(f) = r.field_begin()? {
        match (f.id, f.ttype) {
            (1, TType::Struct) => batch = Some(read_batch(r)?),
            (_, t) => skip(r, t)?,
        }
    }
    r.struct_end(token);
    batch.ok_or_else(|| malformed("emitBatch without a batch argument"))
}

pub(crate) fn write_emit_batch<W: ProtocolWriter + ?Sized>(
    w: &mut W,
    process: &Resource,
    spans: &[crate::span::Span],
    meta: &BatchMeta,
    seq_id: i32,
) {
    w.message_begin(EMIT_BATCH, MessageType::Oneway, seq_id);
    let token = w.struct_begin();
    w.field_begin(1, TType::Struct);
    write_batch(w, process, spans, meta);
    w.struct_end(token);
}

#[cfg(test)]
mod tests {
    use super::super::{BinaryReader, BinaryWriter, CompactReader, CompactWriter};
    use super::*;
    use crate::span::{Span, SpanId, TraceId};

    fn sample() -> (Resource, Vec<Span>) {
        let process = Resource {
            service_name: "svc".into(),
            ..Default::default()
        };
        let span = Span {
            trace_id: TraceId(1),
            span_id: SpanId(2),
            name: "op".into(),
            ..Default::default()
        };
        (process, vec![span])
    }

    fn message(w: &mut dyn ProtocolWriter, name: &str, kind: MessageType, body: bool) {
        let (process, spans) = sample();
        w.message_begin(name, kind, 0);
        let t = w.struct_begin();
        if body {
            w.field_begin(1, TType::Struct);
            write_batch(w, &process, &spans, &BatchMeta::default());
        }
        w.struct_end(t);
    }

    fn decode(build: impl Fn(&mut dyn ProtocolWriter)) -> [Result<DecodedBatch, DecodeError>; 2] {
        let mut c = CompactWriter::new();
        build(&mut c);
        let mut b = BinaryWriter::new();
        build(&mut b);
        [
            read_emit_batch(&mut CompactReader::new(&c.into_bytes())),
            read_emit_batch(&mut BinaryReader::new(&b.into_bytes())),
        ]
    }

    #[test]
    fn oneway_and_call_are_both_accepted() {
        for kind in [MessageType::Oneway, MessageType::Call] {
            for r in decode(|w| message(w, EMIT_BATCH, kind, true)) {
                let spans = r.unwrap().spans;
                assert_eq!(spans.len(), 1);
                assert_eq!(spans[0].span_id, SpanId(2));
            }
        }
    }

    #[test]
    fn zipkin_batches_are_refused_clearly() {
        for r in decode(|w| message(w, EMIT_ZIPKIN_BATCH, MessageType::Oneway, false)) {
            let e = r.unwrap_err().to_string();
            assert!(e.contains("zipkin batches over UDP not supported"), "{e}");
        }
    }

    #[test]
    fn other_methods_kinds_and_empty_args_are_errors() {
        for r in decode(|w| message(w, "getSamplingStrategy", MessageType::Call, true)) {
            assert!(r.unwrap_err().to_string().contains("unknown agent method"));
        }
        for r in decode(|w| message(w, EMIT_BATCH, MessageType::Reply, true)) {
            assert!(r.unwrap_err().to_string().contains("Reply"));
        }
        for r in decode(|w| message(w, EMIT_BATCH, MessageType::Oneway, false)) {
            assert!(r.unwrap_err().to_string().contains("without a batch"));
        }
    }
}
