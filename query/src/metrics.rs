//! The query service's Prometheus metrics, under Jaeger's names so its dashboards and alerts
//! keep working: `jaeger_query_requests_total{operation,result}` and the
//! `jaeger_query_latency` histogram (seconds), one observation per storage read, with
//! Jaeger's operation names (`get_services`, `get_operations`, `get_trace`, `find_traces`,
//! `get_dependencies`) and `result` = `ok` / `err`. Jaeger has no counter for rejected
//! requests; Sextant adds `sextant_query_invalid_requests_total` (answered 400).

use std::future::Future;
use std::sync::OnceLock;
use std::time::Instant;

use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts};

pub struct QueryMetrics {
    requests: IntCounterVec,
    latency: HistogramVec,
    invalid: IntCounter,
}

impl QueryMetrics {
    fn new() -> Self {
        let labels = &["operation", "result"];
        let requests = IntCounterVec::new(
            Opts::new(
                "jaeger_query_requests_total",
                "Storage reads made by the query service, by operation and result",
            ),
            labels,
        )
        .unwrap_or_else(|e| unreachable_metric(e));
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "jaeger_query_latency",
                "Latency of storage reads made by the query service, in seconds",
            ),
            labels,
        )
        .unwrap_or_else(|e| unreachable_metric(e));
        let invalid = IntCounter::new(
            "sextant_query_invalid_requests_total",
            "Query API requests rejected with 400 for bad parameters",
        )
        .unwrap_or_else(|e| unreachable_metric(e));
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(invalid.clone()),
        ] {
            // Fails only if another component registered the same name; the metric then
            // still counts, it is just not exported twice.
            if let Err(e) = prometheus::register(collector) {
                tracing::warn!(error = %e, "query metric not registered");
            }
        }
        QueryMetrics {
            requests,
            latency,
            invalid,
        }
    }

    /// Counts one request answered 400.
    pub fn invalid_request(&self) {
        self.invalid.inc();
    }

    /// Runs one storage read and records its outcome.
    pub async fn observe<T, E, F>(&self, operation: &str, read: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        let started = Instant::now();
        let result = read.await;
        let outcome = if result.is_ok() { "ok" } else { "err" };
        self.requests.with_label_values(&[operation, outcome]).inc();
        self.latency
            .with_label_values(&[operation, outcome])
            .observe(started.elapsed().as_secs_f64());
        result
    }
}

/// The metric names and labels above are constants that prometheus accepts; a failure here
/// is a programming error caught by the first test that touches the metrics.
fn unreachable_metric(e: prometheus::Error) -> ! {
    panic!("invalid query metric definition: {e}")
}

/// The process-wide instance, registered in the default registry on first use.
pub fn global() -> &'static QueryMetrics {
    static METRICS: OnceLock<QueryMetrics> = OnceLock::new();
    METRICS.get_or_init(QueryMetrics::new)
}
