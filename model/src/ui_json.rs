//! Jaeger UI JSON: the trace shape that `/api/traces` returns and the Jaeger UI and
//! Grafana's Jaeger data source consume (Jaeger's `model/json` / `uimodel` package).
//!
//! ```json
//! {"traceID": "…", "spans": [ … ], "processes": {"p1": {"serviceName": "…", "tags": []}},
//!  "warnings": null}
//! ```
//!
//! Every span goes through [`JaegerSpan::from_span`] / [`JaegerSpan::into_span`]; this module
//! only does the structural part. [`UiTraceRef`] writes the same bytes as serializing
//! [`UiTrace::from_trace`], straight from borrowed spans (the query service's response
//! path); it shares the mapping rules (`jaeger::derived_tags`, `jaeger::references`, …),
//! the tag typing ([`ui_value`]) and the process table with the owned path. Conventions copied from Jaeger's Go encoder, which a
//! reader would otherwise ask about:
//!
//! * `references`, `tags`, `logs`, a log's `fields` and a process's `tags` are always
//!   arrays (`[]` when empty); `warnings` (trace and span) is `null` when there are none;
//!   `flags` is omitted when zero (Go's `omitempty`).
//! * Processes are deduplicated per trace and keyed `p1`, `p2`, … in order of first
//!   appearance; the `processes` object is written with sorted keys, as Go writes maps.
//! * IDs: [`TraceId::to_jaeger_string`] (16 hex digits for a 64-bit ID, else 32) and 16
//!   hex digits for span IDs.
//! * Tag values are typed: `string`, `bool`, `int64`, `float64`, `binary`. An `int64`
//!   outside JavaScript's safe integer range (±(2^53−1)) is written as a decimal string so
//!   the browser does not round it; binary is standard base64 (Go's `[]byte` encoding).
//!   Non-finite floats, which Go cannot encode at all, are written as the strings `NaN`,
//!   `+Inf`, `-Inf`. OTLP-only values (arrays, maps) become `string` tags holding JSON, as
//!   Jaeger's OTLP translator does.
//!
//! The reverse direction ([`from_ui_json`], [`traces_from_ui_json`]) accepts what this
//! module writes plus the usual looseness of hand-edited files (missing arrays, `null`,
//! numbers given as strings), and rejects anything it cannot map with a [`DecodeError`].

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;

use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::error::DecodeError;
use crate::jaeger::{JaegerLog, JaegerRef, JaegerSpan, RefType, TagValue};
use crate::span::{format_float, AnyValue, KeyValue, Resource, Span, SpanId, Trace, TraceId};

mod encode;
mod write;
pub use encode::UiTraceRef;
pub use write::write_compact_traces;

const FORMAT: &str = "jaeger ui json";

/// Largest integer a JavaScript number holds exactly.
const JS_MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// One trace in the UI shape.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct UiTrace {
    #[serde(rename = "traceID", default)]
    pub trace_id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub spans: Vec<UiSpan>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub processes: BTreeMap<String, UiProcess>,
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct UiSpan {
    #[serde(rename = "traceID", default)]
    pub trace_id: String,
    #[serde(rename = "spanID")]
    pub span_id: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub flags: u32,
    #[serde(rename = "operationName", default)]
    pub operation_name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub references: Vec<UiReference>,
    /// Microseconds since the Unix epoch.
    #[serde(rename = "startTime", default)]
    pub start_time: u64,
    /// Microseconds.
    #[serde(default)]
    pub duration: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<UiKeyValue>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub logs: Vec<UiLog>,
    #[serde(
        rename = "processID",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub process_id: String,
    /// Jaeger's storage JSON (Elasticsearch, Kafka) embeds the process in the span instead
    /// of a `processID`; accepted on input so such files open too, never written here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<UiProcess>,
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct UiReference {
    #[serde(rename = "refType")]
    pub ref_type: String,
    #[serde(rename = "traceID")]
    pub trace_id: String,
    #[serde(rename = "spanID")]
    pub span_id: String,
}

#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct UiProcess {
    #[serde(rename = "serviceName", default)]
    pub service_name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<UiKeyValue>,
}

#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct UiLog {
    /// Microseconds since the Unix epoch.
    #[serde(default)]
    pub timestamp: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub fields: Vec<UiKeyValue>,
}

#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct UiKeyValue {
    pub key: String,
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub value_type: String,
    #[serde(default)]
    pub value: Value,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// `null` (which Go writes for a nil slice or map) reads as the empty value.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

// ---------------------------------------------------------------------------------------
// model → UI

impl UiTrace {
    /// Converts the spans of one trace, in the order given.
    pub fn from_spans(spans: &[Span]) -> UiTrace {
        let mut processes = ProcessTable::default();
        let ui_spans = spans
            .iter()
            .map(|span| {
                let process_id = process_key(processes.index_of(&span.resource));
                ui_span(JaegerSpan::from_span(span), process_id)
            })
            .collect();
        UiTrace {
            trace_id: spans
                .first()
                .map(|s| s.trace_id.to_jaeger_string())
                .unwrap_or_default(),
            spans: ui_spans,
            processes: processes.into_map(),
            warnings: None,
        }
    }

    pub fn from_trace(trace: &Trace) -> UiTrace {
        UiTrace::from_spans(&trace.spans)
    }
}

fn ui_span(j: JaegerSpan, process_id: String) -> UiSpan {
    UiSpan {
        trace_id: j.trace_id.to_jaeger_string(),
        span_id: span_id_string(j.span_id),
        flags: j.flags,
        operation_name: j.operation_name,
        references: j
            .references
            .iter()
            .map(|r| UiReference {
                ref_type: r.ref_type.as_upper_str().to_string(),
                trace_id: r.trace_id.to_jaeger_string(),
                span_id: span_id_string(r.span_id),
            })
            .collect(),
        start_time: u64::try_from(j.start_time_us).unwrap_or(0),
        duration: u64::try_from(j.duration_us).unwrap_or(0),
        tags: j.tags.iter().map(ui_key_value).collect(),
        logs: j
            .logs
            .iter()
            .map(|l| UiLog {
                timestamp: u64::try_from(l.timestamp_us).unwrap_or(0),
                fields: l.fields.iter().map(ui_key_value).collect(),
            })
            .collect(),
        process_id,
        process: None,
        warnings: if j.warnings.is_empty() {
            None
        } else {
            Some(j.warnings)
        },
    }
}

fn span_id_string(id: SpanId) -> String {
    format!("{:016x}", id.0)
}

fn ui_process(r: &Resource) -> UiProcess {
    UiProcess {
        service_name: r.service_name.clone(),
        tags: r.attributes.iter().map(ui_key_value).collect(),
    }
}

/// One typed tag, rendered the way Jaeger's Go encoder renders it.
pub fn ui_key_value(kv: &KeyValue) -> UiKeyValue {
    let (value_type, value) = ui_value(TagValue::Any(&kv.value));
    let value = match value {
        UiValue::Str(s) => Value::String(s.to_string()),
        UiValue::Bool(b) => Value::Bool(b),
        UiValue::Int(i) => Value::from(i),
        UiValue::IntAsString(i) => Value::String(i.to_string()),
        UiValue::Float(d) => serde_json::Number::from_f64(d)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(format_float(d))),
        UiValue::NonFinite(text) => Value::String(text.to_string()),
        UiValue::Binary(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        UiValue::Lossy(v) => Value::String(v.to_string_lossy()),
    };
    UiKeyValue {
        key: kv.key.clone(),
        value_type: value_type.to_string(),
        value,
    }
}

/// A tag value as the UI JSON holds it. [`ui_value`] is the one place the typing rules
/// live: [`ui_key_value`] turns the result into a `serde_json::Value`, the borrowed writer
/// streams it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UiValue<'a> {
    Str(&'a str),
    Bool(bool),
    /// A JSON number (an `int64` in JavaScript's safe range, or an integral `float64`).
    Int(i64),
    /// An `int64` outside ±(2^53−1), as a decimal string.
    IntAsString(i64),
    /// A finite, non-integral (or huge) `float64`, as serde_json prints an `f64`.
    Float(f64),
    /// `NaN`, `+Inf`, `-Inf` as strings.
    NonFinite(&'static str),
    /// Standard base64 in a string.
    Binary(&'a [u8]),
    /// Arrays, maps and the empty value: [`AnyValue::to_string_lossy`] in a string.
    Lossy(&'a AnyValue),
}

/// The `type` and value of one tag.
pub fn ui_value(value: TagValue<'_>) -> (&'static str, UiValue<'_>) {
    let v = match value {
        TagValue::Any(v) => v,
        TagValue::Str(s) => return ("string", UiValue::Str(s)),
        TagValue::Bool(b) => return ("bool", UiValue::Bool(b)),
    };
    match v {
        AnyValue::Str(s) => ("string", UiValue::Str(s)),
        AnyValue::Bool(b) => ("bool", UiValue::Bool(*b)),
        AnyValue::Int(i) => {
            if (-JS_MAX_SAFE_INTEGER..=JS_MAX_SAFE_INTEGER).contains(i) {
                ("int64", UiValue::Int(*i))
            } else {
                ("int64", UiValue::IntAsString(*i))
            }
        }
        AnyValue::Double(d) => ("float64", float_value(*d)),
        AnyValue::Bytes(b) => ("binary", UiValue::Binary(b)),
        other => ("string", UiValue::Lossy(other)),
    }
}

/// Go prints an integral float without a fraction (`1`, not `1.0`); non-finite floats,
/// which JSON cannot hold, become strings.
fn float_value(d: f64) -> UiValue<'static> {
    if !d.is_finite() {
        let text = if d.is_nan() {
            "NaN"
        } else if d > 0.0 {
            "+Inf"
        } else {
            "-Inf"
        };
        return UiValue::NonFinite(text);
    }
    // Below 2^63 the cast is exact for an integral value.
    if d == d.trunc() && d.abs() < 9.0e18 {
        return UiValue::Int(d as i64);
    }
    UiValue::Float(d)
}

/// Assigns `p1`, `p2`, … to distinct processes (equal service name and tags) in order of
/// first appearance. Shared by [`UiTrace::from_spans`] and [`UiTraceRef`].
///
/// A trace usually has a handful of processes, found by a linear scan (pointer identity,
/// then equality); past [`ProcessTable::LINEAR_MAX`] a hash index takes over. Both find the
/// first entry that is the same `Arc` or equal, so the keys do not depend on the path.
#[derive(Default)]
pub(crate) struct ProcessTable<'a> {
    pub(crate) entries: Vec<&'a Resource>,
    /// Hash of (service name, tag keys) → indices into `entries`; empty until `entries`
    /// outgrows the linear scan.
    buckets: HashMap<u64, Vec<usize>, BuildHasherDefault<FxHasher>>,
    /// Spans of one batch share one `Arc`: remember the last hit to skip the lookup.
    last: Option<(&'a Resource, usize)>,
}

/// Pointer identity first: cheaper, and it keeps a resource whose tags do not equal
/// themselves (a NaN value) on one key.
fn same_process(a: &Resource, b: &Resource) -> bool {
    std::ptr::eq(a, b) || (a.service_name == b.service_name && a.attributes == b.attributes)
}

fn process_hash(r: &Resource) -> u64 {
    let mut h = FxHasher::default();
    r.service_name.hash(&mut h);
    for kv in &r.attributes {
        kv.key.hash(&mut h);
    }
    h.finish()
}

impl<'a> ProcessTable<'a> {
    const LINEAR_MAX: usize = 16;

    /// The table of `spans`' processes and each span's index in it. Keys are assigned in
    /// span order, but the `processes` object comes after the spans: one pass up front
    /// keeps the span writers free of shared mutable state.
    pub(crate) fn of_spans(spans: &'a [Span]) -> (ProcessTable<'a>, Vec<usize>) {
        let mut table = ProcessTable::default();
        let process_of = spans.iter().map(|s| table.index_of(&s.resource)).collect();
        (table, process_of)
    }

    /// The index of `process` (its key is `p{index + 1}`), adding it when new.
    pub(crate) fn index_of(&mut self, process: &'a Resource) -> usize {
        if let Some((last, idx)) = self.last {
            if std::ptr::eq(last, process) {
                return idx;
            }
        }
        let found = if self.buckets.is_empty() {
            self.entries
                .iter()
                .position(|e| std::ptr::eq(*e, process))
                .or_else(|| self.entries.iter().position(|e| same_process(e, process)))
        } else {
            self.buckets.get(&process_hash(process)).and_then(|bucket| {
                bucket.iter().copied().find(|&i| {
                    self.entries
                        .get(i)
                        .is_some_and(|e| same_process(e, process))
                })
            })
        };
        let idx = match found {
            Some(i) => i,
            None => self.push(process),
        };
        self.last = Some((process, idx));
        idx
    }

    fn push(&mut self, process: &'a Resource) -> usize {
        let idx = self.entries.len();
        self.entries.push(process);
        if !self.buckets.is_empty() {
            self.buckets
                .entry(process_hash(process))
                .or_default()
                .push(idx);
        } else if self.entries.len() > Self::LINEAR_MAX {
            for (i, e) in self.entries.iter().enumerate() {
                self.buckets.entry(process_hash(e)).or_default().push(i);
            }
        }
        idx
    }

    fn into_map(self) -> BTreeMap<String, UiProcess> {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, r)| (process_key(i), ui_process(r)))
            .collect()
    }
}

fn process_key(idx: usize) -> String {
    format!("p{}", idx.saturating_add(1))
}

/// A small multiplicative hasher (the rustc / Firefox "Fx" scheme): the process table
/// hashes a few short strings per distinct `Arc`, where SipHash's setup dominated.
/// Not DoS-resistant, which is fine: a bucket only ever holds one trace's processes.
#[derive(Default)]
pub(crate) struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

// ---------------------------------------------------------------------------------------
// UI → model

/// Parses one trace in the UI shape into spans.
pub fn from_ui_json(bytes: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let trace: UiTrace = serde_json::from_slice(bytes).map_err(malformed)?;
    trace.into_spans()
}

/// Parses a file as the Jaeger UI's "open JSON file" accepts it: an `/api/traces` response
/// (`{"data": [trace, …]}`), an array of traces, or a single trace.
pub fn traces_from_ui_json(bytes: &[u8]) -> Result<Vec<Trace>, DecodeError> {
    let value: Value = serde_json::from_slice(bytes).map_err(malformed)?;
    let list = match value {
        Value::Object(mut obj) if obj.contains_key("data") => match obj.remove("data") {
            Some(Value::Array(a)) => a,
            Some(Value::Null) | None => Vec::new(),
            Some(_) => return Err(DecodeError::malformed(FORMAT, "\"data\" is not an array")),
        },
        Value::Array(a) => a,
        obj @ Value::Object(_) => vec![obj],
        _ => {
            return Err(DecodeError::malformed(
                FORMAT,
                "expected a trace object, an array of traces or {\"data\": [...]}",
            ))
        }
    };
    list.into_iter()
        .map(|v| {
            let t: UiTrace = serde_json::from_value(v).map_err(malformed)?;
            Ok(Trace {
                spans: t.into_spans()?,
            })
        })
        .collect()
}

fn malformed(e: serde_json::Error) -> DecodeError {
    DecodeError::malformed(FORMAT, e.to_string())
}

impl UiTrace {
    /// Converts back to the internal model (through [`JaegerSpan::into_span`]).
    pub fn into_spans(self) -> Result<Vec<Span>, DecodeError> {
        let mut processes: HashMap<String, Arc<Resource>> =
            HashMap::with_capacity(self.processes.len());
        for (key, p) in self.processes {
            processes.insert(key, Arc::new(resource_from_ui(p)?));
        }
        let trace_level_id = if self.trace_id.is_empty() {
            None
        } else {
            Some(parse_trace_id(&self.trace_id)?)
        };
        self.spans
            .into_iter()
            .map(|s| span_from_ui(s, trace_level_id, &processes))
            .collect()
    }
}

fn resource_from_ui(p: UiProcess) -> Result<Resource, DecodeError> {
    Ok(Resource {
        service_name: p.service_name,
        attributes: key_values_from_ui(p.tags)?,
        ..Default::default()
    })
}

fn span_from_ui(
    s: UiSpan,
    trace_level_id: Option<TraceId>,
    processes: &HashMap<String, Arc<Resource>>,
) -> Result<Span, DecodeError> {
    let trace_id = if s.trace_id.is_empty() {
        trace_level_id.ok_or_else(|| DecodeError::malformed(FORMAT, "span without a traceID"))?
    } else {
        parse_trace_id(&s.trace_id)?
    };
    let span_id = parse_span_id(&s.span_id)?;
    let process = match (s.process, processes.get(&s.process_id)) {
        (Some(embedded), _) => Arc::new(resource_from_ui(embedded)?),
        (None, Some(p)) => p.clone(),
        (None, None) => {
            return Err(DecodeError::malformed(
                FORMAT,
                format!(
                    "span {} refers to unknown process {:?}",
                    s.span_id,
                    s.process_id.chars().take(64).collect::<String>()
                ),
            ))
        }
    };
    let references = s
        .references
        .into_iter()
        .map(|r| {
            Ok(JaegerRef {
                ref_type: parse_ref_type(&r.ref_type)?,
                trace_id: parse_trace_id(&r.trace_id)?,
                span_id: parse_span_id(&r.span_id)?,
            })
        })
        .collect::<Result<Vec<_>, DecodeError>>()?;
    let logs = s
        .logs
        .into_iter()
        .map(|l| {
            Ok(JaegerLog {
                timestamp_us: micros(l.timestamp),
                fields: key_values_from_ui(l.fields)?,
            })
        })
        .collect::<Result<Vec<_>, DecodeError>>()?;
    let jaeger = JaegerSpan {
        trace_id,
        span_id,
        operation_name: s.operation_name,
        references,
        flags: s.flags,
        start_time_us: micros(s.start_time),
        duration_us: micros(s.duration),
        tags: key_values_from_ui(s.tags)?,
        logs,
        process,
        warnings: s.warnings.unwrap_or_default(),
    };
    Ok(jaeger.into_span())
}

fn micros(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn parse_trace_id(s: &str) -> Result<TraceId, DecodeError> {
    s.parse::<TraceId>()
        .map_err(|e| DecodeError::malformed(FORMAT, e.to_string()))
}

fn parse_span_id(s: &str) -> Result<SpanId, DecodeError> {
    s.parse::<SpanId>()
        .map_err(|e| DecodeError::malformed(FORMAT, e.to_string()))
}

fn parse_ref_type(s: &str) -> Result<RefType, DecodeError> {
    if s.eq_ignore_ascii_case("CHILD_OF") {
        Ok(RefType::ChildOf)
    } else if s.eq_ignore_ascii_case("FOLLOWS_FROM") {
        Ok(RefType::FollowsFrom)
    } else {
        Err(DecodeError::malformed(
            FORMAT,
            format!(
                "not a valid reference type {:?}",
                s.chars().take(64).collect::<String>()
            ),
        ))
    }
}

fn key_values_from_ui(kvs: Vec<UiKeyValue>) -> Result<Vec<KeyValue>, DecodeError> {
    kvs.into_iter().map(key_value_from_ui).collect()
}

/// Reads one typed tag. A missing `type` is inferred from the JSON value.
pub fn key_value_from_ui(kv: UiKeyValue) -> Result<KeyValue, DecodeError> {
    let bad = |kv_key: &str, what: &str| {
        DecodeError::malformed(
            FORMAT,
            format!(
                "tag {:?}: {what}",
                kv_key.chars().take(64).collect::<String>()
            ),
        )
    };
    let value = match (kv.value_type.as_str(), kv.value) {
        ("" | "string", Value::String(s)) => AnyValue::Str(s),
        ("string", other) => AnyValue::Str(other.to_string()),
        ("", Value::Bool(b)) => AnyValue::Bool(b),
        ("", Value::Number(n)) => match n.as_i64() {
            Some(i) => AnyValue::Int(i),
            None => AnyValue::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        ("", Value::Null) => AnyValue::Str(String::new()),
        ("", other) => AnyValue::Str(other.to_string()),
        ("bool", Value::Bool(b)) => AnyValue::Bool(b),
        ("bool", Value::String(s)) => match s.as_str() {
            "true" | "TRUE" | "True" | "1" | "t" | "T" => AnyValue::Bool(true),
            "false" | "FALSE" | "False" | "0" | "f" | "F" => AnyValue::Bool(false),
            _ => return Err(bad(&kv.key, "bool value is not true/false")),
        },
        ("int64", Value::Number(n)) => AnyValue::Int(
            n.as_i64()
                .ok_or_else(|| bad(&kv.key, "int64 out of range"))?,
        ),
        ("int64", Value::String(s)) => AnyValue::Int(
            s.trim()
                .parse()
                .map_err(|_| bad(&kv.key, "int64 value is not an integer"))?,
        ),
        ("float64", Value::Number(n)) => {
            AnyValue::Double(n.as_f64().ok_or_else(|| bad(&kv.key, "bad float64"))?)
        }
        ("float64", Value::String(s)) => AnyValue::Double(
            parse_float_text(&s).ok_or_else(|| bad(&kv.key, "float64 value is not a number"))?,
        ),
        ("binary", Value::String(s)) => AnyValue::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(s.as_bytes())
                .map_err(|_| bad(&kv.key, "binary value is not base64"))?,
        ),
        ("bool" | "int64" | "float64" | "binary", _) => {
            return Err(bad(&kv.key, "value does not match its type"))
        }
        (t, _) => {
            return Err(bad(
                &kv.key,
                &format!(
                    "unknown value type {:?}",
                    t.chars().take(32).collect::<String>()
                ),
            ))
        }
    };
    Ok(KeyValue { key: kv.key, value })
}

/// Go's float text forms, including the non-finite ones this module writes.
fn parse_float_text(s: &str) -> Option<f64> {
    match s.trim() {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        t => t.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kv(value: AnyValue) -> Value {
        serde_json::to_value(ui_key_value(&KeyValue::new("k", value))).unwrap()
    }

    #[test]
    fn typed_values_follow_go() {
        assert_eq!(
            kv(AnyValue::Int(5)),
            json!({"key":"k","type":"int64","value":5})
        );
        assert_eq!(
            kv(AnyValue::Int(i64::MAX)),
            json!({"key":"k","type":"int64","value":"9223372036854775807"})
        );
        assert_eq!(
            kv(AnyValue::Double(1.0)).to_string(),
            r#"{"key":"k","type":"float64","value":1}"#
        );
        assert_eq!(
            kv(AnyValue::Double(f64::NAN)),
            json!({"key":"k","type":"float64","value":"NaN"})
        );
        assert_eq!(
            kv(AnyValue::Bytes(vec![0, 0, 0x30, 0x39])),
            json!({"key":"k","type":"binary","value":"AAAwOQ=="})
        );
        assert_eq!(
            kv(AnyValue::Array(vec![AnyValue::Int(1), AnyValue::from("a")])),
            json!({"key":"k","type":"string","value":"[1,\"a\"]"})
        );
    }

    #[test]
    fn untyped_and_string_encoded_values_are_read() {
        let read = |v: Value| key_value_from_ui(serde_json::from_value(v).unwrap());
        assert_eq!(
            read(json!({"key":"a","value":7})).unwrap().value,
            AnyValue::Int(7)
        );
        assert_eq!(
            read(json!({"key":"a","type":"int64","value":"-9"}))
                .unwrap()
                .value,
            AnyValue::Int(-9)
        );
        assert!(matches!(
            read(json!({"key":"a","type":"float64","value":"NaN"})).unwrap().value,
            AnyValue::Double(d) if d.is_nan()
        ));
        assert!(read(json!({"key":"a","type":"int64","value":true})).is_err());
        assert!(read(json!({"key":"a","type":"binary","value":"%%"})).is_err());
        assert!(read(json!({"key":"a","type":"weird","value":"x"})).is_err());
    }

    #[test]
    fn hostile_documents_error_instead_of_panicking() {
        for doc in [
            &b""[..],
            b"[",
            b"42",
            b"{\"spans\":[{\"spanID\":\"1\"}]}",
            b"{\"traceID\":\"zz\",\"spans\":[]}",
            b"{\"traceID\":\"1\",\"spans\":[{\"spanID\":\"1\",\"processID\":\"p9\"}]}",
            b"{\"traceID\":\"1\",\"spans\":[{\"spanID\":\"1\",\"processID\":\"p1\",\"startTime\":-1}],\"processes\":{\"p1\":{\"serviceName\":\"s\"}}}",
        ] {
            assert!(from_ui_json(doc).is_err(), "{:?}", String::from_utf8_lossy(doc));
        }
        assert!(traces_from_ui_json(b"{\"data\": 3}").is_err());
        assert!(traces_from_ui_json(b"\"x\"").is_err());
    }
}
