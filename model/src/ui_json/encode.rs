//! The UI JSON of a trace written straight from borrowed spans, for the query service's
//! response path.
//!
//! [`UiTraceRef`] implements `Serialize` and makes exactly the serializer calls that the
//! derived `Serialize` of [`UiTrace`](super::UiTrace) makes for
//! [`UiTrace::from_trace`](super::UiTrace::from_trace) (same fields, same order, same
//! lengths, same scalar types), so it produces the same bytes through any serde_json
//! formatter (compact, or `prettyPrint`'s indented one) — without building the owned trace:
//! no clone of a tag, no `String` per ID, no `serde_json::Value` per tag value. IDs, process
//! keys and out-of-range integers are formatted into stack buffers.
//!
//! It owns no mapping rule: which tags a span carries and in which order
//! ([`jaeger::span_tags`]), its references ([`jaeger::references`]), a log's fields
//! ([`jaeger::log_fields`]), how a value is typed ([`ui_value`]) and which process key a
//! span gets ([`ProcessTable`]) are the functions the owned path uses too. The equivalence
//! is tested byte for byte on generated traces (`model/tests/ui_json_ref_equivalence.rs`).

use base64::Engine;
use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use super::{ui_value, ProcessTable, UiValue};
use crate::jaeger::{self, ns_to_us, JaegerRef, TagRef};
use crate::span::{Event, Resource, Span, SpanId, Trace, TraceId};

/// One trace in the UI shape, borrowed. Serializes to the same bytes as
/// `UiTrace::from_trace(trace)`.
#[derive(Clone, Copy, Debug)]
pub struct UiTraceRef<'a> {
    pub(super) spans: &'a [Span],
}

impl<'a> UiTraceRef<'a> {
    pub fn new(trace: &'a Trace) -> Self {
        UiTraceRef::from_spans(&trace.spans)
    }

    /// The spans of one trace, written in the order given (as `UiTrace::from_spans`).
    pub fn from_spans(spans: &'a [Span]) -> Self {
        UiTraceRef { spans }
    }
}

impl Serialize for UiTraceRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (table, process_of) = ProcessTable::of_spans(self.spans);
        let trace_id = self.spans.first().map(|s| HexId::trace(s.trace_id));

        let mut t = serializer.serialize_struct("UiTrace", 4)?;
        t.serialize_field("traceID", trace_id.as_ref().map_or("", HexId::as_str))?;
        t.serialize_field(
            "spans",
            &Spans {
                spans: self.spans,
                process_of: &process_of,
            },
        )?;
        t.serialize_field("processes", &Processes(&table.entries))?;
        t.serialize_field("warnings", &None::<()>)?;
        t.end()
    }
}

struct Spans<'a> {
    spans: &'a [Span],
    process_of: &'a [usize],
}

impl Serialize for Spans<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.spans.len()))?;
        for (span, &process) in self.spans.iter().zip(self.process_of) {
            seq.serialize_element(&SpanRef { span, process })?;
        }
        seq.end()
    }
}

struct SpanRef<'a> {
    span: &'a Span,
    process: usize,
}

impl Serialize for SpanRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let span = self.span;
        // `UiSpan`'s fields; `flags` is skipped when zero, `process` always.
        let fields = 10 + usize::from(span.flags != 0);
        let mut s = serializer.serialize_struct("UiSpan", fields)?;
        s.serialize_field("traceID", &HexId::trace(span.trace_id))?;
        s.serialize_field("spanID", &HexId::span(span.span_id))?;
        if span.flags != 0 {
            s.serialize_field("flags", &span.flags)?;
        }
        s.serialize_field("operationName", span.name.as_str())?;
        s.serialize_field("references", &References(span))?;
        s.serialize_field("startTime", &micros(span.start_time_unix_nano))?;
        s.serialize_field("duration", &micros(span.duration_nanos()))?;
        s.serialize_field("tags", &Tags(span))?;
        s.serialize_field("logs", &Logs(&span.events))?;
        s.serialize_field("processID", &ProcessKey::new(self.process))?;
        let warnings = (!span.warnings.is_empty()).then_some(&span.warnings);
        s.serialize_field("warnings", &warnings)?;
        s.end()
    }
}

/// Jaeger microseconds as the owned path stores them (`u64` of a non-negative `i64`).
pub(super) fn micros(ns: u64) -> u64 {
    u64::try_from(ns_to_us(ns)).unwrap_or(0)
}

struct References<'a>(&'a Span);

impl Serialize for References<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let refs = jaeger::references(self.0);
        let mut seq = serializer.serialize_seq(Some(refs.len()))?;
        for r in refs {
            seq.serialize_element(&Reference(r))?;
        }
        seq.end()
    }
}

struct Reference(JaegerRef);

impl Serialize for Reference {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("UiReference", 3)?;
        s.serialize_field("refType", self.0.ref_type.as_upper_str())?;
        s.serialize_field("traceID", &HexId::trace(self.0.trace_id))?;
        s.serialize_field("spanID", &HexId::span(self.0.span_id))?;
        s.end()
    }
}

struct Tags<'a>(&'a Span);

impl Serialize for Tags<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let len = self.0.attributes.len() + jaeger::derived_tags(self.0).count();
        let mut seq = serializer.serialize_seq(Some(len))?;
        for tag in jaeger::span_tags(self.0) {
            seq.serialize_element(&Tag(tag))?;
        }
        seq.end()
    }
}

struct Logs<'a>(&'a [Event]);

impl Serialize for Logs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for event in self.0 {
            seq.serialize_element(&Log(event))?;
        }
        seq.end()
    }
}

struct Log<'a>(&'a Event);

impl Serialize for Log<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("UiLog", 2)?;
        s.serialize_field("timestamp", &micros(self.0.time_unix_nano))?;
        s.serialize_field("fields", &LogFields(self.0))?;
        s.end()
    }
}

struct LogFields<'a>(&'a Event);

impl Serialize for LogFields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let fields = jaeger::log_fields(self.0);
        let len = fields.size_hint().0;
        let mut seq = serializer.serialize_seq(Some(len))?;
        for tag in fields {
            seq.serialize_element(&Tag(tag))?;
        }
        seq.end()
    }
}

struct Tag<'a>(TagRef<'a>);

impl Serialize for Tag<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (value_type, value) = ui_value(self.0.value);
        let mut s = serializer.serialize_struct("UiKeyValue", 3)?;
        s.serialize_field("key", self.0.key)?;
        s.serialize_field("type", value_type)?;
        s.serialize_field("value", &Value(value))?;
        s.end()
    }
}

/// Largest binary value encoded on the stack; longer ones take one allocation.
pub(super) const STACK_BINARY: usize = 96;

struct Value<'a>(UiValue<'a>);

impl Serialize for Value<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            UiValue::Str(s) => serializer.serialize_str(s),
            UiValue::Bool(b) => serializer.serialize_bool(b),
            // As `serde_json::Value::from(i64)` serializes: non-negative as u64.
            UiValue::Int(i) => match u64::try_from(i) {
                Ok(u) => serializer.serialize_u64(u),
                Err(_) => serializer.serialize_i64(i),
            },
            UiValue::IntAsString(i) => serializer.serialize_str(Decimal::new(i).as_str()),
            UiValue::Float(d) => serializer.serialize_f64(d),
            UiValue::NonFinite(text) => serializer.serialize_str(text),
            UiValue::Binary(b) => {
                let engine = &base64::engine::general_purpose::STANDARD;
                let mut buf = [0u8; STACK_BINARY.div_ceil(3) * 4];
                match engine.encode_slice(b, &mut buf) {
                    Ok(n) => serializer.serialize_str(ascii(buf.get(..n).unwrap_or_default())),
                    Err(_) => serializer.serialize_str(&engine.encode(b)),
                }
            }
            UiValue::Lossy(v) => serializer.serialize_str(&v.to_string_lossy()),
        }
    }
}

struct Processes<'a>(&'a [&'a Resource]);

/// The process table's keys (`p1`, `p2`, … in order of first appearance) with their
/// resources, in the order Go writes a map: sorted keys, so `p10` comes before `p2`.
pub(super) fn sorted_process_keys<'a>(entries: &[&'a Resource]) -> Vec<(ProcessKey, &'a Resource)> {
    let mut keys: Vec<(ProcessKey, &Resource)> = entries
        .iter()
        .enumerate()
        .map(|(i, r)| (ProcessKey::new(i), *r))
        .collect();
    if keys.len() >= 10 {
        keys.sort_unstable_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    }
    keys
}

impl Serialize for Processes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let keys = sorted_process_keys(self.0);
        let mut map = serializer.serialize_map(Some(keys.len()))?;
        for (key, resource) in &keys {
            map.serialize_entry(key.as_str(), &Process(resource))?;
        }
        map.end()
    }
}

struct Process<'a>(&'a Resource);

impl Serialize for Process<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("UiProcess", 2)?;
        s.serialize_field("serviceName", self.0.service_name.as_str())?;
        s.serialize_field("tags", &ProcessTags(self.0))?;
        s.end()
    }
}

struct ProcessTags<'a>(&'a Resource);

impl Serialize for ProcessTags<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.attributes.len()))?;
        for kv in &self.0.attributes {
            seq.serialize_element(&Tag(TagRef::attribute(kv)))?;
        }
        seq.end()
    }
}

// ---------------------------------------------------------------------------------------
// Text on the stack

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Every byte these buffers hold is ASCII by construction; the fallback is unreachable.
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// An ID in lower-case hex: a span ID as 16 digits, a trace ID in Jaeger's form (16
/// digits when the high half is zero, else 32), as `TraceId::to_jaeger_string`.
pub(super) struct HexId {
    buf: [u8; 32],
    len: usize,
}

impl HexId {
    pub(super) fn trace(id: TraceId) -> Self {
        if id.high() == 0 {
            HexId::digits(u128::from(id.low()), 16)
        } else {
            HexId::digits(id.0, 32)
        }
    }

    pub(super) fn span(id: SpanId) -> Self {
        HexId::digits(u128::from(id.0), 16)
    }

    /// The low `len` hex digits of `v` (`len` even, at most 32), two digits per byte.
    fn digits(v: u128, len: usize) -> Self {
        let mut buf = [b'0'; 32];
        let bytes = v.to_be_bytes();
        let skip = bytes.len().saturating_sub(len / 2);
        for (pair, byte) in buf.chunks_exact_mut(2).zip(bytes.iter().skip(skip)) {
            if let [hi, lo] = pair {
                *hi = HEX[usize::from(byte >> 4)];
                *lo = HEX[usize::from(byte & 0xf)];
            }
        }
        HexId { buf, len }
    }

    pub(super) fn as_str(&self) -> &str {
        ascii(self.buf.get(..self.len).unwrap_or_default())
    }
}

impl Serialize for HexId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A decimal integer on the stack: at most 20 characters for an `i64` or a `u64`.
pub(super) struct Decimal {
    buf: [u8; 24],
    start: usize,
}

impl Decimal {
    pub(super) fn new(v: i64) -> Self {
        Decimal::with_sign(v < 0, v.unsigned_abs())
    }

    pub(super) fn unsigned(v: u64) -> Self {
        Decimal::with_sign(false, v)
    }

    fn with_sign(negative: bool, mut n: u64) -> Self {
        let mut buf = [0u8; 24];
        let mut start = buf.len();
        loop {
            start -= 1;
            buf[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if negative {
            start -= 1;
            buf[start] = b'-';
        }
        Decimal { buf, start }
    }

    pub(super) fn as_str(&self) -> &str {
        ascii(self.buf.get(self.start..).unwrap_or_default())
    }
}

/// A process key `p{index + 1}`, as `UiTrace::from_spans` assigns them.
pub(super) struct ProcessKey {
    buf: [u8; 24],
    len: usize,
}

impl ProcessKey {
    pub(super) fn new(index: usize) -> Self {
        let n = u64::try_from(index).unwrap_or(u64::MAX).saturating_add(1);
        let digits = Decimal::unsigned(n);
        let d = digits.as_str().as_bytes();
        let mut buf = [0u8; 24];
        buf[0] = b'p';
        let len = 1 + d.len();
        if let Some(dst) = buf.get_mut(1..len) {
            dst.copy_from_slice(d);
        }
        ProcessKey { buf, len }
    }

    pub(super) fn as_str(&self) -> &str {
        ascii(self.buf.get(..self.len).unwrap_or_default())
    }
}

impl Serialize for ProcessKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_text_matches_std_formatting() {
        for v in [0, 1, -1, 9, 10, i64::MAX, i64::MIN, 9_007_199_254_740_993] {
            assert_eq!(Decimal::new(v).as_str(), v.to_string());
        }
        for i in [0usize, 8, 9, 10, 99, 12345] {
            assert_eq!(ProcessKey::new(i).as_str(), format!("p{}", i + 1));
        }
        for id in [0u128, 1, u128::from(u64::MAX), u128::MAX, 0xabc << 64] {
            let t = TraceId(id);
            assert_eq!(HexId::trace(t).as_str(), t.to_jaeger_string());
        }
        assert_eq!(HexId::span(SpanId(0xbeef)).as_str(), "000000000000beef");
        for id in [0u64, 1, 0x0123_4567_89ab_cdef, u64::MAX] {
            assert_eq!(HexId::span(SpanId(id)).as_str(), format!("{id:016x}"));
            let t = TraceId::from_halves(id, id.rotate_left(7));
            assert_eq!(HexId::trace(t).as_str(), t.to_jaeger_string());
        }
    }
}
