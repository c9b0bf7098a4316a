//! Reference repair (Jaeger's `SpanReferences`, `ParentReference` and `RemoveEmptySpanLinks`):
//! * a link with neither trace nor span ID says nothing and is dropped;
//! * a link with a span ID but no trace ID points into the same trace;
//! * a span naming itself as parent would make the UI loop: the parent is removed, with a
//!   warning.
//!
//! Parents missing from the trace are reported by [`super::clock_skew`], as Jaeger does.

use sextant_model::{Span, SpanId};

pub const WARNING_SELF_PARENT: &str = "span is its own parent; parent reference removed";

pub fn repair(spans: &mut [Span]) {
    for span in spans.iter_mut() {
        let trace_id = span.trace_id;
        span.links
            .retain(|l| !(l.trace_id.is_zero() && l.span_id.is_zero()));
        for link in &mut span.links {
            if link.trace_id.is_zero() {
                link.trace_id = trace_id;
            }
        }
        if !span.parent_span_id.is_zero() && span.parent_span_id == span.span_id {
            span.parent_span_id = SpanId(0);
            span.warnings.push(WARNING_SELF_PARENT.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_model::{Link, TraceId};

    #[test]
    fn repairs_links_and_self_parents() {
        let mut spans = vec![Span {
            trace_id: TraceId(9),
            span_id: SpanId(4),
            parent_span_id: SpanId(4),
            links: vec![
                Link::default(),
                Link {
                    span_id: SpanId(2),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }];
        repair(&mut spans);
        assert_eq!(spans[0].links.len(), 1);
        assert_eq!(spans[0].links[0].trace_id, TraceId(9));
        assert!(spans[0].parent_span_id.is_zero());
        assert_eq!(spans[0].warnings, vec![WARNING_SELF_PARENT.to_string()]);
    }
}
