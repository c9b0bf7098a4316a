//! Agent benchmark (run by `scripts/bench-agent.sh`): UDP compact `emitBatch` load into a
//! real `sextant-agent` process pinned to one core, forwarded to an in-process gRPC sink
//! that counts spans. Prints, per run and as medians: spans/s sent and forwarded, drops
//! (agent queue, send buffer, kernel socket), the agent's RSS idle and peak under load, and
//! forwarded spans per second of the agent's own CPU time (user + system), which stays
//! meaningful when other work shares the agent's core.
//!
//!   bench_agent <path/to/sextant-agent> [spans_per_sec] [seconds] [runs]
//!
//! The sink and the senders are moved off core 0 (when there is another core), so the
//! agent's core is its own apart from whatever else the machine runs.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sextant_model::thrift::{encode_emit_batch, BatchMeta, Protocol};
use sextant_model::{Event, KeyValue, Resource, Span, SpanId, TraceId};
use std::task::{Context, Poll};

use bytes::Buf;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{Body, BoxFuture, Service, StdError};
use tonic::{Request, Status};

const SPANS_PER_PACKET: u64 = 50;

/// The collector stand-in: serves `jaeger.api_v2.CollectorService/PostSpans` and counts
/// the spans of each request by walking the protobuf wire format (`PostSpansRequest.batch`
/// field 1 → `Batch.spans` field 1) without decoding them. A full decode cost the sink as
/// much CPU as the agent spends, on the core the senders share, and the agent's send buffer
/// filled behind the slow sink: the figure measured the sink, not the agent.
#[derive(Clone, Default)]
struct Sink {
    spans: Arc<AtomicU64>,
}

impl tonic::server::NamedService for Sink {
    const NAME: &'static str = "jaeger.api_v2.CollectorService";
}

impl<B> Service<http::Request<B>> for Sink
where
    B: Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let counter = CountSpans(self.spans.clone());
        Box::pin(async move {
            if request.uri().path() != "/jaeger.api_v2.CollectorService/PostSpans" {
                return Ok(tonic::Status::unimplemented("bench sink").into_http());
            }
            let mut grpc = tonic::server::Grpc::new(SpanCountCodec)
                .apply_max_message_size_config(Some(8 << 20), None);
            Ok(grpc.unary(counter, request).await)
        })
    }
}

struct CountSpans(Arc<AtomicU64>);

impl tonic::server::UnaryService<u64> for CountSpans {
    type Response = ();
    type Future = BoxFuture<tonic::Response<()>, Status>;

    fn call(&mut self, request: Request<u64>) -> Self::Future {
        self.0.fetch_add(request.into_inner(), Ordering::Relaxed);
        Box::pin(async { Ok(tonic::Response::new(())) })
    }
}

/// Decodes a `PostSpansRequest` into its span count; encodes the empty `PostSpansResponse`.
struct SpanCountCodec;

impl Codec for SpanCountCodec {
    type Encode = ();
    type Decode = u64;
    type Encoder = SpanCountCodec;
    type Decoder = SpanCountCodec;
    fn encoder(&mut self) -> Self {
        SpanCountCodec
    }
    fn decoder(&mut self) -> Self {
        SpanCountCodec
    }
}

impl Encoder for SpanCountCodec {
    type Item = ();
    type Error = Status;
    fn encode(&mut self, _: (), _: &mut EncodeBuf<'_>) -> Result<(), Status> {
        Ok(())
    }
}

impl Decoder for SpanCountCodec {
    type Item = u64;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<u64>, Status> {
        let message = src.copy_to_bytes(src.remaining());
        let mut spans = 0;
        for (field, batch) in length_delimited_fields(&message)? {
            if field == 1 {
                spans += length_delimited_fields(batch)?
                    .filter(|(field, _)| *field == 1)
                    .count() as u64;
            }
        }
        Ok(Some(spans))
    }
}

/// The length-delimited fields of one protobuf message, as (field number, bytes); other
/// wire types are skipped.
fn length_delimited_fields(mut buf: &[u8]) -> Result<impl Iterator<Item = (u64, &[u8])>, Status> {
    let bad = || Status::invalid_argument("malformed protobuf");
    let mut fields = Vec::new();
    while !buf.is_empty() {
        let key = prost::encoding::decode_varint(&mut buf).map_err(|_| bad())?;
        let len = match key & 7 {
            0 => {
                prost::encoding::decode_varint(&mut buf).map_err(|_| bad())?;
                0
            }
            1 => 8,
            2 => prost::encoding::decode_varint(&mut buf).map_err(|_| bad())? as usize,
            5 => 4,
            _ => return Err(bad()),
        };
        let value = buf.get(..len).ok_or_else(bad)?;
        if key & 7 == 2 {
            fields.push((key >> 3, value));
        }
        buf = &buf[len..];
    }
    Ok(fields.into_iter())
}

fn packet(seq: u64) -> Vec<u8> {
    let resource = Arc::new(Resource {
        service_name: "bench-service".into(),
        attributes: vec![
            KeyValue::new("hostname", "bench-host-01"),
            KeyValue::new("ip", "10.0.0.1"),
            KeyValue::new("jaeger.version", "Go-2.30.0"),
        ],
        ..Resource::default()
    });
    let spans: Vec<Span> = (0..SPANS_PER_PACKET)
        .map(|i| Span {
            trace_id: TraceId(u128::from(seq) << 32 | u128::from(i / 5)),
            span_id: SpanId(seq * 1000 + i + 1),
            parent_span_id: SpanId(if i % 5 == 0 { 0 } else { seq * 1000 + i }),
            name: format!("GET /api/v1/items/{}", i % 7),
            start_time_unix_nano: 1_700_000_000_000_000_000 + i * 1000,
            end_time_unix_nano: 1_700_000_000_000_000_000 + i * 1000 + 2_500_000,
            attributes: vec![
                KeyValue::new("http.method", "GET"),
                KeyValue::new("http.status_code", 200i64),
                KeyValue::new("component", "net/http"),
                KeyValue::new("span.kind", "server"),
            ],
            events: vec![Event {
                time_unix_nano: 1_700_000_000_000_000_000 + i * 1000 + 10,
                name: "cache.miss".into(),
                attributes: vec![KeyValue::new("key", "item-42")],
                ..Event::default()
            }],
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

fn rss_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The process's CPU time so far (user + system, /proc/PID/stat), in seconds.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name is in parentheses and may hold spaces: count fields after it, where
    // utime and stime are the 12th and 13th (fields 14 and 15 of the whole line).
    let ticks: u64 = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    // USER_HZ is 100 on every Linux ABI this runs on.
    ticks as f64 / 100.0
}

/// Sums a metric's samples from the agent's /metrics.
async fn metric(admin: u16, name: &str) -> u64 {
    let body = match reqwest::get(format!("http://127.0.0.1:{admin}/metrics")).await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => return 0,
    };
    body.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter(|l| {
            l.split(['{', ' '])
                .next()
                .is_some_and(|metric| metric == name)
        })
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .map(|v| v as u64)
        .sum()
}

/// Kernel drops of the UDP socket bound to `port` (/proc/net/udp, last column).
fn kernel_drops(port: u16) -> u64 {
    let hex = format!(":{port:04X}");
    std::fs::read_to_string("/proc/net/udp")
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|a| a.ends_with(&hex))
        })
        .filter_map(|l| {
            l.split_whitespace()
                .last()
                .and_then(|d| d.parse::<u64>().ok())
        })
        .sum()
}

struct Run {
    sent: u64,
    forwarded: u64,
    secs: f64,
    drops: u64,
    idle_kb: u64,
    peak_kb: u64,
    cpu_secs: f64,
}

impl Run {
    fn spans_per_cpu_sec(&self) -> f64 {
        if self.cpu_secs > 0.0 {
            self.forwarded as f64 / self.cpu_secs
        } else {
            0.0
        }
    }
}

async fn one_run(agent_bin: &str, sink_addr: SocketAddr, sink: &Sink, rate: u64, secs: u64) -> Run {
    let (udp, admin, http) = (free_port(), free_port(), free_port());
    let mut child: Child = Command::new("taskset")
        .args(["-c", "0", agent_bin])
        .arg(format!("--reporter.grpc.host-port={sink_addr}"))
        .arg(format!(
            "--processor.jaeger-compact.server-host-port=127.0.0.1:{udp}"
        ))
        .arg("--processor.jaeger-binary.server-host-port=127.0.0.1:0")
        .arg("--processor.jaeger-compact.server-socket-buffer-size=16777216")
        .arg(format!("--http-server.host-port=127.0.0.1:{http}"))
        .arg(format!("--admin.http.host-port=127.0.0.1:{admin}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start sextant-agent (is taskset installed?)");
    let pid = child.id();
    for _ in 0..500 {
        if reqwest::get(format!("http://127.0.0.1:{admin}/"))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_kb = rss_kb(pid, "VmRSS:");

    let before = sink.spans.load(Ordering::Relaxed);
    let packets: Arc<Vec<Vec<u8>>> = Arc::new((0..64).map(packet).collect());
    let done = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let senders = 2u64;
    let cpu_before = cpu_secs(pid);
    let start = Instant::now();
    let handles: Vec<_> = (0..senders)
        .map(|s| {
            let (packets, done, sent) = (packets.clone(), done.clone(), sent.clone());
            std::thread::spawn(move || {
                let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
                let per_sender = rate / senders;
                let t0 = Instant::now();
                let mut n = 0u64;
                while !done.load(Ordering::Relaxed) {
                    // Paced: packet n goes out at n / (packets per second).
                    let due = Duration::from_secs_f64(
                        (n * SPANS_PER_PACKET) as f64 / per_sender.max(1) as f64,
                    );
                    if let Some(wait) = due.checked_sub(t0.elapsed()) {
                        std::thread::sleep(wait.min(Duration::from_millis(1)));
                        continue;
                    }
                    let p = &packets[((n + s) % 64) as usize];
                    if sock.send_to(p, ("127.0.0.1", udp)).is_ok() {
                        sent.fetch_add(SPANS_PER_PACKET, Ordering::Relaxed);
                    }
                    n += 1;
                }
            })
        })
        .collect();
    let mut peak_kb = 0;
    while start.elapsed() < Duration::from_secs(secs) {
        peak_kb = peak_kb.max(rss_kb(pid, "VmRSS:"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    let sent = sent.load(Ordering::Relaxed);
    // Let the agent finish what it holds (batch delay + in-flight calls).
    let settle = Instant::now();
    while sink.spans.load(Ordering::Relaxed) - before < sent
        && settle.elapsed() < Duration::from_secs(5)
    {
        peak_kb = peak_kb.max(rss_kb(pid, "VmRSS:"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs_f = start.elapsed().as_secs_f64().min(secs as f64 + 0.001);
    let forwarded = sink.spans.load(Ordering::Relaxed) - before;
    let drops = metric(
        admin,
        "jaeger_agent_thrift_udp_server_packets_dropped_total",
    )
    .await
        * SPANS_PER_PACKET
        + metric(admin, "sextant_agent_reporter_buffer_dropped_spans_total").await
        + kernel_drops(udp) * SPANS_PER_PACKET;
    peak_kb = peak_kb.max(rss_kb(pid, "VmHWM:"));
    let cpu = cpu_secs(pid) - cpu_before;
    let _ = child.kill();
    let _ = child.wait();
    Run {
        sent,
        forwarded,
        secs: secs_f,
        drops,
        idle_kb,
        peak_kb,
        cpu_secs: cpu,
    }
}

/// Moves this process (every thread, and the threads it starts later) off core 0, which is
/// the agent's: the senders and the sink would otherwise compete with it.
fn leave_core_zero() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        return;
    }
    let moved = Command::new("taskset")
        .args(["-a", "-p", "-c", &format!("1-{}", cores - 1)])
        .arg(std::process::id().to_string())
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !moved {
        eprintln!("warning: could not move the load generator off core 0");
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

#[tokio::main]
async fn main() {
    leave_core_zero();
    let args: Vec<String> = std::env::args().collect();
    let agent_bin = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "target/release/sextant-agent".into());
    let rate: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(300_000);
    let secs: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
    let runs: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(3);

    let sink = Sink::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind sink");
    let sink_addr = listener.local_addr().expect("sink addr");
    let server = tonic::transport::Server::builder()
        .add_service(sink.clone())
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    tokio::spawn(server);

    println!("packet: {} spans, {} bytes; target {rate} spans/s for {secs}s, {runs} runs, agent pinned to core 0",
        SPANS_PER_PACKET, packet(0).len());
    let mut results = Vec::new();
    for i in 0..runs {
        let r = one_run(&agent_bin, sink_addr, &sink, rate, secs).await;
        println!(
            "run {}: sent {:.0} spans/s, forwarded {:.0} spans/s, lost {} (drops counted {}), RSS idle {:.1} MB, peak {:.1} MB, agent CPU {:.2} s ({:.0} spans per CPU-second)",
            i + 1,
            r.sent as f64 / r.secs,
            r.forwarded as f64 / r.secs,
            r.sent.saturating_sub(r.forwarded),
            r.drops,
            r.idle_kb as f64 / 1024.0,
            r.peak_kb as f64 / 1024.0,
            r.cpu_secs,
            r.spans_per_cpu_sec(),
        );
        results.push(r);
    }
    println!(
        "median: sent {:.0} spans/s, forwarded {:.0} spans/s, lost {:.0}, RSS idle {:.1} MB, peak under load {:.1} MB, {:.0} spans per agent CPU-second",
        median(results.iter().map(|r| r.sent as f64 / r.secs).collect()),
        median(results.iter().map(|r| r.forwarded as f64 / r.secs).collect()),
        median(results.iter().map(|r| r.sent.saturating_sub(r.forwarded) as f64).collect()),
        median(results.iter().map(|r| r.idle_kb as f64 / 1024.0).collect()),
        median(results.iter().map(|r| r.peak_kb as f64 / 1024.0).collect()),
        median(results.iter().map(Run::spans_per_cpu_sec).collect()),
    );
}
