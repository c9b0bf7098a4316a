//! The tag terms a span is indexed under, mirroring where [`crate::matcher::TagMatcher`]
//! looks, so that an index lookup never misses a span the matcher would accept.
//!
//! A term is `(key, value-as-text)`. Keys and values longer than [`MAX_TERM_PART`] bytes
//! are cut (at a character boundary) and the term is marked `truncated`: such a term stands
//! for every longer text with that prefix, so lookups stay a superset and the matcher, run
//! on the decoded span afterwards, decides.

use std::collections::HashMap;
use std::sync::Arc;

use foldhash::fast::RandomState;
use sextant_model::jaeger::{
    LOG_FIELD_EVENT, TAG_ERROR, TAG_SCOPE_NAME, TAG_SCOPE_VERSION, TAG_SPAN_KIND, TAG_STATUS_CODE,
    TAG_STATUS_DESCRIPTION, TAG_TRACE_STATE,
};
use sextant_model::{AnyValue, KeyValue, Resource, Scope, Span, SpanKind, StatusCode};

pub const MAX_TERM_PART: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Term {
    pub key: String,
    pub value: String,
    pub truncated: bool,
}

fn cut(s: &str) -> (&str, bool) {
    if s.len() <= MAX_TERM_PART {
        return (s, false);
    }
    let mut end = MAX_TERM_PART;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (s.get(..end).unwrap_or(""), true)
}

/// The normalized key used for lookups by key (regex values scan all terms of a key).
pub fn norm_key(key: &str) -> (&str, bool) {
    cut(key)
}

impl Term {
    pub fn new(key: &str, value: &str) -> Term {
        let (k, kt) = cut(key);
        let (v, vt) = cut(value);
        Term {
            key: k.to_string(),
            value: v.to_string(),
            truncated: kt || vt,
        }
    }
}

/// Trace ordinals per term, gathered span by span at flush. Nested maps looked up by `&str`
/// allocate only for a term not seen before (one `Term` per tag per span was a tenth of a
/// flush).
///
/// The spans of one service instance share their resource and scope (`Arc`s), and a term
/// lists a trace once, so their tags are added once per trace and sharing `Arc`: with
/// tracegen's ten resource attributes that is about half of all the tags a flush would
/// otherwise hash.
#[derive(Default)]
pub struct TermPostings {
    /// Cut key → cut value → ordinals, `[whole, truncated]`.
    by_key: HashMap<String, HashMap<String, [Vec<u32>; 2], RandomState>, RandomState>,
    /// The trace whose shared parts are listed in `resources_seen` / `scopes_seen`.
    shared_ord: Option<u32>,
    /// Identity only (never dereferenced); the spans outlive the flush that adds them.
    resources_seen: Vec<*const Resource>,
    scopes_seen: Vec<*const Scope>,
}

impl TermPostings {
    /// Adds trace ordinal `ord` (ordinals arrive in ascending order) under every term of
    /// `span`: the same terms as `for_each_tag` lists.
    pub fn add_span(&mut self, span: &Span, ord: u32) {
        if self.shared_ord != Some(ord) {
            self.shared_ord = Some(ord);
            self.resources_seen.clear();
            self.scopes_seen.clear();
        }
        let resource = first_sighting(&mut self.resources_seen, &span.resource);
        let scope = first_sighting(&mut self.scopes_seen, &span.scope);
        for_each_span_tag(span, |k, v| self.add(k, v, ord));
        if resource {
            attribute_tags(&span.resource.attributes, |k, v| self.add(k, v, ord));
        }
        if scope {
            for_each_scope_tag(&span.scope, |k, v| self.add(k, v, ord));
        }
    }

    /// Adds trace ordinal `ord` (ordinals arrive in ascending order) under the term of
    /// `(key, value)`, as [`Term::new`] forms it.
    fn add(&mut self, key: &str, value: &str, ord: u32) {
        let (k, kt) = cut(key);
        let (v, vt) = cut(value);
        let values = match self.by_key.get_mut(k) {
            Some(values) => values,
            None => self.by_key.entry(k.to_string()).or_default(),
        };
        let lists = match values.get_mut(v) {
            Some(lists) => lists,
            None => values.entry(v.to_string()).or_default(),
        };
        let list = &mut lists[usize::from(kt || vt)];
        if list.last() != Some(&ord) {
            list.push(ord);
        }
    }

    /// Every term with its ordinals, sorted by term.
    pub fn into_sorted(self) -> Vec<(Term, Vec<u32>)> {
        let mut out = Vec::new();
        for (key, values) in self.by_key {
            for (value, [whole, truncated]) in values {
                for (list, truncated) in [(whole, false), (truncated, true)] {
                    if !list.is_empty() {
                        let term = Term {
                            key: key.clone(),
                            value: value.clone(),
                            truncated,
                        };
                        out.push((term, list));
                    }
                }
            }
        }
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// Whether `item` is not yet in `seen` (by identity); records it.
fn first_sighting<T>(seen: &mut Vec<*const T>, item: &Arc<T>) -> bool {
    let ptr = Arc::as_ptr(item);
    if seen.contains(&ptr) {
        return false;
    }
    seen.push(ptr);
    true
}

/// Calls `f(key, value_text)` for every tag the matcher could match on this span: the
/// reference that [`TermPostings::add_span`] is tested against.
#[cfg(test)]
pub fn for_each_tag(span: &Span, mut f: impl FnMut(&str, &str)) {
    for_each_span_tag(span, &mut f);
    attribute_tags(&span.resource.attributes, &mut f);
    for_each_scope_tag(&span.scope, &mut f);
}

fn attribute_tags(kvs: &[KeyValue], mut f: impl FnMut(&str, &str)) {
    for kv in kvs {
        match &kv.value {
            AnyValue::Str(s) => f(&kv.key, s),
            other => f(&kv.key, &other.to_string_lossy()),
        }
    }
}

/// The tags of the span's own fields: everything but its resource and scope.
fn for_each_span_tag(span: &Span, mut f: impl FnMut(&str, &str)) {
    attribute_tags(&span.attributes, &mut f);
    for e in &span.events {
        attribute_tags(&e.attributes, &mut f);
    }
    for l in &span.links {
        attribute_tags(&l.attributes, &mut f);
    }
    if span.kind != SpanKind::Unspecified {
        f(TAG_SPAN_KIND, span.kind.as_jaeger_str());
    }
    match span.status.code {
        StatusCode::Unset => {}
        StatusCode::Ok => f(TAG_STATUS_CODE, "OK"),
        StatusCode::Error => {
            f(TAG_STATUS_CODE, "ERROR");
            f(TAG_ERROR, "true");
        }
    }
    non_empty(TAG_STATUS_DESCRIPTION, &span.status.message, &mut f);
    non_empty(TAG_TRACE_STATE, &span.trace_state, &mut f);
    for e in &span.events {
        non_empty(LOG_FIELD_EVENT, &e.name, &mut f);
    }
}

fn for_each_scope_tag(scope: &Scope, mut f: impl FnMut(&str, &str)) {
    attribute_tags(&scope.attributes, &mut f);
    non_empty(TAG_SCOPE_NAME, &scope.name, &mut f);
    non_empty(TAG_SCOPE_VERSION, &scope.version, &mut f);
}

fn non_empty(key: &str, value: &str, f: &mut impl FnMut(&str, &str)) {
    if !value.is_empty() {
        f(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_parts_are_cut_at_char_boundaries() {
        let long = "é".repeat(40);
        let t = Term::new("k", &long);
        assert!(t.truncated);
        assert!(t.value.len() <= MAX_TERM_PART && long.starts_with(&t.value));
        assert!(!Term::new("k", "v").truncated);
        assert_eq!(Term::new(&long, "v").key, Term::new(&long, "w").key);
    }

    /// Spans of a few traces drawing resources and scopes from small pools, so that spans
    /// of a trace share some `Arc`s, equal contents come in different `Arc`s, and an `Arc`
    /// recurs across traces.
    fn random_spans(rng: &mut crate::test_rng::Rng) -> Vec<Span> {
        let text = |rng: &mut crate::test_rng::Rng| format!("v{}", rng.below(4));
        let kvs = |rng: &mut crate::test_rng::Rng| -> Vec<KeyValue> {
            (0..rng.below(3))
                .map(|_| KeyValue::new(format!("k{}", rng.below(3)), text(rng)))
                .collect()
        };
        let resources: Vec<Arc<Resource>> = (0..4)
            .map(|i| {
                Arc::new(Resource {
                    service_name: format!("svc{}", i % 2),
                    attributes: kvs(rng),
                    ..Resource::default()
                })
            })
            .collect();
        let scopes: Vec<Arc<Scope>> = (0..3)
            .map(|_| {
                Arc::new(Scope {
                    name: text(rng),
                    version: if rng.below(2) == 0 {
                        String::new()
                    } else {
                        text(rng)
                    },
                    attributes: kvs(rng),
                    ..Scope::default()
                })
            })
            .collect();
        let mut spans = Vec::new();
        for _ in 0..rng.below(40) {
            let mut span = Span {
                attributes: kvs(rng),
                ..Span::default()
            };
            if let Some(r) = resources.get(rng.below(4) as usize) {
                span.resource = Arc::clone(r);
            }
            if let Some(s) = scopes.get(rng.below(3) as usize) {
                span.scope = Arc::clone(s);
            }
            spans.push(span);
        }
        spans
    }

    #[test]
    fn shared_tags_added_once_per_trace_give_the_same_postings() {
        let mut rng = crate::test_rng::Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..200 {
            let spans = random_spans(&mut rng);
            let (mut fast, mut reference) = (TermPostings::default(), TermPostings::default());
            let mut ord = 0;
            for span in &spans {
                if rng.below(4) == 0 {
                    ord += 1;
                }
                fast.add_span(span, ord);
                for_each_tag(span, |k, v| reference.add(k, v, ord));
            }
            assert_eq!(fast.into_sorted(), reference.into_sorted());
        }
    }
}
