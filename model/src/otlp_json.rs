//! OTLP/JSON — the JSON encoding of OTLP that OTLP/HTTP clients post to `/v1/traces` and
//! that Jaeger's api_v3 HTTP API returns — ⇄ the internal [`Span`].
//!
//! The JSON is mapped onto the generated OTLP protobuf messages and then converted by
//! [`crate::otlp`], so both encodings share one semantic mapping (service name, warnings,
//! ID lengths, nesting limit). What this module owns is the JSON spelling, which is
//! protobuf's JSON mapping with OTLP's exceptions:
//!
//! * field names in lowerCamelCase; snake_case (the proto names) is accepted too, as
//!   protobuf JSON parsers do; unknown fields are ignored and `null` means "default";
//! * `traceId` / `spanId` / `parentSpanId` as hex strings (OTLP's exception to base64);
//! * 64-bit integers (timestamps, `intValue`) written as decimal strings, read as strings or
//!   numbers; 32-bit ones written as numbers, read as either;
//! * enums (`kind`, `status.code`) written as integers, read as integers or their names
//!   (`"SPAN_KIND_SERVER"`, `"STATUS_CODE_ERROR"`);
//! * `bytesValue` as base64 (standard alphabet on output; standard or URL-safe, padded or
//!   not, on input); `doubleValue` as a number, or `"NaN"` / `"Infinity"` / `"-Infinity"`.
//!
//! Being serde-derived, the parser also takes a message written as a JSON array of its
//! fields in declaration order; no client does that, and nothing it yields bypasses the
//! checks in [`crate::otlp`].
//!
//! Output omits fields with default values, except `resource`, `scope` and `status`, which
//! are always present (as Jaeger writes them).

use serde::de::Deserializer;
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use sextant_proto::opentelemetry::proto::common::v1 as pb_common;
use sextant_proto::opentelemetry::proto::resource::v1 as pb_resource;
use sextant_proto::opentelemetry::proto::trace::v1 as pb;

use crate::error::DecodeError;
use crate::otlp;
use crate::proto_json::{deserialize_str, Base64, Double, Enum, EnumNames, Int};
use crate::span::Span;

const FORMAT: &str = "OTLP/JSON";

/// Decodes an OTLP/JSON `ExportTraceServiceRequest` (`{"resourceSpans": [...]}`).
pub fn decode_export_request(bytes: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let data: TracesData =
        serde_json::from_slice(bytes).map_err(|e| DecodeError::malformed(FORMAT, e.to_string()))?;
    let resource_spans = data
        .resource_spans
        .into_iter()
        .map(pb::ResourceSpans::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    otlp::spans_from_resource_spans(resource_spans)
}

/// Encodes spans as an OTLP/JSON `ExportTraceServiceRequest` / `TracesData`.
pub fn encode_export_request(spans: &[Span]) -> Vec<u8> {
    // Serializing these types cannot fail: every map key is a string and no Serialize impl
    // here returns an error, so the empty fallback is unreachable.
    serde_json::to_vec(&traces_data(spans)).unwrap_or_default()
}

/// The same document as [`encode_export_request`] as a JSON value,
/// `{"resourceSpans": [...]}`, for embedding (api_v3 returns it as `{"result": <this>}`).
pub fn to_json_value(spans: &[Span]) -> serde_json::Value {
    // Unreachable fallback, as in `encode_export_request`.
    serde_json::to_value(traces_data(spans)).unwrap_or(serde_json::Value::Null)
}

fn traces_data(spans: &[Span]) -> TracesData {
    TracesData {
        resource_spans: otlp::spans_to_resource_spans(spans)
            .into_iter()
            .map(ResourceSpans::from)
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------
// The JSON shapes. Every struct: missing field → default, `null` → default, unknown field
// ignored; output skips defaults.

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct TracesData {
    #[serde(alias = "resource_spans", deserialize_with = "nullable")]
    resource_spans: Vec<ResourceSpans>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ResourceSpans {
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<Resource>,
    #[serde(
        alias = "scope_spans",
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    scope_spans: Vec<ScopeSpans>,
    #[serde(
        alias = "schema_url",
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    schema_url: String,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Resource {
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "dropped_attributes_count", skip_serializing_if = "is_default")]
    dropped_attributes_count: Int<u32>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ScopeSpans {
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<Scope>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    spans: Vec<JsonSpan>,
    #[serde(
        alias = "schema_url",
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    schema_url: String,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Scope {
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    name: String,
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    version: String,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "dropped_attributes_count", skip_serializing_if = "is_default")]
    dropped_attributes_count: Int<u32>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JsonSpan {
    #[serde(alias = "trace_id")]
    trace_id: Hex,
    #[serde(alias = "span_id")]
    span_id: Hex,
    #[serde(
        alias = "trace_state",
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    trace_state: String,
    #[serde(alias = "parent_span_id", skip_serializing_if = "Hex::is_empty")]
    parent_span_id: Hex,
    #[serde(skip_serializing_if = "is_default")]
    flags: Int<u32>,
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    name: String,
    #[serde(skip_serializing_if = "is_default")]
    kind: Enum<SpanKindNames>,
    #[serde(alias = "start_time_unix_nano", skip_serializing_if = "is_default")]
    start_time_unix_nano: Int<u64>,
    #[serde(alias = "end_time_unix_nano", skip_serializing_if = "is_default")]
    end_time_unix_nano: Int<u64>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "dropped_attributes_count", skip_serializing_if = "is_default")]
    dropped_attributes_count: Int<u32>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    events: Vec<Event>,
    #[serde(alias = "dropped_events_count", skip_serializing_if = "is_default")]
    dropped_events_count: Int<u32>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    links: Vec<Link>,
    #[serde(alias = "dropped_links_count", skip_serializing_if = "is_default")]
    dropped_links_count: Int<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<Status>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Event {
    #[serde(alias = "time_unix_nano", skip_serializing_if = "is_default")]
    time_unix_nano: Int<u64>,
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    name: String,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "dropped_attributes_count", skip_serializing_if = "is_default")]
    dropped_attributes_count: Int<u32>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Link {
    #[serde(alias = "trace_id")]
    trace_id: Hex,
    #[serde(alias = "span_id")]
    span_id: Hex,
    #[serde(
        alias = "trace_state",
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    trace_state: String,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "dropped_attributes_count", skip_serializing_if = "is_default")]
    dropped_attributes_count: Int<u32>,
    #[serde(skip_serializing_if = "is_default")]
    flags: Int<u32>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Status {
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    message: String,
    #[serde(skip_serializing_if = "is_default")]
    code: Enum<StatusCodeNames>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct KeyValue {
    #[serde(deserialize_with = "nullable")]
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<AnyValue>,
}

/// A oneof: at most one field may be set; none set is the empty value.
#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct AnyValue {
    #[serde(alias = "string_value", skip_serializing_if = "Option::is_none")]
    string_value: Option<String>,
    #[serde(alias = "bool_value", skip_serializing_if = "Option::is_none")]
    bool_value: Option<bool>,
    #[serde(alias = "int_value", skip_serializing_if = "Option::is_none")]
    int_value: Option<Int<i64>>,
    #[serde(alias = "double_value", skip_serializing_if = "Option::is_none")]
    double_value: Option<Double>,
    #[serde(alias = "array_value", skip_serializing_if = "Option::is_none")]
    array_value: Option<ArrayValue>,
    #[serde(alias = "kvlist_value", skip_serializing_if = "Option::is_none")]
    kvlist_value: Option<KeyValueList>,
    #[serde(alias = "bytes_value", skip_serializing_if = "Option::is_none")]
    bytes_value: Option<Base64>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct ArrayValue {
    #[serde(deserialize_with = "nullable")]
    values: Vec<AnyValue>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct KeyValueList {
    #[serde(deserialize_with = "nullable")]
    values: Vec<KeyValue>,
}

fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

// ---------------------------------------------------------------------------------------
// Scalars: protobuf JSON's come from `proto_json`; IDs are OTLP's own (hex, not base64).

/// An ID as a hex string (case-insensitive on input, lower-case on output).
#[derive(Default, Clone, PartialEq)]
struct Hex(Vec<u8>);

impl Hex {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_str(d, "hex ID", |s| hex::decode(s).ok().map(Hex))
    }
}

/// Enum names: `kind` and `status.code` are read as numbers or these names.
struct SpanKindNames;
impl EnumNames for SpanKindNames {
    const WHAT: &'static str = "span kind";
    fn from_name(name: &str) -> Option<i32> {
        pb::span::SpanKind::from_str_name(name).map(|k| k as i32)
    }
}

struct StatusCodeNames;
impl EnumNames for StatusCodeNames {
    const WHAT: &'static str = "status code";
    fn from_name(name: &str) -> Option<i32> {
        pb::status::StatusCode::from_str_name(name).map(|c| c as i32)
    }
}

// ---------------------------------------------------------------------------------------
// JSON shapes ⇄ generated protobuf messages (moves only; the meaning is in `otlp`).

impl TryFrom<ResourceSpans> for pb::ResourceSpans {
    type Error = DecodeError;
    fn try_from(rs: ResourceSpans) -> Result<Self, DecodeError> {
        Ok(pb::ResourceSpans {
            resource: rs
                .resource
                .map(|r| -> Result<_, DecodeError> {
                    Ok(pb_resource::Resource {
                        attributes: attributes_to_proto(r.attributes)?,
                        dropped_attributes_count: r.dropped_attributes_count.0,
                        ..Default::default()
                    })
                })
                .transpose()?,
            scope_spans: rs
                .scope_spans
                .into_iter()
                .map(pb::ScopeSpans::try_from)
                .collect::<Result<_, _>>()?,
            schema_url: rs.schema_url,
        })
    }
}

impl TryFrom<ScopeSpans> for pb::ScopeSpans {
    type Error = DecodeError;
    fn try_from(ss: ScopeSpans) -> Result<Self, DecodeError> {
        Ok(pb::ScopeSpans {
            scope: ss
                .scope
                .map(|s| -> Result<_, DecodeError> {
                    Ok(pb_common::InstrumentationScope {
                        name: s.name,
                        version: s.version,
                        attributes: attributes_to_proto(s.attributes)?,
                        dropped_attributes_count: s.dropped_attributes_count.0,
                    })
                })
                .transpose()?,
            spans: ss
                .spans
                .into_iter()
                .map(pb::Span::try_from)
                .collect::<Result<_, _>>()?,
            schema_url: ss.schema_url,
        })
    }
}

impl TryFrom<JsonSpan> for pb::Span {
    type Error = DecodeError;
    fn try_from(s: JsonSpan) -> Result<Self, DecodeError> {
        Ok(pb::Span {
            trace_id: s.trace_id.0,
            span_id: s.span_id.0,
            trace_state: s.trace_state,
            parent_span_id: s.parent_span_id.0,
            flags: s.flags.0,
            name: s.name,
            kind: s.kind.value,
            start_time_unix_nano: s.start_time_unix_nano.0,
            end_time_unix_nano: s.end_time_unix_nano.0,
            attributes: attributes_to_proto(s.attributes)?,
            dropped_attributes_count: s.dropped_attributes_count.0,
            events: s
                .events
                .into_iter()
                .map(|e| {
                    Ok(pb::span::Event {
                        time_unix_nano: e.time_unix_nano.0,
                        name: e.name,
                        attributes: attributes_to_proto(e.attributes)?,
                        dropped_attributes_count: e.dropped_attributes_count.0,
                    })
                })
                .collect::<Result<_, DecodeError>>()?,
            dropped_events_count: s.dropped_events_count.0,
            links: s
                .links
                .into_iter()
                .map(|l| {
                    Ok(pb::span::Link {
                        trace_id: l.trace_id.0,
                        span_id: l.span_id.0,
                        trace_state: l.trace_state,
                        attributes: attributes_to_proto(l.attributes)?,
                        dropped_attributes_count: l.dropped_attributes_count.0,
                        flags: l.flags.0,
                    })
                })
                .collect::<Result<_, DecodeError>>()?,
            dropped_links_count: s.dropped_links_count.0,
            status: s.status.map(|st| pb::Status {
                message: st.message,
                code: st.code.value,
            }),
        })
    }
}

fn attributes_to_proto(attrs: Vec<KeyValue>) -> Result<Vec<pb_common::KeyValue>, DecodeError> {
    attrs
        .into_iter()
        .map(|kv| {
            Ok(pb_common::KeyValue {
                key: kv.key,
                value: kv.value.map(value_to_proto).transpose()?,
                ..Default::default()
            })
        })
        .collect()
}

fn value_to_proto(v: AnyValue) -> Result<pb_common::AnyValue, DecodeError> {
    use pb_common::any_value::Value as V;
    let AnyValue {
        string_value,
        bool_value,
        int_value,
        double_value,
        array_value,
        kvlist_value,
        bytes_value,
    } = v;
    let set = [
        string_value.is_some(),
        bool_value.is_some(),
        int_value.is_some(),
        double_value.is_some(),
        array_value.is_some(),
        kvlist_value.is_some(),
        bytes_value.is_some(),
    ]
    .iter()
    .filter(|s| **s)
    .count();
    if set > 1 {
        return Err(DecodeError::malformed(
            FORMAT,
            "an AnyValue has more than one of its value fields set",
        ));
    }
    let value = if let Some(s) = string_value {
        Some(V::StringValue(s))
    } else if let Some(b) = bool_value {
        Some(V::BoolValue(b))
    } else if let Some(i) = int_value {
        Some(V::IntValue(i.0))
    } else if let Some(d) = double_value {
        Some(V::DoubleValue(d.0))
    } else if let Some(a) = array_value {
        Some(V::ArrayValue(pb_common::ArrayValue {
            values: a
                .values
                .into_iter()
                .map(value_to_proto)
                .collect::<Result<_, _>>()?,
        }))
    } else if let Some(kvs) = kvlist_value {
        Some(V::KvlistValue(pb_common::KeyValueList {
            values: attributes_to_proto(kvs.values)?,
        }))
    } else {
        bytes_value.map(|b| V::BytesValue(b.0))
    };
    Ok(pb_common::AnyValue { value })
}

impl From<pb::ResourceSpans> for ResourceSpans {
    fn from(rs: pb::ResourceSpans) -> Self {
        ResourceSpans {
            resource: rs.resource.map(|r| Resource {
                attributes: attributes_from_proto(r.attributes),
                dropped_attributes_count: Int(r.dropped_attributes_count),
            }),
            scope_spans: rs
                .scope_spans
                .into_iter()
                .map(|ss| ScopeSpans {
                    scope: ss.scope.map(|s| Scope {
                        name: s.name,
                        version: s.version,
                        attributes: attributes_from_proto(s.attributes),
                        dropped_attributes_count: Int(s.dropped_attributes_count),
                    }),
                    spans: ss.spans.into_iter().map(JsonSpan::from).collect(),
                    schema_url: ss.schema_url,
                })
                .collect(),
            schema_url: rs.schema_url,
        }
    }
}

impl From<pb::Span> for JsonSpan {
    fn from(s: pb::Span) -> Self {
        JsonSpan {
            trace_id: Hex(s.trace_id),
            span_id: Hex(s.span_id),
            trace_state: s.trace_state,
            parent_span_id: Hex(s.parent_span_id),
            flags: Int(s.flags),
            name: s.name,
            kind: Enum::new(s.kind),
            start_time_unix_nano: Int(s.start_time_unix_nano),
            end_time_unix_nano: Int(s.end_time_unix_nano),
            attributes: attributes_from_proto(s.attributes),
            dropped_attributes_count: Int(s.dropped_attributes_count),
            events: s
                .events
                .into_iter()
                .map(|e| Event {
                    time_unix_nano: Int(e.time_unix_nano),
                    name: e.name,
                    attributes: attributes_from_proto(e.attributes),
                    dropped_attributes_count: Int(e.dropped_attributes_count),
                })
                .collect(),
            dropped_events_count: Int(s.dropped_events_count),
            links: s
                .links
                .into_iter()
                .map(|l| Link {
                    trace_id: Hex(l.trace_id),
                    span_id: Hex(l.span_id),
                    trace_state: l.trace_state,
                    attributes: attributes_from_proto(l.attributes),
                    dropped_attributes_count: Int(l.dropped_attributes_count),
                    flags: Int(l.flags),
                })
                .collect(),
            dropped_links_count: Int(s.dropped_links_count),
            status: s.status.map(|st| Status {
                message: st.message,
                code: Enum::new(st.code),
            }),
        }
    }
}

fn attributes_from_proto(attrs: Vec<pb_common::KeyValue>) -> Vec<KeyValue> {
    attrs
        .into_iter()
        .map(|kv| KeyValue {
            key: kv.key,
            value: kv.value.map(value_from_proto),
        })
        .collect()
}

fn value_from_proto(v: pb_common::AnyValue) -> AnyValue {
    use pb_common::any_value::Value as V;
    let mut out = AnyValue::default();
    match v.value {
        None => {}
        Some(V::StringValue(s)) => out.string_value = Some(s),
        Some(V::BoolValue(b)) => out.bool_value = Some(b),
        Some(V::IntValue(i)) => out.int_value = Some(Int(i)),
        Some(V::DoubleValue(d)) => out.double_value = Some(Double(d)),
        Some(V::BytesValue(b)) => out.bytes_value = Some(Base64(b)),
        Some(V::ArrayValue(a)) => {
            out.array_value = Some(ArrayValue {
                values: a.values.into_iter().map(value_from_proto).collect(),
            })
        }
        Some(V::KvlistValue(kvs)) => {
            out.kvlist_value = Some(KeyValueList {
                values: attributes_from_proto(kvs.values),
            })
        }
        // Never produced from the model; the string table belongs to the profiles signal.
        Some(V::StringValueStrindex(_)) => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_enum<N: EnumNames>(s: &str) -> Option<i32> {
        serde_json::from_str::<Enum<N>>(s).map(|e| e.value).ok()
    }

    #[test]
    fn enums_take_numbers_and_names() {
        let kind = parse_enum::<SpanKindNames>;
        assert_eq!(kind("3"), Some(3));
        assert_eq!(kind("\"SPAN_KIND_CONSUMER\""), Some(5));
        assert_eq!(kind("\"span_kind_consumer\""), None);
        assert_eq!(
            kind("99"),
            Some(99),
            "unknown numbers pass; the model maps them"
        );
        let code = parse_enum::<StatusCodeNames>;
        assert_eq!(code("\"STATUS_CODE_ERROR\""), Some(2));
        assert_eq!(code("\"STATUS_CODE_UNSET\""), Some(0));
    }
}
