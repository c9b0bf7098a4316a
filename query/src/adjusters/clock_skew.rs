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
//! trace with a very deep parent chain cannot overflow the stack.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;
use std::time::Duration;

use sextant_model::{find_attr, AnyValue, Span, SpanId};

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
    let hosts: Vec<String> = spans.iter().map(host_key).collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
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
                if let Some(c) = children.get_mut(p) {
                    c.push(i);
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

    // (span, parent, inherited host, inherited delta)
    let mut queue: VecDeque<(usize, Option<usize>, usize, i128)> =
        roots.iter().map(|&r| (r, None, r, 0)).collect();
    while let Some((i, parent, host_of, inherited)) = queue.pop_front() {
        let host = hosts.get(i).map(String::as_str).unwrap_or("");
        let inherited_host = hosts.get(host_of).map(String::as_str).unwrap_or("");
        let (delta, host_of) = match parent {
            Some(p) if host.is_empty() || host != inherited_host => {
                (skew(spans.get(i), spans.get(p)), i)
            }
            _ => (inherited, host_of),
        };
        if let Some(span) = spans.get_mut(i) {
            apply(span, delta, max_delta);
        }
        for &c in children.get(i).map(Vec::as_slice).unwrap_or(&[]) {
            queue.push_back((c, Some(i), host_of, delta));
        }
    }
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

    #[test]
    fn deep_chains_do_not_overflow() {
        let mut spans: Vec<Span> = (1..=200_000u64)
            .map(|i| span(i, i - 1, i, 1, if i % 2 == 0 { "a" } else { "b" }))
            .collect();
        correct(&mut spans, Duration::from_secs(1));
        assert_eq!(spans.len(), 200_000);
    }
}
