//! TLS, and client-certificate authentication (mTLS), for the collector's servers, under
//! Jaeger v1's flag names: `--collector.grpc.tls.*` (api_v2 gRPC), `--collector.http.tls.*`
//! (thrift HTTP), `--collector.otlp.grpc.tls.*`, `--collector.otlp.http.tls.*` and
//! `--collector.zipkin.tls.*`. Each server has the same flags, declared once by
//! [`server_tls_args!`]:
//!
//! | flag | meaning |
//! | --- | --- |
//! | `.enabled` | serve TLS (the other flags are refused without it, as in Jaeger) |
//! | `.cert`, `.key` | the server's certificate chain and private key (PEM), both required |
//! | `.client-ca` | CA bundle (PEM); when set, clients must present a certificate it signed |
//! | `.min-version`, `.max-version` | `1.2` or `1.3` (default: both allowed) |
//!
//! Every server, gRPC or HTTP, gets a rustls [`ServerConfig`] from [`TlsOptions::server_config`]
//! and accepts connections through a [`TlsListener`]: handshakes run concurrently and off the
//! accept loop, and one that fails or stalls is counted in
//! `sextant_collector_tls_handshake_errors_total{server}` and logged at debug — it never
//! stops the server. tonic's own `tls_config` is not used because it can neither restrict
//! protocol versions nor report failed handshakes.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use clap::ValueEnum;
use prometheus::{IntCounter, IntCounterVec};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig, SupportedProtocolVersion};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// A client that has not finished its handshake by then is dropped (and counted), so idle
/// connections cannot pile up.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress per server beyond which the server stops accepting for a moment:
/// connections wait in the kernel's backlog instead of in memory.
const MAX_PENDING_HANDSHAKES: usize = 1024;

/// ALPN for gRPC servers: gRPC clients (grpc-go in particular) insist on `h2`.
pub const ALPN_GRPC: &[&[u8]] = &[b"h2"];
/// ALPN for HTTP servers, which speak both HTTP/2 and HTTP/1.1.
pub const ALPN_HTTP: &[&[u8]] = &[b"h2", b"http/1.1"];

static HANDSHAKE_ERRORS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    sextant_common::metrics::counter_vec(
        "sextant_collector_tls_handshake_errors_total",
        "TLS handshakes that failed or timed out, by server",
        &["server"],
    )
});

/// The handshake-failure counter of one server (`server` as given to [`TlsListener::new`]).
pub fn handshake_errors(server: &str) -> IntCounter {
    HANDSHAKE_ERRORS.with_label_values(&[&metric_label(server)])
}

/// `jaeger grpc` → `jaeger_grpc`: label values without spaces are easier to query.
fn metric_label(server: &str) -> String {
    server.replace(' ', "_")
}

/// `--<prefix>.min-version` / `.max-version` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum TlsVersion {
    #[value(name = "1.2")]
    V1_2,
    #[value(name = "1.3")]
    V1_3,
}

impl TlsVersion {
    fn rustls(self) -> &'static SupportedProtocolVersion {
        match self {
            TlsVersion::V1_2 => &rustls::version::TLS12,
            TlsVersion::V1_3 => &rustls::version::TLS13,
        }
    }
}

/// Why a server's TLS settings cannot be used; reported at start-up.
#[derive(Debug, thiserror::Error)]
#[error("TLS settings: {reason}")]
pub struct TlsError {
    prefix: &'static str,
    reason: String,
}

impl TlsError {
    /// The flag prefix of the server whose settings are wrong (`collector.grpc.tls`, ...).
    pub fn prefix(&self) -> &'static str {
        self.prefix
    }
}

/// The TLS settings of one server, whatever its flag prefix.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TlsOptions {
    pub enabled: bool,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub client_ca: Option<PathBuf>,
    pub min_version: Option<TlsVersion>,
    pub max_version: Option<TlsVersion>,
}

impl TlsOptions {
    /// TLS with the given certificate and key, no client certificates, any version
    /// (embedding and tests; set `client_ca` etc. with struct update syntax).
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        TlsOptions {
            enabled: true,
            cert: Some(cert.into()),
            key: Some(key.into()),
            ..TlsOptions::default()
        }
    }

    /// The rustls configuration for a server announcing `alpn`, `None` when TLS is off, or
    /// why the settings cannot work (files missing or unreadable, no certificate or key in
    /// them, a key that does not match the certificate, contradictory versions...).
    /// `prefix` is the flag prefix, for error messages.
    pub fn server_config(
        &self,
        prefix: &'static str,
        alpn: &[&[u8]],
    ) -> Result<Option<Arc<ServerConfig>>, TlsError> {
        let err = |reason: String| TlsError { prefix, reason };
        if !self.enabled {
            let any_set = self.cert.is_some()
                || self.key.is_some()
                || self.client_ca.is_some()
                || self.min_version.is_some()
                || self.max_version.is_some();
            if any_set {
                return Err(err(format!(
                    "--{prefix}.* options need --{prefix}.enabled=true"
                )));
            }
            return Ok(None);
        }
        let (cert_path, key_path) = match (&self.cert, &self.key) {
            (Some(c), Some(k)) => (c, k),
            _ => {
                return Err(err(format!(
                    "--{prefix}.enabled needs both --{prefix}.cert and --{prefix}.key"
                )))
            }
        };
        let versions = protocol_versions(self.min_version, self.max_version).ok_or_else(|| {
            err(format!(
                "--{prefix}.min-version is above --{prefix}.max-version"
            ))
        })?;

        let chain =
            read_certs(&read_file(cert_path).map_err(|e| err(format!("--{prefix}.cert: {e}")))?)
                .map_err(|e| err(format!("--{prefix}.cert {}: {e}", cert_path.display())))?;
        let key = read_key(&read_file(key_path).map_err(|e| err(format!("--{prefix}.key: {e}")))?)
            .map_err(|e| err(format!("--{prefix}.key {}: {e}", key_path.display())))?;

        // One explicit provider: the process may link several rustls backends, and relying on
        // a process-wide default would make start-up depend on what else is linked.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| err(format!("--{prefix}.min-version / max-version: {e}")))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca_path) => {
                let pem =
                    read_file(ca_path).map_err(|e| err(format!("--{prefix}.client-ca: {e}")))?;
                let mut roots = RootCertStore::empty();
                for ca in read_certs(&pem)
                    .map_err(|e| err(format!("--{prefix}.client-ca {}: {e}", ca_path.display())))?
                {
                    roots.add(ca).map_err(|e| {
                        err(format!("--{prefix}.client-ca {}: {e}", ca_path.display()))
                    })?;
                }
                // Required and verified, as Jaeger does when a client CA is configured.
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| {
                            err(format!("--{prefix}.client-ca {}: {e}", ca_path.display()))
                        })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_single_cert(chain, key).map_err(|e| {
            err(format!(
                "--{prefix}.cert {} with --{prefix}.key {}: {e}",
                cert_path.display(),
                key_path.display()
            ))
        })?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Some(Arc::new(config)))
    }
}

/// The versions from `min` to `max` inclusive (unset ends are open); `None` if empty.
fn protocol_versions(
    min: Option<TlsVersion>,
    max: Option<TlsVersion>,
) -> Option<Vec<&'static SupportedProtocolVersion>> {
    let versions: Vec<_> = [TlsVersion::V1_2, TlsVersion::V1_3]
        .into_iter()
        .filter(|v| min.is_none_or(|m| *v >= m) && max.is_none_or(|m| *v <= m))
        .map(TlsVersion::rustls)
        .collect();
    (!versions.is_empty()).then_some(versions)
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn read_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("invalid PEM: {e}"))?;
    if certs.is_empty() {
        return Err("no PEM certificate (-----BEGIN CERTIFICATE-----) found".into());
    }
    Ok(certs)
}

fn read_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        pem::Error::NoItemsFound => "no PEM private key (PKCS#8, PKCS#1 or SEC1) found".to_string(),
        e => format!("invalid PEM: {e}"),
    })
}

/// Declares a clap argument group with the TLS flags of one server under `prefix`, so that
/// every server's flags are the same.
macro_rules! server_tls_args {
    ($(#[doc = $doc:literal])* $name:ident, $prefix:literal, $env:literal) => {
        $(#[doc = $doc])*
        #[derive(Clone, Debug, Default, PartialEq, clap::Args)]
        pub struct $name {
            /// Serve TLS on this server.
            #[arg(id = concat!($prefix, ".enabled"), long = concat!($prefix, ".enabled"),
                  env = concat!($env, "_ENABLED"), default_value_t = false,
                  action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
            pub enabled: bool,
            /// The server's certificate chain (PEM).
            #[arg(id = concat!($prefix, ".cert"), long = concat!($prefix, ".cert"),
                  env = concat!($env, "_CERT"))]
            pub cert: Option<std::path::PathBuf>,
            /// The server's private key (PEM).
            #[arg(id = concat!($prefix, ".key"), long = concat!($prefix, ".key"),
                  env = concat!($env, "_KEY"))]
            pub key: Option<std::path::PathBuf>,
            /// CA bundle (PEM) verifying client certificates; when set, every client must
            /// present a certificate it signed (mutual TLS).
            #[arg(id = concat!($prefix, ".client-ca"), long = concat!($prefix, ".client-ca"),
                  env = concat!($env, "_CLIENT_CA"))]
            pub client_ca: Option<std::path::PathBuf>,
            /// Lowest TLS version accepted (1.2 or 1.3).
            #[arg(id = concat!($prefix, ".min-version"), long = concat!($prefix, ".min-version"),
                  env = concat!($env, "_MIN_VERSION"), value_enum)]
            pub min_version: Option<$crate::tls::TlsVersion>,
            /// Highest TLS version accepted (1.2 or 1.3).
            #[arg(id = concat!($prefix, ".max-version"), long = concat!($prefix, ".max-version"),
                  env = concat!($env, "_MAX_VERSION"), value_enum)]
            pub max_version: Option<$crate::tls::TlsVersion>,
        }

        impl $name {
            /// The flag prefix, for error messages.
            pub const PREFIX: &'static str = $prefix;

            pub fn options(&self) -> $crate::tls::TlsOptions {
                $crate::tls::TlsOptions {
                    enabled: self.enabled,
                    cert: self.cert.clone(),
                    key: self.key.clone(),
                    client_ca: self.client_ca.clone(),
                    min_version: self.min_version,
                    max_version: self.max_version,
                }
            }

            /// Flags equivalent to `options` (embedding and tests).
            pub fn from_options(options: $crate::tls::TlsOptions) -> Self {
                $name {
                    enabled: options.enabled,
                    cert: options.cert,
                    key: options.key,
                    client_ca: options.client_ca,
                    min_version: options.min_version,
                    max_version: options.max_version,
                }
            }

            /// The server's rustls configuration, `None` when TLS is off.
            pub fn server_config(
                &self,
                alpn: &[&[u8]],
            ) -> Result<Option<std::sync::Arc<tokio_rustls::rustls::ServerConfig>>, $crate::tls::TlsError> {
                self.options().server_config($prefix, alpn)
            }
        }
    };
}

server_tls_args!(
    /// `--collector.grpc.tls.*`: the Jaeger api_v2 gRPC server (14250).
    GrpcTlsArgs, "collector.grpc.tls", "COLLECTOR_GRPC_TLS"
);
server_tls_args!(
    /// `--collector.http.tls.*`: the Jaeger thrift HTTP server (14268).
    HttpTlsArgs, "collector.http.tls", "COLLECTOR_HTTP_TLS"
);
server_tls_args!(
    /// `--collector.otlp.grpc.tls.*`: the OTLP gRPC server (4317).
    OtlpGrpcTlsArgs, "collector.otlp.grpc.tls", "COLLECTOR_OTLP_GRPC_TLS"
);
server_tls_args!(
    /// `--collector.otlp.http.tls.*`: the OTLP HTTP server (4318).
    OtlpHttpTlsArgs, "collector.otlp.http.tls", "COLLECTOR_OTLP_HTTP_TLS"
);
server_tls_args!(
    /// `--collector.zipkin.tls.*`: the Zipkin HTTP server (9411).
    ZipkinTlsArgs, "collector.zipkin.tls", "COLLECTOR_ZIPKIN_TLS"
);

/// A TCP listener handing out connections whose TLS handshake succeeded. Handshakes run as
/// their own tasks, so one slow client delays nobody; failures are counted and logged, and
/// the listener carries on. Dropping it closes the socket and abandons pending handshakes.
pub struct TlsListener {
    server: &'static str,
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    errors: IntCounter,
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

impl TlsListener {
    pub fn new(server: &'static str, tcp: TcpListener, config: Arc<ServerConfig>) -> Self {
        TlsListener {
            server,
            tcp,
            acceptor: TlsAcceptor::from(config),
            errors: handshake_errors(server),
            handshakes: JoinSet::new(),
        }
    }

    /// The next connection that completed its handshake.
    pub async fn accept_tls(&mut self) -> (TlsStream<TcpStream>, SocketAddr) {
        loop {
            let room = self.handshakes.len() < MAX_PENDING_HANDSHAKES;
            tokio::select! {
                Some(done) = self.handshakes.join_next(), if !self.handshakes.is_empty() => {
                    match done {
                        Ok(Some(conn)) => return conn,
                        Ok(None) => {}
                        // Only a panic in rustls could get here; the listener must survive it.
                        Err(e) => tracing::warn!(server = self.server, error = %e, "TLS handshake task failed"),
                    }
                }
                accepted = self.tcp.accept(), if room => match accepted {
                    Ok((tcp, peer)) => {
                        let accept = self.acceptor.accept(tcp);
                        let (server, errors) = (self.server, self.errors.clone());
                        self.handshakes.spawn(async move {
                            match tokio::time::timeout(HANDSHAKE_TIMEOUT, accept).await {
                                Ok(Ok(tls)) => Some((tls, peer)),
                                Ok(Err(e)) => {
                                    errors.inc();
                                    tracing::debug!(server, %peer, error = %e, "TLS handshake failed");
                                    None
                                }
                                Err(_) => {
                                    errors.inc();
                                    tracing::debug!(server, %peer, "TLS handshake timed out");
                                    None
                                }
                            }
                        });
                    }
                    Err(e) => accept_error(self.server, e).await,
                },
            }
        }
    }

    /// The accepted connections as a stream, as tonic's `serve_with_incoming` takes them.
    pub fn into_stream(
        self,
    ) -> impl futures::Stream<Item = io::Result<TlsStream<TcpStream>>> + Send + 'static {
        futures::stream::unfold(self, |mut listener| async move {
            let (conn, _) = listener.accept_tls().await;
            Some((Ok(conn), listener))
        })
    }
}

/// Errors of `accept` itself: a connection reset before it was accepted is nothing; anything
/// else (out of file descriptors, typically) is worth a log line and a pause, as axum does.
async fn accept_error(server: &'static str, e: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(server, error = %e, "accept failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        self.accept_tls().await
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        grpc: GrpcTlsArgs,
        #[command(flatten)]
        zipkin: ZipkinTlsArgs,
    }

    #[test]
    fn flags_parse_under_each_prefix() {
        let cli = Cli::try_parse_from([
            "x",
            "--collector.grpc.tls.enabled",
            "--collector.grpc.tls.cert=/c.pem",
            "--collector.grpc.tls.key=/k.pem",
            "--collector.grpc.tls.client-ca=/ca.pem",
            "--collector.grpc.tls.min-version=1.3",
            "--collector.zipkin.tls.enabled=false",
        ])
        .unwrap();
        assert!(cli.grpc.enabled);
        assert_eq!(cli.grpc.client_ca, Some(PathBuf::from("/ca.pem")));
        assert_eq!(cli.grpc.min_version, Some(TlsVersion::V1_3));
        assert_eq!(cli.zipkin, ZipkinTlsArgs::default());
        assert!(Cli::try_parse_from(["x", "--collector.grpc.tls.max-version=1.1"]).is_err());
    }

    #[test]
    fn off_unless_enabled_and_options_need_enabled() {
        assert!(TlsOptions::default()
            .server_config("p", ALPN_HTTP)
            .unwrap()
            .is_none());
        let orphan = TlsOptions {
            client_ca: Some("/ca.pem".into()),
            ..TlsOptions::default()
        };
        let e = orphan.server_config("p", ALPN_HTTP).unwrap_err();
        assert!(e.to_string().contains("--p.enabled=true"), "{e}");
    }

    #[test]
    fn clear_errors_for_missing_or_bad_files() {
        let half = TlsOptions {
            enabled: true,
            cert: Some("/c.pem".into()),
            ..TlsOptions::default()
        };
        let e = half.server_config("p", ALPN_HTTP).unwrap_err();
        assert!(e.to_string().contains("--p.key"), "{e}");

        let missing = TlsOptions::new("/nonexistent/c.pem", "/nonexistent/k.pem");
        let e = missing.server_config("p", ALPN_HTTP).unwrap_err();
        assert!(
            e.to_string().contains("cannot read /nonexistent/c.pem"),
            "{e}"
        );

        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let e = TlsOptions::new(&junk, &junk)
            .server_config("p", ALPN_HTTP)
            .unwrap_err();
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
    }

    #[test]
    fn version_range() {
        use TlsVersion::*;
        assert_eq!(protocol_versions(None, None).unwrap().len(), 2);
        assert_eq!(
            protocol_versions(Some(V1_3), None).unwrap(),
            vec![&rustls::version::TLS13]
        );
        assert_eq!(
            protocol_versions(None, Some(V1_2)).unwrap(),
            vec![&rustls::version::TLS12]
        );
        assert!(protocol_versions(Some(V1_3), Some(V1_2)).is_none());
    }
}
