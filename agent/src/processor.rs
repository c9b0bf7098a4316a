//! One processor per UDP port (compact 6831, binary 6832): a [`crate::udp_server`] reader
//! feeding a bounded queue, and a pool of workers that decode each packet straight into
//! api_v2 protobuf (the model's `thrift::decode_emit_batch_to_api_v2`, which skips the
//! internal span model) and hand it to the [`Batcher`].
//!
//! Input is hostile: a packet that does not decode is counted (Jaeger's `handler_errors`,
//! plus `sextant_agent_malformed_packets_total` by reason) and dropped; nothing a client
//! sends can stop the agent.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use sextant_common::shutdown::Shutdown;
use sextant_model::thrift::{decode_emit_batch_to_api_v2, Protocol};
use sextant_model::DecodeError;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinHandle;

use crate::metrics::METRICS;
use crate::reporter::batcher::Batcher;
use crate::udp_server::{queue_depth, read_loop};
use crate::Labels;

pub struct ProcessorConfig {
    pub protocol: Protocol,
    pub max_packet_size: usize,
    pub queue_size: usize,
    pub workers: usize,
}

/// Starts the reader and the workers on an already bound socket. Every returned task ends
/// after shutdown: the reader at once, the workers once the queue is drained.
pub fn start(
    socket: UdpSocket,
    local: SocketAddr,
    config: &ProcessorConfig,
    batcher: Arc<Batcher>,
    shutdown: Shutdown,
) -> Vec<JoinHandle<()>> {
    let labels = Labels::for_protocol(config.protocol);
    let (tx, rx) = mpsc::channel::<Bytes>(config.queue_size.max(1));
    let rx = Arc::new(Mutex::new(rx));
    let mut tasks = Vec::with_capacity(config.workers.saturating_add(1));
    // Workers see the sender only through this weak handle, for the queue-depth gauge, so
    // the reader dropping its sender is what closes the queue.
    let depth_probe = tx.downgrade();
    tasks.push(tokio::spawn(read_loop(
        socket,
        local,
        config.max_packet_size,
        tx,
        labels,
        shutdown,
    )));
    for _ in 0..config.workers.max(1) {
        let rx = rx.clone();
        let batcher = batcher.clone();
        let probe = depth_probe.clone();
        let protocol = config.protocol;
        tasks.push(tokio::spawn(async move {
            loop {
                // Holding the lock while waiting is fine: whoever holds it gets the next
                // packet, the others queue on the lock.
                let next = rx.lock().await.recv().await;
                let Some(packet) = next else { break };
                if let Some(tx) = probe.upgrade() {
                    METRICS
                        .queue_size
                        .with_label_values(&labels.values())
                        .set(queue_depth(&tx));
                }
                handle_packet(&packet, protocol, labels, &batcher);
            }
        }));
    }
    tasks
}

/// Decodes one packet and batches its spans; an undecodable packet is counted by reason.
/// Public for the fuzz tests, which drive it with hostile bytes.
pub fn handle_packet(packet: &[u8], protocol: Protocol, labels: Labels, batcher: &Batcher) {
    match decode_emit_batch_to_api_v2(packet, protocol) {
        Ok(batch) => batcher.add_api_v2(&batch),
        Err(e) => {
            let [model, proto] = labels.values();
            METRICS
                .handler_errors
                .with_label_values(&[model, proto])
                .inc();
            METRICS
                .malformed_packets
                .with_label_values(&[model, proto, reason(&e)])
                .inc();
            tracing::debug!(error = %e, size = packet.len(), "undecodable UDP packet dropped");
        }
    }
}

pub fn reason(e: &DecodeError) -> &'static str {
    match e {
        DecodeError::Truncated(_) => "truncated",
        DecodeError::Malformed { .. } => "malformed",
        DecodeError::TooLarge(_) => "too_large",
    }
}
