//! The Elasticsearch / OpenSearch backend, reading and writing Jaeger's index layout so that
//! a Jaeger deployment's indices are readable here and the other way round.
//!
//! * Layout: daily indices `[PREFIX-]jaeger-span-YYYY-MM-DD` and `…jaeger-service-…`
//!   (`indices.rs`), or the rollover layout's read/write aliases (`--es.use-aliases`);
//!   Jaeger's templates and mappings per cluster flavour (`templates.rs`), detected with
//!   `GET /` (`client.rs`).
//! * Documents: Jaeger's `dbmodel` span, mapped in `sextant_model::es_json`.
//! * Write: the bounded, retrying bulk pipeline (`bulk.rs`, `writer.rs`), with Jaeger's
//!   `jaeger_bulk_index_*` metrics (`metrics.rs`).
//! * Read: Jaeger's query shapes (`query.rs`, `reader.rs`), dependencies (`deps.rs`).
//! * Operator tasks shared with `sextant-es-tools` (`admin.rs`).
//! * Archive: the same backend over Jaeger's `jaeger-span-archive` indices
//!   ([`connect_archive`]).
//!
//! Not stored, as in Jaeger's v1 layout: scope attributes and link attributes.

pub mod admin;
mod args;
pub mod bulk;
pub mod client;
mod deps;
pub mod indices;
pub mod metrics;
pub mod query;
mod reader;
pub mod sampling;
pub mod templates;
mod writer;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sextant_model::es_json::TagsAsFields;
use sextant_model::{Span, SpanKind, Trace, TraceId};

pub use args::{EsArgs, Refresh};
use bulk::{BulkConfig, BulkProcessor, BulkStats};
use client::{EsClient, Flavor};
use deps::DependencyStore;
use indices::{IndexKind, IndexNames};
use reader::SpanDocReader;
use templates::TemplateOptions;
use writer::{ServiceCache, SpanDocWriter};

use crate::{
    DependencyLink, DependencyReader, Operation, Purger, Result, SpanReader, SpanWriter, Storage,
    StorageError, TraceQuery,
};

/// One connection to a cluster, implementing every storage trait.
pub struct EsStore {
    client: EsClient,
    flavor: Flavor,
    names: IndexNames,
    /// The kinds behind read/write aliases in the rollover layout, set up again by a purge.
    rollover_kinds: Vec<IndexKind>,
    writer: SpanDocWriter,
    reader: SpanDocReader,
    deps: DependencyStore,
}

/// The index names the flags describe.
pub fn index_names(args: &EsArgs) -> IndexNames {
    IndexNames::new(
        &args.index_prefix,
        &args.index_date_separator,
        args.use_aliases,
    )
}

/// The template options the flags describe.
pub fn template_options(args: &EsArgs) -> TemplateOptions {
    TemplateOptions {
        shards: args.num_shards,
        replicas: args.num_replicas,
        priority_span: args.priority_span_template,
        priority_service: args.priority_service_template,
        priority_dependencies: args.priority_dependencies_template,
        ilm_policy: (args.use_aliases && args.use_ilm).then(|| args.ilm_policy_name.clone()),
    }
}

fn tags_as_fields(args: &EsArgs) -> Result<TagsAsFields> {
    let mut keys: HashSet<String> = args
        .tags_as_fields_include
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(path) = &args.tags_as_fields_config_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            StorageError::Backend(format!(
                "--es.tags-as-fields.config-file {}: {e}",
                path.display()
            ))
        })?;
        keys.extend(
            text.lines()
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_string),
        );
    }
    Ok(TagsAsFields {
        all: args.tags_as_fields_all,
        keys,
        dot_replacement: args.tags_as_fields_dot_replacement.clone(),
    })
}

/// Connects (detecting the version unless `--es.version` is given), installs the templates
/// when asked, and starts the bulk pipeline.
pub async fn connect_store(args: &EsArgs) -> Result<Arc<EsStore>> {
    open(args, index_names(args), &admin::ROLLOVER_KINDS).await
}

/// The archive store of Jaeger's layout: spans only (no service documents), in the undated
/// `[PREFIX-]jaeger-span-archive` index, or behind `jaeger-span-archive-read`/`-write`
/// with `--es.use-aliases` (set up here like `sextant-es-tools rollover init --archive`).
/// Reads ignore time ranges: an archived trace is found whatever its age.
pub async fn connect_archive_store(args: &EsArgs) -> Result<Arc<EsStore>> {
    open(
        args,
        IndexNames::archive(&args.index_prefix, args.use_aliases),
        &admin::ARCHIVE_ROLLOVER_KINDS,
    )
    .await
}

async fn open(
    args: &EsArgs,
    names: IndexNames,
    rollover_kinds: &[IndexKind],
) -> Result<Arc<EsStore>> {
    let client = EsClient::new(args)?;
    let flavor = if args.version == 0 {
        client.detect().await?
    } else {
        Flavor::from_major(args.version, false)
    };
    if args.create_index_templates {
        // The primary's templates (`jaeger-span-*`) cover the archive indices too, as in
        // Jaeger; templates of the archive's own would replace them under the same name.
        let template_names = index_names(args);
        admin::install_templates(&client, flavor, &template_names, &template_options(args)).await?;
    }
    if names.uses_aliases() {
        admin::rollover_init(&client, &names, rollover_kinds).await?;
    }
    let bulk = BulkProcessor::start(
        client.clone(),
        BulkConfig {
            max_actions: args.bulk_actions as usize,
            max_bytes: usize::try_from(args.bulk_size).unwrap_or(usize::MAX),
            flush_interval: args.bulk_flush_interval,
            workers: args.bulk_workers as usize,
            refresh: args.bulk_refresh.as_param(),
            max_attempts: args.bulk_max_attempts,
            backoff: args.bulk_backoff,
        },
    );
    let fields = tags_as_fields(args)?;
    Ok(Arc::new(EsStore {
        flavor,
        writer: SpanDocWriter {
            names: names.clone(),
            fields: fields.clone(),
            bulk,
            services: ServiceCache::new(args.service_cache_size.max(1)),
        },
        reader: SpanDocReader {
            client: client.clone(),
            names: names.clone(),
            dot_replacement: fields.dot_replacement,
            max_span_age: args.max_span_age,
            max_doc_count: args.max_doc_count,
        },
        deps: DependencyStore {
            client: client.clone(),
            names: names.clone(),
            max_doc_count: args.max_doc_count,
            refresh: args.bulk_refresh.as_param(),
        },
        rollover_kinds: rollover_kinds.to_vec(),
        client,
        names,
    }))
}

/// Builds the backend for the factory.
pub async fn connect(args: &EsArgs) -> Result<Storage> {
    Ok(Storage::from_backend(connect_store(args).await?))
}

/// Builds the archive store for the factory (see [`connect_archive_store`]).
pub async fn connect_archive(args: &EsArgs) -> Result<Storage> {
    Ok(Storage::from_backend(connect_archive_store(args).await?))
}

impl EsStore {
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }
    pub fn bulk_stats(&self) -> &BulkStats {
        self.writer.bulk.stats()
    }
    /// Stores dependency links for a moment (what Jaeger's Spark job writes).
    pub async fn write_dependencies(
        &self,
        unix_nanos: u64,
        links: &[DependencyLink],
    ) -> Result<()> {
        self.deps.write(unix_nanos, links).await
    }
}

#[async_trait]
impl SpanWriter for EsStore {
    async fn write_spans(&self, spans: Vec<Span>) -> Result<()> {
        self.writer.write(spans).await
    }
}

#[async_trait]
impl SpanReader for EsStore {
    async fn get_traces(&self, ids: &[TraceId]) -> Result<Vec<Trace>> {
        self.reader.get_traces(ids).await
    }
    async fn get_services(&self) -> Result<Vec<String>> {
        self.reader.get_services().await
    }
    async fn get_operations(
        &self,
        service: &str,
        span_kind: Option<SpanKind>,
    ) -> Result<Vec<Operation>> {
        self.reader.get_operations(service, span_kind).await
    }
    async fn find_trace_ids(&self, query: &TraceQuery) -> Result<Vec<TraceId>> {
        self.reader.find_trace_ids(query).await
    }
    async fn find_traces(&self, query: &TraceQuery) -> Result<Vec<Trace>> {
        self.reader.find_traces(query).await
    }
}

#[async_trait]
impl DependencyReader for EsStore {
    async fn get_dependencies(
        &self,
        end_time_unix_nano: u64,
        lookback: Duration,
    ) -> Result<Vec<DependencyLink>> {
        self.deps.read(end_time_unix_nano, lookback).await
    }
}

#[async_trait]
impl Purger for EsStore {
    /// Deletes every Jaeger index under the prefix (the archive: only its own indices); in
    /// the rollover layout it sets up the initial indices and aliases again.
    async fn purge(&self) -> Result<()> {
        let all = if self.names.is_archive() {
            admin::list_indices(
                &self.client,
                &format!("{}*", self.names.base(IndexKind::Span)),
            )
            .await?
        } else {
            admin::all_jaeger_indices(&self.client, &self.names).await?
        };
        admin::delete_indices(&self.client, &all).await?;
        if self.names.uses_aliases() {
            admin::rollover_init(&self.client, &self.names, &self.rollover_kinds).await?;
        }
        self.writer.services.clear();
        Ok(())
    }
}
