//! The compact binary encoding of a list of spans, used for WAL records and (compressed)
//! segment data blocks.
//!
//! Why not OTLP protobuf: protobuf repeats every attribute key, service name and resource
//! per span and spends 16 bytes on every trace ID. Trace data is dominated by repetition, so
//! this encoding keeps one string table per payload (every key, value, name referenced by a
//! varint index), one table of resources and one of scopes (referenced by index), writes a
//! trace ID only when it changes from the previous span, a parent as a back-reference to an
//! earlier span of the same trace, and times as deltas. zstd then squeezes what is left.
//! The encoding is lossless for every field of [`Span`].

use std::borrow::Borrow;
use std::collections::HashMap;
use std::sync::Arc;

use foldhash::fast::RandomState;
use sextant_model::{
    AnyValue, Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, Status, StatusCode,
    TraceId,
};

use super::bytes::{put_bytes, put_i64, put_u64, CorruptError, Decoded, Reader};

const VERSION: u8 = 1;
/// Nested array/map values deeper than this are refused on decode (hostile input).
const MAX_DEPTH: u32 = 32;
/// Resources compared by value when deduplicating; beyond this only by pointer.
const MAX_RESOURCE_SCAN: usize = 64;

/// Encodes `spans` (owned or borrowed) in order. Spans of one trace should be adjacent for
/// compactness.
pub fn encode_spans<S: Borrow<Span>>(spans: &[S]) -> Vec<u8> {
    let mut enc = Encoder::default();
    let mut body = Vec::with_capacity(spans.len() * 64);
    put_u64(&mut body, spans.len() as u64);
    let mut prev_trace: Option<TraceId> = None;
    // Span ID -> position of its first span within the current trace's run.
    let mut run: HashMap<u64, usize, RandomState> = HashMap::default();
    let mut run_len = 0usize;
    let mut prev_start = 0u64;
    for span in spans.iter().map(Borrow::borrow) {
        let new_trace = prev_trace != Some(span.trace_id);
        if new_trace {
            run.clear();
            run_len = 0;
            prev_trace = Some(span.trace_id);
        }
        body.push(u8::from(new_trace));
        if new_trace {
            body.extend_from_slice(&span.trace_id.to_bytes());
        }
        body.extend_from_slice(&span.span_id.to_bytes());
        if span.parent_span_id.is_zero() {
            put_u64(&mut body, 0);
        } else if let Some(&i) = run.get(&span.parent_span_id.0) {
            put_u64(&mut body, i as u64 + 2);
        } else {
            put_u64(&mut body, 1);
            body.extend_from_slice(&span.parent_span_id.to_bytes());
        }
        run.entry(span.span_id.0).or_insert(run_len);
        run_len += 1;
        let r = enc.resource(&span.resource);
        put_u64(&mut body, r);
        let s = enc.scope(&span.scope);
        put_u64(&mut body, s);
        enc.str_ref(&mut body, &span.name);
        body.push(span.kind.to_otlp() as u8);
        put_i64(
            &mut body,
            span.start_time_unix_nano.wrapping_sub(prev_start) as i64,
        );
        prev_start = span.start_time_unix_nano;
        put_i64(
            &mut body,
            span.end_time_unix_nano
                .wrapping_sub(span.start_time_unix_nano) as i64,
        );
        enc.str_ref(&mut body, &span.trace_state);
        enc.kvs(&mut body, &span.attributes);
        put_u64(&mut body, span.dropped_attributes_count.into());
        put_u64(&mut body, span.events.len() as u64);
        for e in &span.events {
            put_i64(
                &mut body,
                e.time_unix_nano.wrapping_sub(span.start_time_unix_nano) as i64,
            );
            enc.str_ref(&mut body, &e.name);
            enc.kvs(&mut body, &e.attributes);
            put_u64(&mut body, e.dropped_attributes_count.into());
        }
        put_u64(&mut body, span.dropped_events_count.into());
        put_u64(&mut body, span.links.len() as u64);
        for l in &span.links {
            body.extend_from_slice(&l.trace_id.to_bytes());
            body.extend_from_slice(&l.span_id.to_bytes());
            enc.str_ref(&mut body, &l.trace_state);
            enc.kvs(&mut body, &l.attributes);
            put_u64(&mut body, l.dropped_attributes_count.into());
            put_u64(&mut body, l.flags.into());
        }
        put_u64(&mut body, span.dropped_links_count.into());
        body.push(match span.status.code {
            StatusCode::Unset => 0,
            StatusCode::Ok => 1,
            StatusCode::Error => 2,
        });
        enc.str_ref(&mut body, &span.status.message);
        put_u64(&mut body, span.flags.into());
        put_u64(&mut body, span.warnings.len() as u64);
        for w in &span.warnings {
            enc.str_ref(&mut body, w);
        }
    }
    enc.finish(body)
}

#[derive(Default)]
struct Encoder<'a> {
    strings: Vec<&'a str>,
    /// foldhash, not SipHash: hashing every key and value was a tenth of a flush.
    string_ids: HashMap<&'a str, u64, RandomState>,
    resources: Vec<&'a Arc<Resource>>,
    resource_ids: HashMap<*const Resource, u64, RandomState>,
    resource_bytes: Vec<u8>,
    scopes: Vec<&'a Arc<Scope>>,
    scope_ids: HashMap<*const Scope, u64, RandomState>,
    scope_bytes: Vec<u8>,
}

impl<'a> Encoder<'a> {
    fn str_id(&mut self, s: &'a str) -> u64 {
        // One hash whether the string is new or not (high-cardinality values are new in every block).
        let strings = &mut self.strings;
        *self.string_ids.entry(s).or_insert_with(|| {
            strings.push(s);
            strings.len() as u64 - 1
        })
    }

    fn str_ref(&mut self, out: &mut Vec<u8>, s: &'a str) {
        let id = self.str_id(s);
        put_u64(out, id);
    }

    fn kvs(&mut self, out: &mut Vec<u8>, kvs: &'a [KeyValue]) {
        put_u64(out, kvs.len() as u64);
        for kv in kvs {
            self.str_ref(out, &kv.key);
            self.value(out, &kv.value);
        }
    }

    fn value(&mut self, out: &mut Vec<u8>, v: &'a AnyValue) {
        match v {
            AnyValue::Empty => out.push(0),
            AnyValue::Str(s) => {
                out.push(1);
                self.str_ref(out, s);
            }
            AnyValue::Bool(b) => {
                out.push(2);
                out.push(u8::from(*b));
            }
            AnyValue::Int(i) => {
                out.push(3);
                put_i64(out, *i);
            }
            AnyValue::Double(d) => {
                out.push(4);
                out.extend_from_slice(&d.to_le_bytes());
            }
            AnyValue::Bytes(b) => {
                out.push(5);
                put_bytes(out, b);
            }
            AnyValue::Array(items) => {
                out.push(6);
                put_u64(out, items.len() as u64);
                for item in items {
                    self.value(out, item);
                }
            }
            AnyValue::KvList(kvs) => {
                out.push(7);
                self.kvs(out, kvs);
            }
        }
    }

    fn resource(&mut self, r: &'a Arc<Resource>) -> u64 {
        let ptr = Arc::as_ptr(r);
        if let Some(&id) = self.resource_ids.get(&ptr) {
            return id;
        }
        // Batches decoded separately carry equal resources in different Arcs.
        let found = self
            .resources
            .iter()
            .take(MAX_RESOURCE_SCAN)
            .position(|known| ***known == **r);
        let id = match found {
            Some(i) => i as u64,
            None => {
                let mut out = std::mem::take(&mut self.resource_bytes);
                self.str_ref(&mut out, &r.service_name);
                self.kvs(&mut out, &r.attributes);
                put_u64(&mut out, r.dropped_attributes_count.into());
                self.str_ref(&mut out, &r.schema_url);
                self.resource_bytes = out;
                self.resources.push(r);
                (self.resources.len() - 1) as u64
            }
        };
        self.resource_ids.insert(ptr, id);
        id
    }

    fn scope(&mut self, s: &'a Arc<Scope>) -> u64 {
        let ptr = Arc::as_ptr(s);
        if let Some(&id) = self.scope_ids.get(&ptr) {
            return id;
        }
        let found = self
            .scopes
            .iter()
            .take(MAX_RESOURCE_SCAN)
            .position(|known| ***known == **s);
        let id = match found {
            Some(i) => i as u64,
            None => {
                let mut out = std::mem::take(&mut self.scope_bytes);
                self.str_ref(&mut out, &s.name);
                self.str_ref(&mut out, &s.version);
                self.kvs(&mut out, &s.attributes);
                put_u64(&mut out, s.dropped_attributes_count.into());
                self.str_ref(&mut out, &s.schema_url);
                self.scope_bytes = out;
                self.scopes.push(s);
                (self.scopes.len() - 1) as u64
            }
        };
        self.scope_ids.insert(ptr, id);
        id
    }

    fn finish(mut self, body: Vec<u8>) -> Vec<u8> {
        let strings_len: usize = self.strings.iter().map(|s| s.len() + 2).sum();
        let mut out = Vec::with_capacity(
            strings_len + self.resource_bytes.len() + self.scope_bytes.len() + body.len() + 16,
        );
        out.push(VERSION);
        put_u64(&mut out, self.strings.len() as u64);
        for s in &self.strings {
            put_bytes(&mut out, s.as_bytes());
        }
        put_u64(&mut out, self.resources.len() as u64);
        out.append(&mut self.resource_bytes);
        put_u64(&mut out, self.scopes.len() as u64);
        out.append(&mut self.scope_bytes);
        out.extend_from_slice(&body);
        out
    }
}

/// Decodes what [`encode_spans`] wrote. Any inconsistency is an error, never a panic.
pub fn decode_spans(buf: &[u8]) -> Decoded<Vec<Span>> {
    let mut r = Reader::new(buf);
    if r.u8()? != VERSION {
        return Err(CorruptError("unknown span encoding version"));
    }
    let n = r.len()?;
    let mut strings = Vec::with_capacity(n);
    for _ in 0..n {
        strings.push(r.str()?);
    }
    let d = Dec { strings };
    let n = r.len()?;
    let mut resources = Vec::with_capacity(n);
    for _ in 0..n {
        resources.push(Arc::new(Resource {
            service_name: d.string(&mut r)?,
            attributes: d.kvs(&mut r, 0)?,
            dropped_attributes_count: r.u32()?,
            schema_url: d.string(&mut r)?,
        }));
    }
    let n = r.len()?;
    let mut scopes = Vec::with_capacity(n);
    for _ in 0..n {
        scopes.push(Arc::new(Scope {
            name: d.string(&mut r)?,
            version: d.string(&mut r)?,
            attributes: d.kvs(&mut r, 0)?,
            dropped_attributes_count: r.u32()?,
            schema_url: d.string(&mut r)?,
        }));
    }
    let n = r.len()?;
    let mut spans: Vec<Span> = Vec::with_capacity(n);
    let mut trace_id: Option<TraceId> = None;
    let mut run_start = 0usize;
    let mut prev_start = 0u64;
    for _ in 0..n {
        match r.u8()? {
            0 => {}
            1 => {
                trace_id = Some(TraceId(r.u128_be()?));
                run_start = spans.len();
            }
            _ => return Err(CorruptError("bad span header")),
        }
        let trace_id = trace_id.ok_or(CorruptError("span before any trace ID"))?;
        let span_id = SpanId(u64::from_be_bytes(r.fixed()?));
        let parent_span_id = match r.u64()? {
            0 => SpanId(0),
            1 => SpanId(u64::from_be_bytes(r.fixed()?)),
            back => {
                let i = usize::try_from(back - 2).map_err(|_| CorruptError("bad parent"))?;
                run_start
                    .checked_add(i)
                    .and_then(|j| spans.get(j))
                    .map(|s| s.span_id)
                    .ok_or(CorruptError("bad parent"))?
            }
        };
        let resource = usize::try_from(r.u64()?)
            .ok()
            .and_then(|i| resources.get(i))
            .ok_or(CorruptError("bad resource index"))?
            .clone();
        let scope = usize::try_from(r.u64()?)
            .ok()
            .and_then(|i| scopes.get(i))
            .ok_or(CorruptError("bad scope index"))?
            .clone();
        let name = d.string(&mut r)?;
        let kind = SpanKind::from_otlp(r.u8()?.into());
        let start = prev_start.wrapping_add(r.i64()? as u64);
        prev_start = start;
        let end = start.wrapping_add(r.i64()? as u64);
        let trace_state = d.string(&mut r)?;
        let attributes = d.kvs(&mut r, 0)?;
        let dropped_attributes_count = r.u32()?;
        let ne = r.len()?;
        let mut events = Vec::with_capacity(ne);
        for _ in 0..ne {
            events.push(Event {
                time_unix_nano: start.wrapping_add(r.i64()? as u64),
                name: d.string(&mut r)?,
                attributes: d.kvs(&mut r, 0)?,
                dropped_attributes_count: r.u32()?,
            });
        }
        let dropped_events_count = r.u32()?;
        let nl = r.len()?;
        let mut links = Vec::with_capacity(nl);
        for _ in 0..nl {
            links.push(Link {
                trace_id: TraceId(r.u128_be()?),
                span_id: SpanId(u64::from_be_bytes(r.fixed()?)),
                trace_state: d.string(&mut r)?,
                attributes: d.kvs(&mut r, 0)?,
                dropped_attributes_count: r.u32()?,
                flags: r.u32()?,
            });
        }
        let dropped_links_count = r.u32()?;
        let code = match r.u8()? {
            0 => StatusCode::Unset,
            1 => StatusCode::Ok,
            2 => StatusCode::Error,
            _ => return Err(CorruptError("bad status code")),
        };
        let status = Status {
            code,
            message: d.string(&mut r)?,
        };
        let flags = r.u32()?;
        let nw = r.len()?;
        let mut warnings = Vec::with_capacity(nw);
        for _ in 0..nw {
            warnings.push(d.string(&mut r)?);
        }
        spans.push(Span {
            trace_id,
            span_id,
            parent_span_id,
            trace_state,
            name,
            kind,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes,
            dropped_attributes_count,
            events,
            dropped_events_count,
            links,
            dropped_links_count,
            status,
            flags,
            resource,
            scope,
            warnings,
        });
    }
    if !r.is_empty() {
        return Err(CorruptError("trailing bytes after spans"));
    }
    Ok(spans)
}

struct Dec<'a> {
    strings: Vec<&'a str>,
}

impl Dec<'_> {
    fn string(&self, r: &mut Reader<'_>) -> Decoded<String> {
        let i = usize::try_from(r.u64()?).map_err(|_| CorruptError("bad string index"))?;
        self.strings
            .get(i)
            .map(|s| (*s).to_string())
            .ok_or(CorruptError("bad string index"))
    }

    fn kvs(&self, r: &mut Reader<'_>, depth: u32) -> Decoded<Vec<KeyValue>> {
        let n = r.len()?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(KeyValue {
                key: self.string(r)?,
                value: self.value(r, depth)?,
            });
        }
        Ok(out)
    }

    fn value(&self, r: &mut Reader<'_>, depth: u32) -> Decoded<AnyValue> {
        if depth > MAX_DEPTH {
            return Err(CorruptError("value nested too deeply"));
        }
        Ok(match r.u8()? {
            0 => AnyValue::Empty,
            1 => AnyValue::Str(self.string(r)?),
            2 => AnyValue::Bool(r.u8()? != 0),
            3 => AnyValue::Int(r.i64()?),
            4 => AnyValue::Double(f64::from_le_bytes(r.fixed()?)),
            5 => AnyValue::Bytes(r.bytes()?.to_vec()),
            6 => {
                let n = r.len()?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(r, depth + 1)?);
                }
                AnyValue::Array(items)
            }
            7 => AnyValue::KvList(self.kvs(r, depth + 1)?),
            _ => return Err(CorruptError("bad value tag")),
        })
    }
}
