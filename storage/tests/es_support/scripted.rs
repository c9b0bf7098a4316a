//! A small HTTP server on loopback that answers `_bulk` requests from a script, as a
//! stressed cluster does (429s, per-item failures, 503s); other requests get an
//! Elasticsearch 8 root answer.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What the server answers to each `_bulk` request, in turn; `None` = answer every item OK.
pub type Script = Arc<Mutex<VecDeque<Option<(u16, Value)>>>>;

/// Bodies of the `_bulk` requests received.
pub type Seen = Arc<Mutex<Vec<String>>>;

pub async fn serve(script: Script, seen: Seen) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (script, seen) = (script.clone(), seen.clone());
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream);
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                    return;
                }
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).await.unwrap();
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).await.unwrap();
                let body = String::from_utf8(body).unwrap();
                let (status, reply) = if request_line.contains("/_bulk") {
                    seen.lock().push(body.clone());
                    let step = script.lock().pop_front().flatten();
                    step.unwrap_or_else(|| (200, all_ok(&body)))
                } else {
                    (200, json!({"version": {"number": "8.15.0"}}))
                };
                let text = reply.to_string();
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
                let mut stream = reader.into_inner();
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

pub fn actions(body: &str) -> usize {
    body.lines().count() / 2
}

pub fn all_ok(body: &str) -> Value {
    let items: Vec<Value> = (0..actions(body))
        .map(|_| json!({"index": {"status": 201}}))
        .collect();
    json!({"errors": false, "items": items})
}
