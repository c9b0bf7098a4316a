//! Overload and storage failure: the processor refuses work it cannot queue (busy), and
//! receivers turn busy / failing storage into retryable answers (gRPC RESOURCE_EXHAUSTED or
//! UNAVAILABLE, HTTP 503 with Retry-After) without acknowledging anything.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sextant_collector::{run, CollectorArgs, ProcessError, SpanFormat, SpanProcessor, Transport};
use sextant_common::shutdown::Shutdown;
use sextant_model::{Resource, Span, SpanId, TraceId};
use sextant_proto::otlp::collector::trace::v1::trace_service_client::TraceServiceClient;
use sextant_proto::otlp::collector::trace::v1::ExportTraceServiceRequest;
use sextant_storage::{SpanWriter, StorageArgs, StorageError};
use tokio::sync::Semaphore;

/// A writer that holds every write until the test releases it.
struct GatedWriter {
    entered: Semaphore,
    release: Semaphore,
}

#[async_trait]
impl SpanWriter for GatedWriter {
    async fn write_spans(&self, _spans: Vec<Span>) -> sextant_storage::Result<()> {
        self.entered.add_permits(1);
        if let Ok(p) = self.release.acquire().await {
            p.forget();
        }
        Ok(())
    }
}

struct FailingWriter;

#[async_trait]
impl SpanWriter for FailingWriter {
    async fn write_spans(&self, _spans: Vec<Span>) -> sextant_storage::Result<()> {
        Err(StorageError::Backend("disk on fire".into()))
    }
}

fn batch(n: u64) -> Vec<Span> {
    let resource = Arc::new(Resource {
        service_name: "busy-svc".into(),
        ..Resource::default()
    });
    (1..=n)
        .map(|i| Span {
            trace_id: TraceId(42),
            span_id: SpanId(i),
            name: "op".into(),
            start_time_unix_nano: 1_000,
            end_time_unix_nano: 2_000,
            resource: resource.clone(),
            ..Span::default()
        })
        .collect()
}

#[tokio::test]
async fn full_queue_is_refused_as_busy() {
    let writer = Arc::new(GatedWriter {
        entered: Semaphore::new(0),
        release: Semaphore::new(0),
    });
    // One worker, room for two waiting spans.
    let processor = SpanProcessor::new(writer.clone(), 1, 2);

    let p = processor.clone();
    let first =
        tokio::spawn(async move { p.process(batch(1), SpanFormat::Otlp, Transport::Grpc).await });
    // Wait until the first batch holds the only worker.
    writer.entered.acquire().await.unwrap().forget();

    let p = processor.clone();
    let second =
        tokio::spawn(async move { p.process(batch(2), SpanFormat::Otlp, Transport::Grpc).await });
    // The second batch fills the queue; poll until it is waiting there.
    for _ in 0..500 {
        if processor.queued_spans() == 2 {
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(processor.queued_spans(), 2);
    let refused = processor
        .process(batch(1), SpanFormat::Otlp, Transport::Grpc)
        .await
        .unwrap_err();
    assert!(matches!(refused, ProcessError::Busy), "{refused:?}");
    assert!(refused.is_overload());

    writer.release.add_permits(2);
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
    // With the queue drained, work is accepted again.
    writer.release.add_permits(1);
    processor
        .process(batch(1), SpanFormat::Otlp, Transport::Grpc)
        .await
        .unwrap();
}

#[tokio::test]
async fn batch_larger_than_queue_is_admitted_when_idle() {
    let writer = Arc::new(GatedWriter {
        entered: Semaphore::new(0),
        release: Semaphore::new(10),
    });
    let processor = SpanProcessor::new(writer, 1, 2);
    processor
        .process(batch(10), SpanFormat::Proto, Transport::Grpc)
        .await
        .unwrap();
}

#[tokio::test]
async fn storage_failure_is_retryable_for_clients() {
    let mut storage = sextant_storage::build(&StorageArgs::default())
        .await
        .unwrap();
    storage.writer = Arc::new(FailingWriter);
    let shutdown = Shutdown::new();
    let collector = run(
        &CollectorArgs::loopback_ephemeral(),
        storage,
        shutdown.clone(),
    )
    .await
    .unwrap();
    let spans = batch(2);

    let url = format!("http://{}", collector.otlp_grpc_addr.unwrap());
    let mut client = TraceServiceClient::connect(url).await.unwrap();
    let err = client
        .export(ExportTraceServiceRequest {
            resource_spans: sextant_model::otlp::spans_to_resource_spans(&spans),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err}");

    let r = reqwest::Client::new()
        .post(format!(
            "http://{}/v1/traces",
            collector.otlp_http_addr.unwrap()
        ))
        .header("content-type", "application/x-protobuf")
        .body(sextant_model::otlp::encode_export_request(&spans))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));

    shutdown.trigger();
    assert!(collector.join(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn memory_bound_refuses_big_batches_while_busy() {
    let writer = Arc::new(GatedWriter {
        entered: Semaphore::new(0),
        release: Semaphore::new(0),
    });
    // One worker, plenty of span slots, but only 1 MiB of waiting spans.
    let processor = SpanProcessor::new(writer.clone(), 1, 10_000).with_memory_bound(1024 * 1024);
    let big = || {
        let mut b = batch(1);
        b[0].attributes
            .push(sextant_model::KeyValue::new("blob", "x".repeat(600 * 1024)));
        b
    };
    let p = processor.clone();
    let first =
        tokio::spawn(async move { p.process(batch(1), SpanFormat::Otlp, Transport::Grpc).await });
    writer.entered.acquire().await.unwrap().forget();
    let p = processor.clone();
    let second =
        tokio::spawn(async move { p.process(big(), SpanFormat::Otlp, Transport::Grpc).await });
    for _ in 0..500 {
        if processor.queued_kib() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(processor.queued_kib() >= 600, "{}", processor.queued_kib());
    let refused = processor
        .process(big(), SpanFormat::Otlp, Transport::Grpc)
        .await
        .unwrap_err();
    assert!(matches!(refused, ProcessError::Busy), "{refused:?}");
    writer.release.add_permits(2);
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
    assert_eq!(processor.queued_kib(), 0);
}
