//! `sextant-remote-storage`: serves one span storage backend over Jaeger's gRPC Remote
//! Storage API (`jaeger.storage.v1`, port 17271), like `jaeger-remote-storage`, so that
//! separate collector and query processes (`SPAN_STORAGE_TYPE=grpc`) share a single-node
//! store. Admin server (health, metrics) on :17270. Exits cleanly on SIGTERM/SIGINT.

use anyhow::Context;
use clap::Parser;
use sextant_common::admin::AdminArgs;
use sextant_common::logging::LogArgs;
use sextant_common::net::parse_listen_addr;
use sextant_common::service::{ServiceRuntime, DRAIN_TIMEOUT};
use sextant_storage::StorageArgs;

/// Jaeger's remote-storage admin port.
const ADMIN_PORT: u16 = 17270;

/// Serves a span storage backend over Jaeger's gRPC Remote Storage API. Every flag can also
/// be set from the environment (name in capitals, `.` and `-` as `_`).
#[derive(Parser, Debug)]
#[command(name = "sextant-remote-storage", version)]
struct Cli {
    /// Address the remote storage gRPC API listens on.
    #[arg(
        long = "grpc.host-port",
        env = "GRPC_HOST_PORT",
        default_value = ":17271"
    )]
    grpc_host_port: String,
    /// The backend this process stores spans in and serves.
    #[command(flatten)]
    storage: StorageArgs,
    #[command(flatten)]
    admin: AdminArgs,
    #[command(flatten)]
    log: LogArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let service = ServiceRuntime::start(&cli.log, &cli.admin, ADMIN_PORT).await?;

    let storage = sextant_storage::build(&cli.storage)
        .await
        .context("building span storage")?;
    // The archive Jaeger's "archive trace" copies into, served by the archive services: a
    // store of the same kind as the primary (see `sextant_storage::factory::archive`).
    let archive = sextant_storage::factory::archive::build_archive_with_default(
        &cli.storage,
        sextant_storage::StorageType::Memory,
    )
    .await
    .context("building archive storage")?;
    let grpc_addr = parse_listen_addr(&cli.grpc_host_port).context("--grpc.host-port")?;
    let listener = tokio::net::TcpListener::bind(grpc_addr)
        .await
        .with_context(|| format!("binding remote storage gRPC server on {grpc_addr}"))?;
    let local = listener
        .local_addr()
        .context("remote storage gRPC address")?;
    let signal = service.shutdown.clone();
    let mut server = tokio::spawn(sextant_storage::grpc::serve_server(
        listener,
        sextant_storage::grpc::RemoteStorageServer::new(storage).with_archive(archive),
        async move { signal.wait().await },
    ));
    tracing::info!(addr = %local, "remote storage gRPC server listening");

    // A server that stops on its own (only a fatal error can do that) ends the process too,
    // rather than leaving a healthy-looking admin server in front of nothing.
    let early = tokio::select! {
        _ = service.ready_until_shutdown() => None,
        result = &mut server => Some(result),
    };
    service.shutdown.trigger();
    let result = match early {
        Some(result) => result,
        None => match tokio::time::timeout(DRAIN_TIMEOUT, &mut server).await {
            Ok(result) => result,
            Err(_) => {
                tracing::warn!("some calls were still in flight at exit");
                Ok(Ok(()))
            }
        },
    };
    service.finish().await;
    result
        .context("remote storage gRPC server task")?
        .context("remote storage gRPC server")?;
    Ok(())
}
