//! Jaeger's search shapes as Elasticsearch query JSON: the trace-ID search (a bool query of
//! service, operation, duration, start time and tag clauses with a terms aggregation on
//! `traceID` ordered by each trace's latest matching start time), and the trace-by-ID
//! query that also finds IDs Jaeger wrote before it zero-padded them.

use serde_json::{json, Value};
use sextant_model::jaeger::{TAG_ERROR, TAG_STATUS_CODE};
use sextant_model::TraceId;

use crate::matcher::{CompiledQuery, ValueMatcher};

/// Places a tag may live in a span document: nested key/value lists…
const NESTED_TAG_FIELDS: &[&str] = &["tags", "process.tags", "logs.fields"];
/// …and tags-as-fields objects.
const OBJECT_TAG_FIELDS: &[&str] = &["tag", "process.tag"];

/// The aggregation the trace-ID search reads its answer from.
pub const TRACE_IDS_AGG: &str = "traceIDs";

/// A query value as Elasticsearch compares it with a keyword field.
fn value_clause(field: &str, value: &ValueMatcher, pattern: &str) -> Value {
    match value {
        ValueMatcher::Exact(text) => json!({"term": {field: text}}),
        // Lucene regexps are anchored like ours; the `.*`, classes, alternation and
        // repetition that tag searches use mean the same in both dialects.
        ValueMatcher::Regex(_) => json!({"regexp": {field: {"value": pattern}}}),
    }
}

/// One `key=value` tag constraint: any nested list or tag object holding it.
fn tag_clause(key: &str, value: &ValueMatcher, pattern: &str, dot_replacement: &str) -> Value {
    let mut should = Vec::new();
    let field_key = key.replace('.', dot_replacement);
    for object in OBJECT_TAG_FIELDS {
        should.push(value_clause(
            &format!("{object}.{field_key}"),
            value,
            pattern,
        ));
    }
    for nested in NESTED_TAG_FIELDS {
        should.push(json!({"nested": {
            "path": nested,
            "query": {"bool": {"must": [
                {"term": {format!("{nested}.key"): key}},
                value_clause(&format!("{nested}.value"), value, pattern)
            ]}}
        }}));
    }
    json!({"bool": {"should": should, "minimum_should_match": 1}})
}

/// The tag clause, widened where the Jaeger layout spells one thing two ways: an error
/// status is `error=true` on disk, and searching `otel.status_code=ERROR` must find it (the
/// semantics of [`crate::TraceQuery`]).
fn tag_constraint(key: &str, value: &ValueMatcher, pattern: &str, dots: &str) -> Value {
    let direct = tag_clause(key, value, pattern, dots);
    if key == TAG_STATUS_CODE && value.matches_str("ERROR") {
        let error = tag_clause(TAG_ERROR, &ValueMatcher::Exact("true".into()), "true", dots);
        return json!({"bool": {"should": [direct, error], "minimum_should_match": 1}});
    }
    direct
}

/// The body of the trace-ID search.
pub fn find_trace_ids(query: &CompiledQuery, patterns: &[(String, String)], dots: &str) -> Value {
    let mut must = Vec::new();
    let (start_min, start_max) = query.start_time_range();
    // Milliseconds on the `date` field let the cluster skip shards; microseconds on
    // `startTime` keep the bounds exact.
    let mut millis = serde_json::Map::new();
    let mut micros = serde_json::Map::new();
    if start_min > 0 {
        millis.insert("gte".into(), json!(start_min / 1_000_000));
        micros.insert("gte".into(), json!(start_min.div_ceil(1000)));
    }
    if start_max < u64::MAX {
        millis.insert("lte".into(), json!(start_max / 1_000_000));
        micros.insert("lte".into(), json!(start_max / 1000));
    }
    if !millis.is_empty() {
        must.push(json!({"range": {"startTimeMillis": millis}}));
        must.push(json!({"range": {"startTime": micros}}));
    }
    let (dmin, dmax) = query.duration_range();
    if dmin > 0 || dmax < u64::MAX {
        let mut r = serde_json::Map::new();
        r.insert("gte".into(), json!(dmin.div_ceil(1000)));
        if dmax < u64::MAX {
            r.insert("lte".into(), json!(dmax / 1000));
        }
        must.push(json!({"range": {"duration": r}}));
    }
    if !query.service().is_empty() {
        must.push(json!({"term": {"process.serviceName": query.service()}}));
    }
    if !query.operation().is_empty() {
        must.push(json!({"term": {"operationName": query.operation()}}));
    }
    for (tag, (_, pattern)) in query.tags().iter().zip(patterns) {
        must.push(tag_constraint(&tag.key, &tag.value, pattern, dots));
    }
    json!({
        "size": 0,
        "query": {"bool": {"must": must}},
        "aggregations": {TRACE_IDS_AGG: {
            "terms": {
                "field": "traceID",
                "size": query.limit(),
                "order": [{"startTime": "desc"}]
            },
            "aggregations": {"startTime": {"max": {"field": "startTime"}}}
        }}
    })
}

/// Matches the spans of one trace, in Jaeger's zero-padded form and the unpadded form Jaeger
/// wrote before 1.16.
pub fn trace_id_clause(id: TraceId) -> Value {
    let padded = id.to_jaeger_string();
    let legacy = if id.high() == 0 {
        format!("{:x}", id.low())
    } else {
        format!("{:x}{:016x}", id.high(), id.low())
    };
    if legacy == padded {
        json!({"term": {"traceID": padded}})
    } else {
        json!({"terms": {"traceID": [padded, legacy]}})
    }
}

/// One page of a trace's spans, in (startTime, spanID) order, after `after` when given.
pub fn trace_page(id: TraceId, size: u32, after: Option<&Value>) -> Value {
    let mut body = json!({
        "size": size,
        "query": trace_id_clause(id),
        "sort": [{"startTime": {"order": "asc"}}, {"spanID": {"order": "asc"}}]
    });
    if let (Some(after), Value::Object(o)) = (after, &mut body) {
        o.insert("search_after".into(), after.clone());
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TraceQuery;

    #[test]
    fn search_has_jaegers_shape() {
        let q = TraceQuery {
            service_name: "svc".into(),
            operation_name: "op".into(),
            tags: vec![
                ("http.status".into(), "200".into()),
                ("x".into(), "a.*".into()),
            ],
            start_time_min: Some(1_000_000_000),
            start_time_max: Some(2_000_000_000),
            duration_min: Some(5_000),
            duration_max: None,
            num_traces: 20,
        };
        let c = CompiledQuery::new(&q).unwrap();
        let body = find_trace_ids(&c, &q.tags, "@");
        let must = body["query"]["bool"]["must"].as_array().unwrap();
        assert!(must.contains(&json!({"range": {"startTimeMillis": {"gte": 1000, "lte": 2000}}})));
        assert!(must.contains(&json!({"range": {"duration": {"gte": 5}}})));
        assert!(must.contains(&json!({"term": {"process.serviceName": "svc"}})));
        let tag = must
            .iter()
            .find(|c| c.to_string().contains("http@status"))
            .unwrap();
        assert!(tag
            .to_string()
            .contains(r#"{"term":{"tag.http@status":"200"}}"#));
        assert!(tag.to_string().contains(r#""path":"logs.fields""#));
        assert!(body
            .to_string()
            .contains(r#"{"regexp":{"tags.value":{"value":"a.*"}}}"#));
        assert_eq!(body["aggregations"]["traceIDs"]["terms"]["size"], 20);
    }

    #[test]
    fn legacy_trace_ids_are_matched_too() {
        assert_eq!(
            trace_id_clause(TraceId(0xab)),
            json!({"terms": {"traceID": ["00000000000000ab", "ab"]}})
        );
        let full = TraceId::from_halves(0x1000_0000_0000_0000, 1);
        assert_eq!(
            trace_id_clause(full),
            json!({"term": {"traceID": "10000000000000000000000000000001"}})
        );
    }
}
