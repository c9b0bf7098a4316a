//! The ingester against a real broker (`tansu`, in memory, on a free loopback port): spans
//! produced as Jaeger protobuf messages (with undecodable messages among them) are stored
//! exactly as the reference (prost) decoder reads them, the bad messages are counted and
//! skipped, and the offsets committed at shutdown stop a restarted ingester in the same
//! group from reading the stored messages again.
//!
//! Needs the `tansu` binary (`$TANSU`, else `~/.cargo/bin/tansu`; `scripts/setup/60-kafka.sh`
//! installs it). Without it the test says so and passes, like the e2e suite's Kafka tests
//! are skipped on a machine without the broker.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use sextant_common::shutdown::Shutdown;
use sextant_ingester::{run, IngesterArgs};
use sextant_model::kafka::{decode_protobuf_with_prost, encode_span, message_key, Encoding};
use sextant_model::{AnyValue, Event, KeyValue, Resource, Span, SpanId, SpanKind, TraceId};
use sextant_storage::memory::MemoryStore;
use sextant_storage::{SpanReader, SpanWriter};

/// How long the test waits for the broker or the ingester before it gives up (a hang
/// guard, not a performance threshold).
const PATIENCE: Duration = Duration::from_secs(120);

struct Broker {
    child: Child,
    address: String,
    tansu: PathBuf,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tansu_binary() -> Option<PathBuf> {
    let path = match std::env::var_os("TANSU") {
        Some(p) => PathBuf::from(p),
        None => {
            let cargo_home = std::env::var_os("CARGO_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
            cargo_home.join("bin").join("tansu")
        }
    };
    path.is_file().then_some(path)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start_broker() -> Option<Broker> {
    let tansu = tansu_binary()?;
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(&tansu)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", "memory://tansu/"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tansu starts");
    let broker = Broker {
        child,
        address: format!("127.0.0.1:{port}"),
        tansu,
    };
    let deadline = Instant::now() + PATIENCE;
    while TcpStream::connect(&broker.address).is_err() {
        assert!(Instant::now() < deadline, "tansu never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(broker)
}

fn create_topic(broker: &Broker, topic: &str, partitions: u32) {
    let status = Command::new(&broker.tansu)
        .args(["topic", "create", topic, "--broker"])
        .arg(format!("tcp://{}", broker.address))
        .args(["--partitions", &partitions.to_string()])
        .stdout(Stdio::null())
        .status()
        .expect("tansu topic create runs");
    assert!(status.success(), "creating topic {topic}");
}

/// Spans of `traces` traces from a few service instances, with tags of every type, logs
/// and references.
fn spans(traces: u64) -> Vec<Span> {
    let processes: Vec<Arc<Resource>> = (0..6)
        .map(|i| {
            Arc::new(Resource {
                service_name: format!("service-{}", i % 3),
                attributes: vec![
                    KeyValue::new("hostname", format!("host-{i}")),
                    KeyValue::new("ip", "10.0.0.1"),
                    KeyValue::new("jaeger.version", "Go-2.30.0"),
                ],
                ..Default::default()
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in 0..traces {
        for s in 0..7u64 {
            let start = 1_700_000_000_000_000_000 + t * 1_000_000 + s * 1_001;
            out.push(Span {
                trace_id: TraceId::from_halves(t + 1, 0xabc),
                span_id: SpanId(t * 100 + s + 1),
                parent_span_id: if s == 0 {
                    SpanId(0)
                } else {
                    SpanId(t * 100 + 1)
                },
                name: format!("op-{}", s % 4),
                kind: if s % 2 == 0 {
                    SpanKind::Server
                } else {
                    SpanKind::Client
                },
                start_time_unix_nano: start,
                end_time_unix_nano: start + 12_345,
                attributes: vec![
                    KeyValue::new("http.method", "GET"),
                    KeyValue::new("http.status_code", 200i64 + s as i64),
                    KeyValue::new("retry", s % 3 == 0),
                    KeyValue::new("ratio", 0.5 * s as f64),
                    KeyValue {
                        key: "blob".into(),
                        value: AnyValue::Bytes(vec![1, 2, s as u8]),
                    },
                ],
                events: vec![Event {
                    time_unix_nano: start + 5,
                    name: "cache miss".into(),
                    attributes: vec![KeyValue::new("key", format!("k-{t}"))],
                    ..Default::default()
                }],
                flags: 1,
                resource: processes[((t + s) % 6) as usize].clone(),
                ..Default::default()
            });
        }
    }
    out
}

async fn produce(broker: &Broker, topic: &str, messages: &[(String, Vec<u8>)]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &broker.address)
        .set("message.timeout.ms", "60000")
        .create()
        .expect("producer");
    for (key, value) in messages {
        producer
            .send(
                FutureRecord::to(topic).key(key).payload(value),
                Duration::from_secs(60),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("the broker takes the message");
    }
}

fn args(broker: &Broker, topic: &str, group: &str) -> IngesterArgs {
    let mut args = IngesterArgs::default();
    args.connection.brokers = broker.address.clone();
    args.topic = topic.into();
    args.group_id = group.into();
    args
}

fn decode_errors() -> u64 {
    let text = prometheus::TextEncoder::new()
        .encode_to_string(&prometheus::gather())
        .expect("metrics render");
    text.lines()
        .filter(|l| l.starts_with("jaeger_ingester_errors_total{reason=\"decode\"}"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

/// Runs an ingester into `store` until it holds `expected` spans, then shuts it down
/// (which stores and commits what was read).
async fn ingest_until(args: IngesterArgs, store: &Arc<MemoryStore>, expected: usize) {
    let shutdown = Shutdown::new();
    let writer: Arc<dyn SpanWriter> = store.clone();
    let task = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { run(&args, writer, shutdown).await }
    });
    let deadline = Instant::now() + PATIENCE;
    while store.span_count() < expected {
        assert!(
            Instant::now() < deadline,
            "the ingester stored {} of {expected} spans",
            store.span_count()
        );
        assert!(!task.is_finished(), "the ingester stopped early");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.trigger();
    task.await.expect("ingester task").expect("ingester");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_what_the_reference_decoder_reads_and_commits_it() {
    let Some(broker) = start_broker() else {
        eprintln!("SKIPPED: tansu not found (set TANSU or run scripts/setup/60-kafka.sh)");
        return;
    };
    let topic = "ingest-test";
    create_topic(&broker, topic, 3);

    let sent = spans(40);
    let mut messages: Vec<(String, Vec<u8>)> = sent
        .iter()
        .map(|s| {
            (
                message_key(&s.trace_id),
                encode_span(s, Encoding::Protobuf).expect("protobuf encodes"),
            )
        })
        .collect();
    // Undecodable messages among the good ones: skipped and counted, never retried.
    messages.insert(5, ("bad".into(), vec![0x0a, 0x10, 0x01]));
    messages.insert(50, ("bad".into(), vec![0xff; 12]));
    produce(&broker, topic, &messages).await;

    let errors_before = decode_errors();
    let store = Arc::new(MemoryStore::new(1000));
    ingest_until(args(&broker, topic, "group-a"), &store, sent.len()).await;
    assert_eq!(store.span_count(), sent.len());
    assert_eq!(decode_errors() - errors_before, 2);

    // Every stored span is what the prost decoder makes of its message.
    let ids: Vec<TraceId> = (1..=40).map(|t| TraceId::from_halves(t, 0xabc)).collect();
    let mut stored: Vec<Span> = store
        .get_traces(&ids)
        .await
        .unwrap()
        .into_iter()
        .flat_map(|t| t.spans)
        .collect();
    stored.sort_by_key(|s| s.span_id);
    let mut expected: Vec<Span> = messages
        .iter()
        .filter_map(|(_, value)| decode_protobuf_with_prost(value).ok())
        .collect();
    expected.sort_by_key(|s| s.span_id);
    assert_eq!(stored.len(), expected.len());
    for (got, want) in stored.iter().zip(&expected) {
        assert_eq!(got, want);
    }
    // Spans of one service instance share one resource.
    let hosts: std::collections::HashSet<*const Resource> =
        stored.iter().map(|s| Arc::as_ptr(&s.resource)).collect();
    assert!(hosts.len() <= 6, "{} distinct resources", hosts.len());

    // The offsets were committed: a restarted member of the group reads only what is new.
    let late = spans(41).pop().expect("a span");
    produce(
        &broker,
        topic,
        &[(
            message_key(&late.trace_id),
            encode_span(&late, Encoding::Protobuf).unwrap(),
        )],
    )
    .await;
    let again = Arc::new(MemoryStore::new(1000));
    ingest_until(args(&broker, topic, "group-a"), &again, 1).await;
    assert_eq!(again.span_count(), 1);
    let got = again.get_traces(&[late.trace_id]).await.unwrap();
    assert_eq!(got[0].spans, vec![late]);
}
