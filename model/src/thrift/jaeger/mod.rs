//! Jaeger's `jaeger.thrift` `Batch` ⇄ the internal [`Span`], in one pass over the bytes.
//!
//! The structure is decoded here into [`JaegerSpan`]s; the semantic mapping (span kind,
//! status, references → parent and links, …) is [`JaegerSpan::into_span`]'s, shared with
//! every other Jaeger-shaped format. Field ids and types follow jaeger-idl's
//! `thrift/jaeger.thrift`.
//!
//! Behaviour worth knowing:
//! * Required fields (as the IDL marks them) must be present, as Jaeger's generated Go
//!   reader insists; a field of the wrong wire type is skipped like an unknown one.
//! * A non-zero `parentSpanId` without a `CHILD_OF` reference to it (same trace) becomes a
//!   `CHILD_OF` reference placed first, as Jaeger's `MaybeAddParentSpanID` does.
//! * Strings that are not UTF-8 are converted lossily (U+FFFD), like Jaeger's collector
//!   sanitizer; `binary` tag values are kept as bytes.
//! * A tag of unknown `vType` becomes a string tag describing the problem, as Jaeger does.
//! * The batch's process is decoded once and shared by every span through one `Arc`.
//! * On the way out, values thrift cannot type (arrays, maps, empty) become string tags with
//!   their JSON text; `parentSpanId` is written along with the full reference list.

mod read;
mod write;

use crate::span::Span;

pub(crate) use read::{read_batch, read_stats};
pub(crate) use write::write_batch;

// Thrift enum values from jaeger.thrift.
const TAG_STRING: i32 = 0;
const TAG_DOUBLE: i32 = 1;
const TAG_BOOL: i32 = 2;
const TAG_LONG: i32 = 3;
const TAG_BINARY: i32 = 4;
const REF_CHILD_OF: i32 = 0;
const REF_FOLLOWS_FROM: i32 = 1;

/// Jaeger clients' self-reported drop counters (`Batch.stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    pub full_queue_dropped_spans: i64,
    pub too_large_dropped_spans: i64,
    pub failed_to_emit_spans: i64,
}

/// The optional fields of a `Batch` beside its spans.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchMeta {
    /// The client's batch counter, for detecting lost UDP packets.
    pub seq_no: Option<i64>,
    pub stats: Option<ClientStats>,
}

/// A decoded `Batch`: its spans (all sharing the batch's process) and its optional fields.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DecodedBatch {
    pub spans: Vec<Span>,
    pub meta: BatchMeta,
}
