//! The embedded-store benchmark: starts the real `sextant` all-in-one on free loopback
//! ports with a fresh data directory, ingests `spans` generated traces over OTLP gRPC as
//! fast as they are acknowledged, stops it cleanly (which flushes the write buffer to
//! segments: "settled"), measures the directory, restarts it on the same data and times
//! trace-by-ID and each search shape over the HTTP query API.
//!
//! Every latency figure is the median, over `runs` rounds, of that round's p50 / p99.

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::generate::Generator;
use crate::load::{self, LoadConfig, Report};
use crate::send::WireProtocol;

#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// The `sextant` binary to start.
    pub sextant: PathBuf,
    pub spans: u64,
    pub workers: usize,
    pub batch_spans: usize,
    pub seed: u64,
    /// Rounds of the query set (figures are medians over rounds).
    pub runs: usize,
    /// Queries of each shape per round.
    pub queries: usize,
    /// Data directory (default: a fresh temporary one, deleted afterwards).
    pub directory: Option<PathBuf>,
    /// Extra flags for `sextant` (e.g. `--embedded.write-buffer-mb=256`).
    pub extra_args: Vec<String>,
    /// Generate and encode every request before ingest starts (see
    /// [`LoadConfig::pregenerate`]), so the load generator's CPU during ingest is the sending.
    pub pregenerate: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Setup(String),
    #[error("sending: {0}")]
    Send(#[from] crate::send::SendError),
    #[error("query {url}: {message}")]
    Query { url: String, message: String },
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Latency percentiles of one query shape, in milliseconds.
#[derive(Clone, Debug)]
pub struct Latency {
    pub shape: String,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Traces the first query of the shape returned (a shape that finds nothing is no test).
    pub found: usize,
}

#[derive(Clone, Debug)]
pub struct BenchReport {
    pub ingest: Report,
    pub peak_rss_bytes: u64,
    /// CPU time sextant and this load generator used during ingest (they share the cores).
    pub sextant_cpu_secs: f64,
    /// CPU time of the ingesting sextant's whole life: start, ingest, and the flush of its
    /// write buffer on the clean stop, so every span is counted into settled segments.
    pub sextant_settled_cpu_secs: f64,
    pub loadgen_cpu_secs: f64,
    /// Allocated (`du`) size of the data directory after settling.
    pub disk_bytes: u64,
    /// Sum of the files' lengths (`du --apparent-size`).
    pub apparent_bytes: u64,
    pub latencies: Vec<Latency>,
}

impl BenchReport {
    pub fn bytes_per_span(&self) -> f64 {
        self.disk_bytes as f64 / self.ingest.acked_spans.max(1) as f64
    }
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "ingest: {}", self.ingest)?;
        writeln!(
            f,
            "sustained ingest (acknowledged = durable + indexed): {:.0} spans/s",
            self.ingest.acked_rate()
        )?;
        let per_cpu = self.ingest.acked_spans as f64 / self.sextant_cpu_secs.max(1e-9);
        writeln!(
            f,
            "CPU during ingest: sextant {:.1} s ({:.0} spans per sextant CPU-second), load generator {:.1} s",
            self.sextant_cpu_secs, per_cpu, self.loadgen_cpu_secs
        )?;
        writeln!(
            f,
            "CPU until settled (start, ingest, final flush): sextant {:.1} s ({:.0} spans per sextant CPU-second)",
            self.sextant_settled_cpu_secs,
            self.ingest.acked_spans as f64 / self.sextant_settled_cpu_secs.max(1e-9)
        )?;
        writeln!(
            f,
            "disk after settling: {} bytes allocated = {:.1} bytes/span ({:.1} bytes/span apparent size)",
            self.disk_bytes,
            self.bytes_per_span(),
            self.apparent_bytes as f64 / self.ingest.acked_spans.max(1) as f64
        )?;
        writeln!(
            f,
            "peak RSS of sextant while ingesting (VmHWM): {:.0} MiB",
            self.peak_rss_bytes as f64 / (1 << 20) as f64
        )?;
        writeln!(
            f,
            "{:<44} {:>9} {:>9} {:>7}",
            "query", "p50 ms", "p99 ms", "found"
        )?;
        for l in &self.latencies {
            writeln!(
                f,
                "{:<44} {:>9.2} {:>9.2} {:>7}",
                l.shape, l.p50_ms, l.p99_ms, l.found
            )?;
        }
        Ok(())
    }
}

fn free_tcp_port() -> Result<u16, BenchError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn free_udp_port() -> Result<u16, BenchError> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A running `sextant` with the ports the benchmark talks to.
struct Sextant {
    child: Child,
    otlp_grpc: u16,
    query_http: u16,
}

impl Sextant {
    async fn start(cfg: &BenchConfig, dir: &Path, log: &Path) -> Result<Sextant, BenchError> {
        let (otlp_grpc, query_http, admin) = (free_tcp_port()?, free_tcp_port()?, free_tcp_port()?);
        let local = |p: u16| format!("127.0.0.1:{p}");
        let mut args = vec![
            format!("--embedded.directory={}", dir.display()),
            format!("--admin.http.host-port={}", local(admin)),
            format!("--collector.otlp.grpc.host-port={}", local(otlp_grpc)),
            format!(
                "--collector.otlp.http.host-port={}",
                local(free_tcp_port()?)
            ),
            format!(
                "--collector.grpc-server.host-port={}",
                local(free_tcp_port()?)
            ),
            format!(
                "--collector.http-server.host-port={}",
                local(free_tcp_port()?)
            ),
            format!("--query.http-server.host-port={}", local(query_http)),
            // Every listener on a free port: another sextant on the machine must not make
            // start-up fail.
            format!("--query.grpc-server.host-port={}", local(free_tcp_port()?)),
            format!("--collector.zipkin.host-port={}", local(free_tcp_port()?)),
            format!(
                "--processor.jaeger-compact.server-host-port={}",
                local(free_udp_port()?)
            ),
            format!(
                "--processor.jaeger-binary.server-host-port={}",
                local(free_udp_port()?)
            ),
            "--log-level=warn".to_string(),
        ];
        // Newer builds also serve the agent's sampling HTTP port (default :5778); give it a
        // free one too when the binary has the flag.
        let help = Command::new(&cfg.sextant).arg("--help").output()?;
        if String::from_utf8_lossy(&help.stdout).contains("--http-server.host-port") {
            args.push(format!(
                "--http-server.host-port={}",
                local(free_tcp_port()?)
            ));
        }
        args.extend(cfg.extra_args.iter().cloned());
        let logfile = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let child = Command::new(&cfg.sextant)
            .args(&args)
            .env_remove("SPAN_STORAGE_TYPE")
            .stdout(Stdio::from(logfile.try_clone()?))
            .stderr(Stdio::from(logfile))
            .spawn()
            .map_err(|e| BenchError::Setup(format!("starting {}: {e}", cfg.sextant.display())))?;
        let mut s = Sextant {
            child,
            otlp_grpc,
            query_http,
        };
        let health = format!("http://{}/", local(admin));
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = s.child.try_wait()? {
                // The log's directory may be temporary and gone once the error is printed.
                let text = std::fs::read_to_string(log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(20).collect();
                return Err(BenchError::Setup(format!(
                    "sextant exited with {status} during start-up; the end of its log:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )));
            }
            if let Ok(r) = client.get(&health).send().await {
                if r.status().is_success() {
                    return Ok(s);
                }
            }
            if Instant::now() > deadline {
                let _ = s.child.kill();
                return Err(BenchError::Setup("sextant did not become healthy".into()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Peak resident set size so far (`VmHWM`), in bytes.
    fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    /// CPU time (user + system) the process has used so far, in seconds.
    fn cpu_secs(&self) -> f64 {
        process_cpu_secs(&self.child.id().to_string())
    }

    /// SIGTERM and wait: a clean stop flushes the write buffer into segments.
    async fn stop(mut self) -> Result<(), BenchError> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(300);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return Err(BenchError::Setup("sextant did not stop within 300s".into()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }
}

impl Drop for Sextant {
    fn drop(&mut self) {
        // Only reached on an error path (stop() consumes): never leave a server behind.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// User + system CPU seconds of a process (`self` or a PID) from `/proc/<pid>/stat`; 0 when
/// it cannot be read.
fn process_cpu_secs(pid: &str) -> f64 {
    // utime and stime are fields 14 and 15 of the line.
    stat_cpu_secs(pid, 14)
}

/// User + system CPU seconds of this process's waited-for (exited) children: a stopped
/// sextant's whole life, including the flush it does on the way out.
fn exited_children_cpu_secs() -> f64 {
    // cutime and cstime are fields 16 and 17 of the line.
    stat_cpu_secs("self", 16)
}

/// The sum of the two tick counts at `field` and `field + 1` (1-based, as `man 5 proc`
/// numbers them) of `/proc/<pid>/stat`, in seconds.
fn stat_cpu_secs(pid: &str, field: usize) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat_line_cpu_secs(&stat, field)
}

/// The sum of the two tick counts at `field` and `field + 1` (1-based, as `man 5 proc`
/// numbers them) of a `/proc/<pid>/stat` or `/proc/<pid>/task/<tid>/stat` line, in seconds;
/// 0 for what cannot be parsed.
pub fn stat_line_cpu_secs(stat: &str, field: usize) -> f64 {
    // USER_HZ, the unit of these fields, is 100 on every Linux this runs on.
    const TICKS_PER_SEC: f64 = 100.0;
    // Fields after the command name (field 2), which is in parentheses and may contain
    // spaces: field n is at index n - 3 of the rest.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |n: usize| {
        fields
            .get(n.saturating_sub(3))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(field) + ticks(field + 1)) / TICKS_PER_SEC
}

/// Allocated size (what `du` reports) and apparent size of every file under `dir`.
pub fn disk_usage(dir: &Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let (mut total, mut apparent) = (0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.blocks() * 512;
                apparent += meta.len();
            }
        }
    }
    Ok((total, apparent))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted
        .get(rank.min(sorted.len() - 1))
        .copied()
        .unwrap_or(0.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    percentile(&v, 0.5)
}

/// The query shapes of the conformance suite, on tracegen's topology: (label, query string
/// without the time window). Several variants per shape so caches do not make it trivial.
fn search_shapes() -> Vec<(&'static str, Vec<String>)> {
    let tags = |service: &str, json: &str| format!("service={service}&tags={}", urlencode(json));
    vec![
        (
            "search: service",
            [
                "frontend",
                "cart",
                "product-catalog",
                "payment",
                "accounting",
            ]
            .iter()
            .map(|s| format!("service={s}"))
            .collect(),
        ),
        (
            "search: service + operation",
            vec![
                format!(
                    "service=checkout&operation={}",
                    urlencode("shop.CheckoutService/PlaceOrder")
                ),
                format!(
                    "service=frontend&operation={}",
                    urlencode("GET /product/{id}")
                ),
                format!(
                    "service=product-catalog&operation={}",
                    urlencode("SELECT shop.products")
                ),
            ],
        ),
        (
            "search: service + tag",
            vec![
                tags("frontend", r#"{"http.response.status_code":"500"}"#),
                tags("payment", r#"{"error":"true"}"#),
                tags("frontend", r#"{"http.route":"/cart"}"#),
            ],
        ),
        (
            "search: service + duration range",
            vec![
                "service=product-catalog&minDuration=1ms&maxDuration=5ms".to_string(),
                "service=frontend&minDuration=50ms".to_string(),
                "service=email&minDuration=2ms&maxDuration=20ms".to_string(),
            ],
        ),
        (
            "search: tag only in logs / process",
            vec![
                tags("payment", r#"{"app.payment.card_type":"amex"}"#),
                tags("cart", r#"{"host.name":"node-4"}"#),
                tags("product-catalog", r#"{"cache.key":"product:P00042"}"#),
            ],
        ),
        (
            "search: regex tag (high cardinality)",
            vec![
                tags("frontend", r#"{"app.user.id":"u-00012.*"}"#),
                tags("checkout", r#"{"app.order.id":"ff.*"}"#),
                tags(
                    "product-catalog",
                    r#"{"db.query.text":"GET product:P0004.*"}"#,
                ),
            ],
        ),
    ]
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn timed_get(client: &reqwest::Client, url: &str) -> Result<(f64, usize), BenchError> {
    let err = |message: String| BenchError::Query {
        url: url.to_string(),
        message,
    };
    let t = Instant::now();
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| err(e.to_string()))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| err(e.to_string()))?;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    if !status.is_success() {
        return Err(err(format!("{status}: {}", String::from_utf8_lossy(&body))));
    }
    let json: serde_json::Value = serde_json::from_slice(&body).map_err(|e| err(e.to_string()))?;
    let found = json
        .get("data")
        .and_then(|d| d.as_array())
        .map_or(0, Vec::len);
    Ok((ms, found))
}

async fn measure_queries(
    cfg: &BenchConfig,
    port: u16,
    window: (u64, u64),
    traces: u64,
) -> Result<Vec<Latency>, BenchError> {
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let generator = Generator::new(cfg.seed);
    let mut shapes: Vec<(String, Vec<String>)> = Vec::new();
    // Trace IDs depend only on (seed, index): pick indexes spread over the whole run.
    let step = (traces / cfg.queries.max(1) as u64).max(1);
    let ids = (0..cfg.queries as u64)
        .map(|i| (i * step + 7) % traces.max(1))
        .filter_map(|i| generator.trace(i, 0).first().map(|s| s.trace_id))
        .map(|id| format!("{base}/api/traces/{}", id.to_jaeger_string()))
        .collect();
    shapes.push(("trace by ID".to_string(), ids));
    let (start_us, end_us) = window;
    for (label, variants) in search_shapes() {
        let urls = variants
            .iter()
            .cycle()
            .take(cfg.queries.max(variants.len()))
            .map(|q| format!("{base}/api/traces?{q}&start={start_us}&end={end_us}&limit=20"))
            .collect();
        shapes.push((label.to_string(), urls));
    }
    let mut out = Vec::new();
    for (label, urls) in shapes {
        let (mut p50s, mut p99s, mut found) = (Vec::new(), Vec::new(), 0);
        for run in 0..cfg.runs.max(1) {
            let mut times = Vec::with_capacity(urls.len());
            for (i, url) in urls.iter().enumerate() {
                let (ms, n) = timed_get(&client, url).await?;
                if run == 0 && i == 0 {
                    found = n;
                }
                times.push(ms);
            }
            times.sort_by(f64::total_cmp);
            p50s.push(percentile(&times, 0.5));
            p99s.push(percentile(&times, 0.99));
        }
        eprintln!(
            "bench: {label}: p50 {:.2} ms, p99 {:.2} ms",
            median(p50s.clone()),
            median(p99s.clone())
        );
        out.push(Latency {
            shape: label,
            p50_ms: median(p50s),
            p99_ms: median(p99s),
            found,
        });
    }
    Ok(out)
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Runs the whole benchmark (see the module docs).
pub async fn run(cfg: &BenchConfig) -> Result<BenchReport, BenchError> {
    let tmp;
    let dir = match &cfg.directory {
        Some(d) => {
            // A store left by an earlier run would be measured with this one.
            if std::fs::read_dir(d.join("data")).is_ok_and(|mut e| e.next().is_some()) {
                return Err(BenchError::Setup(format!(
                    "{} already holds a store; give a new or empty directory",
                    d.display()
                )));
            }
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            tmp = tempfile::Builder::new().prefix("sextant-bench").tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let data = dir.join("data");
    let log = dir.join("sextant.log");
    eprintln!(
        "bench: data in {}, sextant log {}",
        data.display(),
        log.display()
    );
    let window_start = now_us().saturating_sub(60_000_000);
    let children_cpu_before = exited_children_cpu_secs();
    let server = Sextant::start(cfg, &data, &log).await?;
    let mut load = LoadConfig::new(
        WireProtocol::OtlpGrpc,
        format!("127.0.0.1:{}", server.otlp_grpc),
    );
    load.seed = cfg.seed;
    load.workers = cfg.workers;
    load.batch_spans = cfg.batch_spans;
    load.max_spans = Some(cfg.spans);
    load.report_every = Some(Duration::from_secs(5));
    load.pregenerate = cfg.pregenerate;
    let generating = Instant::now();
    let prepared = load::prepare(load)?;
    if cfg.pregenerate {
        eprintln!(
            "bench: generated and encoded the requests in {:.1}s, before the clock starts",
            generating.elapsed().as_secs_f64()
        );
    }
    let (sextant_cpu_before, loadgen_cpu_before) = (server.cpu_secs(), process_cpu_secs("self"));
    let ingest = prepared.run().await?;
    let sextant_cpu_secs = server.cpu_secs() - sextant_cpu_before;
    let loadgen_cpu_secs = process_cpu_secs("self") - loadgen_cpu_before;
    let peak_rss_bytes = server.peak_rss();
    eprintln!("bench: {ingest}");
    eprintln!("bench: stopping sextant (flushes the write buffer)");
    server.stop().await?;
    let sextant_settled_cpu_secs = exited_children_cpu_secs() - children_cpu_before;
    let (disk_bytes, apparent_bytes) = disk_usage(&data)?;
    eprintln!("bench: restarting sextant on the same data for queries");
    let server = Sextant::start(cfg, &data, &log).await?;
    let window = (window_start, now_us() + 60_000_000);
    let latencies = measure_queries(cfg, server.query_http, window, ingest.traces).await;
    server.stop().await?;
    Ok(BenchReport {
        ingest,
        peak_rss_bytes,
        sextant_cpu_secs,
        sextant_settled_cpu_secs,
        loadgen_cpu_secs,
        disk_bytes,
        apparent_bytes,
        latencies: latencies?,
    })
}
