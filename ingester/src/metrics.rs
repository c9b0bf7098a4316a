//! The ingester's metrics, under Jaeger's ingester names where one exists so that existing
//! dashboards keep working.

use std::sync::LazyLock;

use prometheus::{IntCounter, IntCounterVec, IntGaugeVec};
use sextant_common::metrics::{counter, counter_vec, gauge_vec};

/// Messages consumed, by partition.
pub static MESSAGES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "jaeger_ingester_sarama_consumer_messages_total",
        "Kafka messages consumed, by partition.",
        &["partition"],
    )
});

/// Messages waiting in the topic behind this consumer's position, by partition.
pub static OFFSET_LAG: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    gauge_vec(
        "jaeger_ingester_sarama_consumer_offset_lag",
        "Messages not yet consumed, by partition (from librdkafka statistics).",
        &["partition"],
    )
});

/// Spans durably written to storage.
pub static SPANS_WRITTEN: LazyLock<IntCounter> = LazyLock::new(|| {
    counter(
        "jaeger_ingester_spans_written_total",
        "Spans written to span storage (before their offsets were committed).",
    )
});

/// Errors, by reason: `decode` (message skipped), `write` (storage refused a batch, which is
/// retried), `commit`, `consume`.
pub static ERRORS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "jaeger_ingester_errors_total",
        "Ingester errors, by reason (decode, write, commit, consume).",
        &["reason"],
    )
});

/// Batches whose offsets were committed.
pub static COMMITS: LazyLock<IntCounter> = LazyLock::new(|| {
    counter(
        "jaeger_ingester_offset_commits_total",
        "Offset commits after a batch was stored.",
    )
});
