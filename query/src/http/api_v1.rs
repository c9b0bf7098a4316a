//! Jaeger's v1 JSON API, the one the Jaeger UI and Grafana's Jaeger data source call
//! (jaeger `cmd/query/app/http_handler.go`):
//!
//! | route | data |
//! | --- | --- |
//! | `GET /api/services` | service names |
//! | `GET /api/services/{service}/operations` | operation names (legacy) |
//! | `GET /api/operations?service=&spanKind=` | `[{"name", "spanKind"}]` |
//! | `GET /api/traces/{traceID}` | `[trace]`, 404 when unknown |
//! | `GET /api/traces?service=…` or `?traceID=…` | `[trace, …]` |
//! | `GET /api/dependencies?endTs=&lookback=` | `[{"parent", "child", "callCount"}]` |
//!
//! Bad parameters answer 400, storage failures 500 (see [`ApiError`]), both in the envelope.
//! Traces are written by [`traces_response`] straight from the stored spans with the UI
//! JSON writer (the same bytes as serializing `UiTrace::from_trace`, without building the
//! owned copy).

use std::collections::BTreeSet;
use std::time::SystemTime;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use sextant_model::TraceId;

use super::params::{
    parse_dependencies, parse_search, parse_span_kind, KindFilter, Params, SearchRequest,
};
use super::response::{json_response, traces_response, ApiError, Envelope, StructuredError};
use super::ApiState;

/// Jaeger's `spanstore.ErrTraceNotFound` text, which clients match on.
pub const TRACE_NOT_FOUND: &str = "trace not found";

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/services", get(services))
        .route("/api/services/{service}/operations", get(operations_legacy))
        .route("/api/operations", get(operations))
        .route("/api/traces", get(search))
        .route("/api/traces/{trace_id}", get(get_trace))
        .route("/api/dependencies", get(dependencies))
}

/// One entry of `/api/operations`.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct OperationJson {
    pub name: String,
    #[serde(rename = "spanKind")]
    pub span_kind: String,
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct DependencyLinkJson {
    pub parent: String,
    pub child: String,
    #[serde(rename = "callCount")]
    pub call_count: u64,
}

fn ok<T: Serialize>(params: &Params, body: Envelope<T>) -> Response {
    json_response(StatusCode::OK, &body, params.pretty())
}

async fn services(State(st): State<ApiState>, RawQuery(raw): RawQuery) -> Response {
    let params = Params::parse(raw.as_deref());
    let result = st.service.get_services().await;
    match result {
        Ok(services) => {
            let total = services.len();
            ok(&params, Envelope::new(services).with_total(total))
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn operations_legacy(
    State(st): State<ApiState>,
    service: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = Params::parse(raw.as_deref());
    let service = match service {
        Ok(Path(s)) => s,
        Err(e) => return ApiError::bad_request(e.body_text()).into_response(),
    };
    let result = st.service.get_operations(&service, None).await;
    match result {
        Ok(ops) => {
            // The legacy route lists names only, once each whatever their span kinds.
            let names: Vec<String> = ops
                .into_iter()
                .map(|op| op.name)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let total = names.len();
            ok(&params, Envelope::new(names).with_total(total))
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn operations(State(st): State<ApiState>, RawQuery(raw): RawQuery) -> Response {
    let params = Params::parse(raw.as_deref());
    let service = params.first("service");
    if service.is_empty() {
        return ApiError::bad_request("parameter 'service' is required").into_response();
    }
    let kind = match parse_span_kind(params.first("spanKind")) {
        KindFilter::All => None,
        KindFilter::Only(k) => Some(k),
        KindFilter::Unknown => {
            return ok(&params, Envelope::new(Vec::<OperationJson>::new()));
        }
    };
    let result = st.service.get_operations(service, kind).await;
    match result {
        Ok(ops) => {
            let data: Vec<OperationJson> = ops
                .into_iter()
                .map(|op| OperationJson {
                    name: op.name,
                    span_kind: op.span_kind.as_jaeger_str().to_string(),
                })
                .collect();
            let total = data.len();
            ok(&params, Envelope::new(data).with_total(total))
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn get_trace(
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
            traces_response(std::slice::from_ref(&trace), Vec::new(), params.pretty())
        }
        Ok(None) => ApiError::not_found(TRACE_NOT_FOUND).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn search(State(st): State<ApiState>, RawQuery(raw): RawQuery) -> Response {
    let params = Params::parse(raw.as_deref());
    let SearchRequest { query, trace_ids } = match parse_search(&params, SystemTime::now()) {
        Ok(r) => r,
        Err(e) => return ApiError::bad_request(e.0).into_response(),
    };
    let raw = params.raw();
    if trace_ids.is_empty() {
        return match st.service.find_traces(&query, raw).await {
            Ok(traces) => traces_response(&traces, Vec::new(), params.pretty()),
            Err(e) => ApiError::from(e).into_response(),
        };
    }
    match st.service.get_traces(&trace_ids, raw).await {
        Ok(traces) => {
            let found: BTreeSet<TraceId> = traces.iter().filter_map(|t| t.trace_id()).collect();
            // Jaeger reports each missing ID as an error entry next to the traces found.
            let errors = trace_ids
                .iter()
                .filter(|id| !found.contains(id))
                .map(|id| StructuredError {
                    code: 0,
                    msg: TRACE_NOT_FOUND.to_string(),
                    trace_id: id.to_jaeger_string(),
                })
                .collect();
            traces_response(&traces, errors, params.pretty())
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn dependencies(State(st): State<ApiState>, RawQuery(raw): RawQuery) -> Response {
    let params = Params::parse(raw.as_deref());
    let req = match parse_dependencies(&params, SystemTime::now()) {
        Ok(r) => r,
        Err(e) => return ApiError::bad_request(e.0).into_response(),
    };
    let result = st
        .service
        .get_dependencies(req.end_time_unix_nano, req.lookback)
        .await;
    match result {
        Ok(links) => {
            let data: Vec<DependencyLinkJson> = links
                .into_iter()
                .filter(|l| {
                    req.service.is_empty() || l.parent == req.service || l.child == req.service
                })
                .map(|l| DependencyLinkJson {
                    parent: l.parent,
                    child: l.child,
                    call_count: l.call_count,
                })
                .collect();
            ok(&params, Envelope::new(data))
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sextant_model::ui_json::{UiTrace, UiTraceRef};
    use sextant_model::{KeyValue, Resource, Span, SpanId, SpanKind, Trace};

    use super::*;

    fn envelope_bytes<T: Serialize>(body: &Envelope<T>, pretty: bool) -> Vec<u8> {
        if pretty {
            let mut out = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            body.serialize(&mut serde_json::Serializer::with_formatter(&mut out, fmt))
                .unwrap();
            out
        } else {
            serde_json::to_vec(body).unwrap()
        }
    }

    async fn response_bytes(resp: Response) -> Vec<u8> {
        axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec()
    }

    /// The handlers' envelopes of borrowed traces are byte for byte the envelopes of
    /// `UiTrace::from_trace` (the model crate tests the trace writer itself in depth).
    #[tokio::test]
    async fn borrowed_envelopes_match_owned_ones() {
        let resource = Arc::new(Resource {
            service_name: "frontend".into(),
            attributes: vec![KeyValue::new("hostname", "h1")],
            ..Default::default()
        });
        let trace = Trace {
            spans: (1..4u64)
                .map(|i| Span {
                    trace_id: TraceId(0xabc),
                    span_id: SpanId(i),
                    parent_span_id: SpanId(i - 1),
                    name: format!("op-{i}"),
                    kind: SpanKind::Server,
                    attributes: vec![KeyValue::new("n", i as i64)],
                    resource: resource.clone(),
                    ..Default::default()
                })
                .collect(),
        };
        let traces = [trace.clone(), Trace::default()];
        for pretty in [false, true] {
            assert_eq!(
                envelope_bytes(&Envelope::new([UiTraceRef::new(&trace)]), pretty),
                envelope_bytes(&Envelope::new(vec![UiTrace::from_trace(&trace)]), pretty),
            );
            let errors = vec![StructuredError {
                code: 0,
                msg: TRACE_NOT_FOUND.to_string(),
                trace_id: "ffff".into(),
            }];
            let borrowed: Vec<UiTraceRef> = traces.iter().map(UiTraceRef::new).collect();
            let owned: Vec<UiTrace> = traces.iter().map(UiTrace::from_trace).collect();
            let expected =
                envelope_bytes(&Envelope::new(owned).with_errors(errors.clone()), pretty);
            assert_eq!(
                envelope_bytes(&Envelope::new(borrowed).with_errors(errors.clone()), pretty),
                expected,
            );
            // What the handlers send.
            let sent = traces_response(&traces, errors, pretty);
            assert_eq!(response_bytes(sent).await, expected);
            let sent = traces_response(std::slice::from_ref(&trace), Vec::new(), pretty);
            assert_eq!(
                response_bytes(sent).await,
                envelope_bytes(&Envelope::new(vec![UiTrace::from_trace(&trace)]), pretty),
            );
        }
    }
}
