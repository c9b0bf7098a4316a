//! Choosing and building a backend from flags, so that no other crate names a backend.
//!
//! Binaries flatten [`StorageArgs`] into their own clap arguments and call [`build`] (or
//! [`build_with_default`] when their default backend differs: the all-in-one will default to
//! the embedded store, a collector in front of a cluster to that cluster).

use clap::ValueEnum;

/// The archive store that goes with each backend (see its module docs).
#[path = "archive.rs"]
pub mod archive;

use crate::memory::MemoryArgs;
use crate::{Result, Storage};

/// Declares the backends: one line each — variant, the value of `--span-storage.type`, and
/// the function that builds it from [`StorageArgs`]. The enum and the dispatch in
/// [`build_with_default`] are generated from this table so they cannot drift apart.
macro_rules! storage_types {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal => $builder:expr;)+) => {
        /// The kind of span storage (`--span-storage.type` / `SPAN_STORAGE_TYPE`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ValueEnum)]
        pub enum StorageType {
            $($(#[doc = $doc])* #[value(name = $name)] $variant,)+
        }

        async fn build_type(kind: StorageType, args: &StorageArgs) -> Result<Storage> {
            match kind {
                $(StorageType::$variant => $builder(args).await,)+
            }
        }
    };
}

storage_types! {
    /// In-process memory, bounded by `--memory.max-traces`; lost on restart.
    Memory = "memory" => build_memory;
    /// Persistent on-disk store under `--embedded.directory` (the all-in-one default).
    Embedded = "embedded" => build_embedded;
    /// A remote storage server over Jaeger's gRPC Remote Storage API (`--grpc-storage.server`),
    /// e.g. `sextant-remote-storage` or Jaeger's `remote-storage`.
    Grpc = "grpc" => build_grpc;
    /// Accepts and discards every span; reads find nothing. For benchmarks.
    Blackhole = "blackhole" => build_blackhole;
    /// Elasticsearch 7–9 or OpenSearch 1–3 in Jaeger's index layout (`--es.server-urls`).
    Elasticsearch = "elasticsearch" => build_elasticsearch;
    /// Writes spans to a Kafka topic (`--kafka.producer.*`) for `sextant-ingester` to store;
    /// write-only, and only in binaries built with the `kafka` feature (the collector).
    Kafka = "kafka" => build_kafka;
}

async fn build_blackhole(_args: &StorageArgs) -> Result<Storage> {
    Ok(crate::blackhole::build())
}

async fn build_embedded(args: &StorageArgs) -> Result<Storage> {
    crate::embedded::open(&args.embedded).await
}

async fn build_elasticsearch(args: &StorageArgs) -> Result<Storage> {
    crate::elasticsearch::connect(&args.es).await
}

async fn build_grpc(args: &StorageArgs) -> Result<Storage> {
    crate::grpc::connect(&args.grpc).await
}

async fn build_kafka(args: &StorageArgs) -> Result<Storage> {
    crate::kafka::connect(&args.kafka).await
}

async fn build_memory(args: &StorageArgs) -> Result<Storage> {
    Ok(crate::memory::build(&args.memory))
}

/// Span storage flags shared by every binary that stores or reads spans.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct StorageArgs {
    /// The span storage backend. When not given, each binary uses its own default.
    #[arg(long = "span-storage.type", env = "SPAN_STORAGE_TYPE", value_enum)]
    pub span_storage_type: Option<StorageType>,

    #[command(flatten)]
    pub memory: MemoryArgs,

    #[command(flatten)]
    pub embedded: crate::embedded::EmbeddedArgs,

    #[command(flatten)]
    pub grpc: crate::grpc::GrpcStorageArgs,

    #[command(flatten)]
    pub es: crate::elasticsearch::EsArgs,

    #[command(flatten)]
    pub kafka: crate::kafka::KafkaProducerArgs,
}

impl StorageArgs {
    /// The backend to build: the one asked for, else the binary's `default`.
    pub fn resolve(&self, default: StorageType) -> StorageType {
        self.span_storage_type.unwrap_or(default)
    }
}

/// Builds the configured backend, defaulting to [`StorageType::Memory`].
pub async fn build(args: &StorageArgs) -> Result<Storage> {
    build_with_default(args, StorageType::Memory).await
}

/// Builds the configured backend, or `default` when none was asked for.
pub async fn build_with_default(args: &StorageArgs, default: StorageType) -> Result<Storage> {
    let kind = args.resolve(default);
    tracing::info!(storage = ?kind, "building span storage");
    build_type(kind, args).await
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        storage: StorageArgs,
    }

    #[test]
    fn parses_jaeger_flag_names() {
        let cli = Cli::try_parse_from(["x", "--span-storage.type=memory", "--memory.max-traces=7"])
            .unwrap();
        assert_eq!(cli.storage.span_storage_type, Some(StorageType::Memory));
        assert_eq!(cli.storage.memory.max_traces, 7);
        assert!(Cli::try_parse_from(["x", "--memory.max-traces=0"]).is_err());
        assert!(Cli::try_parse_from(["x", "--span-storage.type=nope"]).is_err());
    }

    #[test]
    fn unset_type_resolves_to_the_binary_default() {
        let cli = Cli::try_parse_from(["x"]).unwrap();
        assert_eq!(
            cli.storage.resolve(StorageType::Memory),
            StorageType::Memory
        );
        assert_eq!(cli.storage.memory.max_traces, 100_000);
    }

    #[tokio::test]
    async fn builds_a_working_memory_store() {
        let storage = build(&StorageArgs::default()).await.unwrap();
        assert!(storage.reader.get_services().await.unwrap().is_empty());
    }
}
