//! The agent's flags, defined once so the `sextant-agent` binary and the all-in-one share
//! them (`#[command(flatten)]`). Names and defaults are Jaeger v1's.

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

    /// Workers decoding and forwarding packets from the compact port.
    #[arg(
        long = "processor.jaeger-compact.workers",
        env = "PROCESSOR_JAEGER_COMPACT_WORKERS",
        default_value_t = DEFAULT_WORKERS,
        value_parser = positive
    )]
    pub compact_workers: usize,

    /// UDP address receiving Jaeger thrift `emitBatch` in the binary protocol (used by
    /// Node.js clients).
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

    /// Workers decoding and forwarding packets from the binary port.
    #[arg(
        long = "processor.jaeger-binary.workers",
        env = "PROCESSOR_JAEGER_BINARY_WORKERS",
        default_value_t = DEFAULT_WORKERS,
        value_parser = positive
    )]
    pub binary_workers: usize,

    /// The collector's gRPC address (`host:port`) spans are forwarded to with api_v2
    /// `PostSpans`.
    #[arg(
        long = "reporter.grpc.host-port",
        env = "REPORTER_GRPC_HOST_PORT",
        default_value = "localhost:14250"
    )]
    pub reporter_host_port: String,

    /// How many times a failed forward is retried (with exponential backoff) before the
    /// batch is dropped and counted.
    #[arg(
        long = "reporter.grpc.retry.max",
        env = "REPORTER_GRPC_RETRY_MAX",
        default_value_t = 3
    )]
    pub reporter_retry_max: u32,
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

impl Default for AgentArgs {
    fn default() -> Self {
        AgentArgs {
            compact_host_port: ":6831".into(),
            compact_max_packet_size: DEFAULT_MAX_PACKET_SIZE,
            compact_queue_size: DEFAULT_QUEUE_SIZE,
            compact_workers: DEFAULT_WORKERS,
            binary_host_port: ":6832".into(),
            binary_max_packet_size: DEFAULT_MAX_PACKET_SIZE,
            binary_queue_size: DEFAULT_QUEUE_SIZE,
            binary_workers: DEFAULT_WORKERS,
            reporter_host_port: "localhost:14250".into(),
            reporter_retry_max: 3,
        }
    }
}

impl AgentArgs {
    /// Both UDP ports on `127.0.0.1:0`, forwarding to `collector` (tests and embedding: read
    /// the bound addresses from [`crate::RunningAgent`]).
    pub fn loopback_ephemeral(collector: &str) -> Self {
        AgentArgs {
            compact_host_port: "127.0.0.1:0".into(),
            binary_host_port: "127.0.0.1:0".into(),
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
    }

    #[test]
    fn rejects_nonsense_sizes() {
        let bad = ["--processor.jaeger-compact.server-queue-size", "0"];
        assert!(Cli::try_parse_from(["x", bad[0], bad[1]]).is_err());
        let big = ["--processor.jaeger-compact.server-max-packet-size", "70000"];
        assert!(Cli::try_parse_from(["x", big[0], big[1]]).is_err());
    }
}
