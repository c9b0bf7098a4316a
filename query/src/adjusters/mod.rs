//! Adjusters: the fixes Jaeger's query service applies to every trace it returns, so that
//! the UI draws a consistent tree (jaeger `cmd/query/app/querysvc/adjusters.go`, and the
//! OTLP versions in `internal/jptrace/adjuster`). They live here, not in `sextant-model`,
//! because they are query-time behaviour over the model rather than a wire conversion.
//!
//! In Jaeger's order, each in its own file:
//! 1. [`uniquify`]: server spans sharing their ID with a Zipkin client span get a new ID.
//! 2. [`sort`]: attributes and events in a stable order (so duplicates compare equal).
//! 3. [`dedupe`]: identical copies of a span collapse into one.
//! 4. [`clock_skew`]: child spans from another host are moved into their parent's window.
//! 5. [`ip`]: integer IPv4 tags (`ip`, `peer.ipv4`) become dotted strings.
//! 6. [`otel_tags`]: OpenTelemetry SDK/library span tags moved to the process.
//! 7. [`references`]: empty links dropped, links without trace ID completed, self-parents
//!    removed.
//! 8. Spans ordered by start time (then span ID), so every API answers in the same order.
//!
//! Problems are reported in the span's `warnings`, which every output format carries.
//! Callers asking for raw traces (`raw=true`, `raw_traces`) skip all of this.

pub mod clock_skew;
pub mod dedupe;
pub mod ip;
pub mod otel_tags;
pub mod references;
pub mod sort;
pub mod uniquify;

use std::time::Duration;

use sextant_model::Trace;

/// The configured adjuster chain.
#[derive(Clone, Debug, Default)]
pub struct Adjusters {
    /// `--query.max-clock-skew-adjustment`; zero disables the correction (warnings only).
    pub max_clock_skew: Duration,
}

impl Adjusters {
    pub fn new(max_clock_skew: Duration) -> Self {
        Adjusters { max_clock_skew }
    }

    /// Applies every adjuster to `trace`, in place.
    pub fn adjust(&self, trace: &mut Trace) {
        let spans = &mut trace.spans;
        uniquify::uniquify_shared_span_ids(spans);
        sort::sort_collections(spans);
        dedupe::dedupe_identical(spans);
        clock_skew::correct(spans, self.max_clock_skew);
        ip::normalize_ip_attributes(spans);
        otel_tags::move_to_process(spans);
        references::repair(spans);
        spans.sort_by_key(|s| (s.start_time_unix_nano, s.span_id));
    }
}
