//! The archive over the remote storage API: `ArchiveSpanWriterPlugin/WriteArchiveSpan` and
//! `ArchiveSpanReaderPlugin/GetArchiveTrace`, the store Jaeger's "archive trace" copies a
//! trace into when its primary storage is `grpc`.
//!
//! The archive API can write spans and fetch traces by ID, nothing else: searches, services,
//! operations and dependencies of the archive are empty (Jaeger reads the archive only by
//! trace ID too). A server without an archive answers `UNIMPLEMENTED`: a write reports it as
//! Jaeger's "archive span storage was not configured"; a read finds nothing there, so a
//! query service in front of such a server (`jaeger-remote-storage` has no archive) still
//! answers 404 for an unknown trace instead of failing its archive fallback. The server
//! side is
//! [`super::server::RemoteStorageServer::with_archive`].

use std::time::Duration;

use async_trait::async_trait;
use sextant_model::{Span, SpanKind, Trace, TraceId};
use sextant_proto::jaeger::storage::v1::{
    archive_span_reader_plugin_client::ArchiveSpanReaderPluginClient,
    archive_span_writer_plugin_client::ArchiveSpanWriterPluginClient,
};
use tonic::transport::Channel;
use tonic::{Code, Status};

use super::client::{get_each, purge_unsupported, write_each};
use super::MAX_MESSAGE_BYTES;
use crate::{
    DependencyLink, DependencyReader, Operation, Purger, Result, SpanReader, SpanWriter, TraceQuery,
};

/// The message a missing archive is reported with, as Jaeger words it.
pub const NOT_CONFIGURED: &str = "archive span storage was not configured";

/// The archive store of a remote storage server.
pub struct GrpcArchiveClient {
    writer: ArchiveSpanWriterPluginClient<Channel>,
    reader: ArchiveSpanReaderPluginClient<Channel>,
}

impl GrpcArchiveClient {
    pub fn new(channel: Channel) -> Self {
        GrpcArchiveClient {
            writer: ArchiveSpanWriterPluginClient::new(channel.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            reader: ArchiveSpanReaderPluginClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        }
    }
}

/// `UNIMPLEMENTED` from an archive call means the server has no archive.
fn not_configured(s: Status) -> Status {
    if s.code() == Code::Unimplemented {
        Status::failed_precondition(NOT_CONFIGURED)
    } else {
        s
    }
}

#[async_trait]
impl SpanWriter for GrpcArchiveClient {
    async fn write_spans(&self, spans: Vec<Span>) -> Result<()> {
        write_each(spans, "WriteArchiveSpan", |request| {
            let mut client = self.writer.clone();
            async move {
                client
                    .write_archive_span(request)
                    .await
                    .map_err(not_configured)
            }
        })
        .await
    }
}

#[async_trait]
impl SpanReader for GrpcArchiveClient {
    async fn get_traces(&self, ids: &[TraceId]) -> Result<Vec<Trace>> {
        get_each(ids, "GetArchiveTrace", |request| {
            let mut client = self.reader.clone();
            async move {
                client.get_archive_trace(request).await.map_err(|s| {
                    if s.code() == Code::Unimplemented {
                        Status::not_found("no archive")
                    } else {
                        s
                    }
                })
            }
        })
        .await
    }

    async fn get_services(&self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    async fn get_operations(&self, _: &str, _: Option<SpanKind>) -> Result<Vec<Operation>> {
        Ok(Vec::new())
    }

    async fn find_trace_ids(&self, _: &TraceQuery) -> Result<Vec<TraceId>> {
        Ok(Vec::new())
    }
}

#[async_trait]
impl DependencyReader for GrpcArchiveClient {
    async fn get_dependencies(&self, _: u64, _: Duration) -> Result<Vec<DependencyLink>> {
        Ok(Vec::new())
    }
}

#[async_trait]
impl Purger for GrpcArchiveClient {
    async fn purge(&self) -> Result<()> {
        Err(purge_unsupported())
    }
}
