//! Spans → `Batch` bytes, generic over the protocol writer (tests, round trips, load
//! generation).

use super::super::protocol::*;
use super::*;
use crate::jaeger::{JaegerSpan, RefType};
use crate::span::{AnyValue, KeyValue, Resource};

pub(crate) fn write_batch<W: ProtocolWriter + ?Sized>(
    w: &mut W,
    process: &Resource,
    spans: &[Span],
    meta: &BatchMeta,
) {
    let token = w.struct_begin();
    w.field_begin(1, TType::Struct);
    write_process(w, process);
    w.field_begin(2, TType::List);
    w.list_begin(TType::Struct, spans.len());
    for span in spans {
        write_span(w, &JaegerSpan::from_span(span));
    }
    if let Some(seq_no) = meta.seq_no {
        w.field_begin(3, TType::I64);
        w.write_i64(seq_no);
    }
    if let Some(stats) = &meta.stats {
        w.field_begin(4, TType::Struct);
        let t = w.struct_begin();
        for (id, v) in [
            (1, stats.full_queue_dropped_spans),
            (2, stats.too_large_dropped_spans),
            (3, stats.failed_to_emit_spans),
        ] {
            w.field_begin(id, TType::I64);
            w.write_i64(v);
        }
        w.struct_end(t);
    }
    w.struct_end(token);
}

fn write_process<W: ProtocolWriter + ?Sized>(w: &mut W, process: &Resource) {
    let token = w.struct_begin();
    w.field_begin(1, TType::Binary);
    w.write_binary(process.service_name.as_bytes());
    if !process.attributes.is_empty() {
        w.field_begin(2, TType::List);
        write_tags(w, &process.attributes);
    }
    w.struct_end(token);
}

fn write_span<W: ProtocolWriter + ?Sized>(w: &mut W, js: &JaegerSpan) {
    let token = w.struct_begin();
    // The parent is also sent as `parentSpanId` so that readers which ignore references
    // (old collectors) still see it; readers that see both do not duplicate it.
    let parent = js
        .references
        .iter()
        .find(|r| r.ref_type == RefType::ChildOf && r.trace_id == js.trace_id)
        .map_or(0, |r| r.span_id.0);
    for (id, v) in [
        (1, js.trace_id.low()),
        (2, js.trace_id.high()),
        (3, js.span_id.0),
        (4, parent),
    ] {
        w.field_begin(id, TType::I64);
        w.write_i64(v as i64);
    }
    w.field_begin(5, TType::Binary);
    w.write_binary(js.operation_name.as_bytes());
    if !js.references.is_empty() {
        w.field_begin(6, TType::List);
        w.list_begin(TType::Struct, js.references.len());
        for r in &js.references {
            let t = w.struct_begin();
            w.field_begin(1, TType::I32);
            w.write_i32(match r.ref_type {
                RefType::ChildOf => REF_CHILD_OF,
                RefType::FollowsFrom => REF_FOLLOWS_FROM,
            });
            for (id, v) in [
                (2, r.trace_id.low()),
                (3, r.trace_id.high()),
                (4, r.span_id.0),
            ] {
                w.field_begin(id, TType::I64);
                w.write_i64(v as i64);
            }
            w.struct_end(t);
        }
    }
    w.field_begin(7, TType::I32);
    w.write_i32(js.flags as i32);
    w.field_begin(8, TType::I64);
    w.write_i64(js.start_time_us);
    w.field_begin(9, TType::I64);
    w.write_i64(js.duration_us);
    if !js.tags.is_empty() {
        w.field_begin(10, TType::List);
        write_tags(w, &js.tags);
    }
    if !js.logs.is_empty() {
        w.field_begin(11, TType::List);
        w.list_begin(TType::Struct, js.logs.len());
        for log in &js.logs {
            let t = w.struct_begin();
            w.field_begin(1, TType::I64);
            w.write_i64(log.timestamp_us);
            w.field_begin(2, TType::List);
            write_tags(w, &log.fields);
            w.struct_end(t);
        }
    }
    w.struct_end(token);
}

fn write_tags<W: ProtocolWriter + ?Sized>(w: &mut W, tags: &[KeyValue]) {
    w.list_begin(TType::Struct, tags.len());
    for kv in tags {
        let t = w.struct_begin();
        w.field_begin(1, TType::Binary);
        w.write_binary(kv.key.as_bytes());
        w.field_begin(2, TType::I32);
        match &kv.value {
            AnyValue::Double(d) => {
                w.write_i32(TAG_DOUBLE);
                w.field_begin(4, TType::Double);
                w.write_double(*d);
            }
            AnyValue::Bool(b) => {
                w.write_i32(TAG_BOOL);
                w.bool_field(5, *b);
            }
            AnyValue::Int(i) => {
                w.write_i32(TAG_LONG);
                w.field_begin(6, TType::I64);
                w.write_i64(*i);
            }
            AnyValue::Bytes(b) => {
                w.write_i32(TAG_BINARY);
                w.field_begin(7, TType::Binary);
                w.write_binary(b);
            }
            AnyValue::Str(s) => {
                w.write_i32(TAG_STRING);
                w.field_begin(3, TType::Binary);
                w.write_binary(s.as_bytes());
            }
            other => {
                w.write_i32(TAG_STRING);
                w.field_begin(3, TType::Binary);
                w.write_binary(other.to_string_lossy().as_bytes());
            }
        }
        w.struct_end(t);
    }
}
