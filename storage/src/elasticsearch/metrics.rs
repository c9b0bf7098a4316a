//! Prometheus metrics of the bulk pipeline, under Jaeger's names (its ES bulk processor's
//! `bulk_index` write metrics) so existing dashboards keep working:
//!
//! * `jaeger_bulk_index_attempts_total`: items sent, once per attempt (as Jaeger counts);
//! * `jaeger_bulk_index_inserts_total`: items stored;
//! * `jaeger_bulk_index_errors_total{reason}`: items an attempt did not store, by
//!   [`FailureReason`] (Jaeger has no label; sums over it give Jaeger's series);
//! * `jaeger_bulk_index_latency_ok` / `jaeger_bulk_index_latency_err`: seconds per bulk
//!   request, answered / failed;
//! * `jaeger_bulk_index_requests_total`, `jaeger_bulk_index_retries_total`: Sextant's
//!   additions: bulk HTTP requests sent, and items queued again for another attempt.
//!
//! Kept in a process-wide static (the repository's convention): every store in a process,
//! the archive included, counts into one set of series.

use std::sync::LazyLock;

use prometheus::{Histogram, IntCounter, IntCounterVec};
use sextant_common::metrics as m;

/// Why an item was not stored by one attempt: a small fixed set, so the label stays bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureReason {
    /// No answer (connection refused, reset, timeout).
    Unreachable,
    /// HTTP 429 for the request or the item: the cluster is overloaded.
    TooManyRequests,
    /// HTTP 5xx.
    ServerError,
    /// Any other refusal (4xx: mapping conflicts, invalid documents…); never retried.
    Rejected,
    /// A 200 answer without a result for the item.
    MissingResult,
}

impl FailureReason {
    pub fn of_status(status: u16) -> Self {
        match status {
            429 => FailureReason::TooManyRequests,
            s if s >= 500 => FailureReason::ServerError,
            _ => FailureReason::Rejected,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            FailureReason::Unreachable => "unreachable",
            FailureReason::TooManyRequests => "too_many_requests",
            FailureReason::ServerError => "server_error",
            FailureReason::Rejected => "rejected",
            FailureReason::MissingResult => "missing_result",
        }
    }
}

pub struct BulkMetrics {
    pub attempts: IntCounter,
    pub inserts: IntCounter,
    pub errors: IntCounterVec,
    pub latency_ok: Histogram,
    pub latency_err: Histogram,
    pub requests: IntCounter,
    pub retries: IntCounter,
}

pub static METRICS: LazyLock<BulkMetrics> = LazyLock::new(BulkMetrics::register);

/// Seconds, 1 ms to 30 s (the default request timeout).
fn latency_buckets() -> Vec<f64> {
    vec![
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ]
}

impl BulkMetrics {
    fn register() -> Self {
        BulkMetrics {
            attempts: m::counter(
                "jaeger_bulk_index_attempts_total",
                "Documents sent to the Elasticsearch bulk API, counted once per attempt",
            ),
            inserts: m::counter(
                "jaeger_bulk_index_inserts_total",
                "Documents the Elasticsearch bulk API stored",
            ),
            errors: m::counter_vec(
                "jaeger_bulk_index_errors_total",
                "Documents an Elasticsearch bulk attempt did not store, by reason",
                &["reason"],
            ),
            latency_ok: m::histogram(
                "jaeger_bulk_index_latency_ok",
                "Seconds per Elasticsearch bulk request that was answered",
                latency_buckets(),
            ),
            latency_err: m::histogram(
                "jaeger_bulk_index_latency_err",
                "Seconds per Elasticsearch bulk request that failed or was refused",
                latency_buckets(),
            ),
            requests: m::counter(
                "jaeger_bulk_index_requests_total",
                "Elasticsearch bulk HTTP requests sent, retries included",
            ),
            retries: m::counter(
                "jaeger_bulk_index_retries_total",
                "Documents queued again for another bulk attempt after a retryable failure",
            ),
        }
    }

    pub fn failed(&self, reason: FailureReason, items: usize) {
        self.errors
            .with_label_values(&[reason.label()])
            .inc_by(items as u64);
    }
}
