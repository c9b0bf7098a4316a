//! The `sextant-query` binary end to end: flags and environment, the admin server's
//! readiness, the API under a base path, and a clean exit on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// Kills the child if a check fails before the test stops it.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `http_addr` / `local` field of the JSON log line announcing a listener.
fn listening_addr(line: &str, message: &str, field: &str) -> Option<String> {
    let v: Value = serde_json::from_str(line).ok()?;
    if v["fields"]["message"] != message {
        return None;
    }
    v["fields"][field].as_str().map(str::to_string)
}

#[tokio::test]
async fn starts_serves_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sextant-query"))
        .args([
            "--query.http-server.host-port=127.0.0.1:0",
            "--query.grpc-server.host-port=127.0.0.1:0",
            "--admin.http.host-port=127.0.0.1:0",
            "--log-format=json",
        ])
        .env("QUERY_BASE_PATH", "/jaeger")
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut guard = Guard(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let (mut api, mut admin) = (None, None);
    while api.is_none() || admin.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("start-up log");
        api = api.or_else(|| listening_addr(&line, "query servers listening", "http_addr"));
        admin = admin.or_else(|| listening_addr(&line, "admin server listening", "local"));
    }
    let (api, admin) = (api.unwrap(), admin.unwrap());

    // Ready is reported once the API listens; poll rather than sleep.
    let mut ready = false;
    for _ in 0..100 {
        if reqwest::get(format!("http://{admin}/"))
            .await
            .unwrap()
            .status()
            == 200
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "admin health never became ready");

    let body: Value = reqwest::get(format!("http://{api}/jaeger/api/services"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"], serde_json::json!([]));
    let metrics = reqwest::get(format!("http://{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("jaeger_query_requests_total"), "{metrics}");

    let status = Command::new("kill")
        .args(["-TERM", &guard.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut exited = None;
    for _ in 0..200 {
        if let Some(s) = guard.0.try_wait().unwrap() {
            exited = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(exited.expect("exit within 10s after SIGTERM").success());
}
