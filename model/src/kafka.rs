//! Jaeger's Kafka span messages (topic `jaeger-spans`): one span per message, keyed by trace
//! ID, byte-compatible with Jaeger v1's collector (`kafka` span writer) and ingester.
//!
//! Encodings (`--kafka.producer.encoding` / `--kafka.consumer.encoding`):
//! * `protobuf`: one api_v2 `model.Span` with its `process` set. The mapping is
//!   [`crate::api_v2`]'s; this module only frames it.
//! * `json`: the same message as Go's gogo `jsonpb.Marshaler{}` prints it: lowerCamelCase
//!   names, zero values omitted, enums by name, int64 as strings, IDs in base64 (Jaeger's
//!   `TraceID`/`SpanID` `MarshalJSON`), times as protobuf JSON `Timestamp`/`Duration`.
//!   Field order follows the proto, as Go's output does. Decoding is as lenient as
//!   jsonpb's `Unmarshaler`: snake_case names too, int64 and floats as strings or
//!   numbers, enums as names or numbers, `null` for any field, unknown fields ignored.
//! * `zipkin-thrift`: consume only; a binary-thrift list of Zipkin v1 spans, decoded by
//!   [`crate::zipkin::decode_v1_thrift`]. Jaeger's ingester keeps only the first span of
//!   the list; we keep them all.
//!
//! Decisions:
//! * Both decoders go through `pb::Span` and [`span_from_proto`], so a span means the same
//!   whichever encoding carried it (IDs of 16 or 8 bytes, clamped times with a warning).
//! * Go omits a zero `spanId` (its `SpanID` is a `uint64`) and a zero `duration` (a
//!   `time.Duration`), but always writes `traceId`, `startTime` and log `timestamp`
//!   (structs); the encoder does the same.
//! * JSON numbers are written as Go's `encoding/json` writes float64s (`72.5`, `1e+21`),
//!   non-finite floats as jsonpb's `"NaN"` / `"Infinity"` / `"-Infinity"`.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use prost::Message;
use prost_types::{Duration, Timestamp};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use sextant_proto::jaeger::api_v2 as pb;

use crate::api_v2::{span_from_proto, span_to_proto};
use crate::api_v2_decode::SpanDecoder;
use crate::error::DecodeError;
use crate::proto_json::{
    clip, deserialize_str, non_finite_name, Base64, Double, Enum, EnumNames, Int,
};
use crate::span::{Span, TraceId};

/// The topic Jaeger's collector writes to and its ingester reads by default.
pub const DEFAULT_TOPIC: &str = "jaeger-spans";

const PROTOBUF_FORMAT: &str = "kafka protobuf span";
const JSON_FORMAT: &str = "kafka json span";
const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// The value of `--kafka.producer.encoding` / `--kafka.consumer.encoding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Encoding {
    /// Jaeger's default.
    #[default]
    Protobuf,
    Json,
    /// Consume only.
    ZipkinThrift,
}

impl Encoding {
    pub const ALL: [Encoding; 3] = [Encoding::Protobuf, Encoding::Json, Encoding::ZipkinThrift];

    /// The flag spelling: `protobuf`, `json` or `zipkin-thrift`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Encoding::Protobuf => "protobuf",
            Encoding::Json => "json",
            Encoding::ZipkinThrift => "zipkin-thrift",
        }
    }

    /// Whether the producer can write this encoding.
    pub fn can_produce(&self) -> bool {
        !matches!(self, Encoding::ZipkinThrift)
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Encoding {
    type Err = String;

    /// Exact, case-sensitive names, as Jaeger's flag parsing.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Encoding::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown Kafka encoding {:?}: expected \"protobuf\", \"json\" or \"zipkin-thrift\"",
                    clip(s)
                )
            })
    }
}

/// Why a span could not be written as a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("the {0} Kafka encoding can only be consumed, not produced")]
    ConsumeOnly(Encoding),
}

/// The message key: the trace ID as Jaeger's `TraceID.String()` prints it (16 hex digits
/// when the high half is zero, else 32), so all spans of a trace land in one partition.
pub fn message_key(trace_id: &TraceId) -> String {
    trace_id.to_jaeger_string()
}

/// One span → one message value (protobuf or JSON).
pub fn encode_span(span: &Span, encoding: Encoding) -> Result<Vec<u8>, EncodeError> {
    match encoding {
        Encoding::Protobuf => Ok(span_to_proto(span).encode_to_vec()),
        Encoding::Json => Ok(span_json(&span_to_proto(span)).into_bytes()),
        Encoding::ZipkinThrift => Err(EncodeError::ConsumeOnly(encoding)),
    }
}

/// One message value → spans: exactly one for protobuf and JSON, any number (the list's;
/// none for an empty list) for Zipkin thrift. A consumer decoding many messages should
/// keep a [`MessageDecoder`] instead: it shares the processes spans repeat.
pub fn decode_message(value: &[u8], encoding: Encoding) -> Result<Vec<Span>, DecodeError> {
    let mut spans = Vec::with_capacity(1);
    MessageDecoder::new(encoding).decode_into(value, &mut spans)?;
    Ok(spans)
}

/// The prost-based protobuf decoder: what [`MessageDecoder`]'s direct decoder must agree
/// with (the tests compare them).
pub fn decode_protobuf_with_prost(value: &[u8]) -> Result<Span, DecodeError> {
    let span = pb::Span::decode(value)
        .map_err(|e| DecodeError::malformed(PROTOBUF_FORMAT, e.to_string()))?;
    span_from_proto(span)
}

/// Decodes the messages of one consumer. Protobuf goes through the direct decoder
/// ([`SpanDecoder`]), which remembers the processes it has built so that spans of one
/// service instance share one `Arc<Resource>`; the other encodings keep no state.
pub struct MessageDecoder {
    encoding: Encoding,
    protobuf: SpanDecoder,
}

impl MessageDecoder {
    pub fn new(encoding: Encoding) -> Self {
        MessageDecoder {
            encoding,
            protobuf: SpanDecoder::new(),
        }
    }

    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Appends the spans of one message value to `out` (see [`decode_message`]); on an
    /// error `out` is left as it was.
    pub fn decode_into(&mut self, value: &[u8], out: &mut Vec<Span>) -> Result<(), DecodeError> {
        match self.encoding {
            Encoding::Protobuf => out.push(self.protobuf.decode(value)?),
            Encoding::Json => {
                let JsonSpan(span) = serde_json::from_slice(value)
                    .map_err(|e| DecodeError::malformed(JSON_FORMAT, e.to_string()))?;
                out.push(span_from_proto(span)?);
            }
            Encoding::ZipkinThrift => out.extend(crate::zipkin::decode_v1_thrift(value)?),
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// JSON out: written by hand, in proto field order, into one String.

/// An object being written: emits the separating commas.
struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    fn open(out: &'a mut String) -> Self {
        out.push('{');
        Obj { out, first: true }
    }
    fn key(&mut self, name: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(name);
        self.out.push_str("\":");
        self.out
    }
    fn close(self) {
        self.out.push('}');
    }
}

fn span_json(span: &pb::Span) -> String {
    let mut out = String::with_capacity(256 + 64 * (span.tags.len() + span.logs.len()));
    let mut o = Obj::open(&mut out);
    write_trace_id(o.key("traceId"), &span.trace_id);
    if !is_zero_id(&span.span_id) {
        write_base64(o.key("spanId"), &span.span_id);
    }
    if !span.operation_name.is_empty() {
        write_str(o.key("operationName"), &span.operation_name);
    }
    if !span.references.is_empty() {
        let out = o.key("references");
        write_list(out, &span.references, |out, r| {
            let mut o = Obj::open(out);
            write_trace_id(o.key("traceId"), &r.trace_id);
            if !is_zero_id(&r.span_id) {
                write_base64(o.key("spanId"), &r.span_id);
            }
            if r.ref_type != 0 {
                let name = pb::SpanRefType::try_from(r.ref_type).map(|t| t.as_str_name());
                write_enum(o.key("refType"), name.ok(), r.ref_type);
            }
            o.close();
        });
    }
    if span.flags != 0 {
        let _ = write!(o.key("flags"), "{}", span.flags);
    }
    if let Some(t) = &span.start_time {
        write_timestamp(o.key("startTime"), t);
    }
    if let Some(d) = span.duration.filter(|d| d.seconds != 0 || d.nanos != 0) {
        write_duration(o.key("duration"), &d);
    }
    if !span.tags.is_empty() {
        write_list(o.key("tags"), &span.tags, write_tag);
    }
    if !span.logs.is_empty() {
        write_list(o.key("logs"), &span.logs, |out, log| {
            let mut o = Obj::open(out);
            // Go's `Log.Timestamp` is a struct, written even when zero.
            let ts = log.timestamp.unwrap_or_default();
            write_timestamp(o.key("timestamp"), &ts);
            if !log.fields.is_empty() {
                write_list(o.key("fields"), &log.fields, write_tag);
            }
            o.close();
        });
    }
    if let Some(p) = &span.process {
        let mut po = Obj::open(o.key("process"));
        if !p.service_name.is_empty() {
            write_str(po.key("serviceName"), &p.service_name);
        }
        if !p.tags.is_empty() {
            write_list(po.key("tags"), &p.tags, write_tag);
        }
        po.close();
    }
    if !span.process_id.is_empty() {
        write_str(o.key("processId"), &span.process_id);
    }
    if !span.warnings.is_empty() {
        write_list(o.key("warnings"), &span.warnings, |out, w| {
            write_str(out, w)
        });
    }
    o.close();
    out
}

fn write_tag(out: &mut String, kv: &pb::KeyValue) {
    let mut o = Obj::open(out);
    if !kv.key.is_empty() {
        write_str(o.key("key"), &kv.key);
    }
    if kv.v_type != 0 {
        let name = pb::ValueType::try_from(kv.v_type).map(|t| t.as_str_name());
        write_enum(o.key("vType"), name.ok(), kv.v_type);
    }
    if !kv.v_str.is_empty() {
        write_str(o.key("vStr"), &kv.v_str);
    }
    if kv.v_bool {
        o.key("vBool").push_str("true");
    }
    if kv.v_int64 != 0 {
        // proto3 JSON quotes 64-bit integers.
        let _ = write!(o.key("vInt64"), "\"{}\"", kv.v_int64);
    }
    if kv.v_float64 != 0.0 {
        write_float(o.key("vFloat64"), kv.v_float64);
    }
    if !kv.v_binary.is_empty() {
        write_base64(o.key("vBinary"), &kv.v_binary);
    }
    o.close();
}

fn write_list<T>(out: &mut String, items: &[T], mut each: impl FnMut(&mut String, &T)) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        each(out, item);
    }
    out.push(']');
}

fn write_enum(out: &mut String, name: Option<&str>, number: i32) {
    match name {
        Some(n) => write_str(out, n),
        // jsonpb prints a value outside the enum as its number.
        None => {
            let _ = write!(out, "{number}");
        }
    }
}

fn is_zero_id(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0)
}

/// Jaeger's `TraceID` is always 16 bytes in JSON; an 8-byte (64-bit) ID is widened.
fn write_trace_id(out: &mut String, b: &[u8]) {
    if b.len() == 8 {
        let mut wide = [0u8; 16];
        wide[8..].copy_from_slice(b);
        write_base64(out, &wide);
    } else if b.is_empty() {
        write_base64(out, &[0u8; 16]);
    } else {
        write_base64(out, b);
    }
}

fn write_base64(out: &mut String, b: &[u8]) {
    out.push('"');
    STANDARD.encode_string(b, out);
    out.push('"');
}

/// A JSON string literal. Besides what JSON requires, U+2028/U+2029 are escaped, as Go's
/// encoder does, so the output is also safe inside JavaScript.
fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escaped = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\u{0}'..='\u{1f}' | '\u{2028}' | '\u{2029}' => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escaped.is_empty() {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push_str(escaped);
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// A float64 as Go's `encoding/json` prints it: shortest round-trip digits, plain notation
/// for magnitudes in [1e-6, 1e21), else exponent form (`1e+21`, `1e-7`); non-finite values
/// as jsonpb's strings.
fn write_float(out: &mut String, f: f64) {
    if let Some(name) = non_finite_name(f) {
        out.push('"');
        out.push_str(name);
        out.push('"');
    } else {
        let abs = f.abs();
        if abs == 0.0 || (1e-6..1e21).contains(&abs) {
            let _ = write!(out, "{f}");
        } else {
            let s = format!("{f:e}");
            match s.split_once('e') {
                Some((mantissa, exp)) if !exp.starts_with('-') => {
                    let _ = write!(out, "{mantissa}e+{exp}");
                }
                _ => out.push_str(&s),
            }
        }
    }
}

/// Protobuf JSON's `Timestamp`: RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits.
fn write_timestamp(out: &mut String, t: &Timestamp) {
    let total = i128::from(t.seconds) * NANOS_PER_SECOND + i128::from(t.nanos);
    let secs = total.div_euclid(NANOS_PER_SECOND);
    let nanos = total.rem_euclid(NANOS_PER_SECOND) as u32;
    // i64 seconds bound the days well inside i64.
    let secs = secs as i64;
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let _ = write!(
        out,
        "\"{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
    write_fraction(out, nanos);
    out.push_str("Z\"");
}

/// Protobuf JSON's `Duration`: seconds with 0, 3, 6 or 9 fractional digits and an `s`.
fn write_duration(out: &mut String, d: &Duration) {
    let total = i128::from(d.seconds) * NANOS_PER_SECOND + i128::from(d.nanos);
    let abs = total.unsigned_abs();
    let sign = if total < 0 { "-" } else { "" };
    let _ = write!(out, "\"{sign}{}", abs / NANOS_PER_SECOND as u128);
    write_fraction(out, (abs % NANOS_PER_SECOND as u128) as u32);
    out.push_str("s\"");
}

/// `.123`, `.123456` or `.123456789`, the shortest of those that is exact; nothing for 0.
fn write_fraction(out: &mut String, nanos: u32) {
    if nanos == 0 {
        return;
    }
    if nanos.is_multiple_of(1_000_000) {
        let _ = write!(out, ".{:03}", nanos / 1_000_000);
    } else if nanos.is_multiple_of(1_000) {
        let _ = write!(out, ".{:06}", nanos / 1_000);
    } else {
        let _ = write!(out, ".{nanos:09}");
    }
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar,
/// counting in 400-year eras of 146097 days whose years start in March.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// ---------------------------------------------------------------------------------------
// JSON in: serde visitors that fill the prost types directly (no intermediate tree).

/// Every field name of the messages involved, in both spellings jsonpb accepts.
#[derive(Clone, Copy)]
enum FieldName {
    TraceId,
    SpanId,
    OperationName,
    References,
    Flags,
    StartTime,
    Duration,
    Tags,
    Logs,
    Process,
    ProcessId,
    Warnings,
    RefType,
    Timestamp,
    Fields,
    ServiceName,
    Key,
    VType,
    VStr,
    VBool,
    VInt64,
    VFloat64,
    VBinary,
    Unknown,
}

impl<'de> Deserialize<'de> for FieldName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = FieldName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<FieldName, E> {
                Ok(match s {
                    "traceId" | "trace_id" => FieldName::TraceId,
                    "spanId" | "span_id" => FieldName::SpanId,
                    "operationName" | "operation_name" => FieldName::OperationName,
                    "references" => FieldName::References,
                    "flags" => FieldName::Flags,
                    "startTime" | "start_time" => FieldName::StartTime,
                    "duration" => FieldName::Duration,
                    "tags" => FieldName::Tags,
                    "logs" => FieldName::Logs,
                    "process" => FieldName::Process,
                    "processId" | "process_id" => FieldName::ProcessId,
                    "warnings" => FieldName::Warnings,
                    "refType" | "ref_type" => FieldName::RefType,
                    "timestamp" => FieldName::Timestamp,
                    "fields" => FieldName::Fields,
                    "serviceName" | "service_name" => FieldName::ServiceName,
                    "key" => FieldName::Key,
                    "vType" | "v_type" => FieldName::VType,
                    "vStr" | "v_str" => FieldName::VStr,
                    "vBool" | "v_bool" => FieldName::VBool,
                    "vInt64" | "v_int64" => FieldName::VInt64,
                    "vFloat64" | "v_float64" => FieldName::VFloat64,
                    "vBinary" | "v_binary" => FieldName::VBinary,
                    _ => FieldName::Unknown,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

/// Reads an optional value (`null` → default).
fn next<'de, A: MapAccess<'de>, T: Deserialize<'de> + Default>(map: &mut A) -> Result<T, A::Error> {
    Ok(map.next_value::<Option<T>>()?.unwrap_or_default())
}

/// Reads an optional list of `W`s (`null` → empty), unwrapping each.
fn next_list<'de, A, W, T>(map: &mut A) -> Result<Vec<T>, A::Error>
where
    A: MapAccess<'de>,
    W: Deserialize<'de> + Into<T>,
{
    let items: Option<Vec<W>> = map.next_value()?;
    Ok(items
        .unwrap_or_default()
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Declares a newtype around a prost message that deserializes from a JSON object, with
/// `$fill` assigning one known field and unknown fields skipped.
macro_rules! json_message {
    ($wrapper:ident, $msg:ty, $what:literal, |$map:ident, $out:ident, $key:ident| $fill:block) => {
        struct $wrapper($msg);

        impl From<$wrapper> for $msg {
            fn from(w: $wrapper) -> $msg {
                w.0
            }
        }

        impl<'de> Deserialize<'de> for $wrapper {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $wrapper;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_map<A: MapAccess<'de>>(
                        self,
                        mut $map: A,
                    ) -> Result<$wrapper, A::Error> {
                        let mut $out = <$msg>::default();
                        while let Some($key) = $map.next_key::<FieldName>()? {
                            $fill
                        }
                        Ok($wrapper($out))
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}

json_message!(JsonSpan, pb::Span, "a Jaeger span object", |map, s, key| {
    match key {
        FieldName::TraceId => s.trace_id = next::<_, Base64>(&mut map)?.0,
        FieldName::SpanId => s.span_id = next::<_, Base64>(&mut map)?.0,
        FieldName::OperationName => s.operation_name = next(&mut map)?,
        FieldName::References => s.references = next_list::<_, JsonRef, _>(&mut map)?,
        FieldName::Flags => s.flags = next::<_, Int<u32>>(&mut map)?.0,
        FieldName::StartTime => {
            s.start_time = map.next_value::<Option<JsonTimestamp>>()?.map(|t| t.0)
        }
        FieldName::Duration => s.duration = map.next_value::<Option<JsonDuration>>()?.map(|d| d.0),
        FieldName::Tags => s.tags = next_list::<_, JsonTag, _>(&mut map)?,
        FieldName::Logs => s.logs = next_list::<_, JsonLog, _>(&mut map)?,
        FieldName::Process => s.process = map.next_value::<Option<JsonProcess>>()?.map(|p| p.0),
        FieldName::ProcessId => s.process_id = next(&mut map)?,
        FieldName::Warnings => s.warnings = next(&mut map)?,
        _ => {
            map.next_value::<IgnoredAny>()?;
        }
    }
});

json_message!(
    JsonRef,
    pb::SpanRef,
    "a span reference object",
    |map, r, key| {
        match key {
            FieldName::TraceId => r.trace_id = next::<_, Base64>(&mut map)?.0,
            FieldName::SpanId => r.span_id = next::<_, Base64>(&mut map)?.0,
            FieldName::RefType => r.ref_type = next::<_, Enum<RefTypeNames>>(&mut map)?.value,
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
);

json_message!(JsonTag, pb::KeyValue, "a tag object", |map, kv, key| {
    match key {
        FieldName::Key => kv.key = next(&mut map)?,
        FieldName::VType => kv.v_type = next::<_, Enum<ValueTypeNames>>(&mut map)?.value,
        FieldName::VStr => kv.v_str = next(&mut map)?,
        FieldName::VBool => kv.v_bool = next(&mut map)?,
        FieldName::VInt64 => kv.v_int64 = next::<_, Int<i64>>(&mut map)?.0,
        FieldName::VFloat64 => kv.v_float64 = next::<_, Double>(&mut map)?.0,
        FieldName::VBinary => kv.v_binary = next::<_, Base64>(&mut map)?.0,
        _ => {
            map.next_value::<IgnoredAny>()?;
        }
    }
});

json_message!(JsonLog, pb::Log, "a log object", |map, log, key| {
    match key {
        FieldName::Timestamp => {
            log.timestamp = map.next_value::<Option<JsonTimestamp>>()?.map(|t| t.0)
        }
        FieldName::Fields => log.fields = next_list::<_, JsonTag, _>(&mut map)?,
        _ => {
            map.next_value::<IgnoredAny>()?;
        }
    }
});

json_message!(
    JsonProcess,
    pb::Process,
    "a process object",
    |map, p, key| {
        match key {
            FieldName::ServiceName => p.service_name = next(&mut map)?,
            FieldName::Tags => p.tags = next_list::<_, JsonTag, _>(&mut map)?,
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
);

#[derive(Default)]
struct JsonTimestamp(Timestamp);

impl<'de> Deserialize<'de> for JsonTimestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_str(d, "RFC 3339 timestamp", |s| {
            parse_timestamp(s).map(JsonTimestamp)
        })
    }
}

#[derive(Default)]
struct JsonDuration(Duration);

impl<'de> Deserialize<'de> for JsonDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_str(d, "duration", |s| {
            let ns = parse_duration(s)?;
            // Truncating division keeps seconds and nanos of one sign, as protobuf requires.
            Some(JsonDuration(Duration {
                seconds: (ns / NANOS_PER_SECOND) as i64,
                nanos: (ns % NANOS_PER_SECOND) as i32,
            }))
        })
    }
}

/// The names jsonpb reads for `refType` and `vType`.
struct RefTypeNames;
impl EnumNames for RefTypeNames {
    const WHAT: &'static str = "reference type";
    fn from_name(name: &str) -> Option<i32> {
        pb::SpanRefType::from_str_name(name).map(|t| t as i32)
    }
}

struct ValueTypeNames;
impl EnumNames for ValueTypeNames {
    const WHAT: &'static str = "value type";
    fn from_name(name: &str) -> Option<i32> {
        pb::ValueType::from_str_name(name).map(|t| t as i32)
    }
}

/// Parses RFC 3339 (`2017-01-26T16:46:31.639875Z`, any number of fractional digits, `Z`
/// or a `±hh:mm` offset), as Go's `time.Parse(time.RFC3339Nano, …)` does.
fn parse_timestamp(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<u32> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let sep = |at: usize, allowed: &[u8]| b.get(at).is_some_and(|c| allowed.contains(c));
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        // Digits past nanoseconds are dropped, as Go does.
        for k in 0..9 {
            let d = if k < digits {
                u32::from(b[i + k] - b'0')
            } else {
                0
            };
            nanos = nanos * 10 + d;
        }
        i += digits;
    }
    let offset_secs = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), ..] if b.len() == i + 6 && b[i + 3] == b':' => {
            let (h, m) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let off = i64::from(h * 3600 + m * 60);
            if *sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(year), month, day);
    let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_secs;
    Some(Timestamp {
        seconds,
        nanos: nanos as i32,
    })
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses a duration as Go's `time.ParseDuration` (which jsonpb uses): protobuf's
/// `"1.500s"`, and also `"1m30s"`, `"250ms"`, `"-2h"`, …; returns nanoseconds, or `None`
/// when malformed or beyond ±2^63 ns (about 292 years).
fn parse_duration(s: &str) -> Option<i128> {
    crate::go_duration::parse_go_duration(s)
        .ok()
        .map(i128::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(t: Timestamp) -> String {
        let mut s = String::new();
        write_timestamp(&mut s, &t);
        s
    }

    fn dur(seconds: i64, nanos: i32) -> String {
        let mut s = String::new();
        write_duration(&mut s, &Duration { seconds, nanos });
        s
    }

    fn float(f: f64) -> String {
        let mut s = String::new();
        write_float(&mut s, f);
        s
    }

    #[test]
    fn timestamps_print_like_protobuf_json() {
        let t = |seconds, nanos| ts(Timestamp { seconds, nanos });
        assert_eq!(
            t(1_485_449_191, 639_875_000),
            "\"2017-01-26T16:46:31.639875Z\""
        );
        assert_eq!(t(1_485_449_191, 0), "\"2017-01-26T16:46:31Z\"");
        assert_eq!(
            t(1_485_449_191, 100_000_000),
            "\"2017-01-26T16:46:31.100Z\""
        );
        assert_eq!(t(1_485_449_191, 1), "\"2017-01-26T16:46:31.000000001Z\"");
        assert_eq!(t(0, 0), "\"1970-01-01T00:00:00Z\"");
        assert_eq!(t(951_782_400, 0), "\"2000-02-29T00:00:00Z\"");
        assert_eq!(t(-1, 0), "\"1969-12-31T23:59:59Z\"");
        // The largest time the model holds (u64 nanoseconds).
        assert_eq!(
            t(18_446_744_073, 709_551_615),
            "\"2554-07-21T23:34:33.709551615Z\""
        );
    }

    #[test]
    fn timestamps_parse_back_and_with_offsets() {
        for (seconds, nanos) in [
            (1_485_449_191, 639_875_000),
            (0, 0),
            (951_782_400, 5),
            (-86_401, 999_999_999),
            (18_446_744_073, 709_551_615),
            (253_402_300_799, 0), // 9999-12-31T23:59:59Z
        ] {
            let t = Timestamp { seconds, nanos };
            let s = ts(t);
            assert_eq!(parse_timestamp(s.trim_matches('"')), Some(t), "{s}");
        }
        let p = |s| parse_timestamp(s).map(|t| (t.seconds, t.nanos));
        assert_eq!(
            p("2017-01-26T18:46:31.5+02:00"),
            Some((1_485_449_191, 500_000_000))
        );
        assert_eq!(p("2017-01-26t16:16:31-00:30"), Some((1_485_449_191, 0)));
        assert_eq!(
            p("2017-01-26T16:46:31.1234567891234Z"),
            Some((1_485_449_191, 123_456_789))
        );
        for bad in [
            "",
            "2017-01-26",
            "2017-01-26T16:46:31",
            "2017-01-26 16:46:31Z",
            "2017-13-26T16:46:31Z",
            "2017-02-29T16:46:31Z",
            "2017-01-26T24:00:00Z",
            "2017-01-26T16:60:31Z",
            "2017-01-26T16:46:31.Z",
            "2017-01-26T16:46:31ZZ",
            "2017-01-26T16:46:31+0200",
            "2017-01-26T16:46:31+02:00 ",
            "2017-01-26T16:46:31+25:00",
            "２017-01-26T16:46:31Z",
            "+017-01-26T16:46:31Z",
        ] {
            assert_eq!(p(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn durations_print_like_protobuf_json() {
        assert_eq!(dur(0, 1_000_000), "\"0.001s\"");
        assert_eq!(dur(1, 500_000_000), "\"1.500s\"");
        assert_eq!(dur(0, 1_000), "\"0.000001s\"");
        assert_eq!(dur(2, 0), "\"2s\"");
        assert_eq!(dur(0, 123_456_789), "\"0.123456789s\"");
        assert_eq!(dur(-1, -500_000_000), "\"-1.500s\"");
        assert_eq!(dur(0, -5_000_000), "\"-0.005s\"");
    }

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("0.001s"), Some(1_000_000));
        assert_eq!(parse_duration("1.500s"), Some(1_500_000_000));
        assert_eq!(parse_duration("0.123456789s"), Some(123_456_789));
        assert_eq!(parse_duration("-0.005s"), Some(-5_000_000));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("1h2m3.5s"), Some(3_723_500_000_000));
        assert_eq!(parse_duration("250ms"), Some(250_000_000));
        assert_eq!(parse_duration("3\u{b5}s"), Some(3_000));
        assert_eq!(parse_duration("3\u{3bc}s"), Some(3_000));
        assert_eq!(parse_duration(".5s"), Some(500_000_000));
        assert_eq!(parse_duration("5.s"), Some(5_000_000_000));
        assert_eq!(
            parse_duration("9223372036.854775807s"),
            Some(i64::MAX.into())
        );
        assert_eq!(
            parse_duration("-9223372036.854775808s"),
            Some(i64::MIN.into())
        );
        for bad in [
            "",
            "-",
            "s",
            "1",
            "1x",
            ".s",
            "1s2",
            "1.2.3s",
            "9223372036.854775808s",
            "99999999999999999999999h",
            "1 s",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn floats_print_like_go_encoding_json() {
        assert_eq!(float(72.5), "72.5");
        assert_eq!(float(5.0), "5");
        assert_eq!(float(-0.25), "-0.25");
        assert_eq!(float(1e20), "100000000000000000000");
        assert_eq!(float(1e21), "1e+21");
        assert_eq!(float(1.5e300), "1.5e+300");
        assert_eq!(float(0.000001), "0.000001");
        assert_eq!(float(1e-7), "1e-7");
        assert_eq!(float(f64::NAN), "\"NaN\"");
        assert_eq!(float(f64::INFINITY), "\"Infinity\"");
        assert_eq!(float(f64::NEG_INFINITY), "\"-Infinity\"");
        for f in [
            0.1,
            1.0 / 3.0,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            123456.789,
        ] {
            let parsed: f64 = serde_json::from_str(&float(f)).unwrap();
            assert_eq!(parsed.to_bits(), f.to_bits(), "{f}");
        }
    }

    #[test]
    fn strings_are_escaped() {
        let mut s = String::new();
        write_str(&mut s, "a\"b\\c\nd\u{1}e\u{2028}f\u{e9}");
        assert_eq!(s, r#""a\"b\\c\nd\u0001e\u2028fé""#);
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}e\u{2028}f\u{e9}");
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert!((1..=12).contains(&m) && (1..=31).contains(&d));
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn encoding_names() {
        for e in Encoding::ALL {
            assert_eq!(e.as_str().parse::<Encoding>(), Ok(e));
            assert_eq!(e.to_string(), e.as_str());
        }
        assert!("Protobuf".parse::<Encoding>().is_err());
        assert!("thrift".parse::<Encoding>().is_err());
        assert_eq!(Encoding::default(), Encoding::Protobuf);
    }
}
