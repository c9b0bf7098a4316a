//! The query service's flags, defined once and flattened by `sextant-query` and the
//! all-in-one. Names and environment variables follow Jaeger v1 (`--query.base-path`,
//! `QUERY_BASE_PATH`, …).

use std::time::Duration;

use clap::Args;

use crate::error::QueryError;

#[derive(Args, Debug, Clone)]
pub struct QueryArgs {
    /// Address of the HTTP query server (JSON API under `/api`), Jaeger's `host:port`
    /// syntax (`:16686` listens on all interfaces).
    #[arg(
        id = "query.http-server.host-port",
        long = "query.http-server.host-port",
        env = "QUERY_HTTP_SERVER_HOST_PORT",
        default_value = ":16686"
    )]
    pub http_host_port: String,

    /// Base path every HTTP route is mounted under, e.g. `/jaeger` behind a reverse proxy
    /// that forwards `/jaeger/...` unchanged.
    #[arg(long = "query.base-path", env = "QUERY_BASE_PATH", default_value = "/")]
    pub base_path: String,

    /// Address of the gRPC query server (api_v2 and api_v3 `QueryService`, with reflection).
    #[arg(
        id = "query.grpc-server.host-port",
        long = "query.grpc-server.host-port",
        env = "QUERY_GRPC_SERVER_HOST_PORT",
        default_value = ":16685"
    )]
    pub grpc_host_port: String,

    /// The largest clock-skew correction applied to a span on read (a Go duration such as
    /// `500ms`). `0s`, as in Jaeger, disables correction: spans then carry a warning with
    /// the correction that would have been applied.
    #[arg(
        long = "query.max-clock-skew-adjustment",
        env = "QUERY_MAX_CLOCK_SKEW_ADJUSTMENT",
        default_value = "0s",
        value_parser = parse_skew
    )]
    pub max_clock_skew_adjustment: Duration,

    /// Comma-separated origins allowed to call the HTTP API from a browser (`*` for any).
    /// Empty: no CORS headers are sent, so only same-origin pages can read the API.
    #[arg(
        long = "query.cors.allowed-origins",
        env = "QUERY_CORS_ALLOWED_ORIGINS",
        default_value = ""
    )]
    pub cors_allowed_origins: String,

    /// Comma-separated request headers browsers may send cross-origin.
    #[arg(
        long = "query.cors.allowed-headers",
        env = "QUERY_CORS_ALLOWED_HEADERS",
        default_value = "Content-Type"
    )]
    pub cors_allowed_headers: String,
}

fn parse_skew(text: &str) -> Result<Duration, String> {
    let ns = sextant_model::go_duration::parse_go_duration(text)?;
    u64::try_from(ns)
        .map(Duration::from_nanos)
        .map_err(|_| "must not be negative".to_string())
}

/// Splits a comma-separated flag value into its trimmed, non-empty items.
pub fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl Default for QueryArgs {
    fn default() -> Self {
        QueryArgs {
            http_host_port: ":16686".into(),
            base_path: "/".into(),
            grpc_host_port: ":16685".into(),
            max_clock_skew_adjustment: Duration::ZERO,
            cors_allowed_origins: String::new(),
            cors_allowed_headers: "Content-Type".into(),
        }
    }
}

impl QueryArgs {
    /// The base path without its trailing slash: `""` for the root, else `/a/b`.
    ///
    /// Only unreserved URL characters are accepted, so the path can never be read as a
    /// route pattern (`{param}`) by the router.
    pub fn normalized_base_path(&self) -> Result<String, QueryError> {
        let raw = self.base_path.trim();
        let err = |reason: &str| QueryError::InvalidBasePath {
            path: raw.to_string(),
            reason: reason.to_string(),
        };
        if !raw.starts_with('/') {
            return Err(err("must start with '/'"));
        }
        let trimmed = raw.trim_end_matches('/');
        if trimmed.split('/').skip(1).any(|segment| segment.is_empty()) {
            return Err(err("empty path segment"));
        }
        let allowed =
            |c: char| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '.' | '_' | '~');
        if !trimmed.chars().all(allowed) {
            return Err(err(
                "only letters, digits, '/', '-', '.', '_' and '~' are allowed",
            ));
        }
        Ok(trimmed.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(p: &str) -> Result<String, QueryError> {
        QueryArgs {
            base_path: p.into(),
            ..Default::default()
        }
        .normalized_base_path()
    }

    #[test]
    fn base_paths_normalize() {
        assert_eq!(norm("/").unwrap(), "");
        assert_eq!(norm("/jaeger").unwrap(), "/jaeger");
        assert_eq!(norm("/jaeger/").unwrap(), "/jaeger");
        assert_eq!(norm("/a/b-c").unwrap(), "/a/b-c");
        assert!(norm("jaeger").is_err());
        assert!(norm("/a//b").is_err());
        assert!(norm("/{x}").is_err());
        assert!(norm("/a b").is_err());
    }
}
