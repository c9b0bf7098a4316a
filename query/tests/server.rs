//! The server around the API: base-path mounting, gzip, prettyPrint, storage failures,
//! metrics, hostile URLs, start-up errors.

mod support;

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};
use sextant_common::shutdown::Shutdown;
use sextant_model::{Span, SpanKind, Trace, TraceId};
use sextant_query::{QueryArgs, QueryError};
use sextant_storage::{
    DependencyLink, DependencyReader, Operation, Purger, SpanReader, SpanWriter, Storage,
    StorageError, TraceQuery,
};
use support::{start, start_with};

#[tokio::test]
async fn base_path_mounts_every_route() {
    let s = start("/jaeger/").await;
    let ok = reqwest::get(s.url("/jaeger/api/services")).await.unwrap();
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["data"], json!(["frontend", "mysql"]));
    assert_eq!(
        reqwest::get(s.url("/jaeger/api/traces/1234"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        reqwest::get(s.url("/api/services")).await.unwrap().status(),
        404
    );
    s.stop().await;
}

#[tokio::test]
async fn responses_are_gzipped_when_asked_and_pretty_when_asked() {
    let s = start("/").await;
    // `no_gzip`: reqwest must hand over the compressed bytes, whatever features other
    // crates of the workspace enable on it.
    let resp = reqwest::Client::builder()
        .no_gzip()
        .build()
        .unwrap()
        .get(s.url("/api/services"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let compressed = resp.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_string(&mut text)
        .unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["total"], json!(2));

    let plain = reqwest::get(s.url("/api/services")).await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    assert!(!plain.text().await.unwrap().contains('\n'));

    let pretty = reqwest::get(s.url("/api/services?prettyPrint=true"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        pretty.starts_with("{\n    \"data\": [\n        \"frontend\""),
        "{pretty}"
    );
    s.stop().await;
}

/// A backend whose every read fails the way its constructor says.
struct Failing(fn() -> StorageError);

#[async_trait]
impl SpanWriter for Failing {
    async fn write_spans(&self, _: Vec<Span>) -> sextant_storage::Result<()> {
        Err((self.0)())
    }
}
#[async_trait]
impl SpanReader for Failing {
    async fn get_traces(&self, _: &[TraceId]) -> sextant_storage::Result<Vec<Trace>> {
        Err((self.0)())
    }
    async fn get_services(&self) -> sextant_storage::Result<Vec<String>> {
        Err((self.0)())
    }
    async fn get_operations(
        &self,
        _: &str,
        _: Option<SpanKind>,
    ) -> sextant_storage::Result<Vec<Operation>> {
        Err((self.0)())
    }
    async fn find_trace_ids(&self, _: &TraceQuery) -> sextant_storage::Result<Vec<TraceId>> {
        Err((self.0)())
    }
}
#[async_trait]
impl DependencyReader for Failing {
    async fn get_dependencies(
        &self,
        _: u64,
        _: Duration,
    ) -> sextant_storage::Result<Vec<DependencyLink>> {
        Err((self.0)())
    }
}
#[async_trait]
impl Purger for Failing {
    async fn purge(&self) -> sextant_storage::Result<()> {
        Err((self.0)())
    }
}

#[tokio::test]
async fn storage_failures_use_the_error_envelope_and_count_in_metrics() {
    let storage = Storage::from_backend(Arc::new(Failing(|| {
        StorageError::Backend("disk on fire".into())
    })));
    let s = start_with(storage, "/").await;
    for path in [
        "/api/services",
        "/api/services/x/operations",
        "/api/operations?service=x",
        "/api/traces/1",
        "/api/traces?service=x",
        "/api/traces?traceID=1",
        "/api/dependencies",
    ] {
        let resp = reqwest::get(s.url(path)).await.unwrap();
        assert_eq!(resp.status(), 500, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            body,
            json!({"data": null, "total": 0, "limit": 0, "offset": 0,
                   "errors": [{"code": 500, "msg": "storage error: disk on fire"}]}),
            "{path}"
        );
    }
    let metrics = sextant_common::admin::render_metrics();
    assert!(
        metrics.contains(r#"jaeger_query_requests_total{operation="get_services",result="err"}"#),
        "{metrics}"
    );
    assert!(metrics.contains("jaeger_query_latency_bucket"), "{metrics}");
    s.stop().await;

    let storage = Storage::from_backend(Arc::new(Failing(|| {
        StorageError::InvalidQuery("bad regex".into())
    })));
    let s = start_with(storage, "/").await;
    let resp = reqwest::get(s.url("/api/traces?service=x")).await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(
        sextant_common::admin::render_metrics().contains("sextant_query_invalid_requests_total")
    );
    s.stop().await;
}

#[tokio::test]
async fn successful_reads_count_in_metrics() {
    let s = start("/").await;
    assert_eq!(
        reqwest::get(s.url("/api/traces?service=frontend"))
            .await
            .unwrap()
            .status(),
        200
    );
    let metrics = sextant_common::admin::render_metrics();
    assert!(
        metrics.contains(r#"jaeger_query_requests_total{operation="find_traces",result="ok"}"#),
        "{metrics}"
    );
    s.stop().await;
}

#[tokio::test]
async fn hostile_urls_never_take_the_server_down() {
    let s = start("/").await;
    let long_id = "f".repeat(5000);
    let paths = [
        "/api/traces/%FF%FE".to_string(),
        "/api/traces/%".to_string(),
        format!("/api/traces/{long_id}"),
        "/api/services/%FF/operations".to_string(),
        "/api/traces?service=%00&tags=%7B%7B".to_string(),
        "/api/traces?service=x&tags=%5B1%2C2%5D".to_string(),
        "/api/traces?service=x&minDuration=99999999999999999999h".to_string(),
        "/api/traces?service=x&start=-99999999999999999999".to_string(),
        "/api/traces?service=x&limit=-5&end=9223372036854775807".to_string(),
        "/api/dependencies?endTs=9223372036854775807&lookback=9223372036854775807".to_string(),
        "/api/operations?service=x&spanKind=%FF".to_string(),
        "/api/traces?traceID=&service=".to_string(),
    ];
    for path in &paths {
        let status = reqwest::get(s.url(path)).await.unwrap().status().as_u16();
        assert!(matches!(status, 200 | 400 | 404), "{path}: {status}");
    }
    assert_eq!(
        reqwest::get(s.url("/api/services")).await.unwrap().status(),
        200
    );
    s.stop().await;
}

#[tokio::test]
async fn start_up_errors_are_reported() {
    let storage = Storage::from_backend(Arc::new(Failing(|| StorageError::Backend(String::new()))));
    let run = |host_port: &str, base_path: &str| {
        let args = QueryArgs {
            http_host_port: host_port.into(),
            grpc_host_port: "127.0.0.1:0".into(),
            base_path: base_path.into(),
            ..Default::default()
        };
        let storage = storage.clone();
        async move { sextant_query::run(&args, storage, Shutdown::new()).await }
    };
    assert!(matches!(
        run("nonsense", "/").await,
        Err(QueryError::InvalidHostPort(_))
    ));
    assert!(matches!(
        run("127.0.0.1:0", "/{oops}").await,
        Err(QueryError::InvalidBasePath { .. })
    ));
    let first = run("127.0.0.1:0", "/").await.unwrap();
    let taken = first.http_addr.to_string();
    assert!(matches!(
        run(&taken, "/").await,
        Err(QueryError::Bind { .. })
    ));
}
