//! Collapses identical copies of a span (Jaeger's `DedupeBySpanHash`): a client that
//! retried a batch, or two collectors that both wrote it, must not show the span twice.
//! Spans that merely share an ID but differ (Zipkin's shared halves) are kept; those were
//! given distinct IDs by [`super::uniquify`] first.

use std::collections::HashMap;

use sextant_model::{Span, SpanId};

pub fn dedupe_identical(spans: &mut Vec<Span>) {
    // The first span kept with each ID, and the further ones kept (differing) with an ID
    // seen before: only a repeated ID, which is rare, costs an allocation.
    let mut first_by_id: HashMap<SpanId, usize> = HashMap::with_capacity(spans.len());
    let mut more: HashMap<SpanId, Vec<usize>> = HashMap::new();
    let mut keep = vec![true; spans.len()];
    let mut any = false;
    for (i, span) in spans.iter().enumerate() {
        let first = *first_by_id.entry(span.span_id).or_insert(i);
        if first == i {
            continue;
        }
        let others = more.entry(span.span_id).or_default();
        let duplicate =
            spans.get(first) == Some(span) || others.iter().any(|&j| spans.get(j) == Some(span));
        if duplicate {
            if let Some(k) = keep.get_mut(i) {
                *k = false;
                any = true;
            }
        } else {
            others.push(i);
        }
    }
    if any {
        let mut flags = keep.into_iter();
        spans.retain(|_| flags.next().unwrap_or(true));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_copies_collapse_different_ones_stay() {
        let a = Span {
            span_id: SpanId(1),
            name: "a".into(),
            ..Default::default()
        };
        let mut b = a.clone();
        b.name = "b".into();
        let mut spans = vec![a.clone(), b.clone(), a.clone()];
        dedupe_identical(&mut spans);
        assert_eq!(spans, vec![a, b]);
    }
}
