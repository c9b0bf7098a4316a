//! CORS for the HTTP API (`--query.cors.allowed-origins`, `--query.cors.allowed-headers`).
//! With no allowed origin, no CORS header is sent and browsers keep the API same-origin,
//! which is Jaeger's default.

use axum::http::{HeaderName, HeaderValue, Method};
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::args::split_list;
use crate::error::QueryError;

#[derive(Clone, Debug, Default)]
pub struct CorsConfig {
    layer: Option<CorsLayer>,
}

impl CorsConfig {
    /// Validates the flag values: every origin and header must be a valid header value.
    pub fn from_flags(origins: &str, headers: &str) -> Result<Self, QueryError> {
        let origins = split_list(origins);
        if origins.is_empty() {
            return Ok(CorsConfig { layer: None });
        }
        let invalid = |what: &str, v: &str| QueryError::InvalidCors(format!("{what} {v:?}"));
        let allow_origin = if origins.iter().any(|o| o == "*") {
            AllowOrigin::any()
        } else {
            let values = origins
                .iter()
                .map(|o| HeaderValue::from_str(o).map_err(|_| invalid("origin", o)))
                .collect::<Result<Vec<_>, _>>()?;
            AllowOrigin::list(values)
        };
        let headers = split_list(headers)
            .iter()
            .map(|h| HeaderName::from_bytes(h.as_bytes()).map_err(|_| invalid("header", h)))
            .collect::<Result<Vec<_>, _>>()?;
        let layer = CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers(headers);
        Ok(CorsConfig { layer: Some(layer) })
    }

    pub fn apply(&self, router: Router) -> Router {
        match &self.layer {
            Some(layer) => router.layer(layer.clone()),
            None => router,
        }
    }
}
