//! `--reporter.grpc.tls.*` → the TLS settings of the collector connections (rustls).
//!
//! * CA: `--reporter.grpc.tls.ca` when given, else the host's trust store.
//! * mTLS: `--reporter.grpc.tls.cert` and `.key` together present a client certificate.
//! * Name checked in the collector's certificate: `--reporter.grpc.tls.server-name`, else
//!   for `dns:///name:port` the `name` (the peers are its IP addresses), else the host of
//!   each static `host:port`.
//! * `--reporter.grpc.tls.skip-host-verify` is refused at start-up: tonic's rustls
//!   connector has no switch to skip verification, and silently verifying anyway (or not)
//!   would surprise whoever set it. Use `--reporter.grpc.tls.ca` with the test CA instead.

use tonic::transport::{Certificate, ClientTlsConfig, Identity};

use crate::config::TlsArgs;
use crate::reporter::target::Target;
use crate::AgentError;

pub fn client_config(
    args: &TlsArgs,
    target: &Target,
) -> Result<Option<ClientTlsConfig>, AgentError> {
    let any_set = args.ca.is_some()
        || args.cert.is_some()
        || args.key.is_some()
        || args.server_name.is_some();
    if !args.enabled {
        if any_set || args.skip_host_verify {
            return Err(AgentError::Tls(
                "--reporter.grpc.tls.* options need --reporter.grpc.tls.enabled=true".into(),
            ));
        }
        return Ok(None);
    }
    if args.skip_host_verify {
        return Err(AgentError::Tls(
            "--reporter.grpc.tls.skip-host-verify is not supported; give the collectors' CA with --reporter.grpc.tls.ca".into(),
        ));
    }
    let read = |path: &std::path::Path| {
        std::fs::read(path)
            .map_err(|e| AgentError::Tls(format!("cannot read {}: {e}", path.display())))
    };
    let mut config = ClientTlsConfig::new();
    config = match &args.ca {
        Some(ca) => config.ca_certificate(Certificate::from_pem(read(ca)?)),
        None => config.with_native_roots(),
    };
    match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => {
            config = config.identity(Identity::from_pem(read(cert)?, read(key)?));
        }
        (None, None) => {}
        _ => {
            return Err(AgentError::Tls(
                "--reporter.grpc.tls.cert and --reporter.grpc.tls.key go together".into(),
            ))
        }
    }
    let name = match (&args.server_name, target) {
        (Some(n), _) => Some(n.clone()),
        (None, Target::Dns { host, .. }) => Some(host.clone()),
        (None, Target::Static(_)) => None,
    };
    if let Some(n) = name {
        config = config.domain_name(n);
    }
    Ok(Some(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target::Static(vec!["c:1".into()])
    }

    #[test]
    fn off_by_default_and_options_need_enabled() {
        assert!(client_config(&TlsArgs::default(), &target())
            .unwrap()
            .is_none());
        let orphan = TlsArgs {
            server_name: Some("x".into()),
            ..TlsArgs::default()
        };
        assert!(client_config(&orphan, &target()).is_err());
    }

    #[test]
    fn refuses_half_identity_missing_files_and_skip_verify() {
        let half = TlsArgs {
            enabled: true,
            cert: Some("/nonexistent".into()),
            ..TlsArgs::default()
        };
        assert!(client_config(&half, &target()).is_err());
        let missing_ca = TlsArgs {
            enabled: true,
            ca: Some("/nonexistent/ca.pem".into()),
            ..TlsArgs::default()
        };
        assert!(client_config(&missing_ca, &target()).is_err());
        let skip = TlsArgs {
            enabled: true,
            skip_host_verify: true,
            ..TlsArgs::default()
        };
        assert!(client_config(&skip, &target()).is_err());
        let system_roots = TlsArgs {
            enabled: true,
            ..TlsArgs::default()
        };
        assert!(client_config(&system_roots, &target()).unwrap().is_some());
    }
}
