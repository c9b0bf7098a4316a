//! The dependencies index (`jaeger-dependencies-YYYY-MM-DD`): documents
//! `{"timestamp": …, "dependencies": [{"parent", "child", "callCount"}]}`, written by
//! Jaeger's Spark job (or [`DependencyStore::write`]) and read back summed per edge.

use std::collections::BTreeMap;
use std::time::Duration;

use elasticsearch::http::Method;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::client::EsClient;
use super::indices::{IndexKind, IndexNames};
use crate::{DependencyLink, Result, StorageError};

pub struct DependencyStore {
    pub client: EsClient,
    pub names: IndexNames,
    pub max_doc_count: u32,
    pub refresh: &'static str,
}

fn rfc3339(unix_nanos: u64) -> Result<String> {
    OffsetDateTime::from_unix_timestamp_nanos(unix_nanos as i128)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .ok_or_else(|| StorageError::InvalidQuery(format!("time {unix_nanos} out of range")))
}

impl DependencyStore {
    /// Stores the links computed for a moment, as Jaeger's Spark job does.
    pub async fn write(&self, unix_nanos: u64, links: &[DependencyLink]) -> Result<()> {
        let index = self.names.write_index(IndexKind::Dependencies, unix_nanos);
        let doc = json!({
            "timestamp": rfc3339(unix_nanos)?,
            "dependencies": links.iter().map(|l| json!({
                "parent": l.parent, "child": l.child, "callCount": l.call_count
            })).collect::<Vec<_>>()
        });
        self.client
            .json(
                Method::Post,
                &format!("/{index}/_doc"),
                &[("refresh", self.refresh)],
                Some(&doc),
            )
            .await
            .map(drop)
    }

    pub async fn read(&self, end: u64, lookback: Duration) -> Result<Vec<DependencyLink>> {
        let start = end.saturating_sub(lookback.as_nanos().min(u64::MAX as u128) as u64);
        let indices = self.names.read_indices(IndexKind::Dependencies, start, end);
        let body = json!({
            "size": self.max_doc_count,
            "query": {"range": {"timestamp": {
                "gte": start / 1_000_000, "lte": end / 1_000_000, "format": "epoch_millis"
            }}}
        });
        let reply = self
            .client
            .json(
                Method::Post,
                &format!("/{indices}/_search"),
                &[("ignore_unavailable", "true"), ("allow_no_indices", "true")],
                Some(&body),
            )
            .await?;
        let mut sums: BTreeMap<(String, String), u64> = BTreeMap::new();
        let hits = reply.pointer("/hits/hits").and_then(Value::as_array);
        for hit in hits.into_iter().flatten() {
            let deps = hit
                .pointer("/_source/dependencies")
                .and_then(Value::as_array);
            for d in deps.into_iter().flatten() {
                let (Some(p), Some(c)) = (
                    d.get("parent").and_then(Value::as_str),
                    d.get("child").and_then(Value::as_str),
                ) else {
                    continue;
                };
                let n = d.get("callCount").and_then(Value::as_u64).unwrap_or(0);
                let sum = sums.entry((p.to_string(), c.to_string())).or_default();
                *sum = sum.saturating_add(n);
            }
        }
        Ok(sums
            .into_iter()
            .map(|((parent, child), call_count)| DependencyLink {
                parent,
                child,
                call_count,
            })
            .collect())
    }
}
