//! The bulk pipeline: writers hand in their documents and wait; one batcher packs them into
//! `_bulk` requests bounded by actions, bytes and a flush interval; at most `workers`
//! requests are in flight. A request answered 429/5xx (or not at all) is retried whole with
//! exponential back-off; inside a 200 answer, items that failed with 429/5xx are retried
//! alone, other item failures are final. A writer's call returns once every one of its
//! documents is stored, or with the first final failure — the durability contract of
//! [`crate::SpanWriter`].
//!
//! Counted in [`BulkStats`] (per pipeline) and in Jaeger's `jaeger_bulk_index_*` Prometheus
//! metrics (per process, [`super::metrics`]).
//!
//! Bounded everywhere: the submission queue (writers wait when it is full), the batch being
//! filled, and the requests in flight.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use elasticsearch::http::Method;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::client::EsClient;
use super::metrics::{FailureReason, METRICS};
use crate::StorageError;

/// Longest back-off between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Submissions waiting for the batcher, per worker.
const QUEUE_PER_WORKER: usize = 8;

#[derive(Clone, Debug)]
pub struct BulkConfig {
    pub max_actions: usize,
    pub max_bytes: usize,
    pub flush_interval: Duration,
    pub workers: usize,
    pub refresh: &'static str,
    pub max_attempts: u32,
    pub backoff: Duration,
}

/// Counters of the pipeline (also logged); read by tests and operators' debugging.
#[derive(Debug, Default)]
pub struct BulkStats {
    pub requests: AtomicU64,
    pub request_retries: AtomicU64,
    pub items_written: AtomicU64,
    pub items_retried: AtomicU64,
    pub items_failed: AtomicU64,
}

/// One writer's call: how many of its documents are still pending, and its answer.
struct Waiter {
    remaining: AtomicUsize,
    error: Mutex<Option<StorageError>>,
    done: Mutex<Option<oneshot::Sender<Result<(), StorageError>>>>,
}

impl Waiter {
    fn settle(&self, result: Result<(), StorageError>) {
        if let Err(e) = result {
            let mut slot = self.error.lock();
            if slot.is_none() {
                *slot = Some(e);
            }
        }
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let result = match self.error.lock().take() {
                Some(e) => Err(e),
                None => Ok(()),
            };
            if let Some(tx) = self.done.lock().take() {
                let _ = tx.send(result);
            }
        }
    }
}

/// One bulk action: its two NDJSON lines (action and document), newline-terminated.
struct Item {
    lines: Vec<u8>,
    waiter: Arc<Waiter>,
}

struct Submission {
    items: Vec<Vec<u8>>,
    done: oneshot::Sender<Result<(), StorageError>>,
}

/// Handle to the pipeline; cheap to clone. The batcher stops when every handle is dropped,
/// after flushing what it holds.
#[derive(Clone)]
pub struct BulkProcessor {
    tx: mpsc::Sender<Submission>,
    stats: Arc<BulkStats>,
}

impl BulkProcessor {
    pub fn start(client: EsClient, config: BulkConfig) -> Self {
        let (tx, rx) = mpsc::channel(config.workers.max(1) * QUEUE_PER_WORKER);
        let stats = Arc::new(BulkStats::default());
        tokio::spawn(batcher(rx, client, config, stats.clone()));
        BulkProcessor { tx, stats }
    }

    pub fn stats(&self) -> &BulkStats {
        &self.stats
    }

    /// Writes the actions (each the two lines of one bulk action) and waits until all are
    /// stored or one failed for good.
    pub async fn write(&self, items: Vec<Vec<u8>>) -> Result<(), StorageError> {
        if items.is_empty() {
            return Ok(());
        }
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Submission { items, done })
            .await
            .map_err(|_| StorageError::Backend("elasticsearch bulk writer stopped".into()))?;
        wait.await.unwrap_or_else(|_| {
            Err(StorageError::Backend(
                "elasticsearch bulk writer stopped".into(),
            ))
        })
    }
}

async fn batcher(
    mut rx: mpsc::Receiver<Submission>,
    client: EsClient,
    config: BulkConfig,
    stats: Arc<BulkStats>,
) {
    let slots = Arc::new(Semaphore::new(config.workers.max(1)));
    let mut batch: Vec<Item> = Vec::new();
    let mut bytes = 0usize;
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let next = match deadline {
            Some(at) => tokio::select! {
                s = rx.recv() => s.map(Some),
                _ = tokio::time::sleep_until(at) => Some(None),
            },
            None => rx.recv().await.map(Some),
        };
        match next {
            // Every handle dropped: flush and stop.
            None => {
                flush(&mut batch, &mut bytes, &slots, &client, &config, &stats).await;
                // Wait for in-flight requests so their writers get answers.
                let _ = slots.acquire_many(config.workers.max(1) as u32).await;
                return;
            }
            // Flush interval elapsed.
            Some(None) => {
                flush(&mut batch, &mut bytes, &slots, &client, &config, &stats).await;
                deadline = None;
            }
            Some(Some(sub)) => {
                let waiter = Arc::new(Waiter {
                    remaining: AtomicUsize::new(sub.items.len()),
                    error: Mutex::new(None),
                    done: Mutex::new(Some(sub.done)),
                });
                for lines in sub.items {
                    // A batch never exceeds the byte bound unless one item alone does.
                    if !batch.is_empty() && bytes + lines.len() > config.max_bytes {
                        flush(&mut batch, &mut bytes, &slots, &client, &config, &stats).await;
                        deadline = None;
                    }
                    bytes += lines.len();
                    batch.push(Item {
                        lines,
                        waiter: waiter.clone(),
                    });
                    if batch.len() >= config.max_actions || bytes >= config.max_bytes {
                        flush(&mut batch, &mut bytes, &slots, &client, &config, &stats).await;
                        deadline = None;
                    }
                }
                if !batch.is_empty() && deadline.is_none() {
                    deadline = Some(tokio::time::Instant::now() + config.flush_interval);
                }
            }
        }
    }
}

/// Hands the batch to a worker, waiting for a free one (the bound on requests in flight).
async fn flush(
    batch: &mut Vec<Item>,
    bytes: &mut usize,
    slots: &Arc<Semaphore>,
    client: &EsClient,
    config: &BulkConfig,
    stats: &Arc<BulkStats>,
) {
    if batch.is_empty() {
        return;
    }
    let items = std::mem::take(batch);
    *bytes = 0;
    let Ok(permit) = slots.clone().acquire_owned().await else {
        for item in items {
            item.waiter
                .settle(Err(StorageError::Backend("bulk writer closed".into())));
        }
        return;
    };
    let (client, config, stats) = (client.clone(), config.clone(), stats.clone());
    tokio::spawn(async move {
        send_with_retries(&client, &config, &stats, items).await;
        drop(permit);
    });
}

fn retryable(status: u16) -> bool {
    status == 429 || status >= 500
}

/// Sends the items, retrying what may succeed later, and settles every item's writer.
async fn send_with_retries(
    client: &EsClient,
    config: &BulkConfig,
    stats: &BulkStats,
    mut items: Vec<Item>,
) {
    let mut backoff = config.backoff;
    let mut attempt = 1u32;
    let metrics = &*METRICS;
    loop {
        stats.requests.fetch_add(1, Ordering::Relaxed);
        metrics.requests.inc();
        metrics.attempts.inc_by(items.len() as u64);
        let mut body = Vec::with_capacity(items.iter().map(|i| i.lines.len()).sum());
        for item in &items {
            body.extend_from_slice(&item.lines);
        }
        let started = Instant::now();
        let reply = client
            .request(
                Method::Post,
                "/_bulk",
                &[("refresh", config.refresh)],
                Some(body),
                true,
            )
            .await;
        let elapsed = started.elapsed().as_secs_f64();
        let last = attempt >= config.max_attempts;
        let retry: Vec<Item> = match reply {
            Err(e) => {
                metrics.latency_err.observe(elapsed);
                metrics.failed(FailureReason::Unreachable, items.len());
                if last {
                    fail_all(stats, items, e);
                    return;
                }
                tracing::warn!(error = %e, attempt, "bulk request failed; retrying");
                stats.request_retries.fetch_add(1, Ordering::Relaxed);
                metrics.retries.inc_by(items.len() as u64);
                items
            }
            Ok(reply) if !reply.is_success() => {
                metrics.latency_err.observe(elapsed);
                metrics.failed(FailureReason::of_status(reply.status), items.len());
                let err = reply.error("bulk request");
                if last || !retryable(reply.status) {
                    fail_all(stats, items, err);
                    return;
                }
                tracing::warn!(error = %err, attempt, "bulk request rejected; retrying");
                stats.request_retries.fetch_add(1, Ordering::Relaxed);
                metrics.retries.inc_by(items.len() as u64);
                items
            }
            Ok(reply) => {
                metrics.latency_ok.observe(elapsed);
                settle_items(stats, items, &reply.body, last)
            }
        };
        if retry.is_empty() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        attempt += 1;
        items = retry;
    }
}

fn fail_all(stats: &BulkStats, items: Vec<Item>, err: StorageError) {
    tracing::error!(error = %err, items = items.len(), "bulk write failed");
    stats
        .items_failed
        .fetch_add(items.len() as u64, Ordering::Relaxed);
    for item in items {
        item.waiter.settle(Err(clone_err(&err)));
    }
}

fn clone_err(e: &StorageError) -> StorageError {
    match e {
        StorageError::InvalidQuery(s) => StorageError::InvalidQuery(s.clone()),
        StorageError::Overloaded(s) => StorageError::Overloaded(s.clone()),
        StorageError::Backend(s) => StorageError::Backend(s.clone()),
    }
}

/// Reads a 200 bulk answer item by item; returns the items to retry.
fn settle_items(stats: &BulkStats, items: Vec<Item>, body: &Value, last: bool) -> Vec<Item> {
    let metrics = &*METRICS;
    let results = body.get("items").and_then(Value::as_array);
    let mut retry = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        // Each entry is `{"index": {...}}` (or create/update/delete): the one value inside.
        let result = results
            .and_then(|r| r.get(i))
            .and_then(Value::as_object)
            .and_then(|o| o.values().next());
        let Some(result) = result else {
            stats.items_failed.fetch_add(1, Ordering::Relaxed);
            metrics.failed(FailureReason::MissingResult, 1);
            item.waiter.settle(Err(StorageError::Backend(
                "bulk answer lacks an item result".into(),
            )));
            continue;
        };
        let status = result
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(500);
        if (200..300).contains(&status) {
            stats.items_written.fetch_add(1, Ordering::Relaxed);
            metrics.inserts.inc();
            item.waiter.settle(Ok(()));
            continue;
        }
        metrics.failed(FailureReason::of_status(status), 1);
        if retryable(status) && !last {
            stats.items_retried.fetch_add(1, Ordering::Relaxed);
            metrics.retries.inc();
            retry.push(item);
        } else {
            stats.items_failed.fetch_add(1, Ordering::Relaxed);
            let reason = result
                .pointer("/error/reason")
                .and_then(Value::as_str)
                .unwrap_or("no reason given");
            let msg = format!("bulk item failed with HTTP {status}: {reason}");
            tracing::warn!("{msg}");
            item.waiter.settle(Err(if status == 429 {
                StorageError::Overloaded(msg)
            } else {
                StorageError::Backend(msg)
            }));
        }
    }
    if !retry.is_empty() {
        tracing::warn!(items = retry.len(), "bulk items rejected; retrying them");
    }
    retry
}
