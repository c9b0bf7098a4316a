//! The client side: a storage backend whose every call is a storage_v1 RPC to a remote
//! storage server (`sextant-remote-storage` or Jaeger's `jaeger-remote-storage`).
//!
//! Writes: `write_spans` opens one `WriteSpanStream` per batch and returns when the server
//! closes it with its response, which a server sends only after writing every span (Jaeger's
//! handler does too) — so `Ok` means every span is stored. Jaeger's own client keeps one
//! long-lived stream and never waits for that answer; we trade a stream per batch for the
//! acknowledgement our writer contract requires. A server whose capabilities deny streaming
//! (or that lacks the capabilities service) gets unary `WriteSpan` calls instead, at most
//! [`UNARY_WRITE_CONCURRENCY`] in flight, again returning once all are acknowledged.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use sextant_model::api_v2::{span_from_proto, span_to_proto, trace_id_from_bytes};
use sextant_model::{Span, SpanKind, Trace, TraceId};
use sextant_proto::jaeger::api_v2 as model_pb;
use sextant_proto::jaeger::storage::v1 as pb;
use sextant_proto::jaeger::storage::v1::{
    dependencies_reader_plugin_client::DependenciesReaderPluginClient,
    plugin_capabilities_client::PluginCapabilitiesClient,
    span_reader_plugin_client::SpanReaderPluginClient,
    span_writer_plugin_client::SpanWriterPluginClient,
    streaming_span_writer_plugin_client::StreamingSpanWriterPluginClient,
};
use tokio::sync::OnceCell;
use tonic::transport::Channel;
use tonic::{Code, Status, Streaming};

use super::convert::{
    error_from_status, kind_filter_to_wire, link_from_proto, query_to_proto, timestamp_from_ns,
};
use super::MAX_MESSAGE_BYTES;
use crate::{
    DependencyLink, DependencyReader, Operation, Purger, Result, SpanReader, SpanWriter,
    StorageError, TraceQuery,
};

/// Unary `WriteSpan` calls in flight for one batch, for servers without streaming writes.
pub const UNARY_WRITE_CONCURRENCY: usize = 16;
/// `GetTrace` calls in flight for one `get_traces`.
pub const GET_TRACE_CONCURRENCY: usize = 8;

/// How this client writes, decided once from the server's capabilities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WriteMode {
    Streaming,
    Unary,
}

/// A span storage backend over a gRPC channel to a remote storage server.
pub struct GrpcClient {
    writer: SpanWriterPluginClient<Channel>,
    streaming: StreamingSpanWriterPluginClient<Channel>,
    reader: SpanReaderPluginClient<Channel>,
    dependencies: DependenciesReaderPluginClient<Channel>,
    capabilities: PluginCapabilitiesClient<Channel>,
    /// Asked on the first write, not at start-up, so that a client may start before its
    /// server; a failed probe is not remembered and is retried on the next write.
    write_mode: OnceCell<WriteMode>,
}

impl GrpcClient {
    /// A client over `channel` (connected or lazy).
    pub fn new(channel: Channel) -> Self {
        GrpcClient {
            writer: SpanWriterPluginClient::new(channel.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            streaming: StreamingSpanWriterPluginClient::new(channel.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            reader: SpanReaderPluginClient::new(channel.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            dependencies: DependenciesReaderPluginClient::new(channel.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            capabilities: PluginCapabilitiesClient::new(channel),
            write_mode: OnceCell::new(),
        }
    }

    async fn write_mode(&self) -> Result<WriteMode> {
        let mode = self
            .write_mode
            .get_or_try_init(|| async {
                match self
                    .capabilities
                    .clone()
                    .capabilities(pb::CapabilitiesRequest {})
                    .await
                {
                    Ok(r) if r.get_ref().streaming_span_writer => Ok(WriteMode::Streaming),
                    Ok(_) => Ok(WriteMode::Unary),
                    // Plugins predating the capabilities service only write unary.
                    Err(s) if s.code() == Code::Unimplemented => Ok(WriteMode::Unary),
                    Err(s) => Err(error_from_status("Capabilities", &s)),
                }
            })
            .await?;
        Ok(*mode)
    }

    async fn write_streaming(&self, spans: Vec<Span>) -> Result<()> {
        // Converted lazily as tonic sends, so a batch is never held twice in wire form.
        let requests = futures::stream::iter(spans.into_iter().map(|s| pb::WriteSpanRequest {
            span: Some(span_to_proto(&s)),
        }));
        self.streaming
            .clone()
            .write_span_stream(requests)
            .await
            .map_err(|s| error_from_status("WriteSpanStream", &s))?;
        Ok(())
    }

    async fn write_unary(&self, spans: Vec<Span>) -> Result<()> {
        write_each(spans, "WriteSpan", |request| {
            let mut client = self.writer.clone();
            async move { client.write_span(request).await }
        })
        .await
    }
}

/// Writes every span with its own unary call (`WriteSpan`, `WriteArchiveSpan`), at most
/// [`UNARY_WRITE_CONCURRENCY`] in flight; returns once all are acknowledged.
pub(super) async fn write_each<F, Fut, R>(spans: Vec<Span>, rpc: &str, call: F) -> Result<()>
where
    F: Fn(pb::WriteSpanRequest) -> Fut,
    Fut: std::future::Future<Output = std::result::Result<R, Status>>,
{
    futures::stream::iter(spans)
        .map(|s| {
            call(pb::WriteSpanRequest {
                span: Some(span_to_proto(&s)),
            })
        })
        .buffer_unordered(UNARY_WRITE_CONCURRENCY)
        .map_err(|s| error_from_status(rpc, &s))
        .try_for_each(|_| futures::future::ready(Ok(())))
        .await
}

/// The traces with `ids`, in their order, fetched by one streamed `rpc` call each
/// (`GetTrace`, `GetArchiveTrace`), a few at a time; unknown ones are skipped.
pub(super) async fn get_each<F, Fut>(ids: &[TraceId], rpc: &str, call: F) -> Result<Vec<Trace>>
where
    F: Fn(pb::GetTraceRequest) -> Fut,
    Fut: std::future::Future<
        Output = std::result::Result<tonic::Response<Streaming<pb::SpansResponseChunk>>, Status>,
    >,
{
    // `buffered` keeps the order of `ids` while fetching several at once.
    let found: Vec<Option<Trace>> = futures::stream::iter(ids.iter().copied())
        .map(|id| {
            let answer = call(pb::GetTraceRequest {
                trace_id: id.to_bytes().to_vec(),
                // Unset: "any time", as a Go client's zero times say.
                start_time: None,
                end_time: None,
            });
            async move { read_trace(answer.await, rpc).await }
        })
        .buffered(GET_TRACE_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
}

/// One trace from a `GetTrace`-shaped answer, or `None` when the server does not know it.
async fn read_trace(
    answer: std::result::Result<tonic::Response<Streaming<pb::SpansResponseChunk>>, Status>,
    rpc: &str,
) -> Result<Option<Trace>> {
    let stream = match answer {
        Ok(r) => r.into_inner(),
        Err(s) if s.code() == Code::NotFound => return Ok(None),
        Err(s) => return Err(error_from_status(rpc, &s)),
    };
    let mut spans = Vec::new();
    match read_chunks(stream, rpc, |span| spans.push(span)).await {
        Ok(()) => {}
        // A streaming answer may report NOT_FOUND after its headers.
        Err(s) if s.code() == Code::NotFound => return Ok(None),
        Err(s) => return Err(error_from_status(rpc, &s)),
    }
    Ok((!spans.is_empty()).then_some(Trace { spans }))
}

/// Feeds every span of a chunk stream to `each`, decoded.
async fn read_chunks(
    mut stream: Streaming<pb::SpansResponseChunk>,
    rpc: &str,
    mut each: impl FnMut(Span),
) -> std::result::Result<(), Status> {
    while let Some(chunk) = stream.message().await? {
        for span in chunk.spans {
            each(decode_span(span, rpc)?);
        }
    }
    Ok(())
}

fn decode_span(span: model_pb::Span, rpc: &str) -> std::result::Result<Span, Status> {
    // Reported as INTERNAL, so it surfaces as a backend error: the server misbehaved.
    span_from_proto(span).map_err(|e| Status::internal(format!("{rpc} sent an invalid span: {e}")))
}

#[async_trait]
impl SpanWriter for GrpcClient {
    async fn write_spans(&self, spans: Vec<Span>) -> Result<()> {
        if spans.is_empty() {
            return Ok(());
        }
        match self.write_mode().await? {
            WriteMode::Streaming => self.write_streaming(spans).await,
            WriteMode::Unary => self.write_unary(spans).await,
        }
    }
}

#[async_trait]
impl SpanReader for GrpcClient {
    async fn get_traces(&self, ids: &[TraceId]) -> Result<Vec<Trace>> {
        get_each(ids, "GetTrace", |request| {
            let mut client = self.reader.clone();
            async move { client.get_trace(request).await }
        })
        .await
    }

    async fn get_services(&self) -> Result<Vec<String>> {
        let response = self
            .reader
            .clone()
            .get_services(pb::GetServicesRequest {})
            .await
            .map_err(|s| error_from_status("GetServices", &s))?;
        let mut services = response.into_inner().services;
        // The contract promises sorted names; a Jaeger server need not sort them.
        services.sort();
        services.dedup();
        Ok(services)
    }

    /// Reads `operations`; from an old server that fills only `operationNames`, every
    /// operation has the unspecified kind (as Jaeger's client does).
    async fn get_operations(
        &self,
        service: &str,
        span_kind: Option<SpanKind>,
    ) -> Result<Vec<Operation>> {
        let request = pb::GetOperationsRequest {
            service: service.to_string(),
            span_kind: kind_filter_to_wire(span_kind),
        };
        let response = self
            .reader
            .clone()
            .get_operations(request)
            .await
            .map_err(|s| error_from_status("GetOperations", &s))?
            .into_inner();
        let mut operations = if response.operations.is_empty() {
            response
                .operation_names
                .into_iter()
                .map(|name| Operation {
                    name,
                    span_kind: SpanKind::Unspecified,
                })
                .collect()
        } else {
            response
                .operations
                .into_iter()
                .map(|op| {
                    let span_kind = SpanKind::from_jaeger_str(&op.span_kind).ok_or_else(|| {
                        StorageError::Backend(format!(
                            "remote storage GetOperations: unknown span kind {:?}",
                            op.span_kind
                        ))
                    })?;
                    Ok(Operation {
                        name: op.name,
                        span_kind,
                    })
                })
                .collect::<Result<Vec<_>>>()?
        };
        operations.sort();
        operations.dedup();
        Ok(operations)
    }

    async fn find_trace_ids(&self, query: &TraceQuery) -> Result<Vec<TraceId>> {
        let request = pb::FindTraceIDsRequest {
            query: Some(query_to_proto(query)),
        };
        let response = self
            .reader
            .clone()
            .find_trace_i_ds(request)
            .await
            .map_err(|s| error_from_status("FindTraceIDs", &s))?;
        response
            .into_inner()
            .trace_ids
            .iter()
            .map(|b| {
                trace_id_from_bytes(b)
                    .map_err(|e| StorageError::Backend(format!("remote storage FindTraceIDs: {e}")))
            })
            .collect()
    }

    /// One `FindTraces` call. Spans are grouped by trace ID, traces kept in the order the
    /// server sent them (its newest-first order); a trace whose spans come back split, or
    /// interleaved with another's, is still returned whole and once.
    async fn find_traces(&self, query: &TraceQuery) -> Result<Vec<Trace>> {
        let request = pb::FindTracesRequest {
            query: Some(query_to_proto(query)),
        };
        let stream = self
            .reader
            .clone()
            .find_traces(request)
            .await
            .map_err(|s| error_from_status("FindTraces", &s))?
            .into_inner();
        let mut traces: Vec<Trace> = Vec::new();
        let mut index: HashMap<TraceId, usize> = HashMap::new();
        read_chunks(stream, "FindTraces", |span| {
            let slot = *index.entry(span.trace_id).or_insert_with(|| {
                traces.push(Trace::default());
                traces.len() - 1
            });
            if let Some(trace) = traces.get_mut(slot) {
                trace.spans.push(span);
            }
        })
        .await
        .map_err(|s| error_from_status("FindTraces", &s))?;
        Ok(traces)
    }
}

#[async_trait]
impl DependencyReader for GrpcClient {
    async fn get_dependencies(
        &self,
        end_time_unix_nano: u64,
        lookback: Duration,
    ) -> Result<Vec<DependencyLink>> {
        let lookback_ns = u64::try_from(lookback.as_nanos()).unwrap_or(u64::MAX);
        // A window reaching before 1970 is the same window starting at 1970.
        let start = end_time_unix_nano.saturating_sub(lookback_ns);
        let request = pb::GetDependenciesRequest {
            start_time: Some(timestamp_from_ns(start)),
            end_time: Some(timestamp_from_ns(end_time_unix_nano)),
        };
        let response = self
            .dependencies
            .clone()
            .get_dependencies(request)
            .await
            .map_err(|s| error_from_status("GetDependencies", &s))?;
        let mut links: Vec<DependencyLink> = response
            .into_inner()
            .dependencies
            .into_iter()
            .map(link_from_proto)
            .collect();
        links.sort();
        Ok(links)
    }
}

/// The remote storage API has no purge call (Jaeger purges its test stores out of band, via
/// its `storage_cleaner` extension), so purging must happen on the server's own store.
#[async_trait]
impl Purger for GrpcClient {
    async fn purge(&self) -> Result<()> {
        Err(purge_unsupported())
    }
}

pub(super) fn purge_unsupported() -> StorageError {
    StorageError::Backend(
        "purge is not supported over the remote storage API; purge the server's store".to_string(),
    )
}
