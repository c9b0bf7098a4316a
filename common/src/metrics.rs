//! Registration helpers for the process-wide default Prometheus registry, which the admin
//! server's `/metrics` renders.
//!
//! Components keep their metrics in `LazyLock` statics so that several instances in one
//! process (tests, the all-in-one) share one set of series. A name clash must not take the
//! process down: the metric is then returned unregistered (it still counts, it is just not
//! exported) and the clash is logged.

use prometheus::core::Collector;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
};

fn register<C: Collector + Clone + 'static>(metric: C, name: &str) -> C {
    if let Err(e) = prometheus::register(Box::new(metric.clone())) {
        tracing::warn!(metric = name, error = %e, "metric not registered");
    }
    metric
}

/// Logs and falls back to a metric with a fixed valid name when the given name or labels are
/// invalid (a programming error, but never worth a panic at start-up).
fn fallback_name(name: &str, e: prometheus::Error) -> Opts {
    tracing::error!(metric = name, error = %e, "invalid metric definition");
    Opts::new(
        "sextant_invalid_metric",
        "placeholder for an invalid metric definition",
    )
}

/// A counter with labels, registered on the default registry.
pub fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), labels).unwrap_or_else(|e| {
        let opts = fallback_name(name, e);
        // The placeholder definition is static and valid; `new` cannot fail on it.
        IntCounterVec::new(opts, &[]).unwrap_or_else(|_| unreachable_metric())
    });
    register(metric, name)
}

/// A counter without labels, registered on the default registry.
pub fn counter(name: &str, help: &str) -> IntCounter {
    let metric = IntCounter::with_opts(Opts::new(name, help)).unwrap_or_else(|e| {
        IntCounter::with_opts(fallback_name(name, e)).unwrap_or_else(|_| unreachable_metric())
    });
    register(metric, name)
}

/// A gauge without labels, registered on the default registry.
pub fn gauge(name: &str, help: &str) -> IntGauge {
    let metric = IntGauge::with_opts(Opts::new(name, help)).unwrap_or_else(|e| {
        IntGauge::with_opts(fallback_name(name, e)).unwrap_or_else(|_| unreachable_metric())
    });
    register(metric, name)
}

/// A gauge with labels, registered on the default registry.
pub fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let metric = IntGaugeVec::new(Opts::new(name, help), labels).unwrap_or_else(|e| {
        IntGaugeVec::new(fallback_name(name, e), &[]).unwrap_or_else(|_| unreachable_metric())
    });
    register(metric, name)
}

/// A histogram without labels, registered on the default registry.
pub fn histogram(name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    let opts = HistogramOpts::new(name, help).buckets(buckets);
    let metric = Histogram::with_opts(opts).unwrap_or_else(|e| {
        let o = fallback_name(name, e);
        Histogram::with_opts(HistogramOpts::new(o.name, o.help))
            .unwrap_or_else(|_| unreachable_metric())
    });
    register(metric, name)
}

/// A histogram with labels, registered on the default registry.
pub fn histogram_vec(name: &str, help: &str, labels: &[&str], buckets: Vec<f64>) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(buckets);
    let metric = HistogramVec::new(opts, labels).unwrap_or_else(|e| {
        let o = fallback_name(name, e);
        HistogramVec::new(HistogramOpts::new(o.name, o.help), &[])
            .unwrap_or_else(|_| unreachable_metric())
    });
    register(metric, name)
}

/// Creating a metric from the fixed placeholder options cannot fail; this exists only so the
/// helpers above need no `expect`.
#[cold]
fn unreachable_metric<T>() -> T {
    unreachable!("placeholder metric definition is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_once_and_tolerates_clashes() {
        let a = counter_vec("sextant_test_metric_total", "test", &["x"]);
        a.with_label_values(&["1"]).inc();
        // Same name again: not registered, but usable.
        let b = counter_vec("sextant_test_metric_total", "test", &["x"]);
        b.with_label_values(&["1"]).inc();
        let text = crate::admin::render_metrics();
        assert!(
            text.contains("sextant_test_metric_total{x=\"1\"} 1"),
            "{text}"
        );
        // Invalid name: falls back instead of panicking.
        let c = counter("not a valid name", "test");
        c.inc();
        assert_eq!(c.get(), 1);
    }
}
