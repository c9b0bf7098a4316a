//! `tracegen`: sends synthetic traces (`tracegen --protocol otlp-grpc --rate 10000 ...`),
//! or runs the embedded-store benchmark (`tracegen bench --sextant target/release/sextant`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use sextant_tracegen::bench::{self, BenchConfig};
use sextant_tracegen::{load, LoadConfig, WireProtocol};

#[derive(Parser)]
#[command(
    name = "tracegen",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    #[command(flatten)]
    send: SendArgs,
}

#[derive(Subcommand)]
enum Cmd {
    /// Send traces (the default when no subcommand is given).
    Send(SendArgs),
    /// Benchmark the embedded store through a real `sextant` all-in-one.
    Bench(BenchArgs),
}

#[derive(Args, Clone)]
struct SendArgs {
    /// Wire protocol.
    #[arg(long, value_enum, default_value = "otlp-grpc")]
    protocol: WireProtocol,
    /// Receiver `host:port` (default: the protocol's usual local port).
    #[arg(long)]
    endpoint: Option<String>,
    /// Seed: the same seed sends the same traces (IDs, shapes, attributes).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Target spans per second over all workers; 0 = as fast as acknowledged.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Stop after this long (e.g. 30s, 5m).
    #[arg(long, value_parser = sextant_model::go_duration::parse_flag)]
    duration: Option<Duration>,
    /// Stop after this many spans.
    #[arg(long)]
    spans: Option<u64>,
    /// Stop after this many traces.
    #[arg(long)]
    traces: Option<u64>,
    /// Concurrent connections.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Spans per request (whole traces; a batch may exceed it by one trace).
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Seconds between progress lines (0 = none).
    #[arg(long, default_value_t = 5)]
    report_interval: u64,
}

#[derive(Args)]
struct BenchArgs {
    /// The `sextant` binary (build it with `cargo build --release -p sextant-all-in-one`).
    #[arg(long, default_value = "target/release/sextant")]
    sextant: PathBuf,
    /// Spans to ingest.
    #[arg(long, default_value_t = 1_000_000)]
    spans: u64,
    /// Concurrent connections. An acknowledgement waits for its group commit (fsync), so
    /// with too few batches in flight sextant waits on round trips with CPU to spare and the
    /// figure measures the load generator's concurrency rather than the store: 4 and then 8
    /// were too few once the requests were encoded in advance (docs/benchmarks.md).
    #[arg(long, default_value_t = 16)]
    workers: usize,
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Rounds of the query set; figures are medians over rounds.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Queries of each shape per round.
    #[arg(long, default_value_t = 50)]
    queries: usize,
    /// Keep the data here instead of a temporary directory (must not exist or be empty).
    #[arg(long)]
    directory: Option<PathBuf>,
    /// Extra flags passed to `sextant` (repeatable), e.g. `--sextant-arg=--embedded.write-buffer-mb=256`.
    #[arg(long = "sextant-arg", allow_hyphen_values = true)]
    sextant_args: Vec<String>,
    /// Generate traces while sending, as `tracegen send` does, instead of encoding every
    /// request before ingest starts. The load generator then takes about a third of the two
    /// cores it shares with sextant, and the ingest figure measures both.
    #[arg(long)]
    live_generation: bool,
}

async fn send(args: SendArgs) -> anyhow::Result<()> {
    let endpoint = args
        .endpoint
        .clone()
        .unwrap_or_else(|| args.protocol.default_endpoint().to_string());
    let mut config = LoadConfig::new(args.protocol, endpoint);
    config.seed = args.seed;
    config.rate = (args.rate > 0).then_some(args.rate);
    config.duration = args.duration;
    config.max_spans = args.spans;
    config.max_traces = args.traces;
    config.workers = args.workers;
    config.batch_spans = args.batch_size;
    config.report_every =
        (args.report_interval > 0).then(|| Duration::from_secs(args.report_interval));
    if config.duration.is_none() && config.max_spans.is_none() && config.max_traces.is_none() {
        config.duration = Some(Duration::from_secs(10));
        eprintln!("tracegen: no --duration/--spans/--traces given; sending for 10s");
    }
    let acks = config.protocol.acknowledges();
    let report = load::run(config).await?;
    println!("{report}");
    if !acks {
        println!("(agent UDP has no acknowledgements: acknowledged = sent)");
    }
    if report.failed_spans > 0 {
        anyhow::bail!("{} spans were not acknowledged", report.failed_spans);
    }
    Ok(())
}

async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let config = BenchConfig {
        sextant: args.sextant,
        spans: args.spans,
        workers: args.workers,
        batch_spans: args.batch_size,
        seed: args.seed,
        runs: args.runs,
        queries: args.queries,
        directory: args.directory,
        extra_args: args.sextant_args,
        pregenerate: !args.live_generation,
    };
    let report = bench::run(&config).await?;
    print!("{report}");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Cmd::Bench(b)) => bench(b).await,
        Some(Cmd::Send(s)) => send(s).await,
        None => send(cli.send).await,
    }
}
