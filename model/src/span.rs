//! The one internal span model of Sextant.
//!
//! It is a superset of OTLP's trace data model and Jaeger's v1 model, so that every input
//! converts into it without loss and every output is produced from it:
//!
//! * OTLP: resource (+ schema URL), scope (name, version, attributes), attributes, events,
//!   links (with attributes), kind, status, trace state, flags and dropped counts.
//! * Jaeger: process (= [`Resource`] with its `service_name`), tags (= attributes), logs
//!   (= events), references (= `parent_span_id` + links), flags and warnings.
//!
//! Mapping rules that a reader will ask about (the conversions in this crate follow them):
//!
//! * Jaeger references: the first `CHILD_OF` reference within the same trace becomes
//!   `parent_span_id`; every other reference becomes a [`Link`] carrying the attribute
//!   `opentracing.ref_type` (`child_of` / `follows_from`), which is how Jaeger's own OTLP
//!   translator does it. Going back to Jaeger, the parent becomes the first `CHILD_OF`
//!   reference and each link a reference of the type its attribute names (`follows_from`
//!   when absent), the attribute itself being dropped.
//! * Jaeger `span.kind` tag ⇄ [`SpanKind`]; `error=true` / `otel.status_code` tags ⇄ [`Status`];
//!   a log's `event` field ⇄ the [`Event`] name. Those tags are removed when they are
//!   lifted into typed fields, and re-created on the way out.
//! * `flags` holds one `u32`: Jaeger's span flags (bit 0 sampled, bit 1 debug, bit 2
//!   firehose) and OTLP's span flags (bits 0–7 W3C trace flags, bits 8–9 "is remote") agree
//!   on bit 0 and do not collide elsewhere, so one field carries either losslessly.
//! * Times are Unix nanoseconds (`u64`). Jaeger's microseconds are multiplied by 1000;
//!   negative inputs are clamped to 0 and recorded in `warnings` by the converter.
//! * The service name is kept apart from resource attributes (`Resource::service_name`);
//!   the `service.name` attribute is not duplicated in `Resource::attributes`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// A 128-bit trace ID. Jaeger's 64-bit IDs are the low half with a zero high half.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId(pub u128);

/// A 64-bit span ID; zero means "none".
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpanId(pub u64);

impl TraceId {
    pub fn from_halves(high: u64, low: u64) -> Self {
        TraceId(((high as u128) << 64) | low as u128)
    }
    pub fn high(self) -> u64 {
        (self.0 >> 64) as u64
    }
    pub fn low(self) -> u64 {
        self.0 as u64
    }
    pub fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }
    /// From big-endian bytes. Accepts 16 bytes, or 8 bytes (a 64-bit ID).
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        match b.len() {
            16 => Some(TraceId(u128::from_be_bytes(b.try_into().ok()?))),
            8 => Some(TraceId(u64::from_be_bytes(b.try_into().ok()?) as u128)),
            _ => None,
        }
    }
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
    /// Jaeger's textual form: 16 hex digits when the high half is zero, else 32.
    pub fn to_jaeger_string(self) -> String {
        if self.high() == 0 {
            format!("{:016x}", self.low())
        } else {
            format!("{:032x}", self.0)
        }
    }
}

impl SpanId {
    pub fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        Some(SpanId(u64::from_be_bytes(b.try_into().ok()?)))
    }
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

/// Error for a malformed hexadecimal ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} ID {text:?}: {reason}")]
pub struct IdParseError {
    pub kind: &'static str,
    pub text: String,
    pub reason: &'static str,
}

fn parse_hex_u128(s: &str, kind: &'static str, max_digits: usize) -> Result<u128, IdParseError> {
    let err = |reason| IdParseError {
        kind,
        text: s.chars().take(64).collect(),
        reason,
    };
    if s.is_empty() {
        return Err(err("empty"));
    }
    // Leading zeros are allowed beyond the width (Jaeger accepts them), value must still fit.
    let trimmed = s.trim_start_matches('0');
    if trimmed.len() > max_digits {
        return Err(err("too long"));
    }
    if trimmed.is_empty() {
        return Ok(0);
    }
    u128::from_str_radix(trimmed, 16).map_err(|_| err("not hexadecimal"))
}

impl FromStr for TraceId {
    type Err = IdParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex_u128(s, "trace", 32).map(TraceId)
    }
}

impl FromStr for SpanId {
    type Err = IdParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex_u128(s, "span", 16).map(|v| SpanId(v as u64))
    }
}

impl fmt::Display for TraceId {
    /// Always the 32-digit OTLP form; use [`TraceId::to_jaeger_string`] for Jaeger's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}
impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({:032x})", self.0)
    }
}
impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}
impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({:016x})", self.0)
    }
}

/// OTLP's AnyValue; Jaeger's typed tag values are the scalar variants plus `Bytes`.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum AnyValue {
    #[default]
    Empty,
    Str(String),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(Vec<u8>),
    Array(Vec<AnyValue>),
    KvList(Vec<KeyValue>),
}

impl AnyValue {
    /// The string form used for tag matching and for formats with only scalar values:
    /// strings as is, numbers and booleans as Jaeger prints them, bytes as base64,
    /// arrays and maps as JSON.
    pub fn to_string_lossy(&self) -> String {
        match self {
            AnyValue::Empty => String::new(),
            AnyValue::Str(s) => s.clone(),
            AnyValue::Bool(b) => b.to_string(),
            AnyValue::Int(i) => i.to_string(),
            AnyValue::Double(d) => format_float(*d),
            AnyValue::Bytes(b) => {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode(b)
            }
            AnyValue::Array(_) | AnyValue::KvList(_) => self.to_json().to_string(),
        }
    }

    /// A plain JSON rendering (OTLP-agnostic): used when a structured value must be
    /// flattened into a string tag.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            AnyValue::Empty => Value::Null,
            AnyValue::Str(s) => Value::String(s.clone()),
            AnyValue::Bool(b) => Value::Bool(*b),
            AnyValue::Int(i) => Value::from(*i),
            AnyValue::Double(d) => serde_json::Number::from_f64(*d)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(format_float(*d))),
            AnyValue::Bytes(_) => Value::String(self.to_string_lossy()),
            AnyValue::Array(a) => Value::Array(a.iter().map(AnyValue::to_json).collect()),
            AnyValue::KvList(kvs) => Value::Object(
                kvs.iter()
                    .map(|kv| (kv.key.clone(), kv.value.to_json()))
                    .collect(),
            ),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            AnyValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Floats print like Go's `strconv.FormatFloat(f, 'g', -1, 64)` for ordinary values
/// (`72.5`, `1`, `0.001`), which is what Jaeger uses when it matches tag values as text.
pub fn format_float(d: f64) -> String {
    if d.is_finite() && d == d.trunc() && d.abs() < 1e21 {
        format!("{}", d as i128)
    } else {
        format!("{d}")
    }
}

impl From<&str> for AnyValue {
    fn from(s: &str) -> Self {
        AnyValue::Str(s.to_string())
    }
}
impl From<String> for AnyValue {
    fn from(s: String) -> Self {
        AnyValue::Str(s)
    }
}
impl From<i64> for AnyValue {
    fn from(v: i64) -> Self {
        AnyValue::Int(v)
    }
}
impl From<bool> for AnyValue {
    fn from(v: bool) -> Self {
        AnyValue::Bool(v)
    }
}
impl From<f64> for AnyValue {
    fn from(v: f64) -> Self {
        AnyValue::Double(v)
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct KeyValue {
    pub key: String,
    pub value: AnyValue,
}

impl KeyValue {
    pub fn new(key: impl Into<String>, value: impl Into<AnyValue>) -> Self {
        KeyValue {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// Look up an attribute by key (first match).
pub fn find_attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs.iter().find(|kv| kv.key == key).map(|kv| &kv.value)
}

/// OTLP Resource, which is also Jaeger's Process.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Resource {
    /// `service.name`; kept out of `attributes`.
    pub service_name: String,
    pub attributes: Vec<KeyValue>,
    pub dropped_attributes_count: u32,
    pub schema_url: String,
}

/// OTLP InstrumentationScope (plus the scope-spans schema URL).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Scope {
    pub name: String,
    pub version: String,
    pub attributes: Vec<KeyValue>,
    pub dropped_attributes_count: u32,
    pub schema_url: String,
}

impl Scope {
    pub fn is_empty(&self) -> bool {
        *self == Scope::default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum SpanKind {
    #[default]
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl SpanKind {
    /// OTLP's numeric value.
    pub fn to_otlp(self) -> i32 {
        self as i32
    }
    pub fn from_otlp(v: i32) -> Self {
        match v {
            1 => SpanKind::Internal,
            2 => SpanKind::Server,
            3 => SpanKind::Client,
            4 => SpanKind::Producer,
            5 => SpanKind::Consumer,
            _ => SpanKind::Unspecified,
        }
    }
    /// Jaeger's `span.kind` tag value; empty for unspecified.
    pub fn as_jaeger_str(self) -> &'static str {
        match self {
            SpanKind::Unspecified => "",
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }
    /// Parses Jaeger's `span.kind` values (case-insensitive); unknown → `None`.
    pub fn from_jaeger_str(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "" | "unspecified" => SpanKind::Unspecified,
            "internal" => SpanKind::Internal,
            "server" => SpanKind::Server,
            "client" => SpanKind::Client,
            "producer" => SpanKind::Producer,
            "consumer" => SpanKind::Consumer,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum StatusCode {
    #[default]
    Unset,
    Ok,
    Error,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Status {
    pub code: StatusCode,
    pub message: String,
}

/// OTLP event / Jaeger log.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Event {
    pub time_unix_nano: u64,
    pub name: String,
    pub attributes: Vec<KeyValue>,
    pub dropped_attributes_count: u32,
}

/// OTLP link / a non-parent Jaeger reference.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Link {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub trace_state: String,
    pub attributes: Vec<KeyValue>,
    pub dropped_attributes_count: u32,
    pub flags: u32,
}

/// The attribute a link carries when it came from (or goes to) a Jaeger reference.
pub const REF_TYPE_ATTR: &str = "opentracing.ref_type";

/// One span. `resource` and `scope` are shared by every span of a batch, hence `Arc`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Span {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// Zero when the span is a root.
    pub parent_span_id: SpanId,
    pub trace_state: String,
    /// Operation name.
    pub name: String,
    pub kind: SpanKind,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    pub attributes: Vec<KeyValue>,
    pub dropped_attributes_count: u32,
    pub events: Vec<Event>,
    pub dropped_events_count: u32,
    pub links: Vec<Link>,
    pub dropped_links_count: u32,
    pub status: Status,
    pub flags: u32,
    pub resource: Arc<Resource>,
    pub scope: Arc<Scope>,
    pub warnings: Vec<String>,
}

impl Span {
    pub fn duration_nanos(&self) -> u64 {
        self.end_time_unix_nano
            .saturating_sub(self.start_time_unix_nano)
    }
    pub fn service_name(&self) -> &str {
        &self.resource.service_name
    }
    pub fn is_root(&self) -> bool {
        self.parent_span_id.is_zero()
    }
}

/// A trace: all stored spans sharing one trace ID, in no guaranteed order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Trace {
    pub spans: Vec<Span>,
}

impl Trace {
    pub fn trace_id(&self) -> Option<TraceId> {
        self.spans.first().map(|s| s.trace_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_id_text_forms() {
        let id = TraceId::from_halves(0, 0xabc);
        assert_eq!(id.to_jaeger_string(), "0000000000000abc");
        assert_eq!(id.to_string(), "00000000000000000000000000000abc");
        assert_eq!("abc".parse::<TraceId>().unwrap(), id);
        assert_eq!(
            "00000000000000000000000000000abc"
                .parse::<TraceId>()
                .unwrap(),
            id
        );
        assert_eq!(
            "000000000000000000000000000000000abc"
                .parse::<TraceId>()
                .unwrap(),
            id,
            "leading zeros beyond 32 digits are accepted"
        );
        let big = TraceId::from_halves(1, 2);
        assert_eq!(big.to_jaeger_string(), "00000000000000010000000000000002");
        assert!("xyz".parse::<TraceId>().is_err());
        assert!("".parse::<TraceId>().is_err());
        assert!("1".repeat(33).parse::<TraceId>().is_err());
        assert!("1".repeat(17).parse::<SpanId>().is_err());
        assert_eq!(TraceId::from_slice(&big.to_bytes()), Some(big));
        assert_eq!(
            TraceId::from_slice(&[0, 0, 0, 0, 0, 0, 0, 5]),
            Some(TraceId(5))
        );
        assert_eq!(TraceId::from_slice(&[1, 2, 3]), None);
    }

    #[test]
    fn floats_print_like_jaeger() {
        assert_eq!(format_float(72.5), "72.5");
        assert_eq!(format_float(1.0), "1");
        assert_eq!(format_float(-0.25), "-0.25");
    }

    #[test]
    fn span_kind_round_trips() {
        for k in [
            SpanKind::Unspecified,
            SpanKind::Internal,
            SpanKind::Server,
            SpanKind::Client,
            SpanKind::Producer,
            SpanKind::Consumer,
        ] {
            assert_eq!(SpanKind::from_otlp(k.to_otlp()), k);
            assert_eq!(SpanKind::from_jaeger_str(k.as_jaeger_str()), Some(k));
        }
    }
}
