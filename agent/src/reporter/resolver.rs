//! Name resolution for `dns:///` collector targets, behind a trait so the agent can be
//! embedded with a different name service. The production implementation is the system
//! resolver (`getaddrinfo` through tokio: /etc/hosts, then DNS, as configured on the host),
//! which is what a Kubernetes headless Service answers through.

use std::io;
use std::net::SocketAddr;

use futures::future::BoxFuture;

pub trait Resolver: Send + Sync + 'static {
    /// Every address `host` resolves to, with `port`.
    fn resolve(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>>;
}

/// The host's resolver.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>> {
        let host = host.to_string();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), port)).await?;
            let mut out: Vec<SocketAddr> = addrs.collect();
            out.sort();
            out.dedup();
            Ok(out)
        })
    }
}
