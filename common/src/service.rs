//! The lifecycle every Sextant binary shares, so `main.rs` files stay a few lines long:
//! logging, the admin server, signal handling, readiness, and a bounded drain at exit.
//!
//! ```text
//! let svc = ServiceRuntime::start(&cli.log, &cli.admin, ADMIN_PORT).await?;
//! let running = component::run(&cli.args, storage, svc.shutdown.clone()).await?;
//! svc.ready_until_shutdown().await;      // health is green until SIGTERM/SIGINT
//! running.join(DRAIN_TIMEOUT).await;     // component finishes in-flight work
//! svc.finish().await;                    // admin server stops
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::admin::{self, AdminArgs, Health};
use crate::logging::{self, LogArgs};
use crate::net::HostPortError;
use crate::shutdown::Shutdown;

/// How long in-flight requests may take once shutdown starts, in every binary.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    AdminAddress(#[from] HostPortError),
    #[error("cannot start the admin server on {addr}: {source}")]
    Admin {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

pub struct ServiceRuntime {
    pub shutdown: Shutdown,
    pub health: Health,
    pub admin_addr: SocketAddr,
    admin_task: JoinHandle<()>,
}

impl ServiceRuntime {
    /// Initialises logging, installs the SIGTERM/SIGINT handler and starts the admin server
    /// (health reports "not available" until [`ServiceRuntime::ready_until_shutdown`]).
    pub async fn start(
        log: &LogArgs,
        admin_args: &AdminArgs,
        default_admin_port: u16,
    ) -> Result<Self, StartError> {
        logging::init(log);
        let shutdown = Shutdown::new();
        shutdown.trigger_on_signals();
        let health = Health::default();
        let addr = admin_args.addr(default_admin_port)?;
        let (admin_addr, admin_task) = admin::serve(addr, health.clone(), shutdown.clone())
            .await
            .map_err(|source| StartError::Admin { addr, source })?;
        Ok(ServiceRuntime {
            shutdown,
            health,
            admin_addr,
            admin_task,
        })
    }

    /// Reports ready, waits for a shutdown signal, then reports unavailable so load
    /// balancers stop sending while the component drains.
    pub async fn ready_until_shutdown(&self) {
        self.health.set_ready(true);
        tracing::info!("ready");
        self.shutdown.wait().await;
        self.health.set_ready(false);
        tracing::info!("shutting down");
    }

    /// Stops the admin server (bounded wait).
    pub async fn finish(self) {
        self.shutdown.trigger();
        let _ = tokio::time::timeout(Duration::from_secs(2), self.admin_task).await;
    }
}
