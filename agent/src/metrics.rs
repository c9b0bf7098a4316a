//! The agent's Prometheus metrics, registered once per process under Jaeger v1's names
//! (`jaeger_agent_*`, from Jaeger's `cmd/agent/app/servers/tbuffered_server.go`,
//! `processors/thrift_processor.go` and `reporter/metrics.go`), so existing dashboards
//! and alerts keep working. Sextant-only series are prefixed `sextant_agent_`.
//!
//! Labels as in Jaeger: UDP server and processor series carry `model="jaeger"` and
//! `protocol="compact"|"binary"`; reporter series carry `format="jaeger"`; the sampling
//! HTTP server's series are Jaeger's `http_server_*` and `collector_proxy` ones.

use std::sync::LazyLock;

use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec};
use sextant_common::metrics as m;

/// The `format` label of the reporter metrics: these are Jaeger-model batches.
pub const FORMAT: &str = "jaeger";

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
    /// Spans dropped because the send buffer was full (collectors down or too slow).
    pub buffer_dropped_spans: IntCounter,
    /// Bytes of encoded batches waiting for a collector.
    pub buffer_bytes: IntGauge,
    /// Collector addresses known, and those not backing off after a failure.
    pub peers: IntGauge,
    pub peers_healthy: IntGauge,
    /// Calls that failed because a collector could not be reached.
    pub peer_failures: IntCounter,
    /// `dns:///` resolutions that failed or returned nothing.
    pub resolve_failures: IntCounter,
    /// Jaeger's `http_server_requests{type=sampling|sampling-legacy|baggage}`.
    pub http_requests: IntCounterVec,
    /// Jaeger's `http_server_errors{status, source}`.
    pub http_errors: IntCounterVec,
    /// Jaeger's `collector_proxy{endpoint, protocol, result}`: sampling fetches.
    pub collector_proxy: IntCounterVec,
    /// Sampling answers served from the built-in default (no collector answered).
    pub sampling_default_served: IntCounter,
    /// Services whose sampling strategy is cached.
    pub sampling_cache_entries: IntGauge,
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
            buffer_dropped_spans: m::counter(
                "sextant_agent_reporter_buffer_dropped_spans_total",
                "Spans dropped because the send buffer was full",
            ),
            buffer_bytes: m::gauge(
                "sextant_agent_reporter_buffer_bytes",
                "Bytes of encoded batches waiting for a collector",
            ),
            peers: m::gauge(
                "sextant_agent_reporter_collectors",
                "Collector addresses the agent forwards to",
            ),
            peers_healthy: m::gauge(
                "sextant_agent_reporter_collectors_healthy",
                "Collector addresses not skipped after a failure",
            ),
            peer_failures: m::counter(
                "sextant_agent_reporter_collector_failures_total",
                "Calls that failed because a collector could not be reached",
            ),
            resolve_failures: m::counter(
                "sextant_agent_reporter_resolve_failures_total",
                "Failed or empty resolutions of a dns:/// collector name",
            ),
            http_requests: m::counter_vec(
                "jaeger_agent_http_server_requests_total",
                "Successful client configuration requests",
                &["type"],
            ),
            http_errors: m::counter_vec(
                "jaeger_agent_http_server_errors_total",
                "Failed client configuration requests",
                &["source", "status"],
            ),
            collector_proxy: m::counter_vec(
                "jaeger_agent_collector_proxy_total",
                "Sampling strategy fetches from the collectors",
                &["endpoint", "protocol", "result"],
            ),
            sampling_default_served: m::counter(
                "sextant_agent_sampling_default_served_total",
                "Sampling answers served from the default strategy because no collector answered",
            ),
            sampling_cache_entries: m::gauge(
                "sextant_agent_sampling_cache_entries",
                "Services whose sampling strategy is cached",
            ),
        }
    }
}
