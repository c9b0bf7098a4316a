//! The agent's sampling endpoints on a real HTTP socket, answered from a real gRPC
//! `SamplingManager` server on loopback (a small tonic server standing in for the
//! collector's, counting calls): Jaeger's JSON shapes, the per-service cache and its
//! refresh, Jaeger's 400 for a missing service, and the fallbacks once the collector is gone.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sextant_agent::{run, AgentArgs};
use sextant_common::shutdown::Shutdown;
use sextant_proto::jaeger::api_v2 as pb;
use sextant_proto::jaeger::api_v2::sampling_manager_server::{
    SamplingManager, SamplingManagerServer,
};
use tonic::{Request, Response, Status};

#[derive(Clone, Default)]
struct Strategies {
    calls: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl SamplingManager for Strategies {
    async fn get_sampling_strategy(
        &self,
        request: Request<pb::SamplingStrategyParameters>,
    ) -> Result<Response<pb::SamplingStrategyResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let service = request.into_inner().service_name;
        let response = match service.as_str() {
            "limited" => pb::SamplingStrategyResponse {
                strategy_type: pb::SamplingStrategyType::RateLimiting as i32,
                rate_limiting_sampling: Some(pb::RateLimitingSamplingStrategy {
                    max_traces_per_second: 7,
                }),
                ..Default::default()
            },
            _ => pb::SamplingStrategyResponse {
                strategy_type: pb::SamplingStrategyType::Probabilistic as i32,
                probabilistic_sampling: Some(pb::ProbabilisticSamplingStrategy {
                    sampling_rate: 0.25,
                }),
                ..Default::default()
            },
        };
        Ok(Response::new(response))
    }
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn strategies_are_proxied_cached_refreshed_and_defaulted() {
    let strategies = Strategies::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc_addr = listener.local_addr().unwrap();
    let server_stop = Shutdown::new();
    let stop = server_stop.clone();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(SamplingManagerServer::new(strategies.clone()))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async move { stop.wait().await },
            ),
    );

    let shutdown = Shutdown::new();
    let args = AgentArgs {
        sampling_refresh_interval: Duration::from_millis(300),
        ..AgentArgs::loopback_ephemeral(&grpc_addr.to_string())
    };
    let agent = run(&args, shutdown.clone()).await.unwrap();
    let base = format!("http://{}", agent.http_addr);

    let (status, body) = get(&format!("{base}/sampling?service=checkout")).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        r#"{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.25}}"#
    );
    // Cached: the legacy endpoint for the same service costs no collector call.
    let (status, body) = get(&format!("{base}/?service=checkout")).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        r#"{"strategyType":0,"probabilisticSampling":{"samplingRate":0.25}}"#
    );
    assert_eq!(strategies.calls.load(Ordering::SeqCst), 1);

    let (_, body) = get(&format!("{base}/sampling?service=limited")).await;
    assert_eq!(
        body,
        r#"{"strategyType":"RATE_LIMITING","rateLimitingSampling":{"maxTracesPerSecond":7}}"#
    );
    assert_eq!(strategies.calls.load(Ordering::SeqCst), 2);

    // After the refresh interval the next request fetches again.
    tokio::time::sleep(Duration::from_millis(350)).await;
    get(&format!("{base}/sampling?service=checkout")).await;
    assert_eq!(strategies.calls.load(Ordering::SeqCst), 3);

    // Jaeger's answers to bad requests and to baggage restrictions.
    assert_eq!(get(&format!("{base}/sampling")).await.0, 400);
    assert_eq!(
        get(&format!("{base}/sampling?service=a&service=b")).await.0,
        400
    );
    let (status, body) = get(&format!("{base}/baggageRestrictions?service=checkout")).await;
    assert_eq!(status, 500);
    assert!(body.contains("baggage not implemented"));

    // Collector gone: a known service keeps its last strategy, a new one gets the default.
    server_stop.trigger();
    server.await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(350)).await;
    let (status, body) = get(&format!("{base}/sampling?service=checkout")).await;
    assert_eq!(status, 200);
    assert!(body.contains("0.25"), "{body}");
    let (status, body) = get(&format!("{base}/sampling?service=newcomer")).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        r#"{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.001}}"#
    );

    shutdown.trigger();
    assert!(agent.join(Duration::from_secs(5)).await);
}
