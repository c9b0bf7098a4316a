//! `--es.*` flags: Jaeger's names and defaults, each readable from the environment.

use std::time::Duration;

/// How a bulk request waits for its documents to become searchable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Refresh {
    /// Acknowledge once the documents are searchable (the storage contract: an
    /// acknowledged span is visible to readers). Costs latency, not cluster work.
    #[value(name = "wait_for")]
    WaitFor,
    /// Acknowledge once the documents are durable; searchable after the next refresh
    /// (Jaeger's behaviour; highest throughput).
    #[value(name = "false")]
    False,
    /// Force a refresh per bulk: for tests only, expensive on a real cluster.
    #[value(name = "true")]
    True,
}

impl Refresh {
    pub fn as_param(self) -> &'static str {
        match self {
            Refresh::WaitFor => "wait_for",
            Refresh::False => "false",
            Refresh::True => "true",
        }
    }
}

/// Elasticsearch / OpenSearch flags (`--span-storage.type=elasticsearch`).
#[derive(Clone, Debug, clap::Args)]
pub struct EsArgs {
    /// Comma-separated node URLs; requests go round-robin over them.
    #[arg(
        id = "es.server-urls",
        long = "es.server-urls",
        env = "ES_SERVER_URLS",
        default_value = "http://127.0.0.1:9200",
        value_delimiter = ','
    )]
    pub server_urls: Vec<String>,
    /// Basic authentication user name.
    #[arg(
        id = "es.username",
        long = "es.username",
        env = "ES_USERNAME",
        default_value = ""
    )]
    pub username: String,
    /// Basic authentication password.
    #[arg(
        id = "es.password",
        long = "es.password",
        env = "ES_PASSWORD",
        default_value = "",
        hide_env_values = true
    )]
    pub password: String,
    /// File holding a bearer token sent as `Authorization: Bearer …`.
    #[arg(id = "es.token-file", long = "es.token-file", env = "ES_TOKEN_FILE")]
    pub token_file: Option<std::path::PathBuf>,
    /// File holding an API key (base64 `id:key`) sent as `Authorization: ApiKey …`.
    #[arg(
        id = "es.api-key-file",
        long = "es.api-key-file",
        env = "ES_API_KEY_FILE"
    )]
    pub api_key_file: Option<std::path::PathBuf>,
    /// Timeout of each request to the cluster (e.g. `30s`).
    #[arg(id = "es.timeout", long = "es.timeout", env = "ES_TIMEOUT", default_value = "30s", value_parser = sextant_model::go_duration::parse_flag)]
    pub timeout: Duration,
    /// Major version to assume (7, 8, 9; OpenSearch 1–3 report as 7); 0 detects it with `GET /`.
    #[arg(
        id = "es.version",
        long = "es.version",
        env = "ES_VERSION",
        default_value_t = 0
    )]
    pub version: u32,

    /// Prefix of every index name (`PREFIX-jaeger-span-…`).
    #[arg(
        id = "es.index-prefix",
        long = "es.index-prefix",
        env = "ES_INDEX_PREFIX",
        default_value = ""
    )]
    pub index_prefix: String,
    /// Separator between the parts of the date in daily index names.
    #[arg(
        id = "es.index-date-separator",
        long = "es.index-date-separator",
        env = "ES_INDEX_DATE_SEPARATOR",
        default_value = "-"
    )]
    pub index_date_separator: String,
    /// Use read/write aliases (`jaeger-span-read` / `jaeger-span-write`) instead of daily
    /// indices: the rollover layout set up by `sextant-es-tools rollover init`.
    #[arg(id = "es.use-aliases", long = "es.use-aliases", env = "ES_USE_ALIASES", default_value_t = false, action = clap::ArgAction::Set)]
    pub use_aliases: bool,
    /// Attach the ILM (Elasticsearch) / ISM (OpenSearch) policy `--es.ilm-policy-name` to the
    /// rollover indices through the templates; needs `--es.use-aliases`.
    #[arg(id = "es.use-ilm", long = "es.use-ilm", env = "ES_USE_ILM", default_value_t = false, action = clap::ArgAction::Set)]
    pub use_ilm: bool,
    #[arg(
        id = "es.ilm-policy-name",
        long = "es.ilm-policy-name",
        env = "ES_ILM_POLICY_NAME",
        default_value = "jaeger-ilm-policy"
    )]
    pub ilm_policy_name: String,
    /// Install the index templates at start-up.
    #[arg(id = "es.create-index-templates", long = "es.create-index-templates", env = "ES_CREATE_INDEX_TEMPLATES", default_value_t = true, action = clap::ArgAction::Set)]
    pub create_index_templates: bool,
    #[arg(
        id = "es.num-shards",
        long = "es.num-shards",
        env = "ES_NUM_SHARDS",
        default_value_t = 5
    )]
    pub num_shards: u32,
    #[arg(
        id = "es.num-replicas",
        long = "es.num-replicas",
        env = "ES_NUM_REPLICAS",
        default_value_t = 1
    )]
    pub num_replicas: u32,
    /// Priority of the span index template (composable templates, ES 8+/OpenSearch 3).
    #[arg(
        id = "es.prioirity-span-template",
        long = "es.prioirity-span-template",
        env = "ES_PRIOIRITY_SPAN_TEMPLATE",
        default_value_t = 0
    )]
    pub priority_span_template: u32,
    #[arg(
        id = "es.prioirity-service-template",
        long = "es.prioirity-service-template",
        env = "ES_PRIOIRITY_SERVICE_TEMPLATE",
        default_value_t = 0
    )]
    pub priority_service_template: u32,
    #[arg(
        id = "es.prioirity-dependencies-template",
        long = "es.prioirity-dependencies-template",
        env = "ES_PRIOIRITY_DEPENDENCIES_TEMPLATE",
        default_value_t = 0
    )]
    pub priority_dependencies_template: u32,

    /// Flush a bulk request after this many actions.
    #[arg(id = "es.bulk.actions", long = "es.bulk.actions", env = "ES_BULK_ACTIONS", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub bulk_actions: u32,
    /// Flush a bulk request after this many bytes.
    #[arg(id = "es.bulk.size", long = "es.bulk.size", env = "ES_BULK_SIZE", default_value_t = 5_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub bulk_size: u64,
    /// Flush a partial bulk request after this long.
    #[arg(id = "es.bulk.flush-interval", long = "es.bulk.flush-interval", env = "ES_BULK_FLUSH_INTERVAL", default_value = "200ms", value_parser = sextant_model::go_duration::parse_flag)]
    pub bulk_flush_interval: Duration,
    /// Bulk requests in flight at once.
    #[arg(id = "es.bulk.workers", long = "es.bulk.workers", env = "ES_BULK_WORKERS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub bulk_workers: u32,
    /// When acknowledged documents become searchable (see `Refresh`).
    #[arg(
        id = "es.bulk.refresh",
        long = "es.bulk.refresh",
        env = "ES_BULK_REFRESH",
        value_enum,
        default_value = "wait_for"
    )]
    pub bulk_refresh: Refresh,
    /// Attempts per bulk item before its spans are reported failed (429 and 5xx retry).
    #[arg(id = "es.bulk.max-attempts", long = "es.bulk.max-attempts", env = "ES_BULK_MAX_ATTEMPTS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub bulk_max_attempts: u32,
    /// First retry back-off; doubles per attempt, capped at 5 s.
    #[arg(id = "es.bulk.backoff", long = "es.bulk.backoff", env = "ES_BULK_BACKOFF", default_value = "100ms", value_parser = sextant_model::go_duration::parse_flag)]
    pub bulk_backoff: Duration,

    /// Store every tag as an object field (`tag.*`) instead of the nested list.
    #[arg(id = "es.tags-as-fields.all", long = "es.tags-as-fields.all", env = "ES_TAGS_AS_FIELDS_ALL", default_value_t = false, action = clap::ArgAction::Set)]
    pub tags_as_fields_all: bool,
    /// Replacement for `.` in tag field names.
    #[arg(
        id = "es.tags-as-fields.dot-replacement",
        long = "es.tags-as-fields.dot-replacement",
        env = "ES_TAGS_AS_FIELDS_DOT_REPLACEMENT",
        default_value = "@"
    )]
    pub tags_as_fields_dot_replacement: String,
    /// File of tag keys (one per line) stored as object fields.
    #[arg(
        id = "es.tags-as-fields.config-file",
        long = "es.tags-as-fields.config-file",
        env = "ES_TAGS_AS_FIELDS_CONFIG_FILE"
    )]
    pub tags_as_fields_config_file: Option<std::path::PathBuf>,
    /// Comma-separated tag keys stored as object fields.
    #[arg(
        id = "es.tags-as-fields.include",
        long = "es.tags-as-fields.include",
        env = "ES_TAGS_AS_FIELDS_INCLUDE",
        default_value = ""
    )]
    pub tags_as_fields_include: String,

    /// How far back trace lookups by ID search (they have no time range).
    #[arg(id = "es.max-span-age", long = "es.max-span-age", env = "ES_MAX_SPAN_AGE", default_value = "72h", value_parser = sextant_model::go_duration::parse_flag)]
    pub max_span_age: Duration,
    /// Documents fetched per search request (trace pages, aggregation sizes).
    #[arg(id = "es.max-doc-count", long = "es.max-doc-count", env = "ES_MAX_DOC_COUNT", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_doc_count: u32,
    /// Service/operation pairs remembered as already written.
    #[arg(
        id = "es.service-cache-size",
        long = "es.service-cache-size",
        env = "ES_SERVICE_CACHE_SIZE",
        default_value_t = 100_000
    )]
    pub service_cache_size: usize,

    /// Use TLS (implied by `https://` URLs).
    #[arg(id = "es.tls.enabled", long = "es.tls.enabled", env = "ES_TLS_ENABLED", default_value_t = false, action = clap::ArgAction::Set)]
    pub tls_enabled: bool,
    /// CA certificate (PEM) that signed the cluster's certificates.
    #[arg(id = "es.tls.ca", long = "es.tls.ca", env = "ES_TLS_CA")]
    pub tls_ca: Option<std::path::PathBuf>,
    /// Client certificate (PEM), with `--es.tls.key`.
    #[arg(id = "es.tls.cert", long = "es.tls.cert", env = "ES_TLS_CERT")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// Client private key (PEM).
    #[arg(id = "es.tls.key", long = "es.tls.key", env = "ES_TLS_KEY")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Accept any server certificate (testing only).
    #[arg(id = "es.tls.skip-host-verify", long = "es.tls.skip-host-verify", env = "ES_TLS_SKIP_HOST_VERIFY", default_value_t = false, action = clap::ArgAction::Set)]
    pub tls_skip_host_verify: bool,
}

impl Default for EsArgs {
    fn default() -> Self {
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            es: EsArgs,
        }
        // The defaults are declared once, on the flags.
        <Defaults as clap::Parser>::try_parse_from(["defaults"])
            .map(|d| d.es)
            .unwrap_or_else(|_| unreachable_defaults())
    }
}

#[cold]
fn unreachable_defaults() -> EsArgs {
    // Only reachable if a default above fails its own parser: a programming error caught by
    // the unit test below, never by input.
    panic!("EsArgs defaults do not parse")
}
