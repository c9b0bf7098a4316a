//! Zipkin's shared spans: a Zipkin server reuses its client's span ID, which leaves two
//! spans with one ID in the trace. As Jaeger's `ZipkinSpanIDUniquifier` does, the server
//! half gets a fresh ID, becomes the child of the shared ID (the client half), and the
//! server's own children follow it. A server span is recognised by its kind sharing an ID
//! with a client span, or by the `zipkin.shared` mark the Zipkin receiver sets.

use std::collections::{HashMap, HashSet};

use sextant_model::zipkin::ATTR_SHARED;
use sextant_model::{AnyValue, Span, SpanId, SpanKind};

/// Jaeger's warning when no free ID is left (in practice unreachable: 2^64 IDs).
pub const WARNING_TOO_MANY_SPANS: &str =
    "cannot assign unique span ID, too many spans in the trace";

pub fn uniquify_shared_span_ids(spans: &mut [Span]) {
    let mut counts: HashMap<SpanId, usize> = HashMap::with_capacity(spans.len());
    let mut client_ids = HashSet::new();
    for s in spans.iter() {
        *counts.entry(s.span_id).or_default() += 1;
        if s.kind == SpanKind::Client {
            client_ids.insert(s.span_id);
        }
    }
    if counts.len() == spans.len() {
        return;
    }
    let mut next = 0u64;
    let mut remap: HashMap<SpanId, SpanId> = HashMap::new();
    for span in spans.iter_mut() {
        let shared_by_kind = span.kind == SpanKind::Server && client_ids.contains(&span.span_id);
        let marked = counts.get(&span.span_id).copied().unwrap_or(0) > 1 && is_marked(span);
        if !(shared_by_kind || marked) {
            continue;
        }
        let Some(fresh) = next_free(&counts, &mut next) else {
            span.warnings.push(WARNING_TOO_MANY_SPANS.to_string());
            continue;
        };
        counts.insert(fresh, 1);
        remap.insert(span.span_id, fresh);
        span.parent_span_id = span.span_id;
        span.span_id = fresh;
    }
    for span in spans.iter_mut() {
        if let Some(&fresh) = remap.get(&span.parent_span_id) {
            if span.span_id != fresh {
                span.parent_span_id = fresh;
            }
        }
    }
}

fn is_marked(span: &Span) -> bool {
    span.attributes
        .iter()
        .any(|kv| kv.key == ATTR_SHARED && kv.value == AnyValue::Bool(true))
}

/// The smallest unused ID above the last one handed out, as Jaeger picks them.
fn next_free(used: &HashMap<SpanId, usize>, next: &mut u64) -> Option<SpanId> {
    loop {
        *next = next.checked_add(1)?;
        if *next == u64::MAX {
            return None;
        }
        if !used.contains_key(&SpanId(*next)) {
            return Some(SpanId(*next));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_model::KeyValue;

    fn span(id: u64, parent: u64, kind: SpanKind) -> Span {
        Span {
            span_id: SpanId(id),
            parent_span_id: SpanId(parent),
            kind,
            ..Default::default()
        }
    }

    #[test]
    fn server_half_gets_a_new_id_and_its_children_follow() {
        let mut spans = vec![
            span(1, 0, SpanKind::Client),
            span(1, 0, SpanKind::Server),
            span(5, 1, SpanKind::Internal),
        ];
        uniquify_shared_span_ids(&mut spans);
        assert_eq!(spans[0].span_id, SpanId(1));
        assert_eq!(spans[1].span_id, SpanId(2));
        assert_eq!(spans[1].parent_span_id, SpanId(1));
        assert_eq!(spans[2].parent_span_id, SpanId(2));
    }

    #[test]
    fn zipkin_mark_is_enough_without_kinds() {
        let mut marked = span(3, 0, SpanKind::Unspecified);
        marked.attributes.push(KeyValue::new(ATTR_SHARED, true));
        let mut spans = vec![span(3, 0, SpanKind::Unspecified), marked];
        uniquify_shared_span_ids(&mut spans);
        assert_eq!(spans[1].span_id, SpanId(1));
        assert_eq!(spans[1].parent_span_id, SpanId(3));
    }

    #[test]
    fn unique_ids_are_left_alone() {
        let mut spans = vec![span(1, 0, SpanKind::Client), span(2, 1, SpanKind::Server)];
        let before = spans.clone();
        uniquify_shared_span_ids(&mut spans);
        assert_eq!(spans, before);
    }
}
