//! Plumbing shared by every Sextant binary, with one home each:
//! [`admin`] (health + Prometheus `/metrics`), [`metrics`] (registering on the registry
//! `/metrics` renders), [`logging`], [`shutdown`], [`net`] (Jaeger's `host:port` flag syntax),
//! and (feature `mimalloc`) [`alloc`], the server binaries' allocator.

pub mod admin;
#[cfg(feature = "mimalloc")]
pub mod alloc;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod service;
pub mod shutdown;
