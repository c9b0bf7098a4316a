//! The write buffer: spans acknowledged since the last flush, held as decoded [`Span`]s
//! and indexed just enough to answer every read without touching disk.
//!
//! One buffer is active (the commit thread inserts into it); when it reaches its size
//! threshold it is frozen — read-only, shared by `Arc` — while the flush thread turns it
//! into segment files, and a fresh one takes its place.

use std::collections::HashMap;

use foldhash::fast::RandomState;
use sextant_model::{Span, SpanKind, TraceId};

use crate::matcher::CompiledQuery;
use crate::Operation;

#[derive(Default)]
pub struct Memtable {
    spans: Vec<Span>,
    // foldhash: these are hashed for every span the commit thread inserts.
    by_trace: HashMap<TraceId, Vec<u32>, RandomState>,
    by_service: HashMap<String, Vec<u32>, RandomState>,
    /// Service → operation name → the span kinds seen with it (bit `kind.to_otlp()`):
    /// looked up by `&str`, so a span of a known operation allocates nothing here.
    operations: HashMap<String, HashMap<String, u8, RandomState>, RandomState>,
    bytes: usize,
}

/// A rough heap size of a span, for the flush threshold (resources are shared per batch
/// and not counted).
pub fn approx_size(span: &Span) -> usize {
    let kvs = |n: usize| n * 80;
    let events: usize = span
        .events
        .iter()
        .map(|e| 64 + e.name.len() + kvs(e.attributes.len()))
        .sum();
    let links: usize = span
        .links
        .iter()
        .map(|l| 96 + kvs(l.attributes.len()))
        .sum();
    let text: usize = span.attributes.iter().map(|kv| kv.key.len()).sum::<usize>()
        + span.name.len()
        + span.status.message.len();
    320 + text + kvs(span.attributes.len()) + events + links
}

impl Memtable {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// Adds a span unless an identical one is already buffered.
    pub fn insert(&mut self, span: Span) {
        let Ok(slot) = u32::try_from(self.spans.len()) else {
            return;
        };
        let trace = self.by_trace.entry(span.trace_id).or_default();
        let spans = &self.spans;
        if trace
            .iter()
            .filter_map(|&i| spans.get(i as usize))
            .any(|s| s.span_id == span.span_id && *s == span)
        {
            return;
        }
        trace.push(slot);
        let service = span.service_name();
        match self.by_service.get_mut(service) {
            Some(list) => list.push(slot),
            None => {
                self.by_service.insert(service.to_string(), vec![slot]);
            }
        }
        let kind_bit = 1u8 << (span.kind.to_otlp() & 7);
        let ops = match self.operations.get_mut(service) {
            Some(ops) => ops,
            None => self.operations.entry(service.to_string()).or_default(),
        };
        match ops.get_mut(span.name.as_str()) {
            Some(kinds) => *kinds |= kind_bit,
            None => {
                ops.insert(span.name.clone(), kind_bit);
            }
        }
        self.bytes += approx_size(&span);
        self.spans.push(span);
    }

    pub fn trace(&self, id: TraceId) -> impl Iterator<Item = &Span> {
        self.by_trace
            .get(&id)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.spans.get(i as usize))
    }

    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.by_service.keys().map(String::as_str)
    }

    /// The operations of `service`, unordered.
    pub fn operations(&self, service: &str) -> impl Iterator<Item = Operation> + '_ {
        let kinds = (0..8).map(SpanKind::from_otlp);
        self.operations
            .get(service)
            .into_iter()
            .flatten()
            .flat_map(move |(name, bits)| {
                kinds
                    .clone()
                    .filter(move |k| bits & (1 << k.to_otlp()) != 0)
                    .map(move |span_kind| Operation {
                        name: name.clone(),
                        span_kind,
                    })
            })
    }

    /// Adds every trace with a matching span to `found`, keyed by its newest matching start.
    pub fn search(&self, q: &CompiledQuery, found: &mut HashMap<TraceId, u64>) {
        let check = |s: &Span, found: &mut HashMap<TraceId, u64>| {
            if q.matches_span(s) {
                let key = found.entry(s.trace_id).or_insert(0);
                *key = (*key).max(s.start_time_unix_nano);
            }
        };
        if q.service().is_empty() {
            for s in &self.spans {
                check(s, found);
            }
        } else if let Some(list) = self.by_service.get(q.service()) {
            for s in list.iter().filter_map(|&i| self.spans.get(i as usize)) {
                check(s, found);
            }
        }
    }
}
