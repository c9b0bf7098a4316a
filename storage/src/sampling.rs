//! Adaptive-sampling state shared by every collector: observed throughput per
//! (service, operation) and the probabilities computed from it. Modelled on Jaeger's
//! `samplingstore.Store`, so the Cassandra/ES layouts can implement it the same way.
//!
//! Contract:
//! * `insert_throughput` appends one collector's counts for one interval (timestamped by
//!   the caller); `get_throughput(start, end)` returns every bucket with
//!   `start <= time < end`, from all collectors, in insertion order.
//! * `insert_probabilities` records the latest computed probabilities (and the QPS they were
//!   computed from) by the collector that computed them; `get_latest_probabilities` returns
//!   the most recent such record, or empty maps when there is none.
//! * Backends bound what they keep (the memory store: [`MAX_BUCKETS`] throughput buckets).
//! * `acquire_lease(resource, holder, ttl)` is Jaeger's `distributedlock.Lock.Acquire`: it
//!   takes the lease when it is free or expired, renews it when `holder` already holds it,
//!   and returns whether `holder` holds it afterwards. At most one holder holds a resource
//!   at a time (as far as the backend's clock and consistency allow); a holder that stops
//!   renewing loses it after `ttl`. `forfeit_lease` gives it up early (a no-op for others).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::Result;

/// Throughput buckets the memory store keeps (oldest dropped first).
pub const MAX_BUCKETS: usize = 10_000;

/// Spans seen for one (service, operation) in one interval by one collector.
#[derive(Clone, Debug, PartialEq)]
pub struct Throughput {
    pub service: String,
    pub operation: String,
    pub count: u64,
    /// The sampling probabilities the counted root spans carried (as text, as Jaeger keeps
    /// them), so the calculator can tell spans sampled under an old probability.
    pub probabilities: BTreeSet<String>,
}

/// service → operation → value.
pub type ServiceOperationValues = HashMap<String, HashMap<String, f64>>;

#[derive(Clone, Debug, PartialEq, Default)]
pub struct ProbabilitiesRecord {
    pub hostname: String,
    pub probabilities: ServiceOperationValues,
    pub qps: ServiceOperationValues,
}

#[async_trait]
pub trait SamplingStore: Send + Sync {
    async fn insert_throughput(
        &self,
        time_unix_nano: u64,
        throughput: Vec<Throughput>,
    ) -> Result<()>;
    async fn get_throughput(
        &self,
        start_unix_nano: u64,
        end_unix_nano: u64,
    ) -> Result<Vec<Throughput>>;
    async fn insert_probabilities(&self, record: ProbabilitiesRecord) -> Result<()>;
    async fn get_latest_probabilities(&self) -> Result<ProbabilitiesRecord>;
    async fn acquire_lease(&self, resource: &str, holder: &str, ttl: Duration) -> Result<bool>;
    async fn forfeit_lease(&self, resource: &str, holder: &str) -> Result<bool>;
}

/// The sampling store of a process without a shared backend: one [`MemorySamplingStore`]
/// (what the collector and the all-in-one use unless told otherwise).
pub fn build_memory() -> Arc<dyn SamplingStore> {
    Arc::new(MemorySamplingStore::default())
}

/// Where adaptive sampling keeps its state (`--sampling-storage.type`, Jaeger's
/// `SAMPLING_STORAGE_TYPE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SamplingStorageType {
    /// In this process only: collectors in other processes do not see it.
    #[default]
    Memory,
    /// Elasticsearch / OpenSearch (the `--es.*` flags), shared by every collector using it.
    Elasticsearch,
}

/// Builds the sampling store `kind` names, from the storage flags it needs. Nothing is sent
/// to a remote backend until first use.
pub fn build(
    kind: SamplingStorageType,
    args: &crate::StorageArgs,
) -> Result<Arc<dyn SamplingStore>> {
    Ok(match kind {
        SamplingStorageType::Memory => build_memory(),
        SamplingStorageType::Elasticsearch => Arc::new(
            crate::elasticsearch::sampling::EsSamplingStore::new(&args.es)?,
        ),
    })
}

/// The in-process implementation: state shared by the collectors of one process (the
/// all-in-one, tests).
#[derive(Default)]
pub struct MemorySamplingStore {
    buckets: Mutex<VecDeque<(u64, Vec<Throughput>)>>,
    latest: Mutex<ProbabilitiesRecord>,
    /// resource → (holder, expiry).
    leases: Mutex<HashMap<String, (String, Instant)>>,
}

#[async_trait]
impl SamplingStore for MemorySamplingStore {
    async fn insert_throughput(
        &self,
        time_unix_nano: u64,
        throughput: Vec<Throughput>,
    ) -> Result<()> {
        let mut buckets = self.buckets.lock();
        if buckets.len() >= MAX_BUCKETS {
            buckets.pop_front();
        }
        buckets.push_back((time_unix_nano, throughput));
        Ok(())
    }

    async fn get_throughput(
        &self,
        start_unix_nano: u64,
        end_unix_nano: u64,
    ) -> Result<Vec<Throughput>> {
        let buckets = self.buckets.lock();
        Ok(buckets
            .iter()
            .filter(|(t, _)| (start_unix_nano..end_unix_nano).contains(t))
            .flat_map(|(_, b)| b.iter().cloned())
            .collect())
    }

    async fn insert_probabilities(&self, record: ProbabilitiesRecord) -> Result<()> {
        *self.latest.lock() = record;
        Ok(())
    }

    async fn get_latest_probabilities(&self) -> Result<ProbabilitiesRecord> {
        Ok(self.latest.lock().clone())
    }

    async fn acquire_lease(&self, resource: &str, holder: &str, ttl: Duration) -> Result<bool> {
        let now = Instant::now();
        let mut leases = self.leases.lock();
        let free = match leases.get(resource) {
            None => true,
            Some((owner, expiry)) => owner == holder || *expiry <= now,
        };
        if free {
            leases.insert(resource.to_string(), (holder.to_string(), now + ttl));
        }
        Ok(free)
    }

    async fn forfeit_lease(&self, resource: &str, holder: &str) -> Result<bool> {
        let mut leases = self.leases.lock();
        let held = leases
            .get(resource)
            .is_some_and(|(owner, _)| owner == holder);
        if held {
            leases.remove(resource);
        }
        Ok(held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(op: &str, count: u64) -> Throughput {
        Throughput {
            service: "svc".into(),
            operation: op.into(),
            count,
            probabilities: BTreeSet::from(["0.001".to_string()]),
        }
    }

    #[tokio::test]
    async fn throughput_is_windowed_and_probabilities_latest() {
        let store = MemorySamplingStore::default();
        store.insert_throughput(10, vec![tp("a", 1)]).await.unwrap();
        store.insert_throughput(20, vec![tp("b", 2)]).await.unwrap();
        store.insert_throughput(30, vec![tp("c", 3)]).await.unwrap();
        let got = store.get_throughput(10, 30).await.unwrap();
        assert_eq!(got, vec![tp("a", 1), tp("b", 2)]);
        assert_eq!(
            store.get_latest_probabilities().await.unwrap(),
            Default::default()
        );
        let record = ProbabilitiesRecord {
            hostname: "c1".into(),
            ..Default::default()
        };
        store.insert_probabilities(record.clone()).await.unwrap();
        assert_eq!(store.get_latest_probabilities().await.unwrap(), record);
    }

    #[tokio::test]
    async fn one_lease_holder_at_a_time() {
        let store = MemorySamplingStore::default();
        let long = Duration::from_secs(3600);
        assert!(store.acquire_lease("r", "a", long).await.unwrap());
        assert!(!store.acquire_lease("r", "b", long).await.unwrap());
        assert!(
            store.acquire_lease("r", "a", long).await.unwrap(),
            "renewal"
        );
        assert!(store.acquire_lease("other", "b", long).await.unwrap());
        assert!(!store.forfeit_lease("r", "b").await.unwrap());
        assert!(store.forfeit_lease("r", "a").await.unwrap());
        assert!(store.acquire_lease("r", "b", Duration::ZERO).await.unwrap());
        // b's lease expired at once: a may take it.
        assert!(store.acquire_lease("r", "a", long).await.unwrap());
    }
}
