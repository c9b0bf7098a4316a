//! Where an embedded store's bytes go: a breakdown of every segment file under a data
//! directory (data blocks, term postings, term dictionary, meta and its parts, per tag key),
//! and optionally what the data blocks would cost with other block sizes and zstd levels.
//! A debugging aid for format decisions, not used by the store; run it with
//!
//! ```text
//! SEXTANT_INSPECT_DIR=/path/to/data cargo test --release -p sextant-storage \
//!     --test embedded_inspect -- --ignored --nocapture
//! ```
//! (`SEXTANT_INSPECT_EXPERIMENTS=1` adds the re-compression table; it takes a while.)

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use sextant_model::Span;

use super::bytes::put_u64;
use super::codec::encode_spans;
use super::memtable::approx_size;
use super::segment::Segment;
use super::segment_write::{write_segment, WriteOptions};

#[derive(Default)]
struct KeyFigures {
    terms: u64,
    singletons: u64,
    postings: u64,
    dict_raw: u64,
}

fn segment_files(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            segment_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "seg") {
            out.push(path);
        }
    }
    Ok(())
}

fn pct(part: u64, total: u64) -> f64 {
    100.0 * part as f64 / total.max(1) as f64
}

/// The breakdown of every segment under `dir`, as a printable report.
pub fn inspect(dir: &Path, experiments: bool) -> io::Result<String> {
    let mut files = Vec::new();
    segment_files(dir, &mut files)?;
    files.sort();
    let mut out = String::new();
    let (mut total, mut spans, mut traces) = (0u64, 0u64, 0u64);
    let (mut data, mut data_raw, mut nblocks) = (0u64, 0u64, 0u64);
    let (mut tb, mut tb_raw, mut ntb) = (0u64, 0u64, 0u64);
    let mut postings = 0u64;
    let (mut meta, mut meta_raw) = (0u64, 0u64);
    let mut parts = [0u64; 5];
    let mut keys: BTreeMap<String, KeyFigures> = BTreeMap::new();
    let (mut nterms, mut nsingle) = (0u64, 0u64);
    let mut all_spans: Vec<Vec<Span>> = Vec::new();
    let (mut string_table, mut tables, mut body) = (0u64, 0u64, 0u64);
    for (i, path) in files.iter().enumerate() {
        let seg = Segment::open(path, i as u64).map_err(io::Error::other)?;
        let len = seg.file_len();
        total += len;
        spans += seg.span_count;
        traces += seg.trace_count() as u64;
        let _ = writeln!(
            out,
            "{}: {} bytes, {} spans, {} traces, {:.1} B/span",
            path.display(),
            len,
            seg.span_count,
            seg.trace_count(),
            len as f64 / seg.span_count.max(1) as f64
        );
        for (c, r) in seg.block_sizes() {
            data += c;
            data_raw += r;
            nblocks += 1;
        }
        for (c, r) in seg.term_block_sizes() {
            tb += c;
            tb_raw += r;
            ntb += 1;
        }
        let m = seg.meta_sizes();
        meta += m.compressed;
        meta_raw += m.raw;
        for (acc, v) in parts.iter_mut().zip([
            m.block_table,
            m.trace_table,
            m.stat_postings,
            m.term_index,
            m.edges,
        ]) {
            *acc += v;
        }
        seg.for_each_term(|t, ords, plen| {
            let k = keys.entry(t.key.clone()).or_default();
            k.terms += 1;
            nterms += 1;
            if ords.len() == 1 {
                k.singletons += 1;
                nsingle += 1;
            }
            k.postings += plen;
            postings += plen;
            // key, value, truncated flag, offset and length as the dictionary stores them.
            k.dict_raw += (t.key.len() + t.value.len() + 2 + 1 + 4 + 1) as u64;
        })
        .map_err(io::Error::other)?;
        let mut seg_spans = Vec::new();
        for b in 0..nblocks_of(&seg) {
            let block = seg.read_block(b).map_err(io::Error::other)?;
            let (s, t, bd) = block_parts(&block);
            string_table += s;
            tables += t;
            body += bd;
            if experiments {
                seg_spans.extend(block);
            }
        }
        if experiments {
            all_spans.push(seg_spans);
        }
    }
    let per = |b: u64| b as f64 / spans.max(1) as f64;
    let _ = writeln!(
        out,
        "\n{} segments, {} spans, {} traces, {} bytes = {:.2} B/span",
        files.len(),
        spans,
        traces,
        total,
        per(total)
    );
    let line = |out: &mut String, name: &str, b: u64| {
        let _ = writeln!(
            out,
            "  {:<34} {:>12} B {:>7.2} B/span {:>5.1} %",
            name,
            b,
            per(b),
            pct(b, total)
        );
    };
    let header = files.len() as u64 * (8 + super::segment_write::FOOTER_LEN as u64);
    line(&mut out, "data blocks (zstd)", data);
    line(&mut out, "term postings", postings);
    line(&mut out, "term dictionary blocks (zstd)", tb);
    line(&mut out, "meta (zstd)", meta);
    line(&mut out, "magic + footer", header);
    let _ = writeln!(
        out,
        "  data: {nblocks} blocks, raw {data_raw} B ({:.1} B/span raw, ratio {:.2}); raw parts: \
         string tables {string_table} B, resource/scope tables {tables} B, span bodies {body} B",
        per(data_raw),
        data_raw as f64 / data.max(1) as f64
    );
    let _ = writeln!(
        out,
        "  term dictionary: {ntb} blocks, {nterms} terms ({nsingle} in one trace only), raw \
         {tb_raw} B (ratio {:.2})",
        tb_raw as f64 / tb.max(1) as f64
    );
    let _ = writeln!(
        out,
        "  meta raw {meta_raw} B: block table {}, trace table {}, service/operation postings {}, \
         term index {}, edges {}",
        parts[0], parts[1], parts[2], parts[3], parts[4]
    );
    let mut by_size: Vec<_> = keys.into_iter().collect();
    by_size.sort_by_key(|(_, k)| std::cmp::Reverse(k.postings + k.dict_raw));
    let _ = writeln!(
        out,
        "\n  {:<36} {:>9} {:>9} {:>10} {:>10}",
        "tag key (by postings + raw dict)", "terms", "single", "postings", "dict raw"
    );
    for (key, k) in by_size.iter().take(25) {
        let _ = writeln!(
            out,
            "  {:<36} {:>9} {:>9} {:>10} {:>10}",
            key, k.terms, k.singletons, k.postings, k.dict_raw
        );
    }
    if experiments {
        let _ = writeln!(
            out,
            "\n  data blocks re-compressed (block target in BLOCK_BYTES units x zstd level): B/span"
        );
        for target in [64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20] {
            let mut row = format!("  {:>5} KiB:", target >> 10);
            for level in [3, 6, 9, 12] {
                let mut sum = 0u64;
                for seg in &all_spans {
                    sum += recompress(seg, target, level)?;
                }
                let _ = write!(row, "  L{level} {:.2}", per(sum));
            }
            let _ = writeln!(out, "{row}");
        }
    }
    Ok(out)
}

fn nblocks_of(seg: &Segment) -> u32 {
    u32::try_from(seg.block_sizes().count()).unwrap_or(u32::MAX)
}

/// Raw bytes of a block's string table, its resource and scope tables, and its span bodies.
fn block_parts(spans: &[Span]) -> (u64, u64, u64) {
    let all = encode_spans(spans).len() as u64;
    let mut strings = std::collections::HashSet::new();
    let mut table = 0u64;
    let mut note = |s: &str| {
        if strings.insert(s.to_string()) {
            let mut v = Vec::new();
            put_u64(&mut v, s.len() as u64);
            table += (v.len() + s.len()) as u64;
        }
    };
    let mut resources = std::collections::HashSet::new();
    let mut res_bytes = 0u64;
    for s in spans {
        note(&s.name);
        for kv in &s.attributes {
            note(&kv.key);
            if let sextant_model::AnyValue::Str(v) = &kv.value {
                note(v);
            }
        }
        for e in &s.events {
            note(&e.name);
            for kv in &e.attributes {
                note(&kv.key);
                if let sextant_model::AnyValue::Str(v) = &kv.value {
                    note(v);
                }
            }
        }
        if resources.insert(std::sync::Arc::as_ptr(&s.resource)) {
            res_bytes += 8 + 8 * s.resource.attributes.len() as u64;
        }
    }
    (table, res_bytes, all.saturating_sub(table + res_bytes))
}

/// Compressed size of `spans` cut into blocks of about `target` raw encoded bytes.
fn recompress(spans: &[Span], target: usize, level: i32) -> io::Result<u64> {
    let mut sum = 0u64;
    let mut start = 0usize;
    let mut est = 0usize;
    for i in 0..spans.len() {
        let new_trace =
            i > 0 && spans.get(i - 1).map(|p| p.trace_id) != spans.get(i).map(|s| s.trace_id);
        if new_trace && est >= target {
            sum += compressed(spans.get(start..i).unwrap_or_default(), level)?;
            start = i;
            est = 0;
        }
        // The writer's own estimate, so `target` is in BLOCK_BYTES units.
        est += spans.get(i).map_or(0, approx_size);
    }
    if start < spans.len() {
        sum += compressed(spans.get(start..).unwrap_or_default(), level)?;
    }
    Ok(sum)
}

fn compressed(spans: &[Span], level: i32) -> io::Result<u64> {
    Ok(zstd::bulk::compress(&encode_spans(spans), level)?.len() as u64)
}

/// Rewrites every segment under `src` with this build's writer and `opts` into `dst` (one
/// segment per source segment, same spans, partition and calls), to compare formats and
/// settings on identical data; returns the time spent writing.
pub fn rewrite(src: &Path, dst: &Path, opts: WriteOptions) -> io::Result<std::time::Duration> {
    let mut files = Vec::new();
    segment_files(src, &mut files)?;
    files.sort();
    let mut spent = std::time::Duration::ZERO;
    for (i, path) in files.iter().enumerate() {
        let seg = Segment::open(path, i as u64).map_err(io::Error::other)?;
        let mut spans = Vec::new();
        for b in 0..nblocks_of(&seg) {
            spans.extend(seg.read_block(b).map_err(io::Error::other)?);
        }
        let edges = seg.edges().map_err(io::Error::other)?;
        let t = std::time::Instant::now();
        write_segment(
            dst,
            i as u64 + 1,
            seg.partition,
            spans.iter().collect(),
            &edges,
            opts,
        )?;
        spent += t.elapsed();
    }
    Ok(spent)
}
