//! The one mapping from a neutral Zipkin v2 span to the internal [`Span`]; every Zipkin
//! decoder ends here, so the formats cannot drift apart. The rules are listed in the
//! [module docs of `zipkin`](super).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use super::event::annotation_to_event;
use super::v2::{Endpoint, Kind, ZipkinSpan};
use super::{
    ATTR_PEER_IP, ATTR_PEER_IPV6, ATTR_PEER_PORT, ATTR_PEER_SERVICE, ATTR_SHARED,
    ATTR_START_TIME_ABSENT, RESOURCE_HOST_IP, RESOURCE_HOST_IPV6, RESOURCE_HOST_PORT,
};
use crate::error::DecodeError;
use crate::jaeger::{
    TAG_ERROR, TAG_LIBRARY_NAME, TAG_LIBRARY_VERSION, TAG_SCOPE_NAME, TAG_SCOPE_VERSION,
    TAG_SPAN_KIND, TAG_STATUS_CODE, TAG_STATUS_DESCRIPTION, TAG_TRACE_STATE,
};
use crate::span::{
    AnyValue, KeyValue, Resource, Scope, Span, SpanId, SpanKind, Status, StatusCode,
};

type Tag<'a> = (Cow<'a, str>, Cow<'a, str>);

/// Converts the spans of one batch, sharing one `Arc<Resource>` per distinct local
/// endpoint and one `Arc<Scope>` per distinct scope. The caches live as long as the batch,
/// so they are bounded by its size.
pub(crate) struct Converter {
    format: &'static str,
    resources: HashMap<Endpoint<'static>, Arc<Resource>>,
    scopes: HashMap<(String, String), Arc<Scope>>,
    empty_scope: Arc<Scope>,
}

impl Converter {
    pub(crate) fn new(format: &'static str) -> Self {
        Converter {
            format,
            resources: HashMap::new(),
            scopes: HashMap::new(),
            empty_scope: Arc::default(),
        }
    }

    pub(crate) fn convert(&mut self, z: ZipkinSpan<'_>) -> Result<Span, DecodeError> {
        let ZipkinSpan {
            trace_id,
            id,
            parent_id,
            name,
            kind,
            timestamp_us,
            duration_us,
            local_endpoint,
            remote_endpoint,
            annotations,
            tags,
            debug,
            shared,
            mut warnings,
        } = z;
        if trace_id.is_zero() {
            return Err(DecodeError::malformed(self.format, "traceId is zero"));
        }
        if id.is_zero() {
            return Err(DecodeError::malformed(self.format, "span id is zero"));
        }
        let parent_span_id = match parent_id {
            Some(p) if p == id => {
                warnings.push(format!("parentId {p} equals the span's own id; dropped"));
                SpanId(0)
            }
            Some(p) => p,
            None => SpanId(0),
        };

        let mut tags = normalize(tags);
        let kind = match kind {
            Some(k) => span_kind(k),
            // Only a span without a Zipkin kind reads `span.kind` (OTel does the same).
            None => lift(&mut tags, TAG_SPAN_KIND, SpanKind::from_jaeger_str)
                .unwrap_or(SpanKind::Unspecified),
        };
        let status = lift_status(&mut tags);
        let trace_state =
            lift(&mut tags, TAG_TRACE_STATE, |v| Some(v.to_string())).unwrap_or_default();
        let scope = self.scope(&mut tags);

        let mut attributes: Vec<KeyValue> = tags
            .into_iter()
            .map(|(k, v)| KeyValue::new(k.into_owned(), v.into_owned()))
            .collect();
        if shared {
            set(&mut attributes, ATTR_SHARED, AnyValue::Bool(true));
        }
        if timestamp_us == 0 {
            set(
                &mut attributes,
                ATTR_START_TIME_ABSENT,
                AnyValue::Bool(true),
            );
        }
        if let Some(remote) = remote_endpoint {
            if !remote.service_name.is_empty() {
                let service = remote.service_name.to_string();
                set(&mut attributes, ATTR_PEER_SERVICE, AnyValue::Str(service));
            }
            for (key, value) in
                address_attributes(&remote, [ATTR_PEER_IP, ATTR_PEER_IPV6, ATTR_PEER_PORT])
            {
                set(&mut attributes, key, value);
            }
        }

        let events = annotations
            .into_iter()
            .map(|a| annotation_to_event(&a.value, us_to_ns(a.timestamp_us)))
            .collect();
        let start = us_to_ns(timestamp_us);

        Ok(Span {
            trace_id,
            span_id: id,
            parent_span_id,
            trace_state,
            name: name.into_owned(),
            kind,
            start_time_unix_nano: start,
            end_time_unix_nano: start.saturating_add(us_to_ns(duration_us)),
            attributes,
            events,
            status,
            // A reported Zipkin span was sampled; debug is Jaeger's bit 1.
            flags: if debug { 0b11 } else { 0b01 },
            resource: self.resource(local_endpoint.unwrap_or_default()),
            scope,
            warnings,
            ..Default::default()
        })
    }

    fn resource(&mut self, endpoint: Endpoint<'_>) -> Arc<Resource> {
        // `HashMap` is covariant in its key, so the 'static-keyed cache can be searched
        // with a borrowed endpoint without allocating.
        let cache: &HashMap<Endpoint<'_>, Arc<Resource>> = &self.resources;
        if let Some(found) = cache.get(&endpoint) {
            return found.clone();
        }
        let resource = Arc::new(Resource {
            service_name: endpoint.service_name.to_string(),
            attributes: address_attributes(
                &endpoint,
                [RESOURCE_HOST_IP, RESOURCE_HOST_IPV6, RESOURCE_HOST_PORT],
            )
            .map(|(key, value)| KeyValue::new(key, value))
            .collect(),
            ..Default::default()
        });
        self.resources
            .insert(endpoint.into_owned(), resource.clone());
        resource
    }

    /// Lifts `otel.scope.*` (or the older `otel.library.*`) tags into a shared scope.
    fn scope(&mut self, tags: &mut Vec<Tag<'_>>) -> Arc<Scope> {
        let mut name = lift(tags, TAG_SCOPE_NAME, |v| Some(v.to_string()));
        let mut version = lift(tags, TAG_SCOPE_VERSION, |v| Some(v.to_string()));
        let library_name = lift(tags, TAG_LIBRARY_NAME, |v| Some(v.to_string()));
        let library_version = lift(tags, TAG_LIBRARY_VERSION, |v| Some(v.to_string()));
        name = name.or(library_name);
        version = version.or(library_version);
        if name.is_none() && version.is_none() {
            return self.empty_scope.clone();
        }
        let key = (name.unwrap_or_default(), version.unwrap_or_default());
        self.scopes
            .entry(key)
            .or_insert_with_key(|(name, version)| {
                Arc::new(Scope {
                    name: name.clone(),
                    version: version.clone(),
                    ..Default::default()
                })
            })
            .clone()
    }
}

fn span_kind(kind: Kind) -> SpanKind {
    match kind {
        Kind::Client => SpanKind::Client,
        Kind::Server => SpanKind::Server,
        Kind::Producer => SpanKind::Producer,
        Kind::Consumer => SpanKind::Consumer,
    }
}

fn us_to_ns(us: u64) -> u64 {
    us.saturating_mul(1000)
}

/// Sorts tags by key (proto maps have no order, and both formats must agree) and keeps the
/// last value of a repeated key, as a JSON object or a protobuf map would.
fn normalize(mut tags: Vec<Tag<'_>>) -> Vec<Tag<'_>> {
    tags.reverse();
    tags.sort_by(|a, b| a.0.cmp(&b.0)); // stable: the originally-last duplicate comes first
    tags.dedup_by(|later, first| later.0 == first.0);
    tags
}

/// Removes the tag `key` when `parse` accepts its value; a value it rejects stays a tag.
fn lift<T>(tags: &mut Vec<Tag<'_>>, key: &str, parse: impl FnOnce(&str) -> Option<T>) -> Option<T> {
    let pos = tags.iter().position(|(k, _)| k == key)?;
    let value = tags.get(pos).and_then(|(_, v)| parse(v))?;
    tags.remove(pos);
    Some(value)
}

fn lift_status(tags: &mut Vec<Tag<'_>>) -> Status {
    let mut status = Status::default();
    if let Some(code) = lift(tags, TAG_STATUS_CODE, status_code) {
        status.code = code;
        if let Some(message) = lift(tags, TAG_STATUS_DESCRIPTION, |v| Some(v.to_string())) {
            status.message = message;
        }
    }
    if status.code != StatusCode::Ok {
        // Zipkin marks a failed span with an `error` tag whose value is the message;
        // only an explicit `false` means "no error".
        let error = lift(tags, TAG_ERROR, |v| {
            (!v.eq_ignore_ascii_case("false")).then(|| v.to_string())
        });
        if let Some(message) = error {
            status.code = StatusCode::Error;
            if status.message.is_empty() && !message.eq_ignore_ascii_case("true") {
                status.message = message;
            }
        }
    }
    status
}

/// `OK` / `ERROR` / `UNSET`, also in the `STATUS_CODE_*` spelling, case-insensitively.
fn status_code(v: &str) -> Option<StatusCode> {
    let upper = v.to_ascii_uppercase();
    match upper.strip_prefix("STATUS_CODE_").unwrap_or(&upper) {
        "OK" => Some(StatusCode::Ok),
        "ERROR" => Some(StatusCode::Error),
        "UNSET" => Some(StatusCode::Unset),
        _ => None,
    }
}

/// An endpoint's address as attributes under `[ip, ipv6, port]` keys: IPv4 (else IPv6) as
/// `ip`, IPv6 as `ipv6` only when both are present, the port as an int.
fn address_attributes(
    endpoint: &Endpoint<'_>,
    [ip_key, ipv6_key, port_key]: [&'static str; 3],
) -> impl Iterator<Item = (&'static str, AnyValue)> {
    let (ip, ipv6) = match (endpoint.ipv4, endpoint.ipv6) {
        (Some(v4), v6) => (Some(v4.to_string()), v6.map(|a| a.to_string())),
        (None, v6) => (v6.map(|a| a.to_string()), None),
    };
    [
        ip.map(|ip| (ip_key, AnyValue::Str(ip))),
        ipv6.map(|ip| (ipv6_key, AnyValue::Str(ip))),
        endpoint
            .port
            .map(|port| (port_key, AnyValue::Int(i64::from(port)))),
    ]
    .into_iter()
    .flatten()
}

/// Sets `key`, replacing an attribute (e.g. a tag) of the same key.
fn set(attributes: &mut Vec<KeyValue>, key: &str, value: AnyValue) {
    match attributes.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = value,
        None => attributes.push(KeyValue::new(key, value)),
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::span::TraceId;

    fn tags(pairs: &[(&'static str, &'static str)]) -> Vec<Tag<'static>> {
        pairs
            .iter()
            .map(|(k, v)| (Cow::Borrowed(*k), Cow::Borrowed(*v)))
            .collect()
    }

    fn span(tag_pairs: &[(&'static str, &'static str)]) -> ZipkinSpan<'static> {
        ZipkinSpan {
            trace_id: TraceId(1),
            id: SpanId(2),
            timestamp_us: 10,
            tags: tags(tag_pairs),
            ..Default::default()
        }
    }

    fn convert(z: ZipkinSpan<'_>) -> Span {
        Converter::new("test").convert(z).expect("valid span")
    }

    #[test]
    fn duplicate_tags_keep_the_last_value_and_sort() {
        let got = normalize(tags(&[("b", "1"), ("a", "x"), ("b", "2"), ("b", "3")]));
        assert_eq!(got, tags(&[("a", "x"), ("b", "3")]));
    }

    #[test]
    fn status_from_otel_tags_and_error_tag() {
        let s = convert(span(&[("otel.status_code", "ERROR"), ("error", "boom")]));
        assert_eq!(s.status.code, StatusCode::Error);
        assert_eq!(s.status.message, "boom");
        assert!(s.attributes.is_empty());

        let s = convert(span(&[("error", "true")]));
        assert_eq!(
            (s.status.code, s.status.message.as_str()),
            (StatusCode::Error, "")
        );

        let s = convert(span(&[("error", "")]));
        assert_eq!(
            s.status.code,
            StatusCode::Error,
            "presence of `error` is an error"
        );

        let s = convert(span(&[("error", "false")]));
        assert_eq!(s.status.code, StatusCode::Unset);
        assert_eq!(s.attributes, vec![KeyValue::new("error", "false")]);

        let s = convert(span(&[
            ("otel.status_code", "STATUS_CODE_OK"),
            ("error", "x"),
        ]));
        assert_eq!(s.status.code, StatusCode::Ok);
        assert_eq!(s.attributes, vec![KeyValue::new("error", "x")]);

        let s = convert(span(&[("otel.status_code", "weird")]));
        assert_eq!(s.status.code, StatusCode::Unset);
        assert_eq!(
            s.attributes,
            vec![KeyValue::new("otel.status_code", "weird")]
        );
    }

    #[test]
    fn span_kind_tag_only_without_zipkin_kind() {
        assert_eq!(
            convert(span(&[("span.kind", "internal")])).kind,
            SpanKind::Internal
        );
        let mut z = span(&[("span.kind", "internal")]);
        z.kind = Some(Kind::Client);
        let s = convert(z);
        assert_eq!(s.kind, SpanKind::Client);
        assert_eq!(s.attributes, vec![KeyValue::new("span.kind", "internal")]);
        let s = convert(span(&[("span.kind", "sideways")]));
        assert_eq!(s.kind, SpanKind::Unspecified);
        assert_eq!(s.attributes.len(), 1, "an unknown kind stays a tag");
    }

    #[test]
    fn scope_and_trace_state_are_lifted_and_scopes_shared() {
        let mut c = Converter::new("test");
        let a = c
            .convert(span(&[
                ("otel.library.name", "requests"),
                ("otel.library.version", "1.0"),
                ("w3c.tracestate", "k=v"),
            ]))
            .unwrap();
        let b = c
            .convert(span(&[
                ("otel.scope.name", "requests"),
                ("otel.scope.version", "1.0"),
            ]))
            .unwrap();
        assert_eq!(a.scope.name, "requests");
        assert_eq!(a.scope.version, "1.0");
        assert_eq!(a.trace_state, "k=v");
        assert!(a.attributes.is_empty());
        assert!(Arc::ptr_eq(&a.scope, &b.scope));
    }

    #[test]
    fn endpoints_map_to_resource_and_peer_attributes() {
        let mut c = Converter::new("test");
        let local = Endpoint {
            service_name: "frontend".into(),
            ipv4: Some(Ipv4Addr::new(10, 0, 0, 1)),
            ipv6: Some(Ipv6Addr::LOCALHOST),
            port: Some(8080),
        };
        let mut z = span(&[("peer.service", "overridden")]);
        z.local_endpoint = Some(local.clone());
        z.remote_endpoint = Some(Endpoint {
            service_name: "db".into(),
            ipv6: Some(Ipv6Addr::LOCALHOST),
            port: Some(5432),
            ..Default::default()
        });
        let a = c.convert(z).unwrap();
        assert_eq!(a.resource.service_name, "frontend");
        assert_eq!(
            a.resource.attributes,
            vec![
                KeyValue::new("net.host.ip", "10.0.0.1"),
                KeyValue::new("net.host.ipv6", "::1"),
                KeyValue::new("net.host.port", 8080i64),
            ]
        );
        assert_eq!(
            a.attributes,
            vec![
                KeyValue::new("peer.service", "db"),
                KeyValue::new("net.peer.ip", "::1"),
                KeyValue::new("net.peer.port", 5432i64),
            ]
        );
        let mut z = span(&[]);
        z.local_endpoint = Some(local);
        let b = c.convert(z).unwrap();
        assert!(Arc::ptr_eq(&a.resource, &b.resource));
        let none = c.convert(span(&[])).unwrap();
        assert_eq!(*none.resource, Resource::default());
    }

    #[test]
    fn ids_times_flags_and_markers() {
        let mut z = span(&[]);
        z.parent_id = Some(SpanId(2));
        z.timestamp_us = 0;
        z.duration_us = 5;
        z.debug = true;
        z.shared = true;
        let s = convert(z);
        assert_eq!(s.parent_span_id, SpanId(0));
        assert_eq!(s.warnings.len(), 1);
        assert_eq!((s.start_time_unix_nano, s.end_time_unix_nano), (0, 5000));
        assert_eq!(s.flags, 0b11);
        assert_eq!(
            s.attributes,
            vec![
                KeyValue::new(ATTR_SHARED, true),
                KeyValue::new(ATTR_START_TIME_ABSENT, true),
            ]
        );

        let mut zero = span(&[]);
        zero.trace_id = TraceId(0);
        assert!(Converter::new("t").convert(zero).is_err());
        let mut zero = span(&[]);
        zero.id = SpanId(0);
        assert!(Converter::new("t").convert(zero).is_err());
    }
}
