//! The web UI: the single-page app built from `ui/` (see `docs/ui.md`), embedded in the
//! binary so a user without Node.js gets it unchanged.
//!
//! `npm run build` writes `ui/dist/` and, beside the assets, `ui/dist/embed.rs`: a table of
//! `include_bytes!` entries with each file's content type and ETag. That table is
//! `include!`d here, so no build script or embedding crate is needed, and cargo rebuilds
//! whenever an embedded file changes.
//!
//! [`router`] answers every path the API routes do not:
//! * a file of the build: its bytes, with a year-long immutable cache for the content-hashed
//!   files under `assets/` and revalidation (ETag) for the rest;
//! * an unknown `/api/...` path or `assets/...` file: 404 (JSON for the API, so API clients
//!   and the UI read a clear error rather than an HTML page);
//! * anything else (`/search?…`, `/trace/{id}`, …): `index.html`, whose `<base href>` is
//!   rewritten to the base path, so deep links and bookmarks work under
//!   `--query.base-path` (what Jaeger does).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Request};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;

/// One embedded file of `ui/dist`.
struct Asset {
    /// Path relative to `ui/dist`, `/`-separated, no leading slash.
    path: &'static str,
    body: &'static [u8],
    content_type: &'static str,
    /// Quoted strong ETag computed from the content at build time.
    etag: &'static str,
}

static ASSETS: &[Asset] = include!(concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/dist/embed.rs"));

/// The `<base href>` the build ships with, replaced by the configured base path.
const BASE_TAG: &str = r#"<base href="/" />"#;

/// Hashed build outputs never change under the same name.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Everything else (index.html above all) must be revalidated so a new binary's UI is
/// picked up at once.
const REVALIDATE: &str = "no-cache";

struct Ui {
    base_path: String,
    /// Shared, so each answer is a reference count rather than a copy.
    index_html: Bytes,
    index_etag: String,
}

/// The UI's router, for use as the fallback of the whole HTTP router (outside the
/// base-path nesting, so that `/base/` with its trailing slash reaches it too). `base_path`
/// is `""` or `/a/b` (as [`crate::QueryArgs::normalized_base_path`] returns it). Paths are
/// read from axum's `OriginalUri`, so the router also works when nested under the base path.
pub fn router(base_path: &str) -> Router {
    let ui = Arc::new(Ui::new(base_path));
    Router::new().fallback(move |req: Request| {
        let ui = Arc::clone(&ui);
        async move {
            let path = match req.extensions().get::<OriginalUri>() {
                Some(original) => original.0.path(),
                None => req.uri().path(),
            };
            ui.serve(req.method(), path, req.headers())
        }
    })
}

impl Ui {
    fn new(base_path: &str) -> Ui {
        let base_path = base_path.trim_end_matches('/').to_string();
        let template = ASSETS
            .iter()
            .find(|a| a.path == "index.html")
            .map(|a| String::from_utf8_lossy(a.body).into_owned())
            .unwrap_or_else(|| "<!doctype html><p>The web UI was not built.</p>".into());
        let tag = format!(r#"<base href="{}/" />"#, escape_attr(&base_path));
        let index_html = Bytes::from(template.replacen(BASE_TAG, &tag, 1).into_bytes());
        let index_etag = format!("\"{:016x}\"", fnv1a(&index_html));
        Ui {
            base_path,
            index_html,
            index_etag,
        }
    }

    fn serve(&self, method: &Method, path: &str, headers: &HeaderMap) -> Response {
        let Some(rel) = self.relative(path) else {
            return plain(StatusCode::NOT_FOUND, "not found");
        };
        if rel == "api" || rel.starts_with("api/") {
            return api_not_found(path);
        }
        if method != Method::GET && method != Method::HEAD {
            let mut resp = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return resp;
        }
        if rel != "index.html" {
            if let Some(asset) = ASSETS.iter().find(|a| a.path == rel) {
                let cache = if rel.starts_with("assets/") {
                    IMMUTABLE
                } else {
                    REVALIDATE
                };
                return file(
                    headers,
                    Bytes::from_static(asset.body),
                    asset.content_type,
                    asset.etag,
                    cache,
                );
            }
            // A stale hashed file must not be answered with HTML: the browser would report
            // a MIME error instead of the missing file.
            if rel.starts_with("assets/") {
                return plain(StatusCode::NOT_FOUND, "no such UI asset");
            }
        }
        file(
            headers,
            self.index_html.clone(),
            "text/html; charset=utf-8",
            &self.index_etag,
            REVALIDATE,
        )
    }

    /// The request path relative to the UI root, without a leading slash; `None` outside
    /// the base path.
    fn relative<'a>(&self, path: &'a str) -> Option<&'a str> {
        let rest = match path.strip_prefix(self.base_path.as_str()) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
            _ => return None,
        };
        Some(rest.trim_start_matches('/'))
    }
}

fn file(
    req: &HeaderMap,
    body: Bytes,
    content_type: &'static str,
    etag: &str,
    cache: &'static str,
) -> Response {
    let fresh = req
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let (status, body) = if fresh {
        (StatusCode::NOT_MODIFIED, Body::empty())
    } else {
        (StatusCode::OK, Body::from(body))
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    resp
}

fn plain(status: StatusCode, msg: &'static str) -> Response {
    let mut resp = Response::new(Body::from(msg));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Unknown API routes answer in the API's envelope, as Jaeger's clients expect.
fn api_not_found(path: &str) -> Response {
    let body = serde_json::json!({
        "data": null, "total": 0, "limit": 0, "offset": 0,
        "errors": [{"code": 404, "msg": format!("no API route {path}")}],
    });
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::NOT_FOUND;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// The base path is already restricted to URL-safe characters by the flag's validation;
/// escaping anyway keeps this function safe for any caller.
fn escape_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A non-cryptographic content hash for the base-path-specific index.html ETag.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    /// Drives [`Ui::serve`], the whole of the router's behaviour.
    async fn call(
        ui: &Ui,
        method: Method,
        path: &str,
        inm: Option<&str>,
    ) -> (StatusCode, HeaderMap, String) {
        let mut headers = HeaderMap::new();
        if let Some(v) = inm {
            headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
        }
        let resp = ui.serve(&method, path, &headers);
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    async fn get(ui: &Ui, path: &str, inm: Option<&str>) -> (StatusCode, HeaderMap, String) {
        call(ui, Method::GET, path, inm).await
    }

    fn hashed_js() -> &'static Asset {
        ASSETS
            .iter()
            .find(|a| a.path.starts_with("assets/") && a.path.ends_with(".js"))
            .expect("the build has a hashed JS bundle")
    }

    #[tokio::test]
    async fn deep_links_get_index_with_base_href() {
        let ui = Ui::new("/jaeger");
        for path in ["/jaeger", "/jaeger/", "/jaeger/trace/abc", "/jaeger/search"] {
            let (status, headers, body) = get(&ui, path, None).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert!(body.contains(r#"<base href="/jaeger/" />"#), "{path}");
            assert_eq!(headers[header::CACHE_CONTROL], REVALIDATE);
            assert!(headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html"));
        }
        let (_, _, body) = get(&Ui::new(""), "/trace/abc", None).await;
        assert!(body.contains(r#"<base href="/" />"#));
        for outside in ["/", "/search", "/jaegerx/trace/abc"] {
            let (status, _, _) = get(&ui, outside, None).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{outside}");
        }
    }

    #[tokio::test]
    async fn hashed_assets_are_immutable_and_revalidate_by_etag() {
        let ui = Ui::new("/jaeger");
        let asset = hashed_js();
        let (status, headers, body) = get(&ui, &format!("/jaeger/{}", asset.path), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CACHE_CONTROL], IMMUTABLE);
        assert_eq!(headers[header::ETAG], asset.etag);
        assert!(headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript"));
        assert_eq!(body.len(), asset.body.len());
        let (status, _, body) =
            get(&ui, &format!("/jaeger/{}", asset.path), Some(asset.etag)).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert!(body.is_empty());
        let (_, headers, _) = get(&ui, "/jaeger/trace/x", None).await;
        let etag = headers[header::ETAG].to_str().unwrap().to_string();
        let (status, _, _) = get(&ui, "/jaeger/search", Some(&format!("\"zz\", {etag}"))).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
    }

    #[tokio::test]
    async fn unknown_api_and_asset_paths_are_404() {
        let ui = Ui::new("");
        let (status, headers, body) = get(&ui, "/api/nope", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert!(body.contains("\"code\":404"));
        let (status, _, _) = get(&ui, "/assets/index-gone.js", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn writes_are_refused() {
        let (status, headers, _) = call(&Ui::new(""), Method::POST, "/search", None).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(headers[header::ALLOW], "GET, HEAD");
    }

    #[test]
    fn base_href_is_escaped() {
        assert_eq!(escape_attr(r#"/a"<b>&"#), "/a&quot;&lt;b&gt;&amp;");
    }
}
