//! Forwarding to several collectors: a static list and a `dns:///` name both spread batches
//! over every collector, and a collector killed mid-run costs no span — its batches go to
//! the others.
//!
//! The collectors are real (`sextant_collector::run` over memory stores), each on its own
//! loopback address (127.0.0.2, .3, .4: Linux routes all of 127/8 to `lo`). For `dns:///`
//! the test needs one name answering with all three addresses; it provides it through the
//! agent's pluggable [`Resolver`] — a table the test edits (the production resolver is the
//! system one; what is under test is the agent's re-resolution and round-robin, not
//! getaddrinfo). Editing /etc/hosts instead would need root and race with other tests.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use sextant_agent::reporter::resolver::Resolver;
use sextant_agent::{run, run_with_resolver, AgentArgs, RunningAgent};
use sextant_collector::{CollectorArgs, RunningCollector};
use sextant_common::shutdown::Shutdown;
use sextant_model::thrift::{encode_emit_batch, BatchMeta, Protocol};
use sextant_model::{Resource, Span, SpanId, TraceId};
use sextant_storage::{Storage, StorageArgs};
use tokio::net::UdpSocket;

const SPANS_PER_PACKET: u64 = 4;

struct Collector {
    storage: Storage,
    running: Option<RunningCollector>,
    shutdown: Shutdown,
    addr: SocketAddr,
}

impl Collector {
    async fn start(host_port: &str) -> Collector {
        let storage = sextant_storage::build(&StorageArgs::default())
            .await
            .unwrap();
        let shutdown = Shutdown::new();
        let args = CollectorArgs {
            grpc_host_port: host_port.to_string(),
            ..CollectorArgs::loopback_ephemeral()
        };
        let running = sextant_collector::run(&args, storage.clone(), shutdown.clone())
            .await
            .unwrap();
        Collector {
            storage,
            addr: running.grpc_addr,
            running: Some(running),
            shutdown,
        }
    }

    async fn kill(&mut self) {
        self.shutdown.trigger();
        if let Some(r) = self.running.take() {
            r.join(Duration::from_secs(5)).await;
        }
    }

    /// Distinct span IDs stored, per trace among `traces`.
    async fn spans(&self, traces: &[TraceId]) -> BTreeSet<(u128, u64)> {
        let got = self.storage.reader.get_traces(traces).await.unwrap();
        got.iter()
            .flat_map(|t| t.spans.iter().map(|s| (s.trace_id.0, s.span_id.0)))
            .collect()
    }
}

/// Three collectors on 127.0.0.2-4; with `same_port` all on one port (as behind a DNS name).
async fn three_collectors(same_port: bool) -> Vec<Collector> {
    for _ in 0..20 {
        let first = Collector::start("127.0.0.2:0").await;
        let port = if same_port { first.addr.port() } else { 0 };
        let mut all = vec![first];
        for ip in ["127.0.0.3", "127.0.0.4"] {
            let args = CollectorArgs {
                grpc_host_port: format!("{ip}:{port}"),
                ..CollectorArgs::loopback_ephemeral()
            };
            // The port may be taken on another address: start over with a new one.
            let storage = sextant_storage::build(&StorageArgs::default())
                .await
                .unwrap();
            let shutdown = Shutdown::new();
            match sextant_collector::run(&args, storage.clone(), shutdown.clone()).await {
                Ok(running) => all.push(Collector {
                    storage,
                    addr: running.grpc_addr,
                    running: Some(running),
                    shutdown,
                }),
                Err(_) => break,
            }
        }
        if all.len() == 3 {
            return all;
        }
        for c in &mut all {
            c.kill().await;
        }
    }
    panic!("no port free on 127.0.0.2-4");
}

fn agent_args(target: String) -> AgentArgs {
    AgentArgs {
        // One packet per batch, so round-robin shows per packet.
        batch_max_spans: SPANS_PER_PACKET as usize,
        batch_max_delay: Duration::from_millis(10),
        discovery_refresh_interval: Duration::from_millis(100),
        ..AgentArgs::loopback_ephemeral(&target)
    }
}

fn packet(trace: u128) -> Vec<u8> {
    let resource = Arc::new(Resource {
        service_name: "spread".into(),
        ..Resource::default()
    });
    let spans: Vec<Span> = (1..=SPANS_PER_PACKET)
        .map(|i| Span {
            trace_id: TraceId(trace),
            span_id: SpanId(i),
            name: format!("op-{i}"),
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_001_000_000,
            resource: resource.clone(),
            ..Span::default()
        })
        .collect();
    encode_emit_batch(
        &resource,
        &spans,
        &BatchMeta::default(),
        Protocol::Compact,
        1,
    )
}

struct Sender {
    socket: UdpSocket,
    next: u128,
    base: u128,
}

impl Sender {
    async fn new(base: u128) -> Sender {
        Sender {
            socket: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            next: base,
            base,
        }
    }

    /// Sends `n` packets (one trace each), paced so the kernel never drops one.
    async fn send(&mut self, agent: &RunningAgent, n: u128) {
        for _ in 0..n {
            self.socket
                .send_to(&packet(self.next), agent.compact_addr)
                .await
                .unwrap();
            self.next += 1;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    fn traces(&self) -> Vec<TraceId> {
        (self.base..self.next).map(TraceId).collect()
    }
}

/// Waits until the collectors together hold every span sent; returns spans per collector.
async fn wait_all_delivered(collectors: &[Collector], sender: &Sender) -> Vec<usize> {
    let traces = sender.traces();
    let want = traces.len() * SPANS_PER_PACKET as usize;
    let mut per = Vec::new();
    for _ in 0..500 {
        let mut union = BTreeSet::new();
        per.clear();
        for c in collectors {
            let s = c.spans(&traces).await;
            per.push(s.len());
            union.extend(s);
        }
        if union.len() == want {
            return per;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("only some of {want} spans arrived: {per:?}");
}

async fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test]
async fn static_list_spreads_over_every_collector_and_survives_a_kill() {
    let mut collectors = three_collectors(false).await;
    let list: Vec<String> = collectors.iter().map(|c| c.addr.to_string()).collect();
    let shutdown = Shutdown::new();
    let agent = run(&agent_args(list.join(",")), shutdown.clone())
        .await
        .unwrap();
    let mut sender = Sender::new(0x5_0000).await;

    sender.send(&agent, 60).await;
    let per = wait_all_delivered(&collectors, &sender).await;
    assert!(
        per.iter().all(|&n| n > 0),
        "every collector got spans: {per:?}"
    );

    collectors[1].kill().await;
    sender.send(&agent, 60).await;
    wait_all_delivered(&collectors, &sender).await;

    shutdown.trigger();
    assert!(agent.join(Duration::from_secs(10)).await);
    for c in &mut collectors {
        c.kill().await;
    }
}

/// A name → addresses table the test edits: the DNS answer for `collectors.test`.
#[derive(Default)]
struct TableResolver {
    names: Mutex<HashMap<String, Vec<IpAddr>>>,
}

impl TableResolver {
    fn answer(&self, name: &str, ips: &[IpAddr]) {
        self.names
            .lock()
            .unwrap()
            .insert(name.to_string(), ips.to_vec());
    }
}

impl Resolver for TableResolver {
    fn resolve(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>> {
        let found = self.names.lock().unwrap().get(host).cloned();
        Box::pin(async move {
            let ips =
                found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such name"))?;
            Ok(ips
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect())
        })
    }
}

#[tokio::test]
async fn dns_name_is_re_resolved_spread_over_and_routed_around() {
    let mut collectors = three_collectors(true).await;
    let port = collectors[0].addr.port();
    let ips: Vec<IpAddr> = collectors.iter().map(|c| c.addr.ip()).collect();
    let resolver = Arc::new(TableResolver::default());
    // At first the name knows two collectors; the third joins later.
    resolver.answer("collectors.test", &ips[..2]);
    let shutdown = Shutdown::new();
    let agent = run_with_resolver(
        &agent_args(format!("dns:///collectors.test:{port}")),
        shutdown.clone(),
        resolver.clone(),
    )
    .await
    .unwrap();
    assert_eq!(agent.peers.addrs().len(), 2);
    let mut sender = Sender::new(0x6_0000).await;
    sender.send(&agent, 30).await;
    wait_all_delivered(&collectors, &sender).await;

    resolver.answer("collectors.test", &ips);
    let peers = agent.peers.clone();
    eventually("third collector resolved", || peers.addrs().len() == 3).await;
    sender.send(&agent, 60).await;
    let per = wait_all_delivered(&collectors, &sender).await;
    assert!(
        per.iter().all(|&n| n > 0),
        "every collector got spans: {per:?}"
    );

    // Kill one while spans flow; the name still lists it (DNS lags), so the agent must
    // route around it on its own.
    let mut sending = Sender::new(0x7_0000).await;
    tokio::join!(collectors[2].kill(), sending.send(&agent, 60));
    sending.send(&agent, 30).await;
    let per = wait_all_delivered(&collectors, &sending).await;
    assert!(per[0] > 0 && per[1] > 0, "{per:?}");

    shutdown.trigger();
    assert!(agent.join(Duration::from_secs(10)).await);
    for c in &mut collectors {
        c.kill().await;
    }
}
