//! Shared by the Elasticsearch tests: starting `osmem-server` (an in-memory
//! OpenSearch-compatible server from PyPI) on a free loopback port.

#![allow(dead_code)]

pub mod scripted;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use sextant_storage::elasticsearch::{EsArgs, Refresh};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running server; it exits when this is dropped (its stdin closes, and it is killed).
pub struct Osmem {
    pub url: String,
    _child: Child,
}

/// `OSMEM_SERVER`, else `osmem-server` on PATH, else the setup script's venv.
pub fn osmem_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OSMEM_SERVER").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("osmem-server"))
            .find(|p| p.is_file())
    });
    if on_path.is_some() {
        return on_path;
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/.venv-osmem/lib");
    std::fs::read_dir(venv).ok()?.flatten().find_map(|d| {
        let p = d.path().join("site-packages/osmem_server/bin/osmem-server");
        p.is_file().then_some(p)
    })
}

impl Osmem {
    /// Starts the server, or `None` (printing why) when it is not installed.
    pub async fn start() -> Option<Osmem> {
        let Some(bin) = osmem_binary() else {
            println!(
                "SKIPPED: osmem-server not found (set OSMEM_SERVER or run scripts/setup/40-osmem.sh)"
            );
            return None;
        };
        let mut child = Command::new(&bin)
            .args(["--addr", "127.0.0.1:0", "--no-ja"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        // The server prints one JSON line with its URL once it listens.
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                    if let Some(url) = v.get("url").and_then(|u| u.as_str()) {
                        return url.to_string();
                    }
                }
            }
            panic!("osmem-server exited before printing its URL");
        })
        .await
        .expect("osmem-server did not start within 30 s");
        Some(Osmem { url, _child: child })
    }
}

/// Flags for a test store at `url`: tiny shards, immediate visibility, fast flushes.
pub fn args(url: &str) -> EsArgs {
    EsArgs {
        server_urls: vec![url.to_string()],
        num_shards: 1,
        num_replicas: 0,
        bulk_flush_interval: Duration::from_millis(5),
        bulk_refresh: Refresh::WaitFor,
        bulk_backoff: Duration::from_millis(10),
        ..EsArgs::default()
    }
}
