//! `tracegen`: realistic synthetic traces for load tests and benchmarks.
//!
//! * [`topology`] — the simulated system (an online shop of 14 services: HTTP, gRPC,
//!   PostgreSQL, Redis, Kafka);
//! * [`generate`] — deterministic traces from it (10–200 spans, errors, events);
//! * [`send`] — one connection in OTLP gRPC / OTLP HTTP / Jaeger gRPC / agent UDP;
//! * [`load`] — concurrent, paced sending with sent/acknowledged counts;
//! * [`bench`] — the embedded-store benchmark driving a real `sextant`.

pub mod bench;
pub mod generate;
pub mod load;
pub mod rng;
pub mod send;
pub mod topology;

pub use generate::Generator;
pub use load::{LoadConfig, Report};
pub use send::{Sender, WireProtocol};
