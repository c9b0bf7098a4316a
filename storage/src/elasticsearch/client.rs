//! The connection to the cluster: the `elasticsearch` crate's transport (round-robin over
//! `--es.server-urls`, TLS, credentials), raw JSON requests on top of it, and the cluster
//! flavour detected once with `GET /`.
//!
//! Requests are built from Jaeger's query shapes (JSON) rather than the crate's typed
//! builders: the same bodies serve Elasticsearch 7/8/9 and OpenSearch 1–3.

use std::time::Duration;

use elasticsearch::auth::{ClientCertificate, Credentials};
use elasticsearch::cert::{Certificate, CertificateValidation};
use elasticsearch::http::headers::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use elasticsearch::http::transport::{MultiNodeConnectionPool, TransportBuilder};
use elasticsearch::http::{Method, Url};
use elasticsearch::Elasticsearch;
use serde_json::Value;

use super::args::EsArgs;
use crate::StorageError;

/// Which template dialect and settings the cluster understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Elasticsearch 7: legacy `_template`.
    Es7,
    /// Elasticsearch 8 and later: composable `_index_template` with priorities.
    Es8,
    /// OpenSearch with its major version: ISM instead of ILM; 1–2 take legacy templates.
    OpenSearch(u32),
}

impl Flavor {
    /// From `GET /`'s `version` object.
    pub fn from_root(root: &Value) -> Result<Flavor, StorageError> {
        let version = root.get("version").unwrap_or(&Value::Null);
        let number = version.get("number").and_then(Value::as_str).unwrap_or("");
        let major: u32 = number
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .ok_or_else(|| {
                StorageError::Backend(format!("cannot read cluster version from GET /: {root}"))
            })?;
        let opensearch = version.get("distribution").and_then(Value::as_str) == Some("opensearch");
        Ok(Flavor::from_major(major, opensearch))
    }

    pub fn from_major(major: u32, opensearch: bool) -> Flavor {
        match (opensearch, major) {
            (true, m) => Flavor::OpenSearch(m),
            (false, 0..=7) => Flavor::Es7,
            (false, _) => Flavor::Es8,
        }
    }

    /// Composable `_index_template` (ES 8+, OpenSearch 3) or legacy `_template`.
    pub fn composable_templates(self) -> bool {
        match self {
            Flavor::Es7 => false,
            Flavor::Es8 => true,
            Flavor::OpenSearch(m) => m >= 3,
        }
    }
}

/// A raw JSON client; cheap to clone.
#[derive(Clone)]
pub struct EsClient {
    es: Elasticsearch,
    timeout: Duration,
}

/// A response that arrived (any status).
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
    /// The error a non-2xx reply stands for.
    pub fn error(&self, what: &str) -> StorageError {
        let reason = self
            .body
            .pointer("/error/reason")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| truncate(&self.body.to_string(), 500));
        let msg = format!("{what}: HTTP {}: {reason}", self.status);
        if self.status == 429 {
            StorageError::Overloaded(msg)
        } else if self.status == 400 {
            StorageError::InvalidQuery(msg)
        } else {
            StorageError::Backend(msg)
        }
    }
    /// Ok with the body when 2xx.
    pub fn ok(self, what: &str) -> Result<Value, StorageError> {
        if self.is_success() {
            Ok(self.body)
        } else {
            Err(self.error(what))
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn read_file(path: &std::path::Path, what: &str) -> Result<Vec<u8>, StorageError> {
    std::fs::read(path)
        .map_err(|e| StorageError::Backend(format!("reading {what} {}: {e}", path.display())))
}

impl EsClient {
    pub fn new(args: &EsArgs) -> Result<Self, StorageError> {
        let bad = |e: String| StorageError::Backend(format!("elasticsearch client: {e}"));
        let mut urls = Vec::new();
        for raw in args
            .server_urls
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        {
            let with_scheme = if raw.contains("://") {
                raw.to_string()
            } else if args.tls_enabled {
                format!("https://{raw}")
            } else {
                format!("http://{raw}")
            };
            urls.push(
                Url::parse(&with_scheme)
                    .map_err(|e| bad(format!("--es.server-urls {raw:?}: {e}")))?,
            );
        }
        if urls.is_empty() {
            return Err(bad("--es.server-urls is empty".into()));
        }
        let pool = MultiNodeConnectionPool::round_robin(urls, None);
        let mut builder = TransportBuilder::new(pool)
            .timeout(args.timeout)
            .enable_meta_header(false);

        // Credentials travel as a default header so that they combine with a client
        // certificate (the crate's `Credentials` holds only one of them).
        let mut headers = HeaderMap::new();
        let mut auth = None;
        if !args.username.is_empty() {
            use base64::Engine;
            let pair = format!("{}:{}", args.username, args.password);
            auth = Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            ));
        }
        if let Some(path) = &args.token_file {
            let token = String::from_utf8_lossy(&read_file(path, "--es.token-file")?)
                .trim()
                .to_string();
            auth = Some(format!("Bearer {token}"));
        }
        if let Some(path) = &args.api_key_file {
            let key = String::from_utf8_lossy(&read_file(path, "--es.api-key-file")?)
                .trim()
                .to_string();
            auth = Some(format!("ApiKey {key}"));
        }
        if let Some(value) = auth {
            let mut v =
                HeaderValue::from_str(&value).map_err(|e| bad(format!("credentials: {e}")))?;
            v.set_sensitive(true);
            headers.insert(AUTHORIZATION, v);
            builder = builder.headers(headers);
        }

        if args.tls_skip_host_verify {
            builder = builder.cert_validation(CertificateValidation::None);
        } else if let Some(ca) = &args.tls_ca {
            let cert = Certificate::from_pem(&read_file(ca, "--es.tls.ca")?)
                .map_err(|e| bad(format!("--es.tls.ca: {e}")))?;
            builder = builder.cert_validation(CertificateValidation::Full(cert));
        }
        match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => {
                let mut pem = read_file(cert, "--es.tls.cert")?;
                pem.push(b'\n');
                pem.extend(read_file(key, "--es.tls.key")?);
                builder = builder.auth(Credentials::Certificate(ClientCertificate::Pem(pem)));
            }
            (None, None) => {}
            _ => return Err(bad("--es.tls.cert and --es.tls.key go together".into())),
        }
        let transport = builder.build().map_err(|e| bad(e.to_string()))?;
        Ok(EsClient {
            es: Elasticsearch::new(transport),
            timeout: args.timeout,
        })
    }

    /// Sends one request; `Err` only when no response arrived (connection, timeout).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Vec<u8>>,
        ndjson: bool,
    ) -> Result<Reply, StorageError> {
        let mut headers = HeaderMap::new();
        if ndjson {
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson"),
            );
        }
        let query = (!query.is_empty()).then_some(query);
        let response = self
            .es
            .send(method, path, headers, query, body, Some(self.timeout))
            .await
            .map_err(|e| StorageError::Backend(format!("elasticsearch {path}: {e}")))?;
        let status = response.status_code().as_u16();
        let bytes = response.bytes().await.map_err(|e| {
            StorageError::Backend(format!("elasticsearch {path}: reading response: {e}"))
        })?;
        // Some replies (HEAD, DELETE on older versions) have no body.
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(truncate(&String::from_utf8_lossy(&bytes), 500)))
        };
        Ok(Reply { status, body })
    }

    /// A JSON request whose success is required.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, StorageError> {
        let body = body.map(|b| b.to_string().into_bytes());
        self.request(method, path, query, body, false)
            .await?
            .ok(path)
    }

    /// Detects the cluster flavour with `GET /`.
    pub async fn detect(&self) -> Result<Flavor, StorageError> {
        let root = self.json(Method::Get, "/", &[], None).await?;
        Flavor::from_root(&root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavours_from_root() {
        let os = serde_json::json!({"version": {"number": "3.8.0", "distribution": "opensearch"}});
        assert_eq!(Flavor::from_root(&os).unwrap(), Flavor::OpenSearch(3));
        let es7 = serde_json::json!({"version": {"number": "7.17.1"}});
        assert_eq!(Flavor::from_root(&es7).unwrap(), Flavor::Es7);
        let es9 = serde_json::json!({"version": {"number": "9.0.0"}});
        assert_eq!(Flavor::from_root(&es9).unwrap(), Flavor::Es8);
        assert!(Flavor::from_root(&serde_json::json!({})).is_err());
        assert!(!Flavor::OpenSearch(2).composable_templates());
        assert!(Flavor::OpenSearch(3).composable_templates());
    }

    #[test]
    fn rejects_bad_urls_and_half_client_certs() {
        let a = EsArgs {
            server_urls: vec![" ".into()],
            ..EsArgs::default()
        };
        assert!(EsClient::new(&a).is_err());
        let a = EsArgs {
            tls_cert: Some("/nonexistent".into()),
            ..EsArgs::default()
        };
        assert!(EsClient::new(&a).is_err());
    }
}
