//! Service-call edges (dependencies): a span of service A whose parent span belongs to a
//! different service B is one call B → A, timed by the child's start.
//!
//! Edges are computed once when a buffer is flushed (stored in the segment) and, for spans
//! still buffered, on the fly at query time.

use std::collections::{BTreeMap, HashMap};

use sextant_model::Span;

use super::segment_write::Edges;

/// Edges contributed by a flush of `new` spans of one trace, given the spans of that trace
/// already in segments (`old`). Counted: every new child whose parent is found in old or
/// new; every old child whose parent arrives only now (it could not be counted before).
pub fn flush_edges(new: &[&Span], old: &[Span], edges: &mut Edges) {
    let mut services: HashMap<u64, &str> = HashMap::new();
    for s in old.iter().chain(new.iter().copied()) {
        services.entry(s.span_id.0).or_insert(s.service_name());
    }
    let old_ids: HashMap<u64, ()> = old.iter().map(|s| (s.span_id.0, ())).collect();
    let count = |parent: &str, child: &Span, edges: &mut Edges| {
        if parent != child.service_name() {
            edges
                .entry((parent.to_string(), child.service_name().to_string()))
                .or_default()
                .push(child.start_time_unix_nano);
        }
    };
    for child in new {
        if child.parent_span_id.is_zero() {
            continue;
        }
        if let Some(parent) = services.get(&child.parent_span_id.0) {
            count(parent, child, edges);
        }
    }
    let new_services: HashMap<u64, &str> = new
        .iter()
        .map(|s| (s.span_id.0, s.service_name()))
        .collect();
    for child in old {
        let p = child.parent_span_id.0;
        if p == 0 || old_ids.contains_key(&p) {
            continue;
        }
        if let Some(parent) = new_services.get(&p) {
            count(parent, child, edges);
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
