//! `sextant-query`: Jaeger's query service over any storage backend.
//!
//! The library is what the `sextant-query` binary and the all-in-one share: [`QueryArgs`]
//! (the flags, declared once), [`router`] (the HTTP API as an axum router, for embedding) and
//! [`run`] (bind and serve until shutdown). Each API surface lives in its own module under
//! [`http`]; the JSON shapes come from `sextant_model::ui_json`.

pub mod args;
pub mod error;
pub mod http;
pub mod metrics;
mod server;

pub use args::QueryArgs;
pub use error::QueryError;
pub use server::{router, run, RunningQuery};
