//! The agent end to end on loopback: Jaeger `emitBatch` UDP packets in, spans in a real
//! collector's storage out. Garbage never stops the agent; an unreachable collector costs
//! counted drops after retries.

use std::sync::Arc;
use std::time::Duration;

use sextant_agent::metrics::METRICS;
use sextant_agent::{run, AgentArgs, RunningAgent};
use sextant_collector::{CollectorArgs, RunningCollector};
use sextant_common::shutdown::Shutdown;
use sextant_model::thrift::{encode_emit_batch, BatchMeta, Protocol};
use sextant_model::{KeyValue, Resource, Span, SpanId, TraceId};
use sextant_storage::{Storage, StorageArgs};
use tokio::net::UdpSocket;

struct Setup {
    storage: Storage,
    collector: RunningCollector,
    agent: RunningAgent,
    /// The agent's; the collector has its own so a test can stop the agent alone.
    shutdown: Shutdown,
    collector_shutdown: Shutdown,
    client: UdpSocket,
}

impl Setup {
    async fn start() -> Setup {
        let storage = sextant_storage::build(&StorageArgs::default())
            .await
            .unwrap();
        let shutdown = Shutdown::new();
        let collector_shutdown = Shutdown::new();
        let collector = sextant_collector::run(
            &CollectorArgs::loopback_ephemeral(),
            storage.clone(),
            collector_shutdown.clone(),
        )
        .await
        .unwrap();
        let args = AgentArgs::loopback_ephemeral(&collector.grpc_addr.to_string());
        let agent = run(&args, shutdown.clone()).await.unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        Setup {
            storage,
            collector,
            agent,
            shutdown,
            collector_shutdown,
            client,
        }
    }

    async fn send(&self, protocol: Protocol, packet: &[u8]) {
        let to = match protocol {
            Protocol::Compact => self.agent.compact_addr,
            Protocol::Binary => self.agent.binary_addr,
        };
        self.client.send_to(packet, to).await.unwrap();
    }

    async fn wait_for_trace(&self, trace: TraceId, expected: usize) -> Vec<Span> {
        for _ in 0..250 {
            let traces = self.storage.reader.get_traces(&[trace]).await.unwrap();
            let spans: Vec<Span> = traces.into_iter().flat_map(|t| t.spans).collect();
            if spans.len() >= expected {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("trace {trace} never reached {expected} spans");
    }

    async fn stop(self) {
        self.shutdown.trigger();
        assert!(self.agent.join(Duration::from_secs(10)).await);
        self.collector_shutdown.trigger();
        assert!(self.collector.join(Duration::from_secs(5)).await);
    }
}

fn packet(trace: u128, service: &str, n: u64, protocol: Protocol) -> (Vec<Span>, Vec<u8>) {
    let resource = Arc::new(Resource {
        service_name: service.to_string(),
        attributes: vec![KeyValue::new("hostname", "box-7")],
        ..Resource::default()
    });
    let spans: Vec<Span> = (1..=n)
        .map(|i| Span {
            trace_id: TraceId(trace),
            span_id: SpanId(i),
            parent_span_id: SpanId(if i == 1 { 0 } else { 1 }),
            name: format!("udp-op-{i}"),
            start_time_unix_nano: 1_700_000_000_000_000_000 + i * 1_000,
            end_time_unix_nano: 1_700_000_000_000_000_000 + i * 1_000 + 3_000_000,
            attributes: vec![KeyValue::new("k", "v")],
            resource: resource.clone(),
            ..Span::default()
        })
        .collect();
    let bytes = encode_emit_batch(&resource, &spans, &BatchMeta::default(), protocol, 1);
    (spans, bytes)
}

/// Polls until `f` holds; metrics are updated by other tasks.
async fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..250 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test]
async fn compact_and_binary_packets_reach_storage() {
    let s = Setup::start().await;
    let (sent, bytes) = packet(0xA1, "udp-compact", 3, Protocol::Compact);
    s.send(Protocol::Compact, &bytes).await;
    let mut got = s.wait_for_trace(TraceId(0xA1), 3).await;
    got.sort_by_key(|sp| sp.span_id);
    for (g, want) in got.iter().zip(&sent) {
        assert_eq!(g.name, want.name);
        assert_eq!(g.service_name(), "udp-compact");
        assert_eq!(g.start_time_unix_nano, want.start_time_unix_nano);
        assert_eq!(g.end_time_unix_nano, want.end_time_unix_nano);
        assert_eq!(g.parent_span_id, want.parent_span_id);
    }
    assert_eq!(
        got[0].resource.attributes,
        vec![KeyValue::new("hostname", "box-7")]
    );

    let (_, bytes) = packet(0xB2, "udp-binary", 2, Protocol::Binary);
    s.send(Protocol::Binary, &bytes).await;
    s.wait_for_trace(TraceId(0xB2), 2).await;
    s.stop().await;
}

#[tokio::test]
async fn garbage_and_truncated_packets_are_counted_and_survived() {
    let s = Setup::start().await;
    let errors = || {
        METRICS
            .handler_errors
            .with_label_values(&["jaeger", "compact"])
            .get()
    };
    let truncated_count = || {
        METRICS
            .malformed_packets
            .with_label_values(&["jaeger", "compact", "truncated"])
            .get()
    };
    let before = errors();
    let before_truncated = truncated_count();
    let (_, good) = packet(0xC3, "survivor", 2, Protocol::Compact);
    let garbage: Vec<u8> = (0..300u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    s.send(Protocol::Compact, &garbage).await;
    s.send(Protocol::Compact, &good[..good.len() / 2]).await;
    s.send(Protocol::Compact, &good[..3]).await;
    s.send(Protocol::Compact, &[0x82]).await;
    eventually("4 handler errors counted", || errors() >= before + 4).await;
    eventually("truncation counted by reason", || {
        truncated_count() > before_truncated
    })
    .await;

    // Still working.
    s.send(Protocol::Compact, &good).await;
    s.wait_for_trace(TraceId(0xC3), 2).await;
    s.stop().await;
}

#[tokio::test]
async fn oversized_packets_are_dropped_and_counted() {
    let storage = sextant_storage::build(&StorageArgs::default())
        .await
        .unwrap();
    let shutdown = Shutdown::new();
    let collector = sextant_collector::run(
        &CollectorArgs::loopback_ephemeral(),
        storage.clone(),
        shutdown.clone(),
    )
    .await
    .unwrap();
    let args = AgentArgs {
        binary_max_packet_size: 64,
        ..AgentArgs::loopback_ephemeral(&collector.grpc_addr.to_string())
    };
    let agent = run(&args, shutdown.clone()).await.unwrap();
    let dropped = || {
        METRICS
            .packets_dropped
            .with_label_values(&["jaeger", "binary"])
            .get()
    };
    let before = dropped();
    let (_, bytes) = packet(0xD4, "too-big", 5, Protocol::Binary);
    assert!(bytes.len() > 64);
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.send_to(&bytes, agent.binary_addr).await.unwrap();
    eventually("oversized packet dropped", || dropped() > before).await;
    assert!(storage
        .reader
        .get_traces(&[TraceId(0xD4)])
        .await
        .unwrap()
        .is_empty());
    shutdown.trigger();
    assert!(agent.join(Duration::from_secs(10)).await);
    assert!(collector.join(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn unreachable_collector_fills_the_buffer_then_counts_drops() {
    // A port nothing listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let shutdown = Shutdown::new();
    let args = AgentArgs {
        // Room for a batch or two: the rest must be dropped and counted, not held.
        buffer_max_bytes: 1000,
        batch_max_spans: 2,
        batch_max_delay: Duration::from_millis(5),
        ..AgentArgs::loopback_ephemeral(&format!("127.0.0.1:{port}"))
    };
    let agent = run(&args, shutdown.clone()).await.unwrap();
    let dropped = || METRICS.buffer_dropped_spans.get();
    let before = dropped();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for t in 0..20u128 {
        let (_, bytes) = packet(0xE500 + t, "lost", 2, Protocol::Compact);
        client.send_to(&bytes, agent.compact_addr).await.unwrap();
    }
    eventually("spans beyond the buffer counted as dropped", || {
        dropped() >= before + 10
    })
    .await;
    shutdown.trigger();
    // What is still buffered cannot be delivered: the bounded wait gives up, no hang.
    assert!(!agent.join(Duration::from_millis(300)).await);
}

#[tokio::test]
async fn shutdown_forwards_what_was_read() {
    let s = Setup::start().await;
    let processed = || {
        METRICS
            .packets_processed
            .with_label_values(&["jaeger", "compact"])
            .get()
    };
    let before = processed();
    for t in 0..20u128 {
        let (_, bytes) = packet(0xF000 + t, "drain", 1, Protocol::Compact);
        s.send(Protocol::Compact, &bytes).await;
    }
    eventually("20 packets read", || processed() >= before + 20).await;
    s.shutdown.trigger();
    assert!(s.agent.join(Duration::from_secs(10)).await);
    // Everything the agent had read was forwarded (and acknowledged) before it exited.
    for t in 0..20u128 {
        let got = s
            .storage
            .reader
            .get_traces(&[TraceId(0xF000 + t)])
            .await
            .unwrap();
        assert_eq!(got.len(), 1, "trace {t} forwarded before exit");
    }
    s.collector_shutdown.trigger();
    assert!(s.collector.join(Duration::from_secs(5)).await);
}
