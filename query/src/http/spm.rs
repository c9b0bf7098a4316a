//! Jaeger's Service Performance Monitoring HTTP API, answered from stored spans (see
//! [`crate::analytics::spm`]) instead of a Prometheus metrics store:
//!
//! | route | answer |
//! | --- | --- |
//! | `GET /api/metrics/latencies?service=&quantile=…` | `MetricFamily` `service_latencies` / `service_operation_latencies` (ms) |
//! | `GET /api/metrics/calls?service=…` | `service_call_rate` / `service_operation_call_rate` (calls/s) |
//! | `GET /api/metrics/errors?service=…` | `service_error_rate` / `service_operation_error_rate` (0..1) |
//! | `GET /api/metrics/minstep` | `{"data": 1000, …}`: the smallest step, in ms |
//!
//! Parameters are Jaeger's: `service` (repeatable, required), `groupByOperation`,
//! `quantile` (latencies only, in (0, 1]), `endTs` (Unix ms, default now), `lookback` (ms,
//! default 1h), `step` (ms, default 5s), `ratePer` (ms, default 10m), `spanKind`
//! (repeatable, default `server`). The `MetricFamily` is written as protobuf JSON, as
//! Jaeger does: `{"name", "type": "GAUGE", "help", "metrics": [{"labels": [{"name",
//! "value"}], "metricPoints": [{"gaugeValue": {"doubleValue": v}, "timestamp": RFC 3339}]}]}`,
//! with `"NaN"` for points without data.
//!
//! Each service's spans come from a trace search over the range, capped at
//! [`MAX_TRACES_PER_SERVICE`] most recent traces: beyond that, figures are computed from
//! the most recent traces only.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use sextant_model::SpanKind;
use sextant_storage::TraceQuery;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::params::Params;
use super::response::{json_response, ApiError, Envelope};
use super::ApiState;
use crate::analytics::spm::{compute, Measure, Series, SpmQuery, MAX_POINTS};

/// Traces read per service for one metrics query.
pub const MAX_TRACES_PER_SERVICE: usize = 10_000;
/// The smallest step the computation supports, reported by `/api/metrics/minstep`.
pub const MIN_STEP_MS: u64 = 1_000;

const MS: u64 = 1_000_000;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/metrics/latencies", get(latencies))
        .route("/api/metrics/calls", get(calls))
        .route("/api/metrics/errors", get(errors))
        .route("/api/metrics/minstep", get(minstep))
}

async fn latencies(st: State<ApiState>, raw: RawQuery) -> Response {
    metric(st, raw, Kind::Latencies).await
}
async fn calls(st: State<ApiState>, raw: RawQuery) -> Response {
    metric(st, raw, Kind::Calls).await
}
async fn errors(st: State<ApiState>, raw: RawQuery) -> Response {
    metric(st, raw, Kind::Errors).await
}

async fn minstep(RawQuery(raw): RawQuery) -> Response {
    let params = Params::parse(raw.as_deref());
    json_response(StatusCode::OK, &Envelope::new(MIN_STEP_MS), params.pretty())
}

#[derive(Clone, Copy)]
enum Kind {
    Latencies,
    Calls,
    Errors,
}

fn parse_ms(p: &Params, name: &str, default: u64) -> Result<u64, ApiError> {
    match p.first(name) {
        "" => Ok(default.saturating_mul(MS)),
        text => text
            .parse::<u64>()
            .ok()
            .and_then(|v| v.checked_mul(MS))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "unable to parse param '{name}': strconv.ParseInt: parsing {text:?}: invalid syntax"
                ))
            }),
    }
}

/// Parses the query; `Err` is the 400 answer.
fn parse(p: &Params, kind: Kind, now: SystemTime) -> Result<(SpmQuery, Measure), ApiError> {
    let services: Vec<String> = p
        .all("service")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if services.is_empty() {
        return Err(ApiError::bad_request(
            "please provide at least one service name",
        ));
    }
    let group_by_operation = match p.first("groupByOperation") {
        "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
        "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
        other => {
            return Err(ApiError::bad_request(format!(
                "unable to parse param 'groupByOperation': strconv.ParseBool: parsing {other:?}: invalid syntax"
            )))
        }
    };
    let measure = match kind {
        Kind::Calls => Measure::Calls,
        Kind::Errors => Measure::Errors,
        Kind::Latencies => {
            let q: f64 = p
                .first("quantile")
                .parse()
                .map_err(|_| ApiError::bad_request("please provide a quantile between (0, 1]"))?;
            if !(q > 0.0 && q <= 1.0) {
                return Err(ApiError::bad_request(
                    "please provide a quantile between (0, 1]",
                ));
            }
            Measure::Latency { quantile: q }
        }
    };
    let now_ms = now
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let end =
        parse_ms(p, "endTs", 0).map(|v| if v == 0 { now_ms.saturating_mul(MS) } else { v })?;
    let lookback = parse_ms(p, "lookback", 3_600_000)?;
    let step = parse_ms(p, "step", 5_000)?;
    let rate_per = parse_ms(p, "ratePer", 600_000)?;
    if step < MIN_STEP_MS * MS {
        return Err(ApiError::bad_request(format!(
            "'step' must be at least the minimum step of {MIN_STEP_MS}ms"
        )));
    }
    let mut span_kinds = Vec::new();
    for k in p.all("spanKind") {
        match SpanKind::from_jaeger_str(k.trim_start_matches("SPAN_KIND_")) {
            Some(kind) => span_kinds.push(kind),
            None => {
                return Err(ApiError::bad_request(format!(
                    "unsupported span kind: '{k}'"
                )))
            }
        }
    }
    if span_kinds.is_empty() {
        span_kinds.push(SpanKind::Server);
    }
    let query = SpmQuery {
        services,
        group_by_operation,
        end_unix_nano: end,
        lookback_nanos: lookback,
        step_nanos: step,
        rate_per_nanos: rate_per,
        span_kinds,
    };
    if query.points() > MAX_POINTS {
        return Err(ApiError::bad_request(format!(
            "exceeded maximum resolution of {MAX_POINTS} points per timeseries. Try decreasing the query resolution (?step=XX)"
        )));
    }
    Ok((query, measure))
}

async fn metric(State(st): State<ApiState>, RawQuery(raw): RawQuery, kind: Kind) -> Response {
    let p = Params::parse(raw.as_deref());
    let (query, measure) = match parse(&p, kind, SystemTime::now()) {
        Ok(q) => q,
        Err(e) => return e.into_response(),
    };
    let mut spans = Vec::new();
    for service in &query.services {
        let search = TraceQuery {
            service_name: service.clone(),
            start_time_min: Some(query.fetch_start()),
            start_time_max: Some(query.end_unix_nano),
            num_traces: MAX_TRACES_PER_SERVICE,
            ..Default::default()
        };
        match st.service.find_traces(&search, true).await {
            Ok(traces) => spans.extend(traces.into_iter().flat_map(|t| t.spans)),
            Err(e) => return ApiError::from(e).into_response(),
        }
    }
    let series = compute(&spans, &query, measure);
    let body = metric_family(kind, measure, query.group_by_operation, &series);
    json_response(StatusCode::OK, &body, p.pretty())
}

fn metric_family(kind: Kind, measure: Measure, grouped: bool, series: &[Series]) -> Value {
    let (name, help) = match (kind, measure) {
        (Kind::Latencies, Measure::Latency { quantile }) => (
            "latencies",
            format!("{quantile:.2}th quantile latency, grouped by service"),
        ),
        (Kind::Calls, _) => ("call_rate", "calls/sec, grouped by service".to_string()),
        _ => (
            "error_rate",
            "error rate, computed as a fraction of errors/sec over calls/sec, grouped by service"
                .to_string(),
        ),
    };
    let (name, help) = if grouped {
        (
            format!("service_operation_{name}"),
            format!("{help} & operation"),
        )
    } else {
        (format!("service_{name}"), help)
    };
    let metrics: Vec<Value> = series
        .iter()
        .map(|s| {
            let labels: Vec<Value> = s
                .labels
                .iter()
                .map(|(n, v)| json!({"name": n, "value": v}))
                .collect();
            let points: Vec<Value> = s
                .points
                .iter()
                .map(|&(t, v)| json!({"gaugeValue": {"doubleValue": double(v)}, "timestamp": timestamp(t)}))
                .collect();
            json!({"labels": labels, "metricPoints": points})
        })
        .collect();
    json!({"name": name, "type": "GAUGE", "help": help, "metrics": metrics})
}

/// Protobuf JSON for a double: a number, or `"NaN"` / `"Infinity"` / `"-Infinity"`.
fn double(v: f64) -> Value {
    if v.is_nan() {
        json!("NaN")
    } else if v.is_infinite() {
        json!(if v > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(v)
    }
}

fn timestamp(unix_nano: u64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_nano))
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(q: &str, kind: Kind) -> Result<(SpmQuery, Measure), ApiError> {
        parse(
            &Params::parse(Some(q)),
            kind,
            UNIX_EPOCH + std::time::Duration::from_secs(7200),
        )
    }

    #[test]
    fn defaults_and_errors() {
        let (q, m) = parse_str("service=a&service=b", Kind::Calls).unwrap();
        assert_eq!(q.services, vec!["a", "b"]);
        assert_eq!(q.end_unix_nano, 7200 * 1_000_000_000);
        assert_eq!(q.lookback_nanos, 3600 * 1_000_000_000);
        assert_eq!(q.span_kinds, vec![SpanKind::Server]);
        assert_eq!(m, Measure::Calls);
        assert_eq!(
            parse_str("", Kind::Calls).unwrap_err().msg,
            "please provide at least one service name"
        );
        assert!(parse_str("service=a", Kind::Latencies).is_err());
        assert!(parse_str("service=a&quantile=1.5", Kind::Latencies).is_err());
        assert!(parse_str("service=a&quantile=0.95", Kind::Latencies).is_ok());
        assert!(parse_str("service=a&spanKind=bogus", Kind::Calls).is_err());
        assert!(parse_str("service=a&step=1&lookback=100000000", Kind::Calls).is_err());
        let (q, _) = parse_str(
            "service=a&spanKind=client&spanKind=SPAN_KIND_SERVER",
            Kind::Errors,
        )
        .unwrap();
        assert_eq!(q.span_kinds, vec![SpanKind::Client, SpanKind::Server]);
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(timestamp(1_600_000_000_000_000_000), "2020-09-13T12:26:40Z");
    }
}
