//! Connection settings every Kafka client of Sextant shares (the collector's producer, the
//! ingester's consumer): brokers, TLS and SASL, under Jaeger's flag names with the
//! `kafka.producer.` or `kafka.consumer.` prefix.
//!
//! Jaeger's `--<prefix>.authentication` values map onto librdkafka's `security.protocol`:
//!
//! | authentication | `tls.enabled` | security.protocol |
//! | --- | --- | --- |
//! | `none` | false / true | `plaintext` / `ssl` |
//! | `tls` | — | `ssl` |
//! | `plaintext` (SASL PLAIN or SCRAM) | false / true | `sasl_plaintext` / `sasl_ssl` |
//!
//! Kerberos (GSSAPI) needs Cyrus SASL linked into librdkafka, which this build does not do:
//! asking for it is a start-up error rather than a silently unauthenticated connection.

use std::path::PathBuf;

use clap::ValueEnum;

/// `--<prefix>.authentication`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Authentication {
    #[default]
    None,
    Tls,
    Plaintext,
    Kerberos,
}

/// `--<prefix>.plaintext.mechanism`: the SASL mechanism for `plaintext` authentication.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum SaslMechanism {
    #[default]
    #[value(name = "PLAIN")]
    Plain,
    #[value(name = "SCRAM-SHA-256")]
    ScramSha256,
    #[value(name = "SCRAM-SHA-512")]
    ScramSha512,
}

impl SaslMechanism {
    fn as_librdkafka(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// The connection settings of one client, whatever its flag prefix.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Connection {
    pub brokers: String,
    pub authentication: Authentication,
    pub username: String,
    pub password: String,
    pub mechanism: SaslMechanism,
    pub tls_enabled: bool,
    pub tls_ca: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_skip_host_verify: bool,
    /// The broker version to assume instead of asking the broker (e.g. `2.8.0`); empty asks.
    pub protocol_version: String,
}

impl Connection {
    /// The librdkafka properties for brokers, security protocol, SASL and TLS, or why the
    /// settings cannot work.
    pub fn properties(&self, flag_prefix: &str) -> Result<Vec<(&'static str, String)>, String> {
        let brokers = self.brokers.trim();
        if brokers.is_empty() {
            return Err(format!("--{flag_prefix}.brokers is empty"));
        }
        let mut props = vec![("bootstrap.servers", brokers.to_string())];
        let tls = self.tls_enabled || self.authentication == Authentication::Tls;
        let protocol = match (self.authentication, tls) {
            (Authentication::Kerberos, _) => {
                return Err(format!(
                    "--{flag_prefix}.authentication=kerberos is not supported by this build \
                     (librdkafka without Cyrus SASL); use plaintext (SASL PLAIN/SCRAM) or tls"
                ))
            }
            (Authentication::Plaintext, false) => "sasl_plaintext",
            (Authentication::Plaintext, true) => "sasl_ssl",
            (_, true) => "ssl",
            (_, false) => "plaintext",
        };
        props.push(("security.protocol", protocol.to_string()));
        if self.authentication == Authentication::Plaintext {
            if self.username.is_empty() {
                return Err(format!(
                    "--{flag_prefix}.authentication=plaintext needs --{flag_prefix}.plaintext.username"
                ));
            }
            props.push(("sasl.mechanisms", self.mechanism.as_librdkafka().into()));
            props.push(("sasl.username", self.username.clone()));
            props.push(("sasl.password", self.password.clone()));
        }
        if tls {
            let files = [
                ("ssl.ca.location", &self.tls_ca, "ca"),
                ("ssl.certificate.location", &self.tls_cert, "cert"),
                ("ssl.key.location", &self.tls_key, "key"),
            ];
            for (property, path, flag) in files {
                if let Some(path) = path {
                    if !path.is_file() {
                        return Err(format!(
                            "--{flag_prefix}.tls.{flag}: {} is not a readable file",
                            path.display()
                        ));
                    }
                    props.push((property, path.display().to_string()));
                }
            }
            if self.tls_cert.is_some() != self.tls_key.is_some() {
                return Err(format!(
                    "--{flag_prefix}.tls.cert and --{flag_prefix}.tls.key go together"
                ));
            }
            if self.tls_skip_host_verify {
                props.push(("enable.ssl.certificate.verification", "false".into()));
                props.push(("ssl.endpoint.identification.algorithm", "none".into()));
            }
        }
        if !self.protocol_version.is_empty() {
            props.push(("api.version.request", "false".into()));
            props.push(("broker.version.fallback", self.protocol_version.clone()));
        }
        Ok(props)
    }
}

/// Declares a clap argument group with the connection flags under one prefix, so the
/// producer's and the consumer's flags cannot drift apart.
macro_rules! connection_args {
    ($(#[doc = $doc:literal])* $name:ident, $prefix:literal, $env:literal) => {
        $(#[doc = $doc])*
        #[derive(Clone, Debug, clap::Args)]
        pub struct $name {
            /// Kafka brokers, comma-separated `host:port` list.
            #[arg(id = concat!($prefix, ".brokers"), long = concat!($prefix, ".brokers"),
                  env = concat!($env, "_BROKERS"), default_value = "127.0.0.1:9092")]
            pub brokers: String,
            /// How to authenticate to the brokers: none, tls, plaintext (SASL PLAIN/SCRAM),
            /// kerberos (not supported by this build).
            #[arg(id = concat!($prefix, ".authentication"), long = concat!($prefix, ".authentication"),
                  env = concat!($env, "_AUTHENTICATION"), value_enum, default_value = "none")]
            pub authentication: Authentication,
            /// SASL user name for `plaintext` authentication.
            #[arg(id = concat!($prefix, ".plaintext.username"), long = concat!($prefix, ".plaintext.username"),
                  env = concat!($env, "_PLAINTEXT_USERNAME"), default_value = "")]
            pub username: String,
            /// SASL password for `plaintext` authentication.
            #[arg(id = concat!($prefix, ".plaintext.password"), long = concat!($prefix, ".plaintext.password"),
                  env = concat!($env, "_PLAINTEXT_PASSWORD"), default_value = "", hide_env_values = true)]
            pub password: String,
            /// SASL mechanism for `plaintext` authentication.
            #[arg(id = concat!($prefix, ".plaintext.mechanism"), long = concat!($prefix, ".plaintext.mechanism"),
                  env = concat!($env, "_PLAINTEXT_MECHANISM"), value_enum, default_value = "PLAIN")]
            pub mechanism: SaslMechanism,
            /// Use TLS to the brokers (implied by `authentication=tls`).
            #[arg(id = concat!($prefix, ".tls.enabled"), long = concat!($prefix, ".tls.enabled"),
                  env = concat!($env, "_TLS_ENABLED"), default_value_t = false, action = clap::ArgAction::Set,
                  num_args = 0..=1, default_missing_value = "true")]
            pub tls_enabled: bool,
            /// CA bundle that verifies the brokers' certificates (PEM).
            #[arg(id = concat!($prefix, ".tls.ca"), long = concat!($prefix, ".tls.ca"),
                  env = concat!($env, "_TLS_CA"))]
            pub tls_ca: Option<PathBuf>,
            /// Client certificate for mutual TLS (PEM).
            #[arg(id = concat!($prefix, ".tls.cert"), long = concat!($prefix, ".tls.cert"),
                  env = concat!($env, "_TLS_CERT"))]
            pub tls_cert: Option<PathBuf>,
            /// Client private key for mutual TLS (PEM).
            #[arg(id = concat!($prefix, ".tls.key"), long = concat!($prefix, ".tls.key"),
                  env = concat!($env, "_TLS_KEY"))]
            pub tls_key: Option<PathBuf>,
            /// Skip verifying the brokers' certificates and host names (testing only).
            #[arg(id = concat!($prefix, ".tls.skip-host-verify"), long = concat!($prefix, ".tls.skip-host-verify"),
                  env = concat!($env, "_TLS_SKIP_HOST_VERIFY"), default_value_t = false,
                  action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
            pub tls_skip_host_verify: bool,
            /// The broker protocol version to assume when the broker cannot tell (e.g.
            /// `2.8.0`); empty asks the broker.
            #[arg(id = concat!($prefix, ".protocol-version"), long = concat!($prefix, ".protocol-version"),
                  env = concat!($env, "_PROTOCOL_VERSION"), default_value = "")]
            pub protocol_version: String,
        }

        impl $name {
            /// The flag prefix, for error messages.
            pub const PREFIX: &'static str = $prefix;

            pub fn connection(&self) -> Connection {
                Connection {
                    brokers: self.brokers.clone(),
                    authentication: self.authentication,
                    username: self.username.clone(),
                    password: self.password.clone(),
                    mechanism: self.mechanism,
                    tls_enabled: self.tls_enabled,
                    tls_ca: self.tls_ca.clone(),
                    tls_cert: self.tls_cert.clone(),
                    tls_key: self.tls_key.clone(),
                    tls_skip_host_verify: self.tls_skip_host_verify,
                    protocol_version: self.protocol_version.clone(),
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    brokers: "127.0.0.1:9092".into(),
                    authentication: Authentication::None,
                    username: String::new(),
                    password: String::new(),
                    mechanism: SaslMechanism::Plain,
                    tls_enabled: false,
                    tls_ca: None,
                    tls_cert: None,
                    tls_key: None,
                    tls_skip_host_verify: false,
                    protocol_version: String::new(),
                }
            }
        }
    };
}

connection_args!(
    /// The collector's connection to Kafka (`--kafka.producer.*`).
    ProducerConnectionArgs, "kafka.producer", "KAFKA_PRODUCER"
);
connection_args!(
    /// The ingester's connection to Kafka (`--kafka.consumer.*`).
    ConsumerConnectionArgs, "kafka.consumer", "KAFKA_CONSUMER"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn props(c: &Connection) -> std::collections::HashMap<&'static str, String> {
        c.properties("kafka.producer")
            .unwrap()
            .into_iter()
            .collect()
    }

    #[test]
    fn maps_jaeger_authentication_to_security_protocol() {
        let mut c = Connection {
            brokers: "a:9092,b:9092".into(),
            ..Default::default()
        };
        assert_eq!(props(&c)["security.protocol"], "plaintext");
        assert_eq!(props(&c)["bootstrap.servers"], "a:9092,b:9092");
        c.authentication = Authentication::Plaintext;
        c.username = "u".into();
        c.password = "p".into();
        c.mechanism = SaslMechanism::ScramSha512;
        let p = props(&c);
        assert_eq!(p["security.protocol"], "sasl_plaintext");
        assert_eq!(p["sasl.mechanisms"], "SCRAM-SHA-512");
        assert_eq!(p["sasl.username"], "u");
        c.tls_enabled = true;
        c.tls_skip_host_verify = true;
        let p = props(&c);
        assert_eq!(p["security.protocol"], "sasl_ssl");
        assert_eq!(p["enable.ssl.certificate.verification"], "false");
        c.authentication = Authentication::Tls;
        assert_eq!(props(&c)["security.protocol"], "ssl");
    }

    #[test]
    fn refuses_settings_that_cannot_work() {
        let base = Connection {
            brokers: "a:9092".into(),
            ..Default::default()
        };
        let kerberos = Connection {
            authentication: Authentication::Kerberos,
            ..base.clone()
        };
        assert!(kerberos.properties("p").unwrap_err().contains("kerberos"));
        let no_user = Connection {
            authentication: Authentication::Plaintext,
            ..base.clone()
        };
        assert!(no_user.properties("p").unwrap_err().contains("username"));
        let missing_ca = Connection {
            authentication: Authentication::Tls,
            tls_ca: Some("/nonexistent/ca.pem".into()),
            ..base.clone()
        };
        assert!(missing_ca.properties("p").unwrap_err().contains("tls.ca"));
        let empty = Connection::default();
        assert!(empty.properties("p").unwrap_err().contains("brokers"));
    }
}
