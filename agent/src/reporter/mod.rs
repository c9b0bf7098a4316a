//! Forwarding to the collectors: [`batcher`] joins decoded spans into per-process batches,
//! [`buffer`] holds encoded batches (bounded by bytes) until a sender takes them, and the
//! senders started here call api_v2 `PostSpans` on the [`peers`] round-robin.
//!
//! Failure handling, per attempt:
//! * the collector cannot be reached, or answers `Unavailable` / times out: that collector
//!   is skipped for a back-off (see [`peers`]) and the same batch goes at once to the next
//!   one; when every collector is backing off, the sender waits for the first to come back
//!   while new batches accumulate in the buffer (dropped and counted once it is full);
//! * any other transient error (`Internal`, `ResourceExhausted`, …): retried with
//!   exponential backoff up to `--reporter.grpc.retry.max` times, then dropped and counted;
//! * a refusal (`InvalidArgument`, …): dropped and counted at once — resending cannot help.
//!
//! So a batch is only lost to the agent's own decision (a full buffer, a refused or
//! persistently failing batch, the shutdown deadline), and each such loss is counted.

pub mod batcher;
pub mod buffer;
pub mod codec;
pub mod peers;
pub mod resolver;
pub mod target;

use std::sync::Arc;
use std::time::Duration;

use http::uri::PathAndQuery;
use sextant_common::shutdown::Shutdown;
use tokio::task::JoinHandle;
use tonic::{Code, Request, Status};

use crate::metrics::{FORMAT, METRICS};
use buffer::{ReadyBatch, SendBuffer};
use peers::Peers;
use resolver::Resolver;
use target::Target;

/// First retry delay after a server-side error; doubled per attempt up to the cap.
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

pub struct SenderConfig {
    pub concurrency: usize,
    pub retry_max: u32,
}

/// Starts `concurrency` senders draining `buffer` into `peers`. They end once the buffer
/// is closed and empty.
pub fn start_senders(
    peers: Arc<Peers>,
    buffer: Arc<SendBuffer>,
    config: &SenderConfig,
) -> Vec<JoinHandle<()>> {
    (0..config.concurrency.max(1))
        .map(|_| {
            let peers = peers.clone();
            let buffer = buffer.clone();
            let retry_max = config.retry_max;
            tokio::spawn(async move {
                while let Some(batch) = buffer.pop().await {
                    METRICS
                        .buffer_bytes
                        .set(i64::try_from(buffer.bytes()).unwrap_or(i64::MAX));
                    send(&peers, batch, retry_max).await;
                }
            })
        })
        .collect()
}

/// Keeps a `dns:///` target's peer set current until shutdown. Resolution failures keep
/// the last known set (a DNS hiccup must not empty it).
pub fn start_discovery(
    target: &Target,
    peers: Arc<Peers>,
    resolver: Arc<dyn Resolver>,
    every: Duration,
    shutdown: Shutdown,
) -> Option<JoinHandle<()>> {
    let Target::Dns { host, port } = target.clone() else {
        return None;
    };
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.wait() => break,
                _ = tick.tick() => {}
            }
            resolve_into(&host, port, &*resolver, &peers).await;
        }
    }))
}

/// Resolves `host` once and installs the result; failures and empty answers are logged and
/// counted, keeping the current peers.
pub async fn resolve_into(host: &str, port: u16, resolver: &dyn Resolver, peers: &Peers) {
    match resolver.resolve(host, port).await {
        Ok(addrs) if !addrs.is_empty() => {
            if let Err(e) = peers.set_resolved(&addrs) {
                tracing::warn!(error = %e, "cannot use resolved collectors");
            }
        }
        Ok(_) => {
            METRICS.resolve_failures.inc();
            tracing::warn!(%host, "collector name resolves to no address; keeping the last set");
        }
        Err(e) => {
            METRICS.resolve_failures.inc();
            tracing::warn!(%host, error = %e, "cannot resolve collector name; keeping the last set");
        }
    }
}

async fn send(peers: &Peers, batch: ReadyBatch, retry_max: u32) {
    let m = &*METRICS;
    let n = u64::try_from(batch.spans).unwrap_or(u64::MAX);
    let mut server_errors = 0u32;
    let mut backoff = INITIAL_BACKOFF;
    loop {
        let Some(peer) = peers.pick() else {
            tokio::time::sleep(peers.wait_hint()).await;
            continue;
        };
        match post(&peer.channel, batch.request.clone()).await {
            Ok(()) => {
                peers.mark_ok(&peer);
                m.batches_submitted.with_label_values(&[FORMAT]).inc();
                m.spans_submitted.with_label_values(&[FORMAT]).inc_by(n);
                m.batch_size
                    .with_label_values(&[FORMAT])
                    .set(i64::try_from(batch.spans).unwrap_or(i64::MAX));
                return;
            }
            Err(status) if is_peer_failure(status.code()) => {
                peers.mark_failed(&peer);
                m.retries.with_label_values(&[FORMAT]).inc();
                tracing::debug!(collector = %peer.addr, code = ?status.code(), message = status.message(), "collector unreachable; trying another");
            }
            Err(status) if is_retryable(status.code()) && server_errors < retry_max => {
                server_errors = server_errors.saturating_add(1);
                m.retries.with_label_values(&[FORMAT]).inc();
                tracing::debug!(collector = %peer.addr, code = ?status.code(), message = status.message(), attempt = server_errors, "forward failed, retrying");
                tokio::time::sleep(backoff).await;
                backoff = backoff.saturating_mul(2).min(MAX_BACKOFF);
            }
            Err(status) => {
                m.batches_failures.with_label_values(&[FORMAT]).inc();
                m.spans_failures.with_label_values(&[FORMAT]).inc_by(n);
                tracing::warn!(
                    collector = %peer.addr,
                    code = ?status.code(),
                    message = status.message(),
                    spans = batch.spans,
                    "collector refused spans; dropped"
                );
                return;
            }
        }
    }
}

async fn post(channel: &tonic::transport::Channel, request: bytes::Bytes) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("collector not ready: {e}")))?;
    grpc.unary(
        Request::new(request),
        PathAndQuery::from_static(codec::POST_SPANS),
        codec::PreEncoded,
    )
    .await
    .map(|_| ())
}

/// The collector (or the way to it) is gone or overloaded: try another one.
fn is_peer_failure(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled
    )
}

/// A server-side failure that may go away on its own. A refused payload (InvalidArgument)
/// would be refused again, so it is not retried.
fn is_retryable(code: Code) -> bool {
    matches!(
        code,
        Code::ResourceExhausted | Code::Aborted | Code::Unknown | Code::Internal
    )
}
