//! The bulk pipeline against a small HTTP server on loopback that answers as a stressed
//! cluster does: 429 for a whole request, per-item 429s inside a 200, a permanent item
//! failure, and persistent 503s. Checks retries, back-off and the durability contract
//! (`write_spans` is Ok only when every document was stored).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

mod es_support;

use es_support::scripted::{actions, serve, Seen};
use parking_lot::Mutex;
use serde_json::{json, Value};
use sextant_model::{Span, SpanId, TraceId};
use sextant_storage::elasticsearch::{self, EsArgs, Refresh};
use sextant_storage::StorageError;

fn span(id: u64) -> Span {
    Span {
        trace_id: TraceId(9),
        span_id: SpanId(id),
        name: "op".into(),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_001_000_000,
        ..Default::default()
    }
}

async fn store(url: &str) -> Arc<elasticsearch::EsStore> {
    let args = EsArgs {
        server_urls: vec![url.to_string()],
        version: 8,
        create_index_templates: false,
        bulk_flush_interval: Duration::from_millis(1),
        bulk_backoff: Duration::from_millis(20),
        bulk_max_attempts: 3,
        bulk_refresh: Refresh::False,
        ..EsArgs::default()
    };
    elasticsearch::connect_store(&args).await.unwrap()
}

async fn setup(steps: Vec<Option<(u16, Value)>>) -> (Arc<elasticsearch::EsStore>, Seen) {
    let seen: Seen = Arc::default();
    let url = serve(Arc::new(Mutex::new(steps.into())), seen.clone()).await;
    (store(&url).await, seen)
}

use sextant_storage::SpanWriter;

#[tokio::test]
async fn a_429_request_is_retried_after_a_back_off() {
    let busy = json!({"error": {"type": "es_rejected_execution_exception", "reason": "queue full"}, "status": 429});
    let (store, seen) = setup(vec![Some((429, busy))]).await;
    let started = std::time::Instant::now();
    store.write_spans(vec![span(1), span(2)]).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(20),
        "no back-off"
    );
    let seen = seen.lock();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], seen[1], "the whole request is sent again");
    assert_eq!(
        store.bulk_stats().request_retries.load(Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn only_the_items_that_failed_are_retried() {
    // Two spans + one service document; the second item is rejected with 429.
    let partial = json!({"errors": true, "items": [
        {"index": {"status": 201}},
        {"index": {"status": 429, "error": {"type": "es_rejected_execution_exception", "reason": "busy"}}},
        {"index": {"status": 201}}
    ]});
    let (store, seen) = setup(vec![Some((200, partial))]).await;
    store.write_spans(vec![span(1), span(2)]).await.unwrap();
    let seen = seen.lock();
    assert_eq!(seen.len(), 2);
    assert_eq!(actions(&seen[0]), 3);
    assert_eq!(actions(&seen[1]), 1);
    assert!(
        seen[1].contains("0000000000000002"),
        "the retried item is span 2"
    );
    assert_eq!(store.bulk_stats().items_retried.load(Ordering::Relaxed), 1);
    assert_eq!(store.bulk_stats().items_written.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn a_permanent_item_failure_fails_the_write() {
    let bad = json!({"errors": true, "items": [
        {"index": {"status": 400, "error": {"type": "mapper_parsing_exception", "reason": "bad field"}}},
        {"index": {"status": 201}}
    ]});
    let (store, seen) = setup(vec![Some((200, bad))]).await;
    let err = store.write_spans(vec![span(1)]).await.unwrap_err();
    assert!(err.to_string().contains("bad field"), "{err}");
    assert_eq!(seen.lock().len(), 1, "not retried");
    assert_eq!(store.bulk_stats().items_failed.load(Ordering::Relaxed), 1);
    // The service document was not remembered: the next write sends it again.
    store.write_spans(vec![span(3)]).await.unwrap();
    assert_eq!(actions(&seen.lock()[1]), 2);
}

#[tokio::test]
async fn persistent_unavailability_gives_up_after_the_attempts() {
    let down = json!({"error": {"reason": "unavailable"}, "status": 503});
    let (store, seen) = setup(vec![
        Some((503, down.clone())),
        Some((503, down.clone())),
        Some((503, down)),
    ])
    .await;
    let err = store.write_spans(vec![span(1)]).await.unwrap_err();
    assert!(matches!(err, StorageError::Backend(_)), "{err}");
    assert_eq!(seen.lock().len(), 3);
}

#[tokio::test]
async fn concurrent_writers_share_bulk_requests_and_each_is_answered() {
    let (store, seen) = setup(vec![]).await;
    let writes = (0..20u64).map(|i| {
        let store = store.clone();
        async move { store.write_spans(vec![span(100 + i)]).await }
    });
    for r in futures::future::join_all(writes).await {
        r.unwrap();
    }
    let total: usize = seen.lock().iter().map(|b| actions(b)).sum();
    // 20 spans and one service document (the same for every span; sent until one is stored).
    assert!(total >= 21, "{total}");
    assert_eq!(
        store.bulk_stats().items_written.load(Ordering::Relaxed) as usize,
        total
    );
}
