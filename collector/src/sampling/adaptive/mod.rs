//! Adaptive sampling (`--sampling.config-type=adaptive`), as Jaeger v1's
//! `plugin/sampling/strategyprovider/adaptive`: per-operation probabilities steered from the
//! observed throughput toward `--sampling.target-samples-per-second`.
//!
//! Pieces, one file each:
//! * [`aggregator`]: the span processor's hook. Counts probabilistically sampled root spans
//!   per (service, operation) on the hot path; every calculation interval the counts go to
//!   the [`SamplingStore`] as one throughput bucket of this collector.
//! * [`calculator`]: Jaeger's math — QPS per operation over the last buckets, steered toward
//!   the target (proportional decrease, capped increase, tolerance, min probability).
//! * [`leader`]: a lease in the store elects one leader among the collectors sharing it.
//! * [`strategies`]: the responses the gRPC and HTTP endpoints serve.
//!
//! ## How several collectors agree (the decision)
//! A **lease**, as Jaeger does it. Every collector writes its own throughput and reads
//! everyone's back every interval (so any of them can take over with the history in memory),
//! but only the lease holder calculates and calls `insert_probabilities`. Letting every
//! collector calculate would steer N times per interval, each step starting from another's
//! result. The lease is two small store calls (`acquire_lease`/`forfeit_lease`), and a
//! leader that dies is replaced after the lease expires (`follower-lease-refresh-interval`).
//!
//! **Every collector serves the store's latest probabilities**, never its own in-memory
//! result: a refresh task loads `get_latest_probabilities()` every calculation interval
//! (at most every 20 s, Jaeger's follower refresh), and the leader reloads right after it
//! writes. So all collectors answer from the same record, and a new leader starts from the
//! probabilities that were being served (Jaeger's new leader starts from the initial
//! probability instead; this is the one deliberate difference).
//!
//! Time: a calculation at `now` covers `[last, now - delay)`; the first one after start
//! covers the `aggregation-buckets` intervals before `now - delay` read from the store.

pub mod aggregator;
pub mod calculator;
pub mod leader;
pub mod metrics;
pub mod strategies;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sextant_common::shutdown::Shutdown;
use sextant_storage::sampling::{ProbabilitiesRecord, SamplingStorageType, SamplingStore};

pub use aggregator::ThroughputAggregator;
use calculator::{Bucket, Calculator, CalculatorOptions};
use leader::Leadership;
use metrics::METRICS;
pub use strategies::AdaptiveStrategies;

use super::SamplingError;

/// Jaeger's follower probability refresh (`defaultFollowerProbabilityInterval`).
pub const MAX_REFRESH_INTERVAL: Duration = Duration::from_secs(20);

/// The `--sampling.*` flags of adaptive sampling; names and defaults are Jaeger v1's.
#[derive(clap::Args, Debug, Clone, PartialEq)]
pub struct AdaptiveArgs {
    /// The global target rate of samples per operation (traces per second).
    #[arg(
        id = "sampling.target-samples-per-second",
        long = "sampling.target-samples-per-second",
        env = "SAMPLING_TARGET_SAMPLES_PER_SECOND",
        default_value_t = 1.0
    )]
    pub target_samples_per_second: f64,

    /// The acceptable deviation between the observed and the target samples per second, as
    /// a ratio: within it, an operation's probability is left unchanged.
    #[arg(
        id = "sampling.delta-tolerance",
        long = "sampling.delta-tolerance",
        env = "SAMPLING_DELTA_TOLERANCE",
        default_value_t = 0.3
    )]
    pub delta_tolerance: f64,

    /// How many of the most recent buckets the weighted QPS of an operation is computed
    /// from (1: only the latest).
    #[arg(
        id = "sampling.buckets-for-calculation",
        long = "sampling.buckets-for-calculation",
        env = "SAMPLING_BUCKETS_FOR_CALCULATION",
        default_value_t = 1,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub buckets_for_calculation: u32,

    /// How often new probabilities are calculated (e.g. `1m`); also the length of one
    /// throughput bucket. Recommended to be longer than the clients' polling interval.
    #[arg(
        id = "sampling.calculation-interval",
        long = "sampling.calculation-interval",
        env = "SAMPLING_CALCULATION_INTERVAL",
        default_value = "1m",
        value_parser = sextant_model::go_duration::parse_flag
    )]
    pub calculation_interval: Duration,

    /// How many throughput buckets (calculation intervals) of history are kept in memory.
    #[arg(
        id = "sampling.aggregation-buckets",
        long = "sampling.aggregation-buckets",
        env = "SAMPLING_AGGREGATION_BUCKETS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub aggregation_buckets: u32,

    /// How far back the newest throughput used lies (e.g. `2m`): room for clients to pick up
    /// the previous probabilities and for other collectors' buckets to arrive.
    #[arg(
        id = "sampling.delay",
        long = "sampling.delay",
        env = "SAMPLING_DELAY",
        default_value = "2m",
        value_parser = sextant_model::go_duration::parse_flag
    )]
    pub delay: Duration,

    /// The sampling probability of operations without a calculated one yet.
    #[arg(
        id = "sampling.initial-sampling-probability",
        long = "sampling.initial-sampling-probability",
        env = "SAMPLING_INITIAL_SAMPLING_PROBABILITY",
        default_value_t = 0.001
    )]
    pub initial_sampling_probability: f64,

    /// The lowest probability ever calculated (default one in 100 000).
    #[arg(
        id = "sampling.min-sampling-probability",
        long = "sampling.min-sampling-probability",
        env = "SAMPLING_MIN_SAMPLING_PROBABILITY",
        default_value_t = 1e-5
    )]
    pub min_sampling_probability: f64,

    /// The minimum number of traces sampled per second per operation, whatever its
    /// probability (the clients' lower bound; default one a minute).
    #[arg(
        id = "sampling.min-samples-per-second",
        long = "sampling.min-samples-per-second",
        env = "SAMPLING_MIN_SAMPLES_PER_SECOND",
        default_value_t = 1.0 / 60.0
    )]
    pub min_samples_per_second: f64,

    /// How often the leader renews its lease. Keep it below the follower interval.
    #[arg(
        id = "sampling.leader-lease-refresh-interval",
        long = "sampling.leader-lease-refresh-interval",
        env = "SAMPLING_LEADER_LEASE_REFRESH_INTERVAL",
        default_value = "5s",
        value_parser = sextant_model::go_duration::parse_flag
    )]
    pub leader_lease_refresh_interval: Duration,

    /// How often a follower tries to become leader; also how long a lease lasts unrenewed.
    #[arg(
        id = "sampling.follower-lease-refresh-interval",
        long = "sampling.follower-lease-refresh-interval",
        env = "SAMPLING_FOLLOWER_LEASE_REFRESH_INTERVAL",
        default_value = "1m",
        value_parser = sextant_model::go_duration::parse_flag
    )]
    pub follower_lease_refresh_interval: Duration,

    /// Where adaptive sampling's state is kept: `memory` (this process only) or
    /// `elasticsearch` (the `--es.*` cluster, shared by every collector pointed at it, so
    /// they agree on probabilities).
    #[arg(
        id = "sampling-storage.type",
        long = "sampling-storage.type",
        env = "SAMPLING_STORAGE_TYPE",
        value_enum,
        default_value = "memory"
    )]
    pub storage_type: SamplingStorageType,
}

impl Default for AdaptiveArgs {
    fn default() -> Self {
        AdaptiveArgs {
            target_samples_per_second: 1.0,
            delta_tolerance: 0.3,
            buckets_for_calculation: 1,
            calculation_interval: Duration::from_secs(60),
            aggregation_buckets: 10,
            delay: Duration::from_secs(120),
            initial_sampling_probability: 0.001,
            min_sampling_probability: 1e-5,
            min_samples_per_second: 1.0 / 60.0,
            leader_lease_refresh_interval: Duration::from_secs(5),
            follower_lease_refresh_interval: Duration::from_secs(60),
            storage_type: SamplingStorageType::Memory,
        }
    }
}

impl AdaptiveArgs {
    fn validate(&self) -> Result<(), SamplingError> {
        let err = |m: &str| Err(SamplingError::Adaptive(m.to_string()));
        if self.calculation_interval.is_zero() {
            return err("--sampling.calculation-interval must be greater than 0");
        }
        if self.leader_lease_refresh_interval.is_zero()
            || self.follower_lease_refresh_interval.is_zero()
        {
            return err("lease refresh intervals must be greater than 0");
        }
        let positive = |v: f64| v.is_finite() && v > 0.0;
        let non_negative = |v: f64| v.is_finite() && v >= 0.0;
        let probability = |v: f64| non_negative(v) && v <= 1.0;
        if !positive(self.target_samples_per_second) {
            return err("--sampling.target-samples-per-second must be greater than 0");
        }
        let probabilities_ok = positive(self.initial_sampling_probability)
            && probability(self.initial_sampling_probability)
            && probability(self.min_sampling_probability);
        if !probabilities_ok {
            return err("sampling probabilities must be within (0, 1]");
        }
        let rest_ok =
            non_negative(self.delta_tolerance) && non_negative(self.min_samples_per_second);
        if !rest_ok {
            return err(
                "--sampling.delta-tolerance and --sampling.min-samples-per-second must be >= 0",
            );
        }
        if self.leader_lease_refresh_interval >= self.follower_lease_refresh_interval {
            tracing::warn!("the leader lease refresh interval should be below the follower one");
        }
        Ok(())
    }

    fn calculator_options(&self) -> CalculatorOptions {
        CalculatorOptions {
            target_samples_per_second: self.target_samples_per_second,
            delta_tolerance: self.delta_tolerance,
            initial_sampling_probability: self.initial_sampling_probability,
            min_sampling_probability: self.min_sampling_probability,
            aggregation_buckets: self.aggregation_buckets as usize,
            buckets_for_calculation: self.buckets_for_calculation as usize,
        }
    }
}

/// A started adaptive provider: what the endpoints serve and what the processor feeds.
pub struct RunningAdaptive {
    pub strategies: AdaptiveStrategies,
    pub aggregator: Arc<ThroughputAggregator>,
    pub leadership: Leadership,
}

/// Validates the flags, loads the store's latest probabilities, tries the lease once (so
/// the first collector leads from the start) and spawns the loops. Store errors at start
/// are logged, not fatal: the store may come up later.
pub async fn start(
    args: &AdaptiveArgs,
    store: Arc<dyn SamplingStore>,
    shutdown: Shutdown,
) -> Result<RunningAdaptive, SamplingError> {
    args.validate()?;
    let strategies = AdaptiveStrategies::new(
        args.initial_sampling_probability,
        args.min_samples_per_second,
    );
    let aggregator = Arc::new(ThroughputAggregator::new(aggregator::DEFAULT_MAX_KEYS));
    let leadership = Leadership::default();
    let holder = leader::participant_name();
    reload(store.as_ref(), &strategies).await;
    leader::try_acquire(
        store.as_ref(),
        &holder,
        args.follower_lease_refresh_interval,
        &leadership,
    )
    .await;
    tracing::info!(
        participant = holder,
        leader = leadership.is_leader(),
        "adaptive sampling started"
    );

    tokio::spawn(leader::run(
        store.clone(),
        holder.clone(),
        args.leader_lease_refresh_interval,
        args.follower_lease_refresh_interval,
        leadership.clone(),
        shutdown.clone(),
    ));
    let refresh = args.calculation_interval.min(MAX_REFRESH_INTERVAL);
    tokio::spawn(refresh_loop(
        store.clone(),
        strategies.clone(),
        refresh,
        shutdown.clone(),
    ));
    let calc = CalculationLoop {
        store,
        aggregator: aggregator.clone(),
        strategies: strategies.clone(),
        leadership: leadership.clone(),
        holder,
        interval: args.calculation_interval,
        delay: args.delay,
        calculator: Calculator::new(args.calculator_options()),
        last_probabilities: None,
    };
    tokio::spawn(calc.run(shutdown));
    Ok(RunningAdaptive {
        strategies,
        aggregator,
        leadership,
    })
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Serves the store's latest record from now on; a failed read keeps the last one.
async fn reload(store: &dyn SamplingStore, strategies: &AdaptiveStrategies) {
    match store.get_latest_probabilities().await {
        Ok(record) => strategies.set(&record.probabilities),
        Err(e) => {
            METRICS
                .store_errors
                .with_label_values(&["get_latest_probabilities"])
                .inc();
            tracing::warn!(error = %e, "adaptive sampling: cannot load probabilities");
        }
    }
}

async fn refresh_loop(
    store: Arc<dyn SamplingStore>,
    strategies: AdaptiveStrategies,
    every: Duration,
    shutdown: Shutdown,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => reload(store.as_ref(), &strategies).await,
            _ = shutdown.wait() => return,
        }
    }
}

struct CalculationLoop {
    store: Arc<dyn SamplingStore>,
    aggregator: Arc<ThroughputAggregator>,
    strategies: AdaptiveStrategies,
    leadership: Leadership,
    holder: String,
    interval: Duration,
    delay: Duration,
    calculator: Calculator,
    /// What this collector wrote last, while it stays leader; `None` makes the next round
    /// start from the store's latest record.
    last_probabilities: Option<sextant_storage::sampling::ServiceOperationValues>,
}

impl CalculationLoop {
    async fn run(mut self, shutdown: Shutdown) {
        let mut last_checked = SystemTime::now()
            .checked_sub(self.delay)
            .unwrap_or(UNIX_EPOCH);
        self.initialize(last_checked).await;
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.wait() => {
                    // Hand this interval's counts over, so a restart loses none.
                    self.flush().await;
                    return;
                }
            }
            self.flush().await;
            let end = SystemTime::now()
                .checked_sub(self.delay)
                .unwrap_or(UNIX_EPOCH);
            if let Some(next) = self.round(last_checked, end).await {
                last_checked = next;
            }
        }
    }

    /// Jaeger's `initializeThroughput`: the history before `end`, one interval at a time,
    /// newest first, stopping at the first empty interval.
    async fn initialize(&mut self, mut end: SystemTime) {
        for _ in 0..self.calculator.options().aggregation_buckets {
            let Some(start) = end.checked_sub(self.interval) else {
                return;
            };
            match self
                .store
                .get_throughput(unix_nanos(start), unix_nanos(end))
                .await
            {
                Ok(t) if !t.is_empty() => {
                    self.calculator
                        .push_oldest(Bucket::aggregate(&t, self.interval));
                }
                Ok(_) => return,
                Err(e) => {
                    self.store_error("get_throughput", &e);
                    return;
                }
            }
            end = start;
        }
    }

    async fn flush(&self) {
        let throughput = self.aggregator.take();
        if throughput.is_empty() {
            return;
        }
        let now = unix_nanos(SystemTime::now());
        if let Err(e) = self.store.insert_throughput(now, throughput).await {
            self.store_error("insert_throughput", &e);
        }
    }

    /// One calculation over `[start, end)`; returns the new `last_checked`, or `None` when
    /// the throughput could not be read (the window is retried next time, as in Jaeger).
    async fn round(&mut self, start: SystemTime, end: SystemTime) -> Option<SystemTime> {
        let throughput = match self
            .store
            .get_throughput(unix_nanos(start), unix_nanos(end))
            .await
        {
            Ok(t) => t,
            Err(e) => {
                self.store_error("get_throughput", &e);
                METRICS.calculations.with_label_values(&["err"]).inc();
                return None;
            }
        };
        let interval = end.duration_since(start).unwrap_or(self.interval);
        self.calculator
            .push_newest(Bucket::aggregate(&throughput, interval));

        if !self.leadership.is_leader() {
            self.last_probabilities = None;
            METRICS.calculations.with_label_values(&["follower"]).inc();
            return Some(end);
        }
        let previous = match self.last_probabilities.take() {
            Some(p) => p,
            None => match self.store.get_latest_probabilities().await {
                Ok(record) => record.probabilities,
                Err(e) => {
                    self.store_error("get_latest_probabilities", &e);
                    METRICS.calculations.with_label_values(&["err"]).inc();
                    return Some(end);
                }
            },
        };
        let (probabilities, qps) = self.calculator.calculate(&previous);
        let operations: usize = probabilities.values().map(|ops| ops.len()).sum();
        METRICS
            .operations_calculated
            .set(i64::try_from(operations).unwrap_or(i64::MAX));
        let record = ProbabilitiesRecord {
            hostname: self.holder.clone(),
            probabilities: probabilities.clone(),
            qps,
        };
        match self.store.insert_probabilities(record).await {
            Ok(()) => {
                self.last_probabilities = Some(probabilities);
                METRICS.calculations.with_label_values(&["ok"]).inc();
                reload(self.store.as_ref(), &self.strategies).await;
            }
            Err(e) => {
                self.store_error("insert_probabilities", &e);
                METRICS.calculations.with_label_values(&["err"]).inc();
            }
        }
        Some(end)
    }

    fn store_error(&self, call: &str, e: &sextant_storage::StorageError) {
        METRICS.store_errors.with_label_values(&[call]).inc();
        tracing::warn!(error = %e, call, "adaptive sampling: sampling store call failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: AdaptiveArgs,
    }

    #[test]
    fn flag_defaults_are_jaegers() {
        let cli = Cli::try_parse_from(["x"]).unwrap();
        assert_eq!(cli.args, AdaptiveArgs::default());
        let cli = Cli::try_parse_from([
            "x",
            "--sampling.calculation-interval=500ms",
            "--sampling.delay=0s",
            "--sampling.target-samples-per-second=10",
        ])
        .unwrap();
        assert_eq!(cli.args.calculation_interval, Duration::from_millis(500));
        assert_eq!(cli.args.delay, Duration::ZERO);
        assert_eq!(cli.args.target_samples_per_second, 10.0);
        assert!(Cli::try_parse_from(["x", "--sampling.aggregation-buckets=0"]).is_err());
    }

    #[test]
    fn nonsense_is_refused_at_start() {
        let mut a = AdaptiveArgs {
            calculation_interval: Duration::ZERO,
            ..AdaptiveArgs::default()
        };
        assert!(a.validate().is_err());
        a.calculation_interval = Duration::from_secs(1);
        a.initial_sampling_probability = 2.0;
        assert!(a.validate().is_err());
        a.initial_sampling_probability = 0.5;
        a.target_samples_per_second = f64::NAN;
        assert!(a.validate().is_err());
        a.target_samples_per_second = 1.0;
        assert!(a.validate().is_ok());
    }
}
