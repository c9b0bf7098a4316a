//! The agent's fast path: a Jaeger thrift `emitBatch` (or bare `Batch`) decoded straight
//! into api_v2 protobuf, without the internal [`crate::Span`] in between.
//!
//! Thrift Jaeger v1 and api_v2 are the same model, so the mapping is field for field, as
//! Jaeger's own `ToDomain` converter does it: trace ID high/low → 16 big-endian bytes, span
//! ID → 8 bytes, microseconds → `Timestamp`/`Duration`, tags, logs and references as they
//! came. Tags are *not* lifted into span kind, status or scope here: the collector does that
//! when it converts api_v2 to its internal model, and gets the same span either way.
//!
//! What this keeps from the thrift → internal model decoder (`jaeger::read`), so that the
//! collector ends with the same spans whichever path the agent took:
//! * the same accept/reject decisions and [`DecodeError`]s, field by field (required fields,
//!   list element types, unknown fields skipped, trailing bytes ignored);
//! * a non-zero `parentSpanId` not already named by a `CHILD_OF` reference in the same
//!   trace becomes a `CHILD_OF` reference placed first;
//! * an unknown reference type is sent as `FOLLOWS_FROM` with a span warning, an unknown
//!   tag `vType` as the string tag `Unknown VType: N`;
//! * negative start times, durations and log timestamps are sent as 0 with the same span
//!   warnings, and times beyond what `u64` nanoseconds hold saturate the same way;
//! * strings that are not UTF-8 are converted lossily (U+FFFD).
//!
//! One deliberate difference: a batch that carries its `process` field twice uses the last
//! one for every span (as Jaeger's generated reader does), where the model decoder gives
//! spans read before the second process the first one.
//!
//! Decoding borrows the packet: strings stay slices of it (copied only when not UTF-8), and
//! the tags, logs and references of all spans live in three flat vectors, so a packet costs
//! a handful of allocations however many spans it holds. The spans can then be built as
//! `pb::Span` values ([`DirectSpan::to_proto`]) or written straight to protobuf bytes
//! ([`DirectSpan::encode`]), which are identical to what prost writes for that value.

use std::borrow::Cow;
use std::ops::Range;

use prost::bytes::BufMut;
use prost::encoding::{encoded_len_varint, key_len, WireType};
use prost_types::{Duration, Timestamp};
use sextant_proto::jaeger::api_v2 as pb;

use super::jaeger::read_stats;
use super::protocol::*;
use super::{BatchMeta, BinaryReader, CompactReader, Protocol};
use crate::DecodeError;

// Thrift enum values from jaeger.thrift.
const TAG_STRING: i32 = 0;
const TAG_DOUBLE: i32 = 1;
const TAG_BOOL: i32 = 2;
const TAG_LONG: i32 = 3;
const TAG_BINARY: i32 = 4;
const REF_CHILD_OF: i32 = 0;
const REF_FOLLOWS_FROM: i32 = 1;

/// Smallest encodings of the structs (see `jaeger::read`): they bound the capacity reserved
/// from a claimed list size, so a hostile header cannot make the decoder over-allocate.
const MIN_SPAN_BYTES: usize = 17;
const MIN_TAG_BYTES: usize = 5;
const MIN_LOG_BYTES: usize = 5;
const MIN_REF_BYTES: usize = 9;

/// Decodes an agent UDP packet (an `emitBatch` message) into api_v2 form.
pub fn decode_emit_batch_to_api_v2(
    bytes: &[u8],
    protocol: Protocol,
) -> Result<ApiV2Batch<'_>, DecodeError> {
    match protocol {
        Protocol::Compact => read_emit_batch(&mut CompactReader::new(bytes)),
        Protocol::Binary => read_emit_batch(&mut BinaryReader::new(bytes)),
    }
}

/// Decodes a bare `Batch` struct (the collector's `/api/traces` body) into api_v2 form.
pub fn decode_batch_to_api_v2(
    bytes: &[u8],
    protocol: Protocol,
) -> Result<ApiV2Batch<'_>, DecodeError> {
    match protocol {
        Protocol::Compact => read_batch(&mut CompactReader::new(bytes)),
        Protocol::Binary => read_batch(&mut BinaryReader::new(bytes)),
    }
}

/// A tag's value, borrowed from the packet where it can be.
#[derive(Clone, Debug, PartialEq)]
enum Value<'a> {
    Str(Cow<'a, str>),
    Double(f64),
    Bool(bool),
    Long(i64),
    Binary(&'a [u8]),
}

#[derive(Clone, Debug, PartialEq)]
struct Tag<'a> {
    key: Cow<'a, str>,
    value: Value<'a>,
    /// The encoded `KeyValue` body's length, computed once: the span's length and the
    /// tag's own length prefix both need it.
    body_len: usize,
}

impl<'a> Tag<'a> {
    fn new(key: Cow<'a, str>, value: Value<'a>) -> Self {
        let body_len = tag_body_len(&key, &value);
        Tag {
            key,
            value,
            body_len,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ref {
    follows_from: bool,
    trace_id: [u8; 16],
    span_id: u64,
}

#[derive(Clone, Debug, PartialEq)]
struct Log {
    /// Microseconds as sent until the span is finished, then clamped nanoseconds.
    timestamp_us: i64,
    timestamp_ns: u64,
    fields: Range<usize>,
}

#[derive(Clone, Debug, PartialEq)]
struct SpanView<'a> {
    trace_id: [u8; 16],
    span_id: u64,
    /// A `parentSpanId` to send as a first `CHILD_OF` reference; 0 for none.
    implicit_parent: u64,
    operation_name: Cow<'a, str>,
    refs: Range<usize>,
    flags: u32,
    start_ns: u64,
    duration_ns: u64,
    tags: Range<usize>,
    logs: Range<usize>,
    warnings: Vec<String>,
}

/// A decoded `Batch` in api_v2 form, borrowing the packet it was read from.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiV2Batch<'a> {
    service_name: Cow<'a, str>,
    process_tags: Range<usize>,
    spans: Vec<SpanView<'a>>,
    tags: Vec<Tag<'a>>,
    logs: Vec<Log>,
    refs: Vec<Ref>,
    meta: BatchMeta,
}

/// One span of an [`ApiV2Batch`], ready to be built or encoded.
#[derive(Clone, Copy, Debug)]
pub struct DirectSpan<'b, 'a> {
    batch: &'b ApiV2Batch<'a>,
    span: &'b SpanView<'a>,
}

impl<'a> ApiV2Batch<'a> {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The batch's `seqNo` and client `stats`.
    pub fn meta(&self) -> BatchMeta {
        self.meta
    }

    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    pub fn spans(&self) -> impl ExactSizeIterator<Item = DirectSpan<'_, 'a>> + '_ {
        self.spans
            .iter()
            .map(move |span| DirectSpan { batch: self, span })
    }

    /// The batch's process as an api_v2 value.
    pub fn process_proto(&self) -> pb::Process {
        pb::Process {
            service_name: self.service_name.clone().into_owned(),
            tags: self
                .tags_slice(&self.process_tags)
                .iter()
                .map(tag_to_proto)
                .collect(),
        }
    }

    /// Every span as an api_v2 value, without an embedded process (it is the batch's).
    pub fn spans_proto(&self) -> Vec<pb::Span> {
        self.spans().map(|s| s.to_proto()).collect()
    }

    /// The length of [`ApiV2Batch::encode_process`]'s output.
    pub fn encoded_process_len(&self, extra_tags: &[pb::KeyValue]) -> usize {
        let own: usize = self
            .tags_slice(&self.process_tags)
            .iter()
            .map(|t| delimited_len(2, tag_len(t)))
            .sum();
        let extra: usize = extra_tags
            .iter()
            .map(|t| prost::encoding::message::encoded_len(2, t))
            .sum();
        str_field_len(1, &self.service_name) + own + extra
    }

    /// Writes the body of a `Process` message: the batch's process with `extra_tags` (the
    /// agent's `--agent.tags`) appended to its tags.
    pub fn encode_process(&self, extra_tags: &[pb::KeyValue], buf: &mut impl BufMut) {
        put_str_field(1, self.service_name.as_bytes(), buf);
        for t in self.tags_slice(&self.process_tags) {
            put_tag(2, t, buf);
        }
        for t in extra_tags {
            prost::encoding::message::encode(2, t, buf);
        }
    }

    fn tags_slice(&self, range: &Range<usize>) -> &[Tag<'a>] {
        self.tags.get(range.clone()).unwrap_or_default()
    }

    fn refs_slice(&self, range: &Range<usize>) -> &[Ref] {
        self.refs.get(range.clone()).unwrap_or_default()
    }

    fn logs_slice(&self, range: &Range<usize>) -> &[Log] {
        self.logs.get(range.clone()).unwrap_or_default()
    }
}

impl DirectSpan<'_, '_> {
    /// The span as an api_v2 value (no embedded process).
    pub fn to_proto(&self) -> pb::Span {
        let s = self.span;
        let b = self.batch;
        let mut references = Vec::with_capacity(s.refs.len() + 1);
        if s.implicit_parent != 0 {
            references.push(ref_to_proto(&parent_ref(s)));
        }
        references.extend(b.refs_slice(&s.refs).iter().map(ref_to_proto));
        pb::Span {
            trace_id: s.trace_id.to_vec(),
            span_id: s.span_id.to_be_bytes().to_vec(),
            operation_name: s.operation_name.clone().into_owned(),
            references,
            flags: s.flags,
            start_time: Some(timestamp(s.start_ns)),
            duration: Some(duration(s.duration_ns)),
            tags: b.tags_slice(&s.tags).iter().map(tag_to_proto).collect(),
            logs: b
                .logs_slice(&s.logs)
                .iter()
                .map(|l| pb::Log {
                    timestamp: Some(timestamp(l.timestamp_ns)),
                    fields: b.tags_slice(&l.fields).iter().map(tag_to_proto).collect(),
                })
                .collect(),
            process: None,
            process_id: String::new(),
            warnings: s.warnings.clone(),
        }
    }

    /// The length of the span's `pb::Span` message body.
    pub fn encoded_len(&self) -> usize {
        let s = self.span;
        let b = self.batch;
        let mut n = TRACE_ID_FIELD_LEN + SPAN_ID_FIELD_LEN + str_field_len(3, &s.operation_name);
        if s.implicit_parent != 0 {
            n += delimited_len(4, ref_len(&parent_ref(s)));
        }
        n += b
            .refs_slice(&s.refs)
            .iter()
            .map(|r| delimited_len(4, ref_len(r)))
            .sum::<usize>();
        n += varint_field_len(5, u64::from(s.flags));
        n += delimited_len(6, time_len(s.start_ns));
        n += delimited_len(7, time_len(s.duration_ns));
        n += b
            .tags_slice(&s.tags)
            .iter()
            .map(|t| delimited_len(8, tag_len(t)))
            .sum::<usize>();
        n += b
            .logs_slice(&s.logs)
            .iter()
            .map(|l| delimited_len(9, log_len(b, l)))
            .sum::<usize>();
        n += s
            .warnings
            .iter()
            .map(|w| delimited_len(12, w.len()))
            .sum::<usize>();
        n
    }

    /// Writes the span's `pb::Span` message body: the bytes prost writes for
    /// [`DirectSpan::to_proto`].
    pub fn encode(&self, buf: &mut impl BufMut) {
        let s = self.span;
        let b = self.batch;
        put_bytes_field(1, &s.trace_id, buf);
        put_bytes_field(2, &s.span_id.to_be_bytes(), buf);
        put_str_field(3, s.operation_name.as_bytes(), buf);
        if s.implicit_parent != 0 {
            put_ref(&parent_ref(s), buf);
        }
        for r in b.refs_slice(&s.refs) {
            put_ref(r, buf);
        }
        put_varint_field(5, u64::from(s.flags), buf);
        put_time(6, s.start_ns, buf);
        put_time(7, s.duration_ns, buf);
        for t in b.tags_slice(&s.tags) {
            put_tag(8, t, buf);
        }
        for l in b.logs_slice(&s.logs) {
            let fields = b.tags_slice(&l.fields);
            encode_key(9, WireType::LengthDelimited, buf);
            encode_varint(log_len(b, l) as u64, buf);
            put_time(1, l.timestamp_ns, buf);
            for t in fields {
                put_tag(2, t, buf);
            }
        }
        for w in &s.warnings {
            // Repeated strings are written even when empty.
            encode_key(12, WireType::LengthDelimited, buf);
            encode_varint(w.len() as u64, buf);
            buf.put_slice(w.as_bytes());
        }
    }

    /// Writes the span as field `tag` of an enclosing message (e.g. `Batch.spans`, 1).
    pub fn encode_as_field(&self, tag: u32, buf: &mut impl BufMut) {
        encode_key(tag, WireType::LengthDelimited, buf);
        encode_varint(self.encoded_len() as u64, buf);
        self.encode(buf);
    }
}

// ---- decoding ----

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

fn text(b: &[u8]) -> Cow<'_, str> {
    // `from_utf8` is the fast validator (ASCII fast path); the lossy scan runs only on bad
    // input.
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

fn struct_list<'a, R: ProtocolReader<'a>>(r: &mut R, what: &str) -> Result<usize, DecodeError> {
    let h = r.list_begin()?;
    if h.size > 0 && h.elem != TType::Struct {
        return Err(malformed(format!("{what} is a list of {:?}", h.elem)));
    }
    Ok(h.size)
}

fn capacity(size: usize, min_bytes: usize, remaining: usize) -> usize {
    size.min(remaining / min_bytes)
}

fn trace_id(high: i64, low: i64) -> [u8; 16] {
    ((u128::from(high as u64) << 64) | u128::from(low as u64)).to_be_bytes()
}

/// Microseconds → nanoseconds as the model decoder does: negative → 0 with a warning.
fn us_to_ns(us: i64, what: &str, warnings: &mut Vec<String>) -> u64 {
    if us < 0 {
        warnings.push(format!("negative {what} {us}us clamped to 0"));
        0
    } else {
        (us as u64).saturating_mul(1000)
    }
}

fn read_emit_batch<'a, R: ProtocolReader<'a>>(r: &mut R) -> Result<ApiV2Batch<'a>, DecodeError> {
    super::agent::read_emit_batch_with(r, read_batch)
}

fn read_batch<'a, R: ProtocolReader<'a>>(r: &mut R) -> Result<ApiV2Batch<'a>, DecodeError> {
    let token = r.struct_begin();
    let mut seen = Required::default();
    let mut batch = ApiV2Batch {
        service_name: Cow::Borrowed(""),
        process_tags: 0..0,
        spans: Vec::new(),
        tags: Vec::new(),
        logs: Vec::new(),
        refs: Vec::new(),
        meta: BatchMeta::default(),
    };
    while let Some(f) = r.field_begin()? {
        match (f.id, f.ttype) {
            (1, TType::Struct) => {
                seen.see(1);
                read_process(r, &mut batch)?;
            }
            (2, TType::List) => {
                seen.see(2);
                let size = struct_list(r, "Batch.spans")?;
                let cap = capacity(size, MIN_SPAN_BYTES, r.remaining());
                batch.spans.reserve(cap);
                // Typical client spans carry several tags: one reservation up front saves
                // the early doublings of the flat tag vector.
                let tags = capacity(size.saturating_mul(8), MIN_TAG_BYTES, r.remaining());
                batch.tags.reserve(tags);
                for _ in 0..size {
                    let span = read_span(r, &mut batch)?;
                    batch.spans.push(span);
                }
            }
            (3, TType::I64) => batch.meta.seq_no = Some(r.read_i64()?),
            (4, TType::Struct) => batch.meta.stats = Some(read_stats(r)?),
            (_, t) => skip(r, t)?,
        }
    }
    r.struct_end(token);
    seen.check("Batch", &[(1, "process"), (2, "spans")])?;
    Ok(batch)
}

fn read_process<'a, R: ProtocolReader<'a>>(
    r: &mut R,
    batch: &mut ApiV2Batch<'a>,
) -> Result<(), DecodeError> {
    let token = r.struct_begin();
    let mut seen = Required::default();
    let mut service_name = Cow::Borrowed("");
    let mut tags = 0..0;
    while let Some(f) = r.field_begin()? {
        match (f.id, f.ttype) {
            (1, TType::Binary) => {
                seen.see(1);
                service_name = text(r.read_binary()?);
            }
            (2, TType::List) => tags = read_tags(r, "Process.tags", &mut batch.tags)?,
            (_, t) => skip(r, t)?,
        }
    }
    r.struct_end(token);
    seen.check("Process", &[(1, "serviceName")])?;
    batch.service_name = service_name;
    batch.process_tags = tags;
    Ok(())
}

fn read_span<'a, R: ProtocolReader<'a>>(
    r: &mut R,
    batch: &mut ApiV2Batch<'a>,
) -> Result<SpanView<'a>, DecodeError> {
    let token = r.struct_begin();
    let mut seen = Required::default();
    let (mut low, mut high, mut parent) = (0i64, 0i64, 0i64);
    let (mut start_us, mut duration_us) = (0i64, 0i64);
    let mut span = SpanView {
        trace_id: [0; 16],
        span_id: 0,
        implicit_parent: 0,
        operation_name: Cow::Borrowed(""),
        refs: 0..0,
        flags: 0,
        start_ns: 0,
        duration_ns: 0,
        tags: 0..0,
        logs: 0..0,
        warnings: Vec::new(),
    };
    while let Some(f) = r.field_begin()? {
        match (f.id, f.ttype) {
            (1, TType::I64) => low = r.read_i64()?,
            (2, TType::I64) => high = r.read_i64()?,
            (3, TType::I64) => span.span_id = r.read_i64()? as u64,
            (4, TType::I64) => parent = r.read_i64()?,
            (5, TType::Binary) => span.operation_name = text(r.read_binary()?),
            (6, TType::List) => {
                span.refs = read_refs(r, &mut batch.refs, &mut span.warnings)?;
            }
            (7, TType::I32) => span.flags = r.read_i32()? as u32,
            (8, TType::I64) => start_us = r.read_i64()?,
            (9, TType::I64) => duration_us = r.read_i64()?,
            (10, TType::List) => span.tags = read_tags(r, "Span.tags", &mut batch.tags)?,
            (11, TType::List) => span.logs = read_logs(r, batch)?,
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
    span.trace_id = trace_id(high, low);
    let parent = parent as u64;
    if parent != 0 {
        let named = batch
            .refs_slice(&span.refs)
            .iter()
            .any(|r| !r.follows_from && r.trace_id == span.trace_id && r.span_id == parent);
        if !named {
            span.implicit_parent = parent;
        }
    }
    // Clamping order (start, duration, then each log) matches the model's warnings order.
    span.start_ns = us_to_ns(start_us, "start time", &mut span.warnings);
    let duration_ns = us_to_ns(duration_us, "duration", &mut span.warnings);
    // The model keeps an end time; a saturated end shortens the duration the same way here.
    span.duration_ns = span.start_ns.saturating_add(duration_ns) - span.start_ns;
    for log in batch.logs.get_mut(span.logs.clone()).unwrap_or_default() {
        log.timestamp_ns = us_to_ns(log.timestamp_us, "log timestamp", &mut span.warnings);
    }
    Ok(span)
}

fn parent_ref(s: &SpanView<'_>) -> Ref {
    Ref {
        follows_from: false,
        trace_id: s.trace_id,
        span_id: s.implicit_parent,
    }
}

fn read_refs<'a, R: ProtocolReader<'a>>(
    r: &mut R,
    refs: &mut Vec<Ref>,
    warnings: &mut Vec<String>,
) -> Result<Range<usize>, DecodeError> {
    let size = struct_list(r, "Span.references")?;
    refs.reserve(capacity(size, MIN_REF_BYTES, r.remaining()));
    let start = refs.len();
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
        let follows_from = match kind {
            REF_CHILD_OF => false,
            REF_FOLLOWS_FROM => true,
            other => {
                // api_v2 has two reference types; keep the link rather than drop it.
                warnings.push(format!(
                    "unknown reference type {other} read as follows_from"
                ));
                true
            }
        };
        refs.push(Ref {
            follows_from,
            trace_id: trace_id(high, low),
            span_id: span as u64,
        });
    }
    Ok(start..refs.len())
}

fn read_logs<'a, R: ProtocolReader<'a>>(
    r: &mut R,
    batch: &mut ApiV2Batch<'a>,
) -> Result<Range<usize>, DecodeError> {
    let size = struct_list(r, "Span.logs")?;
    batch
        .logs
        .reserve(capacity(size, MIN_LOG_BYTES, r.remaining()));
    let start = batch.logs.len();
    for _ in 0..size {
        let token = r.struct_begin();
        let mut seen = Required::default();
        let mut log = Log {
            timestamp_us: 0,
            timestamp_ns: 0,
            fields: 0..0,
        };
        while let Some(f) = r.field_begin()? {
            match (f.id, f.ttype) {
                (1, TType::I64) => log.timestamp_us = r.read_i64()?,
                (2, TType::List) => log.fields = read_tags(r, "Log.fields", &mut batch.tags)?,
                (_, t) => {
                    skip(r, t)?;
                    continue;
                }
            }
            seen.see(f.id);
        }
        r.struct_end(token);
        seen.check("Log", &[(1, "timestamp"), (2, "fields")])?;
        batch.logs.push(log);
    }
    Ok(start..batch.logs.len())
}

fn read_tags<'a, R: ProtocolReader<'a>>(
    r: &mut R,
    what: &str,
    tags: &mut Vec<Tag<'a>>,
) -> Result<Range<usize>, DecodeError> {
    let size = struct_list(r, what)?;
    tags.reserve(capacity(size, MIN_TAG_BYTES, r.remaining()));
    let start = tags.len();
    for _ in 0..size {
        tags.push(read_tag(r)?);
    }
    Ok(start..tags.len())
}

fn read_tag<'a, R: ProtocolReader<'a>>(r: &mut R) -> Result<Tag<'a>, DecodeError> {
    let token = r.struct_begin();
    let mut key: Option<&'a [u8]> = None;
    let mut vtype: Option<i32> = None;
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
        TAG_STRING => Value::Str(text(v_str)),
        TAG_DOUBLE => Value::Double(v_double),
        TAG_BOOL => Value::Bool(v_bool),
        TAG_LONG => Value::Long(v_long),
        TAG_BINARY => Value::Binary(v_binary),
        other => Value::Str(Cow::Owned(format!("Unknown VType: {other}"))),
    };
    Ok(Tag::new(text(key), value))
}

// ---- api_v2 values ----

fn tag_to_proto(t: &Tag<'_>) -> pb::KeyValue {
    let mut out = pb::KeyValue {
        key: t.key.clone().into_owned(),
        ..Default::default()
    };
    match &t.value {
        Value::Str(s) => out.v_str = s.clone().into_owned(),
        Value::Bool(b) => {
            out.set_v_type(pb::ValueType::Bool);
            out.v_bool = *b;
        }
        Value::Long(i) => {
            out.set_v_type(pb::ValueType::Int64);
            out.v_int64 = *i;
        }
        Value::Double(d) => {
            out.set_v_type(pb::ValueType::Float64);
            out.v_float64 = *d;
        }
        Value::Binary(b) => {
            out.set_v_type(pb::ValueType::Binary);
            out.v_binary = b.to_vec();
        }
    }
    out
}

fn ref_to_proto(r: &Ref) -> pb::SpanRef {
    pb::SpanRef {
        trace_id: r.trace_id.to_vec(),
        span_id: r.span_id.to_be_bytes().to_vec(),
        ref_type: if r.follows_from {
            pb::SpanRefType::FollowsFrom
        } else {
            pb::SpanRefType::ChildOf
        } as i32,
    }
}

fn seconds_nanos(ns: u64) -> (i64, i32) {
    // u64::MAX / 1e9 and a remainder below 1e9 both fit their fields.
    ((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as i32)
}

fn timestamp(ns: u64) -> Timestamp {
    let (seconds, nanos) = seconds_nanos(ns);
    Timestamp { seconds, nanos }
}

fn duration(ns: u64) -> Duration {
    let (seconds, nanos) = seconds_nanos(ns);
    Duration { seconds, nanos }
}

// ---- protobuf encoding (proto3: default scalars and empty strings are not written) ----

/// `bytes trace_id = 1` (16 bytes) and `bytes span_id = 2` (8 bytes), with their headers.
const TRACE_ID_FIELD_LEN: usize = 1 + 1 + 16;
const SPAN_ID_FIELD_LEN: usize = 1 + 1 + 8;

/// A field key. Every api_v2 field number used here is below 16, so a key is one byte.
#[inline]
fn encode_key(tag: u32, wire_type: WireType, buf: &mut impl BufMut) {
    let key = (tag << 3) | wire_type as u32;
    match u8::try_from(key) {
        Ok(b) if b < 0x80 => buf.put_u8(b),
        _ => prost::encoding::encode_key(tag, wire_type, buf),
    }
}

/// A varint; most values here (lengths of tags and strings) fit one byte.
#[inline]
fn encode_varint(v: u64, buf: &mut impl BufMut) {
    if v < 0x80 {
        buf.put_u8(v as u8);
    } else {
        prost::encoding::encode_varint(v, buf);
    }
}

fn delimited_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

fn str_field_len(tag: u32, s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        delimited_len(tag, s.len())
    }
}

fn varint_field_len(tag: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        key_len(tag) + encoded_len_varint(v)
    }
}

fn put_str_field(tag: u32, s: &[u8], buf: &mut impl BufMut) {
    if !s.is_empty() {
        put_bytes_field(tag, s, buf);
    }
}

fn put_bytes_field(tag: u32, s: &[u8], buf: &mut impl BufMut) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(s.len() as u64, buf);
    buf.put_slice(s);
}

fn put_varint_field(tag: u32, v: u64, buf: &mut impl BufMut) {
    if v != 0 {
        encode_key(tag, WireType::Varint, buf);
        encode_varint(v, buf);
    }
}

/// The api_v2 `ValueType` of a tag value.
fn value_type(v: &Value<'_>) -> u64 {
    match v {
        Value::Str(_) => pb::ValueType::String as u64,
        Value::Bool(_) => pb::ValueType::Bool as u64,
        Value::Long(_) => pb::ValueType::Int64 as u64,
        Value::Double(_) => pb::ValueType::Float64 as u64,
        Value::Binary(_) => pb::ValueType::Binary as u64,
    }
}

fn tag_len(t: &Tag<'_>) -> usize {
    t.body_len
}

fn tag_body_len(key: &str, v: &Value<'_>) -> usize {
    let value = match v {
        Value::Str(s) => str_field_len(3, s),
        Value::Bool(b) => varint_field_len(4, u64::from(*b)),
        Value::Long(i) => varint_field_len(5, *i as u64),
        // Compared as prost does: -0.0 is the default and not written, NaN is.
        Value::Double(d) if *d != 0.0 => key_len(6) + 8,
        Value::Double(_) => 0,
        Value::Binary(b) => {
            if b.is_empty() {
                0
            } else {
                delimited_len(7, b.len())
            }
        }
    };
    str_field_len(1, key) + varint_field_len(2, value_type(v)) + value
}

fn put_tag(tag: u32, t: &Tag<'_>, buf: &mut impl BufMut) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(tag_len(t) as u64, buf);
    put_str_field(1, t.key.as_bytes(), buf);
    put_varint_field(2, value_type(&t.value), buf);
    match &t.value {
        Value::Str(s) => put_str_field(3, s.as_bytes(), buf),
        Value::Bool(b) => put_varint_field(4, u64::from(*b), buf),
        Value::Long(i) => put_varint_field(5, *i as u64, buf),
        Value::Double(d) => {
            if *d != 0.0 {
                encode_key(6, WireType::SixtyFourBit, buf);
                buf.put_f64_le(*d);
            }
        }
        Value::Binary(b) => put_str_field(7, b, buf),
    }
}

fn ref_len(r: &Ref) -> usize {
    TRACE_ID_FIELD_LEN + SPAN_ID_FIELD_LEN + varint_field_len(3, u64::from(r.follows_from))
}

fn put_ref(r: &Ref, buf: &mut impl BufMut) {
    encode_key(4, WireType::LengthDelimited, buf);
    encode_varint(ref_len(r) as u64, buf);
    put_bytes_field(1, &r.trace_id, buf);
    put_bytes_field(2, &r.span_id.to_be_bytes(), buf);
    put_varint_field(3, u64::from(r.follows_from), buf);
}

/// A `Timestamp` or `Duration` body (same layout): `int64 seconds = 1; int32 nanos = 2`.
fn time_len(ns: u64) -> usize {
    let (seconds, nanos) = seconds_nanos(ns);
    varint_field_len(1, seconds as u64) + varint_field_len(2, i64::from(nanos) as u64)
}

fn put_time(tag: u32, ns: u64, buf: &mut impl BufMut) {
    let (seconds, nanos) = seconds_nanos(ns);
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(time_len(ns) as u64, buf);
    put_varint_field(1, seconds as u64, buf);
    put_varint_field(2, i64::from(nanos) as u64, buf);
}

fn log_len(b: &ApiV2Batch<'_>, l: &Log) -> usize {
    delimited_len(1, time_len(l.timestamp_ns))
        + b.tags_slice(&l.fields)
            .iter()
            .map(|t| delimited_len(2, tag_len(t)))
            .sum::<usize>()
}
