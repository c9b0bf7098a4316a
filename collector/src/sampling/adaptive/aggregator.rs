//! Counting root spans per (service, operation), as Jaeger's adaptive `aggregator` does: the
//! span processor hands every accepted batch to [`ThroughputAggregator::record_batch`], and
//! once per calculation interval [`ThroughputAggregator::take`] empties the counts into one
//! throughput bucket for the store.
//!
//! What counts (Jaeger's `HandleRootSpan`): root spans (no parent) with a service and an
//! operation name whose `sampler.type` is a known sampler and whose `sampler.param` reads
//! as a number. Every such span registers its operation and the probability it carried (up
//! to [`MAX_PROBABILITIES`] distinct values); only `probabilistic` ones add to the count, so
//! an operation seen only under `lowerbound`/`ratelimiting`/`const` reports 0.
//!
//! Hot path: one short mutex hold per batch (never across an await), taken only when the
//! batch has a countable span; a known key is found by `&str` lookups with no allocation.
//! Memory is bounded: at most `max_keys` distinct (service, operation) pairs per interval;
//! spans of further new pairs are dropped from the counts and counted in
//! `sextant_collector_adaptive_sampling_throughput_dropped_total`.

use std::collections::{BTreeSet, HashMap};

use parking_lot::Mutex;
use sextant_model::{find_attr, AnyValue, Span};
use sextant_storage::sampling::Throughput;

use super::metrics::METRICS;

/// Distinct probabilities kept per operation and interval (Jaeger's `maxProbabilities`).
pub const MAX_PROBABILITIES: usize = 10;
/// Default cap on distinct (service, operation) pairs per interval.
pub const DEFAULT_MAX_KEYS: usize = 100_000;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SamplerType {
    Probabilistic,
    LowerBound,
    RateLimiting,
    Const,
}

/// The sampler a root span was sampled by, as Jaeger's `GetSamplerParams` reads it:
/// `sampler.type` (string) and `sampler.param` (double, integer, or a string holding a
/// number). Anything else: `None`, the span is not counted.
pub fn sampler_params(span: &Span) -> Option<(SamplerType, f64)> {
    let kind = match find_attr(&span.attributes, "sampler.type")?.as_str()? {
        "probabilistic" => SamplerType::Probabilistic,
        "lowerbound" => SamplerType::LowerBound,
        "ratelimiting" => SamplerType::RateLimiting,
        "const" => SamplerType::Const,
        _ => return None,
    };
    let param = match find_attr(&span.attributes, "sampler.param")? {
        AnyValue::Double(v) => *v,
        AnyValue::Int(v) => *v as f64,
        AnyValue::Str(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    Some((kind, param))
}

#[derive(Default)]
struct OpCount {
    count: u64,
    /// Distinct probabilities seen, rounded to 6 decimals (Jaeger keeps `%.6f` strings).
    probabilities: Vec<i64>,
}

#[derive(Default)]
struct Counts {
    services: HashMap<String, HashMap<String, OpCount>>,
    keys: usize,
}

pub struct ThroughputAggregator {
    counts: Mutex<Counts>,
    max_keys: usize,
}

impl ThroughputAggregator {
    pub fn new(max_keys: usize) -> Self {
        ThroughputAggregator {
            counts: Mutex::new(Counts::default()),
            max_keys,
        }
    }

    /// Counts the root spans of one batch (see the module docs for which).
    pub fn record_batch(&self, spans: &[Span]) {
        let mut guard = None;
        let mut dropped = 0u64;
        for span in spans {
            if !span.is_root() || span.name.is_empty() || span.service_name().is_empty() {
                continue;
            }
            let Some((kind, param)) = sampler_params(span) else {
                continue;
            };
            let counts = guard.get_or_insert_with(|| self.counts.lock());
            if !counts.record(span.service_name(), &span.name, kind, param, self.max_keys) {
                dropped += 1;
            }
        }
        drop(guard);
        if dropped > 0 {
            METRICS.throughput_dropped.inc_by(dropped);
        }
    }

    /// Empties the counts of the interval that just ended, as the store's throughput rows.
    pub fn take(&self) -> Vec<Throughput> {
        let counts = std::mem::take(&mut *self.counts.lock());
        let mut out = Vec::with_capacity(counts.keys);
        for (service, ops) in counts.services {
            for (operation, op) in ops {
                let probabilities: BTreeSet<String> = op
                    .probabilities
                    .iter()
                    .map(|micro| format!("{:.6}", *micro as f64 / 1e6))
                    .collect();
                out.push(Throughput {
                    service: service.clone(),
                    operation,
                    count: op.count,
                    probabilities,
                });
            }
        }
        out
    }
}

impl Counts {
    /// Returns false when the pair is new and the key cap is reached (the span is dropped).
    fn record(
        &mut self,
        service: &str,
        operation: &str,
        kind: SamplerType,
        param: f64,
        max_keys: usize,
    ) -> bool {
        // Two lookups by &str, so a known pair allocates nothing.
        let op = match self.services.get_mut(service) {
            Some(ops) => match ops.get_mut(operation) {
                Some(op) => op,
                None => {
                    if self.keys >= max_keys {
                        return false;
                    }
                    self.keys += 1;
                    ops.entry(operation.to_string()).or_default()
                }
            },
            None => {
                if self.keys >= max_keys {
                    return false;
                }
                self.keys += 1;
                self.services
                    .entry(service.to_string())
                    .or_default()
                    .entry(operation.to_string())
                    .or_default()
            }
        };
        // `as` saturates for out-of-range and NaN (→ 0) values; a bogus param is harmless.
        let micro = (param * 1e6).round() as i64;
        if op.probabilities.len() < MAX_PROBABILITIES && !op.probabilities.contains(&micro) {
            op.probabilities.push(micro);
        }
        if kind == SamplerType::Probabilistic {
            op.count += 1;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sextant_model::{KeyValue, Resource, SpanId};

    use super::*;

    fn root(service: &str, op: &str, kind: &str, param: AnyValue) -> Span {
        Span {
            name: op.into(),
            span_id: SpanId(1),
            attributes: vec![
                KeyValue::new("sampler.type", kind),
                KeyValue {
                    key: "sampler.param".into(),
                    value: param,
                },
            ],
            resource: Arc::new(Resource {
                service_name: service.into(),
                ..Resource::default()
            }),
            ..Span::default()
        }
    }

    fn sorted(mut t: Vec<Throughput>) -> Vec<(String, u64, Vec<String>)> {
        t.sort_by(|a, b| a.operation.cmp(&b.operation));
        t.into_iter()
            .map(|t| (t.operation, t.count, t.probabilities.into_iter().collect()))
            .collect()
    }

    #[test]
    fn counts_probabilistic_roots_like_jaeger() {
        let agg = ThroughputAggregator::new(DEFAULT_MAX_KEYS);
        let mut child = root("svc", "a", "probabilistic", AnyValue::Double(0.5));
        child.parent_span_id = SpanId(9);
        let mut no_tags = root("svc", "a", "probabilistic", AnyValue::Double(0.5));
        no_tags.attributes.clear();
        agg.record_batch(&[
            root("svc", "a", "probabilistic", AnyValue::Double(0.001)),
            root("svc", "a", "probabilistic", AnyValue::Str("0.5".into())),
            root("svc", "a", "probabilistic", AnyValue::Double(0.001)),
            root("svc", "b", "lowerbound", AnyValue::Double(0.001)),
            root("svc", "c", "ratelimiting", AnyValue::Int(2)),
            root("svc", "d", "remote", AnyValue::Double(0.1)),
            root("svc", "e", "probabilistic", AnyValue::Str("x".into())),
            root("svc", "", "probabilistic", AnyValue::Double(0.1)),
            child,
            no_tags,
        ]);
        assert_eq!(
            sorted(agg.take()),
            vec![
                ("a".into(), 3, vec!["0.001000".into(), "0.500000".into()]),
                ("b".into(), 0, vec!["0.001000".into()]),
                ("c".into(), 0, vec!["2.000000".into()]),
            ]
        );
        assert!(agg.take().is_empty(), "take empties the interval");
    }

    #[test]
    fn distinct_keys_and_probabilities_are_capped() {
        let agg = ThroughputAggregator::new(2);
        let before = METRICS.throughput_dropped.get();
        let spans: Vec<Span> = (0..20)
            .map(|i| {
                let op = ["a", "b", "c"][i % 3];
                root(
                    "svc",
                    op,
                    "probabilistic",
                    AnyValue::Double(i as f64 / 100.0),
                )
            })
            .collect();
        agg.record_batch(&spans);
        let got = sorted(agg.take());
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1, 7);
        assert_eq!(got[0].2.len(), 7);
        assert!(METRICS.throughput_dropped.get() - before >= 6);
        // A fresh interval may hold new keys again.
        agg.record_batch(&spans[2..3]);
        assert_eq!(sorted(agg.take())[0].0, "c");

        let agg = ThroughputAggregator::new(10);
        let many: Vec<Span> = (0..50)
            .map(|i| {
                root(
                    "s",
                    "a",
                    "probabilistic",
                    AnyValue::Double(i as f64 / 100.0),
                )
            })
            .collect();
        agg.record_batch(&many);
        let got = sorted(agg.take());
        assert_eq!(got[0].1, 50);
        assert_eq!(got[0].2.len(), MAX_PROBABILITIES);
    }

    /// Not a timed assertion: prints the hot path's cost. Run with
    /// `cargo test --release -p sextant-collector --lib record_batch_cost -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn record_batch_cost() {
        let agg = ThroughputAggregator::new(DEFAULT_MAX_KEYS);
        // Batches of 100 spans: 10 roots over 50 operations, 90 children.
        let batches: Vec<Vec<Span>> = (0..100)
            .map(|b| {
                (0..100)
                    .map(|i| {
                        let op = format!("op-{}", (b * 7 + i) % 50);
                        let mut s = root("svc", &op, "probabilistic", AnyValue::Double(0.001));
                        if i % 10 != 0 {
                            s.parent_span_id = SpanId(1);
                        }
                        s
                    })
                    .collect()
            })
            .collect();
        let started = std::time::Instant::now();
        let rounds = 200;
        for _ in 0..rounds {
            for batch in &batches {
                agg.record_batch(batch);
            }
        }
        let spans = (rounds * 100 * 100) as f64;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "record_batch: {:.0} spans/s ({:.1} ns/span) on one thread",
            spans / secs,
            secs * 1e9 / spans
        );
        assert_eq!(
            agg.take().iter().map(|t| t.count).sum::<u64>(),
            rounds * 100 * 10
        );
    }
}
