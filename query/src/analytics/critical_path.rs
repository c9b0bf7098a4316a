//! The critical path of a trace: the sections of spans that determined its end-to-end
//! duration — the same algorithm as the Jaeger UI's `computeCriticalPath`.
//!
//! Starting at the root with the whole root span "blocking", repeatedly take the child that
//! finished last before the current blocking time: the gap between that child's end and the
//! blocking time belongs to the parent, the child is then walked the same way, and the
//! parent resumes from the child's start. With no such child left, the rest of the parent,
//! down to its start, is on the path. Children are first clipped to their parent's window
//! (a child outliving its parent only counts while the parent runs); children entirely
//! outside it are ignored.
//!
//! The root is the earliest parentless span (ties: the longest). Runs in O(n log n) and
//! iteratively, so hostile traces cannot exhaust the stack.

use std::collections::HashMap;

use sextant_model::{Span, SpanId};

/// One section of the path: span `span_id` was on the critical path during
/// `[start, end]` (Unix nanoseconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub span_id: SpanId,
    pub start: u64,
    pub end: u64,
}

/// The sections, in chronological order; empty for an empty trace.
pub fn critical_path(spans: &[Span]) -> Vec<Section> {
    let mut index: HashMap<SpanId, usize> = HashMap::with_capacity(spans.len());
    for (i, s) in spans.iter().enumerate() {
        index.entry(s.span_id).or_insert(i);
    }
    let Some(root) = spans
        .iter()
        .enumerate()
        .filter(|(_, s)| s.parent_span_id.is_zero() || !index.contains_key(&s.parent_span_id))
        .min_by_key(|(_, s)| (s.start_time_unix_nano, u64::MAX - s.duration_nanos()))
        .map(|(i, _)| i)
    else {
        return Vec::new();
    };
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    for (i, s) in spans.iter().enumerate() {
        if let Some(&p) = index.get(&s.parent_span_id) {
            if p != i && !s.parent_span_id.is_zero() {
                if let Some(c) = children.get_mut(p) {
                    c.push(i);
                }
            }
        }
    }
    // Clipped windows, assigned top-down from the root.
    let mut window: Vec<Option<(u64, u64)>> = vec![None; spans.len()];
    if let (Some(w), Some(r)) = (window.get_mut(root), spans.get(root)) {
        *w = Some((
            r.start_time_unix_nano,
            r.end_time_unix_nano.max(r.start_time_unix_nano),
        ));
    }
    let mut order = vec![root];
    let mut k = 0;
    while let Some(&p) = order.get(k) {
        k += 1;
        let Some(Some((ps, pe))) = window.get(p).copied() else {
            continue;
        };
        for &c in children.get(p).map(Vec::as_slice).unwrap_or(&[]) {
            let Some(s) = spans.get(c) else { continue };
            let (cs, ce) = (
                s.start_time_unix_nano,
                s.end_time_unix_nano.max(s.start_time_unix_nano),
            );
            if ce < ps || cs > pe {
                continue;
            }
            if let Some(w) = window.get_mut(c) {
                if w.is_none() {
                    *w = Some((cs.max(ps), ce.min(pe)));
                    order.push(c);
                }
            }
        }
    }
    // Each span's usable children, latest end first; a cursor walks them once.
    let sorted: Vec<Vec<usize>> = children
        .into_iter()
        .map(|mut c| {
            c.retain(|&i| window.get(i).copied().flatten().is_some());
            c.sort_by_key(|&i| std::cmp::Reverse(window.get(i).copied().flatten().map(|w| w.1)));
            c
        })
        .collect();
    let mut cursor = vec![0usize; spans.len()];
    let mut sections = Vec::new();
    let mut stack: Vec<(usize, u64)> = Vec::new();
    if let Some(Some((_, end))) = window.get(root).copied() {
        stack.push((root, end));
    }
    while let Some((span, blocked)) = stack.pop() {
        let Some(Some((start, _))) = window.get(span).copied() else {
            continue;
        };
        let (Some(list), Some(pos)) = (sorted.get(span), cursor.get_mut(span)) else {
            continue;
        };
        let mut next = None;
        while let Some(&c) = list.get(*pos) {
            *pos += 1;
            if let Some(Some((cs, ce))) = window.get(c).copied() {
                if ce <= blocked {
                    next = Some((c, cs, ce));
                    break;
                }
            }
        }
        let id = spans.get(span).map(|s| s.span_id).unwrap_or_default();
        match next {
            Some((c, cs, ce)) => {
                if ce < blocked {
                    sections.push(Section {
                        span_id: id,
                        start: ce,
                        end: blocked,
                    });
                }
                stack.push((span, cs));
                stack.push((c, ce));
            }
            None => {
                if start < blocked {
                    sections.push(Section {
                        span_id: id,
                        start,
                        end: blocked,
                    });
                }
            }
        }
    }
    sections.sort_by_key(|s| (s.start, s.end));
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: u64, parent: u64, start: u64, end: u64) -> Span {
        Span {
            span_id: SpanId(id),
            parent_span_id: SpanId(parent),
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            ..Default::default()
        }
    }

    fn sec(id: u64, start: u64, end: u64) -> Section {
        Section {
            span_id: SpanId(id),
            start,
            end,
        }
    }

    #[test]
    fn sequential_and_parallel_children() {
        // root 0..100; a 10..40, b 20..90 (parallel with a, ends last), c 50..60 under b.
        let spans = vec![
            span(1, 0, 0, 100),
            span(2, 1, 10, 40),
            span(3, 1, 20, 90),
            span(4, 3, 50, 60),
        ];
        assert_eq!(
            critical_path(&spans),
            vec![
                sec(1, 0, 20),
                sec(3, 20, 50),
                sec(4, 50, 60),
                sec(3, 60, 90),
                sec(1, 90, 100),
            ]
        );
    }

    #[test]
    fn children_outliving_the_parent_are_clipped() {
        let spans = vec![span(1, 0, 0, 100), span(2, 1, 50, 150)];
        assert_eq!(critical_path(&spans), vec![sec(1, 0, 50), sec(2, 50, 100)]);
    }

    #[test]
    fn empty_and_deep_traces() {
        assert!(critical_path(&[]).is_empty());
        let n = 100_000u64;
        let spans: Vec<Span> = (1..=n).map(|i| span(i, i - 1, i, 2 * n - i)).collect();
        let path = critical_path(&spans);
        // Every span but the innermost (zero length) has a section before and after its child.
        assert_eq!(path.len() as u64, 2 * n - 2);
    }
}
