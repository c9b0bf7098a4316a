//! The Elasticsearch sampling store (adaptive sampling's shared state) on `osmem-server`:
//! throughput windows, latest probabilities, and the leader lease.

mod es_support;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use es_support::{args, Osmem};
use sextant_storage::elasticsearch::sampling::EsSamplingStore;
use sextant_storage::sampling::{ProbabilitiesRecord, SamplingStore, Throughput};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn tp(op: &str, count: u64) -> Throughput {
    Throughput {
        service: "svc".into(),
        operation: op.into(),
        count,
        probabilities: BTreeSet::from(["0.001000".to_string()]),
    }
}

fn sorted(mut t: Vec<Throughput>) -> Vec<Throughput> {
    t.sort_by(|x, y| (&x.operation, x.count).cmp(&(&y.operation, y.count)));
    t
}

#[tokio::test]
async fn throughput_probabilities_and_lease_round_trip() {
    let Some(server) = Osmem::start().await else {
        return;
    };
    let store = EsSamplingStore::new(&args(&server.url)).unwrap();

    // Nothing yet: no indices, empty answers.
    assert_eq!(
        store.get_latest_probabilities().await.unwrap(),
        ProbabilitiesRecord::default()
    );
    // Millisecond-aligned: Elasticsearch `date` fields keep milliseconds.
    let t0 = now() - 10_000_000_000;
    let t0 = t0 - t0 % 1_000_000;
    assert!(store.get_throughput(t0, now()).await.unwrap().is_empty());

    let (t1, t2, t3) = (t0 + 1_000_000_000, t0 + 2_000_000_000, t0 + 3_000_000_000);
    store
        .insert_throughput(t1, vec![tp("a", 1), tp("b", 2)])
        .await
        .unwrap();
    store.insert_throughput(t2, vec![tp("a", 3)]).await.unwrap();
    store.insert_throughput(t3, vec![tp("c", 4)]).await.unwrap();
    // [t1, t3): the first two buckets, not the third.
    assert_eq!(
        sorted(store.get_throughput(t1, t3).await.unwrap()),
        vec![tp("a", 1), tp("a", 3), tp("b", 2)]
    );
    assert_eq!(
        store.get_throughput(t3, t3 + 1_000_000).await.unwrap(),
        vec![tp("c", 4)]
    );

    let record = |host: &str, p: f64| ProbabilitiesRecord {
        hostname: host.into(),
        probabilities: HashMap::from([(
            "svc".to_string(),
            HashMap::from([("GET /a.b".to_string(), p)]),
        )]),
        qps: HashMap::from([(
            "svc".to_string(),
            HashMap::from([("GET /a.b".to_string(), 2.5)]),
        )]),
    };
    store.insert_probabilities(record("c1", 0.5)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    store
        .insert_probabilities(record("c2", 0.25))
        .await
        .unwrap();
    assert_eq!(
        store.get_latest_probabilities().await.unwrap(),
        record("c2", 0.25)
    );

    // The lease: one holder at a time, renewable, forfeitable, stolen once expired.
    let long = Duration::from_secs(3600);
    assert!(store.acquire_lease("leader", "a", long).await.unwrap());
    assert!(!store.acquire_lease("leader", "b", long).await.unwrap());
    assert!(store.acquire_lease("leader", "a", long).await.unwrap());
    assert!(!store.forfeit_lease("leader", "b").await.unwrap());
    assert!(store.forfeit_lease("leader", "a").await.unwrap());
    assert!(store
        .acquire_lease("leader", "b", Duration::ZERO)
        .await
        .unwrap());
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(store.acquire_lease("leader", "a", long).await.unwrap());
    assert!(store.acquire_lease("../bad", "a", long).await.is_err());

    // A second store on the same cluster (another collector) sees the same state.
    let other = EsSamplingStore::new(&args(&server.url)).unwrap();
    assert_eq!(
        other.get_latest_probabilities().await.unwrap(),
        record("c2", 0.25)
    );
    assert!(!other.acquire_lease("leader", "b", long).await.unwrap());
}
