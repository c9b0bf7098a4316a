//! Writing one immutable segment file: the spans of one time partition from one flush,
//! sorted by trace, in zstd-compressed blocks, followed by their indexes.
//!
//! Layout (see DESIGN.md): `magic | data blocks | term postings | term blocks | meta | footer`.
//! The file is written to `<id>.seg.tmp`, fsynced and renamed, so a crash leaves either a
//! complete segment or a temporary file that the next open deletes.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use foldhash::fast::RandomState;
use sextant_model::{Span, SpanKind};

use super::bytes::{put_bytes, put_u64};
use super::codec::encode_spans;
use super::memtable::approx_size;
use super::terms::{Term, TermPostings};
use super::wal::sync_dir;

pub const MAGIC: &[u8; 8] = b"SXSEG\0\0\x01";
/// Version 2 (this writer): compact stat postings (service/operation starts relative to the
/// trace's first span, one duration when a group has one span) and small term postings
/// inline in the dictionary. Version 1 segments are still read.
pub const META_VERSION: u8 = 2;
/// A term whose posting has at most this many traces keeps it inline in its dictionary
/// entry instead of at a file offset (most terms of high-cardinality keys are in one trace).
pub const INLINE_POSTING: usize = 4;
pub const FOOTER_LEN: usize = 8 + 8 + 8 + 4 + 8;
/// Default of [`WriteOptions::block_bytes`].
pub const BLOCK_BYTES: usize = 256 << 10;
/// A single trace larger than this is split over several blocks.
const MAX_BLOCK_SPANS: usize = 4096;
/// Terms per compressed term-dictionary block.
pub const TERMS_PER_BLOCK: usize = 128;

/// How segments are written.
#[derive(Clone, Copy, Debug)]
pub struct WriteOptions {
    /// zstd level of data blocks, term blocks and meta.
    pub level: i32,
    /// Size a data block aims for, in the write buffer's estimate of span size
    /// (`memtable::approx_size`, several times the encoded size): large enough for zstd to
    /// find the repetition between traces, small enough that fetching one trace
    /// decompresses and decodes little.
    pub block_bytes: usize,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            level: 3,
            block_bytes: BLOCK_BYTES,
        }
    }
}

/// Dependency-graph calls found at flush: (parent service, child service) → child span
/// start times.
pub type Edges = BTreeMap<(String, String), Vec<u64>>;

/// Aggregated figures of some spans of one trace (a posting entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    pub min_start: u64,
    pub max_start: u64,
    pub min_dur: u64,
    pub max_dur: u64,
    pub count: u64,
}

impl Stats {
    pub fn of(span: &Span) -> Stats {
        let d = span.duration_nanos();
        Stats {
            min_start: span.start_time_unix_nano,
            max_start: span.start_time_unix_nano,
            min_dur: d,
            max_dur: d,
            count: 1,
        }
    }

    pub fn merge(&mut self, o: &Stats) {
        self.min_start = self.min_start.min(o.min_start);
        self.max_start = self.max_start.max(o.max_start);
        self.min_dur = self.min_dur.min(o.min_dur);
        self.max_dur = self.max_dur.max(o.max_dur);
        self.count = self.count.saturating_add(o.count);
    }
}

/// A posting with figures: (trace ordinal, stats), ordinals ascending.
pub type StatPosting = Vec<(u32, Stats)>;

fn add(posting: &mut StatPosting, ord: u32, s: Stats) {
    match posting.last_mut() {
        Some((o, st)) if *o == ord => st.merge(&s),
        _ => posting.push((ord, s)),
    }
}

/// Writes a stat posting (version 2). `base(ord)` is what its starts are relative to: the
/// segment's first start for the all-traces posting, the trace's first start (from the
/// all-traces posting) for service and operation postings, which makes them small numbers.
/// A group of one span (the common case for an operation) stores one duration.
pub fn put_stat_posting(out: &mut Vec<u8>, p: &StatPosting, base: impl Fn(u32) -> u64) {
    let mut body = Vec::with_capacity(p.len() * 8);
    put_u64(&mut body, p.len() as u64);
    let mut prev = 0u32;
    for (ord, s) in p {
        put_u64(&mut body, u64::from(ord.wrapping_sub(prev)));
        prev = *ord;
        put_u64(&mut body, s.count);
        put_u64(&mut body, s.min_start.wrapping_sub(base(*ord)));
        put_u64(&mut body, s.min_dur);
        if s.count != 1 {
            put_u64(&mut body, s.max_start.wrapping_sub(s.min_start));
            put_u64(&mut body, s.max_dur.wrapping_sub(s.min_dur));
        }
    }
    put_bytes(out, &body);
}

/// Writes a segment of `spans` (all of one partition) and returns its final path.
pub fn write_segment(
    dir: &Path,
    id: u64,
    partition: u64,
    mut spans: Vec<&Span>,
    edges: &Edges,
    opts: WriteOptions,
) -> io::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{id:020}.seg.tmp"));
    let path = dir.join(format!("{id:020}.seg"));
    spans.sort_unstable_by(|a, b| {
        (a.trace_id, a.start_time_unix_nano, a.span_id).cmp(&(
            b.trace_id,
            b.start_time_unix_nano,
            b.span_id,
        ))
    });
    std::thread::scope(|scope| {
        // The indexes (terms about a third of a flush, stat postings) need only the sorted
        // spans: they are built on a second thread while this one encodes and compresses
        // the blocks.
        let index = scope.spawn(|| Index::build(&spans));
        write_sorted(&tmp, partition, &spans, index, edges, opts)
    })?;
    fs::rename(&tmp, &path)?;
    sync_dir(dir)?;
    Ok(path)
}

/// What a segment indexes about its spans, by trace ordinal (the trace's row in the
/// sorted spans).
struct Index<'a> {
    /// Every term with the ordinals of the traces it occurs in, sorted by term.
    terms: Vec<(Term, Vec<u32>)>,
    all: StatPosting,
    services: HashMap<&'a str, StatPosting, RandomState>,
    ops: HashMap<(&'a str, &'a str, SpanKind), StatPosting, RandomState>,
    /// 0 and 0 without spans.
    min_start: u64,
    max_start: u64,
}

impl<'a> Index<'a> {
    /// Indexes `spans`, sorted by trace.
    fn build(spans: &[&'a Span]) -> Index<'a> {
        let mut terms = TermPostings::default();
        let mut index = Index {
            terms: Vec::new(),
            all: Vec::new(),
            services: HashMap::default(),
            ops: HashMap::default(),
            min_start: u64::MAX,
            max_start: 0,
        };
        let mut ord = 0u32;
        let mut prev = None;
        for &s in spans {
            if prev.is_some_and(|p| p != s.trace_id) {
                ord += 1;
            }
            prev = Some(s.trace_id);
            index.min_start = index.min_start.min(s.start_time_unix_nano);
            index.max_start = index.max_start.max(s.start_time_unix_nano);
            let st = Stats::of(s);
            add(&mut index.all, ord, st);
            add(index.services.entry(s.service_name()).or_default(), ord, st);
            let op = (s.service_name(), s.name.as_str(), s.kind);
            add(index.ops.entry(op).or_default(), ord, st);
            terms.add_span(s, ord);
        }
        if spans.is_empty() {
            index.min_start = 0;
        }
        index.terms = terms.into_sorted();
        index
    }
}

/// Writes the segment file `tmp` from `spans` sorted by trace and their index, which
/// another thread is building, and syncs it.
fn write_sorted<'a>(
    tmp: &Path,
    partition: u64,
    spans: &[&'a Span],
    index: std::thread::ScopedJoinHandle<'_, Index<'a>>,
    edges: &Edges,
    opts: WriteOptions,
) -> io::Result<()> {
    let mut w = Out {
        file: BufWriter::with_capacity(1 << 20, File::create(tmp)?),
        pos: 0,
        zstd: zstd::bulk::Compressor::new(opts.level)?,
    };
    w.write(MAGIC)?;

    // Data blocks, built together with the trace table.
    let mut blocks: Vec<u8> = Vec::new();
    let mut block_count = 0u64;
    let mut traces: Vec<u8> = Vec::new();
    let mut trace_count = 0u64;
    let mut block_start = 0usize;
    let mut block_bytes = 0usize;
    let mut trace_first_block = 0u64;
    let mut trace_last_block = 0u64;
    for i in 0..spans.len() {
        let Some(s) = spans.get(i) else { break };
        let new_trace = i == 0 || spans.get(i - 1).map(|p| p.trace_id) != Some(s.trace_id);
        let full =
            (new_trace && block_bytes >= opts.block_bytes) || i - block_start >= MAX_BLOCK_SPANS;
        if i > block_start && full {
            let chunk = spans.get(block_start..i).unwrap_or_default();
            w.block(chunk, &mut blocks)?;
            block_count += 1;
            block_start = i;
            block_bytes = 0;
        }
        if new_trace {
            if i > 0 {
                put_u64(&mut traces, trace_last_block - trace_first_block + 1);
            }
            traces.extend_from_slice(&s.trace_id.to_bytes());
            put_u64(&mut traces, block_count);
            trace_first_block = block_count;
            trace_count += 1;
        }
        trace_last_block = block_count;
        block_bytes += approx_size(s);
    }
    if block_start < spans.len() {
        let chunk = spans.get(block_start..).unwrap_or_default();
        w.block(chunk, &mut blocks)?;
        block_count += 1;
    }
    if !spans.is_empty() {
        put_u64(&mut traces, trace_last_block - trace_first_block + 1);
    }
    let Index {
        terms,
        all,
        services,
        ops,
        min_start,
        max_start,
    } = index
        .join()
        .map_err(|_| io::Error::other("indexing the segment panicked"))?;

    // Term postings, then the term dictionary in compressed blocks.
    let mut refs = Vec::with_capacity(terms.len());
    for (_, list) in &terms {
        if list.len() <= INLINE_POSTING {
            refs.push((0, 0));
            continue;
        }
        let mut p = Vec::with_capacity(list.len() + 4);
        put_ordinals(&mut p, list);
        refs.push((w.pos, p.len() as u64));
        w.write(&p)?;
    }
    let mut term_index = Vec::new();
    put_u64(
        &mut term_index,
        terms.len().div_ceil(TERMS_PER_BLOCK) as u64,
    );
    for (chunk, chunk_refs) in terms
        .chunks(TERMS_PER_BLOCK)
        .zip(refs.chunks(TERMS_PER_BLOCK))
    {
        let mut raw = Vec::new();
        put_u64(&mut raw, chunk.len() as u64);
        // Entry: term, then either a small posting inline (count <= INLINE_POSTING, then
        // the delta-coded ordinals) or a count above that and the posting's offset/length.
        for ((t, list), (off, len)) in chunk.iter().zip(chunk_refs) {
            put_term(&mut raw, t);
            if list.len() <= INLINE_POSTING {
                put_ordinals(&mut raw, list);
            } else {
                put_u64(&mut raw, list.len() as u64);
                put_u64(&mut raw, *off);
                put_u64(&mut raw, *len);
            }
        }
        if let Some((first, _)) = chunk.first() {
            put_term(&mut term_index, first);
        }
        w.compressed(&raw, &mut term_index)?;
    }

    // Meta: everything a reader keeps in memory.
    let mut meta = vec![META_VERSION];
    for v in [partition, min_start, max_start, spans.len() as u64] {
        put_u64(&mut meta, v);
    }
    put_u64(&mut meta, block_count);
    meta.extend_from_slice(&blocks);
    put_u64(&mut meta, trace_count);
    meta.extend_from_slice(&traces);
    let mut svc = Vec::new();
    put_stat_posting(&mut svc, &all, |_| min_start);
    // `all` has one entry per trace, in ordinal order.
    let trace_start = |ord: u32| {
        all.get(ord as usize)
            .map_or(min_start, |(_, s)| s.min_start)
    };
    let mut by_service: BTreeMap<&str, Vec<(&str, SpanKind, &StatPosting)>> = BTreeMap::new();
    for ((s, o, k), p) in &ops {
        by_service.entry(s).or_default().push((o, *k, p));
    }
    put_u64(&mut svc, by_service.len() as u64);
    for (s, mut list) in by_service {
        put_bytes(&mut svc, s.as_bytes());
        let empty = Vec::new();
        put_stat_posting(&mut svc, services.get(s).unwrap_or(&empty), trace_start);
        list.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        put_u64(&mut svc, list.len() as u64);
        for (o, k, p) in list {
            put_bytes(&mut svc, o.as_bytes());
            svc.push(k.to_otlp() as u8);
            put_stat_posting(&mut svc, p, trace_start);
        }
    }
    put_bytes(&mut meta, &svc);
    meta.extend_from_slice(&term_index);
    put_bytes(&mut meta, &encode_edges(edges));

    let meta_offset = w.pos;
    let comp = w.zstd.compress(&meta)?;
    w.write(&comp)?;
    let mut footer = Vec::with_capacity(FOOTER_LEN);
    footer.extend_from_slice(&meta_offset.to_le_bytes());
    footer.extend_from_slice(&(comp.len() as u64).to_le_bytes());
    footer.extend_from_slice(&(meta.len() as u64).to_le_bytes());
    footer.extend_from_slice(&crc32fast::hash(&comp).to_le_bytes());
    footer.extend_from_slice(MAGIC);
    w.write(&footer)?;
    let file = w.file.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}

/// A posting list: count, then ordinals delta-coded.
fn put_ordinals(out: &mut Vec<u8>, list: &[u32]) {
    put_u64(out, list.len() as u64);
    let mut prev = 0u32;
    for &o in list {
        put_u64(out, u64::from(o - prev));
        prev = o;
    }
}

fn put_term(out: &mut Vec<u8>, t: &Term) {
    put_bytes(out, t.key.as_bytes());
    put_bytes(out, t.value.as_bytes());
    out.push(u8::from(t.truncated));
}

fn encode_edges(edges: &Edges) -> Vec<u8> {
    let mut out = Vec::new();
    put_u64(&mut out, edges.len() as u64);
    for ((parent, child), times) in edges {
        put_bytes(&mut out, parent.as_bytes());
        put_bytes(&mut out, child.as_bytes());
        let mut times = times.clone();
        times.sort_unstable();
        put_u64(&mut out, times.len() as u64);
        let mut prev = 0u64;
        for t in times {
            put_u64(&mut out, t - prev);
            prev = t;
        }
    }
    out
}

/// A file being written sequentially, with its position, and the one zstd context its
/// blocks are compressed with (a context per block was a visible cost of a flush).
struct Out {
    file: BufWriter<File>,
    pos: u64,
    zstd: zstd::bulk::Compressor<'static>,
}

impl Out {
    fn write(&mut self, b: &[u8]) -> io::Result<()> {
        self.file.write_all(b)?;
        self.pos += b.len() as u64;
        Ok(())
    }

    /// Writes `raw` compressed and appends its reference (offset, length, raw length,
    /// checksum) to `refs`.
    fn compressed(&mut self, raw: &[u8], refs: &mut Vec<u8>) -> io::Result<()> {
        let comp = self.zstd.compress(raw)?;
        put_u64(refs, self.pos);
        put_u64(refs, comp.len() as u64);
        put_u64(refs, raw.len() as u64);
        refs.extend_from_slice(&crc32fast::hash(&comp).to_le_bytes());
        self.write(&comp)
    }

    fn block(&mut self, spans: &[&Span], refs: &mut Vec<u8>) -> io::Result<()> {
        self.compressed(&encode_spans(spans), refs)
    }
}
