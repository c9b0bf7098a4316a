//! Query-path benchmark: latency of `GET /api/traces/{id}` and of a search through the
//! whole HTTP stack (loopback socket, routing, adjusters, JSON, envelope) against the bare
//! store call for the same request, over the memory store and the embedded store.
//!
//! The ` +adj+json` lines are the same request in-process through the query service
//! (adjusters) and the UI JSON encoder, without HTTP, to attribute the overhead.
//!
//! Prints, per store and request, the median over RUNS runs of each run's p50 and p99.
//! Run with `scripts/bench-query.sh` (release build).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sextant_common::shutdown::Shutdown;
use sextant_model::ui_json::UiTraceRef;
use sextant_model::{KeyValue, Resource, Span, SpanId, SpanKind, TraceId};
use sextant_query::{QueryArgs, Stores};
use sextant_storage::embedded::EmbeddedArgs;
use sextant_storage::memory::MemoryStore;
use sextant_storage::{Storage, TraceQuery};

// The query binary's allocator, so the figures are the binary's.
#[global_allocator]
static GLOBAL: sextant_common::alloc::MiMalloc = sextant_common::alloc::MiMalloc;

const TRACES: u64 = 2_000;
const SPANS_PER_TRACE: u64 = 20;
const RUNS: usize = 5;
const REQUESTS_PER_RUN: usize = 400;
const SEARCH_LIMIT: usize = 20;

fn dataset(now_us: u64) -> Vec<Span> {
    let services: Vec<Arc<Resource>> = ["frontend", "driver", "redis"]
        .iter()
        .map(|name| {
            Arc::new(Resource {
                service_name: name.to_string(),
                attributes: vec![KeyValue::new("hostname", format!("{name}-1"))],
                ..Default::default()
            })
        })
        .collect();
    let mut spans = Vec::new();
    for t in 0..TRACES {
        let start = (now_us - 3_600_000_000 + t * 1_000) * 1000;
        for i in 0..SPANS_PER_TRACE {
            spans.push(Span {
                trace_id: TraceId(u128::from(t) + 1),
                span_id: SpanId(i + 1),
                parent_span_id: SpanId(if i == 0 { 0 } else { 1 }),
                name: format!("op-{}", i % 5),
                kind: if i == 0 {
                    SpanKind::Server
                } else {
                    SpanKind::Client
                },
                start_time_unix_nano: start + i * 1_000_000,
                end_time_unix_nano: start + i * 1_000_000 + 500_000,
                attributes: vec![
                    KeyValue::new("http.status_code", 200i64),
                    KeyValue::new("component", "bench"),
                ],
                resource: services[(i % 3) as usize].clone(),
                flags: 1,
                ..Default::default()
            });
        }
    }
    spans
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(idx).copied().unwrap_or_default()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Runs `op` RUNS × REQUESTS_PER_RUN times; returns (median p50, median p99).
async fn measure<F, Fut>(mut op: F) -> (Duration, Duration)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for i in 0..50 {
        op(i).await; // warm-up
    }
    let (mut p50s, mut p99s) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        let mut lat = Vec::with_capacity(REQUESTS_PER_RUN);
        for i in 0..REQUESTS_PER_RUN {
            let started = Instant::now();
            op(run * REQUESTS_PER_RUN + i).await;
            lat.push(started.elapsed());
        }
        lat.sort();
        p50s.push(percentile(&lat, 0.5));
        p99s.push(percentile(&lat, 0.99));
    }
    (median(p50s), median(p99s))
}

fn report(store: &str, what: &str, direct: (Duration, Duration), http: (Duration, Duration)) {
    let pct = |h: Duration, d: Duration| {
        (h.as_secs_f64() - d.as_secs_f64()) / d.as_secs_f64().max(1e-9) * 100.0
    };
    println!(
        "{store:9} {what:10} store p50 {:>9.1?} p99 {:>9.1?} | http p50 {:>9.1?} p99 {:>9.1?} | overhead p50 {:+.0}% p99 {:+.0}% (+{:.1?})",
        direct.0,
        direct.1,
        http.0,
        http.1,
        pct(http.0, direct.0),
        pct(http.1, direct.1),
        http.1.saturating_sub(direct.1),
    );
}

async fn bench(store: &str, storage: Storage) {
    let now_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    for chunk in dataset(now_us).chunks(5_000) {
        storage
            .writer
            .write_spans(chunk.to_vec())
            .await
            .expect("write");
    }
    let args = QueryArgs {
        http_host_port: "127.0.0.1:0".into(),
        grpc_host_port: "127.0.0.1:0".into(),
        ..Default::default()
    };
    let shutdown = Shutdown::new();
    let running = sextant_query::run(&args, Stores::from(storage.clone()), shutdown.clone())
        .await
        .expect("start query");
    let base = format!("http://{}", running.http_addr);
    // Identity encoding: gzip is measured separately from the API path itself.
    let client = reqwest::Client::builder()
        .no_gzip()
        .build()
        .expect("client");
    let service = sextant_query::build_service(&args, Stores::from(storage.clone()));
    let id = |i: usize| TraceId((i as u128 % u128::from(TRACES)) + 1);

    let reader = storage.reader.clone();
    let direct = measure(|i| {
        let reader = reader.clone();
        async move {
            let t = reader.get_traces(&[id(i)]).await.expect("get");
            assert_eq!(t.len(), 1);
        }
    })
    .await;
    let http = measure(|i| {
        let url = format!("{base}/api/traces/{}", id(i).to_jaeger_string());
        let client = client.clone();
        async move {
            let body = client
                .get(url)
                .send()
                .await
                .expect("http")
                .bytes()
                .await
                .expect("body");
            assert!(body.len() > 100);
        }
    })
    .await;
    report(store, "get trace", direct, http);
    let adjusted = measure(|i| {
        let service = service.clone();
        async move {
            let t = service
                .get_trace(id(i), false)
                .await
                .expect("get")
                .expect("found");
            let body = serde_json::to_vec(&UiTraceRef::new(&t)).expect("json");
            assert!(body.len() > 100);
        }
    })
    .await;
    report(store, " +adj+json", direct, adjusted);

    let query = TraceQuery {
        service_name: "driver".into(),
        start_time_min: Some((now_us - 7_200_000_000) * 1000),
        start_time_max: Some(now_us * 1000),
        num_traces: SEARCH_LIMIT,
        ..Default::default()
    };
    let direct = measure(|_| {
        let reader = reader.clone();
        let query = query.clone();
        async move {
            let t = reader.find_traces(&query).await.expect("find");
            assert_eq!(t.len(), SEARCH_LIMIT);
        }
    })
    .await;
    let url = format!(
        "{base}/api/traces?service=driver&limit={SEARCH_LIMIT}&start={}&end={}",
        now_us - 7_200_000_000,
        now_us
    );
    let http = measure(|_| {
        let url = url.clone();
        let client = client.clone();
        async move {
            let body = client
                .get(url)
                .send()
                .await
                .expect("http")
                .bytes()
                .await
                .expect("body");
            assert!(body.len() > 1000);
        }
    })
    .await;
    report(store, "search", direct, http);
    let adjusted = measure(|_| {
        let service = service.clone();
        let query = query.clone();
        async move {
            let traces = service.find_traces(&query, false).await.expect("find");
            let ui: Vec<UiTraceRef> = traces.iter().map(UiTraceRef::new).collect();
            assert!(serde_json::to_vec(&ui).expect("json").len() > 1000);
        }
    })
    .await;
    report(store, " +adj+json", direct, adjusted);
    shutdown.trigger();
    running.wait().await;
}

#[tokio::main]
async fn main() {
    println!(
        "{TRACES} traces x {SPANS_PER_TRACE} spans; {RUNS} runs x {REQUESTS_PER_RUN} requests; medians of per-run percentiles"
    );
    bench(
        "memory",
        Storage::from_backend(Arc::new(MemoryStore::new(100_000))),
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let embedded = sextant_storage::embedded::open(&EmbeddedArgs {
        directory: dir.path().to_path_buf(),
        ..Default::default()
    })
    .await
    .expect("open embedded store");
    bench("embedded", embedded).await;
}
