//! Zipkin v2 JSON (`POST /api/v2/spans`, `application/json`): a JSON array of spans.
//!
//! This module is only the structural part — JSON into [`ZipkinSpan`] — and hands each
//! span to the shared mapping. Strings are borrowed from the payload whenever they contain
//! no escapes. Unknown fields are ignored and `null` means absent (the OpenTelemetry Python
//! exporter writes `"kind": null` for internal spans), as Zipkin's own server does; values
//! of the wrong JSON type are a [`DecodeError`].

use std::borrow::Cow;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::convert::Converter;
use super::v2::{self, Annotation, Endpoint, Kind, ZipkinSpan};
use crate::error::DecodeError;
use crate::span::{format_float, Span, SpanId, TraceId};

const FORMAT: &str = "zipkin v2 json";

/// Decodes a Zipkin v2 JSON body (an array of spans).
pub fn decode_v2_json(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let spans: Vec<JsonSpan<'_>> = serde_json::from_slice(body).map_err(json_error)?;
    let mut converter = Converter::new(FORMAT);
    spans
        .into_iter()
        .map(|s| converter.convert(s.into_zipkin()?))
        .collect()
}

fn json_error(e: serde_json::Error) -> DecodeError {
    DecodeError::malformed(FORMAT, e.to_string())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonSpan<'a> {
    #[serde(borrow)]
    trace_id: Str<'a>,
    #[serde(borrow)]
    id: Str<'a>,
    #[serde(borrow, default)]
    parent_id: Option<Str<'a>>,
    #[serde(borrow, default)]
    name: Option<Str<'a>>,
    #[serde(borrow, default)]
    kind: Option<Str<'a>>,
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default)]
    duration: Option<i64>,
    #[serde(borrow, default)]
    local_endpoint: Option<JsonEndpoint<'a>>,
    #[serde(borrow, default)]
    remote_endpoint: Option<JsonEndpoint<'a>>,
    #[serde(borrow, default)]
    annotations: Option<Vec<JsonAnnotation<'a>>>,
    #[serde(borrow, default)]
    tags: Option<Tags<'a>>,
    #[serde(default)]
    debug: Option<bool>,
    #[serde(default)]
    shared: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonEndpoint<'a> {
    #[serde(borrow, default)]
    service_name: Option<Str<'a>>,
    #[serde(borrow, default)]
    ipv4: Option<Str<'a>>,
    #[serde(borrow, default)]
    ipv6: Option<Str<'a>>,
    #[serde(default)]
    port: Option<i64>,
}

#[derive(Deserialize)]
struct JsonAnnotation<'a> {
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(borrow, default)]
    value: Option<Str<'a>>,
}

impl<'a> JsonSpan<'a> {
    fn into_zipkin(self) -> Result<ZipkinSpan<'a>, DecodeError> {
        let mut warnings = Vec::new();
        let trace_id = TraceId(parse_hex(&self.trace_id.0, 32, "traceId")?);
        let id = SpanId(parse_hex(&self.id.0, 16, "id")? as u64);
        let parent_id = match self.parent_id {
            // Some clients send an empty parentId for roots; Zipkin treats it as absent.
            Some(Str(p)) if !p.is_empty() => Some(SpanId(parse_hex(&p, 16, "parentId")? as u64)),
            _ => None,
        };
        let kind = self.kind.and_then(|Str(k)| {
            let parsed = Kind::parse(&k);
            if parsed.is_none() {
                warnings.push(format!("unknown span kind {k:?} ignored"));
            }
            parsed
        });
        let timestamp_us = micros(self.timestamp, "timestamp", &mut warnings);
        let duration_us = micros(self.duration, "duration", &mut warnings);
        let local_endpoint = self.local_endpoint.map(|e| e.into_endpoint(&mut warnings));
        let remote_endpoint = self.remote_endpoint.map(|e| e.into_endpoint(&mut warnings));
        let annotations = self
            .annotations
            .unwrap_or_default()
            .into_iter()
            .map(|a| Annotation {
                timestamp_us: micros(a.timestamp, "annotation timestamp", &mut warnings),
                value: a.value.map(|Str(v)| v).unwrap_or_default(),
            })
            .collect();
        Ok(ZipkinSpan {
            trace_id,
            id,
            parent_id,
            name: self.name.map(|Str(n)| n).unwrap_or_default(),
            kind,
            timestamp_us,
            duration_us,
            local_endpoint,
            remote_endpoint,
            annotations,
            tags: self.tags.map(|Tags(t)| t).unwrap_or_default(),
            debug: self.debug.unwrap_or(false),
            shared: self.shared.unwrap_or(false),
            warnings,
        })
    }
}

impl<'a> JsonEndpoint<'a> {
    fn into_endpoint(self, warnings: &mut Vec<String>) -> Endpoint<'a> {
        Endpoint {
            service_name: self.service_name.map(|Str(s)| s).unwrap_or_default(),
            ipv4: self
                .ipv4
                .and_then(|Str(ip)| ip_or_warn::<Ipv4Addr>(&ip, warnings)),
            ipv6: self
                .ipv6
                .and_then(|Str(ip)| ip_or_warn::<Ipv6Addr>(&ip, warnings)),
            port: self.port.and_then(|p| v2::port(p, warnings)),
        }
    }
}

/// An unparsable address is dropped rather than failing the batch: the span is still
/// useful, and Zipkin's server does the same.
fn ip_or_warn<T: std::str::FromStr>(text: &str, warnings: &mut Vec<String>) -> Option<T> {
    if text.is_empty() {
        return None;
    }
    let parsed = text.parse().ok();
    if parsed.is_none() {
        let shown: String = text.chars().take(64).collect();
        warnings.push(format!("invalid endpoint address {shown:?} ignored"));
    }
    parsed
}

fn micros(value: Option<i64>, what: &str, warnings: &mut Vec<String>) -> u64 {
    match value {
        None => 0,
        Some(v) => u64::try_from(v).unwrap_or_else(|_| {
            warnings.push(format!("negative {what} {v}us clamped to 0"));
            0
        }),
    }
}

/// 1 to `max_digits` hex digits (shorter IDs are zero-padded, as zipkin-go accepts).
fn parse_hex(text: &str, max_digits: usize, field: &str) -> Result<u128, DecodeError> {
    let bad = |reason: &str| {
        let shown: String = text.chars().take(40).collect();
        DecodeError::malformed(FORMAT, format!("{field} {shown:?}: {reason}"))
    };
    if text.is_empty() {
        return Err(bad("empty"));
    }
    if text.len() > max_digits {
        return Err(bad(&format!("longer than {max_digits} hex digits")));
    }
    text.chars().try_fold(0u128, |acc, c| {
        let digit = c.to_digit(16).ok_or_else(|| bad("not hexadecimal"))?;
        // At most 32 digits, so the shift never overflows.
        Ok((acc << 4) | u128::from(digit))
    })
}

/// A string borrowed from the payload when it has no escapes (serde only borrows a bare
/// `Cow<str>` field, not one inside an `Option`, hence this wrapper).
struct Str<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// The `tags` object, in wire order. Zipkin requires string values; numbers and booleans
/// are accepted as their text (some clients send them) and `null` values are skipped
/// (the OTel Python exporter writes `"otel.library.version": null`). Arrays and objects
/// are a type error.
struct Tags<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'de: 'a, 'a> Deserialize<'de> for Tags<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Tags<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of string tags")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut tags = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
                    if let Some(TagValue(value)) = map.next_value::<Option<TagValue<'de>>>()? {
                        tags.push((key, value));
                    }
                }
                Ok(Tags(tags))
            }
        }
        d.deserialize_map(V)
    }
}

struct TagValue<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for TagValue<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TagValue<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean tag value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(TagValue(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(TagValue(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(TagValue(Cow::Owned(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(TagValue(Cow::Borrowed(if v { "true" } else { "false" })))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(TagValue(Cow::Owned(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(TagValue(Cow::Owned(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(TagValue(Cow::Owned(format_float(v))))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ids() {
        assert_eq!(parse_hex("2", 32, "t"), Ok(2));
        assert_eq!(parse_hex("00000000000000FF", 16, "t"), Ok(255));
        assert_eq!(parse_hex(&"f".repeat(32), 32, "t"), Ok(u128::MAX));
        for bad in ["", "+1", "-1", "0x1", "g", " 1", "é"] {
            assert!(parse_hex(bad, 32, "t").is_err(), "{bad:?}");
        }
        assert!(parse_hex(&"1".repeat(17), 16, "t").is_err());
        assert!(parse_hex(&"0".repeat(33), 32, "t").is_err());
    }

    #[test]
    fn strings_borrow_from_the_payload_unless_escaped() {
        let spans: Vec<JsonSpan<'_>> =
            serde_json::from_str(r#"[{"traceId":"1","id":"2","name":"a\"b","tags":{"k":"v"}}]"#)
                .unwrap();
        let z = spans.into_iter().next().unwrap().into_zipkin().unwrap();
        assert!(matches!(z.name, Cow::Owned(_)));
        assert!(z
            .tags
            .iter()
            .all(|(k, v)| matches!((k, v), (Cow::Borrowed(_), Cow::Borrowed(_)))));
    }
}
