//! The client's flags, named as Jaeger v1 names them (`--grpc-storage.*`).

use std::time::Duration;

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
        value_parser = parse_go_duration
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

/// Parses Go's `time.ParseDuration` syntax for non-negative durations: one or more
/// `<number><unit>` terms, units `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`; `0` alone is zero.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let err = || format!("invalid duration {text:?} (want e.g. 5s, 500ms, 1m30s)");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(err());
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        let (number, tail) = rest.split_at(number_len);
        let value: f64 = number.parse().map_err(|_| err())?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let seconds_per_unit = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(err()),
        };
        total += value * seconds_per_unit;
        rest = tail;
    }
    Duration::try_from_secs_f64(total).map_err(|_| err())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_go_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        for bad in ["", "5", "s", "5x", "-1s", "1..2s", "1e400h"] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
    }

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
