//! The byte breakdown of an existing embedded data directory (see
//! `sextant_storage::embedded::inspect`). Ignored: it needs a directory, e.g. one kept by
//! `scripts/bench-embedded.sh --directory /tmp/b`:
//!
//! ```text
//! SEXTANT_INSPECT_DIR=/tmp/b/data cargo test --release -p sextant-storage \
//!     --test embedded_inspect -- --ignored --nocapture
//! ```

#[test]
#[ignore = "needs SEXTANT_INSPECT_DIR"]
fn inspect_data_directory() {
    let dir = std::env::var("SEXTANT_INSPECT_DIR").expect("SEXTANT_INSPECT_DIR");
    let experiments = std::env::var("SEXTANT_INSPECT_EXPERIMENTS").is_ok_and(|v| v == "1");
    let report = sextant_storage::embedded::inspect::inspect(dir.as_ref(), experiments)
        .expect("inspecting the directory");
    println!("{report}");
}

/// Rewrites `SEXTANT_INSPECT_DIR` with this build's segment writer into a temporary
/// directory (zstd level `SEXTANT_REWRITE_LEVEL`, default 3; block target
/// `SEXTANT_REWRITE_BLOCK_KB`, default the store's) and prints its breakdown.
#[test]
#[ignore = "needs SEXTANT_INSPECT_DIR"]
fn rewrite_data_directory() {
    let src = std::env::var("SEXTANT_INSPECT_DIR").expect("SEXTANT_INSPECT_DIR");
    let num = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let defaults = sextant_storage::embedded::EmbeddedOptions::default();
    let opts = sextant_storage::embedded::WriteOptions {
        level: num("SEXTANT_REWRITE_LEVEL", 3) as i32,
        block_bytes: num("SEXTANT_REWRITE_BLOCK_KB", defaults.block_bytes >> 10) << 10,
    };
    let dst = tempfile::tempdir().expect("tempdir");
    let spent = sextant_storage::embedded::inspect::rewrite(src.as_ref(), dst.path(), opts)
        .expect("rewriting");
    println!("{opts:?}: written in {spent:?}");
    let report =
        sextant_storage::embedded::inspect::inspect(dst.path(), false).expect("inspecting");
    println!("{report}");
}

/// Times the store calls behind a search on an existing directory, split into finding the
/// trace IDs and reading the traces, for every service (`SEXTANT_INSPECT_DIR`).
#[test]
#[ignore = "needs SEXTANT_INSPECT_DIR"]
fn time_store_searches() {
    use std::time::Instant;

    use sextant_storage::{embedded::EmbeddedArgs, TraceQuery};

    let dir = std::env::var("SEXTANT_INSPECT_DIR").expect("SEXTANT_INSPECT_DIR");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let storage = sextant_storage::embedded::open(&EmbeddedArgs {
            directory: dir.into(),
            ..Default::default()
        })
        .await
        .expect("opening the directory");
        let services = storage.reader.get_services().await.expect("services");
        for service in &services {
            let query = TraceQuery {
                service_name: service.clone(),
                num_traces: 20,
                ..Default::default()
            };
            let (mut find, mut read) = (Vec::new(), Vec::new());
            for _ in 0..50 {
                let started = Instant::now();
                let ids = storage.reader.find_trace_ids(&query).await.expect("find");
                let found = started.elapsed();
                let traces = storage.reader.get_traces(&ids).await.expect("get");
                find.push(found);
                read.push(started.elapsed() - found);
                assert_eq!(traces.len(), ids.len());
            }
            find.sort();
            read.sort();
            println!(
                "{service:24} find ids p50 {:>9.2?} p99 {:>9.2?} | read 20 traces p50 {:>9.2?} p99 {:>9.2?}",
                find[25], find[49], read[25], read[49]
            );
        }
    });
}
