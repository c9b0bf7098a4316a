//! The embedded backend (`--span-storage.type=embedded`): Sextant's persistent default.
//!
//! Spans are acknowledged once they are in an fsynced write-ahead log; they live in an
//! in-memory write buffer until it is flushed into immutable, zstd-compressed segment files,
//! one per hourly time partition, each with its own indexes. Retention deletes whole
//! partitions. `DESIGN.md` beside this file explains the layout and why it is fast.
//!
//! Files: `codec` (span encoding), `wal`, `memtable` (write buffer), `segment_write` /
//! `segment` (segment files), `terms` (what a tag index holds), `search` (ranking),
//! `deps` (service graph), `cache` (decoded blocks), `engine` (threads and state),
//! `store` (the trait implementations), and `inspect` (where the bytes go: a debugging aid).
//! `testdata/` holds a segment of an older format version that must stay readable.

mod bytes;
mod cache;
mod codec;
mod deps;
mod engine;
#[cfg(test)]
mod format_tests;
pub mod inspect;
mod memtable;
mod search;
mod segment;
mod segment_write;
mod store;
mod terms;
mod wal;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use engine::EmbeddedOptions;
pub use segment_write::WriteOptions;
pub use store::EmbeddedStore;

use crate::{Storage, StorageError};

/// Flags of the embedded backend.
#[derive(Clone, Debug, clap::Args)]
pub struct EmbeddedArgs {
    /// Directory holding the embedded store's data (WAL and segment files).
    #[arg(
        long = "embedded.directory",
        env = "EMBEDDED_DIRECTORY",
        default_value = "./sextant-data"
    )]
    pub directory: PathBuf,

    /// How long spans are kept (e.g. `72h`, `30d`, `90m`). Data is dropped by whole hourly
    /// partitions, so a span lives between the retention and one hour more.
    #[arg(
        long = "embedded.retention",
        env = "EMBEDDED_RETENTION",
        default_value = "72h",
        value_parser = sextant_model::go_duration::parse_flag
    )]
    pub retention: Duration,

    /// Size of the in-memory write buffer, in MiB, before it is flushed to segment files.
    /// Two buffers may exist at once (one flushing).
    #[arg(
        long = "embedded.write-buffer-mb",
        env = "EMBEDDED_WRITE_BUFFER_MB",
        default_value_t = 128,
        value_parser = clap::value_parser!(u64).range(1..=16384)
    )]
    pub write_buffer_mb: u64,

    /// Decoded spans kept in the block cache for trace fetches and searches.
    #[arg(
        long = "embedded.cache-spans",
        env = "EMBEDDED_CACHE_SPANS",
        default_value_t = 100_000,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub cache_spans: u64,

    /// zstd compression level of segment files (1 = fastest, 19 = smallest).
    #[arg(
        long = "embedded.compression-level",
        env = "EMBEDDED_COMPRESSION_LEVEL",
        default_value_t = 3,
        value_parser = clap::value_parser!(i32).range(1..=19)
    )]
    pub compression_level: i32,

    /// Target size of a segment data block, in KiB of the write buffer's span-size estimate
    /// (several times the encoded size). Larger blocks compress better; fetching a trace
    /// decompresses and decodes its whole block.
    #[arg(
        long = "embedded.block-size-kb",
        env = "EMBEDDED_BLOCK_SIZE_KB",
        default_value_t = DEFAULT_BLOCK_KB,
        value_parser = clap::value_parser!(u64).range(4..=65536)
    )]
    pub block_size_kb: u64,
}

const DEFAULT_BLOCK_KB: u64 = (segment_write::BLOCK_BYTES >> 10) as u64;

impl Default for EmbeddedArgs {
    fn default() -> Self {
        EmbeddedArgs {
            directory: PathBuf::from("./sextant-data"),
            retention: Duration::from_secs(72 * 3600),
            write_buffer_mb: 128,
            cache_spans: 100_000,
            compression_level: 3,
            block_size_kb: DEFAULT_BLOCK_KB,
        }
    }
}

impl EmbeddedArgs {
    pub fn options(&self) -> EmbeddedOptions {
        let mb = usize::try_from(self.write_buffer_mb).unwrap_or(usize::MAX);
        EmbeddedOptions {
            retention: self.retention,
            max_buffer_bytes: mb.saturating_mul(1 << 20),
            // A buffer of small spans is bounded by count too (index overhead per span).
            max_buffer_spans: mb.saturating_mul(2_000).max(1),
            cache_spans: usize::try_from(self.cache_spans).unwrap_or(usize::MAX),
            compression_level: self.compression_level,
            block_bytes: usize::try_from(self.block_size_kb)
                .unwrap_or(usize::MAX)
                .saturating_mul(1 << 10),
            ..EmbeddedOptions::default()
        }
    }
}

/// Opens the embedded store configured by `args`.
pub async fn open(args: &EmbeddedArgs) -> Result<Storage, StorageError> {
    let store = EmbeddedStore::open(&args.directory, args.options()).await?;
    Ok(Storage::from_backend(Arc::new(store)))
}
