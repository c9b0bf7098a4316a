//! `sextant-query`: Jaeger's query service over any storage backend.
//!
//! The library is what the `sextant-query` binary and the all-in-one share: [`QueryArgs`]
//! (the flags, declared once), [`router`] (the HTTP API as an axum router, for embedding)
//! and [`run`] (bind HTTP and gRPC and serve until shutdown).
//!
//! * [`service`]: the one [`QueryService`] every API calls (archive fallback, adjusters,
//!   dependency merging, metrics).
//! * [`http`]: the JSON APIs (v1, v3, archive, SPM, critical path); [`grpc`]: api_v2 and
//!   api_v3 `QueryService` with reflection.
//! * [`adjusters`]: Jaeger's read-time trace fixes; [`analytics`]: critical path and SPM.
//!
//! Endpoint shapes and decisions are documented in `docs/query.md`.

pub mod adjusters;
pub mod analytics;
pub mod args;
pub mod error;
pub mod grpc;
pub mod http;
pub mod metrics;
mod server;
pub mod service;

pub use args::QueryArgs;
pub use error::QueryError;
pub use server::{router, run, service as build_service, RunningQuery};
pub use service::{QueryService, Stores};
