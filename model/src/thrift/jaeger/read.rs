//! `Batch` bytes → spans: one pass, generic over the protocol reader.

use std::sync::Arc;

use super::super::protocol::*;
use super::*;
use crate::jaeger::{JaegerLog, JaegerRef, JaegerSpan, RefType};
use crate::span::{AnyValue, KeyValue, Resource, SpanId, TraceId};
use crate::DecodeError;

/// The fewest bytes a `Span` struct can take in either protocol with its eight required
/// fields (compact: one header byte and one value byte each, plus STOP). It bounds the
/// capacity reserved from a claimed list size, so a hostile header cannot make the decoder
/// reserve many times the input's size in `Span`s.
const MIN_SPAN_BYTES: usize = 17;
/// Likewise for a `Tag` (key and vType) and a `Log` (timestamp and fields).
const MIN_TAG_BYTES: usize = 5;
const MIN_LOG_BYTES: usize = 5;
const MIN_REF_BYTES: usize = 9;

fn text(b: &[u8]) -> String {
    // One copy. `from_utf8` is the fast validator; the lossy path only runs on bad input.
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// Tracks which required fields a struct has seen, by field id bit.
#[derive(Default)]
struct Required(u32);

impl Required {
    fn bit(id: i16) -> u32 {
        u32::try_from(id)
            .ok()
            .and_then(|s| 1u32.checked_shl(s))
            .unwrap_or(0)
    }
    fn see(&mut self, id: i16) {
        self.0 |= Self::bit(id);
    }
    fn check(&self, what: &str, fields: &[(i16, &str)]) -> Result<(), DecodeError> {
        for &(id, name) in fields {
            if self.0 & Self::bit(id) == 0 {
                return Err(malformed(format!("{what}: required field {name} missing")));
            }
        }
        Ok(())
    }
}

/// Opens a `list<struct>` field and returns its size; an element type other than struct is
/// malformed (a non-empty list of something else cannot be a list of these structs).
fn struct_list<'a, R: ProtocolReader<'a>>(r: &mut R, what: &str) -> Result<usize, DecodeError> {
    let h = r.list_begin()?;
    if h.size > 0 && h.elem != TType::Struct {
        return Err(malformed(format!("{what} is a list of {:?}", h.elem)));
    }
    Ok(h.size)
}

/// Capacity to reserve for `size` claimed elements of at least `min_bytes` each.
fn capacity(size: usize, min_bytes: usize, remaining: usize) -> usize {
    size.min(remaining / min_bytes)
}

pub(crate) fn read_batch<'a, R: ProtocolReader<'a>>(
    r: &mut R,
) -> Result<DecodedBatch, DecodeError> {
    let token = r.struct_begin();
    let mut seen = Required::default();
    let mut process: Option<Arc<Resource>> = None;
    let mut spans: Vec<Span> = Vec::new();
    // Spans that arrived before the process (field order is not guaranteed by Thrift).
    let mut orphans: Vec<JaegerSpan> = Vec::new();
    let mut meta = BatchMeta::default();
    while let Some(f) = r.field_begin()? {
        match (f.id, f.ttype) {
            (1, TType::Struct) => {
                seen.see(1);
                let p = Arc::new(read_process(r)?);
                for mut js in orphans.drain(..) {
                    js.process = p.clone();
                    spans.push(js.into_span());
                }
                process = Some(p);
            }
            (2, TType::List) => {
                seen.see(2);
                let size = struct_list(r, "Batch.spans")?;
                let cap = capacity(size, MIN_SPAN_BYTES, r.remaining());
                match &process {
                    Some(p) => {
                        spans.reserve(cap);
                        for _ in 0..size {
                            spans.push(read_span(r, p)?.into_span());
                        }
                    }
                    None => {
                        orphans.reserve(cap);
                        let placeholder = Arc::default();
                        for _ in 0..size {
                            orphans.push(read_span(r, &placeholder)?);
                        }
                    }
                }
            }
            (3, TType::I64) => meta.seq_no = Some(r.read_i64()?),
            (4, TType::Struct) => meta.stats = Some(read_stats(r)?),
            (_, t) => skip(r, t)?,
        }
    }
    r.struct_end(token);
    seen.check("Batch", &[(1, "process"), (2, "spans")])?;
    Ok(DecodedBatch { spans, meta })
}

fn read_process<'a, R: ProtocolReader<'a>>(r: &mut R) -> Result<Resource, DecodeError> {
    let token = r.struct_begin();
    let mut seen = Required::default();
    let mut resource = Resource::default();
    while let Some(f) = r.field_begin()? {
        match (f.id, f.ttype) {
            (1, TType::Binary) => {
                seen.see(1);
                resource.service_name = text(r.read_binary()?);
            }
            (2, TType::List) => resource.attributes = read_tags(r, "Process.tags")?,
            (_, t) => skip(r, t)?,
        }
    }
    r.struct_end(token);
    seen.check("Process", &[(1, "serviceName")])?;
    Ok(resource)
}

pub(crate) fn read_stats<'a, R: ProtocolReader<'a>>(r: &mut R) -> Result<ClientStats, DecodeError> {
    let token = r.struct_begin();
    let mut seen = Required::default();
    let mut stats = ClientStats::default();
    while let Some(f) = r.field_begin()? {
        match (f.id, f.ttype) {
            (1, TType::I64) => {
                seen.see(1);
                stats.full_queue_dropped_spans = r.read_i64()?;
            }
            (2, TType::I64) => {
                seen.see(2);
                stats.too_large_dropped_spans = r.read_i64()?;
            }
            (3, TType::I64) => {
                seen.see(3);
                stats.failed_to_emit_spans = r.read_i64()?;
            }
            (_, t) => skip(r, t)?,
        }
    }
    r.struct_end(token);
    seen.check(
        "ClientStats",
        &[
            (1, "fullQueueDroppedSpans"),
            (2, "tooLargeDroppedSpans"),
            (3, "failedToEmitSpans"),
        ],
    )?;
    Ok(stats)
}

fn read_span<'a, R: ProtocolReader<'a>>(
    r: &mut R,
    process: &Arc<Resource>,
) -> Result<JaegerSpan, DecodeError> {
    let token = r.struct_begin();
    let mut seen = Required::default();
    let (mut low, mut high, mut parent) = (0i64, 0i64, 0i64);
    let mut js = JaegerSpan {
        process: process.clone(),
        ..Default::default()
    };
    while let Some(f) = r.field_begin()? {
        match (f.id, f.ttype) {
            (1, TType::I64) => low = r.read_i64()?,
            (2, TType::I64) => high = r.read_i64()?,
            (3, TType::I64) => js.span_id = SpanId(r.read_i64()? as u64),
            (4, TType::I64) => parent = r.read_i64()?,
            (5, TType::Binary) => js.operation_name = text(r.read_binary()?),
            (6, TType::List) => js.references = read_refs(r, &mut js.warnings)?,
            (7, TType::I32) => js.flags = r.read_i32()? as u32,
            (8, TType::I64) => js.start_time_us = r.read_i64()?,
            (9, TType::I64) => js.duration_us = r.read_i64()?,
            (10, TType::List) => js.tags = read_tags(r, "Span.tags")?,
            (11, TType::List) => js.logs = read_logs(r)?,
            (_, t) => {
                skip(r, t)?;
                continue;
            }
        }
        seen.see(f.id);
    }
    r.struct_end(token);
    seen.check(
        "Span",
        &[
            (1, "traceIdLow"),
            (2, "traceIdHigh"),
            (3, "spanId"),
            (4, "parentSpanId"),
            (5, "operationName"),
            (7, "flags"),
            (8, "startTime"),
            (9, "duration"),
        ],
    )?;
    js.trace_id = TraceId::from_halves(high as u64, low as u64);
    add_parent_reference(&mut js, SpanId(parent as u64));
    Ok(js)
}

/// Jaeger's `MaybeAddParentSpanID`: older clients set only `parentSpanId`, so a parent not
/// already named by a `CHILD_OF` reference in the same trace is added, first.
fn add_parent_reference(js: &mut JaegerSpan, parent: SpanId) {
    if parent.is_zero() {
        return;
    }
    let present = js.references.iter().any(|r| {
        r.ref_type == RefType::ChildOf && r.trace_id == js.trace_id && r.span_id == parent
    });
    if !present {
        js.references.insert(
            0,
            JaegerRef {
                ref_type: RefType::ChildOf,
                trace_id: js.trace_id,
                span_id: parent,
            },
        );
    }
}

fn read_refs<'a, R: ProtocolReader<'a>>(
    r: &mut R,
    warnings: &mut Vec<String>,
) -> Result<Vec<JaegerRef>, DecodeError> {
    let size = struct_list(r, "Span.references")?;
    let mut refs = Vec::with_capacity(capacity(size, MIN_REF_BYTES, r.remaining()));
    for _ in 0..size {
        let token = r.struct_begin();
        let mut seen = Required::default();
        let (mut kind, mut low, mut high, mut span) = (0i32, 0i64, 0i64, 0i64);
        while let Some(f) = r.field_begin()? {
            match (f.id, f.ttype) {
                (1, TType::I32) => kind = r.read_i32()?,
                (2, TType::I64) => low = r.read_i64()?,
                (3, TType::I64) => high = r.read_i64()?,
                (4, TType::I64) => span = r.read_i64()?,
                (_, t) => {
                    skip(r, t)?;
                    continue;
                }
            }
            seen.see(f.id);
        }
        r.struct_end(token);
        seen.check(
            "SpanRef",
            &[
                (1, "refType"),
                (2, "traceIdLow"),
                (3, "traceIdHigh"),
                (4, "spanId"),
            ],
        )?;
        let ref_type = match kind {
            REF_CHILD_OF => RefType::ChildOf,
            REF_FOLLOWS_FROM => RefType::FollowsFrom,
            other => {
                // The model has two reference types; keep the link rather than drop it.
                warnings.push(format!(
                    "unknown reference type {other} read as follows_from"
                ));
                RefType::FollowsFrom
            }
        };
        refs.push(JaegerRef {
            ref_type,
            trace_id: TraceId::from_halves(high as u64, low as u64),
            span_id: SpanId(span as u64),
        });
    }
    Ok(refs)
}

fn read_logs<'a, R: ProtocolReader<'a>>(r: &mut R) -> Result<Vec<JaegerLog>, DecodeError> {
    let size = struct_list(r, "Span.logs")?;
    let mut logs = Vec::with_capacity(capacity(size, MIN_LOG_BYTES, r.remaining()));
    for _ in 0..size {
        let token = r.struct_begin();
        let mut seen = Required::default();
        let mut log = JaegerLog::default();
        while let Some(f) = r.field_begin()? {
            match (f.id, f.ttype) {
                (1, TType::I64) => log.timestamp_us = r.read_i64()?,
                (2, TType::List) => log.fields = read_tags(r, "Log.fields")?,
                (_, t) => {
                    skip(r, t)?;
                    continue;
                }
            }
            seen.see(f.id);
        }
        r.struct_end(token);
        seen.check("Log", &[(1, "timestamp"), (2, "fields")])?;
        logs.push(log);
    }
    Ok(logs)
}

fn read_tags<'a, R: ProtocolReader<'a>>(
    r: &mut R,
    what: &str,
) -> Result<Vec<KeyValue>, DecodeError> {
    let size = struct_list(r, what)?;
    let mut tags = Vec::with_capacity(capacity(size, MIN_TAG_BYTES, r.remaining()));
    for _ in 0..size {
        tags.push(read_tag(r)?);
    }
    Ok(tags)
}

fn read_tag<'a, R: ProtocolReader<'a>>(r: &mut R) -> Result<KeyValue, DecodeError> {
    let token = r.struct_begin();
    let mut key: Option<&'a [u8]> = None;
    let mut vtype: Option<i32> = None;
    // Values stay borrowed until vType says which one is the tag's.
    let mut v_str: &'a [u8] = b"";
    let mut v_binary: &'a [u8] = b"";
    let (mut v_double, mut v_bool, mut v_long) = (0.0f64, false, 0i64);
    while let Some(f) = r.field_begin()? {
        match (f.id, f.ttype) {
            (1, TType::Binary) => key = Some(r.read_binary()?),
            (2, TType::I32) => vtype = Some(r.read_i32()?),
            (3, TType::Binary) => v_str = r.read_binary()?,
            (4, TType::Double) => v_double = r.read_double()?,
            (5, TType::Bool) => v_bool = r.read_bool()?,
            (6, TType::I64) => v_long = r.read_i64()?,
            (7, TType::Binary) => v_binary = r.read_binary()?,
            (_, t) => skip(r, t)?,
        }
    }
    r.struct_end(token);
    let (Some(key), Some(vtype)) = (key, vtype) else {
        return Err(malformed("Tag: required field key or vType missing"));
    };
    let value = match vtype {
        TAG_STRING => AnyValue::Str(text(v_str)),
        TAG_DOUBLE => AnyValue::Double(v_double),
        TAG_BOOL => AnyValue::Bool(v_bool),
        TAG_LONG => AnyValue::Int(v_long),
        TAG_BINARY => AnyValue::Bytes(v_binary.to_vec()),
        other => AnyValue::Str(format!("Unknown VType: {other}")),
    };
    Ok(KeyValue {
        key: text(key),
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::super::super::{BinaryReader, BinaryWriter, CompactReader, CompactWriter};
    use super::*;

    /// Builds the same structure in both protocols.
    fn both(build: impl Fn(&mut dyn ProtocolWriter)) -> [Vec<u8>; 2] {
        let mut c = CompactWriter::new();
        build(&mut c);
        let mut b = BinaryWriter::new();
        build(&mut b);
        [c.into_bytes(), b.into_bytes()]
    }

    fn decode_both(bytes: &[Vec<u8>; 2]) -> [Result<DecodedBatch, DecodeError>; 2] {
        [
            read_batch(&mut CompactReader::new(&bytes[0])),
            read_batch(&mut BinaryReader::new(&bytes[1])),
        ]
    }

    fn i64_field(w: &mut dyn ProtocolWriter, id: i16, v: i64) {
        w.field_begin(id, TType::I64);
        w.write_i64(v);
    }

    fn string_field(w: &mut dyn ProtocolWriter, id: i16, v: &[u8]) {
        w.field_begin(id, TType::Binary);
        w.write_binary(v);
    }

    /// Writes one value of every kind Thrift has, nested, as field `id` of some struct.
    fn unknown_fields(w: &mut dyn ProtocolWriter, first_id: i16) {
        let mut id = first_id;
        let mut next = || {
            id += 1;
            id
        };
        w.bool_field(next(), true);
        w.field_begin(next(), TType::Byte);
        w.write_i8(-1);
        w.field_begin(next(), TType::I16);
        w.write_i16(-2);
        w.field_begin(next(), TType::I32);
        w.write_i32(3);
        w.field_begin(next(), TType::Double);
        w.write_double(4.5);
        w.field_begin(next(), TType::Uuid);
        w.write_uuid([6; 16]);
        w.field_begin(next(), TType::Set);
        w.list_begin(TType::Bool, 2);
        w.write_bool(true);
        w.write_bool(false);
        w.field_begin(next(), TType::Map);
        w.map_begin(TType::Binary, TType::List, 1);
        w.write_binary(b"k");
        w.list_begin(TType::Struct, 1);
        let t = w.struct_begin();
        w.field_begin(1, TType::Struct);
        let t2 = w.struct_begin();
        w.bool_field(3, false);
        w.field_begin(4, TType::Map);
        w.map_begin(TType::I32, TType::I32, 0);
        w.struct_end(t2);
        w.struct_end(t);
        w.field_begin(next(), TType::Struct);
        let t = w.struct_begin();
        string_field(w, 1, b"nested");
        w.struct_end(t);
    }

    fn tag(
        w: &mut dyn ProtocolWriter,
        key: &[u8],
        vtype: i32,
        extra: &dyn Fn(&mut dyn ProtocolWriter),
    ) {
        let t = w.struct_begin();
        string_field(w, 1, key);
        w.field_begin(2, TType::I32);
        w.write_i32(vtype);
        extra(w);
        w.struct_end(t);
    }

    fn process(w: &mut dyn ProtocolWriter) {
        w.field_begin(1, TType::Struct);
        let t = w.struct_begin();
        string_field(w, 1, b"svc");
        w.struct_end(t);
    }

    /// A span with the required fields; `extra` adds fields after them.
    fn span(w: &mut dyn ProtocolWriter, parent: i64, extra: &dyn Fn(&mut dyn ProtocolWriter)) {
        let t = w.struct_begin();
        i64_field(w, 1, 0x11);
        i64_field(w, 2, 0x22);
        i64_field(w, 3, 0x33);
        i64_field(w, 4, parent);
        string_field(w, 5, b"op");
        w.field_begin(7, TType::I32);
        w.write_i32(1);
        i64_field(w, 8, 1_000);
        i64_field(w, 9, 5);
        extra(w);
        w.struct_end(t);
    }

    fn batch_of(spans: &dyn Fn(&mut dyn ProtocolWriter)) -> [Vec<u8>; 2] {
        both(|w| {
            let t = w.struct_begin();
            process(w);
            w.field_begin(2, TType::List);
            w.list_begin(TType::Struct, 1);
            spans(w);
            w.struct_end(t);
        })
    }

    fn refs(w: &mut dyn ProtocolWriter, list: &[(i32, i64, i64, i64)]) {
        w.field_begin(6, TType::List);
        w.list_begin(TType::Struct, list.len());
        for &(kind, low, high, span) in list {
            let t = w.struct_begin();
            w.field_begin(1, TType::I32);
            w.write_i32(kind);
            i64_field(w, 2, low);
            i64_field(w, 3, high);
            i64_field(w, 4, span);
            w.struct_end(t);
        }
    }

    #[test]
    fn parent_span_id_alone_becomes_the_parent() {
        for r in decode_both(&batch_of(&|w| span(w, 0x44, &|_| {}))) {
            let s = &r.unwrap().spans[0];
            assert_eq!(s.parent_span_id, SpanId(0x44));
            assert_eq!(s.trace_id, TraceId::from_halves(0x22, 0x11));
            assert!(s.links.is_empty());
            assert_eq!(s.service_name(), "svc");
        }
    }

    #[test]
    fn parent_span_id_is_not_duplicated_by_its_reference() {
        let bytes = batch_of(&|w| span(w, 0x44, &|w| refs(w, &[(REF_CHILD_OF, 0x11, 0x22, 0x44)])));
        for r in decode_both(&bytes) {
            let s = &r.unwrap().spans[0];
            assert_eq!(s.parent_span_id, SpanId(0x44));
            assert!(s.links.is_empty(), "{:?}", s.links);
        }
    }

    #[test]
    fn parent_span_id_named_only_by_follows_from_adds_child_of_first() {
        let bytes = batch_of(&|w| {
            span(w, 0x44, &|w| {
                refs(w, &[(REF_FOLLOWS_FROM, 0x11, 0x22, 0x44)])
            })
        });
        let mut r = CompactReader::new(&bytes[0]);
        let t = r.struct_begin();
        r.field_begin().unwrap();
        read_process(&mut r).unwrap();
        r.field_begin().unwrap();
        r.list_begin().unwrap();
        let js = read_span(&mut r, &Arc::default()).unwrap();
        r.struct_end(t);
        assert_eq!(js.references.len(), 2);
        assert_eq!(js.references[0].ref_type, RefType::ChildOf);
        assert_eq!(js.references[0].span_id, SpanId(0x44));
        assert_eq!(js.references[1].ref_type, RefType::FollowsFrom);
    }

    #[test]
    fn tags_of_every_type_and_edge_cases() {
        let bytes = batch_of(&|w| {
            span(w, 0, &|w| {
                w.field_begin(10, TType::List);
                w.list_begin(TType::Struct, 8);
                tag(w, b"s", TAG_STRING, &|w| string_field(w, 3, b"v"));
                tag(w, b"d", TAG_DOUBLE, &|w| {
                    w.field_begin(4, TType::Double);
                    w.write_double(0.5);
                });
                tag(w, b"b", TAG_BOOL, &|w| w.bool_field(5, true));
                tag(w, b"l", TAG_LONG, &|w| i64_field(w, 6, -7));
                tag(w, b"x", TAG_BINARY, &|w| string_field(w, 7, &[0, 0xff]));
                tag(w, b"unknown", 9, &|_| {});
                tag(w, b"bad\xffutf8", TAG_STRING, &|w| {
                    string_field(w, 3, b"\xc3")
                });
                // vStr absent: Jaeger reads it as the empty string.
                tag(w, b"empty", TAG_STRING, &|_| {});
            })
        });
        for r in decode_both(&bytes) {
            let attrs = &r.unwrap().spans[0].attributes;
            let expect = vec![
                KeyValue::new("s", "v"),
                KeyValue::new("d", 0.5),
                KeyValue::new("b", true),
                KeyValue::new("l", -7i64),
                KeyValue::new("x", AnyValue::Bytes(vec![0, 0xff])),
                KeyValue::new("unknown", "Unknown VType: 9"),
                KeyValue::new("bad\u{fffd}utf8", "\u{fffd}"),
                KeyValue::new("empty", ""),
            ];
            assert_eq!(attrs, &expect);
        }
    }

    #[test]
    fn unknown_fields_of_every_type_are_skipped_everywhere() {
        let bytes = both(|w| {
            let t = w.struct_begin();
            unknown_fields(w, 10);
            process(w);
            w.field_begin(2, TType::List);
            w.list_begin(TType::Struct, 1);
            span(w, 0, &|w| {
                unknown_fields(w, 20);
                w.field_begin(11, TType::List);
                w.list_begin(TType::Struct, 1);
                let lt = w.struct_begin();
                unknown_fields(w, 5);
                i64_field(w, 1, 7);
                w.field_begin(2, TType::List);
                w.list_begin(TType::Struct, 1);
                tag(w, b"k", TAG_LONG, &|w| {
                    i64_field(w, 6, 1);
                    unknown_fields(w, 30);
                });
                w.struct_end(lt);
            });
            // A known id with the wrong wire type is skipped, not misread.
            w.field_begin(3, TType::Binary);
            w.write_binary(b"not a seqNo");
            unknown_fields(w, 50);
            w.struct_end(t);
        });
        for r in decode_both(&bytes) {
            let b = r.unwrap();
            assert_eq!(b.meta, BatchMeta::default());
            let s = &b.spans[0];
            assert_eq!(s.events.len(), 1);
            assert_eq!(s.events[0].time_unix_nano, 7_000);
            assert_eq!(s.events[0].attributes, vec![KeyValue::new("k", 1i64)]);
        }
    }

    #[test]
    fn spans_before_the_process_still_share_it() {
        let bytes = both(|w| {
            let t = w.struct_begin();
            w.field_begin(2, TType::List);
            w.list_begin(TType::Struct, 2);
            span(w, 0, &|_| {});
            span(w, 0, &|_| {});
            process(w);
            i64_field(w, 3, 42);
            w.field_begin(4, TType::Struct);
            let st = w.struct_begin();
            i64_field(w, 1, 1);
            i64_field(w, 2, 2);
            i64_field(w, 3, 3);
            w.struct_end(st);
            w.struct_end(t);
        });
        for r in decode_both(&bytes) {
            let b = r.unwrap();
            assert_eq!(b.spans.len(), 2);
            assert_eq!(b.spans[0].service_name(), "svc");
            assert!(Arc::ptr_eq(&b.spans[0].resource, &b.spans[1].resource));
            assert_eq!(b.meta.seq_no, Some(42));
            let stats = b.meta.stats.unwrap();
            assert_eq!(
                (
                    stats.full_queue_dropped_spans,
                    stats.too_large_dropped_spans,
                    stats.failed_to_emit_spans
                ),
                (1, 2, 3)
            );
        }
    }

    #[test]
    fn missing_required_fields_are_errors() {
        let no_op_name = both(|w| {
            let t = w.struct_begin();
            process(w);
            w.field_begin(2, TType::List);
            w.list_begin(TType::Struct, 1);
            let st = w.struct_begin();
            i64_field(w, 1, 1);
            w.struct_end(st);
            w.struct_end(t);
        });
        for r in decode_both(&no_op_name) {
            let e = r.unwrap_err().to_string();
            assert!(
                e.contains("Span: required field traceIdHigh missing"),
                "{e}"
            );
        }
        let no_spans = both(|w| {
            let t = w.struct_begin();
            process(w);
            w.struct_end(t);
        });
        for r in decode_both(&no_spans) {
            assert!(r.unwrap_err().to_string().contains("spans"));
        }
        let no_key = batch_of(&|w| {
            span(w, 0, &|w| {
                w.field_begin(10, TType::List);
                w.list_begin(TType::Struct, 1);
                let t = w.struct_begin();
                w.field_begin(2, TType::I32);
                w.write_i32(TAG_STRING);
                w.struct_end(t);
            })
        });
        for r in decode_both(&no_key) {
            assert!(r.unwrap_err().to_string().contains("Tag"));
        }
    }

    #[test]
    fn a_spans_list_of_the_wrong_element_type_is_malformed() {
        let bytes = both(|w| {
            let t = w.struct_begin();
            process(w);
            w.field_begin(2, TType::List);
            w.list_begin(TType::I64, 1);
            w.write_i64(1);
            w.struct_end(t);
        });
        for r in decode_both(&bytes) {
            assert!(r.unwrap_err().to_string().contains("Batch.spans"));
        }
    }

    #[test]
    fn nesting_beyond_the_limit_is_rejected_not_overflowed() {
        let depth = MAX_DEPTH as usize + 5;
        let bytes = both(|w| {
            let t = w.struct_begin();
            let mut tokens = Vec::new();
            for _ in 0..depth {
                w.field_begin(9, TType::Struct);
                tokens.push(w.struct_begin());
            }
            for token in tokens.into_iter().rev() {
                w.struct_end(token);
            }
            w.struct_end(t);
        });
        for r in decode_both(&bytes) {
            assert!(r.unwrap_err().to_string().contains("nesting"));
        }
    }
}
