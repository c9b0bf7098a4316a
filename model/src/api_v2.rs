//! Jaeger's api_v2 protobuf (`jaeger.api_v2.Span`, `Batch`, …) ⇄ the internal [`Span`].
//!
//! Used by the collector's gRPC `PostSpans` receiver, the query service's api_v2 gRPC API
//! and the Kafka protobuf encoding. The conversion is structural only: it goes through
//! [`JaegerSpan`], which owns the semantic mapping (span kind, status, references, logs).
//!
//! Decisions:
//! * IDs: a trace ID is 16 bytes (high half then low half, big-endian) or 8 bytes (a 64-bit
//!   ID); a span ID is 8 bytes. An empty field is the zero ID, since proto3 omits default
//!   values and Jaeger itself decodes a missing ID as zero. Any other length is a
//!   [`DecodeError`].
//! * Times keep nanosecond precision both ways (Jaeger's Go model does; only its JSON and
//!   thrift forms are in microseconds). A negative start time, log time or duration is
//!   clamped to 0, and one beyond what `u64` nanoseconds hold (year 2554) to the maximum;
//!   either records a warning on the span rather than rejecting the batch, as the Jaeger
//!   converters do for negative microseconds.
//! * Tag values: the five api_v2 types map to the matching [`AnyValue`]; an unknown
//!   `v_type` is a [`DecodeError`]. Going out, OTLP-only arrays and maps become JSON
//!   strings, bytes become `BINARY`, and an empty value an empty string.
//! * Process: a span without its own process gets the batch's, as Jaeger's collector does.
//!   Spans sharing a process share one `Arc<Resource>`.

use std::sync::Arc;

use prost_types::{Duration, Timestamp};
use sextant_proto::jaeger::api_v2 as pb;

use crate::error::DecodeError;
use crate::jaeger::{ns_to_us, JaegerLog, JaegerRef, JaegerSpan, RefType};
use crate::span::*;

const FORMAT: &str = "api_v2";
const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// Converts a `PostSpans` batch into spans.
pub fn batch_to_spans(batch: pb::Batch) -> Result<Vec<Span>, DecodeError> {
    let batch_process = Arc::new(process_from_proto(batch.process.unwrap_or_default())?);
    let mut last_own: Option<Arc<Resource>> = None;
    batch
        .spans
        .into_iter()
        .map(|mut span| {
            let process = match span.process.take() {
                None => batch_process.clone(),
                Some(p) => {
                    let resource = process_from_proto(p)?;
                    // Clients that embed the process repeat the same one in every span.
                    match &last_own {
                        Some(last) if **last == resource => last.clone(),
                        _ if *batch_process == resource => batch_process.clone(),
                        _ => {
                            let resource = Arc::new(resource);
                            last_own = Some(resource.clone());
                            resource
                        }
                    }
                }
            };
            span_with_process(span, process)
        })
        .collect()
}

/// Converts one span carrying its own process (a Kafka `jaeger-spans` protobuf message, a
/// query response); a span without one gets an empty process.
pub fn span_from_proto(mut span: pb::Span) -> Result<Span, DecodeError> {
    let process = process_from_proto(span.process.take().unwrap_or_default())?;
    span_with_process(span, Arc::new(process))
}

fn span_with_process(span: pb::Span, process: Arc<Resource>) -> Result<Span, DecodeError> {
    let logs = span
        .logs
        .into_iter()
        .map(|log| Ok((timestamp_ns(log.timestamp), tags_from_proto(log.fields)?)))
        .collect::<Result<_, DecodeError>>()?;
    let parts = SpanParts {
        trace_id: trace_id_from_bytes(&span.trace_id)?,
        span_id: span_id_from_bytes(&span.span_id)?,
        operation_name: span.operation_name,
        references: span
            .references
            .into_iter()
            .map(ref_from_proto)
            .collect::<Result<_, _>>()?,
        flags: span.flags,
        start_ns: timestamp_ns(span.start_time),
        duration_ns: duration_ns(span.duration),
        tags: tags_from_proto(span.tags)?,
        logs,
        process,
        warnings: span.warnings,
    };
    Ok(parts.into_span())
}

/// An api_v2 span with its fields decoded but not yet mapped: what both the prost path
/// ([`span_from_proto`]) and the direct decoder ([`crate::api_v2_decode`]) produce, so that
/// one function does the mapping for both.
pub(crate) struct SpanParts {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub operation_name: String,
    pub references: Vec<JaegerRef>,
    pub flags: u32,
    /// `start_time` as sent (seconds × 1e9 + nanos, unclamped).
    pub start_ns: i128,
    pub duration_ns: i128,
    pub tags: Vec<KeyValue>,
    /// Each log's timestamp (unclamped nanoseconds) and fields.
    pub logs: Vec<(i128, Vec<KeyValue>)>,
    pub process: Arc<Resource>,
    pub warnings: Vec<String>,
}

impl SpanParts {
    pub(crate) fn into_span(self) -> Span {
        let mut warnings = self.warnings;
        let start_ns = clamp_ns(self.start_ns, "start time", &mut warnings);
        let duration_ns = clamp_ns(self.duration_ns, "duration", &mut warnings);
        let mut log_times = Vec::with_capacity(self.logs.len());
        let mut logs = Vec::with_capacity(self.logs.len());
        for (ns, fields) in self.logs {
            let ns = clamp_ns(ns, "log timestamp", &mut warnings);
            log_times.push(ns);
            logs.push(JaegerLog {
                timestamp_us: ns_to_us(ns),
                fields,
            });
        }
        let jaeger = JaegerSpan {
            trace_id: self.trace_id,
            span_id: self.span_id,
            operation_name: self.operation_name,
            references: self.references,
            flags: self.flags,
            start_time_us: ns_to_us(start_ns),
            duration_us: ns_to_us(duration_ns),
            tags: self.tags,
            logs,
            process: self.process,
            warnings,
        };
        let mut out = jaeger.into_span();
        // JaegerSpan counts in microseconds; put back the nanoseconds the wire carried.
        out.start_time_unix_nano = start_ns;
        out.end_time_unix_nano = start_ns.saturating_add(duration_ns);
        for (event, ns) in out.events.iter_mut().zip(log_times) {
            event.time_unix_nano = ns;
        }
        out
    }
}

/// A Jaeger process → resource (the service name stays apart from the tags).
pub fn process_from_proto(process: pb::Process) -> Result<Resource, DecodeError> {
    Ok(Resource {
        service_name: process.service_name,
        attributes: tags_from_proto(process.tags)?,
        ..Default::default()
    })
}

/// A resource → Jaeger process. The resource's dropped count and schema URL have no place.
pub fn process_to_proto(resource: &Resource) -> pb::Process {
    pb::Process {
        service_name: resource.service_name.clone(),
        tags: resource.attributes.iter().map(tag_to_proto).collect(),
    }
}

/// One span as api_v2, with its process embedded (as the query API and Kafka send it).
pub fn span_to_proto(span: &Span) -> pb::Span {
    let jaeger = JaegerSpan::from_span(span);
    pb::Span {
        trace_id: jaeger.trace_id.to_bytes().to_vec(),
        span_id: jaeger.span_id.to_bytes().to_vec(),
        operation_name: jaeger.operation_name,
        references: jaeger
            .references
            .iter()
            .map(|r| pb::SpanRef {
                trace_id: r.trace_id.to_bytes().to_vec(),
                span_id: r.span_id.to_bytes().to_vec(),
                ref_type: match r.ref_type {
                    RefType::ChildOf => pb::SpanRefType::ChildOf,
                    RefType::FollowsFrom => pb::SpanRefType::FollowsFrom,
                } as i32,
            })
            .collect(),
        flags: jaeger.flags,
        start_time: Some(timestamp_from_ns(span.start_time_unix_nano)),
        duration: Some(duration_from_ns(span.duration_nanos())),
        tags: jaeger.tags.iter().map(tag_to_proto).collect(),
        // `from_span` makes one log per event, in order; the event keeps the exact time.
        logs: jaeger
            .logs
            .iter()
            .enumerate()
            .map(|(i, log)| pb::Log {
                timestamp: Some(timestamp_from_ns(span.events.get(i).map_or_else(
                    || {
                        u64::try_from(log.timestamp_us)
                            .unwrap_or(0)
                            .saturating_mul(1000)
                    },
                    |e| e.time_unix_nano,
                ))),
                fields: log.fields.iter().map(tag_to_proto).collect(),
            })
            .collect(),
        process: Some(process_to_proto(&jaeger.process)),
        process_id: String::new(),
        warnings: jaeger.warnings,
    }
}

/// The message the api_v2 query service streams for `GetTrace` / `FindTraces`.
pub fn spans_to_proto_chunk(spans: &[Span]) -> pb::SpansResponseChunk {
    pb::SpansResponseChunk {
        spans: spans.iter().map(span_to_proto).collect(),
    }
}

/// A trace ID from api_v2 bytes (e.g. `GetTraceRequest.trace_id`): 16 or 8 bytes, or empty
/// for the zero ID.
pub fn trace_id_from_bytes(b: &[u8]) -> Result<TraceId, DecodeError> {
    if b.is_empty() {
        return Ok(TraceId(0));
    }
    TraceId::from_slice(b).ok_or_else(|| {
        DecodeError::malformed(
            FORMAT,
            format!("trace_id must be 16 or 8 bytes, got {}", b.len()),
        )
    })
}

/// A span ID from api_v2 bytes: 8 bytes, or empty for the zero ID.
pub fn span_id_from_bytes(b: &[u8]) -> Result<SpanId, DecodeError> {
    if b.is_empty() {
        return Ok(SpanId(0));
    }
    SpanId::from_slice(b).ok_or_else(|| {
        DecodeError::malformed(FORMAT, format!("span_id must be 8 bytes, got {}", b.len()))
    })
}

/// An api_v2 `SpanRefType` number → reference type.
pub(crate) fn ref_type_from_proto(ref_type: i32) -> Result<RefType, DecodeError> {
    match pb::SpanRefType::try_from(ref_type) {
        Ok(pb::SpanRefType::ChildOf) => Ok(RefType::ChildOf),
        Ok(pb::SpanRefType::FollowsFrom) => Ok(RefType::FollowsFrom),
        Err(_) => Err(DecodeError::malformed(
            FORMAT,
            format!("unknown reference type {ref_type}"),
        )),
    }
}

/// The error for a tag whose `v_type` is none of api_v2's five.
pub(crate) fn unknown_value_type(key: &str, v_type: i32) -> DecodeError {
    DecodeError::malformed(
        FORMAT,
        format!("tag {:?} has unknown value type {v_type}", clip(key)),
    )
}

fn ref_from_proto(r: pb::SpanRef) -> Result<JaegerRef, DecodeError> {
    Ok(JaegerRef {
        ref_type: ref_type_from_proto(r.ref_type)?,
        trace_id: trace_id_from_bytes(&r.trace_id)?,
        span_id: span_id_from_bytes(&r.span_id)?,
    })
}

fn tags_from_proto(tags: Vec<pb::KeyValue>) -> Result<Vec<KeyValue>, DecodeError> {
    tags.into_iter().map(tag_from_proto).collect()
}

/// One api_v2 tag → attribute.
pub fn tag_from_proto(kv: pb::KeyValue) -> Result<KeyValue, DecodeError> {
    let value = match pb::ValueType::try_from(kv.v_type) {
        Ok(pb::ValueType::String) => AnyValue::Str(kv.v_str),
        Ok(pb::ValueType::Bool) => AnyValue::Bool(kv.v_bool),
        Ok(pb::ValueType::Int64) => AnyValue::Int(kv.v_int64),
        Ok(pb::ValueType::Float64) => AnyValue::Double(kv.v_float64),
        Ok(pb::ValueType::Binary) => AnyValue::Bytes(kv.v_binary),
        Err(_) => return Err(unknown_value_type(&kv.key, kv.v_type)),
    };
    Ok(KeyValue { key: kv.key, value })
}

/// One attribute → api_v2 tag.
pub fn tag_to_proto(kv: &KeyValue) -> pb::KeyValue {
    let mut out = pb::KeyValue {
        key: kv.key.clone(),
        ..Default::default()
    };
    match &kv.value {
        AnyValue::Str(s) => out.v_str = s.clone(),
        AnyValue::Bool(b) => {
            out.set_v_type(pb::ValueType::Bool);
            out.v_bool = *b;
        }
        AnyValue::Int(i) => {
            out.set_v_type(pb::ValueType::Int64);
            out.v_int64 = *i;
        }
        AnyValue::Double(d) => {
            out.set_v_type(pb::ValueType::Float64);
            out.v_float64 = *d;
        }
        AnyValue::Bytes(b) => {
            out.set_v_type(pb::ValueType::Binary);
            out.v_binary = b.clone();
        }
        AnyValue::Empty => {}
        AnyValue::Array(_) | AnyValue::KvList(_) => out.v_str = kv.value.to_string_lossy(),
    }
    out
}

fn timestamp_ns(ts: Option<Timestamp>) -> i128 {
    ts.map_or(0, |t| {
        i128::from(t.seconds) * NANOS_PER_SECOND + i128::from(t.nanos)
    })
}

fn duration_ns(d: Option<Duration>) -> i128 {
    d.map_or(0, |d| {
        i128::from(d.seconds) * NANOS_PER_SECOND + i128::from(d.nanos)
    })
}

fn clamp_ns(ns: i128, what: &str, warnings: &mut Vec<String>) -> u64 {
    if ns < 0 {
        warnings.push(format!("negative {what} {ns}ns clamped to 0"));
        0
    } else {
        u64::try_from(ns).unwrap_or_else(|_| {
            warnings.push(format!("{what} {ns}ns out of range, clamped"));
            u64::MAX
        })
    }
}

fn timestamp_from_ns(ns: u64) -> Timestamp {
    Timestamp {
        // u64::MAX / 1e9 and a remainder below 1e9 both fit their fields.
        seconds: (ns / 1_000_000_000) as i64,
        nanos: (ns % 1_000_000_000) as i32,
    }
}

fn duration_from_ns(ns: u64) -> Duration {
    Duration {
        seconds: (ns / 1_000_000_000) as i64,
        nanos: (ns % 1_000_000_000) as i32,
    }
}

fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanoseconds_survive_timestamps_and_durations() {
        for ns in [
            0,
            1,
            999_999_999,
            1_000_000_000,
            1_700_000_000_123_456_789,
            u64::MAX,
        ] {
            let mut w = Vec::new();
            let t = timestamp_from_ns(ns);
            assert_eq!(clamp_ns(timestamp_ns(Some(t)), "t", &mut w), ns);
            let d = duration_from_ns(ns);
            assert_eq!(clamp_ns(duration_ns(Some(d)), "d", &mut w), ns);
            assert!(w.is_empty());
        }
    }

    #[test]
    fn unnormalized_timestamps_are_summed() {
        // Protobuf says nanos is in [0, 1e9); senders that break it still get a sane time.
        let t = Timestamp {
            seconds: 2,
            nanos: -500_000_000,
        };
        assert_eq!(timestamp_ns(Some(t)), 1_500_000_000);
    }
}
