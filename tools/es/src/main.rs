//! `sextant-es-tools`: operator tasks on Jaeger's Elasticsearch/OpenSearch indices, with the
//! same `--es.*` flags as the collector and query (connection, prefix, date separator,
//! shards, replicas, ILM/ISM):
//!
//! * `index-cleaner N` — delete daily indices older than N days (Jaeger's es-index-cleaner).
//! * `rollover init | rollover | lookback` — the rollover layout (Jaeger's es-rollover).
//! * `templates` — print the index templates for a cluster version.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use serde_json::json;
use sextant_storage::elasticsearch::client::{EsClient, Flavor};
use sextant_storage::elasticsearch::indices::IndexKind;
use sextant_storage::elasticsearch::{admin, index_names, template_options, templates, EsArgs};

#[derive(Parser)]
#[command(
    name = "sextant-es-tools",
    version,
    about = "Operator tools for Jaeger's Elasticsearch/OpenSearch indices"
)]
struct Cli {
    #[command(flatten)]
    es: EsArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Delete daily span, service and dependencies indices older than DAYS days (UTC dates).
    IndexCleaner {
        days: u32,
        /// Print what would be deleted without deleting.
        #[arg(long)]
        dry_run: bool,
    },
    /// The rollover layout's read/write aliases.
    Rollover {
        #[command(subcommand)]
        action: RolloverAction,
    },
    /// Print the index templates (JSON) for `--es.version` (7, 8, 9), or for OpenSearch.
    Templates {
        /// Render for OpenSearch of this major version (1–3) instead of Elasticsearch.
        #[arg(long)]
        opensearch: Option<u32>,
    },
}

#[derive(Subcommand)]
enum RolloverAction {
    /// Create the first indices with their read and write aliases (and the templates).
    Init,
    /// Roll the write aliases over to new indices when a condition holds.
    Rollover {
        /// `_rollover` conditions as JSON.
        #[arg(long, default_value = r#"{"max_age": "1d"}"#)]
        conditions: String,
    },
    /// Remove indices older than UNITS × UNIT from the read aliases.
    Lookback {
        #[arg(long, default_value_t = 1)]
        units: u64,
        /// seconds, minutes, hours, days, weeks, months or years.
        #[arg(long, default_value = "days")]
        unit: String,
    },
}

fn unit_millis(unit: &str) -> anyhow::Result<u64> {
    Ok(match unit {
        "seconds" => 1_000,
        "minutes" => 60_000,
        "hours" => 3_600_000,
        "days" => 86_400_000,
        "weeks" => 7 * 86_400_000,
        "months" => 30 * 86_400_000,
        "years" => 365 * 86_400_000,
        other => bail!("unknown unit {other:?}"),
    })
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let names = index_names(&cli.es);
    if let Command::Templates { opensearch } = &cli.command {
        let flavor = match opensearch {
            Some(major) => Flavor::OpenSearch(*major),
            None => Flavor::from_major(
                if cli.es.version == 0 {
                    8
                } else {
                    cli.es.version
                },
                false,
            ),
        };
        for t in templates::render(flavor, &names, &template_options(&cli.es)) {
            println!("{}", json!({"path": t.path(), "body": t.body}));
        }
        return Ok(());
    }
    let client = EsClient::new(&cli.es)?;
    match cli.command {
        Command::Templates { .. } => {}
        Command::IndexCleaner { days, dry_run } => {
            let today = time::OffsetDateTime::now_utc().date();
            let cutoff = today - time::Duration::days(i64::from(days));
            let mut doomed = Vec::new();
            for index in admin::all_jaeger_indices(&client, &names).await? {
                let kinds = [IndexKind::Span, IndexKind::Service, IndexKind::Dependencies];
                if kinds
                    .iter()
                    .any(|k| names.date_of(*k, &index).is_some_and(|d| d < cutoff))
                {
                    doomed.push(index);
                }
            }
            for index in &doomed {
                println!("{index}");
            }
            if !dry_run {
                admin::delete_indices(&client, &doomed).await?;
                eprintln!("deleted {} indices older than {cutoff}", doomed.len());
            }
        }
        Command::Rollover { action } => {
            let kinds = admin::ROLLOVER_KINDS;
            match action {
                RolloverAction::Init => {
                    let flavor = if cli.es.version == 0 {
                        client.detect().await?
                    } else {
                        Flavor::from_major(cli.es.version, false)
                    };
                    admin::install_templates(&client, flavor, &names, &template_options(&cli.es))
                        .await?;
                    admin::rollover_init(&client, &names, &kinds).await?;
                }
                RolloverAction::Rollover { conditions } => {
                    let conditions: serde_json::Value =
                        serde_json::from_str(&conditions).context("--conditions is not JSON")?;
                    admin::rollover(&client, &names, &kinds, &conditions).await?;
                }
                RolloverAction::Lookback { units, unit } => {
                    let span = units.saturating_mul(unit_millis(&unit)?);
                    let removed =
                        admin::lookback(&client, &names, &kinds, now_millis().saturating_sub(span))
                            .await?;
                    for index in removed {
                        println!("{index}");
                    }
                }
            }
        }
    }
    Ok(())
}
