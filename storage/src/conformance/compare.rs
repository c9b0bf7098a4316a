//! Whole-trace comparison: the same spans, each complete, in any order.

use std::fmt::Debug;

use sextant_model::{Span, Trace, TraceId};

/// Longest rendering of one differing field in a failure message.
const MAX_FIELD_TEXT: usize = 400;

/// `None` when `got` holds exactly the spans of `want` (as a multiset), else why not.
pub(super) fn trace_diff(got: &Trace, want: &[Span]) -> Option<String> {
    if got.spans.len() != want.len() {
        return Some(format!(
            "got {} spans {:?}, want {} {:?}",
            got.spans.len(),
            span_ids(&got.spans),
            want.len(),
            span_ids(want)
        ));
    }
    let mut unmatched: Vec<&Span> = got.spans.iter().collect();
    for w in want {
        match unmatched.iter().position(|g| *g == w) {
            Some(pos) => {
                unmatched.swap_remove(pos);
            }
            None => {
                let near = unmatched
                    .iter()
                    .find(|g| g.span_id == w.span_id)
                    .or_else(|| unmatched.first());
                return Some(match near {
                    Some(g) => format!("span {} differs: {}", w.span_id, field_diff(g, w)),
                    None => format!("span {} missing", w.span_id),
                });
            }
        }
    }
    None
}

fn span_ids(spans: &[Span]) -> Vec<String> {
    spans.iter().map(|s| s.span_id.to_string()).collect()
}

fn clip(v: &impl Debug) -> String {
    let text = format!("{v:?}");
    match text.char_indices().nth(MAX_FIELD_TEXT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Names each differing field with both values.
fn field_diff(got: &Span, want: &Span) -> String {
    let mut out = Vec::new();
    let mut field = |name: &str, g: &dyn Debug, w: &dyn Debug, same: bool| {
        if !same {
            out.push(format!("{name}: got {}, want {}", clip(&g), clip(&w)));
        }
    };
    field(
        "trace_id",
        &got.trace_id,
        &want.trace_id,
        got.trace_id == want.trace_id,
    );
    field(
        "span_id",
        &got.span_id,
        &want.span_id,
        got.span_id == want.span_id,
    );
    field(
        "parent_span_id",
        &got.parent_span_id,
        &want.parent_span_id,
        got.parent_span_id == want.parent_span_id,
    );
    field(
        "trace_state",
        &got.trace_state,
        &want.trace_state,
        got.trace_state == want.trace_state,
    );
    field("name", &got.name, &want.name, got.name == want.name);
    field("kind", &got.kind, &want.kind, got.kind == want.kind);
    field(
        "start_time_unix_nano",
        &got.start_time_unix_nano,
        &want.start_time_unix_nano,
        got.start_time_unix_nano == want.start_time_unix_nano,
    );
    field(
        "end_time_unix_nano",
        &got.end_time_unix_nano,
        &want.end_time_unix_nano,
        got.end_time_unix_nano == want.end_time_unix_nano,
    );
    field(
        "attributes",
        &got.attributes,
        &want.attributes,
        got.attributes == want.attributes,
    );
    field(
        "events",
        &got.events,
        &want.events,
        got.events == want.events,
    );
    field("links", &got.links, &want.links, got.links == want.links);
    field(
        "status",
        &got.status,
        &want.status,
        got.status == want.status,
    );
    field("flags", &got.flags, &want.flags, got.flags == want.flags);
    field(
        "resource",
        &got.resource,
        &want.resource,
        got.resource == want.resource,
    );
    field("scope", &got.scope, &want.scope, got.scope == want.scope);
    field(
        "warnings",
        &got.warnings,
        &want.warnings,
        got.warnings == want.warnings,
    );
    let counts = |s: &Span| {
        (
            s.dropped_attributes_count,
            s.dropped_events_count,
            s.dropped_links_count,
        )
    };
    field(
        "dropped counts",
        &counts(got),
        &counts(want),
        counts(got) == counts(want),
    );
    if out.is_empty() {
        "no field differs (duplicate spans?)".to_string()
    } else {
        out.join("; ")
    }
}

/// The trace IDs of `spans`, each once, in first-seen order.
pub(super) fn trace_ids_of(spans: &[Span]) -> Vec<TraceId> {
    let mut ids: Vec<TraceId> = Vec::new();
    for s in spans {
        if !ids.contains(&s.trace_id) {
            ids.push(s.trace_id);
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use sextant_model::{KeyValue, SpanId};

    use super::*;

    #[test]
    fn order_does_not_matter_content_does() {
        let a = Span {
            span_id: SpanId(1),
            ..Default::default()
        };
        let b = Span {
            span_id: SpanId(2),
            ..Default::default()
        };
        let got = Trace {
            spans: vec![b.clone(), a.clone()],
        };
        assert_eq!(trace_diff(&got, &[a.clone(), b.clone()]), None);
        let mut b2 = b.clone();
        b2.attributes.push(KeyValue::new("k", "v"));
        let diff = trace_diff(&got, &[a.clone(), b2]).unwrap();
        assert!(diff.contains("attributes"), "{diff}");
        assert!(trace_diff(&got, &[a]).is_some());
    }
}
