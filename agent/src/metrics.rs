//! The agent's Prometheus metrics, registered once per process under Jaeger v1's names
//! (`jaeger_agent_*`, from Jaeger's `cmd/agent/app/servers/tbuffered_server.go`,
//! `processors/thrift_processor.go` and `reporter/metrics.go`), so existing dashboards
//! and alerts keep working. Sextant-only series are prefixed `sextant_agent_`.
//!
//! Labels as in Jaeger: UDP server and processor series carry `model="jaeger"` and
//! `protocol="compact"|"binary"`; reporter series carry `format="jaeger"`.

use std::sync::LazyLock;

use prometheus::{IntCounterVec, IntGaugeVec};
use sextant_common::metrics as m;

pub struct AgentMetrics {
    /// Packets read and queued for processing.
    pub packets_processed: IntCounterVec,
    /// Packets dropped because the queue was full (or larger than the maximum size).
    pub packets_dropped: IntCounterVec,
    /// Failed reads from the UDP socket.
    pub read_errors: IntCounterVec,
    /// Packets waiting in the queue.
    pub queue_size: IntGaugeVec,
    /// Size of the most recent packet.
    pub packet_size: IntGaugeVec,
    /// Packets that could not be decoded (Jaeger's processor handler errors).
    pub handler_errors: IntCounterVec,
    /// Undecodable packets by reason (`truncated`, `malformed`, `too_large`).
    pub malformed_packets: IntCounterVec,
    pub batches_submitted: IntCounterVec,
    pub batches_failures: IntCounterVec,
    pub spans_submitted: IntCounterVec,
    pub spans_failures: IntCounterVec,
    pub batch_size: IntGaugeVec,
    /// Forward attempts that failed and were retried.
    pub retries: IntCounterVec,
}

pub static METRICS: LazyLock<AgentMetrics> = LazyLock::new(AgentMetrics::register);

impl AgentMetrics {
    fn register() -> Self {
        let server = ["model", "protocol"];
        let reporter = ["format"];
        AgentMetrics {
            packets_processed: m::counter_vec(
                "jaeger_agent_thrift_udp_server_packets_processed_total",
                "UDP packets read and queued for processing",
                &server,
            ),
            packets_dropped: m::counter_vec(
                "jaeger_agent_thrift_udp_server_packets_dropped_total",
                "UDP packets dropped because the processing queue was full or they were too large",
                &server,
            ),
            read_errors: m::counter_vec(
                "jaeger_agent_thrift_udp_server_read_errors_total",
                "Failed reads from the UDP socket",
                &server,
            ),
            queue_size: m::gauge_vec(
                "jaeger_agent_thrift_udp_server_queue_size",
                "UDP packets waiting to be processed",
                &server,
            ),
            packet_size: m::gauge_vec(
                "jaeger_agent_thrift_udp_server_packet_size",
                "Size in bytes of the most recent UDP packet",
                &server,
            ),
            handler_errors: m::counter_vec(
                "jaeger_agent_thrift_udp_t_processor_handler_errors_total",
                "UDP packets that could not be decoded",
                &server,
            ),
            malformed_packets: m::counter_vec(
                "sextant_agent_malformed_packets_total",
                "UDP packets that could not be decoded, by reason",
                &["model", "protocol", "reason"],
            ),
            batches_submitted: m::counter_vec(
                "jaeger_agent_reporter_batches_submitted_total",
                "Batches forwarded to the collector",
                &reporter,
            ),
            batches_failures: m::counter_vec(
                "jaeger_agent_reporter_batches_failures_total",
                "Batches dropped after the collector refused them or could not be reached",
                &reporter,
            ),
            spans_submitted: m::counter_vec(
                "jaeger_agent_reporter_spans_submitted_total",
                "Spans forwarded to the collector",
                &reporter,
            ),
            spans_failures: m::counter_vec(
                "jaeger_agent_reporter_spans_failures_total",
                "Spans dropped after the collector refused them or could not be reached",
                &reporter,
            ),
            batch_size: m::gauge_vec(
                "jaeger_agent_reporter_batch_size",
                "Spans in the most recent batch forwarded",
                &reporter,
            ),
            retries: m::counter_vec(
                "sextant_agent_reporter_retries_total",
                "Forward attempts that failed and were retried",
                &reporter,
            ),
        }
    }
}
