//! The HTTP side of the query service: one module per API surface, all mounted under the
//! base path by [`router`].
//!
//! * [`api_v1`]: Jaeger's internal JSON API (`/api/services`, `/api/traces`, …) that the
//!   Jaeger UI and Grafana's Jaeger data source call.
//! * [`params`] and [`duration`]: query-string parsing with Jaeger's rules and messages.
//! * [`response`]: the `{"data", "total", "limit", "offset", "errors"}` envelope.
//!
//! api_v3, archive and the UI's static files slot in here as further modules merged into
//! the same router.

pub mod api_v1;
pub mod duration;
pub mod params;
pub mod response;

use axum::Router;
use sextant_storage::Storage;
use tower_http::compression::CompressionLayer;

/// What every handler needs.
#[derive(Clone)]
pub struct ApiState {
    pub storage: Storage,
}

/// All HTTP routes, mounted under `base_path` (`""` for the root, else `/a/b` as
/// [`crate::QueryArgs::normalized_base_path`] returns it), gzip-compressed when the client
/// accepts it. No CORS headers are sent: browsers only reach the API same-origin, as with
/// Jaeger.
pub fn router(state: ApiState, base_path: &str) -> Router {
    let api = Router::new().merge(api_v1::routes()).with_state(state);
    let mounted = if base_path.is_empty() {
        api
    } else {
        Router::new().nest(base_path, api)
    };
    mounted.layer(CompressionLayer::new())
}
