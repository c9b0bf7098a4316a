//! `--reporter.grpc.host-port` syntax: which collectors the agent forwards to.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// One or more `host:port` (comma-separated), used round-robin. A host name among them
    /// is resolved on each (re)connect, to its first address.
    Static(Vec<String>),
    /// `dns:///name:port`: every address `name` resolves to is a collector; the name is
    /// resolved again every refresh interval so collectors can come and go.
    Dns { host: String, port: u16 },
}

#[derive(Debug, thiserror::Error)]
#[error("invalid --reporter.grpc.host-port {input:?}: {reason}")]
pub struct TargetError {
    pub input: String,
    pub reason: String,
}

impl Target {
    pub fn parse(input: &str) -> Result<Target, TargetError> {
        let err = |reason: String| TargetError {
            input: input.to_string(),
            reason,
        };
        let input_trimmed = input.trim();
        if let Some(rest) = input_trimmed.strip_prefix("dns:///") {
            let (host, port) = split_host_port(rest).map_err(err)?;
            return Ok(Target::Dns {
                host: host.to_string(),
                port,
            });
        }
        if input_trimmed.contains("://") {
            return Err(err(
                "expected host:port, a comma-separated list, or dns:///name:port".into(),
            ));
        }
        let mut list = Vec::new();
        for entry in input_trimmed.split(',') {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            split_host_port(entry).map_err(err)?;
            list.push(entry.to_string());
        }
        if list.is_empty() {
            return Err(err("no collector address".into()));
        }
        Ok(Target::Static(list))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Static(list) => write!(f, "{}", list.join(",")),
            Target::Dns { host, port } => write!(f, "dns:///{host}:{port}"),
        }
    }
}

/// `host:port` or `[v6]:port`; the port must be a number.
fn split_host_port(s: &str) -> Result<(&str, u16), String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{s:?} has no :port"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{s:?}: port must be a number up to 65535"))?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err(format!("{s:?} has no host"));
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(
            Target::parse("collector:14250").unwrap(),
            Target::Static(vec!["collector:14250".into()])
        );
        assert_eq!(
            Target::parse("a:1, b:2 ,[::1]:3").unwrap(),
            Target::Static(vec!["a:1".into(), "b:2".into(), "[::1]:3".into()])
        );
        assert_eq!(
            Target::parse("dns:///collectors.svc:14250").unwrap(),
            Target::Dns {
                host: "collectors.svc".into(),
                port: 14250
            }
        );
    }

    #[test]
    fn refuses_nonsense() {
        for bad in [
            "",
            ",",
            "nohost",
            "a:port",
            "http://a:1",
            "dns:///noport",
            ":14250",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad:?}");
        }
    }
}
