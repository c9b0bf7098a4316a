//! Remote sampling: the strategies Jaeger SDKs and agents fetch, served over gRPC
//! (`jaeger.api_v2.SamplingManager/GetSamplingStrategy`, on the api_v2 gRPC port) and HTTP
//! (`GET /api/sampling?service=`, on the thrift HTTP port).
//!
//! Two providers, chosen by `--sampling.config-type` as in Jaeger:
//! * `file` (default): [`file`] holds Jaeger's strategies file format and semantics. With
//!   `--sampling.strategies-reload-interval` the file is re-read on that interval and a
//!   changed version swapped in (a file that no longer parses is logged and the last good
//!   version kept, as Jaeger does).
//! * `adaptive`: [`adaptive`] steers per-operation probabilities from observed throughput
//!   toward `--sampling.target-samples-per-second`, with its state in a shared
//!   [`SamplingStore`].
//!
//! [`SamplingProvider`] is the one type [`grpc`] and [`http`] (the two endpoints) serve from,
//! whichever provider is behind it.

pub mod adaptive;
pub mod file;
pub mod grpc;
pub mod http;

use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use sextant_common::shutdown::Shutdown;
use sextant_proto::jaeger::api_v2::SamplingStrategyResponse;
use sextant_storage::sampling::SamplingStore;

use adaptive::ThroughputAggregator;
use file::{Strategies, StrategiesError};

/// `--sampling.config-type`: where strategies come from.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConfigType {
    /// A strategies file (or the built-in default without one).
    #[default]
    File,
    /// Adaptive sampling, calculated from observed throughput.
    Adaptive,
}

#[derive(clap::Args, Debug, Clone)]
pub struct SamplingArgs {
    /// Where sampling strategies come from: `file` (`--sampling.strategies-file`, or the
    /// built-in default) or `adaptive` (per-operation probabilities calculated from the
    /// observed traffic, see `--sampling.target-samples-per-second`).
    #[arg(
        id = "sampling.config-type",
        long = "sampling.config-type",
        env = "SAMPLING_CONFIG_TYPE",
        value_enum,
        default_value = "file"
    )]
    pub config_type: ConfigType,

    /// Path of a sampling strategies file in Jaeger's JSON format. Without one, every
    /// service is sampled probabilistically at 0.001.
    #[arg(
        id = "sampling.strategies-file",
        long = "sampling.strategies-file",
        env = "SAMPLING_STRATEGIES_FILE",
        default_value = ""
    )]
    pub strategies_file: String,

    /// How often to re-read the strategies file (e.g. `30s`, `1m`); `0` never.
    #[arg(
        id = "sampling.strategies-reload-interval",
        long = "sampling.strategies-reload-interval",
        env = "SAMPLING_STRATEGIES_RELOAD_INTERVAL",
        default_value = "0s",
        value_parser = sextant_model::go_duration::parse_flag
    )]
    pub reload_interval: Duration,

    #[command(flatten)]
    pub adaptive: adaptive::AdaptiveArgs,
}

impl Default for SamplingArgs {
    fn default() -> Self {
        SamplingArgs {
            config_type: ConfigType::File,
            strategies_file: String::new(),
            reload_interval: Duration::ZERO,
            adaptive: adaptive::AdaptiveArgs::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SamplingError {
    #[error("cannot read sampling strategies file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("sampling strategies file {path}: {source}")]
    Parse {
        path: String,
        source: StrategiesError,
    },
    #[error("adaptive sampling: {0}")]
    Adaptive(String),
}

/// The current strategies, from whichever provider is configured; cheap to clone and read
/// concurrently.
#[derive(Clone)]
pub struct SamplingProvider {
    source: Source,
}

#[derive(Clone)]
enum Source {
    File(Arc<RwLock<Arc<Strategies>>>),
    Adaptive(adaptive::AdaptiveStrategies),
}

impl Default for SamplingProvider {
    fn default() -> Self {
        SamplingProvider {
            source: Source::File(Arc::default()),
        }
    }
}

/// What [`start`] returns: the provider the endpoints serve, and (with adaptive sampling)
/// the aggregator the span processor feeds root spans to.
pub struct Sampling {
    pub provider: SamplingProvider,
    pub aggregator: Option<Arc<ThroughputAggregator>>,
}

/// Starts the provider `args` selects. `store` holds adaptive sampling's state (unused by
/// the file provider).
pub async fn start(
    args: &SamplingArgs,
    store: Arc<dyn SamplingStore>,
    shutdown: Shutdown,
) -> Result<Sampling, SamplingError> {
    match args.config_type {
        ConfigType::File => Ok(Sampling {
            provider: SamplingProvider::start(args, shutdown).await?,
            aggregator: None,
        }),
        ConfigType::Adaptive => {
            if !args.strategies_file.is_empty() {
                tracing::warn!(
                    "--sampling.strategies-file is ignored with --sampling.config-type=adaptive"
                );
            }
            let running = adaptive::start(&args.adaptive, store, shutdown).await?;
            Ok(Sampling {
                provider: SamplingProvider {
                    source: Source::Adaptive(running.strategies),
                },
                aggregator: Some(running.aggregator),
            })
        }
    }
}

impl SamplingProvider {
    /// The file provider: loads the configured file (a missing or invalid file fails
    /// start-up, as in Jaeger) and starts the reload task when an interval is set.
    pub async fn start(args: &SamplingArgs, shutdown: Shutdown) -> Result<Self, SamplingError> {
        let provider = SamplingProvider::default();
        if args.strategies_file.is_empty() {
            tracing::info!("no sampling strategies file, using defaults");
            return Ok(provider);
        }
        let path = args.strategies_file.clone();
        let bytes = read(&path).await?;
        provider.set(
            Strategies::parse(&bytes).map_err(|source| SamplingError::Parse {
                path: path.clone(),
                source,
            })?,
        );
        if !args.reload_interval.is_zero() {
            let interval = args.reload_interval;
            tokio::spawn(reload_loop(
                provider.clone(),
                path,
                interval,
                bytes,
                shutdown,
            ));
        }
        Ok(provider)
    }

    /// Replaces the file provider's strategies (ignored, with a warning, by the adaptive
    /// provider, whose strategies come from its store).
    pub fn set(&self, strategies: Strategies) {
        match &self.source {
            Source::File(current) => *current.write() = Arc::new(strategies),
            Source::Adaptive(_) => {
                tracing::warn!("static strategies ignored: sampling is adaptive")
            }
        }
    }

    /// The strategy for `service`.
    pub fn strategy(&self, service: &str) -> SamplingStrategyResponse {
        match &self.source {
            Source::File(current) => current.read().for_service(service).clone(),
            Source::Adaptive(strategies) => strategies.for_service(service),
        }
    }
}

async fn read(path: &str) -> Result<Vec<u8>, SamplingError> {
    tokio::fs::read(path)
        .await
        .map_err(|source| SamplingError::Read {
            path: path.to_string(),
            source,
        })
}

async fn reload_loop(
    provider: SamplingProvider,
    path: String,
    interval: Duration,
    mut last: Vec<u8>,
    shutdown: Shutdown,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.wait() => return,
        }
        let bytes = match read(&path).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "failed to re-load sampling strategies");
                continue;
            }
        };
        if bytes == last {
            continue;
        }
        match Strategies::parse(&bytes) {
            Ok(s) => {
                provider.set(s);
                tracing::info!(path, "updated sampling strategies");
                last = bytes;
            }
            Err(e) => tracing::error!(error = %e, path, "failed to update sampling strategies"),
        }
    }
}
