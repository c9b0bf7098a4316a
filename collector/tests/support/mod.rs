//! What the collector's integration tests share: a collector over a memory store on
//! ephemeral loopback ports, and span fixtures. Each test binary uses part of it.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use sextant_collector::{run, CollectorArgs, RunningCollector};
use sextant_common::shutdown::Shutdown;
use sextant_model::{KeyValue, Resource, Span, SpanId, SpanKind, TraceId};
use sextant_proto::jaeger::api_v2 as pb;
use sextant_storage::{Storage, StorageArgs};

pub struct Harness {
    pub collector: Option<RunningCollector>,
    pub storage: Storage,
    pub shutdown: Shutdown,
}

impl Harness {
    /// A collector on ephemeral loopback ports over a fresh memory store.
    pub async fn start() -> Harness {
        Harness::start_with(CollectorArgs::loopback_ephemeral()).await
    }

    pub async fn start_with(args: CollectorArgs) -> Harness {
        let storage = sextant_storage::build(&StorageArgs::default())
            .await
            .unwrap();
        let shutdown = Shutdown::new();
        let collector = run(&args, storage.clone(), shutdown.clone()).await.unwrap();
        Harness {
            collector: Some(collector),
            storage,
            shutdown,
        }
    }

    pub fn running(&self) -> &RunningCollector {
        self.collector.as_ref().unwrap()
    }

    pub fn otlp_http_url(&self) -> String {
        format!(
            "http://{}/v1/traces",
            self.running().otlp_http_addr.unwrap()
        )
    }

    /// The spans of `trace` in storage, polled until `expected` are there (writes are
    /// acknowledged only once stored, so this normally returns on the first read).
    pub async fn spans_of(&self, trace: TraceId, expected: usize) -> Vec<Span> {
        for _ in 0..100 {
            let traces = self.storage.reader.get_traces(&[trace]).await.unwrap();
            let spans: Vec<Span> = traces.into_iter().flat_map(|t| t.spans).collect();
            if spans.len() >= expected {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("trace {trace} never reached {expected} spans");
    }

    pub async fn stop(mut self) {
        self.shutdown.trigger();
        let stopped = self
            .collector
            .take()
            .unwrap()
            .join(Duration::from_secs(5))
            .await;
        assert!(stopped, "collector did not stop in time");
    }
}

/// `n` spans of one trace and service (span 1 the root, the others its children).
pub fn spans(trace: u128, service: &str, n: u64) -> Vec<Span> {
    let resource = Arc::new(Resource {
        service_name: service.to_string(),
        attributes: vec![KeyValue::new("host.name", "box-1")],
        ..Resource::default()
    });
    (1..=n)
        .map(|i| Span {
            trace_id: TraceId(trace),
            span_id: SpanId(i),
            parent_span_id: SpanId(if i == 1 { 0 } else { 1 }),
            name: format!("op-{i}"),
            kind: SpanKind::Server,
            start_time_unix_nano: 1_700_000_000_000_000_000 + i * 1000,
            end_time_unix_nano: 1_700_000_000_000_000_000 + i * 1000 + 500_000,
            attributes: vec![KeyValue::new("http.status_code", 200i64)],
            resource: resource.clone(),
            ..Span::default()
        })
        .collect()
}

/// The api_v2 `Batch` of `spans` (which share one process).
pub fn api_v2_batch(spans: &[Span]) -> pb::Batch {
    let process = sextant_model::api_v2::process_to_proto(&spans[0].resource);
    pb::Batch {
        spans: spans
            .iter()
            .map(|s| {
                let mut p = sextant_model::api_v2::span_to_proto(s);
                p.process = None;
                p
            })
            .collect(),
        process: Some(process),
    }
}
