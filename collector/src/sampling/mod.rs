//! Remote sampling: the strategies Jaeger SDKs and agents fetch, served over gRPC
//! (`jaeger.api_v2.SamplingManager/GetSamplingStrategy`, on the api_v2 gRPC port) and HTTP
//! (`GET /api/sampling?service=`, on the thrift HTTP port).
//!
//! [`file`] holds Jaeger's strategies file format and semantics, [`json`] the HTTP answer's
//! shape, [`grpc`] and [`http`] the two endpoints. [`SamplingProvider`] holds the current
//! strategies and, with `--sampling.strategies-reload-interval`, re-reads the file on that
//! interval and swaps in a changed version (a file that no longer parses is logged and the
//! last good version kept, as Jaeger does).

pub mod file;
pub mod grpc;
pub mod http;

use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use sextant_common::shutdown::Shutdown;
use sextant_proto::jaeger::api_v2::SamplingStrategyResponse;

use file::{Strategies, StrategiesError};

#[derive(clap::Args, Debug, Clone, Default)]
pub struct SamplingArgs {
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
}

/// The current strategies; cheap to clone and read concurrently.
#[derive(Clone, Default)]
pub struct SamplingProvider {
    current: Arc<RwLock<Arc<Strategies>>>,
}

impl SamplingProvider {
    /// Loads the configured file (a missing or invalid file fails start-up, as in Jaeger)
    /// and starts the reload task when an interval is set.
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

    pub fn set(&self, strategies: Strategies) {
        *self.current.write() = Arc::new(strategies);
    }

    /// The strategy for `service`.
    pub fn strategy(&self, service: &str) -> SamplingStrategyResponse {
        self.current.read().for_service(service).clone()
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
