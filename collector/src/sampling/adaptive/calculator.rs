//! The calculation, as Jaeger's adaptive `PostAggregator` does it: keep the last
//! `aggregation-buckets` intervals of throughput (summed over every collector), turn the most
//! recent `buckets-for-calculation` of each operation into one weighted QPS, and steer each
//! operation's probability toward `target-samples-per-second`.
//!
//! The rules, per operation, from the probability it had (`initial` when it has none):
//! 1. Within tolerance — `|qps - target| / target < delta-tolerance` — nothing changes, so
//!    clients are not sent a new probability for noise.
//! 2. QPS 0 (the operation was seen, but only with non-probabilistic samplers, or its
//!    probabilistic count was 0): the probability doubles, so it gets sampled at all.
//! 3. Otherwise the probability is scaled by `target / qps`; a decrease is applied at once
//!    (oversampling is what costs), an increase is capped at +100% per calculation.
//! 4. The result is clamped to `[min-sampling-probability, 1]`.
//!
//! Only operations with data get a probability: one that appears in none of the kept buckets
//! is left out of the result, and clients fall back to the default (initial) probability and
//! the `min-samples-per-second` lower bound for it. Nothing is calculated before the first
//! bucket exists.
//!
//! Jaeger also has an `isUsingAdaptiveSampling` check (a probability is only changed when
//! the spans counted carried it); current Jaeger has it disabled (always true), and so does
//! this module: the probabilities the spans carried are stored but do not gate the result.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use sextant_storage::sampling::{ServiceOperationValues, Throughput};

/// Jaeger's `PercentageIncreaseCappedCalculator(1.0)` in the post-aggregator: at most double.
pub const PERCENTAGE_INCREASE_CAP: f64 = 1.0;
const MAX_SAMPLING_PROBABILITY: f64 = 1.0;

/// The knobs of the calculation (from the `--sampling.*` flags).
#[derive(Clone, Debug, PartialEq)]
pub struct CalculatorOptions {
    pub target_samples_per_second: f64,
    pub delta_tolerance: f64,
    pub initial_sampling_probability: f64,
    pub min_sampling_probability: f64,
    pub aggregation_buckets: usize,
    pub buckets_for_calculation: usize,
}

/// Throughput of one interval, summed over collectors: service → operation → count.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bucket {
    pub counts: HashMap<String, HashMap<String, u64>>,
    pub interval: Duration,
}

impl Bucket {
    /// Sums what every collector reported for one interval.
    pub fn aggregate(throughput: &[Throughput], interval: Duration) -> Bucket {
        let mut counts: HashMap<String, HashMap<String, u64>> = HashMap::new();
        for t in throughput {
            let ops = counts.entry(t.service.clone()).or_default();
            let count = ops.entry(t.operation.clone()).or_default();
            *count = count.saturating_add(t.count);
        }
        Bucket { counts, interval }
    }

    fn qps(&self, count: u64) -> f64 {
        let secs = self.interval.as_secs_f64();
        if secs > 0.0 {
            count as f64 / secs
        } else {
            0.0
        }
    }
}

/// The calculation state one collector keeps: the recent buckets, newest first.
pub struct Calculator {
    opts: CalculatorOptions,
    buckets: VecDeque<Bucket>,
}

impl Calculator {
    pub fn new(opts: CalculatorOptions) -> Self {
        Calculator {
            opts,
            buckets: VecDeque::new(),
        }
    }

    pub fn options(&self) -> &CalculatorOptions {
        &self.opts
    }

    /// Adds the newest bucket, dropping the oldest beyond `aggregation-buckets`.
    pub fn push_newest(&mut self, bucket: Bucket) {
        self.buckets.push_front(bucket);
        self.buckets.truncate(self.opts.aggregation_buckets.max(1));
    }

    /// Adds an older bucket behind the ones held (start-up: history from the store).
    pub fn push_oldest(&mut self, bucket: Bucket) {
        if self.buckets.len() < self.opts.aggregation_buckets.max(1) {
            self.buckets.push_back(bucket);
        }
    }

    pub fn bucket_count(&self) -> usize {
        self.buckets.len()
    }

    /// Per operation, the QPS of the (up to `buckets-for-calculation`) most recent buckets
    /// it appears in, newest first.
    fn qps_series(&self) -> HashMap<&str, HashMap<&str, Vec<f64>>> {
        let limit = self.opts.buckets_for_calculation.max(1);
        let mut series: HashMap<&str, HashMap<&str, Vec<f64>>> = HashMap::new();
        for bucket in &self.buckets {
            for (service, ops) in &bucket.counts {
                let per_service = series.entry(service.as_str()).or_default();
                for (op, count) in ops {
                    let values = per_service.entry(op.as_str()).or_default();
                    if values.len() < limit {
                        values.push(bucket.qps(*count));
                    }
                }
            }
        }
        series
    }

    /// New probabilities and the QPS they were computed from, for every operation with data.
    /// `previous` holds the probabilities currently served.
    pub fn calculate(
        &self,
        previous: &ServiceOperationValues,
    ) -> (ServiceOperationValues, ServiceOperationValues) {
        let mut probabilities = ServiceOperationValues::new();
        let mut qps_out = ServiceOperationValues::new();
        if self.buckets.is_empty() {
            return (probabilities, qps_out);
        }
        for (service, ops) in self.qps_series() {
            let previous_ops = previous.get(service);
            let probs = probabilities.entry(service.to_string()).or_default();
            let qpss = qps_out.entry(service.to_string()).or_default();
            for (op, series) in ops {
                let qps = weighted_qps(&series);
                // `previous` comes from a shared store; a value that is not a probability
                // is treated as absent.
                let old = previous_ops
                    .and_then(|p| p.get(op))
                    .copied()
                    .filter(|p| (0.0..=1.0).contains(p))
                    .unwrap_or(self.opts.initial_sampling_probability);
                qpss.insert(op.to_string(), qps);
                probs.insert(op.to_string(), new_probability(&self.opts, old, qps));
            }
        }
        (probabilities, qps_out)
    }
}

/// Jaeger's weights for `n` buckets, newest first: `w(i) = i^4` for `i = n..1`, normalised.
pub fn weights(n: usize) -> Vec<f64> {
    let raw: Vec<f64> = (1..=n).rev().map(|i| (i as f64).powi(4)).collect();
    let sum: f64 = raw.iter().sum();
    raw.into_iter().map(|w| w / sum).collect()
}

/// The weighted QPS of `series` (newest first), biased toward recent buckets.
pub fn weighted_qps(series: &[f64]) -> f64 {
    if series.is_empty() {
        return 0.0;
    }
    series
        .iter()
        .zip(weights(series.len()))
        .map(|(q, w)| q * w)
        .sum()
}

/// Scales `previous` by `target / current`; an increase is capped at `cap` (a fraction:
/// 1.0 = +100%), a decrease is not.
pub fn percentage_increase_capped(target: f64, current: f64, previous: f64, cap: f64) -> f64 {
    let factor = target / current;
    let new = previous * factor;
    if factor > 1.0 && (new - previous) / previous > cap {
        return previous + previous * cap;
    }
    new
}

fn within_tolerance(actual: f64, expected: f64, tolerance: f64) -> bool {
    ((actual - expected) / expected).abs() < tolerance
}

/// Jaeger's `FloatEquals`: equal to 10 decimals.
fn float_equals(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-10
}

/// The next probability of one operation that had `old` and was observed at `qps`.
pub fn new_probability(opts: &CalculatorOptions, old: f64, qps: f64) -> f64 {
    if within_tolerance(qps, opts.target_samples_per_second, opts.delta_tolerance) {
        return old;
    }
    let new = if float_equals(qps, 0.0) {
        old * 2.0
    } else {
        percentage_increase_capped(
            opts.target_samples_per_second,
            qps,
            old,
            PERCENTAGE_INCREASE_CAP,
        )
    };
    new.max(opts.min_sampling_probability)
        .min(MAX_SAMPLING_PROBABILITY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> CalculatorOptions {
        CalculatorOptions {
            target_samples_per_second: 1.0,
            delta_tolerance: 0.3,
            initial_sampling_probability: 0.001,
            min_sampling_probability: 1e-5,
            aggregation_buckets: 10,
            buckets_for_calculation: 1,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn capped_calculator_matches_jaegers_figures() {
        // Jaeger's own cases for the calculator with its default 50% cap.
        assert!(close(percentage_increase_capped(1.0, 2.0, 0.1, 0.5), 0.05));
        assert!(close(percentage_increase_capped(1.0, 0.5, 0.1, 0.5), 0.15));
        assert!(close(percentage_increase_capped(1.0, 0.8, 0.1, 0.5), 0.125));
        // The post-aggregator's 100% cap: 4x too few samples only doubles.
        assert!(close(percentage_increase_capped(1.0, 0.25, 0.1, 1.0), 0.2));
        // A decrease is applied in full, however large.
        assert!(close(
            percentage_increase_capped(1.0, 100.0, 0.1, 1.0),
            0.001
        ));
    }

    #[test]
    fn probability_rules() {
        let o = opts();
        // Proportional decrease: 2 samples/s for a target of 1 halves the probability.
        assert!(close(new_probability(&o, 0.1, 2.0), 0.05));
        // Within 30% of the target: unchanged (1.29 in, 1.3 out).
        assert!(close(new_probability(&o, 0.1, 1.29), 0.1));
        assert!(close(new_probability(&o, 0.1, 0.71), 0.1));
        assert!(close(new_probability(&o, 0.1, 1.3), 0.1 / 1.3));
        // Increase capped at +100%.
        assert!(close(new_probability(&o, 0.1, 0.2), 0.2));
        assert!(close(new_probability(&o, 0.1, 0.6), 0.1 / 0.6));
        // No probabilistic samples at all: double.
        assert!(close(new_probability(&o, 0.001, 0.0), 0.002));
        // Clamped to [min, 1].
        assert!(close(new_probability(&o, 0.001, 1000.0), 1e-5));
        assert!(close(new_probability(&o, 0.8, 0.5), 1.0));
    }

    #[test]
    fn weights_favour_recent_buckets() {
        let w = weights(3);
        assert!(close(w[0], 81.0 / 98.0));
        assert!(close(w[1], 16.0 / 98.0));
        assert!(close(w[2], 1.0 / 98.0));
        assert!(close(weighted_qps(&[3.0, 2.0, 1.0]), 276.0 / 98.0));
        assert!(close(weighted_qps(&[5.0]), 5.0));
        assert_eq!(weighted_qps(&[]), 0.0);
    }

    fn tp(service: &str, op: &str, count: u64) -> Throughput {
        Throughput {
            service: service.into(),
            operation: op.into(),
            count,
            probabilities: Default::default(),
        }
    }

    #[test]
    fn collectors_are_summed_and_operations_steered() {
        let mut calc = Calculator::new(opts());
        assert_eq!(calc.calculate(&Default::default()).0, Default::default());
        // Two collectors' reports of one 10 s interval.
        calc.push_newest(Bucket::aggregate(
            &[
                tp("svc", "busy", 600),
                tp("svc", "quiet", 2),
                tp("svc", "busy", 400),
            ],
            Duration::from_secs(10),
        ));
        let (p, qps) = calc.calculate(&Default::default());
        assert!(close(qps["svc"]["busy"], 100.0));
        assert!(close(qps["svc"]["quiet"], 0.2));
        // 100 samples/s → 0.001 / 100 = 1e-5 (exactly the minimum).
        assert!(close(p["svc"]["busy"], 1e-5));
        // 0.2 samples/s → would be 5x, capped to 2x.
        assert!(close(p["svc"]["quiet"], 0.002));

        // The next round starts from what is served now.
        calc.push_newest(Bucket::aggregate(
            &[tp("svc", "busy", 5)],
            Duration::from_secs(10),
        ));
        let (p2, _) = calc.calculate(&p);
        // busy: 0.5/s from 1e-5 → doubles (capped) to 2e-5.
        assert!(close(p2["svc"]["busy"], 2e-5));
        // quiet is absent from the newest bucket: its latest bucket (0.2/s) is used again.
        assert!(close(p2["svc"]["quiet"], 0.004));
    }

    #[test]
    fn buckets_for_calculation_and_retention() {
        let mut o = opts();
        o.aggregation_buckets = 2;
        o.buckets_for_calculation = 2;
        let mut calc = Calculator::new(o);
        let ten = Duration::from_secs(10);
        calc.push_newest(Bucket::aggregate(&[tp("s", "old", 10)], ten));
        calc.push_newest(Bucket::aggregate(&[tp("s", "a", 10)], ten));
        calc.push_newest(Bucket::aggregate(&[tp("s", "a", 30)], ten));
        assert_eq!(calc.bucket_count(), 2);
        let (p, qps) = calc.calculate(&Default::default());
        // "old" fell out with its bucket: no data, no probability (clients use the default).
        assert!(!p["s"].contains_key("old"));
        // a: [3/s, 1/s] weighted 16/17 and 1/17.
        assert!(close(qps["s"]["a"], (3.0 * 16.0 + 1.0) / 17.0));
    }
}
