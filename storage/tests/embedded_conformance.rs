//! The embedded backend against the shared conformance suite, regex cases included: with
//! the default write buffer (reads served from the buffer), with a buffer so small that every
//! batch is flushed (reads served from segment files), and across close and reopen.

use std::sync::Arc;

use sextant_storage::conformance::run_suite;
use sextant_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use sextant_storage::{Storage, TraceQuery};

#[tokio::test]
async fn embedded_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
        .await
        .unwrap();
    let storage = Storage::from_backend(Arc::new(store));
    let report = run_suite(&storage).await;
    println!("{report}");
    report.assert_passed();
}

fn flush_every_batch() -> EmbeddedOptions {
    EmbeddedOptions {
        max_buffer_spans: 1,
        flush_before_ack: true,
        ..EmbeddedOptions::default()
    }
}

#[tokio::test]
async fn passes_when_every_batch_is_flushed_to_segments() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        EmbeddedStore::open(dir.path(), flush_every_batch())
            .await
            .unwrap(),
    );
    let storage = Storage::from_backend(store.clone());
    let report = run_suite(&storage).await;
    println!("{report}");
    report.assert_passed();
    assert!(
        store.segment_count() > 0,
        "the suite's data reached segments"
    );
}

/// Runs the suite, closes the store (flushing to segments), reopens it and checks that every
/// read answers the same, then runs the suite again on the reopened store.
#[tokio::test]
async fn reads_are_identical_after_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
            .await
            .unwrap(),
    );
    let storage = Storage::from_backend(store.clone());
    run_suite(&storage).await.assert_passed();
    // The suite's last check leaves its data in the store.
    let before = snapshot(&storage).await;
    assert!(!before.0.is_empty(), "the suite left data to compare");
    store.close().await.unwrap();
    drop(storage);
    drop(store);

    let reopened = Arc::new(
        EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
            .await
            .unwrap(),
    );
    assert!(reopened.segment_count() > 0);
    let storage = Storage::from_backend(reopened);
    let after = snapshot(&storage).await;
    assert_eq!(before, after);
    run_suite(&storage).await.assert_passed();
}

type Seen = (Vec<String>, Vec<String>, usize, usize);

async fn snapshot(storage: &Storage) -> Seen {
    let r = &storage.reader;
    let services = r.get_services().await.unwrap();
    let mut ops = Vec::new();
    for s in &services {
        for op in r.get_operations(s, None).await.unwrap() {
            ops.push(format!("{s}/{}/{:?}", op.name, op.span_kind));
        }
    }
    let ids = r.find_trace_ids(&TraceQuery::default()).await.unwrap();
    let traces = r.get_traces(&ids).await.unwrap();
    let spans = traces.iter().map(|t| t.spans.len()).sum();
    (services, ops, ids.len(), spans)
}
