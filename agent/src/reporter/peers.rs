//! The collectors the agent forwards to, and which of them to use next.
//!
//! Every collector address gets a lazily connected gRPC [`Channel`]. [`Peers::pick`] hands
//! them out round-robin, skipping a peer whose last call failed at the connection level
//! until its back-off has passed; then the next call to it is a probe, and success makes it
//! a full member again. With `dns:///`, [`Peers::refresh`] replaces the address set with
//! what the name resolves to now, keeping the channels of addresses that stayed.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use crate::metrics::METRICS;
use crate::AgentError;

/// Deadline of one call to a collector.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// HTTP/2 pings keep idle connections through NATs and load balancers and notice a dead
/// collector before a batch has to.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// A failed peer is skipped for this long, doubling per consecutive failure up to the cap.
const PEER_BACKOFF_START: Duration = Duration::from_millis(200);
const PEER_BACKOFF_MAX: Duration = Duration::from_secs(5);

pub struct Peer {
    /// `host:port` as configured or resolved; also the metrics/log name.
    pub addr: String,
    pub channel: Channel,
    health: Mutex<Health>,
}

#[derive(Default)]
struct Health {
    failures: u32,
    skip_until: Option<Instant>,
}

pub struct Peers {
    list: RwLock<Arc<Vec<Arc<Peer>>>>,
    cursor: AtomicUsize,
    tls: Option<ClientTlsConfig>,
}

impl Peers {
    pub fn new(tls: Option<ClientTlsConfig>) -> Self {
        Peers {
            list: RwLock::new(Arc::new(Vec::new())),
            cursor: AtomicUsize::new(0),
            tls,
        }
    }

    /// Replaces the peer set by `addrs` (`host:port` each), keeping existing peers (their
    /// connections and health) for addresses still present.
    pub fn set(&self, addrs: &[String]) -> Result<(), AgentError> {
        let current = self.list.read().clone();
        let mut next = Vec::with_capacity(addrs.len());
        for addr in addrs {
            match current.iter().find(|p| &p.addr == addr) {
                Some(p) => next.push(p.clone()),
                None => next.push(Arc::new(Peer {
                    addr: addr.clone(),
                    channel: self.endpoint(addr)?.connect_lazy(),
                    health: Mutex::new(Health::default()),
                })),
            }
        }
        let added = next
            .iter()
            .filter(|p| !current.iter().any(|c| c.addr == p.addr))
            .count();
        let removed = current
            .iter()
            .filter(|c| !next.iter().any(|p| p.addr == c.addr))
            .count();
        if added > 0 || removed > 0 {
            tracing::info!(
                peers = ?next.iter().map(|p| p.addr.as_str()).collect::<Vec<_>>(),
                added,
                removed,
                "collector set changed"
            );
        }
        *self.list.write() = Arc::new(next);
        self.update_gauges();
        Ok(())
    }

    /// Sets the peers from resolved socket addresses (the `dns:///` case).
    pub fn set_resolved(&self, addrs: &[SocketAddr]) -> Result<(), AgentError> {
        let list: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
        self.set(&list)
    }

    /// The next peer to call, round-robin over the healthy ones; a peer whose back-off has
    /// expired counts as healthy (its next call is the probe). `None` while every peer is
    /// backing off: [`Peers::wait_hint`] says for how long.
    pub fn pick(&self) -> Option<Arc<Peer>> {
        let list = self.list.read().clone();
        let n = list.len();
        if n == 0 {
            return None;
        }
        let start = self.cursor.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        (0..n)
            .filter_map(|i| list.get(start.wrapping_add(i) % n))
            .find(|p| p.health.lock().skip_until.is_none_or(|t| t <= now))
            .cloned()
    }

    /// How long until some peer's back-off ends (bounded, so new peers are noticed).
    pub fn wait_hint(&self) -> Duration {
        let now = Instant::now();
        self.list
            .read()
            .iter()
            .filter_map(|p| p.health.lock().skip_until)
            .map(|t| t.saturating_duration_since(now))
            .min()
            .unwrap_or(PEER_BACKOFF_START)
            .clamp(Duration::from_millis(10), PEER_BACKOFF_MAX)
    }

    pub fn mark_ok(&self, peer: &Peer) {
        let was_failing = {
            let mut h = peer.health.lock();
            let was = h.skip_until.is_some();
            *h = Health::default();
            was
        };
        if was_failing {
            tracing::info!(collector = %peer.addr, "collector answers again");
            self.update_gauges();
        }
    }

    pub fn mark_failed(&self, peer: &Peer) {
        {
            let mut h = peer.health.lock();
            h.failures = h.failures.saturating_add(1);
            let exp = h.failures.saturating_sub(1).min(10);
            let backoff = PEER_BACKOFF_START
                .saturating_mul(1u32 << exp)
                .min(PEER_BACKOFF_MAX);
            h.skip_until = Some(Instant::now() + backoff);
        }
        METRICS.peer_failures.inc();
        self.update_gauges();
    }

    /// `host:port` of every peer, in order.
    pub fn addrs(&self) -> Vec<String> {
        self.list.read().iter().map(|p| p.addr.clone()).collect()
    }

    fn update_gauges(&self) {
        let list = self.list.read().clone();
        let now = Instant::now();
        let healthy = list
            .iter()
            .filter(|p| p.health.lock().skip_until.is_none_or(|t| t <= now))
            .count();
        METRICS
            .peers
            .set(i64::try_from(list.len()).unwrap_or(i64::MAX));
        METRICS
            .peers_healthy
            .set(i64::try_from(healthy).unwrap_or(i64::MAX));
    }

    fn endpoint(&self, host_port: &str) -> Result<Endpoint, AgentError> {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{host_port}"))
            .map_err(|e| {
                AgentError::Reporter(format!("invalid collector address {host_port:?}: {e}"))
            })?
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .tcp_nodelay(true)
            .tcp_keepalive(Some(KEEPALIVE_INTERVAL))
            .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
            .keep_alive_timeout(KEEPALIVE_TIMEOUT)
            .keep_alive_while_idle(true);
        if let Some(tls) = &self.tls {
            endpoint = endpoint
                .tls_config(tls.clone())
                .map_err(|e| AgentError::Reporter(format!("TLS for {host_port}: {e}")))?;
        }
        Ok(endpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &Peers, n: usize) -> Vec<String> {
        (0..n).map(|_| p.pick().unwrap().addr.clone()).collect()
    }

    #[tokio::test]
    async fn round_robin_skips_failed_until_backoff_ends() {
        let p = Peers::new(None);
        p.set(&[
            "127.0.0.1:1".into(),
            "127.0.0.2:1".into(),
            "127.0.0.3:1".into(),
        ])
        .unwrap();
        let mut got = names(&p, 6);
        got.sort();
        assert_eq!(got.iter().filter(|a| a.starts_with("127.0.0.2")).count(), 2);

        let second = p.pick().unwrap();
        p.mark_failed(&second);
        for a in names(&p, 10) {
            assert_ne!(a, second.addr, "failed peer skipped");
        }
        // Every peer failing: nothing to pick until a back-off ends.
        for _ in 0..3 {
            if let Some(x) = p.pick() {
                p.mark_failed(&x);
            }
        }
        assert!(p.pick().is_none());
        assert!(p.wait_hint() <= PEER_BACKOFF_MAX);
        tokio::time::sleep(p.wait_hint()).await;
        let probe = p.pick().expect("back-off over: probe");
        p.mark_ok(&probe);
        assert!(p.pick().is_some());
    }

    #[tokio::test]
    async fn set_keeps_surviving_peers() {
        let p = Peers::new(None);
        p.set(&["127.0.0.1:1".into(), "127.0.0.2:1".into()])
            .unwrap();
        let first = p.pick().unwrap();
        p.mark_failed(&first);
        p.set(&[first.addr.clone(), "127.0.0.9:1".into()]).unwrap();
        assert_eq!(
            p.addrs(),
            vec![first.addr.clone(), "127.0.0.9:1".to_string()]
        );
        // Health carried over: only the new peer is picked.
        assert_eq!(p.pick().unwrap().addr, "127.0.0.9:1");
    }
}
