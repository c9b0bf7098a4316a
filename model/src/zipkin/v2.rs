//! The neutral Zipkin v2 span: what every Zipkin wire format decodes into before the one
//! mapping in [`super::convert`] turns it into a [`crate::Span`].
//!
//! It is the Zipkin v2 data model with the wire details already settled (IDs parsed,
//! addresses parsed, "absent" made explicit), and strings borrowed from the payload where
//! the format allows, so a structural decoder allocates as little as possible.

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::span::{SpanId, TraceId};

/// Zipkin's span kinds; an absent kind is `None` on [`ZipkinSpan::kind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Client,
    Server,
    Producer,
    Consumer,
}

impl Kind {
    /// The JSON spelling (`CLIENT`, …); case-insensitive, unknown → `None`.
    pub(crate) fn parse(s: &str) -> Option<Kind> {
        [
            ("CLIENT", Kind::Client),
            ("SERVER", Kind::Server),
            ("PRODUCER", Kind::Producer),
            ("CONSUMER", Kind::Consumer),
        ]
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(s))
        .map(|(_, k)| k)
    }
}

/// The network context of a node. Invalid parts are dropped by the decoders (with a span
/// warning), so what is here is well-formed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub(crate) struct Endpoint<'a> {
    pub service_name: Cow<'a, str>,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    pub port: Option<u16>,
}

impl Endpoint<'_> {
    pub(crate) fn into_owned(self) -> Endpoint<'static> {
        Endpoint {
            service_name: Cow::Owned(self.service_name.into_owned()),
            ipv4: self.ipv4,
            ipv6: self.ipv6,
            port: self.port,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Annotation<'a> {
    /// Epoch microseconds; 0 when absent.
    pub timestamp_us: u64,
    pub value: Cow<'a, str>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub(crate) struct ZipkinSpan<'a> {
    pub trace_id: TraceId,
    pub id: SpanId,
    pub parent_id: Option<SpanId>,
    pub name: Cow<'a, str>,
    pub kind: Option<Kind>,
    /// Epoch microseconds; 0 when absent (Zipkin: "zero is an invalid timestamp").
    pub timestamp_us: u64,
    pub duration_us: u64,
    pub local_endpoint: Option<Endpoint<'a>>,
    pub remote_endpoint: Option<Endpoint<'a>>,
    pub annotations: Vec<Annotation<'a>>,
    /// In wire order; duplicates are resolved by the mapping (last wins).
    pub tags: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub debug: bool,
    pub shared: bool,
    /// Problems the structural decoder tolerated (an unparsable IP, an unknown kind, …).
    pub warnings: Vec<String>,
}

/// Port numbers as the wire formats carry them (JSON number, proto `int32`): 0 means
/// absent, anything outside `u16` is dropped with a warning.
pub(crate) fn port(value: i64, warnings: &mut Vec<String>) -> Option<u16> {
    match u16::try_from(value) {
        Ok(0) => None,
        Ok(p) => Some(p),
        Err(_) => {
            warnings.push(format!("invalid endpoint port {value} ignored"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_case_insensitively() {
        assert_eq!(Kind::parse("CLIENT"), Some(Kind::Client));
        assert_eq!(Kind::parse("server"), Some(Kind::Server));
        assert_eq!(Kind::parse("Producer"), Some(Kind::Producer));
        assert_eq!(Kind::parse("CONSUMER"), Some(Kind::Consumer));
        assert_eq!(Kind::parse("INTERNAL"), None);
    }

    #[test]
    fn ports_outside_u16_are_dropped_with_a_warning() {
        let mut w = Vec::new();
        assert_eq!(port(0, &mut w), None);
        assert_eq!(port(8080, &mut w), Some(8080));
        assert!(w.is_empty());
        assert_eq!(port(-1, &mut w), None);
        assert_eq!(port(70000, &mut w), None);
        assert_eq!(w.len(), 2);
    }
}
