//! CPU cost of the embedded store's ingest path alone on tracegen's spans: encoding and WAL
//! framing (writer tasks), group commit and buffer insert (commit thread) and segment
//! writing (flush thread, the larger part), without gRPC, OTLP decoding or a load generator sharing the cores.
//!
//! `tracegen bench` measures the whole all-in-one, but on a shared 2-core machine its figure
//! moves ±15 % between identical runs; this measures the store's own CPU seconds, repeated,
//! so a change to the write path shows as a ratio of medians:
//!
//! ```text
//! cargo run --release -p sextant-tracegen --example store_ingest -- [spans] [runs]
//! ```
//! (defaults: 300,000 spans, 5 runs). Spans are generated, encoded as OTLP and decoded as the
//! collector would, batch by batch (1,000 spans), before the clock starts.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use sextant_model::{otlp, Span};
use sextant_storage::embedded::{EmbeddedOptions, EmbeddedStore};
use sextant_storage::SpanWriter;
use sextant_tracegen::bench::stat_line_cpu_secs;
use sextant_tracegen::generate::Generator;

// The all-in-one's allocator (spans are allocated on writer threads and freed elsewhere, so
// the allocator is part of what this measures).
#[global_allocator]
static GLOBAL: sextant_common::alloc::MiMalloc = sextant_common::alloc::MiMalloc;

const BATCH_SPANS: usize = 1000;
const WRITERS: usize = 8;

/// CPU seconds of the whole process (threads that have exited included) and of the
/// runtime's worker threads (the writer tasks: encoding and WAL framing).
fn cpu_now() -> (f64, f64) {
    // utime and stime are fields 14 and 15 of a stat line.
    let cpu = |stat: &str| stat_line_cpu_secs(stat, 14);
    let process = std::fs::read_to_string("/proc/self/stat").map_or(0.0, |s| cpu(&s));
    let mut workers = 0.0;
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) {
            if stat.contains("(writer)") {
                workers += cpu(&stat);
            }
        }
    }
    (process, workers)
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let spans: usize = args.next().map_or(Ok(300_000), |a| a.parse())?;
    let runs: usize = args.next().map_or(Ok(5), |a| a.parse())?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64;

    let generator = Generator::new(1);
    let mut requests: Vec<Vec<u8>> = Vec::new();
    let (mut batch, mut total, mut index) = (Vec::new(), 0usize, 0u64);
    while total < spans {
        let trace = generator.trace(index, now);
        index += 1;
        total += trace.len();
        batch.extend(trace);
        if batch.len() >= BATCH_SPANS || total >= spans {
            requests.push(otlp::encode_export_request(&batch));
            batch.clear();
        }
    }
    println!(
        "{total} spans in {} OTLP batches, {WRITERS} writers, {runs} runs",
        requests.len()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("writer")
        .enable_all()
        .build()?;
    let mut per_span: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for run in 1..=runs {
        let batches: Vec<Vec<Span>> = requests
            .iter()
            .map(|r| otlp::decode_export_request(r))
            .collect::<Result<_, _>>()?;
        let dir = tempfile::tempdir()?;
        let (cpu, wall) = runtime.block_on(async {
            let store =
                Arc::new(EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).await?);
            let queue = Arc::new(Mutex::new(batches));
            let before = cpu_now();
            let started = Instant::now();
            let mut writers = Vec::new();
            for _ in 0..WRITERS {
                let (store, queue) = (store.clone(), queue.clone());
                writers.push(tokio::spawn(async move {
                    loop {
                        let next = queue.lock().ok().and_then(|mut q| q.pop());
                        let Some(batch) = next else { break };
                        store.write_spans(batch).await?;
                    }
                    anyhow::Ok(())
                }));
            }
            for w in writers {
                w.await??;
            }
            // Settled: the final flush turns the write buffer into segments.
            store.close().await?;
            let wall = started.elapsed().as_secs_f64();
            let after = cpu_now();
            let (total, writers) = (after.0 - before.0, after.1 - before.1);
            let cpu = BTreeMap::from([
                ("writer tasks (encode, WAL frame)".to_string(), writers),
                ("store threads (commit, flush)".to_string(), total - writers),
            ]);
            anyhow::Ok((cpu, wall))
        })?;
        let sum: f64 = cpu.values().sum();
        let line: Vec<String> = cpu.iter().map(|(k, v)| format!("{k} {v:.2} s")).collect();
        println!(
            "run {run}: {:.0} spans per store CPU-second ({sum:.2} s: {}), wall {wall:.1} s",
            total as f64 / sum.max(1e-9),
            line.join(", ")
        );
        for (k, v) in cpu {
            per_span.entry(k).or_default().push(v * 1e9 / total as f64);
        }
        per_span
            .entry("total".to_string())
            .or_default()
            .push(sum * 1e9 / total as f64);
    }
    println!("median ns of CPU per span:");
    for (k, mut v) in per_span {
        v.sort_by(f64::total_cmp);
        println!(
            "  {k:<28} {:>7.0}",
            v.get(v.len() / 2).copied().unwrap_or(0.0)
        );
    }
    Ok(())
}
