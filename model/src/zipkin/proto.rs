//! Zipkin v2 proto3 (`POST /api/v2/spans`, `application/x-protobuf`): a `ListOfSpans`.
//!
//! Only the structural part — prost message into [`ZipkinSpan`] — lives here; the mapping
//! is shared with JSON. IDs are bytes: a trace ID is 8 or 16 bytes (`zipkin.proto`), a span
//! or parent ID 8 bytes; an empty parent ID means "root". Addresses are 4/16 raw bytes; a
//! wrong-sized one is dropped with a span warning, like an unparsable one in JSON.

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

use prost::Message;
use sextant_proto::zipkin::proto3 as pb;

use super::convert::Converter;
use super::v2::{self, Annotation, Endpoint, Kind, ZipkinSpan};
use crate::error::DecodeError;
use crate::span::{Span, SpanId, TraceId};

const FORMAT: &str = "zipkin v2 proto";

/// Decodes a Zipkin v2 protobuf body (`zipkin.proto3.ListOfSpans`).
pub fn decode_v2_proto(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let list =
        pb::ListOfSpans::decode(body).map_err(|e| DecodeError::malformed(FORMAT, e.to_string()))?;
    let mut converter = Converter::new(FORMAT);
    list.spans
        .iter()
        .map(|s| converter.convert(to_zipkin(s)?))
        .collect()
}

fn to_zipkin(s: &pb::Span) -> Result<ZipkinSpan<'_>, DecodeError> {
    let mut warnings = Vec::new();
    let trace_id = TraceId::from_slice(&s.trace_id).ok_or_else(|| {
        DecodeError::malformed(
            FORMAT,
            format!("trace_id has {} bytes, want 8 or 16", s.trace_id.len()),
        )
    })?;
    let id = span_id(&s.id, "id")?;
    let parent_id = if s.parent_id.is_empty() {
        None
    } else {
        Some(span_id(&s.parent_id, "parent_id")?)
    };
    let kind = match pb::span::Kind::try_from(s.kind) {
        Ok(pb::span::Kind::SpanKindUnspecified) => None,
        Ok(pb::span::Kind::Client) => Some(Kind::Client),
        Ok(pb::span::Kind::Server) => Some(Kind::Server),
        Ok(pb::span::Kind::Producer) => Some(Kind::Producer),
        Ok(pb::span::Kind::Consumer) => Some(Kind::Consumer),
        Err(_) => {
            warnings.push(format!("unknown span kind {} ignored", s.kind));
            None
        }
    };
    let local_endpoint = s
        .local_endpoint
        .as_ref()
        .map(|e| endpoint(e, &mut warnings));
    let remote_endpoint = s
        .remote_endpoint
        .as_ref()
        .map(|e| endpoint(e, &mut warnings));
    Ok(ZipkinSpan {
        trace_id,
        id,
        parent_id,
        name: Cow::Borrowed(&s.name),
        kind,
        timestamp_us: s.timestamp,
        duration_us: s.duration,
        local_endpoint,
        remote_endpoint,
        annotations: s
            .annotations
            .iter()
            .map(|a| Annotation {
                timestamp_us: a.timestamp,
                value: Cow::Borrowed(&a.value),
            })
            .collect(),
        tags: s
            .tags
            .iter()
            .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str())))
            .collect(),
        debug: s.debug,
        shared: s.shared,
        warnings,
    })
}

fn span_id(bytes: &[u8], field: &str) -> Result<SpanId, DecodeError> {
    SpanId::from_slice(bytes).ok_or_else(|| {
        DecodeError::malformed(FORMAT, format!("{field} has {} bytes, want 8", bytes.len()))
    })
}

fn endpoint<'a>(e: &'a pb::Endpoint, warnings: &mut Vec<String>) -> Endpoint<'a> {
    Endpoint {
        service_name: Cow::Borrowed(&e.service_name),
        ipv4: address::<4>(&e.ipv4, warnings).map(Ipv4Addr::from),
        ipv6: address::<16>(&e.ipv6, warnings).map(Ipv6Addr::from),
        port: v2::port(i64::from(e.port), warnings),
    }
}

fn address<const N: usize>(bytes: &[u8], warnings: &mut Vec<String>) -> Option<[u8; N]> {
    if bytes.is_empty() {
        return None;
    }
    let parsed = <[u8; N]>::try_from(bytes).ok();
    if parsed.is_none() {
        warnings.push(format!(
            "endpoint address of {} bytes ignored, want {N}",
            bytes.len()
        ));
    }
    parsed
}
