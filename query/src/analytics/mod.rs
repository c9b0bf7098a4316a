//! Computations over stored spans that Jaeger delegates elsewhere: the critical path of a
//! trace (Jaeger computes it in the UI) and Service Performance Monitoring metrics (Jaeger
//! reads them from Prometheus). Pure functions over the model; the HTTP handlers in
//! `crate::http` fetch the spans and shape the JSON.

pub mod critical_path;
pub mod spm;
