//! `GET /api/traces/{traceID}/critical-path`: the critical path of a trace (see
//! [`crate::analytics::critical_path`]) in Jaeger's envelope. Jaeger computes this in the
//! UI only; Sextant serves it for scripts and tools:
//!
//! ```json
//! {"data": [{"spanID": "…", "sectionStart": 1700000000000000, "sectionEnd": …}, …],
//!  "total": n, "limit": 0, "offset": 0, "errors": null}
//! ```
//!
//! Sections are in chronological order, times in Unix microseconds like the rest of the v1
//! API; a span can appear in several sections (before and after a child it waited for).
//! The trace is adjusted first (clock skew, shared IDs) unless `raw=true`. 404 for an
//! unknown trace.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use sextant_model::TraceId;

use super::api_v1::TRACE_NOT_FOUND;
use super::params::Params;
use super::response::{json_response, ApiError, Envelope};
use super::ApiState;
use crate::analytics::critical_path::critical_path;

pub fn routes() -> Router<ApiState> {
    Router::new().route("/api/traces/{trace_id}/critical-path", get(handler))
}

#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct SectionJson {
    #[serde(rename = "spanID")]
    pub span_id: String,
    #[serde(rename = "sectionStart")]
    pub section_start: u64,
    #[serde(rename = "sectionEnd")]
    pub section_end: u64,
}

async fn handler(
    State(st): State<ApiState>,
    trace_id: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = Params::parse(raw.as_deref());
    let id = match trace_id {
        Ok(Path(text)) => match text.parse::<TraceId>() {
            Ok(id) => id,
            Err(e) => return ApiError::bad_request(e.to_string()).into_response(),
        },
        Err(e) => return ApiError::bad_request(e.body_text()).into_response(),
    };
    match st.service.get_trace(id, params.raw()).await {
        Ok(Some(trace)) => {
            let data: Vec<SectionJson> = critical_path(&trace.spans)
                .into_iter()
                .map(|s| SectionJson {
                    span_id: s.span_id.to_string(),
                    section_start: s.start / 1000,
                    section_end: s.end / 1000,
                })
                .collect();
            let total = data.len();
            json_response(
                StatusCode::OK,
                &Envelope::new(data).with_total(total),
                params.pretty(),
            )
        }
        Ok(None) => ApiError::not_found(TRACE_NOT_FOUND).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
