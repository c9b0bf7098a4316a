//! Zipkin v1 JSON (`POST /api/v1/spans`, `application/json`): a JSON array of v1 spans,
//! decoded structurally into [`V1Span`] and translated by [`super::v1`].
//!
//! Unknown fields are ignored and `null` means absent; binary annotation values may be
//! strings, booleans or numbers (kept as their text, whatever `type` says).

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Deserialize;

use super::convert::Converter;
use super::v1::{to_v2, V1Annotation, V1Binary, V1Span, V1Value};
use super::v2::{self, Endpoint};
use crate::error::DecodeError;
use crate::span::{Span, SpanId, TraceId};

const FORMAT: &str = "zipkin v1 json";

/// Decodes a Zipkin v1 JSON body (an array of spans).
pub fn decode_v1_json(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let spans: Vec<JsonSpan> =
        serde_json::from_slice(body).map_err(|e| DecodeError::malformed(FORMAT, e.to_string()))?;
    let mut converter = Converter::new(FORMAT);
    let mut out = Vec::with_capacity(spans.len());
    for span in spans {
        for z in to_v2(span.into_v1()?) {
            out.push(converter.convert(z)?);
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonSpan {
    trace_id: String,
    id: String,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default)]
    duration: Option<i64>,
    #[serde(default)]
    annotations: Option<Vec<JsonAnnotation>>,
    #[serde(default)]
    binary_annotations: Option<Vec<JsonBinary>>,
    #[serde(default)]
    debug: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonEndpoint {
    #[serde(default)]
    service_name: Option<String>,
    #[serde(default)]
    ipv4: Option<String>,
    #[serde(default)]
    ipv6: Option<String>,
    #[serde(default)]
    port: Option<i64>,
}

#[derive(Deserialize)]
struct JsonAnnotation {
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    endpoint: Option<JsonEndpoint>,
}

#[derive(Deserialize)]
struct JsonBinary {
    key: String,
    #[serde(default)]
    value: serde_json::Value,
    #[serde(default)]
    endpoint: Option<JsonEndpoint>,
}

impl JsonSpan {
    fn into_v1(self) -> Result<V1Span<'static>, DecodeError> {
        let mut warnings = Vec::new();
        let trace_id = TraceId(parse_hex(&self.trace_id, 32, "traceId")?);
        let id = SpanId(parse_hex(&self.id, 16, "id")? as u64);
        let parent_id = match self.parent_id.as_deref() {
            Some(p) if !p.is_empty() => Some(SpanId(parse_hex(p, 16, "parentId")? as u64)),
            _ => None,
        };
        let timestamp_us = self
            .timestamp
            .and_then(|v| micros(v, "timestamp", &mut warnings));
        let duration_us = self
            .duration
            .and_then(|v| micros(v, "duration", &mut warnings));
        let annotations = self
            .annotations
            .unwrap_or_default()
            .into_iter()
            .map(|a| V1Annotation {
                timestamp_us: a
                    .timestamp
                    .and_then(|v| micros(v, "annotation timestamp", &mut warnings))
                    .unwrap_or(0),
                value: Cow::Owned(a.value.unwrap_or_default()),
                endpoint: a.endpoint.map(|e| e.into_endpoint(&mut warnings)),
            })
            .collect();
        let binary_annotations = self
            .binary_annotations
            .unwrap_or_default()
            .into_iter()
            .map(|b| V1Binary {
                key: Cow::Owned(b.key),
                value: match b.value {
                    serde_json::Value::Bool(v) => V1Value::Bool(v),
                    serde_json::Value::String(s) => V1Value::Text(Cow::Owned(s)),
                    other => V1Value::Text(Cow::Owned(other.to_string())),
                },
                endpoint: b.endpoint.map(|e| e.into_endpoint(&mut warnings)),
            })
            .collect();
        Ok(V1Span {
            trace_id,
            id,
            parent_id,
            name: Cow::Owned(self.name.unwrap_or_default()),
            timestamp_us,
            duration_us,
            annotations,
            binary_annotations,
            debug: self.debug.unwrap_or(false),
            warnings,
        })
    }
}

impl JsonEndpoint {
    fn into_endpoint(self, warnings: &mut Vec<String>) -> Endpoint<'static> {
        Endpoint {
            service_name: Cow::Owned(self.service_name.unwrap_or_default()),
            ipv4: self.ipv4.and_then(|ip| address::<Ipv4Addr>(&ip, warnings)),
            ipv6: self.ipv6.and_then(|ip| address::<Ipv6Addr>(&ip, warnings)),
            port: self.port.and_then(|p| v2::port(p, warnings)),
        }
    }
}

/// An unparsable address is dropped with a warning rather than failing the batch.
fn address<T: std::str::FromStr>(text: &str, warnings: &mut Vec<String>) -> Option<T> {
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

/// Zero means absent in Zipkin; negative values are dropped with a warning.
fn micros(value: i64, what: &str, warnings: &mut Vec<String>) -> Option<u64> {
    match u64::try_from(value) {
        Ok(0) => None,
        Ok(v) => Some(v),
        Err(_) => {
            warnings.push(format!("negative {what} {value}us ignored"));
            None
        }
    }
}

/// 1 to `max_digits` hex digits, as the v2 decoder accepts them.
fn parse_hex(text: &str, max_digits: usize, field: &str) -> Result<u128, DecodeError> {
    let bad = |reason: &str| {
        let shown: String = text.chars().take(40).collect();
        DecodeError::malformed(FORMAT, format!("{field} {shown:?}: {reason}"))
    };
    if text.is_empty() || text.len() > max_digits {
        return Err(bad(&format!("must be 1 to {max_digits} hex digits")));
    }
    text.chars().try_fold(0u128, |acc, c| {
        let digit = c.to_digit(16).ok_or_else(|| bad("not hexadecimal"))?;
        Ok((acc << 4) | u128::from(digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::find_attr;
    use crate::span::SpanKind;
    use crate::zipkin::ATTR_SHARED;

    #[test]
    fn decodes_a_shared_rpc_span_into_client_and_server() {
        let body = br#"[{"traceId":"000000000000000a","id":"b","name":"get","timestamp":100,
          "duration":30,"annotations":[
            {"timestamp":100,"value":"cs","endpoint":{"serviceName":"front","ipv4":"10.0.0.1"}},
            {"timestamp":110,"value":"sr","endpoint":{"serviceName":"back","port":8080}},
            {"timestamp":120,"value":"ss","endpoint":{"serviceName":"back","port":8080}},
            {"timestamp":130,"value":"cr","endpoint":{"serviceName":"front","ipv4":"10.0.0.1"}}],
          "binaryAnnotations":[
            {"key":"http.status_code","value":200,"endpoint":{"serviceName":"back","port":8080}},
            {"key":"error","value":"boom","endpoint":{"serviceName":"front","ipv4":"10.0.0.1"}}]}]"#;
        let spans = decode_v1_json(body).unwrap();
        assert_eq!(spans.len(), 2);
        let client = &spans[0];
        assert_eq!(client.service_name(), "front");
        assert_eq!(client.kind, SpanKind::Client);
        assert_eq!(client.start_time_unix_nano, 100_000);
        assert_eq!(client.end_time_unix_nano, 130_000);
        let server = &spans[1];
        assert_eq!(server.service_name(), "back");
        assert_eq!(server.kind, SpanKind::Server);
        assert_eq!(server.span_id, SpanId(0xb));
        assert!(find_attr(&server.attributes, ATTR_SHARED).is_some());
        assert_eq!(
            find_attr(&server.attributes, "http.status_code").and_then(|v| v.as_str()),
            Some("200")
        );
    }

    #[test]
    fn rejects_wrong_types_and_bad_ids() {
        assert!(decode_v1_json(b"{}").is_err());
        assert!(decode_v1_json(br#"[{"traceId":"xyz","id":"1"}]"#).is_err());
        assert!(decode_v1_json(br#"[{"traceId":"1","id":"0"}]"#).is_err());
        assert!(decode_v1_json(br#"[{"traceId":"1","id":"2","timestamp":"x"}]"#).is_err());
        assert!(decode_v1_json(b"[").is_err());
        assert_eq!(decode_v1_json(b"[]").unwrap().len(), 0);
    }
}
