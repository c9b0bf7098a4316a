//! Graceful shutdown: one [`Shutdown`] handle per process, triggered by SIGTERM/SIGINT or by
//! code (tests, the all-in-one), observed by every server and worker.

use tokio::sync::watch;

/// Cloneable; `trigger` once, every clone's `wait` then returns.
#[derive(Clone)]
pub struct Shutdown {
    tx: watch::Sender<bool>,
    rx: watch::Receiver<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        let (tx, rx) = watch::channel(false);
        Shutdown { tx, rx }
    }

    pub fn trigger(&self) {
        let _ = self.tx.send(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once shutdown has been triggered.
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        // `wait_for` returns immediately if the value is already true; an error means every
        // sender is gone, which can only happen once shutdown is irrelevant.
        let _ = rx.wait_for(|v| *v).await;
    }

    /// Triggers this handle on SIGTERM or SIGINT (Ctrl-C).
    pub fn trigger_on_signals(&self) {
        let this = self.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown signal received");
            this.trigger();
        });
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wait_returns_after_trigger() {
        let s = Shutdown::new();
        let c = s.clone();
        let h = tokio::spawn(async move { c.wait().await });
        s.trigger();
        h.await.unwrap();
        assert!(s.is_triggered());
        s.wait().await; // already triggered: returns at once
    }
}
