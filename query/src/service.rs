//! The query service proper: what every API surface (HTTP v1, HTTP v3, gRPC v2, gRPC v3)
//! calls, so that archive fallback, adjusters, dependency merging and metrics live in one
//! place and every API answers the same.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sextant_model::{SpanKind, Trace, TraceId};
use sextant_storage::{DependencyLink, Operation, Storage, StorageError, TraceQuery};

use crate::adjusters::Adjusters;
use crate::metrics;

/// The stores the query service reads: the primary span store and, when the backend has
/// one, the archive (see `sextant_storage::factory::archive`).
#[derive(Clone)]
pub struct Stores {
    pub primary: Storage,
    pub archive: Option<Storage>,
}

impl From<Storage> for Stores {
    fn from(primary: Storage) -> Self {
        Stores {
            primary,
            archive: None,
        }
    }
}

/// Why archiving failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Jaeger's `errNoArchiveSpanStorage` text.
    #[error("archive span storage was not configured")]
    NotConfigured,
    #[error("trace not found")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[derive(Clone)]
pub struct QueryService {
    stores: Stores,
    adjusters: Arc<Adjusters>,
}

impl QueryService {
    pub fn new(stores: Stores, adjusters: Adjusters) -> Self {
        QueryService {
            stores,
            adjusters: Arc::new(adjusters),
        }
    }

    pub fn has_archive(&self) -> bool {
        self.stores.archive.is_some()
    }

    /// One trace, from the primary store or else the archive; `None` when neither has it.
    /// `raw` skips the adjusters.
    pub async fn get_trace(&self, id: TraceId, raw: bool) -> Result<Option<Trace>, StorageError> {
        let mut traces = self.get_traces(&[id], raw).await?;
        Ok(traces.pop())
    }

    /// The traces with these IDs (unknown ones skipped), each looked up in the archive when
    /// the primary store does not have it.
    pub async fn get_traces(&self, ids: &[TraceId], raw: bool) -> Result<Vec<Trace>, StorageError> {
        let m = metrics::global();
        let found = m
            .observe("get_trace", self.stores.primary.reader.get_traces(ids))
            .await?;
        let mut by_id: BTreeMap<TraceId, Trace> = found
            .into_iter()
            .filter_map(|t| t.trace_id().map(|id| (id, t)))
            .collect();
        if let Some(archive) = &self.stores.archive {
            let missing: Vec<TraceId> = ids
                .iter()
                .copied()
                .filter(|id| !by_id.contains_key(id))
                .collect();
            if !missing.is_empty() {
                let archived = m
                    .observe("get_archive_trace", archive.reader.get_traces(&missing))
                    .await?;
                by_id.extend(
                    archived
                        .into_iter()
                        .filter_map(|t| t.trace_id().map(|id| (id, t))),
                );
            }
        }
        let mut out = Vec::with_capacity(by_id.len());
        for id in ids {
            if let Some(mut trace) = by_id.remove(id) {
                self.adjust(&mut trace, raw);
                out.push(trace);
            }
        }
        Ok(out)
    }

    pub async fn find_traces(
        &self,
        query: &TraceQuery,
        raw: bool,
    ) -> Result<Vec<Trace>, StorageError> {
        let mut traces = metrics::global()
            .observe("find_traces", self.stores.primary.reader.find_traces(query))
            .await?;
        traces.retain(|t| !t.spans.is_empty());
        for t in &mut traces {
            self.adjust(t, raw);
        }
        Ok(traces)
    }

    pub async fn get_services(&self) -> Result<Vec<String>, StorageError> {
        metrics::global()
            .observe("get_services", self.stores.primary.reader.get_services())
            .await
    }

    pub async fn get_operations(
        &self,
        service: &str,
        kind: Option<SpanKind>,
    ) -> Result<Vec<Operation>, StorageError> {
        metrics::global()
            .observe(
                "get_operations",
                self.stores.primary.reader.get_operations(service, kind),
            )
            .await
    }

    /// The call graph over `[end - lookback, end]`, one entry per (parent, child): backends
    /// may split an edge over several rows (per day, per shard), which are summed here.
    pub async fn get_dependencies(
        &self,
        end_time_unix_nano: u64,
        lookback: Duration,
    ) -> Result<Vec<DependencyLink>, StorageError> {
        let links = metrics::global()
            .observe(
                "get_dependencies",
                self.stores
                    .primary
                    .dependencies
                    .get_dependencies(end_time_unix_nano, lookback),
            )
            .await?;
        let mut merged: BTreeMap<(String, String), u64> = BTreeMap::new();
        for l in links {
            let count = merged.entry((l.parent, l.child)).or_default();
            *count = count.saturating_add(l.call_count);
        }
        Ok(merged
            .into_iter()
            .map(|((parent, child), call_count)| DependencyLink {
                parent,
                child,
                call_count,
            })
            .collect())
    }

    /// Copies a trace, as stored (unadjusted), into the archive store.
    pub async fn archive_trace(&self, id: TraceId) -> Result<(), ArchiveError> {
        let archive = self
            .stores
            .archive
            .as_ref()
            .ok_or(ArchiveError::NotConfigured)?;
        let trace = metrics::global()
            .observe("get_trace", self.stores.primary.reader.get_traces(&[id]))
            .await?
            .into_iter()
            .find(|t| !t.spans.is_empty());
        let trace = match trace {
            Some(t) => t,
            // Already archived (e.g. a second click after the primary expired it): done.
            None => match archive.reader.get_traces(&[id]).await?.into_iter().next() {
                Some(_) => return Ok(()),
                None => return Err(ArchiveError::NotFound),
            },
        };
        metrics::global()
            .observe("archive_trace", archive.writer.write_spans(trace.spans))
            .await?;
        Ok(())
    }

    fn adjust(&self, trace: &mut Trace, raw: bool) {
        if !raw {
            self.adjusters.adjust(trace);
        }
    }
}
