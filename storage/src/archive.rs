//! Archive storage: the second store that Jaeger's "archive trace" copies a trace into, so
//! that it outlives the primary store's retention (or eviction), and that trace lookups fall
//! back to.
//!
//! Jaeger v1 builds the archive from the same backend with separate settings; Sextant does
//! the same per backend, without extra flags:
//!
//! | primary | archive |
//! | --- | --- |
//! | `memory` | a second memory store of the same `--memory.max-traces` (evictions of the primary never touch it) |
//! | `embedded` | an embedded store under `<--embedded.directory>/archive` with no retention |
//! | `elasticsearch` | the same cluster and flags, in Jaeger's `[PREFIX-]jaeger-span-archive` index (`…-archive-read`/`-write` aliases with `--es.use-aliases`) |
//! | `grpc` | the remote storage server's archive services (`sextant-remote-storage` serves an archive of its own primary kind) |
//! | others (cluster backends) | none yet: archiving answers Jaeger's "archive span storage was not configured" error |

use std::time::Duration;

use crate::factory::{StorageArgs, StorageType};
use crate::{Result, Storage};

/// Write buffer of the archive's embedded store: archiving is a trickle of single traces,
/// so a small buffer keeps the second store's memory footprint low.
const ARCHIVE_WRITE_BUFFER_MB: u64 = 16;

/// Builds the archive store that goes with the primary backend `kind`, or `None` when that
/// backend has no archive.
pub async fn build_archive(args: &StorageArgs, kind: StorageType) -> Result<Option<Storage>> {
    match kind {
        StorageType::Memory => Ok(Some(crate::memory::build(&args.memory))),
        StorageType::Embedded => {
            let mut embedded = args.embedded.clone();
            embedded.directory = embedded.directory.join("archive");
            // `Duration::MAX` saturates the retention cut-off at 0: nothing ever expires.
            embedded.retention = Duration::MAX;
            embedded.write_buffer_mb = embedded.write_buffer_mb.min(ARCHIVE_WRITE_BUFFER_MB);
            crate::embedded::open(&embedded).await.map(Some)
        }
        StorageType::Elasticsearch => crate::elasticsearch::connect_archive(&args.es)
            .await
            .map(Some),
        StorageType::Grpc => crate::grpc::connect_archive(&args.grpc).await.map(Some),
        // Backends without an archive here yet (the cluster backends until they grow
        // Jaeger's `*-archive` settings).
        _ => Ok(None),
    }
}

/// The archive for the backend `args` selects, `default` when none is selected.
pub async fn build_archive_with_default(
    args: &StorageArgs,
    default: StorageType,
) -> Result<Option<Storage>> {
    build_archive(args, args.resolve(default)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_archive_is_a_separate_store() {
        let args = StorageArgs::default();
        let primary = crate::build(&args).await.unwrap();
        let archive = build_archive(&args, StorageType::Memory)
            .await
            .unwrap()
            .unwrap();
        let span = sextant_model::Span {
            trace_id: sextant_model::TraceId(7),
            span_id: sextant_model::SpanId(1),
            ..Default::default()
        };
        archive.writer.write_spans(vec![span]).await.unwrap();
        let ids = [sextant_model::TraceId(7)];
        assert_eq!(archive.reader.get_traces(&ids).await.unwrap().len(), 1);
        assert!(primary.reader.get_traces(&ids).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn embedded_archive_lives_under_the_store_directory() {
        let dir = tempfile::tempdir().unwrap();
        let mut args = StorageArgs::default();
        args.embedded.directory = dir.path().to_path_buf();
        let archive = build_archive(&args, StorageType::Embedded).await.unwrap();
        assert!(archive.is_some());
        assert!(dir.path().join("archive").is_dir());
        assert!(build_archive(&args, StorageType::Blackhole)
            .await
            .unwrap()
            .is_none());
    }
}
