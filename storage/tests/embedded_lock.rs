//! One store directory, one process: a second open fails clearly instead of replaying (and
//! deleting) the WAL of a store that is still running; the lock goes with the store.

use sextant_storage::embedded::{EmbeddedOptions, EmbeddedStore};

#[tokio::test]
async fn a_directory_in_use_cannot_be_opened_twice() {
    let dir = tempfile::tempdir().unwrap();
    let first = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
        .await
        .unwrap();
    let second = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).await;
    let err = second.err().expect("second open must fail").to_string();
    assert!(err.contains("in use by another process"), "{err}");

    first.close().await.unwrap();
    drop(first);
    let reopened = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).await;
    assert!(
        reopened.is_ok(),
        "lock released after close: {:?}",
        reopened.err()
    );
}
