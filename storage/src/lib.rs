//! Storage: the traits every backend implements, the backends, and the conformance suite.
//!
//! The rest of Sextant never names a backend: it receives a [`Storage`] built by
//! [`factory::build`] from [`StorageArgs`] and talks to the traits below. The trait docs are
//! the specification each backend implements; `conformance` checks them.

pub mod blackhole;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod elasticsearch;
pub mod embedded;
pub mod factory;
pub mod grpc;
pub mod kafka;
pub mod matcher;
pub mod memory;
pub mod sampling;
#[cfg(test)]
mod test_rng;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sextant_model::{Span, SpanKind, Trace, TraceId};

pub use factory::{build, build_with_default, StorageArgs, StorageType};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The request itself is wrong (bad regex, bad range): the caller's fault, HTTP 400.
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// The backend cannot take more right now; the caller may retry later.
    #[error("storage overloaded: {0}")]
    Overloaded(String),
    /// Anything else the backend reports.
    #[error("storage error: {0}")]
    Backend(String),
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// Writes spans.
///
/// Contract: when `write_spans` returns `Ok`, every span in the batch is stored with the
/// durability the backend promises (the embedded store: survives a crash) and is visible to
/// readers. A batch may contain spans of many traces and services. Writing the same span twice
/// must not make it appear twice to readers.
#[async_trait]
pub trait SpanWriter: Send + Sync {
    async fn write_spans(&self, spans: Vec<Span>) -> Result<()>;

    /// Called once at a clean shutdown, after the last write: a backend that buffers
    /// (the embedded store's write buffer) settles its data. Writes and reads afterwards may
    /// fail. Nothing acknowledged may depend on it (a crash never calls it).
    async fn close(&self) -> Result<()> {
        Ok(())
    }
}

/// One operation of a service, as `/api/operations` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Operation {
    pub name: String,
    /// The span kind the operation was seen with; one entry per (name, kind) pair.
    pub span_kind: SpanKind,
}

/// A trace search. Every field narrows the result; empty strings, `None` and empty tag lists
/// mean "no constraint".
///
/// Semantics (Jaeger's): a trace matches when at least one of its spans matches *all* of
/// service, operation, tags, duration range and start-time range together. A tag `k=v`
/// matches a span when `k` has the value `v` (compared as text, see
/// [`sextant_model::AnyValue::to_string_lossy`]) among that span's attributes, its resource
/// (process) attributes, its scope attributes, the attributes of any of its events (logs) or
/// links, or its Jaeger v1 tags lifted into typed fields (`span.kind`, `error`,
/// `otel.status_code`, `otel.status_description`, `w3c.tracestate`, `otel.scope.name`,
/// `otel.scope.version`, and a log's `event` field, which became the event name). Status
/// reads as Jaeger writes it: `error=true` and `otel.status_code=ERROR` for an error,
/// `otel.status_code=OK` for OK. A value containing regex metacharacters
/// (`\ . + * ? ( ) | [ ] { } ^ $`) is an anchored regular expression (`same.*`); a backslash
/// escapes them (`same\*` is the literal `same*`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceQuery {
    pub service_name: String,
    pub operation_name: String,
    pub tags: Vec<(String, String)>,
    /// Inclusive bounds on a span's start time, Unix nanoseconds.
    pub start_time_min: Option<u64>,
    pub start_time_max: Option<u64>,
    /// Inclusive bounds on a span's duration, nanoseconds.
    pub duration_min: Option<u64>,
    pub duration_max: Option<u64>,
    /// Maximum traces returned; 0 means [`DEFAULT_NUM_TRACES`].
    pub num_traces: usize,
}

/// Jaeger's default search limit.
pub const DEFAULT_NUM_TRACES: usize = 100;

impl TraceQuery {
    pub fn limit(&self) -> usize {
        if self.num_traces == 0 {
            DEFAULT_NUM_TRACES
        } else {
            self.num_traces
        }
    }
}

/// Reads spans.
///
/// Contract for every method:
/// * Returned data is the caller's: a backend keeping its own copy hands out a clone.
/// * Unknown trace IDs are ignored (not an error); a trace is returned whole, every stored
///   span of it, each span once even if it was written twice.
/// * Results are deterministic: services and operations sorted ascending; searches ordered
///   by the start time of each trace's most recent *matching* span, newest first, cut at
///   [`TraceQuery::limit`].
#[async_trait]
pub trait SpanReader: Send + Sync {
    /// The traces with these IDs, in the order of `ids`, skipping unknown ones.
    async fn get_traces(&self, ids: &[TraceId]) -> Result<Vec<Trace>>;
    /// Every service name that has spans stored.
    async fn get_services(&self) -> Result<Vec<String>>;
    /// The operations of `service`, restricted to `span_kind` when given.
    async fn get_operations(
        &self,
        service: &str,
        span_kind: Option<SpanKind>,
    ) -> Result<Vec<Operation>>;
    /// The IDs of traces matching the query (see [`TraceQuery`]).
    async fn find_trace_ids(&self, query: &TraceQuery) -> Result<Vec<TraceId>>;
    /// The traces matching the query, whole.
    async fn find_traces(&self, query: &TraceQuery) -> Result<Vec<Trace>> {
        let ids = self.find_trace_ids(query).await?;
        self.get_traces(&ids).await
    }
}

/// An edge of the service dependency graph.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DependencyLink {
    pub parent: String,
    pub child: String,
    pub call_count: u64,
}

/// Reads the service call graph.
///
/// Contract: the links between services derived from spans whose start time lies in
/// `[end_time - lookback, end_time]`: a span of service A whose parent span belongs to
/// service B counts one call B → A. Sorted by (parent, child).
#[async_trait]
pub trait DependencyReader: Send + Sync {
    async fn get_dependencies(
        &self,
        end_time_unix_nano: u64,
        lookback: Duration,
    ) -> Result<Vec<DependencyLink>>;
}

/// Removes everything; used by tests and the conformance suite only.
#[async_trait]
pub trait Purger: Send + Sync {
    async fn purge(&self) -> Result<()>;
}

/// The handles of one configured backend. Several may point at the same object.
#[derive(Clone)]
pub struct Storage {
    pub writer: Arc<dyn SpanWriter>,
    pub reader: Arc<dyn SpanReader>,
    pub dependencies: Arc<dyn DependencyReader>,
    pub purger: Arc<dyn Purger>,
}

impl Storage {
    /// Bundles one object that implements every trait.
    pub fn from_backend<B>(backend: Arc<B>) -> Self
    where
        B: SpanWriter + SpanReader + DependencyReader + Purger + 'static,
    {
        Storage {
            writer: backend.clone(),
            reader: backend.clone(),
            dependencies: backend.clone(),
            purger: backend,
        }
    }
}
