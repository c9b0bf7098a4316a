//! Sending generated traces: `workers` connections, each taking trace indexes from one
//! shared counter (so the set of traces sent depends only on the seed), batching them and
//! pacing to a target rate; counts of sent / acknowledged / failed spans are shared and
//! reported periodically and at the end.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use sextant_model::Span;

use crate::generate::Generator;
use crate::send::{encode_otlp, SendError, Sender, WireProtocol};

/// What to send, where, and how fast.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    pub protocol: WireProtocol,
    /// `host:port` of the receiver.
    pub endpoint: String,
    pub seed: u64,
    /// Concurrent connections.
    pub workers: usize,
    /// Spans per request (whole traces are never split, so batches are a little larger).
    pub batch_spans: usize,
    /// Target spans/s over all workers; `None` = as fast as acknowledged.
    pub rate: Option<u64>,
    /// Stop conditions: whichever comes first (at least one should be set).
    pub duration: Option<Duration>,
    pub max_spans: Option<u64>,
    pub max_traces: Option<u64>,
    /// Print a progress line this often (`None`: quiet).
    pub report_every: Option<Duration>,
    /// Retries of a batch the receiver refused as busy, with backoff.
    pub retries: u32,
    /// Generate and encode every request before the clock starts (OTLP gRPC, with
    /// `max_spans` or `max_traces`): the run then measures the receiver rather than the
    /// generator, which on one machine shares the receiver's cores. Costs the memory of
    /// all requests (~0.5 KB per span).
    pub pregenerate: bool,
}

impl LoadConfig {
    pub fn new(protocol: WireProtocol, endpoint: impl Into<String>) -> Self {
        LoadConfig {
            protocol,
            endpoint: endpoint.into(),
            seed: 1,
            workers: 4,
            batch_spans: 1000,
            rate: None,
            duration: None,
            max_spans: None,
            max_traces: None,
            report_every: None,
            retries: 10,
            pregenerate: false,
        }
    }
}

/// Totals of a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    pub traces: u64,
    pub sent_spans: u64,
    /// Spans the receiver confirmed (equal to `sent_spans` for UDP, which has no reply).
    pub acked_spans: u64,
    pub failed_spans: u64,
    pub retries: u64,
    pub elapsed: Duration,
    /// First error seen, for the summary.
    pub first_error: Option<String>,
}

impl Report {
    pub fn acked_rate(&self) -> f64 {
        self.acked_spans as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} traces, {} spans sent, {} acknowledged, {} failed ({} retries) in {:.2}s: {:.0} spans/s acknowledged",
            self.traces,
            self.sent_spans,
            self.acked_spans,
            self.failed_spans,
            self.retries,
            self.elapsed.as_secs_f64(),
            self.acked_rate()
        )?;
        if let Some(e) = &self.first_error {
            write!(f, "; first error: {e}")?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct Counters {
    next_trace: AtomicU64,
    traces: AtomicU64,
    sent: AtomicU64,
    acked: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    /// Spans claimed by workers, for `max_spans` and rate pacing.
    claimed: AtomicU64,
    stop: AtomicBool,
    /// The first error seen (later ones are usually the same).
    first_error: std::sync::Mutex<Option<String>>,
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Runs the load until a stop condition; connection failures end the run with an error.
pub async fn run(config: LoadConfig) -> Result<Report, SendError> {
    prepare(config)?.run().await
}

/// A load ready to send: with `pregenerate`, every request already encoded.
pub struct Prepared {
    config: Arc<LoadConfig>,
    source: Arc<Source>,
}

enum Source {
    /// Traces generated as the workers need them.
    Live(Generator),
    /// Encoded OTLP requests with their span and trace counts, taken in order.
    Encoded {
        requests: Vec<(Bytes, u64, u64)>,
        next: AtomicUsize,
    },
}

/// One request's worth of spans.
enum Work {
    Spans(Vec<Span>),
    Encoded(Bytes, u64),
}

/// Builds the generator and, with `pregenerate`, every request of the run (the same
/// batches, in the same order, as a live run with one worker would send).
pub fn prepare(config: LoadConfig) -> Result<Prepared, SendError> {
    let generator = Generator::new(config.seed);
    let source = if config.pregenerate {
        if config.protocol != WireProtocol::OtlpGrpc {
            return Err(SendError::Setup(
                "pre-generated requests are OTLP gRPC only".to_string(),
            ));
        }
        if config.max_spans.is_none() && config.max_traces.is_none() {
            return Err(SendError::Setup(
                "pre-generating needs a span or trace count".to_string(),
            ));
        }
        let unpaced = LoadConfig {
            duration: None,
            ..config.clone()
        };
        let counters = Counters::default();
        let mut requests = Vec::new();
        let mut traces_before = 0;
        while let Some(batch) = next_batch(&unpaced, &generator, &counters, Instant::now()) {
            let traces = counters.traces.load(Ordering::Relaxed);
            requests.push((
                encode_otlp(&batch),
                batch.len() as u64,
                traces - traces_before,
            ));
            traces_before = traces;
        }
        Source::Encoded {
            requests,
            next: AtomicUsize::new(0),
        }
    } else {
        Source::Live(generator)
    };
    Ok(Prepared {
        config: Arc::new(config),
        source: Arc::new(source),
    })
}

impl Prepared {
    /// Sends the load until a stop condition.
    pub async fn run(self) -> Result<Report, SendError> {
        let Prepared { config, source } = self;
        let counters = Arc::new(Counters::default());
        let mut senders = Vec::new();
        for _ in 0..config.workers.max(1) {
            senders.push(Sender::connect(config.protocol, &config.endpoint).await?);
        }
        let started = Instant::now();
        let mut tasks = Vec::new();
        for sender in senders {
            let (config, source, counters) = (config.clone(), source.clone(), counters.clone());
            tasks.push(tokio::spawn(worker(
                sender, config, source, counters, started,
            )));
        }
        let reporter = config.report_every.map(|every| {
            let counters = counters.clone();
            tokio::spawn(async move {
                let mut last = (Instant::now(), 0u64);
                loop {
                    tokio::time::sleep(every).await;
                    let acked = counters.acked.load(Ordering::Relaxed);
                    let elapsed = last.0.elapsed().as_secs_f64().max(1e-9);
                    eprintln!(
                        "tracegen: {:>6.1}s  sent {}  acked {}  failed {}  {:.0} spans/s",
                        started.elapsed().as_secs_f64(),
                        counters.sent.load(Ordering::Relaxed),
                        acked,
                        counters.failed.load(Ordering::Relaxed),
                        (acked - last.1) as f64 / elapsed
                    );
                    last = (Instant::now(), acked);
                }
            })
        });
        for t in tasks {
            let _ = t.await;
        }
        if let Some(r) = reporter {
            r.abort();
        }
        let c = &counters;
        Ok(Report {
            traces: c.traces.load(Ordering::Relaxed),
            sent_spans: c.sent.load(Ordering::Relaxed),
            acked_spans: c.acked.load(Ordering::Relaxed),
            failed_spans: c.failed.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            elapsed: started.elapsed(),
            first_error: c.first_error.lock().ok().and_then(|mut e| e.take()),
        })
    }
}

/// The next request to send, from either source; `None` once a stop condition is reached.
fn next_work(config: &LoadConfig, source: &Source, c: &Counters, started: Instant) -> Option<Work> {
    match source {
        Source::Live(generator) => next_batch(config, generator, c, started).map(Work::Spans),
        Source::Encoded { requests, next } => {
            if c.stop.load(Ordering::Relaxed)
                || config.duration.is_some_and(|d| started.elapsed() >= d)
            {
                return None;
            }
            let (request, spans, traces) = requests.get(next.fetch_add(1, Ordering::Relaxed))?;
            c.claimed.fetch_add(*spans, Ordering::Relaxed);
            c.traces.fetch_add(*traces, Ordering::Relaxed);
            Some(Work::Encoded(request.clone(), *spans))
        }
    }
}

/// Fills one batch with whole traces; `None` once a stop condition is reached.
fn next_batch(
    config: &LoadConfig,
    generator: &Generator,
    c: &Counters,
    started: Instant,
) -> Option<Vec<Span>> {
    let mut batch = Vec::with_capacity(config.batch_spans + 200);
    while batch.len() < config.batch_spans.max(1) {
        if c.stop.load(Ordering::Relaxed) || config.duration.is_some_and(|d| started.elapsed() >= d)
        {
            break;
        }
        let index = c.next_trace.fetch_add(1, Ordering::Relaxed);
        if config.max_traces.is_some_and(|m| index >= m) {
            break;
        }
        let spans = generator.trace(index, now_nanos());
        let before = c.claimed.fetch_add(spans.len() as u64, Ordering::Relaxed);
        if let Some(max) = config.max_spans {
            if before >= max {
                break;
            }
            if before + spans.len() as u64 >= max {
                // Cut the last trace to hit the span count exactly.
                let keep = usize::try_from(max - before).unwrap_or(spans.len());
                batch.extend(spans.into_iter().take(keep));
                c.traces.fetch_add(1, Ordering::Relaxed);
                c.stop.store(true, Ordering::Relaxed);
                break;
            }
        }
        c.traces.fetch_add(1, Ordering::Relaxed);
        batch.extend(spans);
    }
    (!batch.is_empty()).then_some(batch)
}

async fn worker(
    mut sender: Sender,
    config: Arc<LoadConfig>,
    source: Arc<Source>,
    c: Arc<Counters>,
    started: Instant,
) {
    while let Some(work) = next_work(&config, &source, &c, started) {
        let n = match &work {
            Work::Spans(batch) => batch.len() as u64,
            Work::Encoded(_, spans) => *spans,
        };
        if let Some(rate) = config.rate.filter(|r| *r > 0) {
            // Pace on the total claimed so far: the run as a whole keeps the target rate.
            let due =
                Duration::from_secs_f64(c.claimed.load(Ordering::Relaxed) as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        c.sent.fetch_add(n, Ordering::Relaxed);
        let mut attempt = 0;
        loop {
            let result = match &work {
                Work::Spans(batch) => sender.send(batch).await,
                Work::Encoded(request, spans) => sender.send_encoded(request.clone(), *spans).await,
            };
            match result {
                Ok(acked) => {
                    c.acked.fetch_add(acked, Ordering::Relaxed);
                    c.failed.fetch_add(n - acked.min(n), Ordering::Relaxed);
                    break;
                }
                Err(SendError::Busy(_)) if attempt < config.retries => {
                    attempt += 1;
                    c.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20 << attempt.min(6))).await;
                }
                Err(e) => {
                    c.failed.fetch_add(n, Ordering::Relaxed);
                    if let Ok(mut first) = c.first_error.lock() {
                        first.get_or_insert(e.to_string());
                    }
                    break;
                }
            }
        }
    }
}
