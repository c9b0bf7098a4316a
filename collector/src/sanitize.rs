//! The sanitising every span gets before it is stored, whatever receiver it came through,
//! following Jaeger's standard sanitizers, each counted under
//! `sextant_collector_spans_sanitized_total{reason}`:
//!
//! * `empty_service_name`: an empty or blank service name becomes [`EMPTY_SERVICE_NAME`]
//!   (Jaeger's `emptyServiceNameSanitizer`).
//! * `negative_duration`: an end before the start is set to the start plus 1 ns with a span
//!   warning (Jaeger's `negativeDurationSanitizer` sets duration 1).
//! * `zero_trace_id` / `zero_span_id`: counted only, never repaired — a client's IDs are
//!   not the collector's to invent. Jaeger-format spans are then stored unchanged, as Jaeger
//!   does; OTLP spans are rejected one by one by the processor and reported in OTLP's
//!   `partial_success` (see [`crate::processor::Accepted`]).
//! * `decoder_warnings`: spans whose decoder tolerated a problem (invalid UTF-8 replaced,
//!   negative or overflowing times clamped, unparsable addresses dropped); the details are
//!   in the span's `warnings`, which the UI shows.

use std::sync::Arc;

use prometheus::IntCounterVec;
use sextant_model::{Resource, Span};

/// What Jaeger's empty-service-name sanitizer substitutes, so searches and the UI have a
/// service to list such spans under.
pub const EMPTY_SERVICE_NAME: &str = "empty-service-name";

/// Sanitises a batch in place, counting each repair by reason on `counter`.
///
/// Spans of one batch share their `Resource` through an `Arc`; the service-name repair
/// keeps that sharing (one new resource per distinct original) instead of cloning per span.
pub fn sanitize(spans: &mut [Span], counter: &IntCounterVec) {
    let mut counts = [0u64; 5];
    let mut last: Option<(*const Resource, Arc<Resource>)> = None;
    for span in spans.iter_mut() {
        if span.end_time_unix_nano < span.start_time_unix_nano {
            span.warnings.push(format!(
                "invalid negative duration {}ns, set to 1ns",
                i128::from(span.end_time_unix_nano) - i128::from(span.start_time_unix_nano)
            ));
            span.end_time_unix_nano = span.start_time_unix_nano.saturating_add(1);
            counts[1] += 1;
        }
        if span.trace_id.is_zero() {
            counts[2] += 1;
        }
        if span.span_id.is_zero() {
            counts[3] += 1;
        }
        if !span.warnings.is_empty() {
            counts[4] += 1;
        }
        if !span.resource.service_name.trim().is_empty() {
            continue;
        }
        counts[0] += 1;
        let original = Arc::as_ptr(&span.resource);
        let replacement = match &last {
            Some((ptr, fixed)) if *ptr == original => fixed.clone(),
            _ => {
                let mut fixed = (*span.resource).clone();
                fixed.service_name = EMPTY_SERVICE_NAME.to_string();
                let fixed = Arc::new(fixed);
                last = Some((original, fixed.clone()));
                fixed
            }
        };
        span.resource = replacement;
    }
    let reasons = [
        "empty_service_name",
        "negative_duration",
        "zero_trace_id",
        "zero_span_id",
        "decoder_warnings",
    ];
    for (reason, n) in reasons.iter().zip(counts) {
        if n > 0 {
            counter.with_label_values(&[reason]).inc_by(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_model::{SpanId, TraceId};

    fn counter() -> IntCounterVec {
        IntCounterVec::new(prometheus::Opts::new("t", "t"), &["reason"]).unwrap()
    }

    #[test]
    fn fills_empty_service_names_sharing_the_resource() {
        let empty = Arc::new(Resource::default());
        let named = Arc::new(Resource {
            service_name: "svc".into(),
            ..Resource::default()
        });
        let mut spans = vec![
            Span {
                resource: empty.clone(),
                ..Span::default()
            },
            Span {
                resource: empty.clone(),
                ..Span::default()
            },
            Span {
                resource: named.clone(),
                ..Span::default()
            },
        ];
        let c = counter();
        sanitize(&mut spans, &c);
        assert_eq!(spans[0].service_name(), EMPTY_SERVICE_NAME);
        assert!(Arc::ptr_eq(&spans[0].resource, &spans[1].resource));
        assert!(Arc::ptr_eq(&spans[2].resource, &named));
        assert_eq!(c.with_label_values(&["empty_service_name"]).get(), 2);
        assert_eq!(c.with_label_values(&["zero_trace_id"]).get(), 3);
    }

    #[test]
    fn negative_durations_are_repaired_and_counted() {
        let mut spans = vec![Span {
            trace_id: TraceId(1),
            span_id: SpanId(1),
            start_time_unix_nano: 100,
            end_time_unix_nano: 50,
            ..Span::default()
        }];
        let c = counter();
        sanitize(&mut spans, &c);
        assert_eq!(spans[0].end_time_unix_nano, 101);
        assert_eq!(spans[0].warnings.len(), 1);
        assert_eq!(c.with_label_values(&["negative_duration"]).get(), 1);
        assert_eq!(c.with_label_values(&["decoder_warnings"]).get(), 1);
    }
}
