//! Jaeger's api_v3 HTTP gateway (jaeger `cmd/query/app/apiv3/http_gateway.go`): OTLP JSON
//! over plain HTTP GET.
//!
//! | route | answer |
//! | --- | --- |
//! | `GET /api/v3/traces/{trace_id}?start_time=&end_time=&raw_traces=` | `{"result": TracesData}` |
//! | `GET /api/v3/traces?query.service_name=&query.operation_name=&query.start_time_min=&query.start_time_max=&query.num_traces=&query.duration_min=&query.duration_max=&query.raw_traces=` | `{"result": TracesData}` |
//! | `GET /api/v3/services` | `{"services": [...]}` |
//! | `GET /api/v3/operations?service=&span_kind=` | `{"operations": [{"name", "spanKind"}]}` |
//!
//! Times are RFC 3339 (`2024-01-02T03:04:05.123Z`), durations Go durations (`1.5ms`).
//! Errors are the gateway's `{"error": {"httpCode": n, "message": "…"}}`: 400 for a bad
//! parameter (`malformed parameter <name>: …`), 404 `No traces found` when nothing
//! matches, 500 for storage failures. As protobuf's JSON mapping does, empty lists and
//! empty strings are omitted (`{}` when there are no services). `start_time` / `end_time`
//! of a trace fetch are accepted and validated; the lookup is by ID only.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};
use sextant_model::{otlp_json, Span, TraceId};
use sextant_storage::{StorageError, TraceQuery};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::params::{parse_span_kind, KindFilter, Params};
use super::ApiState;
use sextant_model::go_duration::parse_go_duration;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/v3/traces/{trace_id}", get(get_trace))
        .route("/api/v3/traces", get(find_traces))
        .route("/api/v3/services", get(services))
        .route("/api/v3/operations", get(operations))
}

/// A gateway error: status plus message, written as `GRPCGatewayError` JSON.
pub struct GatewayError {
    pub status: StatusCode,
    pub message: String,
}

impl GatewayError {
    fn param(name: &str, err: impl std::fmt::Display) -> Self {
        GatewayError {
            status: StatusCode::BAD_REQUEST,
            message: format!("malformed parameter {name}: {err}"),
        }
    }
}

impl From<StorageError> for GatewayError {
    fn from(e: StorageError) -> Self {
        let api = super::response::ApiError::from(e);
        GatewayError {
            status: api.status,
            message: api.msg,
        }
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        if self.status == StatusCode::BAD_REQUEST {
            crate::metrics::global().invalid_request();
        }
        let body = json!({"error": {"httpCode": self.status.as_u16(), "message": self.message}});
        json_value(self.status, &body)
    }
}

fn json_value(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

fn traces_response(spans: &[Span]) -> Response {
    if spans.is_empty() {
        return GatewayError {
            status: StatusCode::NOT_FOUND,
            message: "No traces found".into(),
        }
        .into_response();
    }
    json_value(
        StatusCode::OK,
        &json!({"result": otlp_json::to_json_value(spans)}),
    )
}

fn parse_bool(p: &Params, name: &str) -> Result<bool, GatewayError> {
    match p.first(name) {
        "" => Ok(false),
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(GatewayError::param(
            name,
            format!("strconv.ParseBool: parsing {other:?}: invalid syntax"),
        )),
    }
}

/// An RFC 3339 time as Unix nanoseconds (times before 1970 clamp to 0).
fn parse_time(p: &Params, name: &str) -> Result<Option<u64>, GatewayError> {
    match p.first(name) {
        "" => Ok(None),
        text => {
            let t =
                OffsetDateTime::parse(text, &Rfc3339).map_err(|e| GatewayError::param(name, e))?;
            Ok(Some(u64::try_from(t.unix_timestamp_nanos()).unwrap_or(0)))
        }
    }
}

fn parse_duration(p: &Params, name: &str) -> Result<Option<u64>, GatewayError> {
    match p.first(name) {
        "" => Ok(None),
        text => {
            let ns = parse_go_duration(text).map_err(|e| GatewayError::param(name, e))?;
            Ok(u64::try_from(ns).ok().filter(|&v| v > 0))
        }
    }
}

async fn get_trace(
    State(st): State<ApiState>,
    trace_id: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Response {
    let p = Params::parse(raw.as_deref());
    let id = match trace_id {
        Ok(Path(text)) => match text.parse::<TraceId>() {
            Ok(id) => id,
            Err(e) => return GatewayError::param("trace_id", e).into_response(),
        },
        Err(e) => return GatewayError::param("trace_id", e.body_text()).into_response(),
    };
    let checked = parse_time(&p, "start_time")
        .and_then(|_| parse_time(&p, "end_time"))
        .and_then(|_| parse_bool(&p, "raw_traces"));
    let raw_traces = match checked {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    match st.service.get_trace(id, raw_traces).await {
        Ok(Some(trace)) => traces_response(&trace.spans),
        Ok(None) => traces_response(&[]),
        Err(e) => GatewayError::from(e).into_response(),
    }
}

/// The search parameters, with the gateway's rules.
pub fn parse_find(p: &Params) -> Result<(TraceQuery, bool), GatewayError> {
    const MIN: &str = "query.start_time_min";
    const MAX: &str = "query.start_time_max";
    let (Some(min), Some(max)) = (parse_time(p, MIN)?, parse_time(p, MAX)?) else {
        return Err(GatewayError {
            status: StatusCode::BAD_REQUEST,
            message: format!("{MIN} and {MAX} are required"),
        });
    };
    let num_traces = match p.first("query.num_traces") {
        "" => 0,
        text => {
            let n: i64 = text.parse().map_err(|_| {
                GatewayError::param(
                    "query.num_traces",
                    format!("strconv.Atoi: parsing {text:?}: invalid syntax"),
                )
            })?;
            usize::try_from(n).unwrap_or(0)
        }
    };
    let query = TraceQuery {
        service_name: p.first("query.service_name").to_string(),
        operation_name: p.first("query.operation_name").to_string(),
        tags: Vec::new(),
        start_time_min: Some(min),
        start_time_max: Some(max),
        duration_min: parse_duration(p, "query.duration_min")?,
        duration_max: parse_duration(p, "query.duration_max")?,
        num_traces,
    };
    Ok((query, parse_bool(p, "query.raw_traces")?))
}

async fn find_traces(State(st): State<ApiState>, RawQuery(raw): RawQuery) -> Response {
    let p = Params::parse(raw.as_deref());
    let (query, raw_traces) = match parse_find(&p) {
        Ok(q) => q,
        Err(e) => return e.into_response(),
    };
    match st.service.find_traces(&query, raw_traces).await {
        Ok(traces) => {
            let spans: Vec<Span> = traces.into_iter().flat_map(|t| t.spans).collect();
            traces_response(&spans)
        }
        Err(e) => GatewayError::from(e).into_response(),
    }
}

async fn services(State(st): State<ApiState>) -> Response {
    match st.service.get_services().await {
        Ok(services) => {
            let mut body = Map::new();
            if !services.is_empty() {
                body.insert("services".into(), json!(services));
            }
            json_value(StatusCode::OK, &Value::Object(body))
        }
        Err(e) => GatewayError::from(e).into_response(),
    }
}

async fn operations(State(st): State<ApiState>, RawQuery(raw): RawQuery) -> Response {
    let p = Params::parse(raw.as_deref());
    let kind = match parse_span_kind(p.first("span_kind")) {
        KindFilter::All => None,
        KindFilter::Only(k) => Some(k),
        KindFilter::Unknown => return json_value(StatusCode::OK, &json!({})),
    };
    match st.service.get_operations(p.first("service"), kind).await {
        Ok(ops) => {
            let list: Vec<Value> = ops
                .into_iter()
                .map(|op| {
                    let mut o = Map::new();
                    if !op.name.is_empty() {
                        o.insert("name".into(), json!(op.name));
                    }
                    let kind = op.span_kind.as_jaeger_str();
                    if !kind.is_empty() {
                        o.insert("spanKind".into(), json!(kind));
                    }
                    Value::Object(o)
                })
                .collect();
            let mut body = Map::new();
            if !list.is_empty() {
                body.insert("operations".into(), Value::Array(list));
            }
            json_value(StatusCode::OK, &Value::Object(body))
        }
        Err(e) => GatewayError::from(e).into_response(),
    }
}
