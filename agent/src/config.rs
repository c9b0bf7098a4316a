//! The agent's flags, defined once so the `sextant-agent` binary and the all-in-one share
//! them (`#[command(flatten)]`). Names and defaults are Jaeger v1's where Jaeger has the
//! option; Sextant-only options (batching, the send buffer, discovery refresh, sampling
//! cache) sit under the same prefixes.

use std::time::Duration;

use clap::Args;

/// Jaeger's default largest UDP packet the agent reads.
pub const DEFAULT_MAX_PACKET_SIZE: usize = 65_000;
/// Jaeger's default number of packets queued between the UDP reader and the workers.
pub const DEFAULT_QUEUE_SIZE: usize = 1_000;
/// Jaeger's default number of workers decoding and forwarding packets.
pub const DEFAULT_WORKERS: usize = 10;

#[derive(Args, Debug, Clone)]
pub struct AgentArgs {
    /// UDP address receiving Jaeger thrift `emitBatch` in the compact protocol (what Jaeger
    /// client libraries send by default).
    #[arg(
        long = "processor.jaeger-compact.server-host-port",
        env = "PROCESSOR_JAEGER_COMPACT_SERVER_HOST_PORT",
        default_value = ":6831"
    )]
    pub compact_host_port: String,

    /// Largest UDP packet (bytes) read on the compact port; larger packets are dropped.
    #[arg(
        long = "processor.jaeger-compact.server-max-packet-size",
        env = "PROCESSOR_JAEGER_COMPACT_SERVER_MAX_PACKET_SIZE",
        default_value_t = DEFAULT_MAX_PACKET_SIZE,
        value_parser = packet_size
    )]
    pub compact_max_packet_size: usize,

    /// Packets from the compact port waiting to be processed; when full, new packets are
    /// dropped and counted.
    #[arg(
        long = "processor.jaeger-compact.server-queue-size",
        env = "PROCESSOR_JAEGER_COMPACT_SERVER_QUEUE_SIZE",
        default_value_t = DEFAULT_QUEUE_SIZE,
        value_parser = positive
    )]
    pub compact_queue_size: usize,

    /// Workers decoding packets from the compact port.
    #[arg(
        long = "processor.jaeger-compact.workers",
        env = "PROCESSOR_JAEGER_COMPACT_WORKERS",
        default_value_t = DEFAULT_WORKERS,
        value_parser = positive
    )]
    pub compact_workers: usize,

    /// Kernel receive buffer (SO_RCVBUF, bytes) of the compact UDP socket; 0 keeps the
    /// system default. A larger buffer absorbs bursts without kernel drops.
    #[arg(
        long = "processor.jaeger-compact.server-socket-buffer-size",
        env = "PROCESSOR_JAEGER_COMPACT_SERVER_SOCKET_BUFFER_SIZE",
        default_value_t = 0
    )]
    pub compact_socket_buffer_size: usize,

    /// UDP address receiving Jaeger thrift `emitBatch` in the binary protocol (what the
    /// Node.js client sends by default).
    #[arg(
        long = "processor.jaeger-binary.server-host-port",
        env = "PROCESSOR_JAEGER_BINARY_SERVER_HOST_PORT",
        default_value = ":6832"
    )]
    pub binary_host_port: String,

    /// Largest UDP packet (bytes) read on the binary port; larger packets are dropped.
    #[arg(
        long = "processor.jaeger-binary.server-max-packet-size",
        env = "PROCESSOR_JAEGER_BINARY_SERVER_MAX_PACKET_SIZE",
        default_value_t = DEFAULT_MAX_PACKET_SIZE,
        value_parser = packet_size
    )]
    pub binary_max_packet_size: usize,

    /// Packets from the binary port waiting to be processed; when full, new packets are
    /// dropped and counted.
    #[arg(
        long = "processor.jaeger-binary.server-queue-size",
        env = "PROCESSOR_JAEGER_BINARY_SERVER_QUEUE_SIZE",
        default_value_t = DEFAULT_QUEUE_SIZE,
        value_parser = positive
    )]
    pub binary_queue_size: usize,

    /// Workers decoding packets from the binary port.
    #[arg(
        long = "processor.jaeger-binary.workers",
        env = "PROCESSOR_JAEGER_BINARY_WORKERS",
        default_value_t = DEFAULT_WORKERS,
        value_parser = positive
    )]
    pub binary_workers: usize,

    /// Kernel receive buffer (SO_RCVBUF, bytes) of the binary UDP socket; 0 keeps the
    /// system default.
    #[arg(
        long = "processor.jaeger-binary.server-socket-buffer-size",
        env = "PROCESSOR_JAEGER_BINARY_SERVER_SOCKET_BUFFER_SIZE",
        default_value_t = 0
    )]
    pub binary_socket_buffer_size: usize,

    /// Collectors to forward spans to with gRPC api_v2 `PostSpans`: one `host:port`, a
    /// comma-separated list (round-robin), or `dns:///name:port` (re-resolved periodically,
    /// round-robin over every address the name returns). A collector whose calls fail is
    /// skipped until it answers again.
    #[arg(
        long = "reporter.grpc.host-port",
        env = "REPORTER_GRPC_HOST_PORT",
        default_value = "localhost:14250"
    )]
    pub reporter_host_port: String,

    /// How many times a batch a collector failed to store (a server-side error) is retried,
    /// with exponential backoff, before it is dropped and counted. Unreachable collectors do
    /// not use this budget: the batch waits in the send buffer for any collector to answer.
    #[arg(
        long = "reporter.grpc.retry.max",
        env = "REPORTER_GRPC_RETRY_MAX",
        default_value_t = 3
    )]
    pub reporter_retry_max: u32,

    /// Accepted for compatibility with Jaeger's flag; Sextant always round-robins over every
    /// resolved collector address.
    #[arg(
        long = "reporter.grpc.discovery.min-peers",
        env = "REPORTER_GRPC_DISCOVERY_MIN_PEERS",
        default_value_t = 3
    )]
    pub discovery_min_peers: usize,

    /// How often a `dns:///` collector name is resolved again (e.g. `30s`, `500ms`).
    #[arg(
        long = "reporter.grpc.discovery.refresh-interval",
        env = "REPORTER_GRPC_DISCOVERY_REFRESH_INTERVAL",
        default_value = "30s",
        value_parser = duration
    )]
    pub discovery_refresh_interval: Duration,

    /// Largest batch sent in one `PostSpans` (spans of one process).
    #[arg(
        long = "reporter.grpc.batch.max-spans",
        env = "REPORTER_GRPC_BATCH_MAX_SPANS",
        default_value_t = 1000,
        value_parser = positive
    )]
    pub batch_max_spans: usize,

    /// Longest a span waits for its batch to fill before the batch is sent anyway.
    #[arg(
        long = "reporter.grpc.batch.max-delay",
        env = "REPORTER_GRPC_BATCH_MAX_DELAY",
        default_value = "100ms",
        value_parser = duration
    )]
    pub batch_max_delay: Duration,

    /// Bytes of encoded batches held while collectors are slow or down; when full, new
    /// batches are dropped and counted (`sextant_agent_reporter_buffer_dropped_spans_total`).
    #[arg(
        long = "reporter.grpc.buffer.max-bytes",
        env = "REPORTER_GRPC_BUFFER_MAX_BYTES",
        default_value_t = 16 * 1024 * 1024,
        value_parser = positive
    )]
    pub buffer_max_bytes: usize,

    /// `PostSpans` calls in flight at once (across all collectors).
    #[arg(
        long = "reporter.grpc.concurrency",
        env = "REPORTER_GRPC_CONCURRENCY",
        default_value_t = 4,
        value_parser = positive
    )]
    pub reporter_concurrency: usize,

    #[command(flatten)]
    pub tls: TlsArgs,

    /// Tags added to the process of every span passing through this agent:
    /// `key1=value1,key2=${ENV_VAR:default}` (the variable's value, or the default when it
    /// is unset or empty; an entry `${ENV_VAR}` without default is skipped when unset).
    #[arg(long = "agent.tags", env = "AGENT_TAGS", default_value = "")]
    pub agent_tags: String,

    /// HTTP address serving clients' sampling strategies (`/sampling?service=`, legacy `/`)
    /// and `/baggageRestrictions?service=`.
    #[arg(
        id = "http-server.host-port",
        long = "http-server.host-port",
        env = "HTTP_SERVER_HOST_PORT",
        default_value = ":5778"
    )]
    pub http_host_port: String,

    /// How long a service's sampling strategy fetched from a collector is served before it
    /// is fetched again.
    #[arg(
        long = "http-server.sampling-refresh-interval",
        env = "HTTP_SERVER_SAMPLING_REFRESH_INTERVAL",
        default_value = "60s",
        value_parser = duration
    )]
    pub sampling_refresh_interval: Duration,
}

/// `--reporter.grpc.tls.*`: TLS (and, with a client certificate, mTLS) to the collectors.
#[derive(Args, Debug, Clone, Default)]
pub struct TlsArgs {
    /// Use TLS when talking to the collectors.
    #[arg(
        long = "reporter.grpc.tls.enabled",
        env = "REPORTER_GRPC_TLS_ENABLED",
        default_value_t = false
    )]
    pub enabled: bool,
    /// CA bundle (PEM) verifying the collectors' certificates; the system roots when unset.
    #[arg(long = "reporter.grpc.tls.ca", env = "REPORTER_GRPC_TLS_CA")]
    pub ca: Option<std::path::PathBuf>,
    /// Client certificate (PEM) for mTLS; needs `--reporter.grpc.tls.key`.
    #[arg(long = "reporter.grpc.tls.cert", env = "REPORTER_GRPC_TLS_CERT")]
    pub cert: Option<std::path::PathBuf>,
    /// Client private key (PEM) for mTLS.
    #[arg(long = "reporter.grpc.tls.key", env = "REPORTER_GRPC_TLS_KEY")]
    pub key: Option<std::path::PathBuf>,
    /// Name expected in the collectors' certificates (default: the host of the address).
    #[arg(
        long = "reporter.grpc.tls.server-name",
        env = "REPORTER_GRPC_TLS_SERVER_NAME"
    )]
    pub server_name: Option<String>,
    /// Do not verify the collectors' certificates (testing only).
    #[arg(
        long = "reporter.grpc.tls.skip-host-verify",
        env = "REPORTER_GRPC_TLS_SKIP_HOST_VERIFY",
        default_value_t = false
    )]
    pub skip_host_verify: bool,
}

fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// A UDP payload cannot exceed 65,535 bytes; anything larger would only waste memory.
fn packet_size(s: &str) -> Result<usize, String> {
    let n = positive(s)?;
    if n > 65_535 {
        return Err("must be at most 65535 (the largest UDP datagram)".into());
    }
    Ok(n)
}

/// A positive Go duration (`500ms`, `1m30s`): these flags pace loops and must not be zero.
pub fn duration(s: &str) -> Result<Duration, String> {
    let d = sextant_model::go_duration::parse_flag(s)?;
    if d.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(d)
}

impl Default for AgentArgs {
    fn default() -> Self {
        AgentArgs {
            compact_host_port: ":6831".into(),
            compact_max_packet_size: DEFAULT_MAX_PACKET_SIZE,
            compact_queue_size: DEFAULT_QUEUE_SIZE,
            compact_workers: DEFAULT_WORKERS,
            compact_socket_buffer_size: 0,
            binary_host_port: ":6832".into(),
            binary_max_packet_size: DEFAULT_MAX_PACKET_SIZE,
            binary_queue_size: DEFAULT_QUEUE_SIZE,
            binary_workers: DEFAULT_WORKERS,
            binary_socket_buffer_size: 0,
            reporter_host_port: "localhost:14250".into(),
            reporter_retry_max: 3,
            discovery_min_peers: 3,
            discovery_refresh_interval: Duration::from_secs(30),
            batch_max_spans: 1000,
            batch_max_delay: Duration::from_millis(100),
            buffer_max_bytes: 16 * 1024 * 1024,
            reporter_concurrency: 4,
            tls: TlsArgs::default(),
            agent_tags: String::new(),
            http_host_port: ":5778".into(),
            sampling_refresh_interval: Duration::from_secs(60),
        }
    }
}

impl AgentArgs {
    /// Both UDP ports and the HTTP port on `127.0.0.1:0`, forwarding to `collector` (tests
    /// and embedding: read the bound addresses from [`crate::RunningAgent`]).
    pub fn loopback_ephemeral(collector: &str) -> Self {
        AgentArgs {
            compact_host_port: "127.0.0.1:0".into(),
            binary_host_port: "127.0.0.1:0".into(),
            http_host_port: "127.0.0.1:0".into(),
            reporter_host_port: collector.to_string(),
            ..AgentArgs::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: AgentArgs,
    }

    #[test]
    fn defaults_match_jaeger_and_default_impl() {
        let cli = Cli::try_parse_from(["x"]).unwrap();
        let d = AgentArgs::default();
        assert_eq!(cli.args.compact_host_port, d.compact_host_port);
        assert_eq!(cli.args.binary_host_port, d.binary_host_port);
        assert_eq!(cli.args.compact_queue_size, 1000);
        assert_eq!(cli.args.compact_max_packet_size, 65000);
        assert_eq!(cli.args.reporter_host_port, d.reporter_host_port);
        assert_eq!(cli.args.reporter_retry_max, d.reporter_retry_max);
        assert_eq!(cli.args.http_host_port, ":5778");
        assert_eq!(cli.args.batch_max_delay, d.batch_max_delay);
        assert_eq!(cli.args.buffer_max_bytes, d.buffer_max_bytes);
        assert_eq!(
            cli.args.discovery_refresh_interval,
            d.discovery_refresh_interval
        );
        assert_eq!(
            cli.args.sampling_refresh_interval,
            d.sampling_refresh_interval
        );
        assert!(!cli.args.tls.enabled);
    }

    #[test]
    fn rejects_nonsense_sizes() {
        let bad = ["--processor.jaeger-compact.server-queue-size", "0"];
        assert!(Cli::try_parse_from(["x", bad[0], bad[1]]).is_err());
        let big = ["--processor.jaeger-compact.server-max-packet-size", "70000"];
        assert!(Cli::try_parse_from(["x", big[0], big[1]]).is_err());
    }

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(duration("2m").unwrap(), Duration::from_secs(120));
        assert!(duration("0s").is_err());
        assert!(duration("10").is_err());
        assert!(duration("").is_err());
    }
}
