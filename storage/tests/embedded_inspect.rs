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
