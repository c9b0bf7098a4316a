//! OTLP protobuf (`ExportTraceServiceRequest` / `ResourceSpans`) ⇄ the internal [`Span`].
//!
//! The mapping is lossless in both directions for everything OTLP carries, except the
//! resource's experimental `entity_refs`, which have no place in the model and are dropped.
//! Rules a reader will ask about:
//!
//! * `service.name` is lifted out of the resource attributes into
//!   [`Resource::service_name`] (any value type, printed as text, as Jaeger does; every
//!   occurrence is removed so the model never holds it twice). A resource without one gets an
//!   empty name: naming it is the collector's sanitizer's job. On the way out a non-empty
//!   name becomes the first resource attribute again.
//! * Jaeger's span warnings travel as the span attribute `@jaeger@warnings` (an array of
//!   strings), which is how Jaeger v2 stores them in OTLP; an attribute of that name holding
//!   only strings is lifted into [`Span::warnings`], anything else stays an attribute.
//! * `trace_id` must be 16 bytes and `span_id` 8 bytes, for spans and links alike; a
//!   `parent_span_id` that is empty or all zeros means "root", otherwise it must be 8 bytes.
//!   Anything else is a [`DecodeError`]: the receiver rejects the whole request, as the
//!   OpenTelemetry collector does.
//! * `AnyValue` nesting (arrays and maps inside each other) is limited to
//!   [`MAX_VALUE_DEPTH`] levels; prost's own recursion limit already stops deeper input at
//!   decode time, this keeps the model's later recursive walks shallow.
//! * Each `ResourceSpans` yields one `Arc<Resource>` and each `ScopeSpans` one `Arc<Scope>`,
//!   shared by their spans. Encoding groups spans back by resource and scope: by `Arc`
//!   pointer first (the common case, free), then by value, so spans read back from storage
//!   one by one still come out as one `ResourceSpans` per distinct resource.

use std::collections::HashMap;
use std::sync::Arc;

use prost::Message;
use sextant_proto::opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
use sextant_proto::opentelemetry::proto::common::v1 as pb_common;
use sextant_proto::opentelemetry::proto::resource::v1 as pb_resource;
use sextant_proto::opentelemetry::proto::trace::v1 as pb;

use crate::error::DecodeError;
use crate::span::*;

const FORMAT: &str = "OTLP";

/// The resource attribute that names the service.
pub const SERVICE_NAME_ATTR: &str = "service.name";
/// The span attribute Jaeger v2 keeps span warnings in (an array of strings).
pub const WARNINGS_ATTR: &str = "@jaeger@warnings";
/// How deeply arrays and key-value lists may nest inside one attribute value.
pub const MAX_VALUE_DEPTH: usize = 32;

/// Decodes a protobuf `ExportTraceServiceRequest` (the OTLP/HTTP protobuf body, and the
/// OTLP gRPC message) straight into spans with [`crate::otlp_decode`], which accepts exactly
/// what [`decode_export_request_prost`] accepts and yields the same spans, faster.
pub fn decode_export_request(bytes: &[u8]) -> Result<Vec<Span>, DecodeError> {
    crate::otlp_decode::decode_export_request(bytes)
}

/// The reference decoder: prost's generated structs, then [`spans_from_resource_spans`].
/// Kept as the specification the fast decoder is tested against.
pub fn decode_export_request_prost(bytes: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let request = ExportTraceServiceRequest::decode(bytes)
        .map_err(|e| DecodeError::malformed(FORMAT, e.to_string()))?;
    spans_from_resource_spans(request.resource_spans)
}

/// Encodes spans as a protobuf `ExportTraceServiceRequest`.
pub fn encode_export_request(spans: &[Span]) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: spans_to_resource_spans(spans),
    }
    .encode_to_vec()
}

/// Converts already-decoded `ResourceSpans` (e.g. from the gRPC receiver) into spans.
pub fn spans_from_resource_spans(
    resource_spans: Vec<pb::ResourceSpans>,
) -> Result<Vec<Span>, DecodeError> {
    let mut out = Vec::with_capacity(
        resource_spans
            .iter()
            .flat_map(|rs| rs.scope_spans.iter())
            .map(|ss| ss.spans.len())
            .fold(0usize, usize::saturating_add),
    );
    for rs in resource_spans {
        let resource = Arc::new(resource_from_proto(rs.resource, rs.schema_url)?);
        for ss in rs.scope_spans {
            let scope = Arc::new(scope_from_proto(ss.scope, ss.schema_url)?);
            for span in ss.spans {
                out.push(span_from_proto(span, &resource, &scope)?);
            }
        }
    }
    Ok(out)
}

fn resource_from_proto(
    resource: Option<pb_resource::Resource>,
    schema_url: String,
) -> Result<Resource, DecodeError> {
    let resource = resource.unwrap_or_default();
    let mut attributes = attributes_from_proto(resource.attributes, 0)?;
    let service_name = take_service_name(&mut attributes);
    Ok(Resource {
        service_name,
        attributes,
        dropped_attributes_count: resource.dropped_attributes_count,
        schema_url,
    })
}

/// Lifts the first `service.name` out of resource attributes, removing every occurrence.
pub(crate) fn take_service_name(attributes: &mut Vec<KeyValue>) -> String {
    if !attributes.iter().any(|kv| kv.key == SERVICE_NAME_ATTR) {
        return String::new();
    }
    let mut service_name = None;
    attributes.retain_mut(|kv| {
        if kv.key != SERVICE_NAME_ATTR {
            return true;
        }
        if service_name.is_none() {
            service_name = Some(std::mem::take(&mut kv.value).to_string_lossy());
        }
        false
    });
    service_name.unwrap_or_default()
}

fn scope_from_proto(
    scope: Option<pb_common::InstrumentationScope>,
    schema_url: String,
) -> Result<Scope, DecodeError> {
    let scope = scope.unwrap_or_default();
    Ok(Scope {
        name: scope.name,
        version: scope.version,
        attributes: attributes_from_proto(scope.attributes, 0)?,
        dropped_attributes_count: scope.dropped_attributes_count,
        schema_url,
    })
}

fn span_from_proto(
    span: pb::Span,
    resource: &Arc<Resource>,
    scope: &Arc<Scope>,
) -> Result<Span, DecodeError> {
    let mut attributes = attributes_from_proto(span.attributes, 0)?;
    let warnings = take_warnings(&mut attributes);
    let status = span.status.unwrap_or_default();
    Ok(Span {
        trace_id: trace_id_from_proto(&span.trace_id, "span trace_id")?,
        span_id: span_id_from_proto(&span.span_id, "span span_id")?,
        parent_span_id: parent_id_from_proto(&span.parent_span_id)?,
        trace_state: span.trace_state,
        name: span.name,
        kind: SpanKind::from_otlp(span.kind),
        start_time_unix_nano: span.start_time_unix_nano,
        end_time_unix_nano: span.end_time_unix_nano,
        attributes,
        dropped_attributes_count: span.dropped_attributes_count,
        events: span
            .events
            .into_iter()
            .map(event_from_proto)
            .collect::<Result<_, _>>()?,
        dropped_events_count: span.dropped_events_count,
        links: span
            .links
            .into_iter()
            .map(link_from_proto)
            .collect::<Result<_, _>>()?,
        dropped_links_count: span.dropped_links_count,
        status: Status {
            code: status_code_from_proto(status.code),
            message: status.message,
        },
        flags: span.flags,
        resource: resource.clone(),
        scope: scope.clone(),
        warnings,
    })
}

fn event_from_proto(event: pb::span::Event) -> Result<Event, DecodeError> {
    Ok(Event {
        time_unix_nano: event.time_unix_nano,
        name: event.name,
        attributes: attributes_from_proto(event.attributes, 0)?,
        dropped_attributes_count: event.dropped_attributes_count,
    })
}

fn link_from_proto(link: pb::span::Link) -> Result<Link, DecodeError> {
    Ok(Link {
        trace_id: trace_id_from_proto(&link.trace_id, "link trace_id")?,
        span_id: span_id_from_proto(&link.span_id, "link span_id")?,
        trace_state: link.trace_state,
        attributes: attributes_from_proto(link.attributes, 0)?,
        dropped_attributes_count: link.dropped_attributes_count,
        flags: link.flags,
    })
}

pub(crate) fn status_code_from_proto(code: i32) -> StatusCode {
    match code {
        1 => StatusCode::Ok,
        2 => StatusCode::Error,
        // Unknown codes (from a newer OTLP) read as unset rather than failing the batch.
        _ => StatusCode::Unset,
    }
}

fn status_code_to_proto(code: StatusCode) -> i32 {
    match code {
        StatusCode::Unset => 0,
        StatusCode::Ok => 1,
        StatusCode::Error => 2,
    }
}

pub(crate) fn trace_id_from_proto(b: &[u8], what: &'static str) -> Result<TraceId, DecodeError> {
    let bytes: [u8; 16] = b.try_into().map_err(|_| bad_id_len(what, 16, b.len()))?;
    Ok(TraceId(u128::from_be_bytes(bytes)))
}

pub(crate) fn span_id_from_proto(b: &[u8], what: &'static str) -> Result<SpanId, DecodeError> {
    let bytes: [u8; 8] = b.try_into().map_err(|_| bad_id_len(what, 8, b.len()))?;
    Ok(SpanId(u64::from_be_bytes(bytes)))
}

pub(crate) fn parent_id_from_proto(b: &[u8]) -> Result<SpanId, DecodeError> {
    if b.is_empty() {
        return Ok(SpanId(0));
    }
    span_id_from_proto(b, "parent_span_id")
}

fn bad_id_len(what: &'static str, want: usize, got: usize) -> DecodeError {
    DecodeError::malformed(FORMAT, format!("{what} must be {want} bytes, got {got}"))
}

fn attributes_from_proto(
    attrs: Vec<pb_common::KeyValue>,
    depth: usize,
) -> Result<Vec<KeyValue>, DecodeError> {
    attrs
        .into_iter()
        .map(|kv| {
            Ok(KeyValue {
                key: kv.key,
                value: match kv.value {
                    Some(v) => value_from_proto(v, depth)?,
                    None => AnyValue::Empty,
                },
            })
        })
        .collect()
}

fn value_from_proto(value: pb_common::AnyValue, depth: usize) -> Result<AnyValue, DecodeError> {
    use pb_common::any_value::Value as V;
    Ok(match value.value {
        None => AnyValue::Empty,
        Some(V::StringValue(s)) => AnyValue::Str(s),
        Some(V::BoolValue(b)) => AnyValue::Bool(b),
        Some(V::IntValue(i)) => AnyValue::Int(i),
        Some(V::DoubleValue(d)) => AnyValue::Double(d),
        Some(V::BytesValue(b)) => AnyValue::Bytes(b),
        Some(V::ArrayValue(a)) => {
            let depth = nested(depth)?;
            AnyValue::Array(
                a.values
                    .into_iter()
                    .map(|v| value_from_proto(v, depth))
                    .collect::<Result<_, _>>()?,
            )
        }
        Some(V::KvlistValue(kvs)) => {
            AnyValue::KvList(attributes_from_proto(kvs.values, nested(depth)?)?)
        }
        // A string-table index only means something in the profiles signal's dictionary.
        Some(V::StringValueStrindex(_)) => {
            return Err(DecodeError::malformed(
                FORMAT,
                "string_value_strindex is not valid in trace data",
            ))
        }
    })
}

pub(crate) fn nested(depth: usize) -> Result<usize, DecodeError> {
    let depth = depth.saturating_add(1);
    if depth > MAX_VALUE_DEPTH {
        return Err(DecodeError::TooLarge(format!(
            "attribute values nested deeper than {MAX_VALUE_DEPTH} levels"
        )));
    }
    Ok(depth)
}

/// Removes the warnings attribute when it has the shape Jaeger writes (strings only).
pub(crate) fn take_warnings(attributes: &mut Vec<KeyValue>) -> Vec<String> {
    let Some(pos) = attributes.iter().position(|kv| {
        kv.key == WARNINGS_ATTR
            && matches!(&kv.value, AnyValue::Array(items)
                if items.iter().all(|v| matches!(v, AnyValue::Str(_))))
    }) else {
        return Vec::new();
    };
    match attributes.remove(pos).value {
        AnyValue::Array(items) => items
            .into_iter()
            .filter_map(|v| match v {
                AnyValue::Str(s) => Some(s),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Converts spans into `ResourceSpans`, one per distinct resource and within it one
/// `ScopeSpans` per distinct scope, in order of first appearance; spans keep their order.
pub fn spans_to_resource_spans(spans: &[Span]) -> Vec<pb::ResourceSpans> {
    let mut groups: Grouper<Resource, Grouper<Scope, Items>> = Grouper::default();
    for span in spans {
        let resource = groups.group_of(&span.resource);
        let scope = resource.group_of(&span.scope);
        scope.items.push(span_to_proto(span));
    }
    groups
        .groups
        .into_iter()
        .map(|(resource, scopes)| pb::ResourceSpans {
            resource: Some(resource_to_proto(&resource)),
            scope_spans: scopes
                .groups
                .into_iter()
                .map(|(scope, spans)| pb::ScopeSpans {
                    scope: Some(scope_to_proto(&scope)),
                    spans: spans.items,
                    schema_url: scope.schema_url.clone(),
                })
                .collect(),
            schema_url: resource.schema_url.clone(),
        })
        .collect()
}

/// Something spans are grouped by: shared by `Arc`, comparable by value, with a cheap key
/// that narrows the by-value search.
trait GroupKey: PartialEq {
    fn bucket(&self) -> &str;
}
impl GroupKey for Resource {
    fn bucket(&self) -> &str {
        &self.service_name
    }
}
impl GroupKey for Scope {
    fn bucket(&self) -> &str {
        &self.name
    }
}

/// Groups values by key, keeping first-appearance order. Pointer hits are O(1); a miss
/// compares by value only against groups whose bucket (service or scope name) matches, so
/// spans read back one `Arc` each do not make encoding quadratic in the common case.
struct Grouper<K, V> {
    groups: Vec<(Arc<K>, V)>,
    by_ptr: HashMap<*const K, usize>,
    by_bucket: HashMap<String, Vec<usize>>,
}

impl<K, V> Default for Grouper<K, V> {
    fn default() -> Self {
        Grouper {
            groups: Vec::new(),
            by_ptr: HashMap::new(),
            by_bucket: HashMap::new(),
        }
    }
}

impl<K: GroupKey, V: Default> Grouper<K, V> {
    fn group_of(&mut self, key: &Arc<K>) -> &mut V {
        let ptr = Arc::as_ptr(key);
        let index = match self.by_ptr.get(&ptr) {
            Some(&i) => i,
            None => {
                let bucket = self.by_bucket.entry(key.bucket().to_owned()).or_default();
                let found = bucket.iter().copied().find(|&i| {
                    self.groups
                        .get(i)
                        .is_some_and(|(k, _)| k.as_ref() == key.as_ref())
                });
                let i = match found {
                    Some(i) => i,
                    None => {
                        self.groups.push((key.clone(), V::default()));
                        let i = self.groups.len() - 1;
                        bucket.push(i);
                        i
                    }
                };
                // An address names one Arc for the whole call: the caller's slice keeps
                // every Arc seen here alive, so none is freed and its address reused.
                self.by_ptr.insert(ptr, i);
                i
            }
        };
        // `index` always comes from `groups`' own indices, which are never removed.
        &mut self.groups[index].1
    }
}

/// The spans of one scope group.
#[derive(Default)]
struct Items {
    items: Vec<pb::Span>,
}

fn resource_to_proto(resource: &Resource) -> pb_resource::Resource {
    let mut attributes = Vec::with_capacity(resource.attributes.len() + 1);
    if !resource.service_name.is_empty() {
        attributes.push(kv_to_proto(&KeyValue::new(
            SERVICE_NAME_ATTR,
            resource.service_name.clone(),
        )));
    }
    attributes.extend(resource.attributes.iter().map(kv_to_proto));
    pb_resource::Resource {
        attributes,
        dropped_attributes_count: resource.dropped_attributes_count,
        ..Default::default()
    }
}

fn scope_to_proto(scope: &Scope) -> pb_common::InstrumentationScope {
    pb_common::InstrumentationScope {
        name: scope.name.clone(),
        version: scope.version.clone(),
        attributes: attributes_to_proto(&scope.attributes),
        dropped_attributes_count: scope.dropped_attributes_count,
    }
}

/// One span, without its resource and scope.
pub fn span_to_proto(span: &Span) -> pb::Span {
    let mut attributes = attributes_to_proto(&span.attributes);
    if !span.warnings.is_empty() {
        attributes.push(kv_to_proto(&KeyValue::new(
            WARNINGS_ATTR,
            AnyValue::Array(span.warnings.iter().cloned().map(AnyValue::Str).collect()),
        )));
    }
    pb::Span {
        trace_id: span.trace_id.to_bytes().to_vec(),
        span_id: span.span_id.to_bytes().to_vec(),
        trace_state: span.trace_state.clone(),
        parent_span_id: if span.parent_span_id.is_zero() {
            Vec::new()
        } else {
            span.parent_span_id.to_bytes().to_vec()
        },
        flags: span.flags,
        name: span.name.clone(),
        kind: span.kind.to_otlp(),
        start_time_unix_nano: span.start_time_unix_nano,
        end_time_unix_nano: span.end_time_unix_nano,
        attributes,
        dropped_attributes_count: span.dropped_attributes_count,
        events: span
            .events
            .iter()
            .map(|e| pb::span::Event {
                time_unix_nano: e.time_unix_nano,
                name: e.name.clone(),
                attributes: attributes_to_proto(&e.attributes),
                dropped_attributes_count: e.dropped_attributes_count,
            })
            .collect(),
        dropped_events_count: span.dropped_events_count,
        links: span
            .links
            .iter()
            .map(|l| pb::span::Link {
                trace_id: l.trace_id.to_bytes().to_vec(),
                span_id: l.span_id.to_bytes().to_vec(),
                trace_state: l.trace_state.clone(),
                attributes: attributes_to_proto(&l.attributes),
                dropped_attributes_count: l.dropped_attributes_count,
                flags: l.flags,
            })
            .collect(),
        dropped_links_count: span.dropped_links_count,
        status: Some(pb::Status {
            message: span.status.message.clone(),
            code: status_code_to_proto(span.status.code),
        }),
    }
}

fn attributes_to_proto(attrs: &[KeyValue]) -> Vec<pb_common::KeyValue> {
    attrs.iter().map(kv_to_proto).collect()
}

fn kv_to_proto(kv: &KeyValue) -> pb_common::KeyValue {
    pb_common::KeyValue {
        key: kv.key.clone(),
        value: Some(value_to_proto(&kv.value)),
        ..Default::default()
    }
}

fn value_to_proto(value: &AnyValue) -> pb_common::AnyValue {
    use pb_common::any_value::Value as V;
    pb_common::AnyValue {
        value: match value {
            AnyValue::Empty => None,
            AnyValue::Str(s) => Some(V::StringValue(s.clone())),
            AnyValue::Bool(b) => Some(V::BoolValue(*b)),
            AnyValue::Int(i) => Some(V::IntValue(*i)),
            AnyValue::Double(d) => Some(V::DoubleValue(*d)),
            AnyValue::Bytes(b) => Some(V::BytesValue(b.clone())),
            AnyValue::Array(items) => Some(V::ArrayValue(pb_common::ArrayValue {
                values: items.iter().map(value_to_proto).collect(),
            })),
            AnyValue::KvList(kvs) => Some(V::KvlistValue(pb_common::KeyValueList {
                values: attributes_to_proto(kvs),
            })),
        },
    }
}
