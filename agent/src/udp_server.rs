//! The UDP side of a processor: one task reads datagrams and puts them on a bounded queue
//! for the workers. The reader never waits for the workers — when the queue is full the
//! packet is dropped and counted (`packets_dropped`), as Jaeger's `TBufferedServer` does,
//! because a UDP client cannot be slowed down anyway and memory must stay bounded.

use std::net::SocketAddr;

use bytes::Bytes;
use sextant_common::net::parse_listen_addr;
use sextant_common::shutdown::Shutdown;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::metrics::METRICS;
use crate::{AgentError, Labels};

/// Binds the UDP socket for one processor.
pub async fn bind(host_port: &str) -> Result<UdpSocket, AgentError> {
    let addr = parse_listen_addr(host_port).map_err(AgentError::Address)?;
    UdpSocket::bind(addr)
        .await
        .map_err(|source| AgentError::Bind { addr, source })
}

/// Reads packets until shutdown; returns when it stops reading. Dropping `queue` on return
/// is what tells the workers to drain and finish.
pub async fn read_loop(
    socket: UdpSocket,
    local: SocketAddr,
    max_packet_size: usize,
    queue: mpsc::Sender<Bytes>,
    labels: Labels,
    shutdown: Shutdown,
) {
    let m = &*METRICS;
    let lv = labels.values();
    let processed = m.packets_processed.with_label_values(&lv);
    let dropped = m.packets_dropped.with_label_values(&lv);
    let read_errors = m.read_errors.with_label_values(&lv);
    let packet_size = m.packet_size.with_label_values(&lv);
    let queue_size = m.queue_size.with_label_values(&lv);
    // One byte more than allowed, so an oversized datagram shows up as `n > max` rather than
    // being silently cut to a size that happens to decode.
    let mut buf = vec![0u8; max_packet_size.saturating_add(1)];
    loop {
        let received = tokio::select! {
            biased;
            _ = shutdown.wait() => break,
            r = socket.recv_from(&mut buf) => r,
        };
        let n = match received {
            Ok((n, _peer)) => n,
            Err(e) => {
                read_errors.inc();
                tracing::debug!(%local, error = %e, "UDP read failed");
                continue;
            }
        };
        packet_size.set(i64::try_from(n).unwrap_or(i64::MAX));
        let packet = match buf.get(..n) {
            Some(p) if n <= max_packet_size => Bytes::copy_from_slice(p),
            _ => {
                dropped.inc();
                tracing::debug!(%local, size = n, max = max_packet_size, "UDP packet too large, dropped");
                continue;
            }
        };
        match queue.try_send(packet) {
            Ok(()) => processed.inc(),
            Err(_) => dropped.inc(),
        }
        queue_size.set(queue_depth(&queue));
    }
    tracing::info!(%local, "UDP server stopped reading");
}

/// Packets waiting in the queue.
pub fn queue_depth<T>(queue: &mpsc::Sender<T>) -> i64 {
    let waiting = queue.max_capacity().saturating_sub(queue.capacity());
    i64::try_from(waiting).unwrap_or(i64::MAX)
}
