//! Sampling strategies per service, fetched from the collectors' `SamplingManager` gRPC
//! service (on the same peers, round-robin, as spans go to) and cached for the refresh
//! interval. Clients poll every minute or so per process; the cache turns a host's many
//! polls for one service into one collector call per interval.
//!
//! When no collector answers, the last strategy fetched for the service is served (however
//! old), and for a service never fetched Jaeger's default (probabilistic 0.001) — so a
//! client always gets a usable strategy, and the collector outage shows in the metrics.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use sextant_proto::jaeger::api_v2 as pb;
use sextant_proto::jaeger::api_v2::sampling_manager_client::SamplingManagerClient;
use tonic::{Code, Status};

use crate::metrics::METRICS;
use crate::reporter::peers::Peers;
use sextant_model::sampling_json::default_strategy;

/// Services remembered at once; beyond this the entry fetched longest ago is evicted, so a
/// client sending random service names cannot grow the agent's memory.
pub const MAX_SERVICES: usize = 10_000;

pub struct StrategyCache {
    peers: Arc<Peers>,
    refresh: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    strategy: Arc<pb::SamplingStrategyResponse>,
    fetched: Instant,
}

impl StrategyCache {
    pub fn new(peers: Arc<Peers>, refresh: Duration) -> Self {
        StrategyCache {
            peers,
            refresh,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The strategy for `service`: cached while fresh, else fetched; never an error.
    pub async fn get(&self, service: &str) -> Arc<pb::SamplingStrategyResponse> {
        let cached = self
            .entries
            .lock()
            .get(service)
            .map(|e| (e.strategy.clone(), e.fetched.elapsed() < self.refresh));
        if let Some((strategy, true)) = &cached {
            return strategy.clone();
        }
        match self.fetch(service).await {
            Ok(strategy) => {
                let strategy = Arc::new(strategy);
                self.insert(service, strategy.clone());
                strategy
            }
            Err(status) => {
                tracing::debug!(%service, code = ?status.code(), message = status.message(), "no sampling strategy from the collectors");
                match cached {
                    Some((stale, _)) => stale,
                    None => {
                        METRICS.sampling_default_served.inc();
                        Arc::new(default_strategy())
                    }
                }
            }
        }
    }

    fn insert(&self, service: &str, strategy: Arc<pb::SamplingStrategyResponse>) {
        let mut entries = self.entries.lock();
        if entries.len() >= MAX_SERVICES && !entries.contains_key(service) {
            let oldest = entries
                .iter()
                .min_by_key(|(_, e)| e.fetched)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                entries.remove(&k);
            }
        }
        entries.insert(
            service.to_string(),
            Entry {
                strategy,
                fetched: Instant::now(),
            },
        );
        METRICS
            .sampling_cache_entries
            .set(i64::try_from(entries.len()).unwrap_or(i64::MAX));
    }

    /// Asks the collectors in turn until one answers (at most one attempt per collector).
    async fn fetch(&self, service: &str) -> Result<pb::SamplingStrategyResponse, Status> {
        let attempts = self.peers.addrs().len().max(1);
        let mut last = Status::unavailable("no collector available");
        for _ in 0..attempts {
            let Some(peer) = self.peers.pick() else { break };
            let request = pb::SamplingStrategyParameters {
                service_name: service.to_string(),
            };
            let result = SamplingManagerClient::new(peer.channel.clone())
                .get_sampling_strategy(request)
                .await;
            match result {
                Ok(r) => {
                    count("ok");
                    return Ok(r.into_inner());
                }
                Err(status) => {
                    count("err");
                    if matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded) {
                        self.peers.mark_failed(&peer);
                    }
                    last = status;
                }
            }
        }
        Err(last)
    }
}

fn count(result: &str) {
    METRICS
        .collector_proxy
        .with_label_values(&["sampling", "grpc", result])
        .inc();
}
