//! The real binary on loopback: it starts on ephemeral ports, reports healthy, stores and
//! serves spans (and an archive) through the remote storage API, and exits cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sextant_model::{Span, SpanId, TraceId};
use sextant_storage::grpc::{self, GrpcStorageArgs};

const STARTUP: Duration = Duration::from_secs(30);

/// Kills the child if the test fails before it exits.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads the JSON log lines on stderr until the admin and gRPC addresses are both known.
fn listening_addrs(lines: &mpsc::Receiver<String>) -> (String, String) {
    let deadline = Instant::now() + STARTUP;
    let (mut admin, mut grpc) = (None, None);
    while admin.is_none() || grpc.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .expect("the binary logs where it listens");
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let fields = &json["fields"];
        match fields["message"].as_str() {
            Some("admin server listening") => admin = fields["local"].as_str().map(String::from),
            Some("remote storage gRPC server listening") => {
                grpc = fields["addr"].as_str().map(String::from)
            }
            _ => {}
        }
    }
    (admin.unwrap_or_default(), grpc.unwrap_or_default())
}

async fn wait_healthy(admin: &str) {
    let deadline = Instant::now() + STARTUP;
    let url = format!("http://{admin}/");
    loop {
        if let Ok(r) = reqwest::get(&url).await {
            if r.status().is_success() {
                return;
            }
        }
        assert!(Instant::now() < deadline, "never became healthy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls without blocking the runtime: the client's connection must stay responsive so the
/// server's graceful HTTP/2 shutdown (GOAWAY, ping) can complete.
async fn wait_exit(child: &mut Child, within: Duration) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "did not exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn serves_spans_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sextant-remote-storage"))
        .args([
            "--grpc.host-port=127.0.0.1:0",
            "--admin.http.host-port=127.0.0.1:0",
            "--span-storage.type=memory",
            "--log-format=json",
            "--log-level=info",
        ])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut running = Running(child);
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });

    let (admin, grpc_addr) = listening_addrs(&lines);
    wait_healthy(&admin).await;

    let grpc_addr_copy = grpc_addr.clone();
    let remote = grpc::connect(&GrpcStorageArgs {
        server: Some(grpc_addr),
        connection_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    let mut span = Span {
        trace_id: TraceId(0xabc),
        span_id: SpanId(1),
        name: "GET /".into(),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_001_000_000,
        ..Default::default()
    };
    std::sync::Arc::make_mut(&mut span.resource).service_name = "frontend".into();
    remote.writer.write_spans(vec![span.clone()]).await.unwrap();
    assert_eq!(
        remote.reader.get_services().await.unwrap(),
        vec!["frontend"]
    );
    let traces = remote.reader.get_traces(&[TraceId(0xabc)]).await.unwrap();
    assert_eq!(traces.len(), 1);
    assert_eq!(
        traces.first().map(|t| t.spans.clone()),
        Some(vec![span.clone()])
    );

    // The binary serves an archive beside its primary store: an archived trace comes back
    // from the archive services, and the primary does not see it.
    let archive = grpc::connect_archive(&GrpcStorageArgs {
        server: Some(grpc_addr_copy),
        connection_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    let archived = Span {
        trace_id: TraceId(0xdef),
        ..span
    };
    archive
        .writer
        .write_spans(vec![archived.clone()])
        .await
        .unwrap();
    let got = archive.reader.get_traces(&[TraceId(0xdef)]).await.unwrap();
    assert_eq!(got.first().map(|t| t.spans.clone()), Some(vec![archived]));
    assert!(remote
        .reader
        .get_traces(&[TraceId(0xdef)])
        .await
        .unwrap()
        .is_empty());

    let pid = running.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    // Well below the binary's 10 s drain timeout: an idle client must not hold shutdown up.
    let status = wait_exit(&mut running.0, Duration::from_secs(5)).await;
    assert!(status.success(), "exit status {status:?}");
}
