//! Sending generated traces: `workers` connections, each taking trace indexes from one
//! shared counter (so the set of traces sent depends only on the seed), batching them and
//! pacing to a target rate; counts of sent / acknowledged / failed spans are shared and
//! reported periodically and at the end.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sextant_model::Span;

use crate::generate::Generator;
use crate::send::{SendError, Sender, WireProtocol};

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
    let config = Arc::new(config);
    let generator = Arc::new(Generator::new(config.seed));
    let counters = Arc::new(Counters::default());
    let mut senders = Vec::new();
    for _ in 0..config.workers.max(1) {
        senders.push(Sender::connect(config.protocol, &config.endpoint).await?);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for sender in senders {
        let (config, generator, counters) = (config.clone(), generator.clone(), counters.clone());
        tasks.push(tokio::spawn(worker(
            sender, config, generator, counters, started,
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
    Ok(Report {
        traces: counters.traces.load(Ordering::Relaxed),
        sent_spans: counters.sent.load(Ordering::Relaxed),
        acked_spans: counters.acked.load(Ordering::Relaxed),
        failed_spans: counters.failed.load(Ordering::Relaxed),
        retries: counters.retries.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
        first_error: counters.first_error.lock().ok().and_then(|mut e| e.take()),
    })
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
    generator: Arc<Generator>,
    c: Arc<Counters>,
    started: Instant,
) {
    while let Some(batch) = next_batch(&config, &generator, &c, started) {
        let n = batch.len() as u64;
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
            match sender.send(&batch).await {
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
