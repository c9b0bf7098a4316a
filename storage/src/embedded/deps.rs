//! Service-call edges (dependencies): a span of service A whose parent span belongs to a
//! different service B is one call B → A, timed by the child's start.
//!
//! Edges are computed once when a buffer is flushed (stored in the segment) and, for spans
//! still buffered, on the fly at query time.

use std::collections::{BTreeMap, HashMap, HashSet};

use foldhash::fast::RandomState;

use sextant_model::Span;

use super::segment_write::Edges;

/// The calls counted during one flush. Service names are interned, so counting a call
/// allocates nothing once both services have been seen (two `String`s per counted call were
/// a visible part of a flush).
#[derive(Default)]
pub struct EdgeTally {
    names: Vec<String>,
    ids: HashMap<String, u32, RandomState>,
    calls: HashMap<(u32, u32), Vec<u64>, RandomState>,
}

impl EdgeTally {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    /// Counts `child` as a call from `parent` when they are different services.
    fn count(&mut self, parent: &str, child: &Span) {
        if parent != child.service_name() {
            let key = (self.id(parent), self.id(child.service_name()));
            self.calls
                .entry(key)
                .or_default()
                .push(child.start_time_unix_nano);
        }
    }

    /// Every call counted: (parent, child) → the children's start times.
    pub fn into_edges(self) -> Edges {
        let name = |id: u32| self.names.get(id as usize).cloned().unwrap_or_default();
        let mut edges = Edges::new();
        for ((parent, child), times) in self.calls {
            edges
                .entry((name(parent), name(child)))
                .or_default()
                .extend(times);
        }
        edges
    }

    /// Adds the calls of a flush of `new` spans of one trace, given the spans of that trace
    /// already in segments (`old`). Counted: every new child whose parent is found in old
    /// or new; every old child whose parent arrives only now (it could not be counted
    /// before).
    pub fn add_trace(&mut self, new: &[&Span], old: &[Span]) {
        let mut services: HashMap<u64, &str, RandomState> =
            HashMap::with_capacity_and_hasher(old.len() + new.len(), RandomState::default());
        for s in old.iter().chain(new.iter().copied()) {
            services.entry(s.span_id.0).or_insert(s.service_name());
        }
        for child in new {
            if child.parent_span_id.is_zero() {
                continue;
            }
            if let Some(parent) = services.get(&child.parent_span_id.0) {
                self.count(parent, child);
            }
        }
        if old.is_empty() {
            return;
        }
        let old_ids: HashSet<u64, RandomState> = old.iter().map(|s| s.span_id.0).collect();
        let new_services: HashMap<u64, &str, RandomState> = new
            .iter()
            .map(|s| (s.span_id.0, s.service_name()))
            .collect();
        for child in old {
            let p = child.parent_span_id.0;
            if p == 0 || old_ids.contains(&p) {
                continue;
            }
            if let Some(parent) = new_services.get(&p) {
                self.count(parent, child);
            }
        }
    }
}

/// Edges among buffered spans whose child starts within `[start, end]`.
pub fn buffered_edges<'a>(
    spans: impl Iterator<Item = &'a Span> + Clone,
    start: u64,
    end: u64,
    out: &mut BTreeMap<(String, String), u64>,
) {
    let services: HashMap<(u128, u64), &str> = spans
        .clone()
        .map(|s| ((s.trace_id.0, s.span_id.0), s.service_name()))
        .collect();
    for child in spans {
        if child.parent_span_id.is_zero() || !(start..=end).contains(&child.start_time_unix_nano) {
            continue;
        }
        if let Some(parent) = services.get(&(child.trace_id.0, child.parent_span_id.0)) {
            if *parent != child.service_name() {
                *out.entry((parent.to_string(), child.service_name().to_string()))
                    .or_insert(0) += 1;
            }
        }
    }
}
