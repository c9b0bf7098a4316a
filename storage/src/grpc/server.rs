//! The server side: any [`Storage`] exposed through the storage_v1 gRPC services, as
//! `jaeger-remote-storage` does (`SpanWriterPlugin`, `StreamingSpanWriterPlugin`,
//! `SpanReaderPlugin`, `DependenciesReaderPlugin`, `PluginCapabilities`).
//!
//! With an archive store ([`RemoteStorageServer::with_archive`]) it also serves
//! `ArchiveSpanWriterPlugin` and `ArchiveSpanReaderPlugin` and says so in its capabilities;
//! without one, their calls answer `UNIMPLEMENTED`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sextant_model::api_v2::{span_from_proto, trace_id_from_bytes};
use sextant_model::Span;
use sextant_proto::jaeger::storage::v1 as pb;
use sextant_proto::jaeger::storage::v1::{
    archive_span_reader_plugin_server::{ArchiveSpanReaderPlugin, ArchiveSpanReaderPluginServer},
    archive_span_writer_plugin_server::{ArchiveSpanWriterPlugin, ArchiveSpanWriterPluginServer},
    dependencies_reader_plugin_server::{DependenciesReaderPlugin, DependenciesReaderPluginServer},
    plugin_capabilities_server::{PluginCapabilities, PluginCapabilitiesServer},
    span_reader_plugin_server::{SpanReaderPlugin, SpanReaderPluginServer},
    span_writer_plugin_server::{SpanWriterPlugin, SpanWriterPluginServer},
    streaming_span_writer_plugin_server::{
        StreamingSpanWriterPlugin, StreamingSpanWriterPluginServer,
    },
};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;
use tonic::{Request, Response, Status, Streaming};

use super::chunks::{self, ChunkStream};
use super::convert::{
    kind_filter_from_wire, link_to_proto, query_from_proto, status_from_error, timestamp_to_ns,
};
use super::MAX_MESSAGE_BYTES;
use crate::{Storage, StorageError};

/// Spans of a `WriteSpanStream` written to the store together: the stream is acknowledged
/// only at its end, so batching keeps per-write overhead low while bounding memory.
const STREAM_WRITE_BATCH: usize = 1000;

/// Serves one [`Storage`] over the remote storage API.
#[derive(Clone)]
pub struct RemoteStorageServer {
    storage: Storage,
    archive: Option<Storage>,
}

impl RemoteStorageServer {
    pub fn new(storage: Storage) -> Self {
        RemoteStorageServer {
            storage,
            archive: None,
        }
    }

    /// Serves `archive` through the archive services too.
    pub fn with_archive(mut self, archive: Option<Storage>) -> Self {
        self.archive = archive;
        self
    }

    fn archive(&self) -> Result<&Storage, Status> {
        self.archive.as_ref().ok_or_else(|| {
            Status::unimplemented("this remote storage server has no archive storage")
        })
    }

    /// Every served storage_v1 service, to add to a tonic server (alone or beside others).
    pub fn routes(self) -> Routes {
        let this = Arc::new(self);
        Routes::new(
            SpanWriterPluginServer::from_arc(this.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            StreamingSpanWriterPluginServer::from_arc(this.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            SpanReaderPluginServer::from_arc(this.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(DependenciesReaderPluginServer::from_arc(this.clone()))
        .add_service(
            ArchiveSpanWriterPluginServer::from_arc(this.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            ArchiveSpanReaderPluginServer::from_arc(this.clone())
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(PluginCapabilitiesServer::from_arc(this))
    }
}

/// Serves `storage` on `listener` until `shutdown` resolves; in-flight calls then finish.
pub async fn serve(
    listener: TcpListener,
    storage: Storage,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    serve_server(listener, RemoteStorageServer::new(storage), shutdown).await
}

/// Serves `server` (a store and, optionally, its archive) like [`serve`].
pub async fn serve_server(
    listener: TcpListener,
    server: RemoteStorageServer,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .add_routes(server.routes())
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
}

fn decode_span(req: pb::WriteSpanRequest) -> Result<Span, Status> {
    let span = req
        .span
        .ok_or_else(|| Status::invalid_argument("WriteSpanRequest without a span"))?;
    span_from_proto(span).map_err(|e| Status::invalid_argument(e.to_string()))
}

/// Reports a storage failure to the caller, logging the ones that are not the caller's fault.
fn storage_status(rpc: &str, e: StorageError) -> Status {
    if !matches!(e, StorageError::InvalidQuery(_)) {
        tracing::warn!(rpc, error = %e, "storage call failed");
    }
    status_from_error(e)
}

#[tonic::async_trait]
impl SpanWriterPlugin for RemoteStorageServer {
    async fn write_span(
        &self,
        request: Request<pb::WriteSpanRequest>,
    ) -> Result<Response<pb::WriteSpanResponse>, Status> {
        let span = decode_span(request.into_inner())?;
        self.storage
            .writer
            .write_spans(vec![span])
            .await
            .map_err(|e| storage_status("WriteSpan", e))?;
        Ok(Response::new(pb::WriteSpanResponse {}))
    }

    /// Nothing to flush per client: the store lives as long as the server.
    async fn close(
        &self,
        _request: Request<pb::CloseWriterRequest>,
    ) -> Result<Response<pb::CloseWriterResponse>, Status> {
        Ok(Response::new(pb::CloseWriterResponse {}))
    }
}

#[tonic::async_trait]
impl StreamingSpanWriterPlugin for RemoteStorageServer {
    /// Answers once every span of the stream is written; on an error the spans of earlier
    /// batches stay written (a retry rewrites them, which the writer contract makes harmless).
    async fn write_span_stream(
        &self,
        request: Request<Streaming<pb::WriteSpanRequest>>,
    ) -> Result<Response<pb::WriteSpanResponse>, Status> {
        let mut stream = request.into_inner();
        let mut batch = Vec::new();
        while let Some(req) = stream.message().await? {
            batch.push(decode_span(req)?);
            if batch.len() >= STREAM_WRITE_BATCH {
                self.storage
                    .writer
                    .write_spans(std::mem::take(&mut batch))
                    .await
                    .map_err(|e| storage_status("WriteSpanStream", e))?;
            }
        }
        if !batch.is_empty() {
            self.storage
                .writer
                .write_spans(batch)
                .await
                .map_err(|e| storage_status("WriteSpanStream", e))?;
        }
        Ok(Response::new(pb::WriteSpanResponse {}))
    }
}

#[tonic::async_trait]
impl SpanReaderPlugin for RemoteStorageServer {
    type GetTraceStream = ChunkStream;
    type FindTracesStream = ChunkStream;

    /// An unknown trace is `NOT_FOUND`, as Jaeger's server answers. The request's time
    /// range is a hint a Jaeger v1 store may use; every Sextant store finds a trace by ID
    /// alone, so it is ignored.
    async fn get_trace(
        &self,
        request: Request<pb::GetTraceRequest>,
    ) -> Result<Response<Self::GetTraceStream>, Status> {
        get_trace_from(&self.storage, request.into_inner(), "GetTrace").await
    }

    async fn get_services(
        &self,
        _request: Request<pb::GetServicesRequest>,
    ) -> Result<Response<pb::GetServicesResponse>, Status> {
        let services = self
            .storage
            .reader
            .get_services()
            .await
            .map_err(|e| storage_status("GetServices", e))?;
        Ok(Response::new(pb::GetServicesResponse { services }))
    }

    /// Fills both the deprecated `operationNames` (each name once) and `operations`, so that
    /// clients of either generation understand the answer.
    async fn get_operations(
        &self,
        request: Request<pb::GetOperationsRequest>,
    ) -> Result<Response<pb::GetOperationsResponse>, Status> {
        let req = request.into_inner();
        let kind = kind_filter_from_wire(&req.span_kind).map_err(status_from_error)?;
        let operations = self
            .storage
            .reader
            .get_operations(&req.service, kind)
            .await
            .map_err(|e| storage_status("GetOperations", e))?;
        let mut operation_names: Vec<String> =
            operations.iter().map(|op| op.name.clone()).collect();
        // Sorted by (name, kind), so repeated names are adjacent.
        operation_names.dedup();
        let operations = operations
            .into_iter()
            .map(|op| pb::Operation {
                name: op.name,
                span_kind: op.span_kind.as_jaeger_str().to_string(),
            })
            .collect();
        Ok(Response::new(pb::GetOperationsResponse {
            operation_names,
            operations,
        }))
    }

    async fn find_traces(
        &self,
        request: Request<pb::FindTracesRequest>,
    ) -> Result<Response<Self::FindTracesStream>, Status> {
        let query = query_from_proto(request.into_inner().query).map_err(status_from_error)?;
        let traces = self
            .storage
            .reader
            .find_traces(&query)
            .await
            .map_err(|e| storage_status("FindTraces", e))?;
        Ok(Response::new(chunks::stream(traces)))
    }

    async fn find_trace_i_ds(
        &self,
        request: Request<pb::FindTraceIDsRequest>,
    ) -> Result<Response<pb::FindTraceIDsResponse>, Status> {
        let query = query_from_proto(request.into_inner().query).map_err(status_from_error)?;
        let ids = self
            .storage
            .reader
            .find_trace_ids(&query)
            .await
            .map_err(|e| storage_status("FindTraceIDs", e))?;
        Ok(Response::new(pb::FindTraceIDsResponse {
            // Jaeger's TraceID is always 16 bytes on this wire.
            trace_ids: ids.into_iter().map(|id| id.to_bytes().to_vec()).collect(),
        }))
    }
}

#[tonic::async_trait]
impl DependenciesReaderPlugin for RemoteStorageServer {
    /// The window is `[start_time, end_time]`; a missing start means "since 1970".
    async fn get_dependencies(
        &self,
        request: Request<pb::GetDependenciesRequest>,
    ) -> Result<Response<pb::GetDependenciesResponse>, Status> {
        let req = request.into_inner();
        let invalid = |m: &str| Status::invalid_argument(m.to_string());
        let end = timestamp_to_ns(req.end_time, "end_time")
            .map_err(status_from_error)?
            .ok_or_else(|| invalid("end_time is required"))?;
        let start = timestamp_to_ns(req.start_time, "start_time")
            .map_err(status_from_error)?
            .unwrap_or(0);
        let lookback = end
            .checked_sub(start)
            .ok_or_else(|| invalid("start_time is after end_time"))?;
        let links = self
            .storage
            .dependencies
            .get_dependencies(end, Duration::from_nanos(lookback))
            .await
            .map_err(|e| storage_status("GetDependencies", e))?;
        Ok(Response::new(pb::GetDependenciesResponse {
            dependencies: links.into_iter().map(link_to_proto).collect(),
        }))
    }
}

#[tonic::async_trait]
// The archive flags are deprecated upstream, yet Jaeger's clients still read them.
#[allow(deprecated)]
impl PluginCapabilities for RemoteStorageServer {
    async fn capabilities(
        &self,
        _request: Request<pb::CapabilitiesRequest>,
    ) -> Result<Response<pb::CapabilitiesResponse>, Status> {
        let archive = self.archive.is_some();
        Ok(Response::new(pb::CapabilitiesResponse {
            streaming_span_writer: true,
            archive_span_reader: archive,
            archive_span_writer: archive,
        }))
    }
}

/// One trace of `store` as a chunk stream; an unknown trace is `NOT_FOUND`, as Jaeger's
/// server answers.
async fn get_trace_from(
    store: &Storage,
    request: pb::GetTraceRequest,
    rpc: &str,
) -> Result<Response<ChunkStream>, Status> {
    let id = trace_id_from_bytes(&request.trace_id)
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    let mut traces = store
        .reader
        .get_traces(&[id])
        .await
        .map_err(|e| storage_status(rpc, e))?;
    traces.retain(|t| !t.spans.is_empty());
    if traces.is_empty() {
        return Err(Status::not_found("trace not found"));
    }
    Ok(Response::new(chunks::stream(traces)))
}

#[tonic::async_trait]
impl ArchiveSpanWriterPlugin for RemoteStorageServer {
    async fn write_archive_span(
        &self,
        request: Request<pb::WriteSpanRequest>,
    ) -> Result<Response<pb::WriteSpanResponse>, Status> {
        let archive = self.archive()?;
        let span = decode_span(request.into_inner())?;
        archive
            .writer
            .write_spans(vec![span])
            .await
            .map_err(|e| storage_status("WriteArchiveSpan", e))?;
        Ok(Response::new(pb::WriteSpanResponse {}))
    }
}

#[tonic::async_trait]
impl ArchiveSpanReaderPlugin for RemoteStorageServer {
    type GetArchiveTraceStream = ChunkStream;

    async fn get_archive_trace(
        &self,
        request: Request<pb::GetTraceRequest>,
    ) -> Result<Response<ChunkStream>, Status> {
        get_trace_from(self.archive()?, request.into_inner(), "GetArchiveTrace").await
    }
}
