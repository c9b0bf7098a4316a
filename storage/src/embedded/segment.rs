//! Reading a segment file written by [`super::segment_write`]: its meta (block table, trace
//! table, service/operation postings, term-dictionary index, dependency calls) is held in
//! memory; data blocks, term blocks and term postings are read on demand with positional
//! reads, so memory per segment stays small and the OS page cache does the rest.
//!
//! Every byte read is checked (checksums, bounds); a damaged segment yields an error, never
//! a panic.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sextant_model::{Span, SpanKind, TraceId};

use super::bytes::{CorruptError, Decoded, Reader};
use super::codec::decode_spans;
use super::segment_write::{Stats, FOOTER_LEN, INLINE_POSTING, MAGIC, META_VERSION};
use super::terms::{norm_key, Term, MAX_TERM_PART};
use crate::matcher::ValueMatcher;
use crate::Operation;

/// A segment could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Corrupt(#[from] CorruptError),
}

/// Upper bound on any decompressed piece, against hostile length fields.
const MAX_RAW: u64 = 1 << 30;

#[derive(Clone, Copy, Debug)]
struct Chunk {
    offset: u64,
    len: u64,
    raw: u64,
    crc: u32,
}

fn read_chunk_ref(r: &mut Reader<'_>) -> Decoded<Chunk> {
    Ok(Chunk {
        offset: r.u64()?,
        len: r.u64()?,
        raw: r.u64()?,
        crc: u32::from_le_bytes(r.fixed()?),
    })
}

/// One row of the trace table; its index is the trace's ordinal in this segment.
#[derive(Clone, Copy, Debug)]
pub struct TraceRow {
    pub id: TraceId,
    pub first_block: u32,
    pub blocks: u32,
}

struct ServiceDir {
    name: String,
    posting: Range<usize>,
    ops: Vec<(Operation, Range<usize>)>,
}

/// Where a term's posting list is: inline in its dictionary entry (version 2, small lists)
/// or in the file at (offset, length).
enum PostingRef {
    Inline(Vec<u32>),
    File(u64, u64),
}

type TermEntry = (Term, PostingRef);

struct TermBlockRef {
    first: Term,
    chunk: Chunk,
}

pub struct Segment {
    pub id: u64,
    pub partition: u64,
    pub path: PathBuf,
    pub min_start: u64,
    pub max_start: u64,
    pub span_count: u64,
    version: u8,
    /// Version 2: each trace's first span start (from the all-traces posting), the base of
    /// the starts in service and operation postings.
    trace_start: Vec<u64>,
    file: File,
    file_len: u64,
    blocks: Vec<Chunk>,
    traces: Vec<TraceRow>,
    postings: Vec<u8>,
    all: Range<usize>,
    services: Vec<ServiceDir>,
    term_blocks: Vec<TermBlockRef>,
    edges: Vec<u8>,
    meta_sizes: MetaSizes,
}

/// Sizes of a segment's meta, raw (before zstd) except `compressed`, for the breakdown
/// tool (`inspect.rs`).
#[derive(Clone, Copy, Debug, Default)]
pub struct MetaSizes {
    pub compressed: u64,
    pub raw: u64,
    pub block_table: u64,
    pub trace_table: u64,
    pub stat_postings: u64,
    pub term_index: u64,
    pub edges: u64,
}

impl Segment {
    pub fn open(path: &Path, id: u64) -> Result<Segment, SegmentError> {
        let file = File::open(path)?;
        let file_len = file.metadata()?.len();
        let footer_at = file_len
            .checked_sub(FOOTER_LEN as u64)
            .ok_or(CorruptError("file shorter than its footer"))?;
        let mut footer = [0u8; FOOTER_LEN];
        file.read_exact_at(&mut footer, footer_at)?;
        let mut f = Reader::new(&footer);
        let chunk = Chunk {
            offset: f.u64_le()?,
            len: f.u64_le()?,
            raw: f.u64_le()?,
            crc: u32::from_le_bytes(f.fixed()?),
        };
        if &f.fixed::<8>()? != MAGIC {
            return Err(CorruptError("bad footer magic").into());
        }
        let meta = read_chunk(&file, file_len, chunk)?;
        let mut r = Reader::new(&meta);
        let mut sizes = MetaSizes {
            compressed: chunk.len,
            raw: chunk.raw,
            ..MetaSizes::default()
        };
        let mut mark = r.remaining();
        let mut part = |r: &Reader<'_>| {
            let n = (mark - r.remaining()) as u64;
            mark = r.remaining();
            n
        };
        // Version 1 (before stat postings and term postings were compacted) is still read.
        let version = r.u8()?;
        if !(1..=META_VERSION).contains(&version) {
            return Err(CorruptError("unknown segment version").into());
        }
        let partition = r.u64()?;
        let min_start = r.u64()?;
        let max_start = r.u64()?;
        let span_count = r.u64()?;
        part(&r);
        let n = r.len()?;
        let mut blocks = Vec::with_capacity(n);
        for _ in 0..n {
            blocks.push(read_chunk_ref(&mut r)?);
        }
        sizes.block_table = part(&r);
        let n = r.len()?;
        let mut traces = Vec::with_capacity(n);
        for _ in 0..n {
            traces.push(TraceRow {
                id: TraceId(r.u128_be()?),
                first_block: r.u32()?,
                blocks: r.u32()?,
            });
        }
        if traces
            .windows(2)
            .any(|w| w.first().map(|a| a.id) >= w.get(1).map(|b| b.id))
        {
            return Err(CorruptError("trace table not sorted").into());
        }
        sizes.trace_table = part(&r);
        let postings = r.bytes()?.to_vec();
        let (all, services) = parse_services(&postings)?;
        let mut trace_start = Vec::new();
        if version >= 2 {
            let mut all_posting = Vec::new();
            let bytes = postings.get(all.clone()).unwrap_or_default();
            decode_stat_posting(bytes, version, &|_| min_start, &mut all_posting)?;
            if all_posting.len() != traces.len()
                || all_posting
                    .iter()
                    .enumerate()
                    .any(|(i, (o, _))| *o as usize != i)
            {
                return Err(CorruptError("all-traces posting does not match traces").into());
            }
            trace_start = all_posting.iter().map(|(_, s)| s.min_start).collect();
        }
        sizes.stat_postings = part(&r);
        let n = r.len()?;
        let mut term_blocks = Vec::with_capacity(n);
        for _ in 0..n {
            let first = read_term(&mut r)?;
            term_blocks.push(TermBlockRef {
                first,
                chunk: read_chunk_ref(&mut r)?,
            });
        }
        sizes.term_index = part(&r);
        let edges = r.bytes()?.to_vec();
        sizes.edges = part(&r);
        Ok(Segment {
            id,
            partition,
            path: path.to_path_buf(),
            min_start,
            max_start,
            span_count,
            version,
            trace_start,
            file,
            file_len,
            blocks,
            traces,
            postings,
            all,
            services,
            term_blocks,
            edges,
            meta_sizes: sizes,
        })
    }

    pub fn meta_sizes(&self) -> MetaSizes {
        self.meta_sizes
    }

    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    pub fn trace_count(&self) -> usize {
        self.traces.len()
    }

    /// (compressed, raw) length of each data block.
    pub fn block_sizes(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.blocks.iter().map(|c| (c.len, c.raw))
    }

    /// (compressed, raw) length of each term-dictionary block.
    pub fn term_block_sizes(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.term_blocks.iter().map(|b| (b.chunk.len, b.chunk.raw))
    }

    /// Every term with its posting's ordinals, in dictionary order.
    pub fn for_each_term(&self, mut f: impl FnMut(&Term, &[u32], u64)) -> Result<(), SegmentError> {
        let mut ords = Vec::new();
        for block in &self.term_blocks {
            for (term, posting) in self.term_block(block)? {
                ords.clear();
                self.read_ordinals(&posting, &mut ords)?;
                let file_bytes = match posting {
                    PostingRef::File(_, len) => len,
                    PostingRef::Inline(_) => 0,
                };
                f(&term, &ords, file_bytes);
            }
        }
        Ok(())
    }

    pub fn trace_ordinal(&self, id: TraceId) -> Option<u32> {
        let i = self.traces.binary_search_by(|row| row.id.cmp(&id)).ok()?;
        u32::try_from(i).ok()
    }

    pub fn trace_row(&self, ord: u32) -> Option<TraceRow> {
        self.traces.get(ord as usize).copied()
    }

    /// Decodes data block `i` (all its spans, sorted by trace).
    pub fn read_block(&self, i: u32) -> Result<Vec<Span>, SegmentError> {
        let chunk = *self
            .blocks
            .get(i as usize)
            .ok_or(CorruptError("block index out of range"))?;
        let raw = read_chunk(&self.file, self.file_len, chunk)?;
        Ok(decode_spans(&raw)?)
    }

    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.services.iter().map(|s| s.name.as_str())
    }

    pub fn operations(&self, service: &str) -> impl Iterator<Item = &Operation> {
        self.service(service)
            .into_iter()
            .flat_map(|s| s.ops.iter().map(|(op, _)| op))
    }

    fn service(&self, name: &str) -> Option<&ServiceDir> {
        self.services
            .binary_search_by(|s| s.name.as_str().cmp(name))
            .ok()
            .and_then(|i| self.services.get(i))
    }

    /// The posting of traces with spans of `service` and `operation` (each may be empty
    /// for "any"), merged per trace.
    pub fn stat_posting(&self, service: &str, operation: &str) -> Decoded<Vec<(u32, Stats)>> {
        let mut ranges: Vec<&Range<usize>> = Vec::new();
        let services: Vec<&ServiceDir> = if service.is_empty() {
            self.services.iter().collect()
        } else {
            self.service(service).into_iter().collect()
        };
        if operation.is_empty() {
            if service.is_empty() {
                ranges.push(&self.all);
            } else {
                ranges.extend(services.iter().map(|s| &s.posting));
            }
        } else {
            for s in services {
                ranges.extend(
                    s.ops
                        .iter()
                        .filter(|(op, _)| op.name == operation)
                        .map(|(_, r)| r),
                );
            }
        }
        let mut out: Vec<(u32, Stats)> = Vec::new();
        let all = std::ptr::eq(ranges.first().copied().unwrap_or(&self.all), &self.all);
        let base = |ord: u32| -> u64 {
            if all || self.version < 2 {
                self.min_start
            } else {
                self.trace_start
                    .get(ord as usize)
                    .copied()
                    .unwrap_or(self.min_start)
            }
        };
        for range in &ranges {
            let bytes = self
                .postings
                .get((*range).clone())
                .ok_or(CorruptError("posting out of range"))?;
            decode_stat_posting(bytes, self.version, &base, &mut out)?;
        }
        if ranges.len() > 1 {
            out.sort_unstable_by_key(|(o, _)| *o);
            out.dedup_by(|b, a| {
                if a.0 == b.0 {
                    a.1.merge(&b.1);
                    true
                } else {
                    false
                }
            });
        }
        Ok(out)
    }

    /// Ordinals (ascending) of traces having a span with tag `key` whose value may match
    /// `value` — a superset when long values were truncated in the index.
    pub fn tag_ordinals(&self, key: &str, value: &ValueMatcher) -> Result<Vec<u32>, SegmentError> {
        let mut out = Vec::new();
        match value {
            ValueMatcher::Exact(v) => {
                let t = Term::new(key, v);
                let i = self.term_blocks.partition_point(|b| b.first <= t);
                if let Some(block) = i.checked_sub(1).and_then(|i| self.term_blocks.get(i)) {
                    for (term, posting) in self.term_block(block)? {
                        if term == t {
                            self.read_ordinals(&posting, &mut out)?;
                        }
                    }
                }
            }
            ValueMatcher::Regex(re) => {
                let (k, _) = norm_key(key);
                // Terms are sorted by (key, value): a pattern starting with a literal only
                // needs the terms whose value starts with it.
                let prefix = literal_prefix(re.as_str());
                let from = self
                    .term_blocks
                    .partition_point(|b| {
                        (b.first.key.as_str(), b.first.value.as_str()) < (k, prefix)
                    })
                    .saturating_sub(1);
                'blocks: for block in self.term_blocks.iter().skip(from) {
                    if block.first.key.as_str() > k {
                        break;
                    }
                    for (term, posting) in self.term_block(block)? {
                        if term.key.as_str() > k
                            || (term.key == k
                                && term.value.as_str() > prefix
                                && !term.value.starts_with(prefix))
                        {
                            break 'blocks;
                        }
                        if term.key == k && (term.truncated || value.matches_str(&term.value)) {
                            self.read_ordinals(&posting, &mut out)?;
                        }
                    }
                }
                out.sort_unstable();
                out.dedup();
            }
        }
        Ok(out)
    }

    fn term_block(&self, block: &TermBlockRef) -> Result<Vec<TermEntry>, SegmentError> {
        let raw = read_chunk(&self.file, self.file_len, block.chunk)?;
        let mut r = Reader::new(&raw);
        let n = r.len()?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let t = read_term(&mut r)?;
            let posting = if self.version < 2 {
                PostingRef::File(r.u64()?, r.u64()?)
            } else {
                let count = r.u64()?;
                if count <= INLINE_POSTING as u64 {
                    let mut ords = Vec::new();
                    read_ordinal_list(&mut r, count, &mut ords)?;
                    PostingRef::Inline(ords)
                } else {
                    PostingRef::File(r.u64()?, r.u64()?)
                }
            };
            out.push((t, posting));
        }
        Ok(out)
    }

    fn read_ordinals(&self, posting: &PostingRef, out: &mut Vec<u32>) -> Result<(), SegmentError> {
        let (offset, len) = match posting {
            PostingRef::Inline(ords) => {
                out.extend_from_slice(ords);
                return Ok(());
            }
            PostingRef::File(offset, len) => (*offset, *len),
        };
        let buf = read_at(&self.file, self.file_len, offset, len)?;
        let mut r = Reader::new(&buf);
        let n = r.u64()?;
        read_ordinal_list(&mut r, n, out)?;
        Ok(())
    }

    /// Every stored call: (parent service, child service) → child span starts.
    pub fn edges(&self) -> Decoded<super::segment_write::Edges> {
        let mut out = super::segment_write::Edges::new();
        let mut r = Reader::new(&self.edges);
        let n = r.len()?;
        for _ in 0..n {
            let key = (r.str()?.to_string(), r.str()?.to_string());
            let m = r.len()?;
            let mut t = 0u64;
            let times = out.entry(key).or_default();
            for _ in 0..m {
                t = t.wrapping_add(r.u64()?);
                times.push(t);
            }
        }
        Ok(out)
    }

    /// Adds the service calls whose child span started within `[start, end]`.
    pub fn dependencies(
        &self,
        start: u64,
        end: u64,
        out: &mut BTreeMap<(String, String), u64>,
    ) -> Decoded<()> {
        let mut r = Reader::new(&self.edges);
        let n = r.len()?;
        for _ in 0..n {
            let parent = r.str()?;
            let child = r.str()?;
            let m = r.len()?;
            let mut t = 0u64;
            let mut count = 0u64;
            for _ in 0..m {
                t = t.wrapping_add(r.u64()?);
                if (start..=end).contains(&t) {
                    count += 1;
                }
            }
            if count > 0 {
                *out.entry((parent.to_string(), child.to_string()))
                    .or_insert(0) += count;
            }
        }
        Ok(())
    }
}

fn parse_services(buf: &[u8]) -> Decoded<(Range<usize>, Vec<ServiceDir>)> {
    let total = buf.len();
    let mut r = Reader::new(buf);
    let pos = |r: &Reader<'_>| total - r.remaining();
    let posting = |r: &mut Reader<'_>| -> Decoded<Range<usize>> {
        let n = r.len()?;
        let start = pos(r);
        r.take(n)?;
        Ok(start..start + n)
    };
    let all = posting(&mut r)?;
    let n = r.len()?;
    let mut services = Vec::with_capacity(n);
    for _ in 0..n {
        let name = r.str()?.to_string();
        let p = posting(&mut r)?;
        let m = r.len()?;
        let mut ops = Vec::with_capacity(m);
        for _ in 0..m {
            let op = r.str()?.to_string();
            let kind = SpanKind::from_otlp(r.u8()?.into());
            ops.push((
                Operation {
                    name: op,
                    span_kind: kind,
                },
                posting(&mut r)?,
            ));
        }
        services.push(ServiceDir {
            name,
            posting: p,
            ops,
        });
    }
    if services
        .windows(2)
        .any(|w| w.first().map(|a| &a.name) >= w.get(1).map(|b| &b.name))
    {
        return Err(CorruptError("services not sorted"));
    }
    Ok((all, services))
}

/// `count` delta-coded ordinals.
fn read_ordinal_list(r: &mut Reader<'_>, count: u64, out: &mut Vec<u32>) -> Decoded<()> {
    if count > r.remaining() as u64 {
        return Err(CorruptError("length beyond end"));
    }
    let mut ord = 0u32;
    for _ in 0..count {
        ord = ord
            .checked_add(r.u32()?)
            .ok_or(CorruptError("ordinal overflow"))?;
        out.push(ord);
    }
    Ok(())
}

/// Decodes a stat posting of segment format `version` (see `put_stat_posting`); `base(ord)`
/// is what the starts are relative to.
fn decode_stat_posting(
    buf: &[u8],
    version: u8,
    base: &dyn Fn(u32) -> u64,
    out: &mut Vec<(u32, Stats)>,
) -> Decoded<()> {
    let mut r = Reader::new(buf);
    let n = r.len()?;
    let mut ord = 0u32;
    for _ in 0..n {
        ord = ord
            .checked_add(r.u32()?)
            .ok_or(CorruptError("ordinal overflow"))?;
        let (min_start, max_start, min_dur, max_dur, count);
        if version < 2 {
            min_start = base(ord).wrapping_add(r.u64()?);
            max_start = min_start.wrapping_add(r.u64()?);
            min_dur = r.u64()?;
            max_dur = min_dur.wrapping_add(r.u64()?);
            count = r.u64()?;
        } else {
            count = r.u64()?;
            min_start = base(ord).wrapping_add(r.u64()?);
            min_dur = r.u64()?;
            if count == 1 {
                (max_start, max_dur) = (min_start, min_dur);
            } else {
                max_start = min_start.wrapping_add(r.u64()?);
                max_dur = min_dur.wrapping_add(r.u64()?);
            }
        }
        out.push((
            ord,
            Stats {
                min_start,
                max_start,
                min_dur,
                max_dur,
                count,
            },
        ));
    }
    Ok(())
}

fn read_term(r: &mut Reader<'_>) -> Decoded<Term> {
    Ok(Term {
        key: r.str()?.to_string(),
        value: r.str()?.to_string(),
        truncated: r.u8()? != 0,
    })
}

fn read_at(file: &File, file_len: u64, offset: u64, len: u64) -> Result<Vec<u8>, SegmentError> {
    let end = offset
        .checked_add(len)
        .ok_or(CorruptError("range overflow"))?;
    if end > file_len || len > MAX_RAW {
        return Err(CorruptError("range beyond end of file").into());
    }
    let mut buf = vec![0u8; len as usize];
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

/// Reads, checks and decompresses one chunk.
fn read_chunk(file: &File, file_len: u64, c: Chunk) -> Result<Vec<u8>, SegmentError> {
    let comp = read_at(file, file_len, c.offset, c.len)?;
    if crc32fast::hash(&comp) != c.crc {
        return Err(CorruptError("checksum mismatch").into());
    }
    if c.raw > MAX_RAW {
        return Err(CorruptError("chunk too large").into());
    }
    // A streaming decoder grows the buffer as data arrives instead of trusting `raw`.
    let mut out = Vec::new();
    zstd::stream::read::Decoder::new(comp.as_slice())?
        .take(c.raw)
        .read_to_end(&mut out)?;
    if out.len() as u64 != c.raw {
        return Err(CorruptError("chunk length mismatch").into());
    }
    Ok(out)
}

/// The literal text every match of an anchored query regex (`^(?:pattern)$`, as the
/// matcher builds it) starts with; empty when unknown. Conservative: stops at the first
/// metacharacter, drops a character a quantifier applies to, gives up on alternation, and
/// stays well under the indexed value length so a truncated term can never sort before it.
fn literal_prefix(anchored: &str) -> &str {
    let Some(pattern) = anchored
        .strip_prefix("^(?:")
        .and_then(|p| p.strip_suffix(")$"))
    else {
        return "";
    };
    if pattern.contains('|') {
        return "";
    }
    let meta = |c: char| "\\.+*?()|[]{}^$".contains(c);
    let mut end = 0;
    let mut last_start = 0;
    for (i, c) in pattern.char_indices() {
        if meta(c) || i + c.len_utf8() > MAX_TERM_PART / 2 {
            if matches!(c, '*' | '?' | '{' | '+') {
                end = last_start;
            }
            break;
        }
        last_start = i;
        end = i + c.len_utf8();
    }
    pattern.get(..end).unwrap_or("")
}

#[cfg(test)]
mod prefix_tests {
    use super::literal_prefix;

    #[test]
    fn literal_prefixes_are_conservative() {
        let p = |s: &str| literal_prefix(&format!("^(?:{s})$")).to_string();
        assert_eq!(p("u-00012.*"), "u-00012");
        assert_eq!(p("abc*"), "ab");
        assert_eq!(p("ab?c"), "a");
        assert_eq!(p("ab+"), "a");
        assert_eq!(p("a{2}"), "");
        assert_eq!(p("foo|bar.*"), "");
        assert_eq!(p("(?i)abc.*"), "");
        assert_eq!(p(r"a\.b.*"), "a");
        assert_eq!(p(".*x"), "");
        assert_eq!(p("é€x.*"), "é€x");
        assert_eq!(p(&"x".repeat(100)).len(), 32);
    }
}
