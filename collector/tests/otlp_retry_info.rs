//! Overload on OTLP gRPC: RESOURCE_EXHAUSTED carrying `google.rpc.RetryInfo`, which the
//! OTLP specification requires before a client may retry that code. Alone in its test
//! binary because it watches the process-wide queue-length gauge.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use prost::Message;
use sextant_collector::metrics::METRICS;
use sextant_collector::receivers::{RetryInfo, RpcStatus, RETRY_INFO_TYPE};
use sextant_collector::{run, CollectorArgs};
use sextant_common::shutdown::Shutdown;
use sextant_model::{Resource, Span, SpanId, TraceId};
use sextant_proto::otlp::collector::trace::v1::trace_service_client::TraceServiceClient;
use sextant_proto::otlp::collector::trace::v1::ExportTraceServiceRequest;
use sextant_storage::{SpanWriter, StorageArgs};
use tokio::sync::Semaphore;

/// Holds every write until the test releases it.
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

fn request(first_span: u64) -> ExportTraceServiceRequest {
    let resource = Arc::new(Resource {
        service_name: "retry-svc".into(),
        ..Resource::default()
    });
    let spans = vec![Span {
        trace_id: TraceId(9),
        span_id: SpanId(first_span),
        resource,
        ..Span::default()
    }];
    ExportTraceServiceRequest {
        resource_spans: sextant_model::otlp::spans_to_resource_spans(&spans),
    }
}

#[tokio::test]
async fn busy_grpc_answer_carries_retry_info() {
    let writer = Arc::new(GatedWriter {
        entered: Semaphore::new(0),
        release: Semaphore::new(0),
    });
    let mut storage = sextant_storage::build(&StorageArgs::default())
        .await
        .unwrap();
    storage.writer = writer.clone();
    let mut args = CollectorArgs::loopback_ephemeral();
    args.num_workers = 1;
    args.queue_size = 1;
    let shutdown = Shutdown::new();
    let collector = run(&args, storage, shutdown.clone()).await.unwrap();
    let url = format!("http://{}", collector.otlp_grpc_addr.unwrap());
    let client = TraceServiceClient::connect(url).await.unwrap();

    // The first request holds the only worker, the second the only queue slot.
    let mut c = client.clone();
    let first = tokio::spawn(async move { c.export(request(1)).await });
    writer.entered.acquire().await.unwrap().forget();
    let mut c = client.clone();
    let second = tokio::spawn(async move { c.export(request(2)).await });
    for _ in 0..500 {
        if METRICS.queue_length.get() >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(METRICS.queue_length.get(), 1);

    let err = client.clone().export(request(3)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err}");
    let details = RpcStatus::decode(err.details()).expect("google.rpc.Status details");
    assert_eq!(details.code, tonic::Code::ResourceExhausted as i32);
    let retry = details
        .details
        .iter()
        .find(|d| d.type_url == RETRY_INFO_TYPE)
        .expect("RetryInfo detail");
    let info = RetryInfo::decode(retry.value.as_slice()).unwrap();
    assert_eq!(info.retry_delay.map(|d| d.seconds), Some(1));

    writer.release.add_permits(2);
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
    shutdown.trigger();
    assert!(collector.join(Duration::from_secs(5)).await);
}
