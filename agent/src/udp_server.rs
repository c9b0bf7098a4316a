//! The UDP side of a processor: one task reads datagrams and puts them on a bounded queue
//! for the workers. The reader never waits for the workers — when the queue is full the
//! packet is dropped and counted (`packets_dropped`), as Jaeger's `TBufferedServer` does,
//! because a UDP client cannot be slowed down anyway and memory must stay bounded.

use std::net::SocketAddr;

use bytes::Bytes;
use sextant_common::net::parse_listen_addr;
use sextant_common::shutdown::Shutdown;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::metrics::METRICS;
use crate::{AgentError, Labels};

/// Binds the UDP socket for one processor; `recv_buffer` > 0 sets its kernel receive
/// buffer (SO_RCVBUF), which is what absorbs bursts while the reader is busy.
pub async fn bind(host_port: &str, recv_buffer: usize) -> Result<UdpSocket, AgentError> {
    let addr = parse_listen_addr(host_port).map_err(AgentError::Address)?;
    let bind_err = |source| AgentError::Bind { addr, source };
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(bind_err)?;
    if recv_buffer > 0 {
        // The kernel may cap the size (net.core.rmem_max); a smaller buffer still works.
        if let Err(e) = socket.set_recv_buffer_size(recv_buffer) {
            tracing::warn!(%addr, error = %e, "cannot set the UDP receive buffer size");
        }
    }
    socket.set_nonblocking(true).map_err(bind_err)?;
    socket.bind(&addr.into()).map_err(bind_err)?;
    UdpSocket::from_std(socket.into()).map_err(bind_err)
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
