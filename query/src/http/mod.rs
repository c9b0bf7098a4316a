//! The HTTP side of the query service: one module per API surface, all mounted under the
//! base path by [`router`].
//!
//! * [`api_v1`]: Jaeger's internal JSON API (`/api/services`, `/api/traces`, …) that the
//!   Jaeger UI and Grafana's Jaeger data source call.
//! * [`api_v3`]: Jaeger's api_v3 HTTP gateway (`/api/v3/*`, OTLP JSON).
//! * [`archive`]: `POST /api/archive/{traceID}`.
//! * [`spm`]: Service Performance Monitoring (`/api/metrics/*`) computed from stored spans.
//! * [`critical_path`]: the critical path of one trace (`…/critical-path`).
//! * [`params`] and [`duration`]: query-string parsing with Jaeger's rules and messages.
//! * [`response`]: the `{"data", "total", "limit", "offset", "errors"}` envelope.
//! * [`cors`]: the `--query.cors.*` layer.

pub mod api_v1;
pub mod api_v3;
pub mod archive;
pub mod cors;
pub mod critical_path;
pub mod params;
pub mod response;
pub mod spm;
pub mod ui;

use axum::Router;
use tower_http::compression::CompressionLayer;

use crate::service::QueryService;

/// What every handler needs.
#[derive(Clone)]
pub struct ApiState {
    pub service: QueryService,
}

/// All HTTP routes, mounted under `base_path` (`""` for the root, else `/a/b` as
/// [`crate::QueryArgs::normalized_base_path`] returns it), gzip-compressed when the client
/// accepts it, with CORS headers when `cors` allows any origin.
pub fn router(state: ApiState, base_path: &str, cors: &cors::CorsConfig) -> Router {
    let api = Router::new()
        .merge(api_v1::routes())
        .merge(api_v3::routes())
        .merge(archive::routes())
        .merge(spm::routes())
        .merge(critical_path::routes())
        .with_state(state);
    let mounted = if base_path.is_empty() {
        api
    } else {
        Router::new().nest(base_path, api)
    };
    // The embedded web UI answers everything the API does not, outside the base-path
    // nesting: a nested fallback would miss `/base/` (with its trailing slash), which is
    // what people type. The UI router itself knows the base path (it rewrites `<base href>`
    // and answers unknown `/base/api/*` with a JSON 404).
    let mounted = mounted.fallback_service(ui::router(base_path));
    cors.apply(mounted).layer(CompressionLayer::new())
}
