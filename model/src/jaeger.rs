//! Jaeger's v1 span model and its one mapping to and from the internal [`Span`].
//!
//! Every Jaeger-shaped format (thrift batches, api_v2 protobuf, the UI's JSON, and later the
//! Cassandra and Elasticsearch layouts) converts structurally to [`JaegerSpan`] and lets this
//! module do the semantic part: lifting `span.kind`, status, trace state and scope tags into
//! typed fields, splitting references into parent and links, and the way back. Keeping it in
//! one place is what makes every Jaeger format agree.
//!
//! Decisions (see also the module docs of [`crate::span`]):
//! * Status out: `Ok` → `otel.status_code=OK`; `Error` → `error=true` (and
//!   `otel.status_description` when there is a message). Jaeger clients mark errors with
//!   `error=true` only, so this keeps their spans byte-identical on a round trip.
//! * Status in: `error=true` (bool or the string "true") or `otel.status_code=ERROR` → Error,
//!   `otel.status_code=OK` → Ok; those tags are removed. `error=false` stays a plain tag.
//! * Scope in/out: `otel.scope.name` / `otel.scope.version` (and the older
//!   `otel.library.name` / `otel.library.version`) tags ⇄ [`Scope`]. Scope attributes have
//!   no v1 representation and are dropped on the way out, as Jaeger does.

use std::sync::Arc;

use crate::span::*;

pub const TAG_SPAN_KIND: &str = "span.kind";
pub const TAG_ERROR: &str = "error";
pub const TAG_STATUS_CODE: &str = "otel.status_code";
pub const TAG_STATUS_DESCRIPTION: &str = "otel.status_description";
pub const TAG_TRACE_STATE: &str = "w3c.tracestate";
pub const TAG_SCOPE_NAME: &str = "otel.scope.name";
pub const TAG_SCOPE_VERSION: &str = "otel.scope.version";
pub const TAG_LIBRARY_NAME: &str = "otel.library.name";
pub const TAG_LIBRARY_VERSION: &str = "otel.library.version";
/// The log field that carries an event's name.
pub const LOG_FIELD_EVENT: &str = "event";

/// The scope of a span that names none, shared: most Jaeger spans carry no scope tags, and a
/// fresh `Arc` per span was an allocation and a free per span on the ingester's path.
fn no_scope() -> Arc<Scope> {
    static EMPTY: std::sync::OnceLock<Arc<Scope>> = std::sync::OnceLock::new();
    Arc::clone(EMPTY.get_or_init(Arc::default))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefType {
    ChildOf,
    FollowsFrom,
}

impl RefType {
    pub fn as_str(self) -> &'static str {
        match self {
            RefType::ChildOf => "child_of",
            RefType::FollowsFrom => "follows_from",
        }
    }
    /// The UI JSON spelling.
    pub fn as_upper_str(self) -> &'static str {
        match self {
            RefType::ChildOf => "CHILD_OF",
            RefType::FollowsFrom => "FOLLOWS_FROM",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct JaegerRef {
    pub ref_type: RefType,
    pub trace_id: TraceId,
    pub span_id: SpanId,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct JaegerLog {
    pub timestamp_us: i64,
    pub fields: Vec<KeyValue>,
}

/// Jaeger's v1 span. The process is a [`Resource`] (service name + tags), shared by `Arc`
/// because a batch carries one process for all its spans.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct JaegerSpan {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub operation_name: String,
    pub references: Vec<JaegerRef>,
    pub flags: u32,
    pub start_time_us: i64,
    pub duration_us: i64,
    pub tags: Vec<KeyValue>,
    pub logs: Vec<JaegerLog>,
    pub process: Arc<Resource>,
    pub warnings: Vec<String>,
}

fn us_to_ns(us: i64, what: &str, warnings: &mut Vec<String>) -> u64 {
    if us < 0 {
        warnings.push(format!("negative {what} {us}us clamped to 0"));
        0
    } else {
        (us as u64).saturating_mul(1000)
    }
}

/// How many tags [`JaegerSpan::into_span`] lifts into span fields; see [`lifted_slot`].
const LIFTED: usize = 9;
const SLOT_ERROR: usize = 1;

/// The slot of a tag that [`JaegerSpan::into_span`] lifts into a span field (the order of
/// the destructuring there), or `None` for an ordinary tag.
fn lifted_slot(key: &str) -> Option<usize> {
    Some(match key {
        TAG_SPAN_KIND => 0,
        TAG_ERROR => SLOT_ERROR,
        TAG_STATUS_CODE => 2,
        TAG_STATUS_DESCRIPTION => 3,
        TAG_TRACE_STATE => 4,
        TAG_SCOPE_NAME => 5,
        TAG_SCOPE_VERSION => 6,
        TAG_LIBRARY_NAME => 7,
        TAG_LIBRARY_VERSION => 8,
        _ => return None,
    })
}

/// Removes the first tag of each lifted key (the `error` tag only when some `error` tag is
/// true) in one pass, keeping the other tags in order; returns the removed values by slot.
/// The same result as removing them one key at a time, without a scan per key: every
/// OpenTelemetry-sourced span carries `span.kind`, so this runs for nearly every span.
fn take_lifted_tags(tags: &mut Vec<KeyValue>) -> [Option<AnyValue>; LIFTED] {
    let mut first = [None::<usize>; LIFTED];
    let mut error_true = false;
    for (i, kv) in tags.iter().enumerate() {
        if let Some(slot) = lifted_slot(&kv.key) {
            if slot == SLOT_ERROR && is_true(&kv.value) {
                error_true = true;
            }
            if let Some(f) = first.get_mut(slot) {
                f.get_or_insert(i);
            }
        }
    }
    if !error_true {
        first[SLOT_ERROR] = None;
    }
    let mut taken: [Option<AnyValue>; LIFTED] = Default::default();
    for (slot, pos) in first.iter().enumerate() {
        if let (Some(pos), Some(out)) = (pos, taken.get_mut(slot)) {
            *out = tags
                .get_mut(*pos)
                .map(|kv| std::mem::replace(&mut kv.value, AnyValue::Empty));
        }
    }
    let mut i = 0;
    tags.retain(|_| {
        let keep = !first.contains(&Some(i));
        i += 1;
        keep
    });
    taken
}

fn is_true(v: &AnyValue) -> bool {
    match v {
        AnyValue::Bool(b) => *b,
        AnyValue::Str(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

impl JaegerSpan {
    /// Jaeger → internal model (lifting the tags described in the module docs).
    pub fn into_span(self) -> Span {
        let JaegerSpan {
            trace_id,
            span_id,
            operation_name,
            references,
            flags,
            start_time_us,
            duration_us,
            mut tags,
            logs,
            process,
            mut warnings,
        } = self;

        let start = us_to_ns(start_time_us, "start time", &mut warnings);
        let duration = us_to_ns(duration_us, "duration", &mut warnings);

        // Only scan for special tags when one could be present: keeps the hot path cheap.
        let mut kind = SpanKind::Unspecified;
        let mut status = Status::default();
        let mut trace_state = String::new();
        let mut scope: Option<Scope> = None;
        if tags.iter().any(|kv| lifted_slot(&kv.key).is_some()) {
            let [span_kind, error, status_code, status_description, state, scope_name, scope_version, library_name, library_version] =
                take_lifted_tags(&mut tags);
            if let Some(v) = span_kind {
                match SpanKind::from_jaeger_str(&v.to_string_lossy()) {
                    Some(k) => kind = k,
                    // An unknown kind stays visible as a plain tag.
                    None => tags.push(KeyValue::new(TAG_SPAN_KIND, v)),
                }
            }
            if error.is_some() {
                status.code = StatusCode::Error;
            }
            if let Some(v) = status_code {
                match v.to_string_lossy().to_ascii_uppercase().as_str() {
                    "ERROR" => status.code = StatusCode::Error,
                    "OK" => status.code = StatusCode::Ok,
                    _ => {}
                }
            }
            if let Some(v) = status_description {
                status.message = v.to_string_lossy();
            }
            if let Some(v) = state {
                trace_state = v.to_string_lossy();
            }
            for (name, version) in [(scope_name, scope_version), (library_name, library_version)] {
                if name.is_some() || version.is_some() {
                    let s = scope.get_or_insert_with(Scope::default);
                    if let Some(n) = name {
                        s.name = n.to_string_lossy();
                    }
                    if let Some(v) = version {
                        s.version = v.to_string_lossy();
                    }
                }
            }
        }

        let mut parent_span_id = SpanId(0);
        let mut links = Vec::new();
        for r in references {
            if parent_span_id.is_zero()
                && r.ref_type == RefType::ChildOf
                && r.trace_id == trace_id
                && !r.span_id.is_zero()
            {
                parent_span_id = r.span_id;
            } else {
                links.push(Link {
                    trace_id: r.trace_id,
                    span_id: r.span_id,
                    attributes: vec![KeyValue::new(REF_TYPE_ATTR, r.ref_type.as_str())],
                    ..Default::default()
                });
            }
        }

        let events = logs
            .into_iter()
            .map(|log| {
                let mut fields = log.fields;
                let name = match fields.iter().position(|kv| {
                    kv.key == LOG_FIELD_EVENT && matches!(kv.value, AnyValue::Str(_))
                }) {
                    Some(pos) => match fields.remove(pos).value {
                        AnyValue::Str(s) => s,
                        _ => String::new(),
                    },
                    None => String::new(),
                };
                Event {
                    time_unix_nano: us_to_ns(log.timestamp_us, "log timestamp", &mut warnings),
                    name,
                    attributes: fields,
                    dropped_attributes_count: 0,
                }
            })
            .collect();

        Span {
            trace_id,
            span_id,
            parent_span_id,
            trace_state,
            name: operation_name,
            kind,
            start_time_unix_nano: start,
            end_time_unix_nano: start.saturating_add(duration),
            attributes: tags,
            dropped_attributes_count: 0,
            events,
            dropped_events_count: 0,
            links,
            dropped_links_count: 0,
            status,
            flags,
            resource: process,
            scope: scope.map_or_else(no_scope, Arc::new),
            warnings,
        }
    }

    /// Internal model → Jaeger (re-creating the lifted tags).
    ///
    /// The rules live in [`references`], [`span_tags`] and [`log_fields`], which the
    /// borrowed UI JSON writer uses too, so the owned and the borrowed paths cannot drift.
    pub fn from_span(span: &Span) -> JaegerSpan {
        let mut tags = Vec::with_capacity(span.attributes.len() + derived_tags(span).count());
        tags.extend(span_tags(span).map(TagRef::to_key_value));

        let logs = span
            .events
            .iter()
            .map(|e| JaegerLog {
                timestamp_us: ns_to_us(e.time_unix_nano),
                fields: log_fields(e).map(TagRef::to_key_value).collect(),
            })
            .collect();

        JaegerSpan {
            trace_id: span.trace_id,
            span_id: span.span_id,
            operation_name: span.name.clone(),
            references: references(span).collect(),
            flags: span.flags,
            start_time_us: ns_to_us(span.start_time_unix_nano),
            duration_us: ns_to_us(span.duration_nanos()),
            tags,
            logs,
            process: span.resource.clone(),
            warnings: span.warnings.clone(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Internal model → Jaeger, borrowed: the rules [`JaegerSpan::from_span`] follows, as
// iterators over the span's own data (no clones), for writers that stream the output.

/// A tag value borrowed from a span: an attribute's value, or a value the mapping derives
/// from a typed field (`span.kind`, status, trace state, scope, an event's name).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TagValue<'a> {
    Any(&'a AnyValue),
    Str(&'a str),
    Bool(bool),
}

/// One Jaeger tag or log field, borrowed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TagRef<'a> {
    pub key: &'a str,
    pub value: TagValue<'a>,
}

impl<'a> TagRef<'a> {
    pub fn attribute(kv: &'a KeyValue) -> Self {
        TagRef {
            key: &kv.key,
            value: TagValue::Any(&kv.value),
        }
    }

    pub fn to_key_value(self) -> KeyValue {
        let value = match self.value {
            TagValue::Any(v) => v.clone(),
            TagValue::Str(s) => AnyValue::Str(s.to_string()),
            TagValue::Bool(b) => AnyValue::Bool(b),
        };
        KeyValue {
            key: self.key.to_string(),
            value,
        }
    }
}

/// How many tags [`derived_tags`] yields at most.
const DERIVED_TAGS_MAX: usize = 6;

/// The tags re-created from typed span fields, in the order they follow the span's
/// attributes: `span.kind`, `otel.status_code=OK` or `error=true`,
/// `otel.status_description`, `w3c.tracestate`, `otel.scope.name`, `otel.scope.version`.
pub fn derived_tags(span: &Span) -> impl Iterator<Item = TagRef<'_>> {
    let kind = (span.kind != SpanKind::Unspecified)
        .then(|| str_tag(TAG_SPAN_KIND, span.kind.as_jaeger_str()));
    let status = match span.status.code {
        StatusCode::Unset => None,
        StatusCode::Ok => Some(str_tag(TAG_STATUS_CODE, "OK")),
        StatusCode::Error => Some(TagRef {
            key: TAG_ERROR,
            value: TagValue::Bool(true),
        }),
    };
    let all: [Option<TagRef<'_>>; DERIVED_TAGS_MAX] = [
        kind,
        status,
        non_empty_tag(TAG_STATUS_DESCRIPTION, &span.status.message),
        non_empty_tag(TAG_TRACE_STATE, &span.trace_state),
        non_empty_tag(TAG_SCOPE_NAME, &span.scope.name),
        non_empty_tag(TAG_SCOPE_VERSION, &span.scope.version),
    ];
    all.into_iter().flatten()
}

fn str_tag<'a>(key: &'a str, value: &'a str) -> TagRef<'a> {
    TagRef {
        key,
        value: TagValue::Str(value),
    }
}

fn non_empty_tag<'a>(key: &'a str, value: &'a str) -> Option<TagRef<'a>> {
    (!value.is_empty()).then(|| str_tag(key, value))
}

/// All of a span's Jaeger tags: its attributes, then [`derived_tags`].
pub fn span_tags(span: &Span) -> impl Iterator<Item = TagRef<'_>> {
    span.attributes
        .iter()
        .map(TagRef::attribute)
        .chain(derived_tags(span))
}

/// A log's fields: `event` (the event's name, when it has one) first, then its attributes.
pub fn log_fields(event: &Event) -> impl Iterator<Item = TagRef<'_>> {
    non_empty_tag(LOG_FIELD_EVENT, &event.name)
        .into_iter()
        .chain(event.attributes.iter().map(TagRef::attribute))
}

/// The reference type a link goes back to: the one its `opentracing.ref_type` attribute
/// names, `FOLLOWS_FROM` when it names none (a link is not a parent).
pub fn link_ref_type(link: &Link) -> RefType {
    match find_attr(&link.attributes, REF_TYPE_ATTR).and_then(|v| v.as_str()) {
        Some("child_of") => RefType::ChildOf,
        _ => RefType::FollowsFrom,
    }
}

/// A span's references: the parent as `CHILD_OF` first (when it has one), then one per
/// link.
pub fn references(span: &Span) -> impl ExactSizeIterator<Item = JaegerRef> + '_ {
    let parent = (!span.parent_span_id.is_zero()).then_some(JaegerRef {
        ref_type: RefType::ChildOf,
        trace_id: span.trace_id,
        span_id: span.parent_span_id,
    });
    References {
        parent,
        links: span.links.iter(),
    }
}

/// [`references`]' iterator; hand-written so that its length is exact (writers size
/// arrays from it).
struct References<'a> {
    parent: Option<JaegerRef>,
    links: std::slice::Iter<'a, Link>,
}

impl Iterator for References<'_> {
    type Item = JaegerRef;
    fn next(&mut self) -> Option<JaegerRef> {
        if let Some(p) = self.parent.take() {
            return Some(p);
        }
        self.links.next().map(|link| JaegerRef {
            ref_type: link_ref_type(link),
            trace_id: link.trace_id,
            span_id: link.span_id,
        })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.links.len() + usize::from(self.parent.is_some());
        (n, Some(n))
    }
}

impl ExactSizeIterator for References<'_> {}

/// Nanoseconds → Jaeger microseconds (truncating, as Jaeger does).
pub fn ns_to_us(ns: u64) -> i64 {
    (ns / 1000).min(i64::MAX as u64) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lifting as it was written first, one scan and removal per key: the oracle for
    /// [`take_lifted_tags`].
    fn take_one_key_at_a_time(tags: &mut Vec<KeyValue>) -> [Option<AnyValue>; LIFTED] {
        fn take(tags: &mut Vec<KeyValue>, key: &str) -> Option<AnyValue> {
            let pos = tags.iter().position(|kv| kv.key == key)?;
            Some(tags.remove(pos).value)
        }
        let error_true = tags
            .iter()
            .any(|kv| kv.key == TAG_ERROR && is_true(&kv.value));
        [
            take(tags, TAG_SPAN_KIND),
            if error_true {
                take(tags, TAG_ERROR)
            } else {
                None
            },
            take(tags, TAG_STATUS_CODE),
            take(tags, TAG_STATUS_DESCRIPTION),
            take(tags, TAG_TRACE_STATE),
            take(tags, TAG_SCOPE_NAME),
            take(tags, TAG_SCOPE_VERSION),
            take(tags, TAG_LIBRARY_NAME),
            take(tags, TAG_LIBRARY_VERSION),
        ]
    }

    proptest::proptest! {
        #[test]
        fn lifting_in_one_pass_equals_one_key_at_a_time(
            picks in proptest::collection::vec((0usize..12, 0usize..4), 0..24)
        ) {
            let keys = [
                TAG_SPAN_KIND, TAG_ERROR, TAG_STATUS_CODE, TAG_STATUS_DESCRIPTION,
                TAG_TRACE_STATE, TAG_SCOPE_NAME, TAG_SCOPE_VERSION, TAG_LIBRARY_NAME,
                TAG_LIBRARY_VERSION, "http.method", "errors", "",
            ];
            let values = [
                AnyValue::Bool(true),
                AnyValue::Bool(false),
                AnyValue::Str("TRUE".into()),
                AnyValue::Str("client".into()),
            ];
            let tags: Vec<KeyValue> = picks
                .iter()
                .map(|&(k, v)| KeyValue { key: keys[k].to_string(), value: values[v].clone() })
                .collect();
            let (mut a, mut b) = (tags.clone(), tags);
            let fast = take_lifted_tags(&mut a);
            let slow = take_one_key_at_a_time(&mut b);
            proptest::prop_assert_eq!(fast, slow);
            proptest::prop_assert_eq!(a, b);
        }
    }

    fn sample() -> JaegerSpan {
        let tid = TraceId::from_halves(7, 9);
        JaegerSpan {
            trace_id: tid,
            span_id: SpanId(3),
            operation_name: "GET /x".into(),
            references: vec![
                JaegerRef {
                    ref_type: RefType::ChildOf,
                    trace_id: tid,
                    span_id: SpanId(2),
                },
                JaegerRef {
                    ref_type: RefType::FollowsFrom,
                    trace_id: TraceId(5),
                    span_id: SpanId(8),
                },
            ],
            flags: 1,
            start_time_us: 1_500_000_000_000_000,
            duration_us: 1234,
            tags: vec![
                KeyValue::new("http.method", "GET"),
                KeyValue::new("span.kind", "server"),
                KeyValue::new("error", true),
                KeyValue::new("otel.scope.name", "lib"),
            ],
            logs: vec![JaegerLog {
                timestamp_us: 1_500_000_000_000_100,
                fields: vec![
                    KeyValue::new("event", "retry"),
                    KeyValue::new("attempt", 2i64),
                ],
            }],
            process: Arc::new(Resource {
                service_name: "frontend".into(),
                attributes: vec![KeyValue::new("hostname", "h1")],
                ..Default::default()
            }),
            warnings: vec![],
        }
    }

    #[test]
    fn lifts_special_tags() {
        let span = sample().into_span();
        assert_eq!(span.kind, SpanKind::Server);
        assert_eq!(span.status.code, StatusCode::Error);
        assert_eq!(span.scope.name, "lib");
        assert_eq!(span.attributes, vec![KeyValue::new("http.method", "GET")]);
        assert_eq!(span.parent_span_id, SpanId(2));
        assert_eq!(span.links.len(), 1);
        assert_eq!(span.events[0].name, "retry");
        assert_eq!(span.duration_nanos(), 1_234_000);
    }

    #[test]
    fn model_round_trip_is_lossless() {
        let span = sample().into_span();
        let back = JaegerSpan::from_span(&span).into_span();
        assert_eq!(back, span);
    }

    #[test]
    fn plain_jaeger_span_round_trips_exactly() {
        let mut j = sample();
        j.tags = vec![
            KeyValue::new("http.method", "GET"),
            KeyValue::new("error", true),
        ];
        let back = JaegerSpan::from_span(&j.clone().into_span());
        assert_eq!(back, j);
    }

    #[test]
    fn negative_times_are_clamped_with_a_warning() {
        let mut j = sample();
        j.duration_us = -5;
        let span = j.into_span();
        assert_eq!(span.duration_nanos(), 0);
        assert!(span.warnings[0].contains("negative duration"));
    }
}
