//! Adaptive sampling's metrics. Jaeger reports these through its own metrics factory under
//! names no dashboard relies on, so they are Sextant-only (`sextant_collector_` prefix).

use std::sync::LazyLock;

use prometheus::{IntCounter, IntCounterVec, IntGauge};
use sextant_common::metrics as m;

pub struct AdaptiveMetrics {
    /// Root spans not counted because the per-interval key cap was reached.
    pub throughput_dropped: IntCounter,
    /// Calculation rounds by outcome (`ok`, `err`, `follower`).
    pub calculations: IntCounterVec,
    /// Operations given a probability in the last round this collector calculated.
    pub operations_calculated: IntGauge,
    /// 1 while this collector holds the leader lease.
    pub leader: IntGauge,
    /// Failed sampling-store calls, by call.
    pub store_errors: IntCounterVec,
}

pub static METRICS: LazyLock<AdaptiveMetrics> = LazyLock::new(|| AdaptiveMetrics {
    throughput_dropped: m::counter(
        "sextant_collector_adaptive_sampling_throughput_dropped_total",
        "Root spans left out of adaptive sampling's throughput: too many distinct operations",
    ),
    calculations: m::counter_vec(
        "sextant_collector_adaptive_sampling_calculations_total",
        "Adaptive sampling calculation rounds, by result (ok, err, follower)",
        &["result"],
    ),
    operations_calculated: m::gauge(
        "sextant_collector_adaptive_sampling_operations_calculated",
        "Operations given a probability in the last calculation",
    ),
    leader: m::gauge(
        "sextant_collector_adaptive_sampling_leader",
        "1 while this collector holds the adaptive sampling leader lease",
    ),
    store_errors: m::counter_vec(
        "sextant_collector_adaptive_sampling_store_errors_total",
        "Failed sampling store calls, by call",
        &["call"],
    ),
});
