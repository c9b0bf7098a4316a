//! Jaeger's `host:port` flag syntax.

use std::net::{SocketAddr, ToSocketAddrs};

#[derive(Debug, thiserror::Error)]
#[error("invalid host:port {input:?}: {reason}")]
pub struct HostPortError {
    pub input: String,
    pub reason: String,
}

/// Parses a listen address as Jaeger writes it: `:14250` (all interfaces), `0.0.0.0:14250`,
/// `127.0.0.1:0`, `[::1]:16686` or `localhost:4317`.
pub fn parse_listen_addr(input: &str) -> Result<SocketAddr, HostPortError> {
    let err = |reason: &str| HostPortError {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    let full = if let Some(port) = input.strip_prefix(':') {
        format!("0.0.0.0:{port}")
    } else {
        input.to_string()
    };
    full.to_socket_addrs()
        .map_err(|e| err(&e.to_string()))?
        .next()
        .ok_or_else(|| err("resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_jaeger_forms() {
        assert_eq!(
            parse_listen_addr(":14250").unwrap(),
            "0.0.0.0:14250".parse().unwrap()
        );
        assert_eq!(
            parse_listen_addr("127.0.0.1:0").unwrap(),
            "127.0.0.1:0".parse().unwrap()
        );
        assert!(parse_listen_addr("nonsense").is_err());
        assert!(parse_listen_addr(":99999").is_err());
    }
}
