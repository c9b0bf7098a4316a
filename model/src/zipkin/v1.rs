//! The Zipkin v1 data model and its one translation into neutral v2 spans
//! ([`ZipkinSpan`]), shared by the v1 JSON and v1 thrift decoders.
//!
//! The translation follows Zipkin's own `V1SpanConverter`:
//!
//! * The core annotations decide the kind: `cs`/`cr` → CLIENT, `sr`/`ss` → SERVER,
//!   `ms`/`ws` → PRODUCER, `mr`/`wr` → CONSUMER; their host is the local endpoint. They are
//!   consumed (not kept as events); other annotations become v2 annotations.
//! * A v1 span holding both client and server sides (one span ID reported by both
//!   hosts) becomes two v2 spans: the client span, and a `shared` server span.
//! * A server-only span without its own `timestamp` is `shared`: in v1 only the host that
//!   started a span reports its timestamp, so the server joined its client's span.
//! * Missing `timestamp`/`duration` are derived from the core annotations
//!   (`cr - cs`, `ss - sr`, `ws - ms`, `wr - mr`).
//! * Binary annotations `ca`, `sa`, `ma` (value `true`) carry the remote endpoint of the
//!   server, client and messaging sides; every other binary annotation is a tag, placed
//!   on the half whose host logged it.
//! * Without any core annotation, the local endpoint is the host of the first annotation
//!   or binary annotation that has one.

use std::borrow::Cow;

use super::v2::{Annotation, Endpoint, Kind, ZipkinSpan};
use crate::span::{SpanId, TraceId};

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct V1Annotation<'a> {
    pub timestamp_us: u64,
    pub value: Cow<'a, str>,
    pub endpoint: Option<Endpoint<'a>>,
}

/// A binary annotation's value: booleans matter (address annotations), every other type
/// is carried as its text, as Zipkin's converter writes typed values into v2 tags.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum V1Value<'a> {
    Bool(bool),
    Text(Cow<'a, str>),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct V1Binary<'a> {
    pub key: Cow<'a, str>,
    pub value: V1Value<'a>,
    pub endpoint: Option<Endpoint<'a>>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub(crate) struct V1Span<'a> {
    pub trace_id: TraceId,
    pub id: SpanId,
    pub parent_id: Option<SpanId>,
    pub name: Cow<'a, str>,
    pub timestamp_us: Option<u64>,
    pub duration_us: Option<u64>,
    pub annotations: Vec<V1Annotation<'a>>,
    pub binary_annotations: Vec<V1Binary<'a>>,
    pub debug: bool,
    pub warnings: Vec<String>,
}

/// One side of a v1 span: kind, local endpoint, start and duration derived from the core
/// annotations, remote endpoint.
type Half<'a> = (
    Option<Kind>,
    Option<Endpoint<'a>>,
    u64,
    u64,
    Option<Endpoint<'a>>,
);

/// The core annotations of one span, by their v1 names.
#[derive(Default)]
struct Core<'a> {
    cs: Option<(u64, Option<Endpoint<'a>>)>,
    cr: Option<u64>,
    sr: Option<(u64, Option<Endpoint<'a>>)>,
    ss: Option<u64>,
    ms: Option<(u64, Option<Endpoint<'a>>)>,
    ws: Option<u64>,
    mr: Option<(u64, Option<Endpoint<'a>>)>,
    wr: Option<u64>,
}

fn elapsed(start: u64, end: Option<u64>) -> u64 {
    end.map(|e| e.saturating_sub(start)).unwrap_or(0)
}

/// Translates one v1 span into one v2 span, or two when both RPC sides are in it.
pub(crate) fn to_v2(v1: V1Span<'_>) -> Vec<ZipkinSpan<'_>> {
    let V1Span {
        trace_id,
        id,
        parent_id,
        name,
        timestamp_us,
        duration_us,
        annotations,
        binary_annotations,
        debug,
        warnings,
    } = v1;

    let mut core = Core::default();
    let mut others = Vec::new();
    let mut first_host: Option<Endpoint<'_>> = None;
    for a in annotations {
        if first_host.is_none() {
            first_host.clone_from(&a.endpoint);
        }
        let ts = a.timestamp_us;
        match a.value.as_ref() {
            "cs" => core.cs = Some((ts, a.endpoint)),
            "cr" => core.cr = Some(ts),
            "sr" => core.sr = Some((ts, a.endpoint)),
            "ss" => core.ss = Some(ts),
            "ms" => core.ms = Some((ts, a.endpoint)),
            "ws" => core.ws = Some(ts),
            "mr" => core.mr = Some((ts, a.endpoint)),
            "wr" => core.wr = Some(ts),
            _ => others.push(a),
        }
    }

    let (mut ca, mut sa, mut ma) = (None, None, None);
    let mut tags = Vec::new();
    for b in binary_annotations {
        match (b.key.as_ref(), &b.value) {
            ("ca", V1Value::Bool(true)) => ca = b.endpoint,
            ("sa", V1Value::Bool(true)) => sa = b.endpoint,
            ("ma", V1Value::Bool(true)) => ma = b.endpoint,
            _ => {
                if first_host.is_none() {
                    first_host.clone_from(&b.endpoint);
                }
                let value = match b.value {
                    V1Value::Bool(v) => Cow::Borrowed(if v { "true" } else { "false" }),
                    V1Value::Text(t) => t,
                };
                tags.push((b.key, value, b.endpoint));
            }
        }
    }

    let base = ZipkinSpan {
        trace_id,
        id,
        parent_id,
        name,
        debug,
        warnings,
        ..ZipkinSpan::default()
    };
    let mut spans = Vec::with_capacity(2);
    let mut halves: Vec<Half<'_>> = Vec::with_capacity(2);
    if let Some((start, host)) = core.cs.take() {
        // Without `sa`, a client sharing the span with its server knows the server's host.
        let remote = sa
            .take()
            .or_else(|| core.sr.as_ref().and_then(|s| s.1.clone()));
        halves.push((
            Some(Kind::Client),
            host,
            start,
            elapsed(start, core.cr),
            remote,
        ));
    }
    if let Some((start, host)) = core.sr.take() {
        halves.push((
            Some(Kind::Server),
            host,
            start,
            elapsed(start, core.ss),
            ca.take(),
        ));
    }
    if let Some((start, host)) = core.ms.take() {
        halves.push((
            Some(Kind::Producer),
            host,
            start,
            elapsed(start, core.ws),
            ma.take(),
        ));
    } else if let Some((start, host)) = core.mr.take() {
        halves.push((
            Some(Kind::Consumer),
            host,
            start,
            elapsed(start, core.wr),
            ma.take(),
        ));
    }
    if halves.is_empty() {
        halves.push((None, first_host, 0, 0, sa.or(ca).or(ma)));
    }

    let both_sides = halves.len() > 1;
    // Tags and plain annotations go to the half whose host logged them; those without a
    // host, or from a host matching no half, to the first half.
    let locals: Vec<Option<Endpoint<'_>>> = halves.iter().map(|h| h.1.clone()).collect();
    let owner = |e: &Option<Endpoint<'_>>| {
        e.as_ref()
            .and_then(|e| locals.iter().position(|l| l.as_ref() == Some(e)))
            .unwrap_or(0)
    };
    for (index, (kind, local, start, derived, remote)) in halves.into_iter().enumerate() {
        let mut span = base.clone();
        let is_first = index == 0;
        // The span's own timestamp/duration belong to the side that started it: the
        // first half (the client when both sides are present).
        span.timestamp_us = match timestamp_us {
            Some(ts) if is_first => ts,
            _ => start,
        };
        span.duration_us = match duration_us {
            Some(d) if is_first => d,
            _ => derived,
        };
        span.shared = kind == Some(Kind::Server) && (both_sides || timestamp_us.is_none());
        span.kind = kind;
        span.remote_endpoint = remote;
        span.local_endpoint = local;
        span.tags = tags
            .iter()
            .filter(|(_, _, e)| owner(e) == index)
            .map(|(k, v, _)| (k.clone(), v.clone()))
            .collect();
        span.annotations = others
            .iter()
            .filter(|a| owner(&a.endpoint) == index)
            .map(|a| Annotation {
                timestamp_us: a.timestamp_us,
                value: a.value.clone(),
            })
            .collect();
        spans.push(span);
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str) -> Option<Endpoint<'static>> {
        Some(Endpoint {
            service_name: Cow::Owned(name.to_string()),
            ..Endpoint::default()
        })
    }

    fn ann(ts: u64, value: &'static str, host: Option<Endpoint<'static>>) -> V1Annotation<'static> {
        V1Annotation {
            timestamp_us: ts,
            value: Cow::Borrowed(value),
            endpoint: host,
        }
    }

    fn span(annotations: Vec<V1Annotation<'static>>) -> V1Span<'static> {
        V1Span {
            trace_id: TraceId(1),
            id: SpanId(2),
            name: Cow::Borrowed("get"),
            annotations,
            ..V1Span::default()
        }
    }

    #[test]
    fn client_and_server_in_one_span_split_into_two() {
        let mut v1 = span(vec![
            ann(100, "cs", host("front")),
            ann(110, "sr", host("back")),
            ann(120, "ss", host("back")),
            ann(130, "cr", host("front")),
            ann(115, "cache miss", host("back")),
        ]);
        v1.timestamp_us = Some(100);
        v1.binary_annotations.push(V1Binary {
            key: Cow::Borrowed("http.path"),
            value: V1Value::Text(Cow::Borrowed("/x")),
            endpoint: host("back"),
        });
        let out = to_v2(v1);
        assert_eq!(out.len(), 2);
        let (client, server) = (&out[0], &out[1]);
        assert_eq!(client.kind, Some(Kind::Client));
        assert_eq!((client.timestamp_us, client.duration_us), (100, 30));
        assert!(!client.shared);
        assert_eq!(client.remote_endpoint, host("back"));
        assert!(client.tags.is_empty());
        assert_eq!(server.kind, Some(Kind::Server));
        assert_eq!((server.timestamp_us, server.duration_us), (110, 10));
        assert!(server.shared);
        assert_eq!(server.tags.len(), 1);
        assert_eq!(server.annotations.len(), 1);
    }

    #[test]
    fn server_without_timestamp_is_shared_and_addresses_become_remote() {
        let mut v1 = span(vec![
            ann(10, "sr", host("back")),
            ann(25, "ss", host("back")),
        ]);
        v1.binary_annotations.push(V1Binary {
            key: Cow::Borrowed("ca"),
            value: V1Value::Bool(true),
            endpoint: host("caller"),
        });
        let out = to_v2(v1);
        assert_eq!(out.len(), 1);
        assert!(out[0].shared);
        assert_eq!(out[0].duration_us, 15);
        assert_eq!(out[0].remote_endpoint, host("caller"));
        assert_eq!(out[0].local_endpoint, host("back"));
    }

    #[test]
    fn local_span_takes_the_first_host_and_keeps_its_times() {
        let mut v1 = span(vec![]);
        v1.timestamp_us = Some(5);
        v1.duration_us = Some(7);
        v1.binary_annotations.push(V1Binary {
            key: Cow::Borrowed("lc"),
            value: V1Value::Text(Cow::Borrowed("worker")),
            endpoint: host("svc"),
        });
        let out = to_v2(v1);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].kind, None);
        assert_eq!((out[0].timestamp_us, out[0].duration_us), (5, 7));
        assert_eq!(out[0].local_endpoint, host("svc"));
        assert_eq!(out[0].tags.len(), 1);
        assert!(!out[0].shared);
    }
}
