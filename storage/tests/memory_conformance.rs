//! The memory backend against the shared conformance suite, regex cases included.

use std::sync::Arc;

use sextant_storage::conformance::run_suite;
use sextant_storage::memory::MemoryStore;
use sextant_storage::Storage;

#[tokio::test]
async fn memory_store_passes_the_conformance_suite() {
    let storage = Storage::from_backend(Arc::new(MemoryStore::new(10_000)));
    let report = run_suite(&storage).await;
    println!("{report}");
    report.assert_passed();
}

/// A store bounded just above what one check writes (22 queried fixtures) must pass too:
/// purges and evictions leave the indexes consistent.
#[tokio::test]
async fn a_tightly_bounded_store_passes_too() {
    let storage = Storage::from_backend(Arc::new(MemoryStore::new(25)));
    run_suite(&storage).await.assert_passed();
}
