//! The one implementation of [`TraceQuery`] semantics over in-memory [`Span`]s.
//!
//! Backends that hold (or decode) whole spans — the memory store, the embedded store's final
//! filter — compile a query once with [`CompiledQuery::new`] and test spans with
//! [`CompiledQuery::matches_span`]. Backends that push the search down to a database
//! (Elasticsearch, Cassandra) implement the same semantics in their own query language and
//! prove it with the conformance suite.
//!
//! Tag values: a value with no regex metacharacters, or whose metacharacters are all
//! backslash-escaped (`same\*`), is compared as a plain string — the common case, and the
//! cheap one. Anything else is compiled once as an anchored regular expression.

use regex::{Regex, RegexBuilder};
use sextant_model::jaeger::{
    LOG_FIELD_EVENT, TAG_ERROR, TAG_SCOPE_NAME, TAG_SCOPE_VERSION, TAG_SPAN_KIND, TAG_STATUS_CODE,
    TAG_STATUS_DESCRIPTION, TAG_TRACE_STATE,
};
use sextant_model::{AnyValue, KeyValue, Span, SpanKind, StatusCode};

use crate::{StorageError, TraceQuery};

/// Characters with a meaning in a regex outside a character class. `-`, `&`, `~` and `#`
/// only mean something inside a class or in verbose mode, so `query23-service` stays a
/// plain string.
const REGEX_META: &[char] = &[
    '\\', '.', '+', '*', '?', '(', ')', '|', '[', ']', '{', '}', '^', '$',
];

/// Bounds the compiled size of a query regex: patterns come from HTTP requests.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// How one tag value of a query is compared with a stored value's text.
#[derive(Clone, Debug)]
pub enum ValueMatcher {
    /// Equal as text.
    Exact(String),
    /// Matches the whole text (the pattern is anchored at both ends).
    Regex(Regex),
}

impl ValueMatcher {
    /// Compiles a query value: plain text when it has no unescaped metacharacters, else an
    /// anchored regex. A pattern that does not compile is the caller's fault.
    pub fn new(pattern: &str) -> Result<Self, StorageError> {
        if let Some(literal) = unescape_literal(pattern) {
            return Ok(ValueMatcher::Exact(literal));
        }
        RegexBuilder::new(&format!("^(?:{pattern})$"))
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map(ValueMatcher::Regex)
            .map_err(|e| StorageError::InvalidQuery(format!("tag value {pattern:?}: {e}")))
    }

    pub fn matches_str(&self, text: &str) -> bool {
        match self {
            ValueMatcher::Exact(s) => s == text,
            ValueMatcher::Regex(r) => r.is_match(text),
        }
    }

    /// Compares against [`AnyValue::to_string_lossy`], without allocating for strings.
    pub fn matches_value(&self, value: &AnyValue) -> bool {
        match value {
            AnyValue::Str(s) => self.matches_str(s),
            other => self.matches_str(&other.to_string_lossy()),
        }
    }
}

/// The literal a pattern stands for when every metacharacter in it is escaped; `None` when
/// it needs the regex engine (an unescaped metacharacter, or an escape like `\d`).
fn unescape_literal(pattern: &str) -> Option<String> {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(next) if REGEX_META.contains(&next) => out.push(next),
                _ => return None,
            }
        } else if REGEX_META.contains(&c) {
            return None;
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// One `key=value` constraint of a query.
#[derive(Clone, Debug)]
pub struct TagMatcher {
    pub key: String,
    pub value: ValueMatcher,
}

impl TagMatcher {
    /// True when the span carries `key` with a matching value in any of the places listed on
    /// [`TraceQuery`].
    pub fn matches_span(&self, span: &Span) -> bool {
        let in_attrs = |attrs: &[KeyValue]| {
            attrs
                .iter()
                .any(|kv| kv.key == self.key && self.value.matches_value(&kv.value))
        };
        in_attrs(&span.attributes)
            || in_attrs(&span.resource.attributes)
            || in_attrs(&span.scope.attributes)
            || span.events.iter().any(|e| in_attrs(&e.attributes))
            || span.links.iter().any(|l| in_attrs(&l.attributes))
            || self.matches_lifted(span)
    }

    /// The Jaeger v1 tags that the model lifted into typed fields, with the values
    /// `JaegerSpan::from_span` would re-create (plus `otel.status_code=ERROR`, which Jaeger's
    /// OTLP translator writes and `into_span` lifts, so OTel users can search it).
    fn matches_lifted(&self, span: &Span) -> bool {
        let non_empty = |s: &str| !s.is_empty() && self.value.matches_str(s);
        match self.key.as_str() {
            TAG_SPAN_KIND => {
                span.kind != SpanKind::Unspecified
                    && self.value.matches_str(span.kind.as_jaeger_str())
            }
            TAG_ERROR => span.status.code == StatusCode::Error && self.value.matches_str("true"),
            TAG_STATUS_CODE => match span.status.code {
                StatusCode::Unset => false,
                StatusCode::Ok => self.value.matches_str("OK"),
                StatusCode::Error => self.value.matches_str("ERROR"),
            },
            TAG_STATUS_DESCRIPTION => non_empty(&span.status.message),
            TAG_TRACE_STATE => non_empty(&span.trace_state),
            TAG_SCOPE_NAME => non_empty(&span.scope.name),
            TAG_SCOPE_VERSION => non_empty(&span.scope.version),
            // A Jaeger log's `event` field became the event name.
            LOG_FIELD_EVENT => span.events.iter().any(|e| non_empty(&e.name)),
            _ => false,
        }
    }
}

/// A [`TraceQuery`] checked and compiled for repeated use against spans.
#[derive(Clone, Debug)]
pub struct CompiledQuery {
    service: String,
    operation: String,
    tags: Vec<TagMatcher>,
    start_min: u64,
    start_max: u64,
    duration_min: u64,
    duration_max: u64,
    limit: usize,
}

impl CompiledQuery {
    /// Compiles the tag patterns once and rejects inverted ranges.
    pub fn new(query: &TraceQuery) -> Result<Self, StorageError> {
        let start_min = query.start_time_min.unwrap_or(0);
        let start_max = query.start_time_max.unwrap_or(u64::MAX);
        if start_min > start_max {
            return Err(StorageError::InvalidQuery(format!(
                "start time min {start_min} is after max {start_max}"
            )));
        }
        let duration_min = query.duration_min.unwrap_or(0);
        let duration_max = query.duration_max.unwrap_or(u64::MAX);
        if duration_min > duration_max {
            return Err(StorageError::InvalidQuery(format!(
                "min duration {duration_min}ns is greater than max duration {duration_max}ns"
            )));
        }
        let tags = query
            .tags
            .iter()
            .map(|(key, value)| {
                Ok(TagMatcher {
                    key: key.clone(),
                    value: ValueMatcher::new(value)?,
                })
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        Ok(CompiledQuery {
            service: query.service_name.clone(),
            operation: query.operation_name.clone(),
            tags,
            start_min,
            start_max,
            duration_min,
            duration_max,
            limit: query.limit(),
        })
    }

    /// Empty when any service matches.
    pub fn service(&self) -> &str {
        &self.service
    }
    /// Empty when any operation matches.
    pub fn operation(&self) -> &str {
        &self.operation
    }
    pub fn tags(&self) -> &[TagMatcher] {
        &self.tags
    }
    /// Inclusive bounds on span start time; `min <= max` always holds.
    pub fn start_time_range(&self) -> (u64, u64) {
        (self.start_min, self.start_max)
    }
    /// Inclusive bounds on span duration; `min <= max` always holds.
    pub fn duration_range(&self) -> (u64, u64) {
        (self.duration_min, self.duration_max)
    }
    /// Maximum number of traces to return (never 0).
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// True when this one span satisfies every constraint of the query together.
    pub fn matches_span(&self, span: &Span) -> bool {
        // Cheapest checks first: most spans are rejected by service or time.
        let start = span.start_time_unix_nano;
        let duration = span.duration_nanos();
        (self.service.is_empty() || span.service_name() == self.service)
            && (self.start_min..=self.start_max).contains(&start)
            && (self.duration_min..=self.duration_max).contains(&duration)
            && (self.operation.is_empty() || span.name == self.operation)
            && self.tags.iter().all(|t| t.matches_span(span))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sextant_model::{Event, Link, Resource, Scope, Status};

    use super::*;

    fn span() -> Span {
        Span {
            name: "op".into(),
            start_time_unix_nano: 1_000,
            end_time_unix_nano: 6_000,
            attributes: vec![
                KeyValue::new("s", "text"),
                KeyValue::new("i", 123i64),
                KeyValue::new("d", 72.5),
                KeyValue::new("b", true),
            ],
            events: vec![Event {
                name: "retry".into(),
                attributes: vec![KeyValue::new("ev", "e1")],
                ..Default::default()
            }],
            links: vec![Link {
                attributes: vec![KeyValue::new("lk", "l1")],
                ..Default::default()
            }],
            resource: Arc::new(Resource {
                service_name: "svc".into(),
                attributes: vec![KeyValue::new("host", "h1")],
                ..Default::default()
            }),
            scope: Arc::new(Scope {
                name: "lib".into(),
                version: "1.0".into(),
                attributes: vec![KeyValue::new("sc", "s1")],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn query(tags: &[(&str, &str)]) -> TraceQuery {
        TraceQuery {
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    fn matches(q: &TraceQuery, s: &Span) -> bool {
        CompiledQuery::new(q).unwrap().matches_span(s)
    }

    #[test]
    fn typed_values_compare_as_text() {
        let s = span();
        assert!(matches(
            &query(&[("i", "123"), ("d", "72.5"), ("b", "true"), ("s", "text")]),
            &s
        ));
        assert!(!matches(&query(&[("i", "124")]), &s));
        assert!(!matches(&query(&[("b", "false")]), &s));
    }

    #[test]
    fn tags_are_found_in_every_place_of_one_span() {
        let s = span();
        for (k, v) in [("host", "h1"), ("sc", "s1"), ("ev", "e1"), ("lk", "l1")] {
            assert!(matches(&query(&[(k, v)]), &s), "{k}={v}");
        }
        assert!(matches(
            &query(&[("host", "h1"), ("ev", "e1"), ("s", "text")]),
            &s
        ));
        assert!(!matches(&query(&[("host", "h1"), ("missing", "x")]), &s));
    }

    #[test]
    fn lifted_jaeger_tags_match() {
        let mut s = span();
        s.kind = SpanKind::Server;
        s.status = Status {
            code: StatusCode::Error,
            message: "boom".into(),
        };
        s.trace_state = "k=v".into();
        for (k, v) in [
            ("span.kind", "server"),
            ("error", "true"),
            ("otel.status_code", "ERROR"),
            ("otel.status_description", "boom"),
            ("w3c.tracestate", "k=v"),
            ("otel.scope.name", "lib"),
            ("otel.scope.version", "1.0"),
            ("event", "retry"),
        ] {
            assert!(matches(&query(&[(k, v)]), &s), "{k}={v}");
        }
        assert!(!matches(&query(&[("span.kind", "client")]), &s));
        s.status.code = StatusCode::Ok;
        assert!(!matches(&query(&[("error", "true")]), &s));
        assert!(matches(&query(&[("otel.status_code", "OK")]), &s));
        s.kind = SpanKind::Unspecified;
        assert!(!matches(&query(&[("span.kind", "")]), &s));
    }

    #[test]
    fn regex_and_escapes() {
        let mut s = span();
        assert!(matches(&query(&[("s", "te.*")]), &s));
        assert!(!matches(&query(&[("s", "ex.*")]), &s), "regex is anchored");
        assert!(!matches(&query(&[("s", "te\\*")]), &s));
        s.attributes.push(KeyValue::new("lit", "te*"));
        assert!(matches(&query(&[("lit", "te\\*")]), &s));
        assert!(matches!(
            ValueMatcher::new("te\\*").unwrap(),
            ValueMatcher::Exact(ref v) if v == "te*"
        ));
        assert!(matches!(
            ValueMatcher::new("a-b c#d").unwrap(),
            ValueMatcher::Exact(_)
        ));
        assert!(matches!(
            CompiledQuery::new(&query(&[("s", "(")])),
            Err(StorageError::InvalidQuery(_))
        ));
    }

    #[test]
    fn service_operation_and_ranges() {
        let s = span();
        let base = TraceQuery {
            service_name: "svc".into(),
            operation_name: "op".into(),
            start_time_min: Some(1_000),
            start_time_max: Some(1_000),
            duration_min: Some(5_000),
            duration_max: Some(5_000),
            ..Default::default()
        };
        assert!(matches(&base, &s), "bounds are inclusive");
        for q in [
            TraceQuery {
                service_name: "other".into(),
                ..base.clone()
            },
            TraceQuery {
                operation_name: "other".into(),
                ..base.clone()
            },
            TraceQuery {
                start_time_min: Some(1_001),
                start_time_max: None,
                ..base.clone()
            },
            TraceQuery {
                duration_min: None,
                duration_max: Some(4_999),
                ..base.clone()
            },
            TraceQuery {
                duration_min: Some(5_001),
                duration_max: None,
                ..base.clone()
            },
        ] {
            assert!(!matches(&q, &s), "{q:?}");
        }
        let inverted = TraceQuery {
            duration_min: Some(2),
            duration_max: Some(1),
            ..Default::default()
        };
        assert!(CompiledQuery::new(&inverted).is_err());
    }
}
