//! Forwards decoded spans to a collector with api_v2 gRPC `PostSpans`, retrying transient
//! failures with exponential backoff and, once retries are exhausted, dropping the batch
//! and counting it (`reporter_batches_failures`, `reporter_spans_failures`).
//!
//! The connection is lazy: the agent starts (and keeps receiving) while the collector is
//! down, and reconnects when it comes back. A single `host:port` for now; lists and DNS
//! discovery come later.

use std::time::Duration;

use sextant_model::thrift::group_by_process;
use sextant_model::Span;
use sextant_proto::jaeger::api_v2 as pb;
use sextant_proto::jaeger::api_v2::collector_service_client::CollectorServiceClient;
use tonic::transport::{Channel, Endpoint};
use tonic::Code;

use crate::metrics::METRICS;
use crate::AgentError;

/// The `format` label of the reporter metrics: these are Jaeger-model batches.
const FORMAT: &str = "jaeger";
/// Deadline of one `PostSpans` attempt.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// First retry delay; doubled per attempt, capped at [`MAX_BACKOFF`].
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct GrpcReporter {
    client: CollectorServiceClient<Channel>,
    retry_max: u32,
}

impl GrpcReporter {
    /// A reporter for the collector at `host_port` (`host:port`, no scheme). Does not
    /// connect yet.
    pub fn new(host_port: &str, retry_max: u32) -> Result<Self, AgentError> {
        let endpoint = Endpoint::from_shared(format!("http://{host_port}"))
            .map_err(|e| {
                AgentError::Reporter(format!(
                    "invalid --reporter.grpc.host-port {host_port:?}: {e}"
                ))
            })?
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .tcp_nodelay(true);
        Ok(GrpcReporter {
            client: CollectorServiceClient::new(endpoint.connect_lazy()),
            retry_max,
        })
    }

    /// Forwards the spans of one UDP packet: one `PostSpans` per distinct process (a thrift
    /// batch has one, so normally one call), with the process sent once per batch as Jaeger's
    /// agent does.
    pub async fn emit(&self, spans: &[Span]) {
        for (process, group) in group_by_process(spans) {
            let batch = pb::Batch {
                process: Some(sextant_model::api_v2::process_to_proto(&process)),
                spans: group
                    .iter()
                    .map(|s| {
                        let mut span = sextant_model::api_v2::span_to_proto(s);
                        span.process = None;
                        span
                    })
                    .collect(),
            };
            self.post_with_retry(batch, group.len()).await;
        }
    }

    async fn post_with_retry(&self, batch: pb::Batch, span_count: usize) {
        let m = &*METRICS;
        let n = u64::try_from(span_count).unwrap_or(u64::MAX);
        let mut backoff = INITIAL_BACKOFF;
        let mut attempt = 0u32;
        loop {
            let request = pb::PostSpansRequest {
                batch: Some(batch.clone()),
            };
            let mut client = self.client.clone();
            match client.post_spans(request).await {
                Ok(_) => {
                    m.batches_submitted.with_label_values(&[FORMAT]).inc();
                    m.spans_submitted.with_label_values(&[FORMAT]).inc_by(n);
                    m.batch_size
                        .with_label_values(&[FORMAT])
                        .set(i64::try_from(span_count).unwrap_or(i64::MAX));
                    return;
                }
                Err(status) if attempt < self.retry_max && is_retryable(status.code()) => {
                    attempt = attempt.saturating_add(1);
                    m.retries.with_label_values(&[FORMAT]).inc();
                    tracing::debug!(code = ?status.code(), message = status.message(), attempt, "forward failed, retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = backoff.saturating_mul(2).min(MAX_BACKOFF);
                }
                Err(status) => {
                    m.batches_failures.with_label_values(&[FORMAT]).inc();
                    m.spans_failures.with_label_values(&[FORMAT]).inc_by(n);
                    tracing::warn!(
                        code = ?status.code(),
                        message = status.message(),
                        spans = span_count,
                        "could not forward spans to the collector; dropped"
                    );
                    return;
                }
            }
        }
    }
}

/// Whether a failure may go away on its own. A refused payload (InvalidArgument) would be
/// refused again, so it is dropped at once.
fn is_retryable(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::ResourceExhausted
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::Cancelled
            | Code::Unknown
            | Code::Internal
    )
}
