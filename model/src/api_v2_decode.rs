//! A direct decoder for one api_v2 `jaeger.api_v2.Span` protobuf (a Kafka `jaeger-spans`
//! message) into the internal [`Span`], without building prost's `pb::Span` first.
//!
//! It is the Kafka ingester's hot path. Compared with `pb::Span::decode` followed by
//! [`crate::api_v2::span_from_proto`] it saves the intermediate allocations (ID byte
//! vectors, the strings of values a tag's type does not use) and, above all, decodes each
//! distinct `process` once: [`SpanDecoder`] keeps the resources it built, keyed by the
//! process's encoded bytes, and spans with the same bytes share one `Arc<Resource>`.
//!
//! Contract: for every input, the result equals the prost path's — the same span, or an
//! error where that path fails. That means following prost's decoding rules, not just the
//! protobuf spec's happy path:
//! * unknown fields of every wire type are skipped, groups included (nested up to prost's
//!   recursion limit of 100); a known field with the wrong wire type, wire types 6 and 7,
//!   field number 0, a key above `u32::MAX`, an unmatched end-group, a varint longer than
//!   10 bytes or overflowing 64 bits, and a length past the end are errors;
//! * strings must be UTF-8 in every occurrence, even one a later occurrence replaces;
//! * a scalar or bytes field given twice keeps the last value; a message field given twice
//!   (`start_time`, `process`, a log's `timestamp`) is merged field by field; repeated
//!   fields append. api_v2's `Span` has no repeated scalar numeric fields, so packed
//!   encodings only occur in unknown fields, which are skipped like any length-delimited
//!   field;
//! * integers are truncated as prost does (`int32`/`uint32`/enums take the low 32 bits).
//!
//! The field-level mapping (IDs, clamped times, tag types, references, the Jaeger → model
//! semantics) is [`crate::api_v2`]'s and [`crate::jaeger`]'s: both paths end in
//! `SpanParts::into_span`. Tests compare the two paths on generated spans and on mutated
//! and random bytes.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::api_v2::{
    ref_type_from_proto, span_id_from_bytes, trace_id_from_bytes, unknown_value_type, SpanParts,
};
use crate::error::DecodeError;
use crate::jaeger::JaegerRef;
use crate::protowire::{Wire, WireReader, RECURSION_LIMIT};
use crate::span::{AnyValue, KeyValue, Resource, Span};

const FORMAT: &str = "kafka protobuf span";
/// Distinct processes remembered; the cache is emptied when it is full. A process is one
/// service instance, so a few hundred cover a large deployment's steady state.
const MAX_CACHED_PROCESSES: usize = 512;
/// Processes larger than this are decoded every time rather than kept.
const MAX_CACHED_PROCESS_BYTES: usize = 4096;

fn malformed(detail: impl Into<String>) -> DecodeError {
    DecodeError::malformed(FORMAT, detail)
}

/// Decodes Jaeger api_v2 spans, remembering the processes it has seen. One per consumer;
/// not shared between threads.
#[derive(Default)]
pub struct SpanDecoder {
    processes: HashMap<Box<[u8]>, Arc<Resource>, BuildHasherDefault<FxHasher>>,
    /// The process of the previous span and its encoding: consecutive messages of a
    /// partition mostly come from one service instance (a collector writes a client's batch
    /// in order), and comparing bytes is cheaper than hashing them for the map.
    last_process: Option<Arc<Resource>>,
    last_process_bytes: Vec<u8>,
    empty_process: Arc<Resource>,
}

impl SpanDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// One encoded `jaeger.api_v2.Span` (with its `process` embedded) → span. A span without
    /// a process gets an empty one, as [`crate::api_v2::span_from_proto`] gives it.
    pub fn decode(&mut self, bytes: &[u8]) -> Result<Span, DecodeError> {
        let raw = RawSpan::decode(bytes)?;
        let process = match raw.process.as_slice() {
            [] => self.empty_process.clone(),
            [one] => self.process(one)?,
            // Given more than once: prost merges the occurrences in order.
            several => {
                let mut p = RawProcess::default();
                for bytes in several {
                    p.merge(bytes)?;
                }
                Arc::new(p.finish()?)
            }
        };
        let mut logs = Vec::with_capacity(raw.logs.len());
        for log in raw.logs {
            logs.push((timestamp_ns(log.timestamp), log.fields));
        }
        Ok(SpanParts {
            trace_id: trace_id_from_bytes(raw.trace_id)?,
            span_id: span_id_from_bytes(raw.span_id)?,
            operation_name: raw.operation_name.to_owned(),
            references: raw.references,
            flags: raw.flags,
            start_ns: raw.start_time.map_or(0, timestamp_ns_of),
            duration_ns: raw.duration.map_or(0, timestamp_ns_of),
            tags: raw.tags,
            logs,
            process,
            warnings: raw.warnings,
        }
        .into_span())
    }

    fn process(&mut self, bytes: &[u8]) -> Result<Arc<Resource>, DecodeError> {
        if let Some(last) = &self.last_process {
            if self.last_process_bytes == bytes {
                return Ok(last.clone());
            }
        }
        let process = match self.processes.get(bytes) {
            Some(p) => p.clone(),
            None => {
                let mut raw = RawProcess::default();
                raw.merge(bytes)?;
                let process = Arc::new(raw.finish()?);
                if bytes.len() > MAX_CACHED_PROCESS_BYTES {
                    return Ok(process);
                }
                if self.processes.len() >= MAX_CACHED_PROCESSES {
                    self.processes.clear();
                }
                self.processes.insert(bytes.into(), process.clone());
                process
            }
        };
        self.last_process_bytes.clear();
        self.last_process_bytes.extend_from_slice(bytes);
        self.last_process = Some(process.clone());
        Ok(process)
    }
}

/// `Timestamp` / `Duration` as (seconds, nanos).
type Time = (i64, i32);

fn timestamp_ns_of((seconds, nanos): Time) -> i128 {
    i128::from(seconds) * 1_000_000_000 + i128::from(nanos)
}

fn timestamp_ns(t: Option<Time>) -> i128 {
    t.map_or(0, timestamp_ns_of)
}

// ---------------------------------------------------------------------------------------
// Wire reading.

/// A length-delimited UTF-8 string. Nearly every string in a span (tag keys, most values,
/// names) is ASCII: checking that is a simple loop, where the full UTF-8 validation of
/// `str::from_utf8` costs more per byte on short strings (it was ~4 % of the ingester's
/// CPU). Anything else gets the full check.
#[inline]
fn utf8<'a>(buf: &mut WireReader<'a>) -> Result<&'a str, DecodeError> {
    let bytes = buf.len_delimited()?;
    if bytes.is_ascii() {
        // SAFETY: every ASCII byte sequence is valid UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    std::str::from_utf8(bytes).map_err(|_| malformed("string field is not valid UTF-8"))
}

fn expect(wire: Wire, expected: Wire, field: &str) -> Result<(), DecodeError> {
    if wire == expected {
        Ok(())
    } else {
        Err(malformed(format!(
            "{field}: invalid wire type {wire:?}, expected {expected:?}"
        )))
    }
}

// ---------------------------------------------------------------------------------------
// Messages. `depth` is the recursion budget prost gives the fields of that message.

#[derive(Default)]
struct RawSpan<'a> {
    trace_id: &'a [u8],
    span_id: &'a [u8],
    operation_name: &'a str,
    references: Vec<JaegerRef>,
    flags: u32,
    start_time: Option<Time>,
    duration: Option<Time>,
    tags: Vec<KeyValue>,
    logs: Vec<RawLog>,
    /// Every occurrence of the `process` field, in order.
    process: Vec<&'a [u8]>,
    warnings: Vec<String>,
}

impl<'a> RawSpan<'a> {
    fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        const DEPTH: u32 = RECURSION_LIMIT;
        let counts = count_repeated(bytes);
        let mut span = RawSpan {
            references: Vec::with_capacity(counts.references),
            tags: Vec::with_capacity(counts.tags),
            logs: Vec::with_capacity(counts.logs),
            ..RawSpan::default()
        };
        let mut buf = WireReader::new(bytes, FORMAT);
        while buf.has_more() {
            let (tag, wire) = buf.key()?;
            match tag {
                1 => {
                    expect(wire, Wire::Len, "Span.trace_id")?;
                    span.trace_id = buf.len_delimited()?;
                }
                2 => {
                    expect(wire, Wire::Len, "Span.span_id")?;
                    span.span_id = buf.len_delimited()?;
                }
                3 => {
                    expect(wire, Wire::Len, "Span.operation_name")?;
                    span.operation_name = utf8(&mut buf)?;
                }
                4 => {
                    expect(wire, Wire::Len, "Span.references")?;
                    span.references
                        .push(decode_ref(buf.len_delimited()?, DEPTH - 1)?);
                }
                5 => {
                    expect(wire, Wire::Varint, "Span.flags")?;
                    span.flags = buf.varint()? as u32;
                }
                6 => {
                    expect(wire, Wire::Len, "Span.start_time")?;
                    merge_time(
                        span.start_time.get_or_insert((0, 0)),
                        buf.len_delimited()?,
                        DEPTH - 1,
                    )?;
                }
                7 => {
                    expect(wire, Wire::Len, "Span.duration")?;
                    merge_time(
                        span.duration.get_or_insert((0, 0)),
                        buf.len_delimited()?,
                        DEPTH - 1,
                    )?;
                }
                8 => {
                    expect(wire, Wire::Len, "Span.tags")?;
                    span.tags.push(decode_tag(buf.len_delimited()?, DEPTH - 1)?);
                }
                9 => {
                    expect(wire, Wire::Len, "Span.logs")?;
                    span.logs
                        .push(RawLog::decode(buf.len_delimited()?, DEPTH - 1)?);
                }
                10 => {
                    expect(wire, Wire::Len, "Span.process")?;
                    span.process.push(buf.len_delimited()?);
                }
                11 => {
                    // Not used by the mapping, but prost checks that it is a string.
                    expect(wire, Wire::Len, "Span.process_id")?;
                    utf8(&mut buf)?;
                }
                12 => {
                    expect(wire, Wire::Len, "Span.warnings")?;
                    span.warnings.push(utf8(&mut buf)?.to_owned());
                }
                _ => buf.skip(tag, wire, DEPTH)?,
            }
        }
        Ok(span)
    }
}

/// How many references, tags and logs a span has, to allocate each list once.
#[derive(Default)]
struct RepeatedCounts {
    references: usize,
    tags: usize,
    logs: usize,
}

/// A quick pass over the span's top-level fields counting its lists; it stops at anything
/// malformed (the real pass reports it), so the counts are only a capacity hint.
fn count_repeated(bytes: &[u8]) -> RepeatedCounts {
    let mut counts = RepeatedCounts::default();
    let mut buf = WireReader::new(bytes, FORMAT);
    while let Ok((tag, wire)) = buf.key() {
        let skipped = match wire {
            Wire::Varint => buf.varint().map(drop),
            Wire::Len => buf.len_delimited().map(drop),
            Wire::Fixed64 => buf.take(8).map(drop),
            Wire::Fixed32 => buf.take(4).map(drop),
            _ => break,
        };
        if skipped.is_err() {
            break;
        }
        if wire != Wire::Len {
            continue;
        }
        match tag {
            4 => counts.references += 1,
            8 => counts.tags += 1,
            9 => counts.logs += 1,
            _ => {}
        }
    }
    counts
}

/// A `Timestamp` or `Duration` (same layout), merged into `time` as prost merges.
fn merge_time(time: &mut Time, bytes: &[u8], depth: u32) -> Result<(), DecodeError> {
    let mut buf = WireReader::new(bytes, FORMAT);
    while buf.has_more() {
        let (tag, wire) = buf.key()?;
        match tag {
            1 => {
                expect(wire, Wire::Varint, "Timestamp.seconds")?;
                time.0 = buf.varint()? as i64;
            }
            2 => {
                expect(wire, Wire::Varint, "Timestamp.nanos")?;
                time.1 = buf.varint()? as i32;
            }
            _ => buf.skip(tag, wire, depth)?,
        }
    }
    Ok(())
}

fn decode_ref(bytes: &[u8], depth: u32) -> Result<JaegerRef, DecodeError> {
    let mut trace_id: &[u8] = &[];
    let mut span_id: &[u8] = &[];
    let mut ref_type = 0i32;
    let mut buf = WireReader::new(bytes, FORMAT);
    while buf.has_more() {
        let (tag, wire) = buf.key()?;
        match tag {
            1 => {
                expect(wire, Wire::Len, "SpanRef.trace_id")?;
                trace_id = buf.len_delimited()?;
            }
            2 => {
                expect(wire, Wire::Len, "SpanRef.span_id")?;
                span_id = buf.len_delimited()?;
            }
            3 => {
                expect(wire, Wire::Varint, "SpanRef.ref_type")?;
                ref_type = buf.varint()? as i32;
            }
            _ => buf.skip(tag, wire, depth)?,
        }
    }
    Ok(JaegerRef {
        ref_type: ref_type_from_proto(ref_type)?,
        trace_id: trace_id_from_bytes(trace_id)?,
        span_id: span_id_from_bytes(span_id)?,
    })
}

/// One `KeyValue` → attribute, with [`crate::api_v2::tag_from_proto`]'s mapping. Every
/// string occurrence is checked; only the value the type selects is kept.
fn decode_tag(bytes: &[u8], depth: u32) -> Result<KeyValue, DecodeError> {
    let mut key = "";
    let mut v_type = 0i32;
    let mut v_str = "";
    let mut v_bool = false;
    let mut v_int64 = 0i64;
    let mut v_float64 = 0f64;
    let mut v_binary: &[u8] = &[];
    let mut buf = WireReader::new(bytes, FORMAT);
    while buf.has_more() {
        let (tag, wire) = buf.key()?;
        match tag {
            1 => {
                expect(wire, Wire::Len, "KeyValue.key")?;
                key = utf8(&mut buf)?;
            }
            2 => {
                expect(wire, Wire::Varint, "KeyValue.v_type")?;
                v_type = buf.varint()? as i32;
            }
            3 => {
                expect(wire, Wire::Len, "KeyValue.v_str")?;
                v_str = utf8(&mut buf)?;
            }
            4 => {
                expect(wire, Wire::Varint, "KeyValue.v_bool")?;
                v_bool = buf.varint()? != 0;
            }
            5 => {
                expect(wire, Wire::Varint, "KeyValue.v_int64")?;
                v_int64 = buf.varint()? as i64;
            }
            6 => {
                expect(wire, Wire::Fixed64, "KeyValue.v_float64")?;
                v_float64 = f64::from_bits(buf.fixed64_le()?);
            }
            7 => {
                expect(wire, Wire::Len, "KeyValue.v_binary")?;
                v_binary = buf.len_delimited()?;
            }
            _ => buf.skip(tag, wire, depth)?,
        }
    }
    // api_v2's ValueType numbers.
    let value = match v_type {
        0 => AnyValue::Str(v_str.to_owned()),
        1 => AnyValue::Bool(v_bool),
        2 => AnyValue::Int(v_int64),
        3 => AnyValue::Double(v_float64),
        4 => AnyValue::Bytes(v_binary.to_vec()),
        _ => return Err(unknown_value_type(key, v_type)),
    };
    Ok(KeyValue {
        key: key.to_owned(),
        value,
    })
}

struct RawLog {
    timestamp: Option<Time>,
    fields: Vec<KeyValue>,
}

impl RawLog {
    fn decode(bytes: &[u8], depth: u32) -> Result<Self, DecodeError> {
        let mut log = RawLog {
            timestamp: None,
            fields: Vec::new(),
        };
        let mut buf = WireReader::new(bytes, FORMAT);
        while buf.has_more() {
            let (tag, wire) = buf.key()?;
            match tag {
                1 => {
                    expect(wire, Wire::Len, "Log.timestamp")?;
                    merge_time(
                        log.timestamp.get_or_insert((0, 0)),
                        buf.len_delimited()?,
                        depth - 1,
                    )?;
                }
                2 => {
                    expect(wire, Wire::Len, "Log.fields")?;
                    log.fields
                        .push(decode_tag(buf.len_delimited()?, depth - 1)?);
                }
                _ => buf.skip(tag, wire, depth)?,
            }
        }
        Ok(log)
    }
}

#[derive(Default)]
struct RawProcess {
    service_name: String,
    tags: Vec<KeyValue>,
}

impl RawProcess {
    /// The fields of a `Process` sitting at the span's field 10.
    fn merge(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        const DEPTH: u32 = RECURSION_LIMIT - 1;
        let mut buf = WireReader::new(bytes, FORMAT);
        while buf.has_more() {
            let (tag, wire) = buf.key()?;
            match tag {
                1 => {
                    expect(wire, Wire::Len, "Process.service_name")?;
                    let name = utf8(&mut buf)?;
                    self.service_name.clear();
                    self.service_name.push_str(name);
                }
                2 => {
                    expect(wire, Wire::Len, "Process.tags")?;
                    self.tags.push(decode_tag(buf.len_delimited()?, DEPTH - 1)?);
                }
                _ => buf.skip(tag, wire, DEPTH)?,
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<Resource, DecodeError> {
        Ok(Resource {
            service_name: self.service_name,
            attributes: self.tags,
            ..Default::default()
        })
    }
}

/// A small multiplicative hasher (rustc's FxHash) for the process cache: its keys are a
/// few hundred bytes hashed once per span, where SipHash would cost more than a lookup
/// saves. The map is bounded, so colliding keys cannot make it slow without limit.
#[derive(Default)]
struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    // Wire types as raw numbers: the tests also build invalid ones (6, 7).
    const VARINT: u8 = 0;
    const FIXED64: u8 = 1;
    const LEN: u8 = 2;
    const START_GROUP: u8 = 3;
    const END_GROUP: u8 = 4;
    const FIXED32: u8 = 5;

    use proptest::prelude::*;
    use prost::Message;
    use prost_types::{Duration, Timestamp};
    use sextant_proto::jaeger::api_v2 as pb;

    use super::*;
    use crate::kafka::decode_protobuf_with_prost;

    /// Both decoders on the same bytes: the same span (compared through `Debug`, so that
    /// NaN tag values compare equal) or both an error.
    fn agree(decoder: &mut SpanDecoder, bytes: &[u8]) -> Result<Option<Span>, String> {
        let direct = decoder.decode(bytes);
        let prost = decode_protobuf_with_prost(bytes);
        match (direct, prost) {
            (Ok(a), Ok(b)) => {
                let (a_text, b_text) = (format!("{a:?}"), format!("{b:?}"));
                if a_text == b_text {
                    Ok(Some(a))
                } else {
                    Err(format!(
                        "different spans for {bytes:02x?}:\n direct {a_text}\n prost  {b_text}"
                    ))
                }
            }
            (Err(_), Err(_)) => Ok(None),
            (Ok(a), Err(e)) => Err(format!(
                "direct decoder accepted what prost refuses ({e}): {bytes:02x?} → {a:?}"
            )),
            (Err(e), Ok(b)) => Err(format!(
                "direct decoder refused what prost accepts ({e}): {bytes:02x?} → {b:?}"
            )),
        }
    }

    fn check(bytes: &[u8]) -> Option<Span> {
        agree(&mut SpanDecoder::new(), bytes).unwrap_or_else(|e| panic!("{e}"))
    }

    // Hand-written wire pieces.
    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    fn key(tag: u32, wire: u8, out: &mut Vec<u8>) {
        varint(u64::from(tag) << 3 | u64::from(wire), out);
    }
    fn len_field(tag: u32, payload: &[u8], out: &mut Vec<u8>) {
        key(tag, LEN, out);
        varint(payload.len() as u64, out);
        out.extend_from_slice(payload);
    }
    fn varint_field(tag: u32, v: u64, out: &mut Vec<u8>) {
        key(tag, VARINT, out);
        varint(v, out);
    }
    fn build(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut out = Vec::new();
        f(&mut out);
        out
    }

    fn kv(key: &str, v: pb::ValueType) -> pb::KeyValue {
        let mut kv = pb::KeyValue {
            key: key.into(),
            v_str: "s".into(),
            v_bool: true,
            v_int64: -7,
            v_float64: 2.5,
            v_binary: vec![1, 2],
            ..Default::default()
        };
        kv.set_v_type(v);
        kv
    }

    fn sample() -> pb::Span {
        pb::Span {
            trace_id: (1..=16).collect(),
            span_id: (1..=8).collect(),
            operation_name: "GET /x".into(),
            references: vec![
                pb::SpanRef {
                    trace_id: (1..=16).collect(),
                    span_id: vec![0, 0, 0, 0, 0, 0, 0, 9],
                    ref_type: 0,
                },
                pb::SpanRef {
                    trace_id: vec![0, 0, 0, 0, 0, 0, 0, 5],
                    span_id: vec![0, 0, 0, 0, 0, 0, 0, 6],
                    ref_type: 1,
                },
            ],
            flags: 1,
            start_time: Some(Timestamp {
                seconds: 1_700_000_000,
                nanos: 123_456_789,
            }),
            duration: Some(Duration {
                seconds: 1,
                nanos: 5,
            }),
            tags: vec![
                kv("a", pb::ValueType::String),
                kv("span.kind", pb::ValueType::String),
                kv("b", pb::ValueType::Bool),
                kv("c", pb::ValueType::Int64),
                kv("d", pb::ValueType::Float64),
                kv("e", pb::ValueType::Binary),
                pb::KeyValue {
                    key: "error".into(),
                    v_type: pb::ValueType::Bool as i32,
                    v_bool: true,
                    ..Default::default()
                },
            ],
            logs: vec![pb::Log {
                timestamp: Some(Timestamp {
                    seconds: 1_700_000_000,
                    nanos: 200_000_001,
                }),
                fields: vec![
                    pb::KeyValue {
                        key: "event".into(),
                        v_str: "retry".into(),
                        ..Default::default()
                    },
                    kv("attempt", pb::ValueType::Int64),
                ],
            }],
            process: Some(pb::Process {
                service_name: "frontend".into(),
                tags: vec![kv("hostname", pb::ValueType::String)],
            }),
            process_id: "p1".into(),
            warnings: vec!["w1".into(), "w2".into()],
        }
    }

    #[test]
    fn a_full_span_decodes_like_prost() {
        let bytes = sample().encode_to_vec();
        let span = check(&bytes).expect("the sample decodes");
        assert_eq!(span.service_name(), "frontend");
        assert_eq!(
            span.kind,
            crate::SpanKind::Unspecified,
            "v_str \"s\" is no kind"
        );
        assert_eq!(span.events[0].time_unix_nano, 1_700_000_000_200_000_001);
        assert_eq!(span.duration_nanos(), 1_000_000_005);
        check(&[]).expect("an empty message is the default span");
    }

    #[test]
    fn alternating_processes_and_non_ascii_strings_decode_like_prost() {
        let mut decoder = SpanDecoder::new();
        let mut a = sample();
        a.operation_name = "größe €".into();
        a.tags[0].v_str = "日本".into();
        let mut b = sample();
        b.process.as_mut().unwrap().service_name = "bäckend".into();
        // a, b, a, a: the previous-process shortcut must not hand one's process to the other.
        for (span, service) in [
            (&a, "frontend"),
            (&b, "bäckend"),
            (&a, "frontend"),
            (&a, "frontend"),
        ] {
            let got = agree(&mut decoder, &span.encode_to_vec())
                .unwrap_or_else(|e| panic!("{e}"))
                .expect("decodes");
            assert_eq!(got.service_name(), service);
        }
        // Invalid UTF-8 after valid ASCII, in a key, a value and the operation name.
        let bytes = a.encode_to_vec();
        for needle in [&b"span.kind"[..], b"hostname", "größe".as_bytes()] {
            let at = bytes
                .windows(needle.len())
                .position(|w| w == needle)
                .expect("the string is in the encoding");
            let mut bad = bytes.clone();
            bad[at + 1] = 0xff;
            assert!(agree(&mut decoder, &bad)
                .unwrap_or_else(|e| panic!("{e}"))
                .is_none());
        }
    }

    #[test]
    fn spans_with_the_same_process_share_it() {
        let mut decoder = SpanDecoder::new();
        let mut other = sample();
        other.span_id = vec![0, 0, 0, 0, 0, 0, 0, 77];
        let a = decoder.decode(&sample().encode_to_vec()).unwrap();
        let b = decoder.decode(&other.encode_to_vec()).unwrap();
        assert!(Arc::ptr_eq(&a.resource, &b.resource));
        other.process.as_mut().unwrap().service_name = "backend".into();
        let c = decoder.decode(&other.encode_to_vec()).unwrap();
        assert!(!Arc::ptr_eq(&a.resource, &c.resource));
        assert_eq!(c.service_name(), "backend");
        // A full cache starts again; results stay right.
        for i in 0..(MAX_CACHED_PROCESSES + 10) {
            other.process.as_mut().unwrap().service_name = format!("svc-{i}");
            let s = decoder.decode(&other.encode_to_vec()).unwrap();
            assert_eq!(s.service_name(), format!("svc-{i}"));
        }
        assert!(decoder.processes.len() <= MAX_CACHED_PROCESSES);
    }

    #[test]
    fn unknown_fields_of_every_wire_type_are_skipped() {
        let base = sample().encode_to_vec();
        let unknowns: Vec<Vec<u8>> = vec![
            build(|o| varint_field(99, u64::MAX, o)),
            build(|o| {
                key(98, FIXED64, o);
                o.extend_from_slice(&[1; 8]);
            }),
            build(|o| {
                key(97, FIXED32, o);
                o.extend_from_slice(&[1; 4]);
            }),
            build(|o| len_field(96, &[0xff, 0xfe], o)),
            // A packed repeated varint field, as a newer schema could add.
            build(|o| len_field(95, &[1, 0x96, 0x01, 3], o)),
            // A group with a nested group and fields inside.
            build(|o| {
                key(94, START_GROUP, o);
                varint_field(1, 5, o);
                key(2, START_GROUP, o);
                len_field(3, b"x", o);
                key(2, END_GROUP, o);
                key(94, END_GROUP, o);
            }),
        ];
        for unknown in &unknowns {
            let mut bytes = unknown.clone();
            bytes.extend_from_slice(&base);
            bytes.extend_from_slice(unknown);
            assert_eq!(
                format!("{:?}", check(&bytes).expect("unknown fields are skipped")),
                format!("{:?}", check(&base).unwrap())
            );
            // Inside nested messages too: a tag, a log, a timestamp, a process, a reference.
            for nested in [
                build(|o| {
                    let mut kv = kv("k", pb::ValueType::Int64).encode_to_vec();
                    kv.extend_from_slice(unknown);
                    len_field(8, &kv, o);
                }),
                build(|o| {
                    let mut log = sample().logs[0].encode_to_vec();
                    log.extend_from_slice(unknown);
                    len_field(9, &log, o);
                }),
                build(|o| {
                    let mut t = Timestamp {
                        seconds: 5,
                        nanos: 6,
                    }
                    .encode_to_vec();
                    t.extend_from_slice(unknown);
                    len_field(6, &t, o);
                }),
                build(|o| {
                    let mut p = sample().process.unwrap().encode_to_vec();
                    p.extend_from_slice(unknown);
                    len_field(10, &p, o);
                }),
                build(|o| {
                    let mut r = sample().references[1].encode_to_vec();
                    r.extend_from_slice(unknown);
                    len_field(4, &r, o);
                }),
            ] {
                let mut bytes = base.clone();
                bytes.extend_from_slice(&nested);
                check(&bytes).expect("unknown nested fields are skipped");
            }
        }
    }

    #[test]
    fn repeated_singular_fields_merge_like_prost() {
        let base = sample().encode_to_vec();
        for extra in [
            // A second process: the name replaced, the tags appended.
            build(|o| {
                let p = pb::Process {
                    service_name: "second".into(),
                    tags: vec![kv("zone", pb::ValueType::String)],
                };
                len_field(10, &p.encode_to_vec(), o);
            }),
            // A second process with only tags: the name stays.
            build(|o| {
                let p = pb::Process {
                    service_name: String::new(),
                    tags: vec![kv("zone", pb::ValueType::Bool)],
                };
                len_field(10, &p.encode_to_vec(), o);
            }),
            // An explicitly empty service name replaces the first.
            build(|o| {
                let mut p = Vec::new();
                len_field(1, b"", &mut p);
                len_field(10, &p, o);
            }),
            // A second start time with only nanos: the seconds stay.
            build(|o| {
                let mut t = Vec::new();
                varint_field(2, 7, &mut t);
                len_field(6, &t, o);
            }),
            build(|o| varint_field(5, u64::MAX, o)), // flags truncated to u32
            build(|o| len_field(1, &[0, 0, 0, 0, 0, 0, 0, 3], o)), // last trace ID wins
            build(|o| len_field(3, "renamed".as_bytes(), o)),
            build(|o| len_field(12, "w3".as_bytes(), o)),
            // A negative duration (clamped with a warning).
            build(|o| {
                let mut d = Vec::new();
                varint_field(1, (-3i64) as u64, &mut d);
                len_field(7, &d, o);
            }),
        ] {
            let mut bytes = base.clone();
            bytes.extend_from_slice(&extra);
            check(&bytes).expect("merged");
        }
        // A bad trace ID length made good by a later occurrence, and the other way round.
        let ok = build(|o| {
            len_field(1, &[1, 2, 3], o);
            len_field(1, &[0; 8], o);
        });
        check(&ok).expect("the last trace ID counts");
        let bad = build(|o| {
            len_field(1, &[0; 8], o);
            len_field(1, &[1, 2, 3], o);
        });
        assert!(check(&bad).is_none());
        // A tag whose type is set twice: the last one selects the value.
        let tag = build(|o| {
            len_field(1, b"k", o);
            varint_field(2, 9, o);
            len_field(3, b"text", o);
            varint_field(5, 42, o);
            varint_field(2, 2, o);
        });
        let span = check(&build(|o| len_field(8, &tag, o))).unwrap();
        assert_eq!(span.attributes[0].value, AnyValue::Int(42));
        // An enum beyond 32 bits is truncated: 2^32 + 1 is BOOL.
        let tag = build(|o| {
            len_field(1, b"k", o);
            varint_field(2, (1 << 32) + 1, o);
        });
        let span = check(&build(|o| len_field(8, &tag, o))).unwrap();
        assert_eq!(span.attributes[0].value, AnyValue::Bool(false));
    }

    #[test]
    fn malformed_input_is_refused_like_prost() {
        let base = sample().encode_to_vec();
        let mut deep_ok = Vec::new();
        let mut deep_bad = Vec::new();
        for (out, depth) in [(&mut deep_ok, 100), (&mut deep_bad, 101)] {
            for _ in 0..depth {
                key(50, START_GROUP, out);
            }
            for _ in 0..depth {
                key(50, END_GROUP, out);
            }
        }
        for (bytes, accepted) in [
            (build(|o| key(0, VARINT, o)), false),  // field number 0
            (build(|o| key(60, 6, o)), false),      // wire type 6
            (build(|o| key(60, 7, o)), false),      // wire type 7
            (build(|o| varint(1 << 35, o)), false), // a key beyond u32
            (build(|o| key(60, END_GROUP, o)), false),
            (
                build(|o| {
                    key(60, START_GROUP, o);
                    key(61, END_GROUP, o);
                }),
                false,
            ),
            (build(|o| key(60, START_GROUP, o)), false),
            (build(|o| o.extend_from_slice(&[0x08, 0x80])), false), // cut varint
            (
                build(|o| {
                    key(5, VARINT, o);
                    o.extend_from_slice(&[0xff; 9]);
                    o.push(0x01);
                }),
                true,
            ), // 10-byte varint, in range
            (
                build(|o| {
                    key(5, VARINT, o);
                    o.extend_from_slice(&[0xff; 9]);
                    o.push(0x02);
                }),
                false,
            ), // overflows 64 bits
            (
                build(|o| {
                    key(5, VARINT, o);
                    o.extend_from_slice(&[0x80; 10]);
                    o.push(0x00);
                }),
                false,
            ), // 11 bytes
            (build(|o| varint_field(1, 5, o)), false),              // trace_id as a varint
            (build(|o| len_field(5, &[1], o)), false),              // flags as bytes
            (build(|o| len_field(11, &[0xff], o)), false),          // process_id not UTF-8
            (build(|o| len_field(12, &[0xc3], o)), false),          // warning not UTF-8
            (
                build(|o| {
                    key(98, FIXED64, o);
                    o.extend_from_slice(&[1; 7]);
                }),
                false,
            ),
            (
                build(|o| {
                    key(96, LEN, o);
                    varint(u64::MAX, o);
                }),
                false,
            ),
            (build(|o| len_field(4, &[0x18, 0x02], o)), false), // ref type 2
            (
                build(|o| {
                    let tag = build(|t| {
                        len_field(1, b"k", t);
                        len_field(3, &[0xff], t); // unused v_str still must be UTF-8
                        varint_field(2, 2, t);
                    });
                    len_field(8, &tag, o);
                }),
                false,
            ),
            (
                build(|o| {
                    let tag = build(|t| {
                        key(6, FIXED64, t);
                        t.extend_from_slice(&[0; 4]);
                    });
                    len_field(8, &tag, o);
                }),
                false,
            ),
            (
                build(|o| {
                    // A nested message whose last field runs past its length.
                    let mut t = Vec::new();
                    varint_field(1, 300, &mut t);
                    key(6, LEN, o);
                    varint((t.len() - 1) as u64, o);
                    o.extend_from_slice(&t);
                }),
                false,
            ),
            (deep_ok, true),
            (deep_bad, false),
        ] {
            let mut full = base.clone();
            full.extend_from_slice(&bytes);
            assert_eq!(check(&full).is_some(), accepted, "{bytes:02x?}");
        }
    }

    fn arb_id() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            6 => proptest::collection::vec(any::<u8>(), 16),
            2 => proptest::collection::vec(any::<u8>(), 8),
            1 => Just(Vec::new()),
            1 => proptest::collection::vec(any::<u8>(), 0..20),
        ]
    }

    fn arb_text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "[a-z.]{1,12}",
            Just("span.kind".to_string()),
            Just("error".to_string()),
            Just("otel.status_code".to_string()),
            Just("otel.scope.name".to_string()),
            Just("event".to_string()),
            Just("server".to_string()),
            any::<String>(),
        ]
    }

    fn arb_kv() -> impl Strategy<Value = pb::KeyValue> {
        (
            arb_text(),
            prop_oneof![8 => 0i32..5, 1 => any::<i32>()],
            arb_text(),
            any::<bool>(),
            any::<i64>(),
            any::<f64>(),
            proptest::collection::vec(any::<u8>(), 0..6),
        )
            .prop_map(
                |(key, v_type, v_str, v_bool, v_int64, v_float64, v_binary)| pb::KeyValue {
                    key,
                    v_type,
                    v_str,
                    v_bool,
                    v_int64,
                    v_float64,
                    v_binary,
                },
            )
    }

    fn arb_time() -> impl Strategy<Value = Option<Timestamp>> {
        proptest::option::of(
            (
                prop_oneof![4 => 0i64..2_000_000_000, 1 => any::<i64>()],
                prop_oneof![4 => 0i32..1_000_000_000, 1 => any::<i32>()],
            )
                .prop_map(|(seconds, nanos)| Timestamp { seconds, nanos }),
        )
    }

    prop_compose! {
        fn arb_span()(
            trace_id in arb_id(),
            span_id in arb_id(),
            operation_name in arb_text(),
            references in proptest::collection::vec(
                (arb_id(), arb_id(), prop_oneof![8 => 0i32..2, 1 => any::<i32>()])
                    .prop_map(|(trace_id, span_id, ref_type)| pb::SpanRef { trace_id, span_id, ref_type }),
                0..3,
            ),
            flags in any::<u32>(),
            start_time in arb_time(),
            duration in arb_time(),
            tags in proptest::collection::vec(arb_kv(), 0..6),
            logs in proptest::collection::vec(
                (arb_time(), proptest::collection::vec(arb_kv(), 0..3))
                    .prop_map(|(timestamp, fields)| pb::Log { timestamp, fields }),
                0..3,
            ),
            process in proptest::option::of(
                (prop_oneof![Just("a".to_string()), Just("b".to_string()), arb_text()],
                 proptest::collection::vec(arb_kv(), 0..3))
                    .prop_map(|(service_name, tags)| pb::Process { service_name, tags }),
            ),
            process_id in arb_text(),
            warnings in proptest::collection::vec(arb_text(), 0..2),
        ) -> pb::Span {
            let duration = duration.map(|t| Duration { seconds: t.seconds, nanos: t.nanos });
            pb::Span {
                trace_id, span_id, operation_name, references, flags, start_time, duration,
                tags, logs, process, process_id, warnings,
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn generated_spans_decode_like_prost(spans in proptest::collection::vec(arb_span(), 1..6)) {
            // One decoder for the sequence: cached processes must not change results.
            let mut decoder = SpanDecoder::new();
            for span in &spans {
                let bytes = span.encode_to_vec();
                agree(&mut decoder, &bytes).map_err(TestCaseError::fail)?;
            }
        }

        #[test]
        fn mutated_spans_decode_like_prost(
            span in arb_span(),
            edits in proptest::collection::vec(
                (0u8..5, any::<prop::sample::Index>(), any::<u8>()), 1..5),
        ) {
            let mut bytes = span.encode_to_vec();
            for (op, at, byte) in edits {
                let i = at.index(bytes.len() + 1);
                match op {
                    0 if i < bytes.len() => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    2 if i < bytes.len() => { bytes.remove(i); }
                    3 => bytes.truncate(i),
                    // Flip one bit: lengths, wire types and tags go slightly wrong.
                    _ if i < bytes.len() => bytes[i] ^= 1 << (byte % 8),
                    _ => {}
                }
            }
            let mut decoder = SpanDecoder::new();
            agree(&mut decoder, &bytes).map_err(TestCaseError::fail)?;
            // Again with the cache warm.
            agree(&mut decoder, &bytes).map_err(TestCaseError::fail)?;
        }

        #[test]
        fn random_bytes_decode_like_prost(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            agree(&mut SpanDecoder::new(), &bytes).map_err(TestCaseError::fail)?;
        }

        #[test]
        fn random_fields_decode_like_prost(
            fields in proptest::collection::vec(
                (1u32..14, 0u8..6, proptest::collection::vec(any::<u8>(), 0..12), any::<u64>()),
                0..12),
        ) {
            // Well-framed fields with random numbers, wire types and contents: reaches the
            // wire-type and nested-message checks more often than random bytes do.
            let mut bytes = Vec::new();
            for (tag, wire, payload, v) in fields {
                key(tag, wire, &mut bytes);
                match wire {
                    VARINT => varint(v, &mut bytes),
                    FIXED64 => bytes.extend_from_slice(&v.to_le_bytes()),
                    FIXED32 => bytes.extend_from_slice(&v.to_le_bytes()[..4]),
                    LEN => {
                        varint(payload.len() as u64, &mut bytes);
                        bytes.extend_from_slice(&payload);
                    }
                    START_GROUP => key(tag, END_GROUP, &mut bytes),
                    _ => {}
                }
            }
            agree(&mut SpanDecoder::new(), &bytes).map_err(TestCaseError::fail)?;
        }
    }
}
