//! Leader election over the sampling store's lease, as Jaeger's `leaderelection` does it:
//! try to take (or renew) the lease; as leader renew every `leader-lease-refresh-interval`,
//! as follower retry every `follower-lease-refresh-interval`. The lease lasts the follower
//! interval, so a leader that dies is replaced within about two follower intervals.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sextant_common::shutdown::Shutdown;
use sextant_storage::sampling::SamplingStore;

use super::metrics::METRICS;

/// The lease's resource name (Jaeger's).
pub const LEASE_RESOURCE: &str = "sampling_store_leader";

/// Whether this collector currently holds the lease; cheap to clone and read.
#[derive(Clone, Default)]
pub struct Leadership(Arc<AtomicBool>);

impl Leadership {
    pub fn is_leader(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self, leader: bool) {
        self.0.store(leader, Ordering::Release);
        METRICS.leader.set(i64::from(leader));
    }
}

/// A name for this collector in the lease and in the probabilities it writes: the host,
/// the process and an instance number (several collectors may run in one process).
pub fn participant_name() -> String {
    static INSTANCE: AtomicU64 = AtomicU64::new(0);
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "sextant".to_string());
    let n = INSTANCE.fetch_add(1, Ordering::Relaxed);
    format!("{host}-{}-{n}", std::process::id())
}

/// Tries once; a store error counts as "not leader" (never two leaders on a flaky store).
pub async fn try_acquire(
    store: &dyn SamplingStore,
    holder: &str,
    ttl: Duration,
    leadership: &Leadership,
) -> bool {
    let held = match store.acquire_lease(LEASE_RESOURCE, holder, ttl).await {
        Ok(held) => held,
        Err(e) => {
            METRICS
                .store_errors
                .with_label_values(&["acquire_lease"])
                .inc();
            tracing::warn!(error = %e, "adaptive sampling: cannot acquire the leader lease");
            false
        }
    };
    if held != leadership.is_leader() {
        tracing::info!(
            holder,
            leader = held,
            "adaptive sampling leadership changed"
        );
    }
    leadership.set(held);
    held
}

/// Keeps trying / renewing until shutdown, then gives the lease up so another collector
/// takes over at once.
pub async fn run(
    store: Arc<dyn SamplingStore>,
    holder: String,
    leader_refresh: Duration,
    follower_refresh: Duration,
    leadership: Leadership,
    shutdown: Shutdown,
) {
    loop {
        let pause = if leadership.is_leader() {
            leader_refresh
        } else {
            follower_refresh
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.wait() => break,
        }
        try_acquire(store.as_ref(), &holder, follower_refresh, &leadership).await;
    }
    if leadership.is_leader() {
        leadership.set(false);
        if let Err(e) = store.forfeit_lease(LEASE_RESOURCE, &holder).await {
            tracing::warn!(error = %e, "adaptive sampling: cannot forfeit the leader lease");
        }
    }
}
