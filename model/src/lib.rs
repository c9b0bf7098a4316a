//! Sextant's single span model and every wire-format conversion into and out of it.
//!
//! No other crate converts wire formats: receivers call a decoder here, the query service
//! calls an encoder here, storage backends with Jaeger's v1 layout use [`jaeger`].

pub mod api_v2;
pub mod api_v2_decode;
pub mod error;
pub mod es_json;
pub mod go_duration;
pub mod jaeger;
pub mod kafka;
pub mod otlp;
pub mod otlp_decode;
pub mod otlp_json;
mod proto_json;
mod protowire;
pub mod sampling_json;
pub mod span;
pub mod thrift;
pub mod ui_json;
pub mod zipkin;

pub use error::DecodeError;
pub use span::*;
