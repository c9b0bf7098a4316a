//! The storage_v1 request shapes ⇄ the storage traits' arguments, and errors ⇄ gRPC status.
//!
//! Spans themselves are converted by `sextant_model::api_v2` (the one api_v2 mapping); this
//! file holds only what is specific to the remote storage API: queries, times, span kinds,
//! dependency links and error codes.
//!
//! Times: upstream marks every `Timestamp`/`Duration` here non-nullable (gogoproto), so a Go
//! client sends an *unset* time as Go's zero `time.Time` (0001-01-01, see
//! [`GO_ZERO_TIME_SECONDS`]) and an unset duration as 0, and Jaeger's stores treat exactly
//! those values as "no constraint". We read them the same way, and read an absent field as
//! unset too; going out, an unset bound is left absent, which a Go server decodes as its zero
//! value. Any other time before 1970 cannot be a span time and is rejected.

use std::collections::HashMap;

use prost_types::{Duration as PbDuration, Timestamp};
use sextant_model::SpanKind;
use sextant_proto::jaeger::api_v2 as model_pb;
use sextant_proto::jaeger::storage::v1 as pb;
use tonic::{Code, Status};

use crate::{DependencyLink, StorageError, TraceQuery};

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// `time.Time{}` as gogoproto's stdtime encodes it (nanos 0): a Go client's "unset".
pub(crate) const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;

pub(crate) fn timestamp_from_ns(ns: u64) -> Timestamp {
    Timestamp {
        // u64::MAX / 1e9 fits an i64, and a remainder below 1e9 an i32.
        seconds: (ns / NANOS_PER_SECOND) as i64,
        nanos: (ns % NANOS_PER_SECOND) as i32,
    }
}

pub(crate) fn duration_from_ns(ns: u64) -> PbDuration {
    PbDuration {
        seconds: (ns / NANOS_PER_SECOND) as i64,
        nanos: (ns % NANOS_PER_SECOND) as i32,
    }
}

/// Unix nanoseconds of a wire time; `None` when absent or Go's zero time.
pub(crate) fn timestamp_to_ns(
    ts: Option<Timestamp>,
    field: &str,
) -> Result<Option<u64>, StorageError> {
    let Some(ts) = ts else { return Ok(None) };
    if ts.seconds == GO_ZERO_TIME_SECONDS && ts.nanos == 0 {
        return Ok(None);
    }
    seconds_nanos_to_ns(ts.seconds, ts.nanos)
        .map(Some)
        .ok_or_else(|| invalid(field, "is before 1970, after 2554 or malformed"))
}

/// Nanoseconds of a wire duration; `None` when absent or zero (Jaeger's "unset").
pub(crate) fn duration_to_ns(
    d: Option<PbDuration>,
    field: &str,
) -> Result<Option<u64>, StorageError> {
    match d {
        None => Ok(None),
        Some(d) if d.seconds == 0 && d.nanos == 0 => Ok(None),
        Some(d) => seconds_nanos_to_ns(d.seconds, d.nanos)
            .map(Some)
            .ok_or_else(|| invalid(field, "is negative, too large or malformed")),
    }
}

fn seconds_nanos_to_ns(seconds: i64, nanos: i32) -> Option<u64> {
    let seconds = u64::try_from(seconds).ok()?;
    let nanos = u64::try_from(nanos)
        .ok()
        .filter(|n| *n < NANOS_PER_SECOND)?;
    seconds.checked_mul(NANOS_PER_SECOND)?.checked_add(nanos)
}

fn invalid(field: &str, why: &str) -> StorageError {
    StorageError::InvalidQuery(format!("{field} {why}"))
}

/// A search as the client sends it.
///
/// Two things the wire cannot carry: the tags travel as a map, so of two constraints on the
/// same key only the last survives (Jaeger's HTTP API parses them into a map as well); and a
/// zero duration bound means "unset" on the wire.
pub(crate) fn query_to_proto(q: &TraceQuery) -> pb::TraceQueryParameters {
    pb::TraceQueryParameters {
        service_name: q.service_name.clone(),
        operation_name: q.operation_name.clone(),
        tags: q.tags.iter().cloned().collect::<HashMap<_, _>>(),
        start_time_min: q.start_time_min.map(timestamp_from_ns),
        start_time_max: q.start_time_max.map(timestamp_from_ns),
        duration_min: q.duration_min.map(duration_from_ns),
        duration_max: q.duration_max.map(duration_from_ns),
        // A limit above i32::MAX is "everything" either way.
        num_traces: i32::try_from(q.num_traces).unwrap_or(i32::MAX),
    }
}

/// A search as the server receives it; a request without a query is the empty query.
pub(crate) fn query_from_proto(
    q: Option<pb::TraceQueryParameters>,
) -> Result<TraceQuery, StorageError> {
    let q = q.unwrap_or_default();
    let mut tags: Vec<(String, String)> = q.tags.into_iter().collect();
    // The map arrives in no particular order; keep the query deterministic.
    tags.sort();
    Ok(TraceQuery {
        service_name: q.service_name,
        operation_name: q.operation_name,
        tags,
        start_time_min: timestamp_to_ns(q.start_time_min, "start_time_min")?,
        start_time_max: timestamp_to_ns(q.start_time_max, "start_time_max")?,
        duration_min: duration_to_ns(q.duration_min, "duration_min")?,
        duration_max: duration_to_ns(q.duration_max, "duration_max")?,
        num_traces: usize::try_from(q.num_traces)
            .map_err(|_| invalid("num_traces", "is negative"))?,
    })
}

/// The `span_kind` of a `GetOperationsRequest`: empty for "any kind". A request for the
/// unspecified kind only is sent as `unspecified`, which a Sextant server reads back and a
/// Jaeger server matches against nothing (Jaeger has no way to ask for it).
pub(crate) fn kind_filter_to_wire(kind: Option<SpanKind>) -> String {
    match kind {
        None => String::new(),
        Some(SpanKind::Unspecified) => "unspecified".to_string(),
        Some(k) => k.as_jaeger_str().to_string(),
    }
}

pub(crate) fn kind_filter_from_wire(kind: &str) -> Result<Option<SpanKind>, StorageError> {
    if kind.is_empty() {
        return Ok(None);
    }
    SpanKind::from_jaeger_str(kind)
        .map(Some)
        .ok_or_else(|| StorageError::InvalidQuery(format!("unknown span kind {kind:?}")))
}

pub(crate) fn link_to_proto(link: DependencyLink) -> model_pb::DependencyLink {
    model_pb::DependencyLink {
        parent: link.parent,
        child: link.child,
        call_count: link.call_count,
        source: String::new(),
    }
}

pub(crate) fn link_from_proto(link: model_pb::DependencyLink) -> DependencyLink {
    DependencyLink {
        parent: link.parent,
        child: link.child,
        call_count: link.call_count,
    }
}

/// A storage error as the server reports it. `Overloaded` becomes `RESOURCE_EXHAUSTED`
/// rather than `UNAVAILABLE` so that the client can tell "the store is busy" from "the
/// server cannot be reached" (which tonic reports as `UNAVAILABLE`).
pub(crate) fn status_from_error(e: StorageError) -> Status {
    match e {
        StorageError::InvalidQuery(m) => Status::invalid_argument(m),
        StorageError::Overloaded(m) => Status::resource_exhausted(m),
        StorageError::Backend(m) => Status::internal(m),
    }
}

/// A failed call as the client reports it; `rpc` names the call for the message.
pub(crate) fn error_from_status(rpc: &str, s: &Status) -> StorageError {
    match s.code() {
        Code::InvalidArgument => StorageError::InvalidQuery(s.message().to_string()),
        Code::ResourceExhausted => StorageError::Overloaded(s.message().to_string()),
        code => StorageError::Backend(format!(
            "remote storage {rpc}: {}: {}",
            code.description(),
            s.message()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_and_go_zero_time_is_unset() {
        let ns = 1_700_000_000_123_456_789;
        assert_eq!(
            timestamp_to_ns(Some(timestamp_from_ns(ns)), "t").unwrap(),
            Some(ns)
        );
        assert_eq!(timestamp_to_ns(None, "t").unwrap(), None);
        let go_zero = Timestamp {
            seconds: GO_ZERO_TIME_SECONDS,
            nanos: 0,
        };
        assert_eq!(timestamp_to_ns(Some(go_zero), "t").unwrap(), None);
        let before_1970 = Timestamp {
            seconds: -1,
            nanos: 0,
        };
        assert!(matches!(
            timestamp_to_ns(Some(before_1970), "t"),
            Err(StorageError::InvalidQuery(_))
        ));
        let bad_nanos = Timestamp {
            seconds: 1,
            nanos: 1_000_000_000,
        };
        assert!(timestamp_to_ns(Some(bad_nanos), "t").is_err());
        let overflow = Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        };
        assert!(timestamp_to_ns(Some(overflow), "t").is_err());
    }

    #[test]
    fn zero_duration_is_unset_and_negative_is_rejected() {
        assert_eq!(
            duration_to_ns(Some(duration_from_ns(0)), "d").unwrap(),
            None
        );
        assert_eq!(
            duration_to_ns(Some(duration_from_ns(1_500_000_000)), "d").unwrap(),
            Some(1_500_000_000)
        );
        let negative = PbDuration {
            seconds: -1,
            nanos: 0,
        };
        assert!(duration_to_ns(Some(negative), "d").is_err());
    }

    #[test]
    fn query_round_trips() {
        let q = TraceQuery {
            service_name: "svc".into(),
            operation_name: "op".into(),
            tags: vec![("a".into(), "1".into()), ("b".into(), "x.*".into())],
            start_time_min: Some(1_000),
            start_time_max: Some(2_000_000_000_001),
            duration_min: Some(5),
            duration_max: Some(7_000_000_000),
            num_traces: 20,
        };
        assert_eq!(query_from_proto(Some(query_to_proto(&q))).unwrap(), q);
        assert_eq!(query_from_proto(None).unwrap(), TraceQuery::default());
        let negative_limit = pb::TraceQueryParameters {
            num_traces: -1,
            ..Default::default()
        };
        assert!(query_from_proto(Some(negative_limit)).is_err());
    }

    #[test]
    fn span_kind_filters() {
        for kind in [
            None,
            Some(SpanKind::Unspecified),
            Some(SpanKind::Server),
            Some(SpanKind::Consumer),
        ] {
            assert_eq!(
                kind_filter_from_wire(&kind_filter_to_wire(kind)).unwrap(),
                kind
            );
        }
        assert!(kind_filter_from_wire("sideways").is_err());
    }

    #[test]
    fn errors_keep_their_kind_across_the_wire() {
        let back = |e| error_from_status("X", &status_from_error(e));
        assert!(matches!(
            back(StorageError::InvalidQuery("bad regex".into())),
            StorageError::InvalidQuery(m) if m == "bad regex"
        ));
        assert!(matches!(
            back(StorageError::Overloaded("busy".into())),
            StorageError::Overloaded(m) if m == "busy"
        ));
        assert!(matches!(
            back(StorageError::Backend("disk".into())),
            StorageError::Backend(m) if m.contains("disk") && m.contains("X")
        ));
        assert!(matches!(
            error_from_status("X", &Status::unavailable("connection refused")),
            StorageError::Backend(_)
        ));
    }
}
