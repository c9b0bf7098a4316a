//! Zipkin → internal model: what the collector's Zipkin receiver (port 9411) decodes.
//!
//! Every Zipkin wire format decodes *structurally* into one neutral Zipkin v2 span
//! (`v2::ZipkinSpan`, in `v2.rs`), and `convert.rs` holds the one *semantic* mapping from
//! that to [`Span`](crate::Span); `event.rs` unpacks annotations. The formats are v2 JSON
//! ([`decode_v2_json`]), v2 proto3 ([`decode_v2_proto`]), v1 JSON ([`decode_v1_json`]) and
//! v1 thrift ([`decode_v1_thrift`]); the v1 decoders read into `v1::V1Span`, which `v1.rs`
//! translates into `ZipkinSpan`s as Zipkin's own `V1SpanConverter` does, reusing the
//! mapping unchanged.
//!
//! The mapping follows the OpenTelemetry collector's Zipkin receiver
//! (`pkg/translator/zipkin/zipkinv2`), which is what Jaeger itself ingests Zipkin through.
//! Decisions a reader will ask about:
//!
//! * **IDs**: hex IDs may be shorter than their width (as zipkin-go accepts: `"2"` is a valid
//!   trace ID) but not longer (trace ≤ 32, span ≤ 16 digits); proto IDs are 8 or 16 bytes
//!   (trace) and 8 bytes (span). A zero trace or span ID is rejected, as Zipkin's server
//!   does. A parent ID equal to the span's own ID is dropped (with a warning), as OTel does.
//! * **Local endpoint → [`Resource`](crate::Resource)**: `serviceName` → `service_name` (left empty when
//!   absent: the collector's sanitizer names empty services, as Jaeger's does); the address
//!   becomes resource attributes `net.host.ip` (IPv4, else IPv6) and `net.host.port` (int).
//!   These are the keys OTel's receiver — hence Jaeger — uses, so tag searches keep working;
//!   they live on the resource because they describe the reporting host. When an endpoint
//!   carries both addresses, the IPv6 one is kept as `net.host.ipv6` rather than lost.
//!   Spans with equal local endpoints share one `Arc<Resource>`.
//! * **Remote endpoint → span attributes** `peer.service`, `net.peer.ip` (`net.peer.ipv6`
//!   when both are set) and `net.peer.port`; they replace a tag of the same key.
//! * **Tags** stay string attributes (OTel parses typed values only when configured to),
//!   sorted by key, last duplicate winning. The JSON decoder also accepts numbers and
//!   booleans as tag values, as their text. Lifted into typed fields and removed:
//!   `otel.status_code` / `otel.status_description` and `error` → [`Status`](crate::Status) (an `error`
//!   value other than `true` is the message, as Zipkin clients write it; `error=false` stays
//!   a tag), `w3c.tracestate` → trace state, `otel.scope.*` / `otel.library.*` → [`Scope`](crate::Scope),
//!   and — only when the span has no Zipkin `kind` — a `span.kind` tag → kind. Resource
//!   semantic-convention tags (`service.name`, `telemetry.sdk.*`, …) are *not* moved to the
//!   resource, unlike OTel's receiver: Zipkin tags are per span, and lifting them would make
//!   the resource depend on a semantic-conventions version list.
//! * **Annotations → [`Event`](crate::Event)s**: the value is the event name, except for the encodings
//!   OpenTelemetry exporters use for events with attributes, which are unpacked into name
//!   plus typed attributes: `{"name": {attrs}}` (Python SDK), `name: {attrs}` (Go SDK) and
//!   `name|{attrs}|dropped` (collector exporter).
//! * **Times**: microseconds → nanoseconds. A missing (or zero) start time stays 0 and the
//!   span gets the attribute [`ATTR_START_TIME_ABSENT`] = true, as OTel does; negative JSON
//!   values are clamped to 0 with a warning.
//! * **Flags**: bit 0 (sampled) is always set, because Zipkin reporters only report sampled
//!   spans; `debug` adds bit 1 (Jaeger's debug flag).
//! * **Shared** (`shared: true`, a server span reusing its client's span ID): marked with the
//!   span attribute [`ATTR_SHARED`] = true, so that the query side's span-ID de-duplication
//!   adjuster can tell the server half from the client half. OTel's receiver drops the flag.
//! * **Errors**: any malformed payload fails the whole batch with a [`DecodeError`](crate::DecodeError) (the
//!   receiver answers 400), as Jaeger's receiver does; decoders never panic.

mod convert;
mod event;
mod json;
mod proto;
mod v1;
mod v1_json;
mod v1_thrift;
mod v2;

pub use json::decode_v2_json;
pub use proto::decode_v2_proto;
pub use v1_json::decode_v1_json;
pub use v1_thrift::decode_v1_thrift;

/// Span attribute marking a Zipkin `shared` span (value `true`).
pub const ATTR_SHARED: &str = "zipkin.shared";
/// Span attribute marking a span whose Zipkin timestamp was absent (value `true`); the key
/// is OpenTelemetry's, so the marker means the same thing in both systems.
pub const ATTR_START_TIME_ABSENT: &str = "otel.zipkin.absentField.startTime";

pub const RESOURCE_HOST_IP: &str = "net.host.ip";
pub const RESOURCE_HOST_IPV6: &str = "net.host.ipv6";
pub const RESOURCE_HOST_PORT: &str = "net.host.port";
pub const ATTR_PEER_SERVICE: &str = "peer.service";
pub const ATTR_PEER_IP: &str = "net.peer.ip";
pub const ATTR_PEER_IPV6: &str = "net.peer.ipv6";
pub const ATTR_PEER_PORT: &str = "net.peer.port";
