//! Jaeger's Elasticsearch/OpenSearch span document (`dbmodel.Span`) and its mapping to and
//! from the internal [`Span`], through [`JaegerSpan`] (the one place for the semantic part).
//!
//! The document is what Jaeger writes into `jaeger-span-*` indices, so that indices written by
//! Jaeger read here and the other way round:
//!
//! ```json
//! {"traceID": "…", "spanID": "…", "flags": 1, "operationName": "GET /",
//!  "references": [{"refType": "CHILD_OF", "traceID": "…", "spanID": "…"}],
//!  "startTime": 1700000000000000, "startTimeMillis": 1700000000000, "duration": 120,
//!  "tags": [{"key": "http.method", "type": "string", "value": "GET"}],
//!  "tag": {"http@status_code": 200},
//!  "logs": [{"timestamp": 1700000000000010, "fields": [{"key": "event", "type": "string", "value": "x"}]}],
//!  "process": {"serviceName": "frontend", "tags": [], "tag": {}}}
//! ```
//!
//! Decisions:
//! * Nested tag values are written as text, as Jaeger's v1 writer does (`int64` `"42"`,
//!   `bool` `"true"`, `binary` hex), so the keyword mapping matches a query value as text.
//!   Floats use the shortest text that parses back to the same value (Jaeger writes 10
//!   significant digits; both parse the same way). Reading accepts text and typed JSON
//!   values (newer Jaeger writers emit the latter).
//! * Tags-as-fields ([`TagsAsFields`]): a selected tag goes into the `tag` (or
//!   `process.tag`) object instead of the nested list, its key's dots replaced (Jaeger's
//!   default replacement is `@`), its value typed JSON (binary as base64, as Go encodes
//!   `[]byte`). On reading, the object's entries come back after the nested tags, sorted by
//!   key (JSON objects have no order).
//! * Structured OTLP values (arrays, maps) and empty values become `string` tags, as every
//!   Jaeger v1 format carries them.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use crate::error::DecodeError;
use crate::jaeger::{JaegerLog, JaegerRef, JaegerSpan, RefType};
use crate::span::*;

const FORMAT: &str = "elasticsearch span";

/// One span document of a `jaeger-span-*` index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EsSpan {
    #[serde(rename = "traceID")]
    pub trace_id: String,
    #[serde(rename = "spanID")]
    pub span_id: String,
    /// Deprecated by Jaeger (parents live in `references`), read when present.
    #[serde(
        rename = "parentSpanID",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub parent_span_id: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub flags: u32,
    #[serde(rename = "operationName", default)]
    pub operation_name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub references: Vec<EsReference>,
    /// Microseconds since the Unix epoch.
    #[serde(rename = "startTime", default)]
    pub start_time: u64,
    /// Milliseconds since the Unix epoch: the `date` field range queries use.
    #[serde(rename = "startTimeMillis", default)]
    pub start_time_millis: u64,
    /// Microseconds.
    #[serde(default)]
    pub duration: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<EsKeyValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub logs: Vec<EsLog>,
    #[serde(default)]
    pub process: EsProcess,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EsReference {
    #[serde(rename = "refType")]
    pub ref_type: String,
    #[serde(rename = "traceID")]
    pub trace_id: String,
    #[serde(rename = "spanID")]
    pub span_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EsProcess {
    #[serde(rename = "serviceName", default)]
    pub service_name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<EsKeyValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Map<String, Value>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EsLog {
    #[serde(default)]
    pub timestamp: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub fields: Vec<EsKeyValue>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EsKeyValue {
    pub key: String,
    /// `string`, `bool`, `int64`, `float64` or `binary`.
    #[serde(rename = "type", default)]
    pub value_type: String,
    #[serde(default)]
    pub value: Value,
}

/// One document of a `jaeger-service-*` index: a (service, operation) pair.
///
/// `spanKind` is Sextant's addition (Jaeger's documents have only the two names); documents
/// without it read as [`SpanKind::Unspecified`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EsService {
    #[serde(rename = "serviceName")]
    pub service_name: String,
    #[serde(rename = "operationName")]
    pub operation_name: String,
    #[serde(rename = "spanKind", default, skip_serializing_if = "String::is_empty")]
    pub span_kind: String,
}

impl EsService {
    pub fn of(span: &Span) -> Self {
        EsService {
            service_name: span.resource.service_name.clone(),
            operation_name: span.name.clone(),
            span_kind: span.kind.as_jaeger_str().to_string(),
        }
    }

    /// The document ID: Jaeger's FNV-1a 64 hash of service and operation names in hex (so a
    /// Jaeger collector and Sextant write the same document), with the span kind appended
    /// to the hashed bytes only when there is one.
    pub fn doc_id(&self) -> String {
        let mut h = Fnv64::new();
        h.write(self.service_name.as_bytes());
        h.write(self.operation_name.as_bytes());
        h.write(self.span_kind.as_bytes());
        format!("{:x}", h.finish())
    }
}

/// FNV-1a, 64 bit: Jaeger's hash for service document IDs.
pub struct Fnv64(u64);

impl Fnv64 {
    pub fn new() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    pub fn finish(&self) -> u64 {
        self.0
    }
}

impl Default for Fnv64 {
    fn default() -> Self {
        Self::new()
    }
}

/// Which tags are stored as object fields (`tag.*`) rather than in the nested list.
#[derive(Clone, Debug, PartialEq)]
pub struct TagsAsFields {
    pub all: bool,
    pub keys: HashSet<String>,
    /// Replaces `.` in field names (Elasticsearch reads dots as object paths).
    pub dot_replacement: String,
}

impl Default for TagsAsFields {
    fn default() -> Self {
        TagsAsFields {
            all: false,
            keys: HashSet::new(),
            dot_replacement: "@".to_string(),
        }
    }
}

impl TagsAsFields {
    fn selects(&self, key: &str) -> bool {
        self.all || self.keys.contains(key)
    }
    /// The object field name of a tag key.
    pub fn field_name(&self, key: &str) -> String {
        key.replace('.', &self.dot_replacement)
    }
    /// The tag key of an object field name.
    pub fn key_of(&self, field: &str) -> String {
        if self.dot_replacement.is_empty() {
            field.to_string()
        } else {
            field.replace(&self.dot_replacement, ".")
        }
    }
}

impl EsSpan {
    /// Internal model → document.
    pub fn from_span(span: &Span, fields: &TagsAsFields) -> EsSpan {
        let j = JaegerSpan::from_span(span);
        let (tags, tag) = split_tags(&j.tags, fields);
        let (ptags, ptag) = split_tags(&j.process.attributes, fields);
        let start = u64::try_from(j.start_time_us).unwrap_or(0);
        EsSpan {
            trace_id: j.trace_id.to_jaeger_string(),
            span_id: j.span_id.to_string(),
            parent_span_id: String::new(),
            flags: j.flags,
            operation_name: j.operation_name,
            references: j
                .references
                .iter()
                .map(|r| EsReference {
                    ref_type: r.ref_type.as_upper_str().to_string(),
                    trace_id: r.trace_id.to_jaeger_string(),
                    span_id: r.span_id.to_string(),
                })
                .collect(),
            start_time: start,
            start_time_millis: start / 1000,
            duration: u64::try_from(j.duration_us).unwrap_or(0),
            tags,
            tag,
            logs: j
                .logs
                .iter()
                .map(|l| EsLog {
                    timestamp: u64::try_from(l.timestamp_us).unwrap_or(0),
                    fields: l.fields.iter().map(to_es_kv).collect(),
                })
                .collect(),
            process: EsProcess {
                service_name: j.process.service_name.clone(),
                tags: ptags,
                tag: ptag,
            },
        }
    }

    /// Document → internal model. `dot_replacement` turns object field names back into keys.
    pub fn into_span(self, dot_replacement: &str) -> Result<Span, DecodeError> {
        let fields = TagsAsFields {
            dot_replacement: dot_replacement.to_string(),
            ..TagsAsFields::default()
        };
        let trace_id = parse_trace_id(&self.trace_id)?;
        let span_id = parse_span_id(&self.span_id)?;
        let mut references = self
            .references
            .iter()
            .map(|r| {
                let ref_type = match r.ref_type.as_str() {
                    "CHILD_OF" | "child_of" => RefType::ChildOf,
                    "FOLLOWS_FROM" | "follows_from" => RefType::FollowsFrom,
                    other => {
                        return Err(DecodeError::malformed(
                            FORMAT,
                            format!("unknown reference type {other:?}"),
                        ))
                    }
                };
                Ok(JaegerRef {
                    ref_type,
                    trace_id: parse_trace_id(&r.trace_id)?,
                    span_id: parse_span_id(&r.span_id)?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Old documents carried the parent only here.
        if !self.parent_span_id.is_empty() {
            let parent = parse_span_id(&self.parent_span_id)?;
            if !parent.is_zero()
                && !references
                    .iter()
                    .any(|r| r.ref_type == RefType::ChildOf && r.span_id == parent)
            {
                references.insert(
                    0,
                    JaegerRef {
                        ref_type: RefType::ChildOf,
                        trace_id,
                        span_id: parent,
                    },
                );
            }
        }
        let mut tags = from_es_kvs(self.tags)?;
        tags.extend(from_tag_map(self.tag, &fields)?);
        let mut ptags = from_es_kvs(self.process.tags)?;
        ptags.extend(from_tag_map(self.process.tag, &fields)?);
        let logs = self
            .logs
            .into_iter()
            .map(|l| {
                Ok(JaegerLog {
                    timestamp_us: to_i64(l.timestamp),
                    fields: from_es_kvs(l.fields)?,
                })
            })
            .collect::<Result<Vec<_>, DecodeError>>()?;
        Ok(JaegerSpan {
            trace_id,
            span_id,
            operation_name: self.operation_name,
            references,
            flags: self.flags,
            start_time_us: to_i64(self.start_time),
            duration_us: to_i64(self.duration),
            tags,
            logs,
            process: Arc::new(Resource {
                service_name: self.process.service_name,
                attributes: ptags,
                ..Default::default()
            }),
            warnings: Vec::new(),
        }
        .into_span())
    }
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn parse_trace_id(s: &str) -> Result<TraceId, DecodeError> {
    s.parse()
        .map_err(|e: IdParseError| DecodeError::malformed(FORMAT, e.to_string()))
}

fn parse_span_id(s: &str) -> Result<SpanId, DecodeError> {
    s.parse()
        .map_err(|e: IdParseError| DecodeError::malformed(FORMAT, e.to_string()))
}

fn split_tags(
    tags: &[KeyValue],
    fields: &TagsAsFields,
) -> (Vec<EsKeyValue>, Option<Map<String, Value>>) {
    if !fields.all && fields.keys.is_empty() {
        return (tags.iter().map(to_es_kv).collect(), None);
    }
    let mut nested = Vec::new();
    let mut map = Map::new();
    for kv in tags {
        if fields.selects(&kv.key) {
            map.insert(fields.field_name(&kv.key), typed_json(&kv.value));
        } else {
            nested.push(to_es_kv(kv));
        }
    }
    (nested, (!map.is_empty()).then_some(map))
}

/// A typed JSON value for the `tag` object.
fn typed_json(v: &AnyValue) -> Value {
    match v {
        AnyValue::Bool(b) => Value::Bool(*b),
        AnyValue::Int(i) => Value::from(*i),
        AnyValue::Double(d) => Number::from_f64(*d)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(format_float(*d))),
        other => Value::String(other.to_string_lossy()),
    }
}

fn to_es_kv(kv: &KeyValue) -> EsKeyValue {
    let (value_type, value) = match &kv.value {
        AnyValue::Bool(b) => ("bool", b.to_string()),
        AnyValue::Int(i) => ("int64", i.to_string()),
        AnyValue::Double(d) => ("float64", float_text(*d)),
        AnyValue::Bytes(b) => ("binary", hex::encode(b)),
        other => ("string", other.to_string_lossy()),
    };
    EsKeyValue {
        key: kv.key.clone(),
        value_type: value_type.to_string(),
        value: Value::String(value),
    }
}

/// Shortest text that parses back to the same float (Go's `ParseFloat` reads it too).
fn float_text(d: f64) -> String {
    if d.is_finite() && d == d.trunc() && d.abs() < 1e15 {
        format_float(d)
    } else {
        format!("{d:?}")
    }
}

fn bad_value(kv: &EsKeyValue) -> DecodeError {
    DecodeError::malformed(
        FORMAT,
        format!(
            "tag {:?}: value {} is not a valid {:?}",
            kv.key, kv.value, kv.value_type
        ),
    )
}

fn from_es_kvs(kvs: Vec<EsKeyValue>) -> Result<Vec<KeyValue>, DecodeError> {
    kvs.into_iter().map(from_es_kv).collect()
}

fn from_es_kv(kv: EsKeyValue) -> Result<KeyValue, DecodeError> {
    let value = match (&kv.value, kv.value_type.as_str()) {
        (Value::String(s), "string" | "") => AnyValue::Str(s.clone()),
        (Value::String(s), "bool") => match s.as_str() {
            "true" | "TRUE" | "True" | "1" | "t" | "T" => AnyValue::Bool(true),
            "false" | "FALSE" | "False" | "0" | "f" | "F" => AnyValue::Bool(false),
            _ => return Err(bad_value(&kv)),
        },
        (Value::String(s), "int64") => AnyValue::Int(s.parse().map_err(|_| bad_value(&kv))?),
        (Value::String(s), "float64") => AnyValue::Double(s.parse().map_err(|_| bad_value(&kv))?),
        (Value::String(s), "binary") => {
            AnyValue::Bytes(hex::decode(s).map_err(|_| bad_value(&kv))?)
        }
        // Typed JSON values (newer Jaeger writers).
        (Value::Bool(b), _) => AnyValue::Bool(*b),
        (Value::Number(n), "float64") => {
            AnyValue::Double(n.as_f64().ok_or_else(|| bad_value(&kv))?)
        }
        (Value::Number(n), _) => match n.as_i64() {
            Some(i) => AnyValue::Int(i),
            None => AnyValue::Double(n.as_f64().ok_or_else(|| bad_value(&kv))?),
        },
        _ => return Err(bad_value(&kv)),
    };
    Ok(KeyValue { key: kv.key, value })
}

fn from_tag_map(
    map: Option<Map<String, Value>>,
    fields: &TagsAsFields,
) -> Result<Vec<KeyValue>, DecodeError> {
    let Some(map) = map else {
        return Ok(Vec::new());
    };
    let sorted: BTreeMap<String, Value> = map.into_iter().collect();
    sorted
        .into_iter()
        .map(|(field, v)| {
            let value = match v {
                Value::String(s) => AnyValue::Str(s),
                Value::Bool(b) => AnyValue::Bool(b),
                // Elasticsearch keeps no decimal point for whole floats: they read as ints,
                // as in Jaeger.
                Value::Number(n) => match n.as_i64() {
                    Some(i) => AnyValue::Int(i),
                    None => AnyValue::Double(n.as_f64().unwrap_or_default()),
                },
                other => {
                    return Err(DecodeError::malformed(
                        FORMAT,
                        format!("tag field {field:?}: unsupported value {other}"),
                    ))
                }
            };
            Ok(KeyValue {
                key: fields.key_of(&field),
                value,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jaeger::ns_to_us;

    fn sample() -> Span {
        let tid = TraceId::from_halves(0, 0xabc);
        Span {
            trace_id: tid,
            span_id: SpanId(0x11),
            parent_span_id: SpanId(0x10),
            name: "GET /x".into(),
            kind: SpanKind::Server,
            start_time_unix_nano: 1_700_000_000_123_456_000,
            end_time_unix_nano: 1_700_000_000_123_556_000,
            attributes: vec![
                KeyValue::new("http.method", "GET"),
                KeyValue::new("n", 42i64),
                KeyValue::new("ratio", 0.1f64),
                KeyValue::new("ok", true),
                KeyValue {
                    key: "blob".into(),
                    value: AnyValue::Bytes(vec![1, 2, 255]),
                },
            ],
            events: vec![Event {
                time_unix_nano: 1_700_000_000_123_460_000,
                name: "retry".into(),
                attributes: vec![KeyValue::new("attempt", 2i64)],
                dropped_attributes_count: 0,
            }],
            links: vec![Link {
                trace_id: TraceId(5),
                span_id: SpanId(6),
                attributes: vec![KeyValue::new(REF_TYPE_ATTR, "follows_from")],
                ..Default::default()
            }],
            status: Status {
                code: StatusCode::Error,
                message: String::new(),
            },
            flags: 1,
            resource: Arc::new(Resource {
                service_name: "frontend".into(),
                attributes: vec![KeyValue::new("host.name", "h1")],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn document_has_jaegers_shape() {
        let doc = EsSpan::from_span(&sample(), &TagsAsFields::default());
        let json = serde_json::to_value(&doc).unwrap();
        assert_eq!(json["traceID"], "0000000000000abc");
        assert_eq!(json["spanID"], "0000000000000011");
        assert_eq!(json["startTime"], 1_700_000_000_123_456u64);
        assert_eq!(json["startTimeMillis"], 1_700_000_000_123u64);
        assert_eq!(json["duration"], 100);
        assert_eq!(json["references"][0]["refType"], "CHILD_OF");
        assert_eq!(json["references"][1]["refType"], "FOLLOWS_FROM");
        assert_eq!(json["process"]["serviceName"], "frontend");
        let tags = json["tags"].as_array().unwrap();
        let find = |k: &str| tags.iter().find(|t| t["key"] == k).unwrap().clone();
        assert_eq!(find("n")["type"], "int64");
        assert_eq!(find("n")["value"], "42");
        assert_eq!(find("blob")["value"], "0102ff");
        assert_eq!(find("span.kind")["value"], "server");
        assert_eq!(find("error")["value"], "true");
        assert_eq!(json["logs"][0]["fields"][0]["key"], "event");
        assert!(json.get("tag").is_none());
    }

    #[test]
    fn round_trips_through_json() {
        let span = sample();
        for fields in [
            TagsAsFields::default(),
            TagsAsFields {
                keys: ["http.method".to_string(), "host.name".to_string()].into(),
                ..Default::default()
            },
        ] {
            let doc = EsSpan::from_span(&span, &fields);
            let text = serde_json::to_string(&doc).unwrap();
            let back: EsSpan = serde_json::from_str(&text).unwrap();
            let got = back.into_span(&fields.dot_replacement).unwrap();
            let mut want_attrs = span.attributes.clone();
            let mut got_attrs = got.attributes.clone();
            want_attrs.sort_by(|a, b| a.key.cmp(&b.key));
            got_attrs.sort_by(|a, b| a.key.cmp(&b.key));
            assert_eq!(got_attrs, want_attrs);
            assert_eq!(
                Span {
                    attributes: vec![],
                    ..got
                },
                Span {
                    attributes: vec![],
                    ..span.clone()
                }
            );
        }
    }

    #[test]
    fn tags_as_fields_replace_dots_and_keep_types() {
        let fields = TagsAsFields {
            all: true,
            ..Default::default()
        };
        let doc = EsSpan::from_span(&sample(), &fields);
        let json = serde_json::to_value(&doc).unwrap();
        assert_eq!(json["tag"]["http@method"], "GET");
        assert_eq!(json["tag"]["n"], 42);
        assert_eq!(json["tag"]["ok"], true);
        assert_eq!(json["process"]["tag"]["host@name"], "h1");
        assert!(json["tags"].as_array().unwrap().is_empty());
    }

    #[test]
    fn reads_a_document_jaeger_wrote() {
        // Shape of Jaeger's own fixture (typed values, a legacy parentSpanID, a tag map).
        let text = r#"{"traceID":"1","spanID":"2","parentSpanID":"3","flags":1,
            "operationName":"op","references":[],"startTime":1485467191639875,
            "startTimeMillis":1485467191639,"duration":5,
            "tags":[{"key":"a","type":"int64","value":"7"},{"key":"b","type":"float64","value":"72.5"},
                    {"key":"c","type":"bool","value":true},{"key":"d","type":"binary","value":"00ff"}],
            "tag":{"x@y":"z","n":3},
            "logs":[{"timestamp":1485467191639875,"fields":[{"key":"event","type":"string","value":"e"}]}],
            "process":{"serviceName":"svc","tags":null}}"#;
        let doc: EsSpan = serde_json::from_str(text).unwrap();
        let span = doc.into_span("@").unwrap();
        assert_eq!(span.trace_id, TraceId(1));
        assert_eq!(span.parent_span_id, SpanId(3));
        assert_eq!(ns_to_us(span.start_time_unix_nano), 1485467191639875);
        assert_eq!(
            span.attributes,
            vec![
                KeyValue::new("a", 7i64),
                KeyValue::new("b", 72.5f64),
                KeyValue::new("c", true),
                KeyValue {
                    key: "d".into(),
                    value: AnyValue::Bytes(vec![0, 255])
                },
                KeyValue::new("n", 3i64),
                KeyValue::new("x.y", "z"),
            ]
        );
        assert_eq!(span.events[0].name, "e");
    }

    #[test]
    fn hostile_documents_are_errors_not_panics() {
        for text in [
            r#"{"traceID":"zz","spanID":"1"}"#,
            r#"{"traceID":"1","spanID":"1","tags":[{"key":"a","type":"int64","value":"x"}]}"#,
            r#"{"traceID":"1","spanID":"1","references":[{"refType":"X","traceID":"1","spanID":"1"}]}"#,
            r#"{"traceID":"1","spanID":"1","tag":{"a":[1]}}"#,
        ] {
            let doc: EsSpan = serde_json::from_str(text).unwrap();
            assert!(doc.into_span("@").is_err(), "{text}");
        }
    }

    #[test]
    fn service_ids_match_jaegers_hash() {
        // fnv64a("svc" + "op"), as Jaeger computes the service document ID.
        let mut h = Fnv64::new();
        h.write(b"svcop");
        let s = EsService {
            service_name: "svc".into(),
            operation_name: "op".into(),
            span_kind: String::new(),
        };
        assert_eq!(s.doc_id(), format!("{:x}", h.finish()));
    }
}
