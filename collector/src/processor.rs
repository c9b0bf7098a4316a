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

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use sextant_model::{find_attr, Span};
use sextant_storage::{SpanWriter, StorageError};
use tokio::sync::Semaphore;

use crate::metrics::{CollectorMetrics, METRICS};
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
}

const JAEGER_DEBUG_FLAG: u32 = 2;

/// Per-batch tallies, so each label set is looked up once per batch instead of per span.
#[derive(Default)]
struct Tally {
    spans: HashMap<(String, bool), u64>,
    traces: HashMap<(String, bool, String), u64>,
}

impl Tally {
    fn of(spans: &[Span], format: SpanFormat, metrics: &CollectorMetrics) -> Tally {
        let mut tally = Tally::default();
        let mut svc_cache: Option<(*const sextant_model::Resource, String)> = None;
        for span in spans {
            let ptr = Arc::as_ptr(&span.resource);
            let svc = match &svc_cache {
                Some((p, svc)) if *p == ptr => svc.clone(),
                _ => {
                    let svc = metrics.svc_label(span.service_name());
                    svc_cache = Some((ptr, svc.clone()));
                    svc
                }
            };
            let debug = format.debug_flag_applies() && span.flags & JAEGER_DEBUG_FLAG != 0;
            if span.is_root() {
                let sampler = sampler_type(span);
                *tally
                    .traces
                    .entry((svc.clone(), debug, sampler.to_string()))
                    .or_default() += 1;
            }
            *tally.spans.entry((svc, debug)).or_default() += 1;
        }
        tally
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
        }
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

    /// Sanitises, counts and stores one batch; see the module docs for the contract.
    pub async fn process(
        &self,
        mut spans: Vec<Span>,
        format: SpanFormat,
        transport: Transport,
    ) -> Result<(), ProcessError> {
        let m = self.metrics;
        sanitize(&mut spans, m.sanitized());
        let tally = Tally::of(&spans, format, m);
        let (fmt, tr) = (format.as_str(), transport.as_str());
        for ((svc, debug), n) in &tally.spans {
            m.spans_received
                .with_label_values(&[bool_label(*debug), fmt, svc, tr])
                .inc_by(*n);
        }
        for ((svc, debug, sampler), n) in &tally.traces {
            m.traces_received
                .with_label_values(&[bool_label(*debug), fmt, sampler, svc, tr])
                .inc_by(*n);
        }
        m.batch_size
            .set(i64::try_from(spans.len()).unwrap_or(i64::MAX));
        if spans.is_empty() {
            return Ok(());
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

        let started = Instant::now();
        let result = self.writer.write_spans(spans).await;
        m.save_latency.observe(started.elapsed().as_secs_f64());
        let outcome = if result.is_ok() { "ok" } else { "err" };
        for ((svc, debug), n) in &tally.spans {
            m.spans_saved_by_svc
                .with_label_values(&[bool_label(*debug), outcome, svc])
                .inc_by(*n);
        }
        for ((svc, debug, sampler), n) in &tally.traces {
            m.traces_saved_by_svc
                .with_label_values(&[bool_label(*debug), outcome, sampler, svc])
                .inc_by(*n);
        }
        if let Err(e) = &result {
            tracing::warn!(error = %e, format = fmt, transport = tr, "failed to write spans");
        }
        result.map_err(ProcessError::from)
    }

    fn count_rejected(&self, tally: &Tally, fmt: &str, tr: &str) {
        let m = self.metrics;
        m.busy.inc();
        for ((svc, debug), n) in &tally.spans {
            m.spans_rejected
                .with_label_values(&[bool_label(*debug), fmt, svc, tr])
                .inc_by(*n);
        }
        for ((svc, debug, sampler), n) in &tally.traces {
            m.traces_rejected
                .with_label_values(&[bool_label(*debug), fmt, sampler, svc, tr])
                .inc_by(*n);
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
