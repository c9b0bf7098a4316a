//! `sextant-es-tools`: operator tasks on Jaeger's Elasticsearch/OpenSearch indices, with the
//! same `--es.*` flags as the collector and query (connection, prefix, date separator,
//! shards, replicas, ILM/ISM):
//!
//! * `index-cleaner N` — delete daily indices older than N days (Jaeger's es-index-cleaner).
//! * `rollover init | rollover | lookback` — the rollover layout (Jaeger's es-rollover), for
//!   the archive indices with `--archive`; `init --create-ilm-policy` also creates the
//!   ILM (Elasticsearch) / ISM (OpenSearch) policy that `--es.use-ilm` names.
//! * `templates` — print the index templates for a cluster version.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use serde_json::json;
use sextant_storage::elasticsearch::client::{EsClient, Flavor};
use sextant_storage::elasticsearch::indices::{IndexKind, IndexNames};
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
        /// Act on the archive's indices (`jaeger-span-archive-read`/`-write`) instead.
        #[arg(long, global = true)]
        archive: bool,
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
    /// With `--es.use-ilm=true` the ILM/ISM policy `--es.ilm-policy-name` must exist, or be
    /// created with `--create-ilm-policy`.
    Init {
        /// Create the ILM (Elasticsearch) / ISM (OpenSearch) policy when it does not exist
        /// (an existing one is kept): roll over daily, delete after `--delete-after`.
        #[arg(long)]
        create_ilm_policy: bool,
        /// Age at which the policy rolls the write index over (cluster time units).
        #[arg(long, default_value = "1d", requires = "create_ilm_policy")]
        rollover_after: String,
        /// Age at which the policy deletes an index (cluster time units).
        #[arg(long, default_value = "7d", requires = "create_ilm_policy")]
        delete_after: String,
    },
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
        Command::Rollover { archive, action } => {
            // The archive's own names; its templates are the primary's (they cover it).
            let (names, kinds) = if archive {
                (
                    IndexNames::archive(&cli.es.index_prefix, true),
                    &admin::ARCHIVE_ROLLOVER_KINDS[..],
                )
            } else {
                (names, &admin::ROLLOVER_KINDS[..])
            };
            match action {
                RolloverAction::Init {
                    create_ilm_policy,
                    rollover_after,
                    delete_after,
                } => {
                    if create_ilm_policy && !cli.es.use_ilm {
                        bail!("--create-ilm-policy needs --es.use-ilm=true");
                    }
                    let flavor = if cli.es.version == 0 {
                        client.detect().await?
                    } else {
                        Flavor::from_major(cli.es.version, false)
                    };
                    // The rollover layout, whatever --es.use-aliases says: the templates
                    // then carry the ILM/ISM settings when --es.use-ilm is on.
                    let es = EsArgs {
                        use_aliases: true,
                        ..cli.es.clone()
                    };
                    let policy = &es.ilm_policy_name;
                    if es.use_ilm {
                        let primary = index_names(&es);
                        if create_ilm_policy {
                            let created = admin::ensure_rollover_policy(
                                &client,
                                flavor,
                                &primary,
                                policy,
                                &rollover_after,
                                &delete_after,
                            )
                            .await?;
                            eprintln!(
                                "rollover policy {policy}: {}",
                                if created { "created" } else { "exists, kept" }
                            );
                        } else if !admin::rollover_policy_exists(&client, flavor, policy).await? {
                            bail!(
                                "ILM/ISM policy {policy} does not exist; create it, or pass \
                                 --create-ilm-policy, and run init again"
                            );
                        }
                    }
                    admin::install_templates(
                        &client,
                        flavor,
                        &index_names(&es),
                        &template_options(&es),
                    )
                    .await?;
                    admin::rollover_init(&client, &names, kinds).await?;
                }
                RolloverAction::Rollover { conditions } => {
                    let conditions: serde_json::Value =
                        serde_json::from_str(&conditions).context("--conditions is not JSON")?;
                    admin::rollover(&client, &names, kinds, &conditions).await?;
                }
                RolloverAction::Lookback { units, unit } => {
                    let span = units.saturating_mul(unit_millis(&unit)?);
                    let removed =
                        admin::lookback(&client, &names, kinds, now_millis().saturating_sub(span))
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
