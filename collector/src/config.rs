//! The collector's flags, defined once so the `sextant-collector` binary and the all-in-one
//! share them (`#[command(flatten)]`). Names and defaults are Jaeger v1's.

use clap::Args;

use crate::tls::{GrpcTlsArgs, HttpTlsArgs, OtlpGrpcTlsArgs, OtlpHttpTlsArgs, ZipkinTlsArgs};

/// Jaeger's default `--collector.grpc-server.max-message-size` (4 MiB).
pub const DEFAULT_GRPC_MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

#[derive(Args, Debug, Clone)]
pub struct CollectorArgs {
    /// Address of the gRPC server receiving Jaeger api_v2 `PostSpans` (what Jaeger agents and
    /// Jaeger gRPC exporters send to).
    #[arg(
        id = "collector.grpc-server.host-port",
        long = "collector.grpc-server.host-port",
        env = "COLLECTOR_GRPC_SERVER_HOST_PORT",
        default_value = ":14250"
    )]
    pub grpc_host_port: String,

    /// Largest gRPC message (bytes, after decompression) the gRPC receivers accept.
    #[arg(
        id = "collector.grpc-server.max-message-size",
        long = "collector.grpc-server.max-message-size",
        env = "COLLECTOR_GRPC_SERVER_MAX_MESSAGE_SIZE",
        default_value_t = DEFAULT_GRPC_MAX_MESSAGE_SIZE
    )]
    pub grpc_max_message_size: usize,

    /// Address of the HTTP server receiving Jaeger thrift batches on `POST /api/traces`
    /// (what Jaeger clients' HTTP senders use).
    #[arg(
        id = "collector.http-server.host-port",
        long = "collector.http-server.host-port",
        env = "COLLECTOR_HTTP_SERVER_HOST_PORT",
        default_value = ":14268"
    )]
    pub http_host_port: String,

    /// Whether the OTLP receivers (gRPC and HTTP) run.
    #[arg(
        id = "collector.otlp.enabled",
        long = "collector.otlp.enabled",
        env = "COLLECTOR_OTLP_ENABLED",
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub otlp_enabled: bool,

    /// Address of the OTLP gRPC receiver (TraceService/Export).
    #[arg(
        id = "collector.otlp.grpc.host-port",
        long = "collector.otlp.grpc.host-port",
        env = "COLLECTOR_OTLP_GRPC_HOST_PORT",
        default_value = ":4317"
    )]
    pub otlp_grpc_host_port: String,

    /// Address of the OTLP HTTP receiver (`POST /v1/traces`, protobuf or JSON).
    #[arg(
        id = "collector.otlp.http.host-port",
        long = "collector.otlp.http.host-port",
        env = "COLLECTOR_OTLP_HTTP_HOST_PORT",
        default_value = ":4318"
    )]
    pub otlp_http_host_port: String,

    /// Largest request body (bytes) the HTTP receivers accept, checked both on the wire and
    /// after gzip decompression; larger requests get HTTP 413.
    #[arg(
        id = "collector.http-server.max-request-body-size",
        long = "collector.http-server.max-request-body-size",
        env = "COLLECTOR_HTTP_SERVER_MAX_REQUEST_BODY_SIZE",
        default_value_t = 20 * 1024 * 1024
    )]
    pub http_max_body_size: usize,

    /// How many span batches may be written to storage at the same time.
    #[arg(
        id = "collector.num-workers",
        long = "collector.num-workers",
        env = "COLLECTOR_NUM_WORKERS",
        default_value_t = 50,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub num_workers: u32,

    /// How many spans may wait for a worker. When full, receivers answer "busy"
    /// (gRPC RESOURCE_EXHAUSTED, HTTP 503 with Retry-After) so clients retry later.
    #[arg(
        id = "collector.queue-size",
        long = "collector.queue-size",
        env = "COLLECTOR_QUEUE_SIZE",
        default_value_t = 2000,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub queue_size: u32,

    /// Memory bound of the queue, in MiB (0: none). Spans waiting for a worker are weighed
    /// by their approximate in-memory size; a batch that would push the queue past this is
    /// refused as busy, like a batch that does not fit `--collector.queue-size`.
    #[arg(
        id = "collector.queue-size-memory",
        long = "collector.queue-size-memory",
        env = "COLLECTOR_QUEUE_SIZE_MEMORY",
        default_value_t = 0
    )]
    pub queue_size_memory_mib: u32,

    /// Address of the Zipkin receiver (`POST /api/v1/spans`, `/api/v2/spans`). Empty: the
    /// receiver is off, as in Jaeger (set `:9411` for Zipkin's usual port).
    #[arg(
        id = "collector.zipkin.host-port",
        long = "collector.zipkin.host-port",
        env = "COLLECTOR_ZIPKIN_HOST_PORT",
        default_value = ""
    )]
    pub zipkin_host_port: String,

    /// Comma-separated CORS origins the Zipkin receiver allows (`*`: any).
    #[arg(
        id = "collector.zipkin.allowed-origins",
        long = "collector.zipkin.allowed-origins",
        env = "COLLECTOR_ZIPKIN_ALLOWED_ORIGINS",
        default_value = "*"
    )]
    pub zipkin_allowed_origins: String,

    /// Comma-separated request headers the Zipkin receiver allows in CORS requests.
    #[arg(
        id = "collector.zipkin.allowed-headers",
        long = "collector.zipkin.allowed-headers",
        env = "COLLECTOR_ZIPKIN_ALLOWED_HEADERS",
        default_value = "content-type"
    )]
    pub zipkin_allowed_headers: String,

    #[command(flatten)]
    pub sampling: crate::sampling::SamplingArgs,

    /// `--collector.grpc.tls.*` (Jaeger api_v2 gRPC).
    #[command(flatten)]
    pub grpc_tls: GrpcTlsArgs,
    /// `--collector.http.tls.*` (Jaeger thrift HTTP).
    #[command(flatten)]
    pub http_tls: HttpTlsArgs,
    /// `--collector.otlp.grpc.tls.*`.
    #[command(flatten)]
    pub otlp_grpc_tls: OtlpGrpcTlsArgs,
    /// `--collector.otlp.http.tls.*`.
    #[command(flatten)]
    pub otlp_http_tls: OtlpHttpTlsArgs,
    /// `--collector.zipkin.tls.*`.
    #[command(flatten)]
    pub zipkin_tls: ZipkinTlsArgs,
}

impl Default for CollectorArgs {
    fn default() -> Self {
        CollectorArgs {
            grpc_host_port: ":14250".into(),
            grpc_max_message_size: DEFAULT_GRPC_MAX_MESSAGE_SIZE,
            http_host_port: ":14268".into(),
            otlp_enabled: true,
            otlp_grpc_host_port: ":4317".into(),
            otlp_http_host_port: ":4318".into(),
            http_max_body_size: 20 * 1024 * 1024,
            num_workers: 50,
            queue_size: 2000,
            queue_size_memory_mib: 0,
            zipkin_host_port: String::new(),
            zipkin_allowed_origins: "*".into(),
            zipkin_allowed_headers: "content-type".into(),
            sampling: crate::sampling::SamplingArgs::default(),
            grpc_tls: GrpcTlsArgs::default(),
            http_tls: HttpTlsArgs::default(),
            otlp_grpc_tls: OtlpGrpcTlsArgs::default(),
            otlp_http_tls: OtlpHttpTlsArgs::default(),
            zipkin_tls: ZipkinTlsArgs::default(),
        }
    }
}

impl CollectorArgs {
    /// Every receiver on `127.0.0.1:0` (tests and embedding: read the bound addresses from
    /// [`crate::RunningCollector`]).
    pub fn loopback_ephemeral() -> Self {
        let any = "127.0.0.1:0".to_string();
        CollectorArgs {
            grpc_host_port: any.clone(),
            http_host_port: any.clone(),
            otlp_grpc_host_port: any.clone(),
            otlp_http_host_port: any.clone(),
            zipkin_host_port: any,
            ..CollectorArgs::default()
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
        args: CollectorArgs,
    }

    #[test]
    fn defaults_match_jaeger_and_default_impl() {
        let cli = Cli::try_parse_from(["x"]).unwrap();
        let d = CollectorArgs::default();
        assert_eq!(cli.args.grpc_host_port, d.grpc_host_port);
        assert_eq!(cli.args.otlp_http_host_port, d.otlp_http_host_port);
        assert_eq!(cli.args.queue_size, d.queue_size);
        assert_eq!(cli.args.num_workers, d.num_workers);
        assert_eq!(cli.args.http_max_body_size, d.http_max_body_size);
        assert!(cli.args.otlp_enabled);
        assert!(!cli.args.grpc_tls.enabled && !cli.args.zipkin_tls.enabled);
    }

    #[test]
    fn tls_flags_per_server() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "x",
            "--collector.otlp.http.tls.enabled=true",
            "--collector.otlp.http.tls.cert=/c.pem",
            "--collector.http.tls.key=/k.pem",
        ])
        .unwrap();
        assert!(cli.args.otlp_http_tls.enabled);
        assert_eq!(cli.args.otlp_http_tls.cert, Some("/c.pem".into()));
        assert!(!cli.args.otlp_grpc_tls.enabled);
        assert_eq!(cli.args.http_tls.key, Some("/k.pem".into()));
        assert_eq!(cli.args.grpc_tls, GrpcTlsArgs::default());
    }

    #[test]
    fn otlp_can_be_disabled() {
        let cli = Cli::try_parse_from(["x", "--collector.otlp.enabled", "false"]).unwrap();
        assert!(!cli.args.otlp_enabled);
        let cli = Cli::try_parse_from(["x", "--collector.otlp.enabled=false"]).unwrap();
        assert!(!cli.args.otlp_enabled);
        // Go-style bare boolean flag.
        let cli = Cli::try_parse_from(["x", "--collector.otlp.enabled"]).unwrap();
        assert!(cli.args.otlp_enabled);
        assert!(Cli::try_parse_from(["x", "--collector.num-workers", "0"]).is_err());
    }
}
