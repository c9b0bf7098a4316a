//! A clean shutdown through the storage traits (`SpanWriter::close`, what the all-in-one
//! calls on SIGTERM) leaves the embedded store's directory settled: every span in segment
//! files, no write-ahead log left to replay, and everything readable after reopening.

use std::sync::Arc;
use std::time::Duration;

use sextant_model::{Resource, Span, SpanId, TraceId};
use sextant_storage::embedded::{self, EmbeddedArgs};

fn files_with(dir: &std::path::Path, ext: &str, out: &mut Vec<(std::path::PathBuf, u64)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_with(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            let len = std::fs::metadata(&path).unwrap().len();
            out.push((path, len));
        }
    }
}

#[tokio::test]
async fn close_flushes_the_write_buffer_into_segments() {
    let dir = tempfile::tempdir().unwrap();
    let args = EmbeddedArgs {
        directory: dir.path().to_path_buf(),
        retention: Duration::from_secs(100 * 365 * 86_400),
        ..EmbeddedArgs::default()
    };
    let resource = Arc::new(Resource {
        service_name: "svc".into(),
        ..Default::default()
    });
    let spans: Vec<Span> = (1..=50u64)
        .map(|i| Span {
            trace_id: TraceId::from_halves(7, i / 10),
            span_id: SpanId(i),
            name: "op".into(),
            start_time_unix_nano: 1_700_000_000_000_000_000 + i,
            end_time_unix_nano: 1_700_000_000_000_000_000 + i + 100,
            resource: resource.clone(),
            ..Default::default()
        })
        .collect();
    let storage = embedded::open(&args).await.unwrap();
    storage.writer.write_spans(spans.clone()).await.unwrap();
    let mut wal = Vec::new();
    files_with(dir.path(), "wal", &mut wal);
    assert!(
        wal.iter().any(|(_, len)| *len > 0),
        "the batch is in the WAL"
    );

    storage.writer.close().await.unwrap();
    let (mut wal, mut segs) = (Vec::new(), Vec::new());
    files_with(dir.path(), "wal", &mut wal);
    files_with(dir.path(), "seg", &mut segs);
    assert!(wal.iter().all(|(_, len)| *len == 0), "WAL left: {wal:?}");
    assert_eq!(segs.len(), 1, "one partition, one segment: {segs:?}");
    drop(storage);

    let storage = embedded::open(&args).await.unwrap();
    for t in 0..=5u64 {
        let id = TraceId::from_halves(7, t);
        let got = storage.reader.get_traces(&[id]).await.unwrap();
        let want = spans.iter().filter(|s| s.trace_id == id).count();
        let n: usize = got.iter().map(|t| t.spans.len()).sum();
        assert_eq!(n, want, "trace {t}");
    }
}
