//! `POST /api/archive/{traceID}`: copies a trace into the archive store (Jaeger's
//! `archiveTrace`). Answers `{"data": [], …, "errors": []}` on success, 404 for an unknown
//! trace, and 500 "archive span storage was not configured" when the backend has no archive.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use sextant_model::TraceId;

use super::params::Params;
use super::response::{json_response, ApiError, Envelope};
use super::ApiState;
use crate::service::ArchiveError;

pub fn routes() -> Router<ApiState> {
    Router::new().route("/api/archive/{trace_id}", post(archive))
}

async fn archive(
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
    match st.service.archive_trace(id).await {
        Ok(()) => {
            let mut body = Envelope::new(Vec::<String>::new());
            body.errors = Some(Vec::new());
            json_response(StatusCode::OK, &body, params.pretty())
        }
        Err(ArchiveError::NotFound) => {
            ApiError::not_found(super::api_v1::TRACE_NOT_FOUND).into_response()
        }
        Err(ArchiveError::NotConfigured) => {
            ApiError::internal(ArchiveError::NotConfigured.to_string()).into_response()
        }
        Err(ArchiveError::Storage(e)) => ApiError::from(e).into_response(),
    }
}
