//! The compact UI JSON of a trace written byte by byte, for the query service's hot path.
//!
//! serde_json's `to_writer` of a [`UiTraceRef`] is correct but spends most of its time on
//! machinery: every field is a key string run through the escape scan, every string is
//! scanned one byte at a time, and every write goes through `io::Write`. Here the field
//! names and punctuation are constant byte strings, IDs and numbers are written without a
//! scan, and strings that may need escaping are scanned eight bytes at a time, clean runs
//! copied with one `extend_from_slice`.
//!
//! The output is the same bytes as `serde_json::to_writer(UiTraceRef)` in compact form
//! (and hence as serializing `UiTrace::from_trace`): serde_json escapes `"`, `\` and the
//! control characters below U+0020 (`\b \t \n \f \r` short, the others `\u00xx` in lower
//! case), and nothing else — not `/`, not DEL, not `<>&`, not U+2028/U+2029, which pass
//! through as UTF-8. Numbers: integers in decimal, floats as serde_json's own formatter
//! writes them. `model/tests/ui_json_ref_equivalence.rs` checks the equality on generated
//! traces; the pretty-printed form (`prettyPrint`) keeps the serde path.

use base64::Engine;
use serde_json::ser::Formatter;

use super::encode::{micros, sorted_process_keys, Decimal, HexId, ProcessKey, STACK_BINARY};
use super::{ui_value, ProcessTable, UiTraceRef, UiValue};
use crate::jaeger::{self, TagRef};
use crate::span::{Event, Resource, Span, TraceId};

impl UiTraceRef<'_> {
    /// Appends this trace's compact UI JSON to `out`: the same bytes as
    /// `serde_json::to_writer(out, self)`.
    pub fn write_compact(&self, out: &mut Vec<u8>) {
        let (table, process_of) = ProcessTable::of_spans(self.spans);

        // Spans (and parent references) of a trace nearly always carry its ID: hex it once.
        let trace_hex = self
            .spans
            .first()
            .map(|s| (s.trace_id, HexId::trace(s.trace_id)));
        out.extend_from_slice(b"{\"traceID\":\"");
        if let Some((_, hex)) = &trace_hex {
            out.extend_from_slice(hex.as_str().as_bytes());
        }
        out.extend_from_slice(b"\",\"spans\":[");
        comma_separated(
            out,
            self.spans.iter().zip(&process_of),
            |out, (span, &process)| {
                write_span(out, span, process, trace_hex.as_ref());
            },
        );
        out.extend_from_slice(b"],\"processes\":{");
        write_processes(out, &table.entries);
        out.extend_from_slice(b"},\"warnings\":null}");
    }
}

/// Appends `[trace, …]` in compact UI JSON: the same bytes as `serde_json::to_writer` of
/// the slice (a search answer's `data`).
pub fn write_compact_traces(traces: &[UiTraceRef<'_>], out: &mut Vec<u8>) {
    out.push(b'[');
    comma_separated(out, traces, |out, trace| trace.write_compact(out));
    out.push(b']');
}

/// A trace ID in hex, from `cached` when it is that ID.
fn write_trace_id(out: &mut Vec<u8>, id: TraceId, cached: Option<&(TraceId, HexId)>) {
    match cached {
        Some((c, hex)) if *c == id => out.extend_from_slice(hex.as_str().as_bytes()),
        _ => out.extend_from_slice(HexId::trace(id).as_str().as_bytes()),
    }
}

fn write_span(
    out: &mut Vec<u8>,
    span: &Span,
    process: usize,
    trace_hex: Option<&(TraceId, HexId)>,
) {
    out.extend_from_slice(b"{\"traceID\":\"");
    write_trace_id(out, span.trace_id, trace_hex);
    out.extend_from_slice(b"\",\"spanID\":\"");
    out.extend_from_slice(HexId::span(span.span_id).as_str().as_bytes());
    out.push(b'"');
    if span.flags != 0 {
        out.extend_from_slice(b",\"flags\":");
        write_u64(out, u64::from(span.flags));
    }
    out.extend_from_slice(b",\"operationName\":");
    write_str(out, &span.name);
    out.extend_from_slice(b",\"references\":[");
    comma_separated(out, jaeger::references(span), |out, r| {
        out.extend_from_slice(b"{\"refType\":\"");
        out.extend_from_slice(r.ref_type.as_upper_str().as_bytes());
        out.extend_from_slice(b"\",\"traceID\":\"");
        write_trace_id(out, r.trace_id, trace_hex);
        out.extend_from_slice(b"\",\"spanID\":\"");
        out.extend_from_slice(HexId::span(r.span_id).as_str().as_bytes());
        out.extend_from_slice(b"\"}");
    });
    out.extend_from_slice(b"],\"startTime\":");
    write_u64(out, micros(span.start_time_unix_nano));
    out.extend_from_slice(b",\"duration\":");
    write_u64(out, micros(span.duration_nanos()));
    out.extend_from_slice(b",\"tags\":");
    write_tags(out, jaeger::span_tags(span));
    out.extend_from_slice(b",\"logs\":[");
    comma_separated(out, &span.events, write_log);
    out.extend_from_slice(b"],\"processID\":\"");
    out.extend_from_slice(ProcessKey::new(process).as_str().as_bytes());
    out.extend_from_slice(b"\",\"warnings\":");
    if span.warnings.is_empty() {
        out.extend_from_slice(b"null");
    } else {
        out.push(b'[');
        comma_separated(out, &span.warnings, |out, w| write_str(out, w));
        out.push(b']');
    }
    out.push(b'}');
}

fn write_log(out: &mut Vec<u8>, event: &Event) {
    out.extend_from_slice(b"{\"timestamp\":");
    write_u64(out, micros(event.time_unix_nano));
    out.extend_from_slice(b",\"fields\":");
    write_tags(out, jaeger::log_fields(event));
    out.push(b'}');
}

fn write_tags<'a>(out: &mut Vec<u8>, tags: impl Iterator<Item = TagRef<'a>>) {
    out.push(b'[');
    comma_separated(out, tags, write_tag);
    out.push(b']');
}

fn write_tag(out: &mut Vec<u8>, tag: TagRef<'_>) {
    let (value_type, value) = ui_value(tag.value);
    out.extend_from_slice(b"{\"key\":");
    write_str(out, tag.key);
    // The type names are constant ASCII words ("string", "int64", …).
    out.extend_from_slice(b",\"type\":\"");
    out.extend_from_slice(value_type.as_bytes());
    out.extend_from_slice(b"\",\"value\":");
    write_value(out, value);
    out.push(b'}');
}

fn write_value(out: &mut Vec<u8>, value: UiValue<'_>) {
    match value {
        UiValue::Str(s) => write_str(out, s),
        UiValue::Bool(true) => out.extend_from_slice(b"true"),
        UiValue::Bool(false) => out.extend_from_slice(b"false"),
        UiValue::Int(i) => write_i64(out, i),
        UiValue::IntAsString(i) => {
            out.push(b'"');
            write_i64(out, i);
            out.push(b'"');
        }
        UiValue::Float(d) => write_f64(out, d),
        UiValue::NonFinite(text) => write_str(out, text),
        UiValue::Binary(b) => {
            let engine = &base64::engine::general_purpose::STANDARD;
            let mut buf = [0u8; STACK_BINARY.div_ceil(3) * 4];
            out.push(b'"');
            // Base64 needs no escaping.
            match engine.encode_slice(b, &mut buf) {
                Ok(n) => out.extend_from_slice(buf.get(..n).unwrap_or_default()),
                Err(_) => out.extend_from_slice(engine.encode(b).as_bytes()),
            }
            out.push(b'"');
        }
        UiValue::Lossy(v) => write_str(out, &v.to_string_lossy()),
    }
}

fn write_processes(out: &mut Vec<u8>, entries: &[&Resource]) {
    comma_separated(out, sorted_process_keys(entries), |out, (key, resource)| {
        out.push(b'"');
        out.extend_from_slice(key.as_str().as_bytes());
        out.extend_from_slice(b"\":{\"serviceName\":");
        write_str(out, &resource.service_name);
        out.extend_from_slice(b",\"tags\":");
        write_tags(out, resource.attributes.iter().map(TagRef::attribute));
        out.push(b'}');
    });
}

/// Writes `items` with `write`, separated by commas (the brackets are the caller's).
fn comma_separated<T>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = T>,
    mut write: impl FnMut(&mut Vec<u8>, T),
) {
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(out, item);
    }
}

// ---------------------------------------------------------------------------------------
// Scalars

/// `0` where a byte passes unescaped, else the letter after the backslash (`u` for the
/// `\u00xx` form): serde_json's table.
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any of the eight bytes of `w` needs escaping: a byte below 0x20, `"` or `\`.
/// Each test is exact as a yes/no (a borrow only starts at a byte that matches, and bytes
/// of 0x80 and above never match).
#[inline]
fn word_needs_escape(w: u64) -> bool {
    let below_space = w.wrapping_sub(ONES * 0x20) & !w;
    let q = w ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q;
    let b = w ^ (ONES * u64::from(b'\\'));
    let backslash = b.wrapping_sub(ONES) & !b;
    (below_space | quote | backslash) & HIGHS != 0
}

/// A JSON string: quotes, and the escapes serde_json writes.
pub(super) fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut clean = 0; // start of the run not yet copied
    let mut i = 0;
    while i < bytes.len() {
        if let Some(chunk) = bytes.get(i..i + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            if !word_needs_escape(u64::from_le_bytes(word)) {
                i += 8;
                continue;
            }
        }
        let b = bytes.get(i).copied().unwrap_or(0);
        let esc = ESCAPE[usize::from(b)];
        i += 1;
        if esc == 0 {
            continue;
        }
        out.extend_from_slice(bytes.get(clean..i - 1).unwrap_or_default());
        clean = i;
        if esc == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', esc]);
        }
    }
    out.extend_from_slice(bytes.get(clean..).unwrap_or_default());
    out.push(b'"');
}

pub(super) fn write_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(Decimal::unsigned(v).as_str().as_bytes());
}

fn write_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(Decimal::new(v).as_str().as_bytes());
}

/// As serde_json's `serialize_f64`: its formatter for a finite value, `null` otherwise.
fn write_f64(out: &mut Vec<u8>, d: f64) {
    if !d.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    let mut fmt = serde_json::ser::CompactFormatter;
    // Writing into a `Vec` cannot fail.
    let _ = fmt.write_f64(out, d);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn via_serde(s: &str) -> Vec<u8> {
        serde_json::to_vec(s).unwrap_or_default()
    }

    fn via_writer(s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        write_str(&mut out, s);
        out
    }

    /// Every byte that can be escaped, at every position of a word and across words.
    #[test]
    fn strings_match_serde_json() {
        let mut specials: Vec<String> = (0u8..0x80).map(|b| char::from(b).to_string()).collect();
        specials
            .extend(["é", "😀", "\u{2028}", "\u{2029}", "<>&", "\u{7f}", "/"].map(String::from));
        for special in &specials {
            for before in 0..17 {
                for after in [0, 1, 7, 8, 9] {
                    let s = format!("{}{special}{}", "a".repeat(before), "é".repeat(after));
                    assert_eq!(via_writer(&s), via_serde(&s), "{s:?}");
                }
            }
        }
        let all: String = (0u8..0x80).map(char::from).collect();
        assert_eq!(via_writer(&all), via_serde(&all));
        assert_eq!(via_writer(""), via_serde(""));
    }

    #[test]
    fn numbers_match_serde_json() {
        for v in [0u64, 1, 9, 10, 99, 100, u64::MAX, 1_700_000_000_000_000] {
            let mut out = Vec::new();
            write_u64(&mut out, v);
            assert_eq!(out, serde_json::to_vec(&v).unwrap_or_default());
        }
        for v in [0i64, -1, -10, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            write_i64(&mut out, v);
            assert_eq!(out, serde_json::to_vec(&v).unwrap_or_default());
        }
        for d in [
            0.1,
            -2.5e-7,
            1e300,
            f64::MIN_POSITIVE,
            f64::NAN,
            f64::INFINITY,
        ] {
            let mut out = Vec::new();
            write_f64(&mut out, d);
            assert_eq!(out, serde_json::to_vec(&d).unwrap_or_default());
        }
    }
}
