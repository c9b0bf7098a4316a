//! Service Performance Monitoring (Jaeger's "Monitor" tab) computed from stored spans
//! instead of Prometheus: request rate, error ratio and latency quantiles per service (and
//! operation), evaluated at every `step` over a sliding `ratePer` window, the way Jaeger's
//! PromQL (`rate(calls[ratePer])`, `histogram_quantile`) is evaluated.
//!
//! For a point at time `t`, the window is the spans that started in `(t - ratePer, t]`:
//! * calls: their count divided by `ratePer` in seconds (calls/s);
//! * errors: the fraction of them with an error status (NaN with no calls, as PromQL's 0/0);
//! * latency: the `quantile` of their durations in milliseconds, interpolated between the
//!   two nearest ranks (NaN with no calls).
//!
//! Points run from `end - lookback` to `end` by `step`. Only series with at least one span
//! in the range are returned.

use std::collections::BTreeMap;

use sextant_model::{Span, SpanKind, StatusCode};

/// Prometheus' limit, which Jaeger users already know from the Monitor tab.
pub const MAX_POINTS: u64 = 11_000;

#[derive(Clone, Debug, PartialEq)]
pub struct SpmQuery {
    pub services: Vec<String>,
    pub group_by_operation: bool,
    pub end_unix_nano: u64,
    pub lookback_nanos: u64,
    pub step_nanos: u64,
    pub rate_per_nanos: u64,
    pub span_kinds: Vec<SpanKind>,
}

impl SpmQuery {
    /// The earliest span start any point looks at.
    pub fn fetch_start(&self) -> u64 {
        self.end_unix_nano
            .saturating_sub(self.lookback_nanos)
            .saturating_sub(self.rate_per_nanos)
    }

    pub fn points(&self) -> u64 {
        self.lookback_nanos / self.step_nanos.max(1) + 1
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Measure {
    Latency { quantile: f64 },
    Calls,
    Errors,
}

/// One series: its labels (`service_name`, and `operation` when grouped) and its points
/// as (Unix nanoseconds, value).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub labels: Vec<(String, String)>,
    pub points: Vec<(u64, f64)>,
}

struct Sample {
    start: u64,
    duration_ms: f64,
    error: bool,
}

/// Computes the series for `measure` from `spans` (any spans: the ones outside the query's
/// services, kinds or range are skipped).
pub fn compute<'a>(
    spans: impl IntoIterator<Item = &'a Span>,
    query: &SpmQuery,
    measure: Measure,
) -> Vec<Series> {
    let from = query.fetch_start();
    let mut groups: BTreeMap<(String, String), Vec<Sample>> = BTreeMap::new();
    for span in spans {
        let start = span.start_time_unix_nano;
        if start <= from
            || start > query.end_unix_nano
            || !query.span_kinds.contains(&span.kind)
            || !query.services.iter().any(|s| s == span.service_name())
        {
            continue;
        }
        let op = if query.group_by_operation {
            span.name.clone()
        } else {
            String::new()
        };
        groups
            .entry((span.service_name().to_string(), op))
            .or_default()
            .push(Sample {
                start,
                duration_ms: span.duration_nanos() as f64 / 1e6,
                error: span.status.code == StatusCode::Error,
            });
    }
    let rate_secs = query.rate_per_nanos as f64 / 1e9;
    let first = query.end_unix_nano.saturating_sub(query.lookback_nanos);
    let step = query.step_nanos.max(1);
    groups
        .into_iter()
        .map(|((service, op), mut samples)| {
            samples.sort_by_key(|s| s.start);
            let mut points = Vec::new();
            let (mut lo, mut hi) = (0usize, 0usize);
            let mut t = first;
            while t <= query.end_unix_nano {
                let window_start = t.saturating_sub(query.rate_per_nanos);
                while samples.get(hi).is_some_and(|s| s.start <= t) {
                    hi += 1;
                }
                while lo < hi && samples.get(lo).is_some_and(|s| s.start <= window_start) {
                    lo += 1;
                }
                let window = samples.get(lo..hi).unwrap_or(&[]);
                points.push((t, value(window, measure, rate_secs)));
                match t.checked_add(step) {
                    Some(next) => t = next,
                    None => break,
                }
            }
            let mut labels = vec![("service_name".to_string(), service)];
            if query.group_by_operation {
                labels.push(("operation".to_string(), op));
            }
            Series { labels, points }
        })
        .collect()
}

fn value(window: &[Sample], measure: Measure, rate_secs: f64) -> f64 {
    let n = window.len();
    match measure {
        Measure::Calls => {
            if rate_secs > 0.0 {
                n as f64 / rate_secs
            } else {
                0.0
            }
        }
        Measure::Errors if n == 0 => f64::NAN,
        Measure::Errors => window.iter().filter(|s| s.error).count() as f64 / n as f64,
        Measure::Latency { quantile } => {
            let mut d: Vec<f64> = window.iter().map(|s| s.duration_ms).collect();
            quantile_of(&mut d, quantile)
        }
    }
}

/// The `q` quantile of `values`, linearly interpolated between the nearest ranks.
pub fn quantile_of(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let rank = q.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    match (values.get(lo), values.get(hi)) {
        (Some(&a), Some(&b)) => a + (b - a) * (rank - lo as f64),
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use sextant_model::{Resource, Status};

    const S: u64 = 1_000_000_000;

    fn span(service: &Arc<Resource>, name: &str, start_s: u64, dur_ms: u64, err: bool) -> Span {
        Span {
            name: name.into(),
            kind: SpanKind::Server,
            start_time_unix_nano: start_s * S,
            end_time_unix_nano: start_s * S + dur_ms * 1_000_000,
            resource: service.clone(),
            status: Status {
                code: if err {
                    StatusCode::Error
                } else {
                    StatusCode::Unset
                },
                message: String::new(),
            },
            ..Default::default()
        }
    }

    fn query(group: bool) -> SpmQuery {
        SpmQuery {
            services: vec!["a".into()],
            group_by_operation: group,
            end_unix_nano: 100 * S,
            lookback_nanos: 20 * S,
            step_nanos: 10 * S,
            rate_per_nanos: 10 * S,
            span_kinds: vec![SpanKind::Server],
        }
    }

    #[test]
    fn rates_errors_and_latencies_per_window() {
        let a = Arc::new(Resource {
            service_name: "a".into(),
            ..Default::default()
        });
        let b = Arc::new(Resource {
            service_name: "b".into(),
            ..Default::default()
        });
        let spans = vec![
            span(&a, "x", 85, 10, false),
            span(&a, "x", 95, 20, true),
            span(&a, "y", 96, 40, false),
            span(&b, "x", 95, 20, false),
        ];
        let calls = compute(&spans, &query(false), Measure::Calls);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].labels, vec![("service_name".into(), "a".into())]);
        assert_eq!(
            calls[0].points,
            vec![(80 * S, 0.0), (90 * S, 0.1), (100 * S, 0.2)]
        );
        let errors = compute(&spans, &query(false), Measure::Errors);
        assert!(errors[0].points[0].1.is_nan());
        assert_eq!(errors[0].points[2].1, 0.5);
        let lat = compute(&spans, &query(true), Measure::Latency { quantile: 0.5 });
        assert_eq!(lat.len(), 2);
        assert_eq!(lat[0].labels[1], ("operation".into(), "x".into()));
        assert_eq!(lat[0].points[2].1, 20.0);
        assert_eq!(lat[1].points[2].1, 40.0);
    }

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile_of(&mut [1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
        assert_eq!(quantile_of(&mut [5.0], 0.95), 5.0);
        assert!(quantile_of(&mut [], 0.5).is_nan());
    }
}
