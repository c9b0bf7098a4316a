//! Why the query service could not start.

use std::net::SocketAddr;

use sextant_common::net::HostPortError;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    InvalidHostPort(#[from] HostPortError),
    #[error("invalid --query.base-path {path:?}: {reason}")]
    InvalidBasePath { path: String, reason: String },
    #[error("invalid --query.cors.* value: {0}")]
    InvalidCors(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}
