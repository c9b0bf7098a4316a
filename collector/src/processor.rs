//! The span processor: the one place every receiver hands decoded spans to. It sanitises,
//! counts, applies backpressure and writes through [`SpanWriter`].
//!
//! Durability contract: [`SpanProcessor::process`] returns `Ok` only after
//! `write_spans` returned `Ok`, and receivers answer the client only then. A client that got
//! a success knows its spans are stored with the backend's durability.
//!
//! Backpressure: at most `num_workers` batches are written at once, and at most `queue_size`
//! spans wait for a worker. A batch that does not fit in the queue is refused at once with
//! [`ProcessError::Busy`] (gRPC RESOURCE_EXHAUSTED, HTTP 503 + Retry-After), so memory stays
//! bounded under overload and clients retry instead of the collector buffering without
//! limit. A batch larger than the whole queue is admitted when the queue is empty, so big
//! batches are slow rather than impossible.
//!
//! With a memory bound (`--collector.queue-size-memory`), waiting spans are also weighed by
//! their approximate in-memory size ([`approx_span_bytes`], in KiB units) and a batch that
//! would push the queue past the bound is refused the same way. (Jaeger uses the same flag
//! to resize its span-count queue from the average span size; a byte bound gives the same
//! protection without a resize loop.)

use std::sync::Arc;
use std::time::Instant;

use sextant_model::{find_attr, Span};
use sextant_storage::{SpanWriter, StorageError};
use tokio::sync::Semaphore;

use crate::metrics::{CollectorMetrics, METRICS};
use crate::sampling::adaptive::ThroughputAggregator;
use crate::sanitize::sanitize;

/// The wire format a batch arrived in; the `format` label of Jaeger's metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpanFormat {
    /// Jaeger thrift.
    Jaeger,
    /// Jaeger api_v2 protobuf.
    Proto,
    /// OpenTelemetry OTLP (protobuf or JSON).
    Otlp,
    Zipkin,
}

impl SpanFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            SpanFormat::Jaeger => "jaeger",
            SpanFormat::Proto => "proto",
            SpanFormat::Otlp => "otlp",
            SpanFormat::Zipkin => "zipkin",
        }
    }

    /// Whether spans with all-zero IDs are rejected one by one (see [`Accepted`]): only
    /// OTLP defines them as invalid and can report the rejection to the client.
    fn rejects_invalid_ids(self) -> bool {
        matches!(self, SpanFormat::Otlp)
    }

    /// Jaeger's debug flag (bit 1) only means "debug" in Jaeger-shaped formats; in OTLP the
    /// same bit is a W3C trace flag, and Jaeger reports OTLP spans as non-debug.
    fn debug_flag_applies(self) -> bool {
        // Zipkin's `debug` (and `X-B3-Flags: 1`) is decoded into the same bit.
        matches!(
            self,
            SpanFormat::Jaeger | SpanFormat::Proto | SpanFormat::Zipkin
        )
    }
}

/// The transport a batch arrived over; the `transport` label of Jaeger's metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Grpc,
    Http,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Grpc => "grpc",
            Transport::Http => "http",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The queue is full: the client should retry later.
    #[error("collector busy: span queue is full, retry later")]
    Busy,
    /// The storage write failed; nothing of the batch is acknowledged.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ProcessError {
    /// Whether the client should back off (busy collector or overloaded backend) rather
    /// than treat the failure as an outage.
    pub fn is_overload(&self) -> bool {
        matches!(
            self,
            ProcessError::Busy | ProcessError::Storage(StorageError::Overloaded(_))
        )
    }
}

/// What became of a batch that was not refused as a whole: OTLP's partial success.
///
/// The one per-span rejection today: an OTLP span whose `trace_id` or `span_id` is all
/// zeros. The OTLP specification defines such IDs as invalid (W3C trace context forbids
/// them too), no SDK produces them, and storing them would merge unrelated spans into one
/// "trace 0". Such spans are counted as received and as rejected
/// (`jaeger_collector_spans_rejected_total`, Jaeger's counter for spans its filter refuses)
/// and the client is told in `partial_success`. Jaeger-format spans with zero IDs are still
/// stored unchanged, as Jaeger does, since those protocols have no way to report it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accepted {
    /// Spans not stored because they were invalid.
    pub rejected_spans: u64,
    /// Why, for the client; empty when nothing was rejected.
    pub message: String,
}

impl Accepted {
    fn invalid_ids(invalid: &[Span]) -> Accepted {
        let zero_trace = invalid.iter().filter(|s| s.trace_id.is_zero()).count();
        let zero_span = invalid.iter().filter(|s| s.span_id.is_zero()).count();
        Accepted {
            rejected_spans: u64::try_from(invalid.len()).unwrap_or(u64::MAX),
            message: format!(
                "rejected {} spans with invalid IDs ({zero_trace} with an all-zero trace_id, \
                 {zero_span} with an all-zero span_id)",
                invalid.len()
            ),
        }
    }

    /// The rejected count and message, or `None` when every span was accepted.
    pub fn rejection(&self) -> Option<(u64, String)> {
        (self.rejected_spans > 0).then(|| (self.rejected_spans, self.message.clone()))
    }
}

fn has_invalid_id(span: &Span) -> bool {
    span.trace_id.is_zero() || span.span_id.is_zero()
}

/// Cheap to clone; every receiver holds one.
#[derive(Clone)]
pub struct SpanProcessor {
    writer: Arc<dyn SpanWriter>,
    queue: Arc<Semaphore>,
    queue_capacity: u32,
    /// KiB of waiting spans still allowed; `None` without a memory bound.
    memory: Option<(Arc<Semaphore>, u32)>,
    workers: Arc<Semaphore>,
    metrics: &'static CollectorMetrics,
    /// Adaptive sampling's root-span counter (`--sampling.config-type=adaptive`).
    throughput: Option<Arc<ThroughputAggregator>>,
}

const JAEGER_DEBUG_FLAG: u32 = 2;

/// Per-batch tallies, so each label set is looked up once per batch instead of per span.
///
/// Built once per batch on the hot path, so it avoids per-span allocation: the `svc` label
/// is computed once per run of spans sharing a resource (receivers group spans by
/// resource), and the counts live in short vectors keyed by the label's index.
#[derive(Default)]
struct Tally {
    /// The batch's distinct `svc` labels; the keys below index into it.
    svcs: Vec<String>,
    /// (svc, debug) → spans.
    spans: Vec<((usize, bool), u64)>,
    /// (svc, debug, sampler_type) → root spans.
    traces: Vec<((usize, bool, &'static str), u64)>,
}

impl Tally {
    fn of(spans: &[Span], format: SpanFormat, metrics: &CollectorMetrics) -> Tally {
        let mut tally = Tally::default();
        let mut svc_cache: Option<(*const sextant_model::Resource, usize)> = None;
        let mut last_key: Option<(usize, bool, usize)> = None;
        for span in spans {
            let ptr = Arc::as_ptr(&span.resource);
            let svc = match svc_cache {
                Some((p, svc)) if p == ptr => svc,
                _ => {
                    let label = metrics.svc_label(span.service_name());
                    let svc = match tally.svcs.iter().position(|s| *s == label) {
                        Some(i) => i,
                        None => {
                            tally.svcs.push(label);
                            tally.svcs.len() - 1
                        }
                    };
                    svc_cache = Some((ptr, svc));
                    svc
                }
            };
            let debug = format.debug_flag_applies() && span.flags & JAEGER_DEBUG_FLAG != 0;
            if span.is_root() {
                bump(&mut tally.traces, (svc, debug, sampler_type(span)));
            }
            let slot = match last_key {
                Some((s, d, slot)) if s == svc && d == debug => slot,
                _ => {
                    let slot = bump_slot(&mut tally.spans, (svc, debug));
                    last_key = Some((svc, debug, slot));
                    slot
                }
            };
            if let Some((_, n)) = tally.spans.get_mut(slot) {
                *n += 1;
            }
        }
        tally
    }

    /// (svc, debug, spans) per label set.
    fn span_counts(&self) -> impl Iterator<Item = (&str, bool, u64)> + '_ {
        self.spans
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|((svc, debug), n)| (self.svc(*svc), *debug, *n))
    }

    /// (svc, debug, sampler_type, root spans) per label set.
    fn trace_counts(&self) -> impl Iterator<Item = (&str, bool, &'static str, u64)> + '_ {
        self.traces
            .iter()
            .map(|((svc, debug, sampler), n)| (self.svc(*svc), *debug, *sampler, *n))
    }

    fn svc(&self, i: usize) -> &str {
        self.svcs
            .get(i)
            .map_or(crate::metrics::OTHER_SERVICES, String::as_str)
    }
}

/// Adds one to `key`'s count.
fn bump<K: PartialEq>(counts: &mut Vec<(K, u64)>, key: K) {
    let slot = bump_slot(counts, key);
    if let Some((_, n)) = counts.get_mut(slot) {
        *n += 1;
    }
}

/// The index of `key`'s count, added at zero when new. Linear: a batch has few label sets.
fn bump_slot<K: PartialEq>(counts: &mut Vec<(K, u64)>, key: K) -> usize {
    match counts.iter().position(|(k, _)| *k == key) {
        Some(i) => i,
        None => {
            counts.push((key, 0));
            counts.len() - 1
        }
    }
}

/// The `sampler_type` label: the Jaeger client's `sampler.type` tag when it is one of the
/// known samplers, else `unrecognized` (as Jaeger reports OTLP spans).
fn sampler_type(span: &Span) -> &'static str {
    match find_attr(&span.attributes, "sampler.type").and_then(|v| v.as_str()) {
        Some("probabilistic") => "probabilistic",
        Some("ratelimiting") => "ratelimiting",
        Some("lowerbound") => "lowerbound",
        Some("const") => "const",
        _ => "unrecognized",
    }
}

fn bool_label(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

impl SpanProcessor {
    pub fn new(writer: Arc<dyn SpanWriter>, num_workers: u32, queue_size: u32) -> Self {
        let metrics: &'static CollectorMetrics = &METRICS;
        let queue_capacity = queue_size.max(1);
        metrics.queue_capacity.set(i64::from(queue_capacity));
        SpanProcessor {
            writer,
            queue: Arc::new(Semaphore::new(queue_capacity as usize)),
            queue_capacity,
            memory: None,
            workers: Arc::new(Semaphore::new(num_workers.max(1) as usize)),
            metrics,
            throughput: None,
        }
    }

    /// Feeds every batch admitted for writing to adaptive sampling's aggregator (Jaeger
    /// counts root spans when they are about to be saved, so refused batches do not count).
    pub fn with_throughput_aggregator(mut self, agg: Option<Arc<ThroughputAggregator>>) -> Self {
        self.throughput = agg;
        self
    }

    /// Adds a memory bound of `bytes` on the spans waiting for a worker (0: none).
    pub fn with_memory_bound(mut self, bytes: u64) -> Self {
        let kib = u32::try_from(bytes / 1024).unwrap_or(u32::MAX);
        self.memory = (kib > 0).then(|| (Arc::new(Semaphore::new(kib as usize)), kib));
        self
    }

    /// Counts a request whose body could not be decoded.
    pub fn count_malformed(&self, format: SpanFormat, transport: Transport) {
        self.metrics
            .malformed_requests
            .with_label_values(&[format.as_str(), transport.as_str()])
            .inc();
    }

    /// Sanitises, counts and stores one batch; see the module docs for the contract. Spans
    /// rejected one by one (see [`Accepted`]) are not stored and not reported: receivers
    /// whose protocol can tell the client use [`SpanProcessor::process_partial`].
    pub async fn process(
        &self,
        spans: Vec<Span>,
        format: SpanFormat,
        transport: Transport,
    ) -> Result<(), ProcessError> {
        self.process_partial(spans, format, transport)
            .await
            .map(|_| ())
    }

    /// [`SpanProcessor::process`], also saying which spans were rejected one by one (OTLP's
    /// partial success). `Err` still means nothing of the batch was stored.
    pub async fn process_partial(
        &self,
        mut spans: Vec<Span>,
        format: SpanFormat,
        transport: Transport,
    ) -> Result<Accepted, ProcessError> {
        let m = self.metrics;
        sanitize(&mut spans, m.sanitized());
        let (fmt, tr) = (format.as_str(), transport.as_str());
        let received = spans.len();
        let mut accepted = Accepted::default();
        if format.rejects_invalid_ids() && spans.iter().any(has_invalid_id) {
            let (invalid, valid): (Vec<Span>, Vec<Span>) =
                spans.into_iter().partition(has_invalid_id);
            let tally = Tally::of(&invalid, format, m);
            self.count_received(&tally, fmt, tr);
            self.count_refused(&tally, fmt, tr);
            accepted = Accepted::invalid_ids(&invalid);
            tracing::debug!(
                rejected = invalid.len(),
                format = fmt,
                "rejected invalid spans"
            );
            spans = valid;
        }
        let tally = Tally::of(&spans, format, m);
        self.count_received(&tally, fmt, tr);
        m.batch_size
            .set(i64::try_from(received).unwrap_or(i64::MAX));
        if spans.is_empty() {
            return Ok(accepted);
        }

        // Reserve room in the queue, or refuse now: waiting here would be unbounded.
        let wanted = u32::try_from(spans.len())
            .unwrap_or(u32::MAX)
            .min(self.queue_capacity);
        let queued = match self.queue.clone().try_acquire_many_owned(wanted) {
            Ok(permit) => permit,
            Err(_) => {
                self.count_rejected(&tally, fmt, tr);
                return Err(ProcessError::Busy);
            }
        };
        // The memory bound, like the count bound: refuse now rather than wait.
        let memory_permit = match &self.memory {
            None => None,
            Some((sem, capacity)) => {
                let kib: u64 = spans.iter().map(approx_span_bytes).sum::<u64>() / 1024 + 1;
                let wanted = u32::try_from(kib).unwrap_or(u32::MAX).min(*capacity);
                match sem.clone().try_acquire_many_owned(wanted) {
                    Ok(p) => Some(p),
                    Err(_) => {
                        drop(queued);
                        self.count_rejected(&tally, fmt, tr);
                        return Err(ProcessError::Busy);
                    }
                }
            }
        };
        self.update_queue_length();
        // The worker semaphore is never closed, so `acquire` only fails if that invariant
        // breaks; treat it as busy rather than panic.
        let worker = self.workers.clone().acquire_owned().await;
        drop(queued);
        drop(memory_permit);
        self.update_queue_length();
        let Ok(_worker) = worker else {
            self.count_rejected(&tally, fmt, tr);
            return Err(ProcessError::Busy);
        };

        if let Some(agg) = &self.throughput {
            agg.record_batch(&spans);
        }
        let started = Instant::now();
        let result = self.writer.write_spans(spans).await;
        m.save_latency.observe(started.elapsed().as_secs_f64());
        let outcome = if result.is_ok() { "ok" } else { "err" };
        for (svc, debug, n) in tally.span_counts() {
            m.spans_saved_by_svc
                .with_label_values(&[bool_label(debug), outcome, svc])
                .inc_by(n);
        }
        for (svc, debug, sampler, n) in tally.trace_counts() {
            m.traces_saved_by_svc
                .with_label_values(&[bool_label(debug), outcome, sampler, svc])
                .inc_by(n);
        }
        if let Err(e) = &result {
            tracing::warn!(error = %e, format = fmt, transport = tr, "failed to write spans");
        }
        result.map_err(ProcessError::from)?;
        Ok(accepted)
    }

    fn count_received(&self, tally: &Tally, fmt: &str, tr: &str) {
        let m = self.metrics;
        for (svc, debug, n) in tally.span_counts() {
            m.spans_received
                .with_label_values(&[bool_label(debug), fmt, svc, tr])
                .inc_by(n);
        }
        for (svc, debug, sampler, n) in tally.trace_counts() {
            m.traces_received
                .with_label_values(&[bool_label(debug), fmt, sampler, svc, tr])
                .inc_by(n);
        }
    }

    fn count_rejected(&self, tally: &Tally, fmt: &str, tr: &str) {
        self.metrics.busy.inc();
        self.count_refused(tally, fmt, tr);
    }

    /// Counts spans the collector refused (busy, or invalid one by one).
    fn count_refused(&self, tally: &Tally, fmt: &str, tr: &str) {
        let m = self.metrics;
        for (svc, debug, n) in tally.span_counts() {
            m.spans_rejected
                .with_label_values(&[bool_label(debug), fmt, svc, tr])
                .inc_by(n);
        }
        for (svc, debug, sampler, n) in tally.trace_counts() {
            m.traces_rejected
                .with_label_values(&[bool_label(debug), fmt, sampler, svc, tr])
                .inc_by(n);
        }
    }

    /// KiB of spans currently waiting under the memory bound (0 without one).
    pub fn queued_kib(&self) -> usize {
        self.memory.as_ref().map_or(0, |(sem, cap)| {
            (*cap as usize).saturating_sub(sem.available_permits())
        })
    }

    /// Spans currently waiting for a storage worker.
    pub fn queued_spans(&self) -> usize {
        (self.queue_capacity as usize).saturating_sub(self.queue.available_permits())
    }

    fn update_queue_length(&self) {
        let waiting = self.queued_spans();
        self.metrics
            .queue_length
            .set(i64::try_from(waiting).unwrap_or(i64::MAX));
    }
}

/// A span's approximate heap footprint: the struct, its strings and collections. Shared
/// resources and scopes are not counted per span. Cheap (no deep walk of values) and meant
/// only for the queue's memory bound.
pub fn approx_span_bytes(span: &Span) -> u64 {
    use std::mem::size_of;
    let attrs = |a: &[sextant_model::KeyValue]| -> usize {
        a.iter()
            .map(|kv| {
                let value = match &kv.value {
                    sextant_model::AnyValue::Str(v) => v.len(),
                    sextant_model::AnyValue::Bytes(v) => v.len(),
                    // Nested values: a flat guess, they are rare in spans.
                    _ => 16,
                };
                size_of::<sextant_model::KeyValue>() + kv.key.len() + value
            })
            .sum()
    };
    let events: usize = span
        .events
        .iter()
        .map(|e| size_of::<sextant_model::Event>() + e.name.len() + attrs(&e.attributes))
        .sum();
    let links: usize = span
        .links
        .iter()
        .map(|l| size_of::<sextant_model::Link>() + attrs(&l.attributes))
        .sum();
    let total = size_of::<Span>()
        + span.name.len()
        + span.trace_state.len()
        + attrs(&span.attributes)
        + events
        + links;
    u64::try_from(total).unwrap_or(u64::MAX)
}
