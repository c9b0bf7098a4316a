//! A direct decoder from protobuf `ExportTraceServiceRequest` bytes to model [`Span`]s.
//!
//! The reference path ([`crate::otlp::decode_export_request_prost`]) decodes into prost's
//! generated structs and then maps those into the model: every attribute, value and string
//! is allocated twice and the intermediate vectors are freed again. This decoder walks the
//! wire format once and builds the model directly, which is where the collector's OTLP
//! ingest spends most of its CPU.
//!
//! Contract: for every input, this decoder and the reference path agree — both accept it and
//! yield equal spans, or both reject it (the error text may differ). That includes what a
//! generic protobuf decoder has to accept: fields in any order, unknown fields of every wire
//! type (groups included), a singular field sent more than once (the last scalar wins, a
//! message is merged into the earlier one, a `oneof` keeps the last member and merges a
//! repeated message member), and prost's limits (100 levels of message nesting, 10-byte
//! varints, UTF-8 strings). The tests in `model/tests/otlp_decode_equivalence.rs` check the
//! contract on generated, mutated and truncated requests.
//!
//! How it stays equivalent where streaming makes it awkward:
//!
//! * A `ResourceSpans` or `ScopeSpans` may carry its resource, scope and schema URL after
//!   its spans. Each is therefore read in two passes over the same bytes: first the small
//!   fields (and every field's wire structure), then the spans, which share one `Arc`.
//! * The model rejects some values prost accepts (`string_value_strindex`, arrays and maps
//!   nested deeper than [`crate::otlp::MAX_VALUE_DEPTH`]), but only if they survive: a later member of
//!   the same `oneof` replaces them. Such a value is kept as a [`Slot::Bad`] until its
//!   `AnyValue` can no longer change, and only then becomes an error.

use std::sync::Arc;

use crate::error::DecodeError;
use crate::otlp::{
    nested, parent_id_from_proto, span_id_from_proto, status_code_from_proto, take_service_name,
    take_warnings, trace_id_from_proto,
};
use crate::protowire::{WireReader as Reader, RECURSION_LIMIT};
use crate::span::*;

const FORMAT: &str = "OTLP";

type Result<T> = std::result::Result<T, DecodeError>;

fn malformed(reason: impl Into<String>) -> DecodeError {
    DecodeError::malformed(FORMAT, reason)
}

/// Decodes an `ExportTraceServiceRequest` (equally a `TracesData`: same field 1).
pub fn decode_export_request(bytes: &[u8]) -> Result<Vec<Span>> {
    let mut r = Reader::new(bytes, FORMAT);
    let mut out = Vec::new();
    let ctx = RECURSION_LIMIT;
    while r.has_more() {
        let (field, wire) = r.key()?;
        match field {
            1 => {
                let (m, c) = r.message(wire, ctx)?;
                resource_spans(m, c, &mut out)?;
            }
            _ => r.skip(field, wire, ctx)?,
        }
    }
    Ok(out)
}

fn resource_spans(r: Reader<'_>, ctx: u32, out: &mut Vec<Span>) -> Result<()> {
    // Pass 1: everything but the spans, which need the finished resource.
    let mut res = ResourceParts::default();
    let mut schema_url = "";
    let mut scan = r.clone();
    while scan.has_more() {
        let (field, wire) = scan.key()?;
        match field {
            1 => {
                let (m, c) = scan.message(wire, ctx)?;
                res.merge(m, c)?;
            }
            2 => {
                scan.message(wire, ctx)?;
            }
            3 => schema_url = scan.string(wire)?,
            _ => scan.skip(field, wire, ctx)?,
        }
    }
    let mut attributes = res.attributes;
    let service_name = take_service_name(&mut attributes);
    let resource = Arc::new(Resource {
        service_name,
        attributes,
        dropped_attributes_count: res.dropped_attributes_count,
        schema_url: schema_url.to_owned(),
    });
    // Pass 2: the scopes and their spans; other fields were checked in pass 1.
    let mut r = r;
    while r.has_more() {
        let (field, wire) = r.key()?;
        match field {
            2 => {
                let (m, c) = r.message(wire, ctx)?;
                scope_spans(m, c, &resource, out)?;
            }
            _ => r.skip(field, wire, ctx)?,
        }
    }
    Ok(())
}

#[derive(Default)]
struct ResourceParts {
    attributes: Vec<KeyValue>,
    dropped_attributes_count: u32,
}

impl ResourceParts {
    /// Reads one occurrence of `Resource`, merged into what earlier occurrences set.
    fn merge(&mut self, mut r: Reader<'_>, ctx: u32) -> Result<()> {
        while r.has_more() {
            let (field, wire) = r.key()?;
            match field {
                1 => {
                    let (m, c) = r.message(wire, ctx)?;
                    self.attributes.push(key_value(m, c)?);
                }
                2 => self.dropped_attributes_count = r.varint_field(wire)? as u32,
                // `entity_refs` have no place in the model, but must be well-formed.
                3 => {
                    let (m, c) = r.message(wire, ctx)?;
                    entity_ref(m, c)?;
                }
                _ => r.skip(field, wire, ctx)?,
            }
        }
        Ok(())
    }
}

fn entity_ref(mut r: Reader<'_>, ctx: u32) -> Result<()> {
    while r.has_more() {
        let (field, wire) = r.key()?;
        match field {
            1..=4 => {
                r.string(wire)?;
            }
            _ => r.skip(field, wire, ctx)?,
        }
    }
    Ok(())
}

fn scope_spans(
    r: Reader<'_>,
    ctx: u32,
    resource: &Arc<Resource>,
    out: &mut Vec<Span>,
) -> Result<()> {
    let mut scope = ScopeParts::default();
    let mut schema_url = "";
    let mut scan = r.clone();
    let mut count = 0usize;
    while scan.has_more() {
        let (field, wire) = scan.key()?;
        match field {
            1 => {
                let (m, c) = scan.message(wire, ctx)?;
                scope.merge(m, c)?;
            }
            2 => {
                scan.message(wire, ctx)?;
                count += 1;
            }
            3 => schema_url = scan.string(wire)?,
            _ => scan.skip(field, wire, ctx)?,
        }
    }
    let scope = Arc::new(Scope {
        name: scope.name.to_owned(),
        version: scope.version.to_owned(),
        attributes: scope.attributes,
        dropped_attributes_count: scope.dropped_attributes_count,
        schema_url: schema_url.to_owned(),
    });
    out.reserve(count);
    let mut r = r;
    while r.has_more() {
        let (field, wire) = r.key()?;
        match field {
            2 => {
                let (m, c) = r.message(wire, ctx)?;
                out.push(span(m, c, resource, &scope)?);
            }
            _ => r.skip(field, wire, ctx)?,
        }
    }
    Ok(())
}

#[derive(Default)]
struct ScopeParts<'a> {
    name: &'a str,
    version: &'a str,
    attributes: Vec<KeyValue>,
    dropped_attributes_count: u32,
}

impl<'a> ScopeParts<'a> {
    fn merge(&mut self, mut r: Reader<'a>, ctx: u32) -> Result<()> {
        while r.has_more() {
            let (field, wire) = r.key()?;
            match field {
                1 => self.name = r.string(wire)?,
                2 => self.version = r.string(wire)?,
                3 => {
                    let (m, c) = r.message(wire, ctx)?;
                    self.attributes.push(key_value(m, c)?);
                }
                4 => self.dropped_attributes_count = r.varint_field(wire)? as u32,
                _ => r.skip(field, wire, ctx)?,
            }
        }
        Ok(())
    }
}

fn span(mut r: Reader<'_>, ctx: u32, resource: &Arc<Resource>, scope: &Arc<Scope>) -> Result<Span> {
    let mut trace_id: &[u8] = &[];
    let mut span_id: &[u8] = &[];
    let mut parent_span_id: &[u8] = &[];
    let mut trace_state = "";
    let mut name = "";
    let mut kind = 0i32;
    let mut flags = 0u32;
    let mut start = 0u64;
    let mut end = 0u64;
    let mut attributes = Vec::new();
    let mut dropped_attributes_count = 0u32;
    let mut events = Vec::new();
    let mut dropped_events_count = 0u32;
    let mut links = Vec::new();
    let mut dropped_links_count = 0u32;
    let mut status_message = "";
    let mut status_code = 0i32;
    while r.has_more() {
        let (field, wire) = r.key()?;
        match field {
            1 => trace_id = r.bytes(wire)?,
            2 => span_id = r.bytes(wire)?,
            3 => trace_state = r.string(wire)?,
            4 => parent_span_id = r.bytes(wire)?,
            5 => name = r.string(wire)?,
            6 => kind = r.varint_field(wire)? as i32,
            7 => start = r.fixed64(wire)?,
            8 => end = r.fixed64(wire)?,
            9 => {
                let (m, c) = r.message(wire, ctx)?;
                if attributes.capacity() == 0 {
                    attributes.reserve(8);
                }
                attributes.push(key_value(m, c)?);
            }
            10 => dropped_attributes_count = r.varint_field(wire)? as u32,
            11 => {
                let (m, c) = r.message(wire, ctx)?;
                events.push(event(m, c)?);
            }
            12 => dropped_events_count = r.varint_field(wire)? as u32,
            13 => {
                let (m, c) = r.message(wire, ctx)?;
                links.push(link(m, c)?);
            }
            14 => dropped_links_count = r.varint_field(wire)? as u32,
            15 => {
                let (mut m, c) = r.message(wire, ctx)?;
                // Merged into earlier occurrences: only the fields present change.
                while m.has_more() {
                    let (field, wire) = m.key()?;
                    match field {
                        2 => status_message = m.string(wire)?,
                        3 => status_code = m.varint_field(wire)? as i32,
                        _ => m.skip(field, wire, c)?,
                    }
                }
            }
            16 => flags = r.fixed32(wire)?,
            _ => r.skip(field, wire, ctx)?,
        }
    }
    let warnings = take_warnings(&mut attributes);
    Ok(Span {
        trace_id: trace_id_from_proto(trace_id, "span trace_id")?,
        span_id: span_id_from_proto(span_id, "span span_id")?,
        parent_span_id: parent_id_from_proto(parent_span_id)?,
        trace_state: trace_state.to_owned(),
        name: name.to_owned(),
        kind: SpanKind::from_otlp(kind),
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes,
        dropped_attributes_count,
        events,
        dropped_events_count,
        links,
        dropped_links_count,
        status: Status {
            code: status_code_from_proto(status_code),
            message: status_message.to_owned(),
        },
        flags,
        resource: resource.clone(),
        scope: scope.clone(),
        warnings,
    })
}

fn event(mut r: Reader<'_>, ctx: u32) -> Result<Event> {
    let mut ev = Event::default();
    let mut name = "";
    while r.has_more() {
        let (field, wire) = r.key()?;
        match field {
            1 => ev.time_unix_nano = r.fixed64(wire)?,
            2 => name = r.string(wire)?,
            3 => {
                let (m, c) = r.message(wire, ctx)?;
                ev.attributes.push(key_value(m, c)?);
            }
            4 => ev.dropped_attributes_count = r.varint_field(wire)? as u32,
            _ => r.skip(field, wire, ctx)?,
        }
    }
    ev.name = name.to_owned();
    Ok(ev)
}

fn link(mut r: Reader<'_>, ctx: u32) -> Result<Link> {
    let mut trace_id: &[u8] = &[];
    let mut span_id: &[u8] = &[];
    let mut trace_state = "";
    let mut attributes = Vec::new();
    let mut dropped_attributes_count = 0u32;
    let mut flags = 0u32;
    while r.has_more() {
        let (field, wire) = r.key()?;
        match field {
            1 => trace_id = r.bytes(wire)?,
            2 => span_id = r.bytes(wire)?,
            3 => trace_state = r.string(wire)?,
            4 => {
                let (m, c) = r.message(wire, ctx)?;
                attributes.push(key_value(m, c)?);
            }
            5 => dropped_attributes_count = r.varint_field(wire)? as u32,
            6 => flags = r.fixed32(wire)?,
            _ => r.skip(field, wire, ctx)?,
        }
    }
    Ok(Link {
        trace_id: trace_id_from_proto(trace_id, "link trace_id")?,
        span_id: span_id_from_proto(span_id, "link span_id")?,
        trace_state: trace_state.to_owned(),
        attributes,
        dropped_attributes_count,
        flags,
    })
}

/// An `AnyValue` still being read: a model value, or one the model will reject unless a
/// later `oneof` member replaces it (kept with its kind, which decides merging).
enum Slot {
    Value(AnyValue),
    Bad(BadKind, DecodeError),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BadKind {
    /// `string_value_strindex`, a scalar member.
    Scalar,
    /// An array with a rejected element or nested too deeply.
    Array,
    /// A key-value list with a rejected value or nested too deeply.
    KvList,
}

/// A top-level attribute (of a resource, scope, span, event or link): final once read.
fn key_value(r: Reader<'_>, ctx: u32) -> Result<KeyValue> {
    let (key, slot) = key_value_slot(r, ctx, 0)?;
    match slot {
        Slot::Value(value) => Ok(KeyValue { key, value }),
        Slot::Bad(_, e) => Err(e),
    }
}

/// A `KeyValue` whose value sits at nesting `depth` (0 for attributes).
fn key_value_slot(mut r: Reader<'_>, ctx: u32, depth: usize) -> Result<(String, Slot)> {
    let mut key = "";
    let mut slot = Slot::Value(AnyValue::Empty);
    while r.has_more() {
        let (field, wire) = r.key()?;
        match field {
            1 => key = r.string(wire)?,
            2 => {
                let (m, c) = r.message(wire, ctx)?;
                any_value(m, c, depth, &mut slot)?;
            }
            // `key_strindex` only means something in the profiles signal.
            3 => {
                r.varint_field(wire)?;
            }
            _ => r.skip(field, wire, ctx)?,
        }
    }
    Ok((key.to_owned(), slot))
}

/// Reads one `AnyValue` occurrence into `slot`, merging as prost merges a `oneof`.
fn any_value(mut r: Reader<'_>, ctx: u32, depth: usize, slot: &mut Slot) -> Result<()> {
    while r.has_more() {
        let (field, wire) = r.key()?;
        match field {
            1 => *slot = Slot::Value(AnyValue::Str(r.string(wire)?.to_owned())),
            2 => *slot = Slot::Value(AnyValue::Bool(r.varint_field(wire)? != 0)),
            3 => *slot = Slot::Value(AnyValue::Int(r.varint_field(wire)? as i64)),
            4 => *slot = Slot::Value(AnyValue::Double(f64::from_bits(r.fixed64(wire)?))),
            7 => *slot = Slot::Value(AnyValue::Bytes(r.bytes(wire)?.to_vec())),
            8 => {
                r.varint_field(wire)?;
                *slot = Slot::Bad(
                    BadKind::Scalar,
                    malformed("string_value_strindex is not valid in trace data"),
                );
            }
            5 => {
                let (mut m, c) = r.message(wire, ctx)?;
                let mut items = match std::mem::replace(slot, Slot::Value(AnyValue::Empty)) {
                    Slot::Value(AnyValue::Array(items)) => Ok(items),
                    Slot::Bad(BadKind::Array, e) => Err(e),
                    _ => Ok(Vec::new()),
                };
                let inner = nested(depth);
                let inner_depth = depth.saturating_add(1);
                while m.has_more() {
                    let (field, wire) = m.key()?;
                    match field {
                        1 => {
                            let (e, ec) = m.message(wire, c)?;
                            let mut item = Slot::Value(AnyValue::Empty);
                            any_value(e, ec, inner_depth, &mut item)?;
                            match (item, &mut items) {
                                (Slot::Value(v), Ok(items)) => items.push(v),
                                (Slot::Bad(_, e), Ok(_)) => items = Err(e),
                                (_, Err(_)) => {}
                            }
                        }
                        _ => m.skip(field, wire, c)?,
                    }
                }
                *slot = match (items, inner) {
                    (Ok(items), Ok(_)) => Slot::Value(AnyValue::Array(items)),
                    (Err(e), _) | (_, Err(e)) => Slot::Bad(BadKind::Array, e),
                };
            }
            6 => {
                let (mut m, c) = r.message(wire, ctx)?;
                let mut kvs = match std::mem::replace(slot, Slot::Value(AnyValue::Empty)) {
                    Slot::Value(AnyValue::KvList(kvs)) => Ok(kvs),
                    Slot::Bad(BadKind::KvList, e) => Err(e),
                    _ => Ok(Vec::new()),
                };
                let inner = nested(depth);
                let inner_depth = depth.saturating_add(1);
                while m.has_more() {
                    let (field, wire) = m.key()?;
                    match field {
                        1 => {
                            let (e, ec) = m.message(wire, c)?;
                            let (key, item) = key_value_slot(e, ec, inner_depth)?;
                            match (item, &mut kvs) {
                                (Slot::Value(value), Ok(kvs)) => kvs.push(KeyValue { key, value }),
                                (Slot::Bad(_, e), Ok(_)) => kvs = Err(e),
                                (_, Err(_)) => {}
                            }
                        }
                        _ => m.skip(field, wire, c)?,
                    }
                }
                *slot = match (kvs, inner) {
                    (Ok(kvs), Ok(_)) => Slot::Value(AnyValue::KvList(kvs)),
                    (Err(e), _) | (_, Err(e)) => Slot::Bad(BadKind::KvList, e),
                };
            }
            _ => r.skip(field, wire, ctx)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod equivalence_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_is_an_empty_request() {
        assert_eq!(decode_export_request(&[]).unwrap(), vec![]);
    }
}
