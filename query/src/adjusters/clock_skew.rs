//! Clock-skew correction (Jaeger's `ClockSkew` / `CorrectClockSkew`): a child span reported
//! by another host whose clock runs ahead or behind shows up before or after its parent.
//! Walking the tree from the roots, a child from a different host (or an unknown one) that
//! does not fit inside its parent is shifted so that the network latency is split evenly
//! before and after it; a child longer than its parent is only moved to start no earlier
//! than the parent. Its descendants on the same host move by the same delta.
//!
//! A shift larger than `--query.max-clock-skew-adjustment` is not applied, and with the
//! default of 0 nothing is: the span carries a warning with the computed delta instead,
//! word for word Jaeger's. Applied shifts move start, end and event times together.
//!
//! The host of a span is the first of its resource attributes `host.id`, `host.ip`, `ip`
//! (Jaeger clients' process tag) and `host.name`. Traversal is iterative, so a hostile
//! trace with a very deep parent chain cannot overflow the stack. A trace whose spans all
//! come from one known host has nothing to correct, and is only checked for duplicate IDs
//! and missing parents.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use sextant_model::{find_attr, AnyValue, Resource, Span, SpanId};

use sextant_model::go_duration::format_go_duration;

pub const WARNING_DUPLICATE_SPAN_ID: &str = "duplicate span IDs; skipping clock skew adjustment";

pub fn correct(spans: &mut [Span], max_delta: Duration) {
    let max_delta = i128::try_from(max_delta.as_nanos()).unwrap_or(i128::MAX);
    let mut index: HashMap<SpanId, usize> = HashMap::with_capacity(spans.len());
    let mut in_tree = vec![false; spans.len()];
    for (i, span) in spans.iter_mut().enumerate() {
        match index.entry(span.span_id) {
            Entry::Occupied(_) => span.warnings.push(WARNING_DUPLICATE_SPAN_ID.to_string()),
            Entry::Vacant(slot) => {
                slot.insert(i);
                if let Some(flag) = in_tree.get_mut(i) {
                    *flag = true;
                }
            }
        }
    }
    let hosts = host_ids(spans);
    // Each span's parent in the tree (`usize::MAX` for a root or a span outside it).
    let mut parent_of = vec![usize::MAX; spans.len()];
    let mut roots = Vec::new();
    for (i, span) in spans.iter_mut().enumerate() {
        if !in_tree.get(i).copied().unwrap_or(false) {
            continue;
        }
        if span.parent_span_id.is_zero() {
            roots.push(i);
            continue;
        }
        match index.get(&span.parent_span_id) {
            Some(&p) if p != i => {
                if let Some(slot) = parent_of.get_mut(i) {
                    *slot = p;
                }
            }
            _ => {
                span.warnings.push(format!(
                    "parent span ID={} is not in the trace; skipping clock skew adjustment",
                    span.parent_span_id
                ));
                roots.push(i);
            }
        }
    }
    // With every span on one known host, no child is ever on another host than its
    // parent: every delta is zero and the walk below would change nothing.
    let one_host = hosts
        .first()
        .is_some_and(|&h| h != NO_HOST && hosts.iter().all(|&x| x == h));
    if one_host {
        return;
    }
    let children = Children::new(&parent_of);

    // (span, parent, inherited host, inherited delta)
    let mut queue: VecDeque<(usize, Option<usize>, usize, i128)> =
        roots.iter().map(|&r| (r, None, r, 0)).collect();
    while let Some((i, parent, host_of, inherited)) = queue.pop_front() {
        let host = hosts.get(i).copied().unwrap_or(NO_HOST);
        let inherited_host = hosts.get(host_of).copied().unwrap_or(NO_HOST);
        let (delta, host_of) = match parent {
            Some(p) if host == NO_HOST || host != inherited_host => {
                (skew(spans.get(i), spans.get(p)), i)
            }
            _ => (inherited, host_of),
        };
        if let Some(span) = spans.get_mut(i) {
            apply(span, delta, max_delta);
        }
        for &c in children.of(i) {
            queue.push_back((c, Some(i), host_of, delta));
        }
    }
}

/// Every span's children in span order, in two flat arrays (offsets and indices) instead
/// of one `Vec` per span.
struct Children {
    start: Vec<usize>,
    list: Vec<usize>,
}

impl Children {
    fn new(parent_of: &[usize]) -> Self {
        let n = parent_of.len();
        let mut start = vec![0usize; n + 1];
        for &p in parent_of.iter().filter(|&&p| p < n) {
            if let Some(c) = start.get_mut(p + 1) {
                *c += 1;
            }
        }
        for i in 0..n {
            let prev = start.get(i).copied().unwrap_or(0);
            if let Some(c) = start.get_mut(i + 1) {
                *c += prev;
            }
        }
        let mut fill = start.clone();
        let mut list = vec![0usize; start.get(n).copied().unwrap_or(0)];
        for (i, &p) in parent_of.iter().enumerate() {
            if let Some(at) = fill.get_mut(p) {
                if let Some(slot) = list.get_mut(*at) {
                    *slot = i;
                }
                *at += 1;
            }
        }
        Children { start, list }
    }

    fn of(&self, i: usize) -> &[usize] {
        match (self.start.get(i), self.start.get(i + 1)) {
            (Some(&a), Some(&b)) => self.list.get(a..b).unwrap_or_default(),
            _ => &[],
        }
    }
}

/// The id of "no known host": such a span is always treated as on another host.
const NO_HOST: u32 = 0;

/// Each span's host as a small number, equal numbers for equal host strings. The host is
/// a property of the resource, which the spans of one process share (usually by `Arc`):
/// it is looked up once per resource, not once per span.
fn host_ids(spans: &[Span]) -> Vec<u32> {
    let mut by_resource: HashMap<*const Resource, u32> = HashMap::new();
    let mut names: HashMap<String, u32> = HashMap::new();
    let mut last: Option<(*const Resource, u32)> = None;
    spans
        .iter()
        .map(|span| {
            let ptr = Arc::as_ptr(&span.resource);
            if let Some((p, id)) = last {
                if p == ptr {
                    return id;
                }
            }
            let id = *by_resource.entry(ptr).or_insert_with(|| {
                let key = host_key(span);
                if key.is_empty() {
                    return NO_HOST;
                }
                let next = u32::try_from(names.len() + 1).unwrap_or(u32::MAX);
                *names.entry(key).or_insert(next)
            });
            last = Some((ptr, id));
            id
        })
        .collect()
}

fn skew(child: Option<&Span>, parent: Option<&Span>) -> i128 {
    let (Some(c), Some(p)) = (child, parent) else {
        return 0;
    };
    let (ps, pe) = (
        i128::from(p.start_time_unix_nano),
        i128::from(p.end_time_unix_nano),
    );
    let (cs, ce) = (
        i128::from(c.start_time_unix_nano),
        i128::from(c.end_time_unix_nano),
    );
    let (pd, cd) = (pe - ps, ce - cs);
    if cd > pd {
        // Async child or a parent that timed out: only keep it from starting early.
        return if cs < ps { ps - cs } else { 0 };
    }
    if cs >= ps && ce <= pe {
        return 0;
    }
    let latency = (pd - cd) / 2;
    ps + latency - cs
}

fn apply(span: &mut Span, delta: i128, max_delta: i128) {
    if delta == 0 {
        return;
    }
    let shown = format_go_duration(i64::try_from(delta).unwrap_or(i64::MAX));
    if delta.abs() > max_delta {
        span.warnings.push(if max_delta == 0 {
            format!("clock skew adjustment disabled; not applying calculated delta of {shown}")
        } else {
            format!(
                "max clock skew adjustment delta of {} exceeded; not applying calculated delta of {shown}",
                format_go_duration(i64::try_from(max_delta).unwrap_or(i64::MAX))
            )
        });
        return;
    }
    let shift = |t: &mut u64| {
        *t = u64::try_from((i128::from(*t) + delta).max(0)).unwrap_or(u64::MAX);
    };
    shift(&mut span.start_time_unix_nano);
    shift(&mut span.end_time_unix_nano);
    for e in &mut span.events {
        shift(&mut e.time_unix_nano);
    }
    span.warnings
        .push(format!("This span's timestamps were adjusted by {shown}"));
}

fn host_key(span: &Span) -> String {
    let attrs = &span.resource.attributes;
    for key in ["host.id", "host.ip", "ip", "host.name"] {
        match find_attr(attrs, key) {
            Some(AnyValue::Str(s)) if !s.is_empty() => return s.clone(),
            Some(AnyValue::Int(v)) => return Ipv4Addr::from(*v as u32).to_string(),
            Some(AnyValue::Array(items)) => {
                if let Some(first) = items.first() {
                    return first.to_string_lossy();
                }
            }
            _ => {}
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use sextant_model::{KeyValue, Resource};

    const MS: u64 = 1_000_000;

    fn span(id: u64, parent: u64, start_ms: u64, dur_ms: u64, host: &str) -> Span {
        Span {
            span_id: SpanId(id),
            parent_span_id: SpanId(parent),
            start_time_unix_nano: start_ms * MS,
            end_time_unix_nano: (start_ms + dur_ms) * MS,
            resource: Arc::new(Resource {
                attributes: vec![KeyValue::new("ip", host)],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn child_from_another_host_is_centred_in_its_parent() {
        // Jaeger's case: parent 10..110 on a, child 0..50 on b → delta 35ms.
        let mut spans = vec![
            span(1, 0, 10, 100, "a"),
            span(2, 1, 0, 50, "b"),
            span(3, 2, 5, 10, "b"),
        ];
        correct(&mut spans, Duration::from_secs(1));
        assert_eq!(spans[1].start_time_unix_nano, 35 * MS);
        assert_eq!(spans[1].end_time_unix_nano, 85 * MS);
        assert_eq!(spans[2].start_time_unix_nano, 40 * MS, "same host follows");
        assert_eq!(
            spans[1].warnings,
            vec!["This span's timestamps were adjusted by 35ms".to_string()]
        );
    }

    #[test]
    fn disabled_or_capped_adjustments_only_warn() {
        let mut spans = vec![span(1, 0, 10, 100, "a"), span(2, 1, 80, 50, "b")];
        correct(&mut spans, Duration::ZERO);
        assert_eq!(spans[1].start_time_unix_nano, 80 * MS);
        assert_eq!(
            spans[1].warnings,
            vec![
                "clock skew adjustment disabled; not applying calculated delta of -45ms"
                    .to_string()
            ]
        );
        let mut spans = vec![span(1, 0, 10, 100, "a"), span(2, 1, 0, 50, "b")];
        correct(&mut spans, Duration::from_millis(10));
        assert_eq!(
            spans[1].warnings,
            vec!["max clock skew adjustment delta of 10ms exceeded; not applying calculated delta of 35ms".to_string()]
        );
    }

    #[test]
    fn fitting_children_and_same_host_are_untouched() {
        let mut spans = vec![span(1, 0, 10, 100, "a"), span(2, 1, 20, 50, "b")];
        let before = spans.clone();
        correct(&mut spans, Duration::from_secs(1));
        assert_eq!(spans, before);
    }

    #[test]
    fn missing_parent_is_reported() {
        let mut spans = vec![span(2, 7, 0, 1, "a")];
        correct(&mut spans, Duration::ZERO);
        assert_eq!(
            spans[0].warnings,
            vec![
                "parent span ID=0000000000000007 is not in the trace; skipping clock skew adjustment"
                    .to_string()
            ]
        );
    }

    /// One host: nothing to move, but duplicate IDs and missing parents are still reported.
    #[test]
    fn one_host_still_reports_problems() {
        let mut spans = vec![
            span(1, 0, 10, 100, "a"),
            span(2, 1, 0, 50, "a"),
            span(2, 1, 0, 50, "a"),
            span(3, 9, 0, 5, "a"),
        ];
        let before = spans.clone();
        correct(&mut spans, Duration::from_secs(1));
        assert_eq!(
            spans[1].start_time_unix_nano,
            before[1].start_time_unix_nano
        );
        assert!(spans[1].warnings.is_empty());
        assert_eq!(
            spans[2].warnings,
            vec![WARNING_DUPLICATE_SPAN_ID.to_string()]
        );
        assert_eq!(spans[3].warnings.len(), 1);
        // The same shape across two hosts is corrected.
        spans[1] = span(2, 1, 0, 50, "b");
        correct(&mut spans, Duration::from_secs(1));
        assert_eq!(spans[1].start_time_unix_nano, 35 * MS);
    }

    /// Children are visited in span order whatever the order of their parents.
    #[test]
    fn children_listed_before_their_parents_are_corrected() {
        let mut spans = vec![
            span(3, 2, 5, 10, "b"),
            span(2, 1, 0, 50, "b"),
            span(1, 0, 10, 100, "a"),
        ];
        correct(&mut spans, Duration::from_secs(1));
        assert_eq!(spans[1].start_time_unix_nano, 35 * MS);
        assert_eq!(spans[0].start_time_unix_nano, 40 * MS);
    }

    #[test]
    fn deep_chains_do_not_overflow() {
        let mut spans: Vec<Span> = (1..=200_000u64)
            .map(|i| span(i, i - 1, i, 1, if i % 2 == 0 { "a" } else { "b" }))
            .collect();
        correct(&mut spans, Duration::from_secs(1));
        assert_eq!(spans.len(), 200_000);
    }
}
