//! Starts a query server on 127.0.0.1:0 over a memory store holding a small, known data set.

#![allow(dead_code)] // each test binary uses a different part

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sextant_common::shutdown::Shutdown;
use sextant_model::{KeyValue, Resource, Span, SpanId, SpanKind, Status, StatusCode, TraceId};
use sextant_query::{QueryArgs, RunningQuery, Stores};
use sextant_storage::memory::MemoryStore;
use sextant_storage::Storage;

pub struct Server {
    pub base: String,
    /// `http://host:port` of the gRPC server.
    pub grpc: String,
    /// Start of the fixture's first span, Unix microseconds (0 without the fixture).
    pub t0_us: u64,
    pub storage: Storage,
    shutdown: Shutdown,
    running: Option<RunningQuery>,
}

impl Server {
    pub async fn stop(mut self) {
        self.shutdown.trigger();
        if let Some(r) = self.running.take() {
            r.wait().await;
        }
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.base, path_and_query)
    }
}

pub async fn start_with(storage: Storage, base_path: &str) -> Server {
    start_stores(
        Stores {
            primary: storage,
            archive: None,
        },
        base_path,
    )
    .await
}

/// A server over `stores` (primary and optional archive) with test-friendly flags.
pub async fn start_stores(stores: Stores, base_path: &str) -> Server {
    start_args(stores, args(base_path)).await
}

pub fn args(base_path: &str) -> QueryArgs {
    QueryArgs {
        http_host_port: "127.0.0.1:0".into(),
        grpc_host_port: "127.0.0.1:0".into(),
        base_path: base_path.into(),
        ..Default::default()
    }
}

pub async fn start_args(stores: Stores, args: QueryArgs) -> Server {
    let storage = stores.primary.clone();
    let shutdown = Shutdown::new();
    let running = sextant_query::run(&args, stores, shutdown.clone())
        .await
        .unwrap();
    Server {
        base: format!("http://{}", running.http_addr),
        grpc: format!("http://{}", running.grpc_addr),
        t0_us: 0,
        storage,
        shutdown,
        running: Some(running),
    }
}

/// A server over a memory store holding [`fixture`].
pub async fn start(base_path: &str) -> Server {
    let storage = Storage::from_backend(Arc::new(MemoryStore::new(1000)));
    let t0 = t0_us();
    storage.writer.write_spans(fixture(t0)).await.unwrap();
    let mut server = start_with(storage, base_path).await;
    server.t0_us = t0;
    server
}

pub const T1: TraceId = TraceId(0x0000_0000_0000_0abc_0000_0000_0000_0def);
pub const T2: TraceId = TraceId(0x1234);

/// A fixture start: ten minutes ago, whole microseconds.
pub fn t0_us() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    (now.as_micros() as u64) - 600_000_000
}

/// T1: frontend `HTTP GET /dispatch` (server, 100ms, error, status 200) → mysql
/// `SQL SELECT` (client, 50ms). T2: frontend `HTTP GET /customer` (server, 5ms,
/// customer=123), a minute later.
pub fn fixture(t0: u64) -> Vec<Span> {
    let frontend = Arc::new(Resource {
        service_name: "frontend".into(),
        attributes: vec![KeyValue::new("hostname", "web-1")],
        ..Default::default()
    });
    let mysql = Arc::new(Resource {
        service_name: "mysql".into(),
        ..Default::default()
    });
    let span = |trace_id,
                id,
                parent,
                name: &str,
                kind,
                start_us: u64,
                dur_us: u64,
                res: &Arc<Resource>| Span {
        trace_id,
        span_id: SpanId(id),
        parent_span_id: SpanId(parent),
        name: name.into(),
        kind,
        start_time_unix_nano: start_us * 1000,
        end_time_unix_nano: (start_us + dur_us) * 1000,
        flags: 1,
        resource: res.clone(),
        ..Default::default()
    };
    let mut dispatch = span(
        T1,
        1,
        0,
        "HTTP GET /dispatch",
        SpanKind::Server,
        t0,
        100_000,
        &frontend,
    );
    dispatch.attributes = vec![KeyValue::new("http.status_code", 200i64)];
    dispatch.status = Status {
        code: StatusCode::Error,
        message: String::new(),
    };
    let mut select = span(
        T1,
        2,
        1,
        "SQL SELECT",
        SpanKind::Client,
        t0 + 10_000,
        50_000,
        &mysql,
    );
    select.attributes = vec![KeyValue::new("db.type", "sql")];
    let mut customer = span(
        T2,
        3,
        0,
        "HTTP GET /customer",
        SpanKind::Server,
        t0 + 60_000_000,
        5_000,
        &frontend,
    );
    customer.attributes = vec![KeyValue::new("customer", "123")];
    vec![dispatch, select, customer]
}
