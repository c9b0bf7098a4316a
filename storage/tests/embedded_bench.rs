//! A quick throughput and size probe of the embedded store with synthetic, moderately
//! realistic spans (ignored by default; run with
//! `cargo test --release -p sextant-storage --test embedded_bench -- --ignored --nocapture`).
//! The real benchmark is the tracegen-driven command; this only gives early figures.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sextant_model::{
    Event, KeyValue, Resource, Span, SpanId, SpanKind, Status, StatusCode, TraceId,
};
use sextant_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use sextant_storage::{SpanReader, SpanWriter, TraceQuery};

/// A tiny deterministic PRNG (xorshift) so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SERVICES: [&str; 12] = [
    "frontend",
    "cart",
    "checkout",
    "payment",
    "shipping",
    "email",
    "currency",
    "ads",
    "recommendation",
    "catalog",
    "auth",
    "inventory",
];

fn trace(rng: &mut Rng, resources: &[Arc<Resource>], now: u64) -> Vec<Span> {
    let trace_id = TraceId(u128::from(rng.next()) << 64 | u128::from(rng.next()));
    let n = 10 + rng.below(60);
    let start = now - rng.below(3_000_000_000);
    let mut spans: Vec<Span> = Vec::new();
    for i in 0..n {
        let svc = rng.below(SERVICES.len() as u64) as usize;
        let parent = if i == 0 {
            SpanId(0)
        } else {
            spans[rng.below(i) as usize].span_id
        };
        let s = start + i * 1_000 + rng.below(50_000);
        let kind = [SpanKind::Server, SpanKind::Client, SpanKind::Internal][rng.below(3) as usize];
        let route = rng.below(20);
        let mut attributes = vec![
            KeyValue::new(
                "http.request.method",
                ["GET", "POST"][rng.below(2) as usize],
            ),
            KeyValue::new("http.route", format!("/api/v1/items/{route}")),
            KeyValue::new(
                "http.response.status_code",
                [200i64, 200, 200, 404, 500][rng.below(5) as usize],
            ),
            KeyValue::new(
                "url.full",
                format!(
                    "http://{}/api/v1/items/{route}?id={}",
                    SERVICES[svc],
                    rng.below(100_000)
                ),
            ),
            KeyValue::new("network.peer.port", 8080i64),
        ];
        if rng.below(4) == 0 {
            attributes.push(KeyValue::new("db.system", "postgresql"));
            attributes.push(KeyValue::new(
                "db.statement",
                format!("SELECT * FROM items WHERE id = {}", rng.below(100_000)),
            ));
        }
        let error = rng.below(20) == 0;
        spans.push(Span {
            trace_id,
            span_id: SpanId(rng.next() | 1),
            parent_span_id: parent,
            name: format!(
                "{} /api/v1/items/{route}",
                ["GET", "POST"][rng.below(2) as usize]
            ),
            kind,
            start_time_unix_nano: s,
            end_time_unix_nano: s + 1_000 + rng.below(200_000_000),
            attributes,
            events: if error {
                vec![Event {
                    time_unix_nano: s + 10,
                    name: "exception".into(),
                    attributes: vec![KeyValue::new("exception.message", "timeout")],
                    ..Default::default()
                }]
            } else {
                Vec::new()
            },
            status: if error {
                Status {
                    code: StatusCode::Error,
                    message: "timeout".into(),
                }
            } else {
                Status::default()
            },
            resource: resources[svc].clone(),
            ..Default::default()
        });
    }
    spans
}

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .unwrap()
        .flatten()
        .map(|e| {
            let m = e.metadata().unwrap();
            if m.is_dir() {
                dir_size(&e.path())
            } else {
                m.len()
            }
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn ingest_and_size_probe() {
    let total: usize = std::env::var("SPANS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
            .await
            .unwrap(),
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let resources: Vec<Arc<Resource>> = SERVICES
        .iter()
        .map(|s| {
            Arc::new(Resource {
                service_name: s.to_string(),
                attributes: vec![
                    KeyValue::new("host.name", format!("{s}-7d9f8-x2x")),
                    KeyValue::new("telemetry.sdk.language", "go"),
                ],
                ..Default::default()
            })
        })
        .collect();
    let mut rng = Rng(42);
    let mut batches = Vec::new();
    let mut ids = Vec::new();
    let mut n = 0;
    while n < total {
        let mut batch = Vec::new();
        while batch.len() < 1000 {
            let t = trace(&mut rng, &resources, now);
            ids.push(t[0].trace_id);
            batch.extend(t);
        }
        n += batch.len();
        batches.push(batch);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    let rx: Queue = Arc::new(tokio::sync::Mutex::new(batches));
    for _ in 0..8 {
        let store = store.clone();
        let rx = rx.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(b) = rx.lock().await.pop() {
                store.write_spans(b).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "ingest: {n} spans in {secs:.2}s = {:.0} spans/s (durable, indexed)",
        n as f64 / secs
    );
    store.close().await.unwrap();
    let bytes = dir_size(dir.path());
    println!(
        "disk: {bytes} bytes = {:.1} bytes/span",
        bytes as f64 / n as f64
    );

    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default())
        .await
        .unwrap();
    let mut lat = Vec::new();
    for id in ids.iter().step_by(ids.len() / 500 + 1) {
        let t = Instant::now();
        let got = store.get_traces(&[*id]).await.unwrap();
        lat.push(t.elapsed());
        assert_eq!(got.len(), 1);
    }
    report("trace by ID", &mut lat);
    let shapes: Vec<(&str, TraceQuery)> = vec![
        (
            "service",
            TraceQuery {
                service_name: "cart".into(),
                num_traces: 20,
                ..Default::default()
            },
        ),
        (
            "service+op",
            TraceQuery {
                service_name: "cart".into(),
                operation_name: "GET /api/v1/items/3".into(),
                num_traces: 20,
                ..Default::default()
            },
        ),
        (
            "service+tag",
            TraceQuery {
                service_name: "payment".into(),
                tags: vec![("http.response.status_code".into(), "500".into())],
                num_traces: 20,
                ..Default::default()
            },
        ),
        (
            "service+regex",
            TraceQuery {
                service_name: "payment".into(),
                tags: vec![("db.statement".into(), "SELECT.*= 4.*".into())],
                num_traces: 20,
                ..Default::default()
            },
        ),
        (
            "service+duration",
            TraceQuery {
                service_name: "auth".into(),
                duration_min: Some(150_000_000),
                num_traces: 20,
                ..Default::default()
            },
        ),
        (
            "error",
            TraceQuery {
                service_name: "email".into(),
                tags: vec![("error".into(), "true".into())],
                num_traces: 20,
                ..Default::default()
            },
        ),
    ];
    for (name, q) in shapes {
        let mut lat = Vec::new();
        for _ in 0..50 {
            let t = Instant::now();
            let got = store.find_trace_ids(&q).await.unwrap();
            lat.push(t.elapsed());
            assert!(!got.is_empty(), "{name} found nothing");
        }
        report(name, &mut lat);
    }
}

fn report(name: &str, lat: &mut [Duration]) {
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 - 1.0) * q) as usize];
    println!("{name}: p50 {:?} p99 {:?}", p(0.5), p(0.99));
}

type Queue = Arc<tokio::sync::Mutex<Vec<Vec<Span>>>>;
