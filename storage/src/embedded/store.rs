//! [`EmbeddedStore`]: the storage traits over the engine's snapshot.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use sextant_model::{Span, SpanId, SpanKind, Trace, TraceId};
use tokio::sync::{mpsc, oneshot};

use super::codec::encode_spans;
use super::deps::buffered_edges;
use super::engine::{self, EmbeddedOptions, Request, Shared, Snapshot};
use super::search::{lazy_source, rank, segment_candidates, Candidate};
use super::wal::{frame, MAX_FRAME};
use crate::matcher::CompiledQuery;
use crate::{
    DependencyLink, DependencyReader, Operation, Purger, Result, SpanReader, SpanWriter,
    StorageError, TraceQuery,
};

/// The embedded store. Cheap to share behind an `Arc`; dropping the last handle stops its
/// threads (acknowledged data is already durable in the WAL).
pub struct EmbeddedStore {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Request>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

fn backend(context: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(format!("embedded store: {context}: {e}"))
}

fn closed() -> StorageError {
    StorageError::Backend("embedded store is closed".into())
}

impl EmbeddedStore {
    /// Opens or creates the store in `dir`, recovering whatever the WAL holds.
    pub async fn open(dir: impl AsRef<Path>, options: EmbeddedOptions) -> Result<EmbeddedStore> {
        let dir = dir.as_ref().to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(&dir, options))
            .await
            .map_err(|e| backend("open", e))?
    }

    fn open_blocking(dir: &Path, options: EmbeddedOptions) -> Result<EmbeddedStore> {
        let depth = options.queue_depth.max(1);
        let (shared, wal) = Shared::open(dir, options)?;
        let (tx, rx) = mpsc::channel(depth);
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.to_string())
                .spawn(f)
                .map_err(|e| backend("starting a thread", e))
        };
        let s = shared.clone();
        let commit = spawn(
            "embedded-commit",
            Box::new(move || engine::commit_loop(s, wal, rx)),
        )?;
        let s = shared.clone();
        let flush = spawn("embedded-flush", Box::new(move || engine::flush_loop(s)))?;
        let s = shared.clone();
        let retention = spawn(
            "embedded-retention",
            Box::new(move || engine::retention_loop(s)),
        )?;
        Ok(EmbeddedStore {
            shared,
            tx,
            threads: Mutex::new(vec![commit, flush, retention]),
        })
    }

    /// Flushes every buffered span to segment files and stops the store's threads. Later
    /// calls on this handle fail.
    pub async fn close(&self) -> Result<()> {
        let (ack, rx) = oneshot::channel();
        self.tx
            .send(Request::Close(ack))
            .await
            .map_err(|_| closed())?;
        let result = rx.await.map_err(|_| closed())?;
        self.shared.stop();
        let threads = std::mem::take(&mut *self.threads.lock());
        tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await
        .map_err(|e| backend("close", e))?;
        result
    }

    /// Drops partitions older than the retention period now (it also runs periodically);
    /// returns how many partitions were dropped. `now_unix_nano` is the current time.
    pub fn apply_retention(&self, now_unix_nano: u64) -> usize {
        self.shared.apply_retention(now_unix_nano)
    }

    /// Number of segment files currently served.
    pub fn segment_count(&self) -> usize {
        self.shared.snapshot().segments.len()
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Shared, Snapshot) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || {
            let snap = shared.snapshot();
            f(&shared, snap)
        })
        .await
        .map_err(|e| backend("reader task", e))?
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        self.shared.stop();
    }
}

#[async_trait]
impl SpanWriter for EmbeddedStore {
    async fn write_spans(&self, spans: Vec<Span>) -> Result<()> {
        if spans.is_empty() {
            return Ok(());
        }
        let payload = encode_spans(&spans);
        if payload.len() > MAX_FRAME {
            return Err(StorageError::InvalidQuery(format!(
                "batch of {} bytes exceeds the {MAX_FRAME}-byte limit",
                payload.len()
            )));
        }
        let (ack, rx) = oneshot::channel();
        let req = Request::Write {
            frame: frame(&payload),
            spans,
            ack,
        };
        self.tx.send(req).await.map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }

    /// A clean shutdown flushes the write buffer, so the directory holds only segments.
    async fn close(&self) -> Result<()> {
        EmbeddedStore::close(self).await
    }
}

/// Every stored span of `id`, each identical span once.
fn trace_spans(shared: &Shared, snap: &Snapshot, id: TraceId) -> Result<Vec<Span>> {
    let mut spans = Vec::new();
    for seg in snap.segments.iter() {
        if let Some(ord) = seg.trace_ordinal(id) {
            spans.extend(
                shared
                    .cache
                    .trace(seg, ord)
                    .map_err(|e| backend("reading a segment", e))?,
            );
        }
    }
    if let Some(f) = &snap.frozen {
        spans.extend(f.read().trace(id).cloned());
    }
    spans.extend(snap.active.read().trace(id).cloned());
    Ok(dedupe(spans))
}

fn dedupe(spans: Vec<Span>) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    let mut by_id: HashMap<SpanId, Vec<usize>> = HashMap::new();
    for s in spans {
        let slots = by_id.entry(s.span_id).or_default();
        if slots.iter().any(|&i| out.get(i) == Some(&s)) {
            continue;
        }
        slots.push(out.len());
        out.push(s);
    }
    out
}

#[async_trait]
impl SpanReader for EmbeddedStore {
    async fn get_traces(&self, ids: &[TraceId]) -> Result<Vec<Trace>> {
        let mut seen = HashSet::new();
        let ids: Vec<TraceId> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
        self.blocking(move |shared, snap| {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let spans = trace_spans(shared, &snap, id)?;
                if !spans.is_empty() {
                    out.push(Trace { spans });
                }
            }
            Ok(out)
        })
        .await
    }

    async fn get_services(&self) -> Result<Vec<String>> {
        let snap = self.shared.snapshot();
        let mut names: BTreeSet<String> = BTreeSet::new();
        for seg in snap.segments.iter() {
            names.extend(seg.services().map(str::to_string));
        }
        if let Some(f) = &snap.frozen {
            names.extend(f.read().services().map(str::to_string));
        }
        names.extend(snap.active.read().services().map(str::to_string));
        Ok(names.into_iter().collect())
    }

    async fn get_operations(
        &self,
        service: &str,
        span_kind: Option<SpanKind>,
    ) -> Result<Vec<Operation>> {
        let snap = self.shared.snapshot();
        let mut ops: BTreeSet<Operation> = BTreeSet::new();
        let wanted = |op: &&Operation| span_kind.is_none_or(|k| op.span_kind == k);
        for seg in snap.segments.iter() {
            ops.extend(seg.operations(service).filter(wanted).cloned());
        }
        if let Some(f) = &snap.frozen {
            ops.extend(f.read().operations(service).filter(|op| wanted(&op)));
        }
        ops.extend(
            snap.active
                .read()
                .operations(service)
                .filter(|op| wanted(&op)),
        );
        Ok(ops.into_iter().collect())
    }

    async fn find_trace_ids(&self, query: &TraceQuery) -> Result<Vec<TraceId>> {
        let q = CompiledQuery::new(query)?;
        self.blocking(move |shared, snap| find(shared, &snap, &q))
            .await
    }
}

fn find(shared: &Shared, snap: &Snapshot, q: &CompiledQuery) -> Result<Vec<TraceId>> {
    let mut buffered = HashMap::new();
    if let Some(f) = &snap.frozen {
        f.read().search(q, &mut buffered);
    }
    snap.active.read().search(q, &mut buffered);
    let initial: Vec<Candidate> = buffered
        .into_iter()
        .map(|(trace, ub)| Candidate {
            ub,
            trace,
            verify: None,
        })
        .collect();
    let sources = (snap.segments.iter().enumerate())
        .filter_map(|(i, seg)| lazy_source(i, seg, q))
        .collect();
    let load = |i: usize, out: &mut Vec<Candidate>| match snap.segments.get(i) {
        Some(seg) => {
            segment_candidates(i, seg, q, out).map_err(|e| backend("searching a segment", e))
        }
        None => Ok(()),
    };
    rank(initial, sources, q.limit(), load, |seg, ord| {
        let Some(seg) = snap.segments.get(seg) else {
            return Ok(None);
        };
        let spans = shared
            .cache
            .trace(seg, ord)
            .map_err(|e| backend("reading a segment", e))?;
        Ok(spans
            .iter()
            .filter(|s| q.matches_span(s))
            .map(|s| s.start_time_unix_nano)
            .max())
    })
}

#[async_trait]
impl DependencyReader for EmbeddedStore {
    async fn get_dependencies(
        &self,
        end_time_unix_nano: u64,
        lookback: Duration,
    ) -> Result<Vec<DependencyLink>> {
        let lookback = u64::try_from(lookback.as_nanos()).unwrap_or(u64::MAX);
        let start = end_time_unix_nano.saturating_sub(lookback);
        self.blocking(move |_, snap| {
            let mut calls: BTreeMap<(String, String), u64> = BTreeMap::new();
            for seg in snap.segments.iter() {
                seg.dependencies(start, end_time_unix_nano, &mut calls)
                    .map_err(|e| backend("reading dependencies", e))?;
            }
            let active = snap.active.read();
            match &snap.frozen {
                Some(f) => {
                    let frozen = f.read();
                    let spans = frozen.spans().iter().chain(active.spans());
                    buffered_edges(spans, start, end_time_unix_nano, &mut calls);
                }
                None => {
                    buffered_edges(active.spans().iter(), start, end_time_unix_nano, &mut calls)
                }
            }
            Ok(calls
                .into_iter()
                .map(|((parent, child), call_count)| DependencyLink {
                    parent,
                    child,
                    call_count,
                })
                .collect())
        })
        .await
    }
}

#[async_trait]
impl Purger for EmbeddedStore {
    async fn purge(&self) -> Result<()> {
        let (ack, rx) = oneshot::channel();
        self.tx
            .send(Request::Purge(ack))
            .await
            .map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }
}
