//! Adaptive sampling end to end on loopback: root spans with Jaeger's sampler tags go in
//! through the api_v2 gRPC receiver, and the strategies served over gRPC
//! (`GetSamplingStrategy`) and HTTP (`/api/sampling`) follow the traffic: a busy operation's
//! probability goes down, a quiet one's up. Two collectors sharing one sampling store serve
//! the same probabilities.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sextant_collector::sampling::ConfigType;
use sextant_collector::{run_with_sampling_store, CollectorArgs, RunningCollector};
use sextant_common::shutdown::Shutdown;
use sextant_model::{KeyValue, Resource, Span, SpanId, SpanKind, TraceId};
use sextant_proto::jaeger::api_v2 as pb;
use sextant_proto::jaeger::api_v2::collector_service_client::CollectorServiceClient;
use sextant_proto::jaeger::api_v2::sampling_manager_client::SamplingManagerClient;
use sextant_storage::sampling::SamplingStore;
use sextant_storage::StorageArgs;

mod support;
use support::{api_v2_batch, Harness};

/// `osmem-server` (an in-memory OpenSearch-compatible server from PyPI, installed by
/// `scripts/setup/40-osmem.sh`) on a free loopback port, for the shared-store test.
mod osmem {
    use std::io::{BufRead, BufReader};
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};

    pub struct Osmem {
        pub url: String,
        child: Child,
    }

    impl Drop for Osmem {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// `OSMEM_SERVER`, else `osmem-server` on PATH, else the setup script's venv.
    fn binary() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os("OSMEM_SERVER").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(p));
        }
        let on_path = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("osmem-server"))
                .find(|p| p.is_file())
        });
        if on_path.is_some() {
            return on_path;
        }
        let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/.venv-osmem/lib");
        std::fs::read_dir(venv).ok()?.flatten().find_map(|d| {
            let p = d.path().join("site-packages/osmem_server/bin/osmem-server");
            p.is_file().then_some(p)
        })
    }

    impl Osmem {
        /// Starts the server, or `None` (printing why) when it is not installed. It prints
        /// one JSON line with its URL once it listens.
        pub fn start() -> Option<Osmem> {
            let Some(bin) = binary() else {
                println!("SKIPPED: osmem-server not found (set OSMEM_SERVER)");
                return None;
            };
            let mut child = Command::new(&bin)
                .args(["--addr", "127.0.0.1:0", "--no-ja"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let stdout = child.stdout.take().unwrap();
            let mut server = Osmem {
                url: String::new(),
                child,
            };
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                if let Some(url) = v.get("url").and_then(|u| u.as_str()) {
                    server.url = url.to_string();
                    return Some(server);
                }
            }
            panic!("osmem-server exited before printing its URL");
        }
    }
}

const SERVICE: &str = "adaptive-svc";
const INITIAL: f64 = 0.001;
const MIN_PROBABILITY: f64 = 1e-5;

/// Short intervals so the test sees several calculations quickly; a target of 10 samples/s
/// so that the quiet operation (a few spans a second) is clearly below it and the busy one
/// (thousands a second) clearly above.
fn adaptive_args() -> CollectorArgs {
    let mut args = CollectorArgs::loopback_ephemeral();
    args.sampling.config_type = ConfigType::Adaptive;
    let a = &mut args.sampling.adaptive;
    a.calculation_interval = Duration::from_millis(500);
    a.delay = Duration::ZERO;
    a.target_samples_per_second = 10.0;
    a.initial_sampling_probability = INITIAL;
    a.min_sampling_probability = MIN_PROBABILITY;
    a.leader_lease_refresh_interval = Duration::from_millis(100);
    a.follower_lease_refresh_interval = Duration::from_secs(2);
    args
}

static NEXT_TRACE: AtomicU64 = AtomicU64::new(1);

/// `n` root spans of `operation`, each its own trace, sampled probabilistically at 0.001.
fn roots(operation: &str, n: usize) -> Vec<Span> {
    let resource = Arc::new(Resource {
        service_name: SERVICE.to_string(),
        ..Resource::default()
    });
    (0..n)
        .map(|_| Span {
            trace_id: TraceId(u128::from(NEXT_TRACE.fetch_add(1, Ordering::Relaxed))),
            span_id: SpanId(1),
            parent_span_id: SpanId(0),
            name: operation.to_string(),
            kind: SpanKind::Server,
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_000_500_000,
            attributes: vec![
                KeyValue::new("sampler.type", "probabilistic"),
                KeyValue::new("sampler.param", INITIAL),
            ],
            resource: resource.clone(),
            ..Span::default()
        })
        .collect()
}

/// Sends `busy` spans in batches of 100 as fast as the collector takes them to
/// `busy_to`, and one `quiet` span every 20 batches (a few per second) to `quiet_to`,
/// until `stop` is set.
fn send_traffic(
    busy_to: String,
    quiet_to: String,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut busy = CollectorServiceClient::connect(busy_to).await.unwrap();
        let mut quiet = CollectorServiceClient::connect(quiet_to).await.unwrap();
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let batch = api_v2_batch(&roots("busy", 100));
            busy.post_spans(pb::PostSpansRequest { batch: Some(batch) })
                .await
                .unwrap();
            if i.is_multiple_of(20) {
                let batch = api_v2_batch(&roots("quiet", 1));
                quiet
                    .post_spans(pb::PostSpansRequest { batch: Some(batch) })
                    .await
                    .unwrap();
            }
            i += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

async fn grpc_strategy(
    collector: &RunningCollector,
    service: &str,
) -> pb::SamplingStrategyResponse {
    let mut client = SamplingManagerClient::connect(format!("http://{}", collector.grpc_addr))
        .await
        .unwrap();
    client
        .get_sampling_strategy(pb::SamplingStrategyParameters {
            service_name: service.to_string(),
        })
        .await
        .unwrap()
        .into_inner()
}

fn op_probability(r: &pb::SamplingStrategyResponse, op: &str) -> Option<f64> {
    r.operation_sampling
        .as_ref()?
        .per_operation_strategies
        .iter()
        .find(|s| s.operation == op)?
        .probabilistic_sampling
        .as_ref()
        .map(|p| p.sampling_rate)
}

/// Polls `done` every 100 ms, for at most `attempts` times; false if it never held.
async fn eventually<F, Fut>(attempts: usize, mut done: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..attempts {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn probabilities_follow_traffic_over_grpc_and_http() {
    let h = Harness::start_with(adaptive_args()).await;
    let grpc_url = format!("http://{}", h.running().grpc_addr);

    // Before any traffic: Jaeger's default adaptive answer.
    let first = grpc_strategy(h.running(), SERVICE).await;
    assert_eq!(
        first.strategy_type,
        pb::SamplingStrategyType::Probabilistic as i32
    );
    let per_op = first.operation_sampling.clone().unwrap();
    assert_eq!(per_op.default_sampling_probability, INITIAL);
    assert_eq!(per_op.default_lower_bound_traces_per_second, 1.0 / 60.0);
    assert!(per_op.per_operation_strategies.is_empty());

    let stop = Arc::new(AtomicBool::new(false));
    let sender = send_traffic(grpc_url.clone(), grpc_url, stop.clone());

    let adapted = eventually(300, || async {
        let r = grpc_strategy(h.running(), SERVICE).await;
        matches!(
            (op_probability(&r, "busy"), op_probability(&r, "quiet")),
            (Some(busy), Some(quiet)) if busy < INITIAL && quiet > INITIAL
        )
    })
    .await;
    let r = grpc_strategy(h.running(), SERVICE).await;
    assert!(adapted, "probabilities never adapted: {r:?}");
    assert!(op_probability(&r, "busy").unwrap() >= MIN_PROBABILITY);

    // The same over HTTP, in Jaeger's JSON.
    let body: serde_json::Value = reqwest::Client::new()
        .get(format!("http://{}/api/sampling", h.running().http_addr))
        .query(&[("service", SERVICE)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["strategyType"], "PROBABILISTIC");
    let ops = &body["operationSampling"];
    assert_eq!(ops["defaultSamplingProbability"], INITIAL);
    let rate = |op: &str| {
        ops["perOperationStrategies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["operation"] == op)
            .and_then(|s| s["probabilisticSampling"]["samplingRate"].as_f64())
            .unwrap()
    };
    assert!(rate("busy") < INITIAL, "{body}");
    assert!(rate("quiet") > INITIAL, "{body}");

    // A service never seen gets the default answer.
    let other = grpc_strategy(h.running(), "never-seen").await;
    assert!(other
        .operation_sampling
        .unwrap()
        .per_operation_strategies
        .is_empty());

    stop.store(true, Ordering::Relaxed);
    sender.await.unwrap();
    h.stop().await;
}

#[tokio::test]
async fn collectors_sharing_a_store_serve_the_same_probabilities() {
    let store: Arc<dyn SamplingStore> = sextant_storage::sampling::build_memory();
    two_collectors_agree([store.clone(), store.clone()], store).await;
}

/// The same with the state in Elasticsearch (`osmem-server`), each collector with its own
/// client as separate processes would have. Skipped when osmem-server is not installed.
#[tokio::test]
async fn collectors_sharing_elasticsearch_serve_the_same_probabilities() {
    let Some(server) = osmem::Osmem::start() else {
        return;
    };
    let es = |_| -> Arc<dyn SamplingStore> {
        let args = sextant_storage::elasticsearch::EsArgs {
            server_urls: vec![server.url.clone()],
            num_shards: 1,
            num_replicas: 0,
            ..Default::default()
        };
        Arc::new(sextant_storage::elasticsearch::sampling::EsSamplingStore::new(&args).unwrap())
    };
    two_collectors_agree([es(0), es(1)], es(2)).await;
}

/// Two collectors, each over its handle of one shared sampling store (`check` is a third
/// handle, to read what they wrote).
async fn two_collectors_agree(stores: [Arc<dyn SamplingStore>; 2], check: Arc<dyn SamplingStore>) {
    let shutdown = Shutdown::new();
    let mut collectors = Vec::new();
    for store in stores {
        let storage = sextant_storage::build(&StorageArgs::default())
            .await
            .unwrap();
        let c = run_with_sampling_store(&adaptive_args(), storage, store, shutdown.clone())
            .await
            .unwrap();
        collectors.push(c);
    }
    let (a, b) = (&collectors[0], &collectors[1]);

    // Busy traffic reaches only the first collector, quiet traffic only the second: each
    // operation's probability can only come from throughput shared through the store.
    let stop = Arc::new(AtomicBool::new(false));
    let sender = send_traffic(
        format!("http://{}", a.grpc_addr),
        format!("http://{}", b.grpc_addr),
        stop.clone(),
    );

    // Busy settles at the minimum, quiet at 1 (it stays below the target at any
    // probability); both collectors must then answer the same.
    let settled = |r: &pb::SamplingStrategyResponse| {
        op_probability(r, "busy") == Some(MIN_PROBABILITY)
            && op_probability(r, "quiet") == Some(1.0)
    };
    let agreed = eventually(600, || async {
        let (ra, rb) = (
            grpc_strategy(a, SERVICE).await,
            grpc_strategy(b, SERVICE).await,
        );
        settled(&ra) && ra == rb
    })
    .await;
    let (ra, rb) = (
        grpc_strategy(a, SERVICE).await,
        grpc_strategy(b, SERVICE).await,
    );
    assert!(agreed, "collectors never agreed:\n{ra:?}\n{rb:?}");

    // The record they serve is the store's, written by one of them.
    let record = check.get_latest_probabilities().await.unwrap();
    assert_eq!(record.probabilities[SERVICE]["busy"], MIN_PROBABILITY);
    assert!(!record.hostname.is_empty());

    stop.store(true, Ordering::Relaxed);
    sender.await.unwrap();
    shutdown.trigger();
    for c in collectors {
        assert!(c.join(Duration::from_secs(5)).await);
    }
}
