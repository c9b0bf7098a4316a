//! Adaptive sampling's state in Elasticsearch / OpenSearch, in Jaeger's layout, so that
//! several collector processes share it.
//!
//! * Daily indices `[PREFIX-]jaeger-sampling-YYYY-MM-DD` (by write time) hold two kinds of
//!   documents, as Jaeger's `es/samplingstore` writes them:
//!   - throughput, one per (service, operation) and interval:
//!     `{"timestamp": RFC 3339, "throughputs": {"Service", "Operation", "Count",
//!     "Probabilities": {"0.001000": {}}}}`;
//!   - probabilities: `{"timestamp", "probabilitiesandqps": {"Hostname", "Probabilities":
//!     {service: {operation: p}}, "QPS": {…}}}`.
//! * The leader lease (Jaeger has none for Elasticsearch) is one document per resource in
//!   `[PREFIX-]jaeger-sampling-lease`, `{"holder", "expires_ms"}`, taken with `op_type=create`
//!   and renewed or stolen (once expired) with optimistic concurrency (`if_seq_no` /
//!   `if_primary_term`), so two collectors never both win. Expiry compares wall clocks:
//!   collectors' clocks must agree to well within the lease time.
//!
//! Indices are created on first use with `dynamic: false` mappings (only the fields searched
//! or sorted on are indexed), so operation names never become mapped fields. Writes use
//! `refresh=wait_for`: a bucket written is visible to the next calculation, whatever the
//! delay. Reads ignore indices that do not exist.
//!
//! Precision: `timestamp` is an Elasticsearch `date`, kept in milliseconds, so windows are
//! compared at millisecond granularity (both the documents and the window bounds are cut to
//! the millisecond). Consecutive windows `[a, b)`, `[b, c)` still see every document exactly
//! once; a window shorter than a millisecond may see nothing.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use elasticsearch::http::Method;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::client::EsClient;
use super::EsArgs;
use crate::sampling::{ProbabilitiesRecord, SamplingStore, ServiceOperationValues, Throughput};
use crate::{Result, StorageError};

const SAMPLING_BASE: &str = "jaeger-sampling";
const DAY_NANOS: u64 = 86_400 * 1_000_000_000;
/// How far back the latest probabilities are looked for (Jaeger's default lookback, 72 h).
const PROBABILITIES_LOOKBACK_DAYS: u64 = 3;
/// A throughput read over more days than this reads the wildcard pattern.
const MAX_LISTED_DAYS: u64 = 100;

pub struct EsSamplingStore {
    client: EsClient,
    /// Empty, or the prefix followed by `-`.
    prefix: String,
    date_separator: String,
    shards: u32,
    replicas: u32,
    max_docs: u32,
    /// Indices known to exist (created here or found), so each is created once.
    created: Mutex<HashSet<String>>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DbThroughput {
    #[serde(default)]
    service: String,
    #[serde(default)]
    operation: String,
    #[serde(default)]
    count: i64,
    /// Go's `map[string]struct{}`; `null` when Jaeger had none.
    #[serde(default)]
    probabilities: Option<BTreeMap<String, Value>>,
}

#[derive(Serialize, Deserialize)]
struct ThroughputDoc {
    timestamp: String,
    throughputs: DbThroughput,
}

#[derive(Serialize, Deserialize, Default)]
struct DbProbabilities {
    #[serde(default, rename = "Hostname")]
    hostname: String,
    #[serde(default, rename = "Probabilities")]
    probabilities: Option<ServiceOperationValues>,
    #[serde(default, rename = "QPS")]
    qps: Option<ServiceOperationValues>,
}

#[derive(Serialize, Deserialize)]
struct ProbabilitiesDoc {
    timestamp: String,
    probabilitiesandqps: DbProbabilities,
}

#[derive(Serialize, Deserialize)]
struct LeaseDoc {
    holder: String,
    expires_ms: i64,
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn datetime(unix_nanos: u64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_nanos))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// RFC 3339 in UTC with exactly nine fractional digits, so timestamps also sort as text.
pub fn rfc3339(unix_nanos: u64) -> String {
    let t = datetime(unix_nanos);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond()
    )
}

fn mappings() -> Value {
    json!({
        "dynamic": false,
        "properties": {
            "timestamp": {"type": "date"},
            "throughputs": {"properties": {
                "Service": {"type": "keyword"},
                "Operation": {"type": "keyword"},
                "Count": {"type": "long"}
            }},
            "probabilitiesandqps": {"properties": {"Hostname": {"type": "keyword"}}},
            "holder": {"type": "keyword"},
            "expires_ms": {"type": "long"}
        }
    })
}

fn backend(msg: String) -> StorageError {
    StorageError::Backend(msg)
}

impl EsSamplingStore {
    /// A store on the cluster the `--es.*` flags describe (index prefix, date separator,
    /// shards and replicas included). Nothing is sent until first use.
    pub fn new(args: &EsArgs) -> Result<Self> {
        let prefix = if args.index_prefix.is_empty() || args.index_prefix.ends_with('-') {
            args.index_prefix.clone()
        } else {
            format!("{}-", args.index_prefix)
        };
        Ok(EsSamplingStore {
            client: EsClient::new(args)?,
            prefix,
            date_separator: args.index_date_separator.clone(),
            shards: args.num_shards,
            replicas: args.num_replicas,
            max_docs: args.max_doc_count.max(1),
            created: Mutex::new(HashSet::new()),
        })
    }

    /// `[PREFIX-]jaeger-sampling-YYYY-MM-DD` of a time.
    pub fn daily_index(&self, unix_nanos: u64) -> String {
        let t = datetime(unix_nanos);
        let sep = &self.date_separator;
        format!(
            "{}{SAMPLING_BASE}-{:04}{sep}{:02}{sep}{:02}",
            self.prefix,
            t.year(),
            u8::from(t.month()),
            t.day()
        )
    }

    fn lease_index(&self) -> String {
        format!("{}{SAMPLING_BASE}-lease", self.prefix)
    }

    /// The daily indices of `[min, max]`, newest first, comma-joined.
    fn read_indices(&self, min: u64, max: u64) -> String {
        let (min, max) = (min.min(max), max.max(min));
        if (max - min) / DAY_NANOS > MAX_LISTED_DAYS {
            return format!("{}{SAMPLING_BASE}-*", self.prefix);
        }
        let first = min - min % DAY_NANOS;
        let mut day = max - max % DAY_NANOS;
        let mut names = Vec::new();
        loop {
            names.push(self.daily_index(day));
            if day <= first {
                break;
            }
            day -= DAY_NANOS;
        }
        names.join(",")
    }

    async fn ensure_index(&self, index: &str) -> Result<()> {
        if self.created.lock().contains(index) {
            return Ok(());
        }
        let body = json!({
            "settings": {
                "number_of_shards": self.shards.max(1),
                "number_of_replicas": self.replicas
            },
            "mappings": mappings()
        });
        let reply = self
            .client
            .request(
                Method::Put,
                &format!("/{index}"),
                &[],
                Some(body.to_string().into_bytes()),
                false,
            )
            .await?;
        let exists = reply
            .body
            .pointer("/error/type")
            .and_then(Value::as_str)
            .is_some_and(|t| t == "resource_already_exists_exception");
        if !reply.is_success() && !exists {
            return Err(reply.error(&format!("creating index {index}")));
        }
        self.created.lock().insert(index.to_string());
        Ok(())
    }

    async fn search(&self, indices: &str, body: Value) -> Result<Vec<Value>> {
        let reply = self
            .client
            .json(
                Method::Post,
                &format!("/{indices}/_search"),
                &[("ignore_unavailable", "true"), ("allow_no_indices", "true")],
                Some(&body),
            )
            .await?;
        Ok(reply
            .pointer("/hits/hits")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    /// The lease document, its `_seq_no` and `_primary_term`; `None` when there is none.
    async fn get_lease(&self, resource: &str) -> Result<Option<(LeaseDoc, u64, u64)>> {
        let index = self.lease_index();
        self.ensure_index(&index).await?;
        let reply = self
            .client
            .request(
                Method::Get,
                &format!("/{index}/_doc/{resource}"),
                &[],
                None,
                false,
            )
            .await?;
        if reply.status == 404 {
            return Ok(None);
        }
        let body = reply.ok("reading the sampling lease")?;
        let seq = body.get("_seq_no").and_then(Value::as_u64);
        let term = body.get("_primary_term").and_then(Value::as_u64);
        let doc = body
            .get("_source")
            .cloned()
            .and_then(|s| serde_json::from_value::<LeaseDoc>(s).ok());
        match (doc, seq, term) {
            (Some(doc), Some(seq), Some(term)) => Ok(Some((doc, seq, term))),
            _ => Err(backend("malformed sampling lease document".into())),
        }
    }
}

/// Lease resources go into a URL path: keep them to a safe alphabet.
fn check_resource(resource: &str) -> Result<()> {
    let ok = !resource.is_empty()
        && resource
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(StorageError::InvalidQuery(format!(
            "invalid lease resource {resource:?}"
        )))
    }
}

fn millis(nanos: u64) -> i64 {
    i64::try_from(nanos / 1_000_000).unwrap_or(i64::MAX)
}

#[async_trait]
impl SamplingStore for EsSamplingStore {
    async fn insert_throughput(
        &self,
        time_unix_nano: u64,
        throughput: Vec<Throughput>,
    ) -> Result<()> {
        if throughput.is_empty() {
            return Ok(());
        }
        let index = self.daily_index(time_unix_nano);
        self.ensure_index(&index).await?;
        let timestamp = rfc3339(time_unix_nano);
        let action = json!({"index": {"_index": index}}).to_string();
        let mut body = String::new();
        for t in throughput {
            let doc = ThroughputDoc {
                timestamp: timestamp.clone(),
                throughputs: DbThroughput {
                    service: t.service,
                    operation: t.operation,
                    count: i64::try_from(t.count).unwrap_or(i64::MAX),
                    probabilities: Some(
                        t.probabilities
                            .into_iter()
                            .map(|p| (p, json!({})))
                            .collect(),
                    ),
                },
            };
            let doc = serde_json::to_string(&doc)
                .map_err(|e| backend(format!("encoding throughput: {e}")))?;
            body.push_str(&action);
            body.push('\n');
            body.push_str(&doc);
            body.push('\n');
        }
        let reply = self
            .client
            .request(
                Method::Post,
                "/_bulk",
                &[("refresh", "wait_for")],
                Some(body.into_bytes()),
                true,
            )
            .await?
            .ok("writing throughput")?;
        if reply.get("errors").and_then(Value::as_bool) == Some(true) {
            return Err(backend(format!(
                "writing throughput: some documents failed: {}",
                reply.to_string().chars().take(500).collect::<String>()
            )));
        }
        Ok(())
    }

    async fn get_throughput(
        &self,
        start_unix_nano: u64,
        end_unix_nano: u64,
    ) -> Result<Vec<Throughput>> {
        if end_unix_nano <= start_unix_nano {
            return Ok(Vec::new());
        }
        let indices = self.read_indices(start_unix_nano, end_unix_nano);
        let body = json!({
            "size": self.max_docs,
            "query": {"bool": {"filter": [
                {"exists": {"field": "throughputs.Service"}},
                {"range": {"timestamp": {
                    "gte": rfc3339(start_unix_nano),
                    "lt": rfc3339(end_unix_nano)
                }}}
            ]}}
        });
        let hits = self.search(&indices, body).await?;
        if hits.len() >= self.max_docs as usize {
            tracing::warn!(
                limit = self.max_docs,
                "throughput read hit --es.max-doc-count; some operations are left out"
            );
        }
        let mut out = Vec::with_capacity(hits.len());
        for hit in hits {
            // A document that does not parse is skipped: one bad row must not stop sampling.
            let Some(doc) = hit
                .get("_source")
                .cloned()
                .and_then(|s| serde_json::from_value::<ThroughputDoc>(s).ok())
            else {
                continue;
            };
            let t = doc.throughputs;
            out.push(Throughput {
                service: t.service,
                operation: t.operation,
                count: u64::try_from(t.count).unwrap_or(0),
                probabilities: t
                    .probabilities
                    .unwrap_or_default()
                    .into_keys()
                    .collect::<BTreeSet<_>>(),
            });
        }
        Ok(out)
    }

    async fn insert_probabilities(&self, record: ProbabilitiesRecord) -> Result<()> {
        let now = now_nanos();
        let index = self.daily_index(now);
        self.ensure_index(&index).await?;
        let doc = ProbabilitiesDoc {
            timestamp: rfc3339(now),
            probabilitiesandqps: DbProbabilities {
                hostname: record.hostname,
                probabilities: Some(record.probabilities),
                qps: Some(record.qps),
            },
        };
        let doc = serde_json::to_value(&doc)
            .map_err(|e| backend(format!("encoding probabilities: {e}")))?;
        self.client
            .json(
                Method::Post,
                &format!("/{index}/_doc"),
                &[("refresh", "wait_for")],
                Some(&doc),
            )
            .await?;
        Ok(())
    }

    async fn get_latest_probabilities(&self) -> Result<ProbabilitiesRecord> {
        let now = now_nanos();
        let since = now.saturating_sub(PROBABILITIES_LOOKBACK_DAYS * DAY_NANOS);
        let body = json!({
            "size": 1,
            "query": {"bool": {"filter": [
                {"exists": {"field": "probabilitiesandqps.Hostname"}}
            ]}},
            "sort": [{"timestamp": {"order": "desc"}}]
        });
        let hits = self.search(&self.read_indices(since, now), body).await?;
        let Some(source) = hits.first().and_then(|h| h.get("_source")).cloned() else {
            return Ok(ProbabilitiesRecord::default());
        };
        let doc: ProbabilitiesDoc = serde_json::from_value(source)
            .map_err(|e| backend(format!("malformed probabilities document: {e}")))?;
        let p = doc.probabilitiesandqps;
        Ok(ProbabilitiesRecord {
            hostname: p.hostname,
            probabilities: p.probabilities.unwrap_or_default(),
            qps: p.qps.unwrap_or_default(),
        })
    }

    async fn acquire_lease(&self, resource: &str, holder: &str, ttl: Duration) -> Result<bool> {
        check_resource(resource)?;
        let now = now_nanos();
        let ttl_nanos = u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX);
        let doc = LeaseDoc {
            holder: holder.to_string(),
            expires_ms: millis(now.saturating_add(ttl_nanos)),
        };
        let body = serde_json::to_vec(&doc).map_err(|e| backend(format!("lease: {e}")))?;
        let path = format!("/{}/_doc/{resource}", self.lease_index());
        let current = self.get_lease(resource).await?;
        let (seq, term) = match &current {
            None => (None, None),
            Some((lease, seq, term)) => {
                if lease.holder != holder && lease.expires_ms > millis(now) {
                    return Ok(false);
                }
                (Some(seq.to_string()), Some(term.to_string()))
            }
        };
        let query: Vec<(&str, &str)> = match (&seq, &term) {
            (Some(seq), Some(term)) => vec![("if_seq_no", seq), ("if_primary_term", term)],
            _ => vec![("op_type", "create")],
        };
        let reply = self
            .client
            .request(Method::Put, &path, &query, Some(body), false)
            .await?;
        match reply.status {
            // Someone else created or changed it first.
            409 => Ok(false),
            _ => reply.ok("taking the sampling lease").map(|_| true),
        }
    }

    async fn forfeit_lease(&self, resource: &str, holder: &str) -> Result<bool> {
        check_resource(resource)?;
        let Some((lease, seq, term)) = self.get_lease(resource).await? else {
            return Ok(false);
        };
        if lease.holder != holder {
            return Ok(false);
        }
        let (seq, term) = (seq.to_string(), term.to_string());
        let reply = self
            .client
            .request(
                Method::Delete,
                &format!("/{}/_doc/{resource}", self.lease_index()),
                &[("if_seq_no", &seq), ("if_primary_term", &term)],
                None,
                false,
            )
            .await?;
        match reply.status {
            404 | 409 => Ok(false),
            _ => reply.ok("giving up the sampling lease").map(|_| true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_timestamps_follow_jaeger() {
        let args = EsArgs {
            index_prefix: "prod".into(),
            ..EsArgs::default()
        };
        let store = EsSamplingStore::new(&args).unwrap();
        // 2024-01-31T23:59:59.5Z
        let t = 1_706_745_599_500_000_000;
        assert_eq!(store.daily_index(t), "prod-jaeger-sampling-2024-01-31");
        assert_eq!(rfc3339(t), "2024-01-31T23:59:59.500000000Z");
        assert_eq!(
            store.read_indices(t, t + DAY_NANOS),
            "prod-jaeger-sampling-2024-02-01,prod-jaeger-sampling-2024-01-31"
        );
        assert_eq!(store.lease_index(), "prod-jaeger-sampling-lease");
        assert!(check_resource("sampling_store_leader").is_ok());
        assert!(check_resource("../x").is_err());
    }

    #[test]
    fn documents_have_jaegers_shape() {
        let doc: ThroughputDoc = serde_json::from_str(
            r#"{"timestamp":"2024-01-31T10:00:00Z","throughputs":{"Service":"s","Operation":"o",
                "Count":5,"Probabilities":{"0.001000":{}}}}"#,
        )
        .unwrap();
        assert_eq!(doc.throughputs.count, 5);
        let doc: ThroughputDoc = serde_json::from_str(
            r#"{"timestamp":"t","throughputs":{"Service":"s","Operation":"o","Count":1,"Probabilities":null}}"#,
        )
        .unwrap();
        assert!(doc.throughputs.probabilities.is_none());
        let p: ProbabilitiesDoc = serde_json::from_str(
            r#"{"timestamp":"t","probabilitiesandqps":{"Hostname":"h",
                "Probabilities":{"s":{"o":0.5}},"QPS":{"s":{"o":2}}}}"#,
        )
        .unwrap();
        assert_eq!(p.probabilitiesandqps.probabilities.unwrap()["s"]["o"], 0.5);
    }
}
