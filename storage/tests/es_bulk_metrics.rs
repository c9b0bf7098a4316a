//! Jaeger's `jaeger_bulk_index_*` metrics of the bulk pipeline, against the scripted server.
//! A test binary of its own with a single test: the metrics are process-wide, so nothing
//! else may count into them while the exact figures are checked.

mod es_support;

use std::sync::Arc;
use std::time::Duration;

use es_support::scripted::{serve, Seen};
use parking_lot::Mutex;
use serde_json::json;
use sextant_model::{Span, SpanId, TraceId};
use sextant_storage::elasticsearch::metrics::METRICS;
use sextant_storage::elasticsearch::{self, EsArgs, Refresh};
use sextant_storage::SpanWriter;

fn span(id: u64) -> Span {
    Span {
        trace_id: TraceId(0x3e7),
        span_id: SpanId(id),
        name: "op".into(),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_001_000_000,
        ..Default::default()
    }
}

fn errors(reason: &str) -> u64 {
    METRICS.errors.with_label_values(&[reason]).get()
}

#[tokio::test]
async fn bulk_requests_items_failures_retries_and_latency_are_counted() {
    let busy = json!({"error": {"type": "es_rejected_execution_exception", "reason": "queue full"}, "status": 429});
    let partial = json!({"errors": true, "items": [
        {"index": {"status": 201}},
        {"index": {"status": 503, "error": {"type": "unavailable_shards_exception", "reason": "no shard"}}},
        {"index": {"status": 400, "error": {"type": "mapper_parsing_exception", "reason": "bad field"}}}
    ]});
    let seen: Seen = Arc::default();
    let script = vec![Some((429, busy)), Some((200, partial))];
    let url = serve(Arc::new(Mutex::new(script.into())), seen.clone()).await;
    let store = elasticsearch::connect_store(&EsArgs {
        server_urls: vec![url],
        version: 8,
        create_index_templates: false,
        bulk_flush_interval: Duration::from_millis(1),
        bulk_backoff: Duration::from_millis(5),
        bulk_max_attempts: 3,
        bulk_refresh: Refresh::False,
        ..EsArgs::default()
    })
    .await
    .unwrap();

    // Two spans and one service document: 3 items.
    // Request 1: 429 for all 3 (retried whole). Request 2: one stored, one 503 (retried),
    // one 400 (final). Request 3: the retried item stored.
    let err = store.write_spans(vec![span(1), span(2)]).await.unwrap_err();
    assert!(err.to_string().contains("bad field"), "{err}");
    assert_eq!(seen.lock().len(), 3);

    let m = &*METRICS;
    assert_eq!(m.requests.get(), 3);
    assert_eq!(m.attempts.get(), 3 + 3 + 1);
    assert_eq!(m.inserts.get(), 2);
    assert_eq!(errors("too_many_requests"), 3);
    assert_eq!(errors("server_error"), 1);
    assert_eq!(errors("rejected"), 1);
    assert_eq!(errors("unreachable"), 0);
    assert_eq!(m.retries.get(), 3 + 1);
    assert_eq!(m.latency_err.get_sample_count(), 1);
    assert_eq!(m.latency_ok.get_sample_count(), 2);

    // A node that does not answer at all.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let down = elasticsearch::connect_store(&EsArgs {
        server_urls: vec![dead],
        version: 8,
        create_index_templates: false,
        bulk_flush_interval: Duration::from_millis(1),
        bulk_backoff: Duration::from_millis(5),
        bulk_max_attempts: 2,
        ..EsArgs::default()
    })
    .await
    .unwrap();
    assert!(down.write_spans(vec![span(9)]).await.is_err());
    // Span and service document, twice.
    assert_eq!(errors("unreachable"), 4);

    // Exported under Jaeger's names on the default registry.
    let names: Vec<String> = prometheus::gather()
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    for want in [
        "jaeger_bulk_index_attempts_total",
        "jaeger_bulk_index_inserts_total",
        "jaeger_bulk_index_errors_total",
        "jaeger_bulk_index_latency_ok",
        "jaeger_bulk_index_latency_err",
        "jaeger_bulk_index_requests_total",
        "jaeger_bulk_index_retries_total",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
    }
}
