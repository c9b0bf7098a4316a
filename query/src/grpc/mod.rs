//! The gRPC query server (`--query.grpc-server.host-port`, Jaeger's 16685): api_v2 and
//! api_v3 `QueryService` over the same [`QueryService`], plus gRPC server reflection (v1
//! and v1alpha) so tools like grpcurl can discover them.
//!
//! Large traces are streamed in chunks bounded by encoded size ([`CHUNK_BYTES`]), so no
//! message comes near the 4 MiB default receive limit of gRPC clients, however big the
//! trace.

pub mod api_v2;
pub mod api_v3;

use sextant_storage::StorageError;
use tonic::service::Routes;
use tonic::Status;

use crate::service::QueryService;

/// Upper bound on the encoded spans of one streamed message.
pub const CHUNK_BYTES: usize = 1 << 20;

/// Bytes a repeated message field adds around each element: its tag and length prefix.
pub const FIELD_OVERHEAD: usize = 11;

/// Both query services and reflection, ready to be served.
pub fn routes(service: QueryService) -> Routes {
    let mut builder = Routes::builder();
    builder
        .add_service(api_v2::server(service.clone()))
        .add_service(api_v3::server(service));
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(sextant_proto::FILE_DESCRIPTOR_SET)
    };
    match reflection().build_v1() {
        Ok(v1) => {
            builder.add_service(v1);
        }
        Err(e) => tracing::warn!(error = %e, "gRPC reflection v1 unavailable"),
    }
    match reflection().build_v1alpha() {
        Ok(v1alpha) => {
            builder.add_service(v1alpha);
        }
        Err(e) => tracing::warn!(error = %e, "gRPC reflection v1alpha unavailable"),
    }
    builder.routes()
}

/// Splits items into consecutive runs whose summed `size` stays within [`CHUNK_BYTES`]
/// (a single larger item forms its own run). Never yields an empty run.
pub fn chunk_by_size<T>(items: Vec<T>, size: impl Fn(&T) -> usize) -> Vec<Vec<T>> {
    let mut chunks = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0usize;
    for item in items {
        let n = size(&item);
        if !current.is_empty() && bytes.saturating_add(n) > CHUNK_BYTES {
            chunks.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes = bytes.saturating_add(n);
        current.push(item);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// A storage failure as a gRPC status: the caller's fault is `InvalidArgument`, overload
/// `ResourceExhausted` (retryable), anything else `Internal`.
pub fn status(e: StorageError) -> Status {
    match e {
        StorageError::InvalidQuery(m) => {
            crate::metrics::global().invalid_request();
            Status::invalid_argument(m)
        }
        StorageError::Overloaded(m) => Status::resource_exhausted(m),
        StorageError::Backend(m) => {
            tracing::error!(error = %m, "query failed in storage");
            Status::internal(m)
        }
    }
}

pub fn invalid(msg: impl Into<String>) -> Status {
    crate::metrics::global().invalid_request();
    Status::invalid_argument(msg)
}

/// A protobuf timestamp as Unix nanoseconds (before 1970 clamps to 0).
pub fn timestamp_nanos(t: &prost_types::Timestamp) -> u64 {
    let ns = i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos);
    u64::try_from(ns.max(0)).unwrap_or(u64::MAX)
}

/// A protobuf duration in nanoseconds; `None` for zero or negative.
pub fn duration_nanos(d: &prost_types::Duration) -> Option<u64> {
    let ns = i128::from(d.seconds) * 1_000_000_000 + i128::from(d.nanos);
    u64::try_from(ns).ok().filter(|&v| v > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_the_byte_bound() {
        let chunks = chunk_by_size(vec![CHUNK_BYTES / 2; 5], |&n| n);
        assert_eq!(
            chunks.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![2, 2, 1]
        );
        let huge = chunk_by_size(vec![CHUNK_BYTES * 3, 1], |&n| n);
        assert_eq!(huge.len(), 2);
        assert!(chunk_by_size(Vec::<usize>::new(), |&n| n).is_empty());
    }
}
