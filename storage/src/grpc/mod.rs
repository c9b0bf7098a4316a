//! Jaeger's gRPC Remote Storage API (`jaeger.storage.v1`), both sides.
//!
//! * [`client`]: the `grpc` span storage backend (Jaeger's `SPAN_STORAGE_TYPE=grpc` with
//!   `--grpc-storage.server=host:17271`): every trait call becomes an RPC to a remote
//!   storage server. Built by [`connect`] from [`GrpcStorageArgs`].
//! * [`server`]: any [`Storage`] served through those RPCs; the `sextant-remote-storage`
//!   binary is a thin wrapper around it. This is how separate collector and query
//!   processes share one single-node store (memory, embedded).
//!
//! Both sides are wire-compatible with Jaeger's: a Jaeger query can read a Sextant remote
//! storage, and Sextant can use `jaeger-remote-storage`. Spans travel as Jaeger api_v2
//! spans, converted by `sextant_model::api_v2` — so what survives the trip is what the
//! Jaeger v1 model holds (the same as for the Cassandra and Elasticsearch layouts).
//!
//! Decisions a reader may ask about:
//! * Errors: `InvalidQuery` ⇄ `INVALID_ARGUMENT`, `Overloaded` ⇄ `RESOURCE_EXHAUSTED`,
//!   `Backend` → `INTERNAL`; any other status (including `UNAVAILABLE`, which is what a
//!   connection failure looks like) becomes `Backend`. An unknown trace is `NOT_FOUND` on
//!   the wire and simply absent from `get_traces`.
//! * Purge: the API has none, so [`client::GrpcClient`]'s `purge` is an error; tests purge
//!   the server's store directly.
//! * Archive: the server serves the archive services when given an archive store (the
//!   `sextant-remote-storage` binary always builds one, the same kind as its primary);
//!   [`connect_archive`] is the `grpc` backend's archive, used by the query service.
//! * TLS is not implemented (`--grpc-storage.tls.*` flags are not accepted).

mod archive;
mod args;
pub mod chunks;
pub mod client;
mod convert;
pub mod server;

use std::sync::Arc;

use tonic::transport::Endpoint;

pub use archive::GrpcArchiveClient;
pub use args::GrpcStorageArgs;
pub use client::GrpcClient;
pub use server::{serve, serve_server, RemoteStorageServer};

use crate::{Storage, StorageError};

/// The largest gRPC message either side accepts (a chunk of spans, one written span):
/// well above the ~3 MiB chunks our server sends and the 4 MiB a Jaeger peer sends at most.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Jaeger's remote storage port.
pub const DEFAULT_PORT: u16 = 17271;

/// Builds the `grpc` backend. The connection is made lazily (and remade after failures) by
/// the first call, so a collector or query may start before its remote storage server;
/// until the server answers, calls fail with [`StorageError::Backend`].
pub async fn connect(args: &GrpcStorageArgs) -> Result<Storage, StorageError> {
    let channel = channel(args)?;
    tracing::info!("using remote span storage over gRPC");
    Ok(Storage::from_backend(Arc::new(GrpcClient::new(channel))))
}

/// The archive of the remote storage server (its `ArchiveSpan*Plugin` services), over a
/// lazy connection like [`connect`]'s.
pub async fn connect_archive(args: &GrpcStorageArgs) -> Result<Storage, StorageError> {
    let channel = channel(args)?;
    Ok(Storage::from_backend(Arc::new(GrpcArchiveClient::new(
        channel,
    ))))
}

fn channel(args: &GrpcStorageArgs) -> Result<tonic::transport::Channel, StorageError> {
    let server = args.server.as_deref().unwrap_or_default().trim();
    if server.is_empty() {
        return Err(StorageError::Backend(
            "--grpc-storage.server (GRPC_STORAGE_SERVER) is required for grpc span storage"
                .to_string(),
        ));
    }
    let uri = if server.contains("://") {
        server.to_string()
    } else {
        format!("http://{server}")
    };
    let endpoint = Endpoint::from_shared(uri).map_err(|e| {
        StorageError::Backend(format!("invalid --grpc-storage.server {server:?}: {e}"))
    })?;
    Ok(endpoint
        .connect_timeout(args.connection_timeout)
        .connect_lazy())
}
