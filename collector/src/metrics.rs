//! The collector's Prometheus metrics, registered once per process under Jaeger v1's names
//! (`jaeger_collector_*`, see Jaeger's `cmd/collector/app/metrics.go`) so existing dashboards
//! and alerts keep working. Sextant-only series are prefixed `sextant_collector_`.
//!
//! Semantics, as in Jaeger: `spans_received` counts every decoded span; `spans_rejected`
//! counts spans the collector actively refused: refused as "busy" when the queue is full
//! (the client is told and may retry), and OTLP spans with an all-zero trace or span ID
//! (reported to the client as OTLP partial success); `spans_saved_by_svc{result="ok"|"err"}` counts
//! the outcome of the storage write. The `svc` label is the service name normalised Jaeger's
//! way and capped at [`MAX_SERVICE_NAMES`] distinct values, beyond which spans count under
//! `other-services`.

use std::collections::HashSet;
use std::sync::LazyLock;

use parking_lot::Mutex;
use prometheus::{Histogram, IntCounter, IntCounterVec, IntGauge};
use sextant_common::metrics as m;

/// Jaeger's cap on distinct `svc` label values.
pub const MAX_SERVICE_NAMES: usize = 4000;
/// The `svc` label once the cap is reached.
pub const OTHER_SERVICES: &str = "other-services";

pub struct CollectorMetrics {
    pub spans_received: IntCounterVec,
    pub traces_received: IntCounterVec,
    pub spans_rejected: IntCounterVec,
    pub traces_rejected: IntCounterVec,
    pub spans_saved_by_svc: IntCounterVec,
    pub traces_saved_by_svc: IntCounterVec,
    pub batch_size: IntGauge,
    pub queue_length: IntGauge,
    pub queue_capacity: IntGauge,
    pub save_latency: Histogram,
    pub busy: IntCounter,
    pub malformed_requests: IntCounterVec,
    pub spans_sanitized: IntCounterVec,
    service_names: Mutex<HashSet<String>>,
}

pub static METRICS: LazyLock<CollectorMetrics> = LazyLock::new(CollectorMetrics::register);

/// Latency buckets in seconds, 1 ms to 10 s.
fn latency_buckets() -> Vec<f64> {
    vec![
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ]
}

impl CollectorMetrics {
    fn register() -> Self {
        let by_format = ["debug", "format", "svc", "transport"];
        let traces_by_format = ["debug", "format", "sampler_type", "svc", "transport"];
        CollectorMetrics {
            spans_received: m::counter_vec(
                "jaeger_collector_spans_received_total",
                "Spans received, by service, format and transport",
                &by_format,
            ),
            traces_received: m::counter_vec(
                "jaeger_collector_traces_received_total",
                "Root spans received (one per trace), by service, format and transport",
                &traces_by_format,
            ),
            spans_rejected: m::counter_vec(
                "jaeger_collector_spans_rejected_total",
                "Spans refused (collector busy, or an OTLP span with a zero ID), by service, format and transport",
                &by_format,
            ),
            traces_rejected: m::counter_vec(
                "jaeger_collector_traces_rejected_total",
                "Root spans refused because the collector was busy",
                &traces_by_format,
            ),
            spans_saved_by_svc: m::counter_vec(
                "jaeger_collector_spans_saved_by_svc_total",
                "Spans written to storage (result=ok) or failed to write (result=err)",
                &["debug", "result", "svc"],
            ),
            traces_saved_by_svc: m::counter_vec(
                "jaeger_collector_traces_saved_by_svc_total",
                "Root spans written to storage (result=ok) or failed to write (result=err)",
                &["debug", "result", "sampler_type", "svc"],
            ),
            batch_size: m::gauge(
                "jaeger_collector_batch_size",
                "Number of spans in the most recent batch received",
            ),
            queue_length: m::gauge(
                "jaeger_collector_queue_length",
                "Spans waiting for a storage worker",
            ),
            queue_capacity: m::gauge(
                "jaeger_collector_queue_capacity",
                "Maximum number of spans waiting for a storage worker",
            ),
            save_latency: m::histogram(
                "jaeger_collector_save_latency",
                "Time to write one batch to storage, seconds",
                latency_buckets(),
            ),
            busy: m::counter(
                "jaeger_collector_error_busy_total",
                "Requests refused because the collector queue was full",
            ),
            malformed_requests: m::counter_vec(
                "sextant_collector_malformed_requests_total",
                "Requests whose body could not be decoded, by transport and format",
                &["format", "transport"],
            ),
            spans_sanitized: m::counter_vec(
                "sextant_collector_spans_sanitized_total",
                "Spans the sanitizer repaired or flagged, by reason",
                &["reason"],
            ),
            service_names: Mutex::new(HashSet::new()),
        }
    }

    /// The sanitizer's counter (see [`crate::sanitize`]).
    pub fn sanitized(&self) -> &IntCounterVec {
        &self.spans_sanitized
    }

    /// The `svc` label for a service name: normalised, and capped in cardinality.
    pub fn svc_label(&self, service: &str) -> String {
        let name = normalize_service_name(service);
        let mut seen = self.service_names.lock();
        if seen.contains(&name) {
            return name;
        }
        if seen.len() >= MAX_SERVICE_NAMES {
            return OTHER_SERVICES.to_string();
        }
        seen.insert(name.clone());
        name
    }
}

/// Jaeger's metric-safe service name: ASCII letters lowercased, digits, `-` and `.` kept,
/// anything else replaced by `_`.
pub fn normalize_service_name(service: &str) -> String {
    service
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '.' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_jaeger() {
        assert_eq!(
            normalize_service_name("My Service/v1.2-x"),
            "my_service_v1.2-x"
        );
        assert_eq!(normalize_service_name("δ"), "_");
    }
}
