//! Jaeger's response envelope, shared by every `/api/*` endpoint:
//! `{"data": …, "total": n, "limit": 0, "offset": 0, "errors": null | [{"code", "msg"}]}`.
//!
//! As in Jaeger, `total` is only filled in by the endpoints that list names (services,
//! operations); trace searches leave it 0. Errors always carry `code` and `msg`; the
//! per-trace "not found" entries of a search by IDs carry `msg` and `traceID` instead.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sextant_model::ui_json::{write_compact_traces, UiTraceRef};
use sextant_model::Trace;
use sextant_storage::StorageError;

#[derive(Serialize)]
pub struct Envelope<T> {
    pub data: T,
    pub total: usize,
    pub limit: usize,
    pub offset: usize,
    pub errors: Option<Vec<StructuredError>>,
}

impl<T> Envelope<T> {
    pub fn new(data: T) -> Self {
        Envelope {
            data,
            total: 0,
            limit: 0,
            offset: 0,
            errors: None,
        }
    }

    pub fn with_total(mut self, total: usize) -> Self {
        self.total = total;
        self
    }

    pub fn with_errors(mut self, errors: Vec<StructuredError>) -> Self {
        self.errors = if errors.is_empty() {
            None
        } else {
            Some(errors)
        };
        self
    }
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct StructuredError {
    #[serde(skip_serializing_if = "is_zero")]
    pub code: u16,
    pub msg: String,
    #[serde(rename = "traceID", skip_serializing_if = "String::is_empty")]
    pub trace_id: String,
}

fn is_zero(v: &u16) -> bool {
    *v == 0
}

/// Bytes of compact UI JSON per span, about what realistic spans take (measured by
/// `bench_query`: 525 for its generated 2-tag spans, 1,130 for tracegen's), so that
/// [`trace_json_capacity`] grows the buffer at most once.
const UI_JSON_BYTES_PER_SPAN: usize = 1280;

/// The buffer to reserve for an envelope of traces with `spans` spans in all: serde_json's
/// own `to_vec` starts at 128 bytes and doubles, which for a 20-span trace (~10 KB) is
/// seven reallocations, each copying what was written so far.
pub fn trace_json_capacity(spans: usize) -> usize {
    spans
        .saturating_mul(UI_JSON_BYTES_PER_SPAN)
        .saturating_add(256)
        .min(MAX_RESERVED_BYTES)
}

/// Beyond this the buffer grows as serde_json needs: an estimate must never be what makes
/// an allocation fail for a huge trace.
const MAX_RESERVED_BYTES: usize = 64 << 20;

/// Serializes an envelope; `pretty` follows Jaeger's `prettyPrint` (4-space indent).
pub fn json_response<T: Serialize>(status: StatusCode, body: &T, pretty: bool) -> Response {
    json_response_with_capacity(status, body, pretty, 0)
}

/// [`json_response`] into a buffer of `capacity` bytes (the expected size of the compact
/// JSON; pretty printing reserves twice that for the indentation). The buffer becomes the
/// response body as it is, without a copy.
pub fn json_response_with_capacity<T: Serialize>(
    status: StatusCode,
    body: &T,
    pretty: bool,
    capacity: usize,
) -> Response {
    let bytes = if pretty {
        let reserve = capacity.saturating_mul(2).clamp(128, MAX_RESERVED_BYTES);
        let mut out = Vec::with_capacity(reserve);
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        body.serialize(&mut ser).map(|()| out)
    } else {
        let mut out = Vec::with_capacity(capacity.clamp(128, MAX_RESERVED_BYTES));
        serde_json::to_writer(&mut out, body).map(|()| out)
    };
    match bytes {
        Ok(b) => json_bytes(status, b),
        // Our types always serialize; should one not, say so rather than send half a body.
        Err(e) => ApiError::internal(format!("cannot encode response: {e}")).into_response(),
    }
}

/// A `/api/traces` answer: the envelope of `traces` in the UI shape, with the per-ID
/// `errors` of a search by IDs (none: `"errors": null`).
///
/// The compact form (every request without `prettyPrint`) is written by the model's
/// direct UI JSON writer into a buffer sized from the span count: the same bytes as
/// serializing `Envelope<Vec<UiTraceRef>>` with serde_json, at a fraction of the cost;
/// `prettyPrint` keeps the serde path and its formatter.
pub fn traces_response(traces: &[Trace], errors: Vec<StructuredError>, pretty: bool) -> Response {
    let refs: Vec<UiTraceRef> = traces.iter().map(UiTraceRef::new).collect();
    let spans = traces.iter().map(|t| t.spans.len()).sum();
    let capacity = trace_json_capacity(spans);
    let body = Envelope::new(refs).with_errors(errors);
    if pretty {
        return json_response_with_capacity(StatusCode::OK, &body, true, capacity);
    }
    match compact_traces_envelope(&body, capacity) {
        Ok(b) => json_bytes(StatusCode::OK, b),
        Err(e) => ApiError::internal(format!("cannot encode response: {e}")).into_response(),
    }
}

/// `serde_json::to_vec(body)`, with the traces written directly.
fn compact_traces_envelope(
    body: &Envelope<Vec<UiTraceRef<'_>>>,
    capacity: usize,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(capacity.clamp(128, MAX_RESERVED_BYTES));
    out.extend_from_slice(b"{\"data\":");
    write_compact_traces(&body.data, &mut out);
    out.extend_from_slice(b",\"total\":");
    serde_json::to_writer(&mut out, &body.total)?;
    out.extend_from_slice(b",\"limit\":");
    serde_json::to_writer(&mut out, &body.limit)?;
    out.extend_from_slice(b",\"offset\":");
    serde_json::to_writer(&mut out, &body.offset)?;
    out.extend_from_slice(b",\"errors\":");
    serde_json::to_writer(&mut out, &body.errors)?;
    out.push(b'}');
    Ok(out)
}

fn json_bytes(status: StatusCode, bytes: Vec<u8>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}

/// A failed request: the status and the message that goes into `errors[0].msg`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub msg: String,
}

impl ApiError {
    pub fn bad_request(msg: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            msg: msg.into(),
        }
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            msg: msg.into(),
        }
    }
    pub fn internal(msg: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            msg: msg.into(),
        }
    }
}

impl From<StorageError> for ApiError {
    /// A query the backend refuses is the caller's fault (400); an overloaded backend is
    /// temporary (503); anything else is ours (500).
    fn from(e: StorageError) -> Self {
        let status = match &e {
            StorageError::InvalidQuery(_) => StatusCode::BAD_REQUEST,
            StorageError::Overloaded(_) => StatusCode::SERVICE_UNAVAILABLE,
            StorageError::Backend(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::error!(error = %e, "query failed in storage");
        }
        ApiError {
            status,
            msg: e.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status == StatusCode::BAD_REQUEST {
            crate::metrics::global().invalid_request();
        }
        let body = Envelope::new(()).with_errors(vec![StructuredError {
            code: self.status.as_u16(),
            msg: self.msg,
            trace_id: String::new(),
        }]);
        // `()` serializes as `null`, which is Jaeger's `"data": null`.
        match serde_json::to_vec(&body) {
            Ok(b) => (
                self.status,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                b,
            )
                .into_response(),
            Err(_) => self.status.into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(resp: Response) -> Vec<u8> {
        axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec()
    }

    /// Sizing the buffer changes no byte of the answer, whatever the hint.
    #[tokio::test]
    async fn capacity_hint_changes_nothing_but_the_buffer() {
        let body = Envelope::new(vec!["a\"b", "ü", "c"]).with_total(3);
        for pretty in [false, true] {
            let plain = body_of(json_response(StatusCode::OK, &body, pretty)).await;
            for capacity in [0, 1, 64, trace_json_capacity(3), usize::MAX] {
                let sized = json_response_with_capacity(StatusCode::OK, &body, pretty, capacity);
                assert_eq!(
                    body_of(sized).await,
                    plain,
                    "pretty {pretty}, capacity {capacity}"
                );
            }
        }
        assert_eq!(
            body_of(json_response(StatusCode::OK, &body, false)).await,
            r#"{"data":["a\"b","ü","c"],"total":3,"limit":0,"offset":0,"errors":null}"#.as_bytes()
        );
    }

    /// The directly written envelope of traces is byte for byte serde_json's, with and
    /// without per-ID errors, for no, one and several traces.
    #[tokio::test]
    async fn traces_envelope_matches_serde() {
        use std::sync::Arc;

        use sextant_model::{KeyValue, Resource, Span, SpanId, TraceId};

        let resource = Arc::new(Resource {
            service_name: "front\"end".into(),
            attributes: vec![KeyValue::new("hostname", "h1\u{2028}<&>")],
            ..Default::default()
        });
        let trace = |n: u64| Trace {
            spans: (1..=n)
                .map(|i| Span {
                    trace_id: TraceId(0xabc + u128::from(n)),
                    span_id: SpanId(i),
                    name: format!("op\t{i}"),
                    attributes: vec![KeyValue::new("n", i as i64)],
                    resource: resource.clone(),
                    ..Default::default()
                })
                .collect(),
        };
        let error = StructuredError {
            code: 0,
            msg: "trace not found".to_string(),
            trace_id: "ffff".into(),
        };
        for traces in [
            vec![],
            vec![trace(1)],
            vec![trace(3), Trace::default(), trace(2)],
        ] {
            for errors in [vec![], vec![error.clone(), error.clone()]] {
                let refs: Vec<UiTraceRef> = traces.iter().map(UiTraceRef::new).collect();
                let expected =
                    serde_json::to_vec(&Envelope::new(refs).with_errors(errors.clone())).unwrap();
                let got = body_of(traces_response(&traces, errors, false)).await;
                assert_eq!(
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(&expected)
                );
            }
        }
    }

    #[test]
    fn trace_capacity_grows_with_spans_and_is_capped() {
        assert!(trace_json_capacity(20) >= 20 * 400);
        assert!(trace_json_capacity(0) > 0);
        assert_eq!(trace_json_capacity(usize::MAX), MAX_RESERVED_BYTES);
    }
}
