//! The global allocator of the Sextant binaries: mimalloc, without transparent huge pages.
//!
//! * mimalloc: glibc's malloc/free, with spans allocated on one thread and freed on
//!   another, were up to a third of the agent's, the collector's and the ingester's CPU
//!   (docs/benchmarks.md).
//! * `no_thp` (a cargo feature of mimalloc): with transparent huge pages the kernel zeroed
//!   2 MiB pages on every fault, which ate the gain, and the agent's idle RSS doubled.
//!
//! mimalloc's own settings (`MIMALLOC_*` in the environment) are left at their defaults;
//! its 1 s purge delay measured best for the ingester (10 ms cost ~12 % of its spans per
//! CPU-second).
//!
//! A binary opts in with
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: sextant_common::alloc::MiMalloc = sextant_common::alloc::MiMalloc;
//! ```

pub use mimalloc::MiMalloc;
