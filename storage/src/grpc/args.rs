//! The client's flags, named as Jaeger v1 names them (`--grpc-storage.*`).

use std::time::Duration;

use sextant_model::go_duration::parse_flag;

/// Flags of the `grpc` span storage (`SPAN_STORAGE_TYPE=grpc`).
#[derive(Clone, Debug, clap::Args)]
pub struct GrpcStorageArgs {
    /// The remote storage server, `host:port` (e.g. `remote-storage:17271`). Required when
    /// the span storage type is `grpc`.
    #[arg(long = "grpc-storage.server", env = "GRPC_STORAGE_SERVER")]
    pub server: Option<String>,

    /// How long to wait for a connection to the remote storage server, as a Go duration
    /// (`5s`, `500ms`, `1m30s`).
    #[arg(
        long = "grpc-storage.connection-timeout",
        env = "GRPC_STORAGE_CONNECTION_TIMEOUT",
        default_value = "5s",
        value_parser = parse_flag
    )]
    pub connection_timeout: Duration,
}

impl Default for GrpcStorageArgs {
    fn default() -> Self {
        GrpcStorageArgs {
            server: None,
            connection_timeout: Duration::from_secs(5),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        grpc: GrpcStorageArgs,
    }

    #[test]
    fn flags_use_jaeger_names_and_defaults() {
        let cli = Cli::try_parse_from(["x"]).unwrap();
        assert_eq!(cli.grpc.server, None);
        assert_eq!(cli.grpc.connection_timeout, Duration::from_secs(5));
        let cli = Cli::try_parse_from([
            "x",
            "--grpc-storage.server=store:17271",
            "--grpc-storage.connection-timeout=250ms",
        ])
        .unwrap();
        assert_eq!(cli.grpc.server.as_deref(), Some("store:17271"));
        assert_eq!(cli.grpc.connection_timeout, Duration::from_millis(250));
    }
}
