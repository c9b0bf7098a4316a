//! Zipkin v1 thrift (`POST /api/v1/spans`, `application/x-thrift`): a binary-protocol
//! `list<zipkincore.Span>`, decoded structurally into [`V1Span`] with the hand-written
//! thrift reader and translated by [`super::v1`].
//!
//! Typed binary annotations become text as Zipkin writes them into v2 tags: integers and
//! doubles in decimal, `BYTES` in base64, `BOOL` as a boolean (it marks address
//! annotations). A value whose length does not fit its type is dropped with a warning.

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

use base64::Engine;

use super::convert::Converter;
use super::v1::{to_v2, V1Annotation, V1Binary, V1Span, V1Value};
use super::v2::Endpoint;
use crate::error::DecodeError;
use crate::span::{format_float, Span, SpanId, TraceId};
use crate::thrift::protocol::skip;
use crate::thrift::{BinaryReader, ProtocolReader, TType};

const FORMAT: &str = "zipkin v1 thrift";

/// Decodes a Zipkin v1 thrift body (a binary-protocol list of spans).
pub fn decode_v1_thrift(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let mut r = BinaryReader::new(body);
    let list = r.list_begin()?;
    if list.elem != TType::Struct {
        return Err(DecodeError::malformed(FORMAT, "expected a list of spans"));
    }
    let mut converter = Converter::new(FORMAT);
    let mut out = Vec::with_capacity(list.size);
    for _ in 0..list.size {
        for z in to_v2(read_span(&mut r)?) {
            out.push(converter.convert(z)?);
        }
    }
    Ok(out)
}

fn utf8<'a>(bytes: &'a [u8]) -> Cow<'a, str> {
    String::from_utf8_lossy(bytes)
}

fn read_span<'a>(r: &mut BinaryReader<'a>) -> Result<V1Span<'a>, DecodeError> {
    let mut span = V1Span::default();
    let (mut low, mut high) = (0u64, 0u64);
    let token = r.struct_begin();
    while let Some(f) = r.field_begin()? {
        match (f.id, f.ttype) {
            (1, TType::I64) => low = r.read_i64()? as u64,
            (3, TType::Binary) => span.name = utf8(r.read_binary()?),
            (4, TType::I64) => span.id = SpanId(r.read_i64()? as u64),
            (5, TType::I64) => {
                let p = r.read_i64()? as u64;
                span.parent_id = (p != 0).then_some(SpanId(p));
            }
            (6, TType::List) => {
                let list = r.list_begin()?;
                for _ in 0..list.size {
                    let a = read_annotation(r, &mut span.warnings)?;
                    span.annotations.push(a);
                }
            }
            (8, TType::List) => {
                let list = r.list_begin()?;
                for _ in 0..list.size {
                    if let Some(b) = read_binary_annotation(r, &mut span.warnings)? {
                        span.binary_annotations.push(b);
                    }
                }
            }
            (9, TType::Bool) => span.debug = r.read_bool()?,
            (10, TType::I64) => span.timestamp_us = micros(r.read_i64()?, &mut span.warnings),
            (11, TType::I64) => span.duration_us = micros(r.read_i64()?, &mut span.warnings),
            (12, TType::I64) => high = r.read_i64()? as u64,
            (_, t) => skip(r, t)?,
        }
    }
    r.struct_end(token);
    span.trace_id = TraceId((u128::from(high) << 64) | u128::from(low));
    Ok(span)
}

/// Zero means absent in Zipkin; negative values are dropped with a warning.
fn micros(value: i64, warnings: &mut Vec<String>) -> Option<u64> {
    match u64::try_from(value) {
        Ok(0) => None,
        Ok(v) => Some(v),
        Err(_) => {
            warnings.push(format!("negative time {value}us ignored"));
            None
        }
    }
}

fn read_annotation<'a>(
    r: &mut BinaryReader<'a>,
    warnings: &mut Vec<String>,
) -> Result<V1Annotation<'a>, DecodeError> {
    let mut a = V1Annotation {
        timestamp_us: 0,
        value: Cow::Borrowed(""),
        endpoint: None,
    };
    let token = r.struct_begin();
    while let Some(f) = r.field_begin()? {
        match (f.id, f.ttype) {
            (1, TType::I64) => a.timestamp_us = micros(r.read_i64()?, warnings).unwrap_or(0),
            (2, TType::Binary) => a.value = utf8(r.read_binary()?),
            (3, TType::Struct) => a.endpoint = Some(read_endpoint(r, warnings)?),
            (_, t) => skip(r, t)?,
        }
    }
    r.struct_end(token);
    Ok(a)
}

/// zipkincore's `AnnotationType`.
const BOOL: i32 = 0;
const BYTES: i32 = 1;
const I16: i32 = 2;
const I32: i32 = 3;
const I64: i32 = 4;
const DOUBLE: i32 = 5;

fn read_binary_annotation<'a>(
    r: &mut BinaryReader<'a>,
    warnings: &mut Vec<String>,
) -> Result<Option<V1Binary<'a>>, DecodeError> {
    let (mut key, mut raw, mut kind, mut endpoint) = (Cow::Borrowed(""), &[][..], 6, None);
    let token = r.struct_begin();
    while let Some(f) = r.field_begin()? {
        match (f.id, f.ttype) {
            (1, TType::Binary) => key = utf8(r.read_binary()?),
            (2, TType::Binary) => raw = r.read_binary()?,
            (3, TType::I32) => kind = r.read_i32()?,
            (4, TType::Struct) => endpoint = Some(read_endpoint(r, warnings)?),
            (_, t) => skip(r, t)?,
        }
    }
    r.struct_end(token);
    let value = match kind {
        BOOL => raw.first().map(|b| V1Value::Bool(*b != 0)),
        BYTES => Some(V1Value::Text(Cow::Owned(
            base64::engine::general_purpose::STANDARD.encode(raw),
        ))),
        I16 => <[u8; 2]>::try_from(raw)
            .ok()
            .map(|b| text(i16::from_be_bytes(b))),
        I32 => <[u8; 4]>::try_from(raw)
            .ok()
            .map(|b| text(i32::from_be_bytes(b))),
        I64 => <[u8; 8]>::try_from(raw)
            .ok()
            .map(|b| text(i64::from_be_bytes(b))),
        DOUBLE => <[u8; 8]>::try_from(raw)
            .ok()
            .map(|b| V1Value::Text(Cow::Owned(format_float(f64::from_be_bytes(b))))),
        _ => Some(V1Value::Text(utf8(raw))),
    };
    if value.is_none() {
        warnings.push(format!(
            "binary annotation {key:?}: {} bytes do not fit type {kind}; dropped",
            raw.len()
        ));
    }
    Ok(value.map(|value| V1Binary {
        key,
        value,
        endpoint,
    }))
}

fn text(v: impl ToString) -> V1Value<'static> {
    V1Value::Text(Cow::Owned(v.to_string()))
}

fn read_endpoint<'a>(
    r: &mut BinaryReader<'a>,
    warnings: &mut Vec<String>,
) -> Result<Endpoint<'a>, DecodeError> {
    let mut e = Endpoint::default();
    let token = r.struct_begin();
    while let Some(f) = r.field_begin()? {
        match (f.id, f.ttype) {
            (1, TType::I32) => {
                let ip = r.read_i32()? as u32;
                e.ipv4 = (ip != 0).then(|| Ipv4Addr::from(ip));
            }
            // Thrift has no unsigned types: ports above 32767 arrive negative.
            (2, TType::I16) => {
                let port = r.read_i16()? as u16;
                e.port = (port != 0).then_some(port);
            }
            (3, TType::Binary) => e.service_name = utf8(r.read_binary()?),
            (4, TType::Binary) => {
                let raw = r.read_binary()?;
                match <[u8; 16]>::try_from(raw) {
                    Ok(b) => e.ipv6 = Some(Ipv6Addr::from(b)),
                    Err(_) if raw.is_empty() => {}
                    Err(_) => warnings.push(format!("ipv6 of {} bytes ignored", raw.len())),
                }
            }
            (_, t) => skip(r, t)?,
        }
    }
    r.struct_end(token);
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::SpanKind;
    use crate::thrift::{BinaryWriter, ProtocolWriter};

    fn endpoint(w: &mut BinaryWriter, service: &str) {
        let t = w.struct_begin();
        w.field_begin(1, TType::I32);
        w.write_i32(0x7f00_0001);
        w.field_begin(2, TType::I16);
        w.write_i16(-1); // port 65535
        w.field_begin(3, TType::Binary);
        w.write_binary(service.as_bytes());
        w.struct_end(t);
    }

    fn body() -> Vec<u8> {
        let mut w = BinaryWriter::new();
        w.list_begin(TType::Struct, 1);
        let t = w.struct_begin();
        w.field_begin(1, TType::I64);
        w.write_i64(7);
        w.field_begin(12, TType::I64);
        w.write_i64(1);
        w.field_begin(3, TType::Binary);
        w.write_binary(b"get");
        w.field_begin(4, TType::I64);
        w.write_i64(9);
        w.field_begin(6, TType::List);
        w.list_begin(TType::Struct, 2);
        for (ts, v) in [(100, "cs"), (150, "cr")] {
            let a = w.struct_begin();
            w.field_begin(1, TType::I64);
            w.write_i64(ts);
            w.field_begin(2, TType::Binary);
            w.write_binary(v.as_bytes());
            w.field_begin(3, TType::Struct);
            endpoint(&mut w, "front");
            w.struct_end(a);
        }
        w.field_begin(8, TType::List);
        w.list_begin(TType::Struct, 1);
        let b = w.struct_begin();
        w.field_begin(1, TType::Binary);
        w.write_binary(b"retries");
        w.field_begin(2, TType::Binary);
        w.write_binary(&3i32.to_be_bytes());
        w.field_begin(3, TType::I32);
        w.write_i32(I32);
        w.struct_end(b);
        w.field_begin(10, TType::I64);
        w.write_i64(100);
        w.struct_end(t);
        w.into_bytes()
    }

    #[test]
    fn decodes_a_client_span_with_typed_tags() {
        let spans = decode_v1_thrift(&body()).unwrap();
        assert_eq!(spans.len(), 1);
        let s = &spans[0];
        assert_eq!(s.trace_id, TraceId((1u128 << 64) | 7));
        assert_eq!(s.kind, SpanKind::Client);
        assert_eq!(s.service_name(), "front");
        assert_eq!(s.end_time_unix_nano - s.start_time_unix_nano, 50_000);
        assert_eq!(
            crate::find_attr(&s.attributes, "retries").and_then(|v| v.as_str()),
            Some("3")
        );
    }

    #[test]
    fn truncated_and_random_input_fails_cleanly() {
        let full = body();
        for cut in 0..full.len() {
            assert!(decode_v1_thrift(&full[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode_v1_thrift(b"\xff\xff\xff\xff\xff").is_err());
    }
}
