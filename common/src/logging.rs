//! Structured logging for every binary: `--log-level` (or `RUST_LOG` for per-module
//! filters) and `--log-format` (`text` or `json`), written to stderr.

use clap::{Args, ValueEnum};
use tracing_subscriber::EnvFilter;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct LogArgs {
    /// Minimum level logged: error, warn, info, debug or trace. RUST_LOG, when set, wins.
    #[arg(long = "log-level", env = "LOG_LEVEL", default_value = "info")]
    pub level: String,
    /// Log line format.
    #[arg(
        long = "log-format",
        env = "LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub format: LogFormat,
}

/// Installs the global subscriber. Safe to call twice (the second call is a no-op), which
/// tests that start several components in one process rely on.
pub fn init(args: &LogArgs) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&args.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only on a terminal: files and log collectors get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match args.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
