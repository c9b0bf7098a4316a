//! The in-memory backend (`--span-storage.type=memory`): for tests, demos and small setups.
//!
//! Everything lives behind one `parking_lot::RwLock`; readers get clones. The store is
//! bounded by a trace count: when a new trace arrives and `max_traces` are held, the trace
//! written first is evicted with all its spans (Jaeger's `--memory.max-traces`, except that 0
//! is not "unlimited" here — see [`MemoryArgs`]).
//!
//! Indexes, kept exact under eviction so that memory never grows past the bound:
//! * every span by (start time, trace, slot), globally and per service, so a search scans
//!   newest first within its time range and stops at the limit;
//! * per service, a count of spans per (operation, span kind), so operations disappear with
//!   the last span that had them;
//! * per trace, span ID → slot, for de-duplication and for finding a parent (dependencies).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use foldhash::fast::RandomState;
use parking_lot::RwLock;
use sextant_model::{Span, SpanId, SpanKind, Trace, TraceId};

use crate::matcher::CompiledQuery;
use crate::{
    DependencyLink, DependencyReader, Operation, Purger, Result, SpanReader, SpanWriter, Storage,
    TraceQuery,
};

/// Flags of the memory backend.
#[derive(Clone, Debug, clap::Args)]
pub struct MemoryArgs {
    /// The maximum number of traces the memory store holds; the oldest trace is evicted when
    /// a new one arrives. Unlike Jaeger, 0 ("unlimited") is refused: an unbounded store is
    /// an out-of-memory crash waiting for the first traffic spike.
    #[arg(
        long = "memory.max-traces",
        env = "MEMORY_MAX_TRACES",
        default_value_t = 100_000,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub max_traces: u64,
}

impl Default for MemoryArgs {
    fn default() -> Self {
        MemoryArgs {
            max_traces: 100_000,
        }
    }
}

/// Builds the memory backend from its flags.
pub fn build(args: &MemoryArgs) -> Storage {
    let max = usize::try_from(args.max_traces).unwrap_or(usize::MAX);
    Storage::from_backend(Arc::new(MemoryStore::new(max)))
}

/// Position of a span in the time indexes: (start time, trace, slot in the trace).
type SpanKey = (u64, TraceId, usize);

/// The hash maps of the write path use foldhash: SipHash was a visible share of an insert.
type FastMap<K, V> = HashMap<K, V, RandomState>;
type FastSet<T> = HashSet<T, RandomState>;

#[derive(Default)]
struct StoredTrace {
    spans: Vec<Span>,
    /// First slot holding each span ID. Spans sharing an ID with different content (Zipkin's
    /// shared client/server spans) are rare and found by a scan.
    first_slot: FastMap<SpanId, usize>,
}

impl StoredTrace {
    fn contains(&self, span: &Span) -> bool {
        match self.first_slot.get(&span.span_id) {
            None => false,
            Some(&slot) => {
                self.spans.get(slot) == Some(span)
                    || self.spans.iter().skip(slot + 1).any(|s| s == span)
            }
        }
    }
}

#[derive(Default)]
struct ServiceIndex {
    by_time: BTreeSet<SpanKey>,
    /// Spans per operation name and span kind (indexed by [`kind_slot`]). Keyed by the name
    /// alone so that counting a span looks the name up by `&str`, without allocating; hashed
    /// (sorted only when listed, which is rare next to writes).
    operations: FastMap<String, [u64; KINDS]>,
}

/// The number of [`SpanKind`]s.
const KINDS: usize = 6;
/// Every span kind, in `SpanKind`'s order (so names then kinds list in `Operation` order).
const ALL_KINDS: [SpanKind; KINDS] = [
    SpanKind::Unspecified,
    SpanKind::Internal,
    SpanKind::Server,
    SpanKind::Client,
    SpanKind::Producer,
    SpanKind::Consumer,
];

fn kind_slot(kind: SpanKind) -> usize {
    match kind {
        SpanKind::Unspecified => 0,
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

#[derive(Default)]
struct Inner {
    traces: FastMap<TraceId, StoredTrace>,
    /// Trace IDs in the order they were first written: the eviction order.
    arrival: VecDeque<TraceId>,
    by_time: BTreeSet<SpanKey>,
    /// Hashed by name; sorted when listed.
    services: FastMap<String, ServiceIndex>,
}

/// The memory backend. Implements every storage trait; see the module docs.
pub struct MemoryStore {
    max_traces: usize,
    inner: RwLock<Inner>,
}

impl MemoryStore {
    /// A store holding at most `max_traces` traces (at least one).
    pub fn new(max_traces: usize) -> Self {
        MemoryStore {
            max_traces: max_traces.max(1),
            inner: RwLock::new(Inner::default()),
        }
    }

    pub fn trace_count(&self) -> usize {
        self.inner.read().traces.len()
    }

    pub fn span_count(&self) -> usize {
        self.inner.read().by_time.len()
    }
}

impl Inner {
    fn insert(&mut self, span: Span, max_traces: usize) {
        if let Some(trace) = self.traces.get(&span.trace_id) {
            if trace.contains(&span) {
                return;
            }
        } else {
            while self.traces.len() >= max_traces {
                if !self.evict_oldest() {
                    break;
                }
            }
            self.arrival.push_back(span.trace_id);
        }
        let trace = self.traces.entry(span.trace_id).or_default();
        let slot = trace.spans.len();
        let key = (span.start_time_unix_nano, span.trace_id, slot);
        trace.first_slot.entry(span.span_id).or_insert(slot);
        self.by_time.insert(key);
        let service = match self.services.get_mut(span.service_name()) {
            Some(s) => s,
            None => self
                .services
                .entry(span.service_name().to_string())
                .or_default(),
        };
        service.by_time.insert(key);
        let counts = match service.operations.get_mut(span.name.as_str()) {
            Some(counts) => counts,
            None => service
                .operations
                .entry(span.name.clone())
                .or_insert([0; KINDS]),
        };
        counts[kind_slot(span.kind)] += 1;
        trace.spans.push(span);
    }

    /// Removes the trace written first; false when there is none.
    fn evict_oldest(&mut self) -> bool {
        let Some(id) = self.arrival.pop_front() else {
            return false;
        };
        let Some(trace) = self.traces.remove(&id) else {
            return true;
        };
        for (slot, span) in trace.spans.iter().enumerate() {
            let key = (span.start_time_unix_nano, id, slot);
            self.by_time.remove(&key);
            let name = span.service_name();
            let Some(service) = self.services.get_mut(name) else {
                continue;
            };
            service.by_time.remove(&key);
            if let Some(counts) = service.operations.get_mut(span.name.as_str()) {
                let count = &mut counts[kind_slot(span.kind)];
                *count = count.saturating_sub(1);
                if counts.iter().all(|&c| c == 0) {
                    service.operations.remove(span.name.as_str());
                }
            }
            if service.by_time.is_empty() {
                self.services.remove(name);
            }
        }
        true
    }

    fn span_at(&self, id: TraceId, slot: usize) -> Option<&Span> {
        self.traces.get(&id).and_then(|t| t.spans.get(slot))
    }
}

/// The index range of spans starting within `[min, max]` (callers ensure `min <= max`).
fn time_range(min: u64, max: u64) -> (Bound<SpanKey>, Bound<SpanKey>) {
    (
        Bound::Included((min, TraceId(0), 0)),
        Bound::Included((max, TraceId(u128::MAX), usize::MAX)),
    )
}

#[async_trait]
impl SpanWriter for MemoryStore {
    async fn write_spans(&self, spans: Vec<Span>) -> Result<()> {
        let mut inner = self.inner.write();
        for span in spans {
            inner.insert(span, self.max_traces);
        }
        Ok(())
    }
}

#[async_trait]
impl SpanReader for MemoryStore {
    /// Asking for the same ID twice returns the trace once, at its first position.
    async fn get_traces(&self, ids: &[TraceId]) -> Result<Vec<Trace>> {
        let inner = self.inner.read();
        let mut seen = FastSet::with_capacity_and_hasher(ids.len(), RandomState::default());
        Ok(ids
            .iter()
            .filter(|id| seen.insert(**id))
            .filter_map(|id| inner.traces.get(id))
            .map(|t| Trace {
                spans: t.spans.clone(),
            })
            .collect())
    }

    async fn get_services(&self) -> Result<Vec<String>> {
        let mut services: Vec<String> = self.inner.read().services.keys().cloned().collect();
        services.sort_unstable();
        Ok(services)
    }

    async fn get_operations(
        &self,
        service: &str,
        span_kind: Option<SpanKind>,
    ) -> Result<Vec<Operation>> {
        let inner = self.inner.read();
        let Some(index) = inner.services.get(service) else {
            return Ok(Vec::new());
        };
        let mut names: Vec<(&String, &[u64; KINDS])> = index.operations.iter().collect();
        names.sort_unstable_by(|a, b| a.0.cmp(b.0));
        Ok(names
            .into_iter()
            .flat_map(|(name, counts)| {
                ALL_KINDS
                    .into_iter()
                    .filter(|&kind| counts[kind_slot(kind)] > 0)
                    .filter(move |&kind| span_kind.is_none_or(|k| k == kind))
                    .map(move |span_kind| Operation {
                        name: name.clone(),
                        span_kind,
                    })
            })
            .collect())
    }

    /// Traces are ordered by their most recent *matching* span, newest first.
    async fn find_trace_ids(&self, query: &TraceQuery) -> Result<Vec<TraceId>> {
        let query = CompiledQuery::new(query)?;
        let inner = self.inner.read();
        let index = if query.service().is_empty() {
            &inner.by_time
        } else {
            match inner.services.get(query.service()) {
                Some(s) => &s.by_time,
                None => return Ok(Vec::new()),
            }
        };
        let (min, max) = query.start_time_range();
        let mut found = Vec::new();
        let mut seen = FastSet::default();
        for &(_, id, slot) in index.range(time_range(min, max)).rev() {
            if seen.contains(&id) {
                continue;
            }
            if inner
                .span_at(id, slot)
                .is_some_and(|s| query.matches_span(s))
            {
                seen.insert(id);
                found.push(id);
                if found.len() >= query.limit() {
                    break;
                }
            }
        }
        Ok(found)
    }
}

#[async_trait]
impl DependencyReader for MemoryStore {
    async fn get_dependencies(
        &self,
        end_time_unix_nano: u64,
        lookback: Duration,
    ) -> Result<Vec<DependencyLink>> {
        let lookback = u64::try_from(lookback.as_nanos()).unwrap_or(u64::MAX);
        let start = end_time_unix_nano.saturating_sub(lookback);
        let inner = self.inner.read();
        let mut calls: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for &(_, id, slot) in inner.by_time.range(time_range(start, end_time_unix_nano)) {
            let Some(trace) = inner.traces.get(&id) else {
                continue;
            };
            let Some(child) = trace.spans.get(slot) else {
                continue;
            };
            if child.parent_span_id.is_zero() {
                continue;
            }
            let parent = trace
                .first_slot
                .get(&child.parent_span_id)
                .and_then(|&p| trace.spans.get(p));
            if let Some(parent) = parent {
                // Calls within one service are not edges of the service graph.
                if parent.service_name() != child.service_name() {
                    *calls
                        .entry((parent.service_name(), child.service_name()))
                        .or_insert(0) += 1;
                }
            }
        }
        Ok(calls
            .into_iter()
            .map(|((parent, child), call_count)| DependencyLink {
                parent: parent.to_string(),
                child: child.to_string(),
                call_count,
            })
            .collect())
    }
}

#[async_trait]
impl Purger for MemoryStore {
    async fn purge(&self) -> Result<()> {
        *self.inner.write() = Inner::default();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use sextant_model::Resource;

    use super::*;

    fn span(trace: u128, id: u64, service: &str, op: &str, start: u64) -> Span {
        Span {
            trace_id: TraceId(trace),
            span_id: SpanId(id),
            name: op.into(),
            start_time_unix_nano: start,
            end_time_unix_nano: start + 10,
            resource: Arc::new(Resource {
                service_name: service.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn evicts_the_oldest_trace_and_its_index_entries() {
        let store = MemoryStore::new(2);
        store
            .write_spans(vec![
                span(1, 1, "a", "only-in-1", 100),
                span(2, 1, "b", "op", 200),
            ])
            .await
            .unwrap();
        // A late span of trace 1 does not make it younger: eviction is by first write.
        store
            .write_spans(vec![span(1, 2, "b", "op", 300)])
            .await
            .unwrap();
        store
            .write_spans(vec![span(3, 1, "b", "op", 400)])
            .await
            .unwrap();
        assert_eq!(store.trace_count(), 2);
        assert_eq!(store.span_count(), 2);
        let got = store
            .get_traces(&[TraceId(1), TraceId(2), TraceId(3)])
            .await
            .unwrap();
        let ids: Vec<_> = got.iter().filter_map(Trace::trace_id).collect();
        assert_eq!(ids, vec![TraceId(2), TraceId(3)]);
        assert_eq!(store.get_services().await.unwrap(), vec!["b".to_string()]);
        assert!(store.get_operations("a", None).await.unwrap().is_empty());
        let all = store.find_trace_ids(&TraceQuery::default()).await.unwrap();
        assert_eq!(all, vec![TraceId(3), TraceId(2)]);
    }

    #[tokio::test]
    async fn operations_outlive_eviction_while_a_span_still_has_them() {
        let store = MemoryStore::new(1);
        store
            .write_spans(vec![span(1, 1, "a", "op", 1)])
            .await
            .unwrap();
        store
            .write_spans(vec![span(2, 1, "a", "op", 2)])
            .await
            .unwrap();
        let ops = store.get_operations("a", None).await.unwrap();
        assert_eq!(ops.len(), 1);
        assert_eq!(store.trace_count(), 1);
    }

    #[tokio::test]
    async fn same_id_different_content_is_kept_identical_is_not() {
        let store = MemoryStore::new(10);
        let client = span(1, 1, "a", "call", 1);
        let server = span(1, 1, "b", "call", 1);
        store
            .write_spans(vec![client.clone(), server.clone(), client.clone()])
            .await
            .unwrap();
        store.write_spans(vec![server]).await.unwrap();
        let got = store.get_traces(&[TraceId(1)]).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].spans.len(), 2);
    }

    #[tokio::test]
    async fn operations_are_counted_per_name_and_kind() {
        let store = MemoryStore::new(2);
        let mut server = span(1, 1, "a", "op", 1);
        server.kind = SpanKind::Server;
        let mut client = span(1, 2, "a", "op", 2);
        client.kind = SpanKind::Client;
        let other = span(2, 1, "a", "another", 3);
        store
            .write_spans(vec![server, client, other])
            .await
            .unwrap();
        let all = store.get_operations("a", None).await.unwrap();
        let listed: Vec<_> = all.iter().map(|o| (o.name.as_str(), o.span_kind)).collect();
        assert_eq!(
            listed,
            vec![
                ("another", SpanKind::Unspecified),
                ("op", SpanKind::Server),
                ("op", SpanKind::Client),
            ]
        );
        let clients = store
            .get_operations("a", Some(SpanKind::Client))
            .await
            .unwrap();
        assert_eq!(clients.len(), 1);
        assert_eq!(clients[0].name, "op");
        // Evicting trace 1 removes both kinds of "op"; "another" stays.
        store
            .write_spans(vec![span(3, 1, "a", "another", 4)])
            .await
            .unwrap();
        let all = store.get_operations("a", None).await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].name, "another");
    }

    use crate::test_rng::Rng;

    /// What every index must answer, computed from the traces the store returns whole.
    async fn check_against_retained(store: &MemoryStore, ids: &[TraceId]) {
        let traces = store.get_traces(ids).await.unwrap();
        assert_eq!(store.trace_count(), traces.len());
        let spans: usize = traces.iter().map(|t| t.spans.len()).sum();
        assert_eq!(store.span_count(), spans);

        let mut services: Vec<String> = traces
            .iter()
            .flat_map(|t| t.spans.iter().map(|s| s.service_name().to_string()))
            .collect();
        services.sort();
        services.dedup();
        assert_eq!(store.get_services().await.unwrap(), services);

        for service in services.iter().map(String::as_str).chain(["", "absent"]) {
            if !service.is_empty() {
                let mut ops: Vec<(String, usize)> = traces
                    .iter()
                    .flat_map(|t| t.spans.iter())
                    .filter(|s| s.service_name() == service)
                    .map(|s| (s.name.clone(), kind_slot(s.kind)))
                    .collect();
                ops.sort();
                ops.dedup();
                let got: Vec<(String, usize)> = store
                    .get_operations(service, None)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|o| (o.name, kind_slot(o.span_kind)))
                    .collect();
                assert_eq!(got, ops, "operations of {service}");
            }
            // Traces by their newest span of the service (ties: higher trace ID first).
            let mut newest: Vec<(u64, TraceId)> = traces
                .iter()
                .filter_map(|t| {
                    t.spans
                        .iter()
                        .filter(|s| service.is_empty() || s.service_name() == service)
                        .map(|s| (s.start_time_unix_nano, s.trace_id))
                        .max()
                })
                .collect();
            newest.sort_by(|a, b| b.cmp(a));
            for limit in [3, 1000] {
                let query = TraceQuery {
                    service_name: service.to_string(),
                    num_traces: limit,
                    ..Default::default()
                };
                let want: Vec<TraceId> = newest.iter().take(limit).map(|&(_, id)| id).collect();
                let got = store.find_trace_ids(&query).await.unwrap();
                assert_eq!(got, want, "search of {service:?}, limit {limit}");
            }
        }
    }

    /// Late spans, redelivered duplicates, evicted trace IDs coming back, equal start times
    /// and services that come and go: after every write, every index answers as a scan of
    /// the retained traces does.
    #[tokio::test]
    async fn indexes_stay_consistent_under_eviction_and_redelivery() {
        let store = MemoryStore::new(12);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut written: Vec<Span> = Vec::new();
        let mut next_trace = 1u128;
        for _ in 0..300 {
            let mut batch = Vec::new();
            for _ in 0..=rng.below(20) {
                let span = match rng.below(10) {
                    // A redelivered span, maybe of a trace evicted since.
                    0 if !written.is_empty() => {
                        written[rng.below(written.len() as u64) as usize].clone()
                    }
                    choice => {
                        let trace = if choice < 4 || next_trace < 3 {
                            next_trace += 1;
                            next_trace
                        } else {
                            // A late span of a recent trace, or an old ID back again.
                            next_trace - rng.below(next_trace.min(30) as u64) as u128
                        };
                        let mut s = span(
                            trace,
                            rng.below(8),
                            ["a", "b", "c", "d", "e"][rng.below(5) as usize],
                            ["get", "put", "list"][rng.below(3) as usize],
                            1_000 + rng.below(50),
                        );
                        s.kind = ALL_KINDS[rng.below(KINDS as u64) as usize];
                        s
                    }
                };
                written.push(span.clone());
                batch.push(span);
            }
            store.write_spans(batch).await.unwrap();
            let ids: Vec<TraceId> = (1..=next_trace).map(TraceId).collect();
            check_against_retained(&store, &ids).await;
        }
        store.purge().await.unwrap();
        check_against_retained(&store, &[TraceId(1)]).await;
        assert_eq!(store.span_count(), 0);
    }
}
