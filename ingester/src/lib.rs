//! `sextant-ingester`: reads Jaeger's `jaeger-spans` Kafka topic and writes the spans to a
//! span storage backend, like Jaeger's ingester.
//!
//! Delivery is at least once. Messages are grouped into batches; a batch is written to
//! storage (retried with back-off, never skipped, while storage fails) and only then are its
//! offsets committed. Batches are written concurrently (up to `--ingester.parallelism`
//! messages in flight) but committed strictly in the order they were read, so a committed
//! offset never passes a message that is not stored yet. After a crash, a restart or a
//! partition rebalance, the uncommitted tail is read again; the duplicates this creates are
//! harmless because readers return each span once (the storage contract). A commit made
//! after this member lost a partition is refused by the group coordinator (stale
//! generation), so it cannot move another member's position.
//!
//! Messages that can never be decoded are counted (`jaeger_ingester_errors_total{reason=
//! "decode"}`), logged and committed past: retrying them would stop the partition forever.

pub mod args;
mod metrics;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{FuturesOrdered, StreamExt};
use prometheus::IntCounter;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use sextant_common::shutdown::Shutdown;
use sextant_model::kafka::{Encoding, MessageDecoder};
use sextant_model::Span;
use sextant_storage::SpanWriter;

pub use args::IngesterArgs;

/// Most messages in one storage write.
const MAX_BATCH_MESSAGES: usize = 500;
/// Room first reserved for a batch's message values (doubled as needed).
const INITIAL_BATCH_BYTES: usize = 64 * 1024;
/// How long a partly filled batch waits for more messages before it is written.
const BATCH_LINGER: Duration = Duration::from_millis(50);
/// Back-off between attempts to store a batch the storage refused.
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long, at shutdown, batches already read may take to be stored and committed.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Stored batches' buffers kept for the next batches (the batches in flight plus the one
/// being filled rarely exceed this), and the largest kept: a batch of unusually big
/// messages does not pin its buffer for the life of the process.
const MAX_SPARE_BUFFERS: usize = 4;
const MAX_SPARE_BUFFER_BYTES: usize = 8 << 20;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0}")]
    Config(String),
    #[error("creating the Kafka consumer: {0}")]
    Consumer(KafkaError),
    #[error("subscribing to topic {topic}: {source}")]
    Subscribe { topic: String, source: KafkaError },
    #[error(
        "no message was stored for {0:?} while messages were waiting \
         (--ingester.deadlockInterval); exiting so that the ingester is restarted"
    )]
    Deadlock(Duration),
}

/// The consumer's librdkafka callbacks: statistics (lag by partition) and rebalance logs.
struct ConsumerCallbacks {
    topic: String,
    /// Sum of the lag of every partition this member fetches, from the last statistics.
    total_lag: AtomicI64,
}

impl ClientContext for ConsumerCallbacks {
    fn stats(&self, statistics: Statistics) {
        let Some(topic) = statistics.topics.get(&self.topic) else {
            return;
        };
        let mut total = 0;
        for (partition, stats) in &topic.partitions {
            // Partition -1 is librdkafka's internal "unassigned" bucket; a negative lag means
            // "unknown" (partition not fetched by this member).
            if *partition < 0 || stats.consumer_lag < 0 {
                continue;
            }
            total += stats.consumer_lag;
            metrics::OFFSET_LAG
                .with_label_values(&[&partition.to_string()])
                .set(stats.consumer_lag);
        }
        self.total_lag.store(total, Ordering::Relaxed);
    }
}

impl ConsumerContext for ConsumerCallbacks {
    fn post_rebalance(
        &self,
        _consumer: &rdkafka::consumer::BaseConsumer<Self>,
        rebalance: &rdkafka::consumer::Rebalance<'_>,
    ) {
        tracing::info!(?rebalance, "Kafka partition assignment changed");
    }
}

/// Messages read but not yet stored, as a unit of storage write and offset commit.
#[derive(Default)]
struct Batch {
    payloads: Payloads,
    /// Highest offset read, by partition.
    offsets: BTreeMap<i32, i64>,
    started: Option<Instant>,
}

impl Batch {
    fn len(&self) -> usize {
        self.payloads.len()
    }

    /// Takes the batch to store it, leaving an empty one with a spare buffer in its place.
    fn take(&mut self, spares: &SpareBuffers) -> Batch {
        let next = Batch {
            payloads: spares.take(),
            ..Batch::default()
        };
        std::mem::replace(self, next)
    }
}

/// The buffers of stored batches, handed to the next batches. A batch's buffer is hundreds
/// of KiB: allocating a fresh one per batch (and growing it by doubling) cost copies and, as
/// the allocator returned the memory to the OS between batches, page faults (~3 % of the
/// ingester's CPU in a profile). Bounded in count and size.
#[derive(Clone, Default)]
struct SpareBuffers(Arc<Mutex<Vec<Payloads>>>);

impl SpareBuffers {
    fn take(&self) -> Payloads {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop()
            .unwrap_or_default()
    }

    fn give_back(&self, mut payloads: Payloads) {
        payloads.clear();
        let mut spares = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if spares.len() < MAX_SPARE_BUFFERS && payloads.bytes.capacity() <= MAX_SPARE_BUFFER_BYTES {
            spares.push(payloads);
        }
    }
}

/// Message values copied out of librdkafka's buffers, back to back in one allocation (a
/// batch is kept until it is stored, and may be decoded again on a retry; one growing
/// buffer costs a few allocations per batch instead of one per message).
#[derive(Default)]
struct Payloads {
    bytes: Vec<u8>,
    /// Where each message ends in `bytes`.
    ends: Vec<usize>,
}

impl Payloads {
    fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }

    fn push(&mut self, payload: &[u8]) {
        if self.bytes.capacity() == 0 {
            self.bytes.reserve(INITIAL_BATCH_BYTES);
        }
        self.bytes.extend_from_slice(payload);
        self.ends.push(self.bytes.len());
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            // Ends are pushed in increasing order and never past the buffer.
            let payload = self.bytes.get(start..end).unwrap_or_default();
            start = end;
            payload
        })
    }
}

/// A batch after its write attempt: the offsets to commit, or `None` when shutdown came
/// first (nothing may be committed from then on).
struct Stored {
    messages: usize,
    offsets: Option<BTreeMap<i32, i64>>,
}

/// Reads the topic and stores its spans until `shutdown` (then drains what it read), or
/// until the deadlock detector fires.
pub async fn run(
    args: &IngesterArgs,
    writer: Arc<dyn SpanWriter>,
    shutdown: Shutdown,
) -> Result<(), IngestError> {
    let mut config = ClientConfig::new();
    for (key, value) in args.properties().map_err(IngestError::Config)? {
        config.set(key, value);
    }
    let callbacks = ConsumerCallbacks {
        topic: args.topic.clone(),
        total_lag: AtomicI64::new(0),
    };
    let consumer: StreamConsumer<ConsumerCallbacks> = config
        .create_with_context(callbacks)
        .map_err(IngestError::Consumer)?;
    consumer
        .subscribe(&[&args.topic])
        .map_err(|source| IngestError::Subscribe {
            topic: args.topic.clone(),
            source,
        })?;
    tracing::info!(
        brokers = %args.connection.brokers,
        topic = %args.topic,
        group = %args.group_id,
        encoding = ?args.encoding,
        "consuming spans from Kafka"
    );
    let encoding: Encoding = args.encoding.into();
    Ingester {
        consumer,
        writer,
        decoder: Arc::new(Mutex::new(MessageDecoder::new(encoding))),
        spares: SpareBuffers::default(),
        topic: args.topic.clone(),
        parallelism: args.parallelism as usize,
        batch_max: MAX_BATCH_MESSAGES.min(args.parallelism as usize).max(1),
        deadlock_interval: args.deadlock_interval,
        shutdown,
    }
    .consume()
    .await
}

struct Ingester {
    consumer: StreamConsumer<ConsumerCallbacks>,
    writer: Arc<dyn SpanWriter>,
    /// Shared by the batches being stored; decoding happens synchronously inside a store
    /// future, so the lock is never held across an await and never contended for long.
    decoder: Arc<Mutex<MessageDecoder>>,
    spares: SpareBuffers,
    topic: String,
    parallelism: usize,
    batch_max: usize,
    deadlock_interval: Duration,
    shutdown: Shutdown,
}

impl Ingester {
    async fn consume(self) -> Result<(), IngestError> {
        let mut partition_counters: HashMap<i32, IntCounter> = HashMap::new();
        let mut pending = FuturesOrdered::new();
        let mut in_flight = 0usize;
        let mut batch = Batch::default();
        let mut last_progress = Instant::now();
        let mut tick = tokio::time::interval(BATCH_LINGER / 2);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let shutdown = self.shutdown.wait();
        tokio::pin!(shutdown);
        // One stream for the whole loop: `consumer.recv()` would register and unregister a
        // waker slot (under a mutex) for every message. Polling it is cancel-safe: a message
        // is taken from librdkafka's queue only by a poll that returns it.
        let mut messages = self.consumer.stream();
        let result = loop {
            let can_read = in_flight + batch.len() < self.parallelism;
            tokio::select! {
                biased;
                _ = &mut shutdown => break Ok(()),
                Some(stored) = pending.next(), if !pending.is_empty() => {
                    let stored: Stored = stored;
                    in_flight -= stored.messages;
                    match stored.offsets {
                        Some(offsets) => {
                            self.commit(&offsets, CommitMode::Async);
                            last_progress = Instant::now();
                        }
                        None => break Ok(()),
                    }
                }
                _ = tick.tick() => {
                    if batch.started.is_some_and(|t| t.elapsed() >= BATCH_LINGER) {
                        in_flight += batch.len();
                        pending.push_back(self.store(batch.take(&self.spares)));
                    }
                    let waiting = in_flight > 0
                        || batch.len() > 0
                        || self.consumer.context().total_lag.load(Ordering::Relaxed) > 0;
                    if !waiting {
                        last_progress = Instant::now();
                    } else if !self.deadlock_interval.is_zero()
                        && last_progress.elapsed() > self.deadlock_interval
                    {
                        break Err(IngestError::Deadlock(self.deadlock_interval));
                    }
                }
                received = messages.next(), if can_read => match received {
                    // librdkafka's stream never ends; `None` cannot happen.
                    None => {}
                    Some(Ok(message)) => {
                        let partition = message.partition();
                        count_message(&mut partition_counters, partition);
                        batch.payloads.push(message.payload().unwrap_or_default());
                        batch.offsets.insert(partition, message.offset());
                        batch.started.get_or_insert_with(Instant::now);
                        if batch.len() >= self.batch_max {
                            in_flight += batch.len();
                            pending.push_back(self.store(batch.take(&self.spares)));
                        }
                    }
                    Some(Err(e)) => {
                        metrics::ERRORS.with_label_values(&["consume"]).inc();
                        tracing::warn!(error = %e, "Kafka consume error");
                    }
                },
            }
        };
        // Whatever was read is stored and committed if it can be within the drain time;
        // the rest is read again by whoever owns the partitions next.
        drop(messages);
        if !batch.payloads.is_empty() {
            pending.push_back(self.store(std::mem::take(&mut batch)));
        }
        let drain = async {
            while let Some(stored) = pending.next().await {
                match stored.offsets {
                    Some(offsets) => self.commit(&offsets, CommitMode::Sync),
                    None => break,
                }
            }
        };
        if tokio::time::timeout(DRAIN_TIMEOUT, drain).await.is_err() {
            tracing::warn!("stopping with batches not stored; they will be read again");
        }
        self.consumer.unsubscribe();
        result
    }

    /// Stores a batch, retrying with back-off until it succeeds or shutdown starts.
    fn store(&self, batch: Batch) -> impl std::future::Future<Output = Stored> + Send + 'static {
        let writer = self.writer.clone();
        let decoder = self.decoder.clone();
        let spares = self.spares.clone();
        let shutdown = self.shutdown.clone();
        async move {
            let messages = batch.len();
            let mut backoff = INITIAL_BACKOFF;
            let mut first_attempt = true;
            loop {
                // Decoding again on a retry is cheaper than cloning every batch up front.
                let spans = decode_batch(&batch.payloads, &decoder, first_attempt);
                first_attempt = false;
                let count = spans.len() as u64;
                if spans.is_empty() {
                    break;
                }
                match writer.write_spans(spans).await {
                    Ok(()) => {
                        metrics::SPANS_WRITTEN.inc_by(count);
                        break;
                    }
                    Err(e) => {
                        metrics::ERRORS.with_label_values(&["write"]).inc();
                        tracing::warn!(error = %e, retry_in = ?backoff, "storing spans failed");
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {}
                            _ = shutdown.wait() => return Stored { messages, offsets: None },
                        }
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
            spares.give_back(batch.payloads);
            Stored {
                messages,
                offsets: Some(batch.offsets),
            }
        }
    }

    fn commit(&self, offsets: &BTreeMap<i32, i64>, mode: CommitMode) {
        let mut list = TopicPartitionList::new();
        for (&partition, &offset) in offsets {
            // The committed offset is the next message to read.
            if let Err(e) =
                list.add_partition_offset(&self.topic, partition, Offset::Offset(offset + 1))
            {
                tracing::warn!(error = %e, partition, "bad offset");
            }
        }
        match self.consumer.commit(&list, mode) {
            Ok(()) => metrics::COMMITS.inc(),
            Err(e) => {
                // Typically a rebalance took the partition away; the new owner reads the
                // uncommitted messages again.
                metrics::ERRORS.with_label_values(&["commit"]).inc();
                tracing::warn!(error = %e, "committing offsets failed");
            }
        }
    }
}

/// Counts a consumed message, caching the partition's counter (no label lookup per message).
fn count_message(counters: &mut HashMap<i32, IntCounter>, partition: i32) {
    counters
        .entry(partition)
        .or_insert_with(|| metrics::MESSAGES.with_label_values(&[&partition.to_string()]))
        .inc();
}

/// The spans of every message; undecodable messages are counted (once) and skipped.
fn decode_batch(
    payloads: &Payloads,
    decoder: &Mutex<MessageDecoder>,
    count_errors: bool,
) -> Vec<Span> {
    let mut spans = Vec::with_capacity(payloads.len());
    // A panic elsewhere while the lock was held leaves the cache valid: keep using it.
    let mut decoder = decoder
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for payload in payloads.iter() {
        match decoder.decode_into(payload, &mut spans) {
            Ok(()) => {}
            Err(e) if count_errors => {
                metrics::ERRORS.with_label_values(&["decode"]).inc();
                tracing::warn!(error = %e, bytes = payload.len(), "skipping a message that cannot be decoded");
            }
            Err(_) => {}
        }
    }
    spans
}
