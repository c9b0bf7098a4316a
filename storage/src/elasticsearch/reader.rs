//! Span reading with Jaeger's query shapes: the trace-ID search with its terms
//! aggregation, trace fetches through `_msearch` paged with `search_after`, and services and
//! operations as aggregations over the service index. Searches read only the daily indices
//! their time range touches.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use elasticsearch::http::Method;
use serde_json::{json, Value};
use sextant_model::es_json::EsSpan;
use sextant_model::{Span, SpanKind, Trace, TraceId};

use super::client::EsClient;
use super::indices::{IndexKind, IndexNames};
use super::query;
use crate::matcher::CompiledQuery;
use crate::{Operation, Result, StorageError, TraceQuery};

const HOUR_NANOS: u64 = 3_600 * 1_000_000_000;
const DAY_NANOS: u64 = 24 * HOUR_NANOS;

pub fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos().min(u64::MAX as u128) as u64)
        .unwrap_or(0)
}

pub struct SpanDocReader {
    pub client: EsClient,
    pub names: IndexNames,
    pub dot_replacement: String,
    pub max_span_age: Duration,
    pub max_doc_count: u32,
}

fn agg_buckets<'a>(body: &'a Value, path: &str) -> &'a [Value] {
    body.pointer(path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

impl SpanDocReader {
    /// The time range lookups without one (by trace ID, services) read.
    fn recent_range(&self) -> (u64, u64) {
        let now = now_nanos();
        let age = self.max_span_age.as_nanos().min(u64::MAX as u128) as u64;
        (now.saturating_sub(age), now.saturating_add(HOUR_NANOS))
    }

    async fn search(&self, indices: &str, body: &Value) -> Result<Value> {
        self.client
            .json(
                Method::Post,
                &format!("/{indices}/_search"),
                &[("ignore_unavailable", "true"), ("allow_no_indices", "true")],
                Some(body),
            )
            .await
    }

    pub async fn get_traces(&self, ids: &[TraceId]) -> Result<Vec<Trace>> {
        let (min, max) = self.recent_range();
        self.fetch_traces(ids, min, max).await
    }

    /// The traces with these IDs among spans started in `[min, max]`, in the order of `ids`.
    pub async fn fetch_traces(&self, ids: &[TraceId], min: u64, max: u64) -> Result<Vec<Trace>> {
        let indices = self.names.read_indices(IndexKind::Span, min, max);
        let mut spans: HashMap<TraceId, Vec<Span>> = HashMap::new();
        // Each round asks for one page of every trace not yet complete.
        let mut pending: Vec<(TraceId, Option<Value>)> = Vec::new();
        let mut seen_ids = HashSet::new();
        for id in ids {
            if seen_ids.insert(*id) {
                pending.push((*id, None));
            }
        }
        while !pending.is_empty() {
            let mut body = Vec::new();
            let header = json!({"index": indices, "ignore_unavailable": true});
            for (id, after) in &pending {
                body.extend(header.to_string().into_bytes());
                body.push(b'\n');
                body.extend(
                    query::trace_page(*id, self.max_doc_count, after.as_ref())
                        .to_string()
                        .into_bytes(),
                );
                body.push(b'\n');
            }
            let reply = self
                .client
                .request(Method::Post, "/_msearch", &[], Some(body), true)
                .await?
                .ok("_msearch")?;
            let responses = agg_buckets(&reply, "/responses");
            let mut next = Vec::new();
            for (i, (id, _)) in pending.iter().enumerate() {
                let Some(resp) = responses.get(i) else {
                    return Err(StorageError::Backend(
                        "_msearch answered too few searches".into(),
                    ));
                };
                if let Some(err) = resp.get("error") {
                    // A missing index is no error; the query found nothing there.
                    if err.pointer("/type").and_then(Value::as_str)
                        != Some("index_not_found_exception")
                    {
                        return Err(StorageError::Backend(format!("trace search failed: {err}")));
                    }
                    continue;
                }
                let hits = agg_buckets(resp, "/hits/hits");
                let out = spans.entry(*id).or_default();
                for hit in hits {
                    if let Some(span) = self.decode(hit) {
                        out.push(span);
                    }
                }
                if hits.len() >= self.max_doc_count as usize {
                    if let Some(sort) = hits.last().and_then(|h| h.get("sort")) {
                        next.push((*id, Some(sort.clone())));
                    }
                }
            }
            pending = next;
        }
        let mut traces = Vec::new();
        for id in ids {
            if let Some(found) = spans.remove(id) {
                let found = dedupe(found);
                if !found.is_empty() {
                    traces.push(Trace { spans: found });
                }
            }
        }
        Ok(traces)
    }

    fn decode(&self, hit: &Value) -> Option<Span> {
        let source = hit.get("_source")?;
        let doc: EsSpan = match serde_json::from_value(source.clone()) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "skipping unreadable span document");
                return None;
            }
        };
        match doc.into_span(&self.dot_replacement) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "skipping invalid span document");
                None
            }
        }
    }

    pub async fn find_trace_ids(&self, q: &TraceQuery) -> Result<Vec<TraceId>> {
        let compiled = CompiledQuery::new(q)?;
        let (min, max) = compiled.start_time_range();
        let indices = self.names.read_indices(IndexKind::Span, min, max);
        let body = query::find_trace_ids(&compiled, &q.tags, &self.dot_replacement.clone());
        let reply = self.search(&indices, &body).await?;
        let mut ids = Vec::new();
        for bucket in agg_buckets(
            &reply,
            &format!("/aggregations/{}/buckets", query::TRACE_IDS_AGG),
        ) {
            let key = bucket.get("key").and_then(Value::as_str).unwrap_or("");
            match key.parse::<TraceId>() {
                Ok(id) if !ids.contains(&id) => ids.push(id),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "skipping invalid trace ID in index"),
            }
        }
        Ok(ids)
    }

    pub async fn find_traces(&self, q: &TraceQuery) -> Result<Vec<Trace>> {
        let ids = self.find_trace_ids(q).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // A trace's other spans may have started outside the searched range.
        let min = q.start_time_min.unwrap_or(0).saturating_sub(DAY_NANOS);
        let max = q
            .start_time_max
            .unwrap_or(u64::MAX)
            .saturating_add(DAY_NANOS);
        self.fetch_traces(&ids, min, max).await
    }

    pub async fn get_services(&self) -> Result<Vec<String>> {
        let (min, max) = self.recent_range();
        let indices = self.names.read_indices(IndexKind::Service, min, max);
        let body = json!({
            "size": 0,
            "aggregations": {"services": {"terms": {"field": "serviceName", "size": self.max_doc_count}}}
        });
        let reply = self.search(&indices, &body).await?;
        let mut out: Vec<String> = agg_buckets(&reply, "/aggregations/services/buckets")
            .iter()
            .filter_map(|b| b.get("key").and_then(Value::as_str).map(str::to_string))
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    pub async fn get_operations(
        &self,
        service: &str,
        kind: Option<SpanKind>,
    ) -> Result<Vec<Operation>> {
        let (min, max) = self.recent_range();
        let indices = self.names.read_indices(IndexKind::Service, min, max);
        let body = json!({
            "size": 0,
            "query": {"term": {"serviceName": service}},
            "aggregations": {"operations": {
                "terms": {"field": "operationName", "size": self.max_doc_count},
                "aggregations": {"kinds": {"terms": {"field": "spanKind", "size": 10}}}
            }}
        });
        let reply = self.search(&indices, &body).await?;
        let mut out = Vec::new();
        for op in agg_buckets(&reply, "/aggregations/operations/buckets") {
            let Some(name) = op.get("key").and_then(Value::as_str) else {
                continue;
            };
            let total = op.get("doc_count").and_then(Value::as_u64).unwrap_or(0);
            let mut with_kind = 0;
            for k in agg_buckets(op, "/kinds/buckets") {
                with_kind += k.get("doc_count").and_then(Value::as_u64).unwrap_or(0);
                let text = k.get("key").and_then(Value::as_str).unwrap_or("");
                if let Some(span_kind) = SpanKind::from_jaeger_str(text) {
                    out.push(Operation {
                        name: name.to_string(),
                        span_kind,
                    });
                }
            }
            // Documents without a kind (Jaeger's, or spans with none).
            if total > with_kind {
                out.push(Operation {
                    name: name.to_string(),
                    span_kind: SpanKind::Unspecified,
                });
            }
        }
        if let Some(kind) = kind {
            out.retain(|o| o.span_kind == kind);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

/// Drops repeated copies of a span (Jaeger's writer gives each copy its own document).
fn dedupe(spans: Vec<Span>) -> Vec<Span> {
    let mut by_id: HashMap<_, Vec<usize>> = HashMap::new();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        let same = by_id.entry(span.span_id).or_default();
        if same.iter().any(|&i| out.get(i) == Some(&span)) {
            continue;
        }
        same.push(out.len());
        out.push(span);
    }
    out
}
