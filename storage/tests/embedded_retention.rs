//! Retention drops whole partitions older than the retention period — on demand and from
//! the periodic check — and leaves recent data alone.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sextant_model::{Resource, Span, SpanId, TraceId};
use sextant_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use sextant_storage::{SpanReader, SpanWriter};

const HOUR: u64 = 3_600_000_000_000;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn span(trace: u128, start: u64) -> Span {
    Span {
        trace_id: TraceId(trace),
        span_id: SpanId(1),
        name: "op".into(),
        start_time_unix_nano: start,
        end_time_unix_nano: start + 1_000,
        resource: Arc::new(Resource {
            service_name: format!("svc-{trace}"),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn options(check: Duration) -> EmbeddedOptions {
    EmbeddedOptions {
        retention: Duration::from_secs(2 * 3600),
        retention_check_interval: check,
        max_buffer_spans: 1,
        flush_before_ack: true,
        ..EmbeddedOptions::default()
    }
}

async fn present(store: &EmbeddedStore, trace: u128) -> bool {
    !store
        .get_traces(&[TraceId(trace)])
        .await
        .unwrap()
        .is_empty()
}

#[tokio::test]
async fn old_partitions_are_dropped_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), options(Duration::from_secs(3600)))
        .await
        .unwrap();
    let t = now();
    // Both within the 2h retention now (the periodic check keeps them).
    store
        .write_spans(vec![span(1, t - 3 * HOUR / 2)])
        .await
        .unwrap();
    store.write_spans(vec![span(2, t)]).await.unwrap();
    let partitions = std::fs::read_dir(dir.path().join("partitions"))
        .unwrap()
        .count();
    assert_eq!(partitions, 2);
    assert_eq!(store.apply_retention(t), 0);

    // Two hours on, the partition of trace 1 has wholly expired, trace 2's has not.
    assert_eq!(store.apply_retention(t + 2 * HOUR), 1);
    assert!(!present(&store, 1).await, "expired trace is gone");
    assert!(present(&store, 2).await, "recent trace is kept");
    assert_eq!(
        store.get_services().await.unwrap(),
        vec!["svc-2".to_string()]
    );
    let partitions = std::fs::read_dir(dir.path().join("partitions"))
        .unwrap()
        .count();
    assert_eq!(
        partitions, 1,
        "the expired partition's directory is deleted"
    );
    assert_eq!(store.apply_retention(t + 2 * HOUR), 0);
    assert_eq!(store.apply_retention(t + 4 * HOUR), 1);
    assert!(!present(&store, 2).await);
}

#[tokio::test]
async fn the_periodic_check_drops_expired_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), options(Duration::from_millis(20)))
        .await
        .unwrap();
    let t = now();
    store
        .write_spans(vec![span(1, t - 10 * HOUR)])
        .await
        .unwrap();
    store.write_spans(vec![span(2, t)]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while present(&store, 1).await {
        assert!(Instant::now() < deadline, "retention never ran");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(present(&store, 2).await);
}
