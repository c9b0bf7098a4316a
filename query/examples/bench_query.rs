//! Query-path benchmark: latency of `GET /api/traces/{id}` and of a search through the
//! whole HTTP stack (loopback socket, routing, adjusters, JSON, envelope) against the bare
//! store call for the same request.
//!
//! Stores: by default 2,000 generated traces × 20 spans in the memory store and in a fresh
//! embedded store. With `BENCH_QUERY_DIR=<dir>` it instead opens an existing embedded data
//! directory (e.g. the 1M-span store `scripts/bench-embedded.sh --directory <d>` leaves in
//! `<d>/data`) and takes its trace IDs and search service from the store's own reader.
//!
//! Each request is measured five ways, so the overhead can be attributed:
//! * `store`: the bare `SpanReader` call (the baseline of the overhead percentages);
//! * `+adj+json`: the query service (adjusters) and the UI JSON encoder, in-process;
//! * `router`: the axum router with all its layers called in-process with `oneshot` (the
//!   server's whole per-request work minus the socket and hyper's HTTP/1 codec);
//! * `http`: a lean keep-alive client on a loopback socket — a raw `TcpStream` writing a
//!   pre-built request and reading `Content-Length` bytes — so the figure is what the
//!   server adds, not what an HTTP client library adds (this is the headline overhead);
//! * `reqwest`: the same request through reqwest, for comparison with what a typical Rust
//!   client sees.
//!
//! Prints, per store and request, the median over RUNS runs of each run's p50 and p99,
//! and after the search lines a CPU breakdown of one search answer (clone, adjusters, UI
//! JSON by serde_json and by the direct writer; see `breakdown`).
//! `BENCH_QUERY_REQUESTS` overrides the requests per run (default 400).
//! Run with `scripts/bench-query.sh` (release build).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use sextant_common::shutdown::Shutdown;
use sextant_model::ui_json::{write_compact_traces, UiTraceRef};
use sextant_model::{KeyValue, Resource, Span, SpanId, SpanKind, Trace, TraceId};
use sextant_query::adjusters::Adjusters;
use sextant_query::http::response::trace_json_capacity;
use sextant_query::{QueryArgs, Stores};
use sextant_storage::embedded::EmbeddedArgs;
use sextant_storage::memory::MemoryStore;
use sextant_storage::{Storage, TraceQuery};
use std::io::{Read, Write};
use std::net::TcpStream;
use tower::ServiceExt;

// The query binary's allocator, so the figures are the binary's.
#[global_allocator]
static GLOBAL: sextant_common::alloc::MiMalloc = sextant_common::alloc::MiMalloc;

const TRACES: u64 = 2_000;
const SPANS_PER_TRACE: u64 = 20;
const RUNS: usize = 5;
const DEFAULT_REQUESTS_PER_RUN: usize = 400;
const SEARCH_LIMIT: usize = 20;
/// Trace IDs taken from an existing store, at most.
const MAX_IDS: usize = 2_000;

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

/// The traces' compact UI JSON as the API handlers write it (direct writer, buffer sized
/// from the span count), without the envelope.
fn ui_json(traces: &[Trace]) -> Vec<u8> {
    let spans = traces.iter().map(|t| t.spans.len()).sum();
    let mut out = Vec::with_capacity(trace_json_capacity(spans));
    let refs: Vec<UiTraceRef> = traces.iter().map(UiTraceRef::new).collect();
    write_compact_traces(&refs, &mut out);
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(idx).copied().unwrap_or_default()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn requests_per_run() -> usize {
    std::env::var("BENCH_QUERY_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_REQUESTS_PER_RUN)
}

/// Runs `op` RUNS × requests_per_run() times; returns (median p50, median p99).
async fn measure<F, Fut>(mut op: F) -> (Duration, Duration)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future,
{
    let per_run = requests_per_run();
    for i in 0..50 {
        op(i).await; // warm-up
    }
    let (mut p50s, mut p99s) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        let mut lat = Vec::with_capacity(per_run);
        for i in 0..per_run {
            let started = Instant::now();
            op(run * per_run + i).await;
            lat.push(started.elapsed());
        }
        lat.sort();
        p50s.push(percentile(&lat, 0.5));
        p99s.push(percentile(&lat, 0.99));
    }
    (median(p50s), median(p99s))
}

fn report(store: &str, what: &str, direct: (Duration, Duration), other: (Duration, Duration)) {
    let pct = |h: Duration, d: Duration| {
        (h.as_secs_f64() - d.as_secs_f64()) / d.as_secs_f64().max(1e-9) * 100.0
    };
    println!(
        "{store:9} {what:12} p50 {:>9.1?} p99 {:>9.1?} | over store: p50 {:+.0}% p99 {:+.0}% (p99 +{:.1?})",
        other.0,
        other.1,
        pct(other.0, direct.0),
        pct(other.1, direct.1),
        other.1.saturating_sub(direct.1),
    );
}

/// The CPU cost of the search answer's pieces, without the store call or any I/O, on one
/// fixed result: cloning it (the adjusters work on a copy here), clone + adjusters, and the
/// UI JSON by serde_json of `UiTraceRef` (the previous path, kept as the reference) and by
/// the direct writer the handlers use. Minimum and median of BREAKDOWN_ITERS iterations: the
/// minimum is what the code costs when the shared machine leaves it alone.
fn breakdown(store: &str, raw: &[Trace], args: &QueryArgs) {
    let adjusters = Adjusters::new(args.max_clock_skew_adjustment);
    let spans: usize = raw.iter().map(|t| t.spans.len()).sum();
    let time = |f: &mut dyn FnMut()| {
        let mut d: Vec<Duration> = (0..BREAKDOWN_ITERS)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect();
        d.sort();
        (d[0], d[d.len() / 2])
    };
    let clone = time(&mut || drop(std::hint::black_box(raw.to_vec())));
    let adjust = time(&mut || {
        let mut traces = raw.to_vec();
        for t in &mut traces {
            adjusters.adjust(t);
        }
        drop(std::hint::black_box(traces));
    });
    let mut adjusted = raw.to_vec();
    for t in &mut adjusted {
        adjusters.adjust(t);
    }
    let refs: Vec<UiTraceRef> = adjusted.iter().map(UiTraceRef::new).collect();
    let serde_bytes = serde_json::to_vec(&refs).expect("json");
    assert_eq!(
        ui_json(&adjusted),
        serde_bytes,
        "direct writer differs from serde"
    );
    let serde = time(&mut || drop(std::hint::black_box(serde_json::to_vec(&refs))));
    let serde_sized = time(&mut || {
        let mut out = Vec::with_capacity(trace_json_capacity(spans));
        serde_json::to_writer(&mut out, &refs).expect("json");
        drop(std::hint::black_box(out));
    });
    let direct = time(&mut || drop(std::hint::black_box(ui_json(&adjusted))));
    let per_span = |d: Duration| d.as_secs_f64() * 1e9 / spans.max(1) as f64;
    println!(
        "{store:9} breakdown of the search answer ({spans} spans, {} bytes), min / p50 of {BREAKDOWN_ITERS}:",
        serde_bytes.len()
    );
    for (what, (min, p50)) in [
        ("clone", clone),
        ("clone+adjust", adjust),
        ("json serde", serde),
        ("json serde sz", serde_sized),
        ("json direct", direct),
    ] {
        println!(
            "{store:9}  {what:13} min {min:>9.1?} p50 {p50:>9.1?} ({:.0} ns/span at min)",
            per_span(min)
        );
    }
}

const BREAKDOWN_ITERS: usize = 200;

fn report_store(store: &str, what: &str, direct: (Duration, Duration)) {
    println!(
        "{store:9} {what:12} p50 {:>9.1?} p99 {:>9.1?}",
        direct.0, direct.1
    );
}

/// A minimal HTTP/1.1 keep-alive client: writes a request prepared beforehand and reads the
/// head and `Content-Length` bytes of body, reusing one buffer. It does no header parsing
/// beyond the status and the length, so its own cost is a few syscalls. It uses a blocking
/// `std` socket on the calling thread, as a client in another process would: a tokio
/// socket here would have its readiness delivered by a runtime worker that then wakes the
/// `main` thread, one thread hop per request that belongs to the harness, not the server.
struct LeanClient {
    stream: TcpStream,
    /// Always initialised to its full length; `filled` bytes hold the current answer.
    buf: Vec<u8>,
    filled: usize,
}

impl LeanClient {
    fn connect(addr: std::net::SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(LeanClient {
            stream,
            buf: vec![0; 1 << 20],
            filled: 0,
        })
    }

    fn request(path: &str) -> Vec<u8> {
        format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n").into_bytes()
    }

    /// Sends `request`; returns (status, body length).
    fn send(&mut self, request: &[u8]) -> std::io::Result<(u16, usize)> {
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
        self.stream.write_all(request)?;
        self.filled = 0;
        let head_end = loop {
            let filled = &self.buf[..self.filled];
            if let Some(pos) = filled.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos + 4;
            }
            self.read_more()?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).map_err(|_| bad("head"))?;
        let status = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("status"))?;
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .ok_or_else(|| bad("no content-length"))?;
        while self.filled < head_end + length {
            self.read_more()?;
        }
        Ok((status, length))
    }

    /// Reads straight into the buffer's tail: no per-request zeroing or copy.
    fn read_more(&mut self) -> std::io::Result<()> {
        if self.buf.len() - self.filled < 64 * 1024 {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = self.stream.read(&mut self.buf[self.filled..])?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.filled += n;
        Ok(())
    }
}

/// What one store is benchmarked with.
struct Workload {
    store: String,
    storage: Storage,
    /// Trace IDs that exist, fetched round-robin.
    ids: Vec<TraceId>,
    /// The search (store form) and its query string (HTTP form).
    search: TraceQuery,
    search_url: String,
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn search_for(service: &str, start_us: u64, end_us: u64) -> (TraceQuery, String) {
    let query = TraceQuery {
        service_name: service.to_string(),
        start_time_min: Some(start_us * 1000),
        start_time_max: Some(end_us * 1000),
        num_traces: SEARCH_LIMIT,
        ..Default::default()
    };
    let service_q: String = form_urlencoded::byte_serialize(service.as_bytes()).collect();
    let url = format!(
        "/api/traces?service={service_q}&limit={SEARCH_LIMIT}&start={start_us}&end={end_us}"
    );
    (query, url)
}

async fn generated(store: &str, storage: Storage) -> Workload {
    let now = now_us();
    for chunk in dataset(now).chunks(5_000) {
        storage
            .writer
            .write_spans(chunk.to_vec())
            .await
            .expect("write");
    }
    let (search, search_url) = search_for("driver", now - 7_200_000_000, now);
    Workload {
        store: store.to_string(),
        storage,
        ids: (1..=u128::from(TRACES)).map(TraceId).collect(),
        search,
        search_url,
    }
}

/// An existing embedded store: every service's most recent traces (up to MAX_IDS IDs in
/// all) are the get-trace set; the search is the service with the most such traces, over
/// the whole retention window.
async fn existing(dir: PathBuf) -> Workload {
    let storage = sextant_storage::embedded::open(&EmbeddedArgs {
        directory: dir.clone(),
        ..Default::default()
    })
    .await
    .expect("open embedded store");
    let now = now_us();
    let (start, end) = (now.saturating_sub(72 * 3_600_000_000), now + 3_600_000_000);
    let services = storage.reader.get_services().await.expect("services");
    assert!(!services.is_empty(), "no services in {}", dir.display());
    let per_service = (MAX_IDS / services.len()).max(1);
    let mut ids = Vec::new();
    let mut busiest = (0, String::new());
    for service in &services {
        let (mut query, _) = search_for(service, start, end);
        query.num_traces = per_service;
        let found = storage.reader.find_trace_ids(&query).await.expect("ids");
        if found.len() > busiest.0 {
            busiest = (found.len(), service.clone());
        }
        ids.extend(found);
    }
    ids.sort();
    ids.dedup();
    ids.truncate(MAX_IDS);
    assert!(!ids.is_empty(), "no traces in {}", dir.display());
    let (search, search_url) = search_for(&busiest.1, start, end);
    println!(
        "store {}: {} services, {} trace IDs, search service {:?}",
        dir.display(),
        services.len(),
        ids.len(),
        busiest.1
    );
    Workload {
        store: "dir".into(),
        storage,
        ids,
        search,
        search_url,
    }
}

async fn oneshot(router: &Router, uri: &str) -> usize {
    let req = Request::get(uri).body(Body::empty()).expect("request");
    let resp = router.clone().oneshot(req).await.expect("infallible");
    assert!(resp.status().is_success(), "{uri}: {}", resp.status());
    axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body")
        .len()
}

async fn bench(w: Workload) {
    let Workload {
        store,
        storage,
        ids,
        search,
        search_url,
    } = w;
    let store = store.as_str();
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
    let mut lean = LeanClient::connect(running.http_addr).expect("connect");
    // Identity encoding: gzip is measured separately from the API path itself.
    let client = reqwest::Client::builder()
        .no_gzip()
        .build()
        .expect("client");
    let service = sextant_query::build_service(&args, Stores::from(storage.clone()));
    let router = sextant_query::router(&args, Stores::from(storage.clone())).expect("router");
    let reader = storage.reader.clone();

    // A fixed-cost probe: the smallest JSON answer the API has that still reads the store.
    let fixed = LeanClient::request("/api/services");
    let fixed_router = measure(|_| oneshot(&router, "/api/services")).await;
    let fixed_http = lean_measure(&mut lean, |_| fixed.clone());
    println!(
        "{store:9} {:12} router p50 {:>9.1?} p99 {:>9.1?} | http p50 {:>9.1?} p99 {:>9.1?}",
        "fixed cost", fixed_router.0, fixed_router.1, fixed_http.0, fixed_http.1
    );

    let id = |i: usize| ids[i % ids.len()];
    // What the requests carry, so figures from different stores can be compared.
    let sample = &ids[..ids.len().min(100)];
    let sample_spans: usize = reader
        .get_traces(sample)
        .await
        .expect("get")
        .iter()
        .map(|t| t.spans.len())
        .sum();
    let mut sample_bytes = 0;
    for id in sample {
        sample_bytes += oneshot(&router, &format!("/api/traces/{}", id.to_jaeger_string())).await;
    }
    let found = reader.find_traces(&search).await.expect("find");
    let search_spans: usize = found.iter().map(|t| t.spans.len()).sum();
    let search_bytes = oneshot(&router, &search_url).await;
    println!(
        "{store:9} get trace: mean {:.1} spans, {:.0} JSON bytes; search: {} traces, {search_spans} spans, {search_bytes} JSON bytes",
        sample_spans as f64 / sample.len() as f64,
        sample_bytes as f64 / sample.len() as f64,
        found.len(),
    );
    let trace_paths: Vec<String> = ids
        .iter()
        .map(|id| format!("/api/traces/{}", id.to_jaeger_string()))
        .collect();
    let trace_requests: Vec<Vec<u8>> = trace_paths.iter().map(|p| LeanClient::request(p)).collect();

    let direct = measure(|i| {
        let reader = reader.clone();
        let id = id(i);
        async move {
            let t = reader.get_traces(&[id]).await.expect("get");
            assert_eq!(t.len(), 1);
        }
    })
    .await;
    report_store(store, "get store", direct);
    let adjusted = measure(|i| {
        let service = service.clone();
        let id = id(i);
        async move {
            let t = service
                .get_trace(id, false)
                .await
                .expect("get")
                .expect("found");
            let body = ui_json(std::slice::from_ref(&t));
            assert!(body.len() > 100);
        }
    })
    .await;
    report(store, " +adj+json", direct, adjusted);
    let routed = measure(|i| {
        let path = &trace_paths[i % trace_paths.len()];
        let router = &router;
        async move {
            assert!(oneshot(router, path).await > 100);
        }
    })
    .await;
    report(store, " router", direct, routed);
    let http = lean_measure(&mut lean, |i| {
        trace_requests[i % trace_requests.len()].clone()
    });
    report(store, " http (lean)", direct, http);
    let via_reqwest = measure(|i| {
        let url = format!("{base}{}", trace_paths[i % trace_paths.len()]);
        let client = client.clone();
        async move { reqwest_get(&client, url, 100).await }
    })
    .await;
    report(store, " reqwest", direct, via_reqwest);

    let direct = measure(|_| {
        let reader = reader.clone();
        let query = search.clone();
        async move {
            let t = reader.find_traces(&query).await.expect("find");
            assert_eq!(t.len(), SEARCH_LIMIT);
        }
    })
    .await;
    report_store(store, "search store", direct);
    let adjusted = measure(|_| {
        let service = service.clone();
        let query = search.clone();
        async move {
            let traces = service.find_traces(&query, false).await.expect("find");
            assert!(ui_json(&traces).len() > 1000);
        }
    })
    .await;
    report(store, " +adj+json", direct, adjusted);
    let routed = measure(|_| {
        let router = &router;
        let url = search_url.as_str();
        async move {
            assert!(oneshot(router, url).await > 1000);
        }
    })
    .await;
    report(store, " router", direct, routed);
    breakdown(
        store,
        &reader.find_traces(&search).await.expect("find"),
        &args,
    );
    let search_request = LeanClient::request(&search_url);
    let http = lean_measure(&mut lean, |_| search_request.clone());
    report(store, " http (lean)", direct, http);
    let url = format!("{base}{search_url}");
    let via_reqwest = measure(|_| {
        let url = url.clone();
        let client = client.clone();
        async move { reqwest_get(&client, url, 1000).await }
    })
    .await;
    report(store, " reqwest", direct, via_reqwest);
    shutdown.trigger();
    drop(lean);
    running.wait().await;
}

/// One GET through reqwest; the body must be longer than `min_len` bytes.
async fn reqwest_get(client: &reqwest::Client, url: String, min_len: usize) {
    let body = client
        .get(url)
        .send()
        .await
        .expect("http")
        .bytes()
        .await
        .expect("body");
    assert!(body.len() > min_len);
}

/// [`measure`] for the blocking lean client: same warm-up, runs and percentiles. It blocks
/// the `main` thread, which serves nothing: the server runs on the runtime's workers.
fn lean_measure<F>(lean: &mut LeanClient, mut request: F) -> (Duration, Duration)
where
    F: FnMut(usize) -> Vec<u8>,
{
    let per_run = requests_per_run();
    let mut one = |i: usize| request(i);
    for i in 0..50 {
        let req = one(i);
        send_ok(lean, &req);
    }
    let (mut p50s, mut p99s) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        let mut lat = Vec::with_capacity(per_run);
        for i in 0..per_run {
            let req = one(run * per_run + i);
            let started = Instant::now();
            send_ok(lean, &req);
            lat.push(started.elapsed());
        }
        lat.sort();
        p50s.push(percentile(&lat, 0.5));
        p99s.push(percentile(&lat, 0.99));
    }
    (median(p50s), median(p99s))
}

fn send_ok(lean: &mut LeanClient, req: &[u8]) {
    let (status, len) = lean.send(req).expect("lean http");
    assert!(status == 200 && len > 10, "status {status}, {len} bytes");
}

#[tokio::main]
async fn main() {
    println!(
        "{RUNS} runs x {} requests; medians of per-run percentiles; \"http (lean)\" = raw keep-alive TcpStream client, the headline overhead",
        requests_per_run()
    );
    if let Some(dir) = std::env::var_os("BENCH_QUERY_DIR") {
        bench(existing(PathBuf::from(dir)).await).await;
        return;
    }
    println!("{TRACES} traces x {SPANS_PER_TRACE} spans generated");
    let memory = Storage::from_backend(Arc::new(MemoryStore::new(100_000)));
    bench(generated("memory", memory).await).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let embedded = sextant_storage::embedded::open(&EmbeddedArgs {
        directory: dir.path().to_path_buf(),
        ..Default::default()
    })
    .await
    .expect("open embedded store");
    bench(generated("embedded", embedded).await).await;
}
