//! Durability under `kill -9`: a child process (this test binary, re-run with an
//! environment variable) writes batches and prints an `ack` line after each `write_spans`
//! returns; the parent kills it mid-stream, reopens the store and finds every acknowledged
//! span.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sextant_model::{KeyValue, Resource, Span, SpanId, TraceId};
use sextant_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use sextant_storage::{SpanReader, SpanWriter};

const CHILD_ENV: &str = "SEXTANT_EMBEDDED_CRASH_CHILD_DIR";
const SPANS_PER_BATCH: u64 = 40;
const TEST_NAME: &str = "acknowledged_spans_survive_kill_9";

fn options() -> EmbeddedOptions {
    // Small buffers so the kill also lands around flushes and WAL rotations; retention
    // long enough for the fixed 2023 timestamps below.
    EmbeddedOptions {
        max_buffer_spans: 300,
        retention: Duration::from_secs(100 * 365 * 86_400),
        ..EmbeddedOptions::default()
    }
}

fn batch(b: u64) -> Vec<Span> {
    let resource = Arc::new(Resource {
        service_name: format!("svc-{}", b % 3),
        ..Default::default()
    });
    (0..SPANS_PER_BATCH)
        .map(|i| Span {
            trace_id: TraceId::from_halves(b + 1, i / 8),
            span_id: SpanId(b * 1000 + i + 1),
            name: format!("op-{}", i % 5),
            start_time_unix_nano: 1_700_000_000_000_000_000 + b * 1_000_000 + i,
            end_time_unix_nano: 1_700_000_000_000_000_000 + b * 1_000_000 + i + 500,
            attributes: vec![KeyValue::new("batch", b as i64)],
            resource: resource.clone(),
            ..Default::default()
        })
        .collect()
}

fn child(dir: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = EmbeddedStore::open(dir, options()).await.unwrap();
        let mut out = std::io::stdout();
        for b in 0.. {
            store.write_spans(batch(b)).await.unwrap();
            writeln!(out, "ack {b}").unwrap();
            out.flush().unwrap();
        }
    });
}

#[test]
fn acknowledged_spans_survive_kill_9() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child(&dir);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut proc = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = proc.stdout.take().unwrap();
    let mut acked: Option<u64> = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(b) = line.strip_prefix("ack ").and_then(|n| n.parse().ok()) {
            acked = Some(b);
            if b >= 60 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "child too slow");
    }
    proc.kill().unwrap(); // SIGKILL
    proc.wait().unwrap();
    let last = acked.expect("the child acknowledged batches");
    assert!(last >= 60, "child stopped early at batch {last}");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = EmbeddedStore::open(dir.path(), options()).await.unwrap();
        for b in 0..=last {
            let want = batch(b);
            let ids: Vec<TraceId> = (0..SPANS_PER_BATCH / 8)
                .map(|t| TraceId::from_halves(b + 1, t))
                .collect();
            let traces = store.get_traces(&ids).await.unwrap();
            let got: Vec<&Span> = traces.iter().flat_map(|t| &t.spans).collect();
            for span in &want {
                assert!(
                    got.contains(&span),
                    "batch {b} span {:?} lost after kill -9",
                    span.span_id
                );
            }
            assert_eq!(got.len(), want.len(), "batch {b}: no duplicates");
        }
    });
}
