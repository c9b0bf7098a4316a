//! The tag terms a span is indexed under, mirroring where [`crate::matcher::TagMatcher`]
//! looks, so that an index lookup never misses a span the matcher would accept.
//!
//! A term is `(key, value-as-text)`. Keys and values longer than [`MAX_TERM_PART`] bytes
//! are cut (at a character boundary) and the term is marked `truncated`: such a term stands
//! for every longer text with that prefix, so lookups stay a superset and the matcher, run
//! on the decoded span afterwards, decides.

use std::collections::HashMap;

use foldhash::fast::RandomState;
use sextant_model::jaeger::{
    LOG_FIELD_EVENT, TAG_ERROR, TAG_SCOPE_NAME, TAG_SCOPE_VERSION, TAG_SPAN_KIND, TAG_STATUS_CODE,
    TAG_STATUS_DESCRIPTION, TAG_TRACE_STATE,
};
use sextant_model::{AnyValue, KeyValue, Span, SpanKind, StatusCode};

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
#[derive(Default)]
pub struct TermPostings {
    /// Cut key → cut value → ordinals, `[whole, truncated]`.
    by_key: HashMap<String, HashMap<String, [Vec<u32>; 2], RandomState>, RandomState>,
}

impl TermPostings {
    /// Adds trace ordinal `ord` (ordinals arrive in ascending order) under the term of
    /// `(key, value)`, as [`Term::new`] forms it.
    pub fn add(&mut self, key: &str, value: &str, ord: u32) {
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

/// Calls `f(key, value_text)` for every tag the matcher could match on this span.
pub fn for_each_tag(span: &Span, mut f: impl FnMut(&str, &str)) {
    let mut attrs = |kvs: &[KeyValue]| {
        for kv in kvs {
            match &kv.value {
                AnyValue::Str(s) => f(&kv.key, s),
                other => f(&kv.key, &other.to_string_lossy()),
            }
        }
    };
    attrs(&span.attributes);
    attrs(&span.resource.attributes);
    attrs(&span.scope.attributes);
    for e in &span.events {
        attrs(&e.attributes);
    }
    for l in &span.links {
        attrs(&l.attributes);
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
    let mut non_empty = |k: &str, v: &str| {
        if !v.is_empty() {
            f(k, v);
        }
    };
    non_empty(TAG_STATUS_DESCRIPTION, &span.status.message);
    non_empty(TAG_TRACE_STATE, &span.trace_state);
    non_empty(TAG_SCOPE_NAME, &span.scope.name);
    non_empty(TAG_SCOPE_VERSION, &span.scope.version);
    for e in &span.events {
        non_empty(LOG_FIELD_EVENT, &e.name);
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
}
