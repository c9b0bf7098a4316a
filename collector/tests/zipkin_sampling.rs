//! The Zipkin receiver (v1/v2, JSON/thrift/proto, gzip, B3 debug header, CORS, hostile
//! input) and the sampling endpoints (gRPC and HTTP, file reload), on loopback.

use std::io::Write;
use std::time::Duration;

use flate2::write::GzEncoder;
use flate2::Compression;
use sextant_collector::{run, CollectorArgs, RunningCollector};
use sextant_common::shutdown::Shutdown;
use sextant_model::{SpanKind, TraceId};
use sextant_proto::jaeger::api_v2::sampling_manager_client::SamplingManagerClient;
use sextant_proto::jaeger::api_v2::{SamplingStrategyParameters, SamplingStrategyType};
use sextant_storage::{Storage, StorageArgs};

async fn start(args: CollectorArgs) -> (RunningCollector, Storage, Shutdown) {
    let storage = sextant_storage::build(&StorageArgs::default())
        .await
        .unwrap();
    let shutdown = Shutdown::new();
    let collector = run(&args, storage.clone(), shutdown.clone()).await.unwrap();
    (collector, storage, shutdown)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

const V2_JSON: &str = r#"[{"traceId":"5af7183fb1d4cf5f6a5b4c3d2e1f0a9b","id":"352bff9a74ca9ad2",
  "name":"get /api","kind":"SERVER","timestamp":1700000000000000,"duration":2500,
  "localEndpoint":{"serviceName":"zipkin-svc","ipv4":"10.1.2.3"},"tags":{"http.method":"GET"}}]"#;

const V1_JSON: &str = r#"[{"traceId":"00000000000000aa","id":"00000000000000bb","name":"call",
  "annotations":[
    {"timestamp":1700000000000000,"value":"cs","endpoint":{"serviceName":"v1-client"}},
    {"timestamp":1700000000000100,"value":"sr","endpoint":{"serviceName":"v1-server"}},
    {"timestamp":1700000000000900,"value":"ss","endpoint":{"serviceName":"v1-server"}},
    {"timestamp":1700000000001000,"value":"cr","endpoint":{"serviceName":"v1-client"}}],
  "binaryAnnotations":[{"key":"http.url","value":"/x","endpoint":{"serviceName":"v1-server"}}]}]"#;

#[tokio::test]
async fn zipkin_v1_and_v2_arrive_with_gzip_debug_and_cors() {
    let (collector, storage, shutdown) = start(CollectorArgs::loopback_ephemeral()).await;
    let base = format!("http://{}", collector.zipkin_addr.unwrap());
    let http = reqwest::Client::new();

    let r = http
        .post(format!("{base}/api/v2/spans"))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .header("x-b3-flags", "1")
        .body(gzip(V2_JSON.as_bytes()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let trace = TraceId(0x5af7183fb1d4cf5f6a5b4c3d2e1f0a9b);
    let got = storage.reader.get_traces(&[trace]).await.unwrap();
    let span = &got[0].spans[0];
    assert_eq!(span.service_name(), "zipkin-svc");
    assert_eq!(span.kind, SpanKind::Server);
    assert_eq!(span.flags & 2, 2, "X-B3-Flags: 1 marks the span debug");

    let r = http
        .post(format!("{base}/api/v1/spans"))
        .body(V1_JSON)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let got = storage.reader.get_traces(&[TraceId(0xaa)]).await.unwrap();
    let mut services: Vec<_> = got[0]
        .spans
        .iter()
        .map(|s| s.service_name().to_string())
        .collect();
    services.sort();
    assert_eq!(services, ["v1-client", "v1-server"]);

    // CORS preflight, as a browser sends it.
    let r = http
        .request(reqwest::Method::OPTIONS, format!("{base}/api/v2/spans"))
        .header("origin", "http://app.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(r.headers()["access-control-allow-origin"], "*");

    shutdown.trigger();
    assert!(collector.join(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn zipkin_hostile_bodies_get_4xx() {
    let (collector, _storage, shutdown) = start(CollectorArgs::loopback_ephemeral()).await;
    let base = format!("http://{}", collector.zipkin_addr.unwrap());
    let http = reqwest::Client::new();
    let random: Vec<u8> = (0..2000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "/api/v2/spans",
            "application/json",
            V2_JSON.as_bytes()[..40].to_vec(),
        ),
        (
            "/api/v2/spans",
            "application/json",
            br#"{"traceId":1}"#.to_vec(),
        ),
        (
            "/api/v2/spans",
            "application/json",
            br#"[{"traceId":1,"id":"2"}]"#.to_vec(),
        ),
        ("/api/v2/spans", "application/x-protobuf", random.clone()),
        ("/api/v1/spans", "application/json", random.clone()),
        ("/api/v1/spans", "application/x-thrift", random.clone()),
        ("/api/v1/spans", "application/x-thrift", vec![0x0c, 0, 0, 0]),
        (
            "/api/v1/spans",
            "application/json",
            V1_JSON.as_bytes()[..100].to_vec(),
        ),
    ];
    for (path, ct, body) in cases {
        let r = http
            .post(format!("{base}{path}"))
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{path} {ct}");
    }
    let r = http
        .post(format!("{base}/api/v2/spans"))
        .header("content-encoding", "gzip")
        .body(random)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http
        .post(format!("{base}/api/v2/spans"))
        .body(vec![b' '; 21 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    shutdown.trigger();
    assert!(collector.join(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn sampling_strategies_over_grpc_and_http_with_reload() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strategies.json");
    std::fs::write(
        &path,
        r#"{"default_strategy":{"type":"probabilistic","param":0.5},
            "service_strategies":[{"service":"rl","type":"ratelimiting","param":7}]}"#,
    )
    .unwrap();
    let mut args = CollectorArgs::loopback_ephemeral();
    args.sampling.strategies_file = path.to_string_lossy().into_owned();
    args.sampling.reload_interval = Duration::from_millis(50);
    let (collector, _storage, shutdown) = start(args).await;

    let mut grpc = SamplingManagerClient::connect(format!("http://{}", collector.grpc_addr))
        .await
        .unwrap();
    let ask = |service: &str| SamplingStrategyParameters {
        service_name: service.to_string(),
    };
    let rl = grpc
        .get_sampling_strategy(ask("rl"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rl.strategy_type, SamplingStrategyType::RateLimiting as i32);
    assert_eq!(rl.rate_limiting_sampling.unwrap().max_traces_per_second, 7);

    let http = reqwest::Client::new();
    let url = format!("http://{}/api/sampling", collector.http_addr);
    let body = http
        .get(&url)
        .query(&[("service", "other")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        body,
        r#"{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.5}}"#
    );
    assert_eq!(http.get(&url).send().await.unwrap().status(), 400);

    // A broken file is ignored; a changed valid one is picked up.
    std::fs::write(&path, "{ not json").unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let kept = grpc
        .get_sampling_strategy(ask("x"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kept.probabilistic_sampling.unwrap().sampling_rate, 0.5);
    std::fs::write(
        &path,
        r#"{"default_strategy":{"type":"probabilistic","param":0.25}}"#,
    )
    .unwrap();
    let mut rate = 0.0;
    for _ in 0..100 {
        let r = grpc
            .get_sampling_strategy(ask("x"))
            .await
            .unwrap()
            .into_inner();
        rate = r.probabilistic_sampling.unwrap().sampling_rate;
        if rate == 0.25 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rate, 0.25);
    shutdown.trigger();
    assert!(collector.join(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn default_sampling_is_probabilistic_one_per_mille() {
    let (collector, _storage, shutdown) = start(CollectorArgs::loopback_ephemeral()).await;
    let mut grpc = SamplingManagerClient::connect(format!("http://{}", collector.grpc_addr))
        .await
        .unwrap();
    let r = grpc
        .get_sampling_strategy(SamplingStrategyParameters {
            service_name: "any".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.strategy_type, SamplingStrategyType::Probabilistic as i32);
    assert_eq!(r.probabilistic_sampling.unwrap().sampling_rate, 0.001);
    shutdown.trigger();
    assert!(collector.join(Duration::from_secs(5)).await);
}
