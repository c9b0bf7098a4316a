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
use super::segment_write::{Stats, FOOTER_LEN, MAGIC, META_VERSION};
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

/// A term and where its posting list is in the file (offset, length).
type TermEntry = (Term, (u64, u64));

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
    file: File,
    file_len: u64,
    blocks: Vec<Chunk>,
    traces: Vec<TraceRow>,
    postings: Vec<u8>,
    all: Range<usize>,
    services: Vec<ServiceDir>,
    term_blocks: Vec<TermBlockRef>,
    edges: Vec<u8>,
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
        if r.u8()? != META_VERSION {
            return Err(CorruptError("unknown segment version").into());
        }
        let partition = r.u64()?;
        let min_start = r.u64()?;
        let max_start = r.u64()?;
        let span_count = r.u64()?;
        let n = r.len()?;
        let mut blocks = Vec::with_capacity(n);
        for _ in 0..n {
            blocks.push(read_chunk_ref(&mut r)?);
        }
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
        let postings = r.bytes()?.to_vec();
        let (all, services) = parse_services(&postings)?;
        let n = r.len()?;
        let mut term_blocks = Vec::with_capacity(n);
        for _ in 0..n {
            let first = read_term(&mut r)?;
            term_blocks.push(TermBlockRef {
                first,
                chunk: read_chunk_ref(&mut r)?,
            });
        }
        let edges = r.bytes()?.to_vec();
        Ok(Segment {
            id,
            partition,
            path: path.to_path_buf(),
            min_start,
            max_start,
            span_count,
            file,
            file_len,
            blocks,
            traces,
            postings,
            all,
            services,
            term_blocks,
            edges,
        })
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
        for range in &ranges {
            let bytes = self
                .postings
                .get((*range).clone())
                .ok_or(CorruptError("posting out of range"))?;
            decode_stat_posting(bytes, self.min_start, &mut out)?;
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
                    for (term, range) in self.term_block(block)? {
                        if term == t {
                            self.read_ordinals(range, &mut out)?;
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
                    for (term, range) in self.term_block(block)? {
                        if term.key.as_str() > k
                            || (term.key == k
                                && term.value.as_str() > prefix
                                && !term.value.starts_with(prefix))
                        {
                            break 'blocks;
                        }
                        if term.key == k && (term.truncated || value.matches_str(&term.value)) {
                            self.read_ordinals(range, &mut out)?;
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
            out.push((t, (r.u64()?, r.u64()?)));
        }
        Ok(out)
    }

    fn read_ordinals(
        &self,
        (offset, len): (u64, u64),
        out: &mut Vec<u32>,
    ) -> Result<(), SegmentError> {
        let buf = read_at(&self.file, self.file_len, offset, len)?;
        let mut r = Reader::new(&buf);
        let n = r.len()?;
        let mut ord = 0u32;
        for _ in 0..n {
            ord = ord
                .checked_add(r.u32()?)
                .ok_or(CorruptError("ordinal overflow"))?;
            out.push(ord);
        }
        Ok(())
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

fn decode_stat_posting(buf: &[u8], base: u64, out: &mut Vec<(u32, Stats)>) -> Decoded<()> {
    let mut r = Reader::new(buf);
    let n = r.len()?;
    let mut ord = 0u32;
    for _ in 0..n {
        ord = ord
            .checked_add(r.u32()?)
            .ok_or(CorruptError("ordinal overflow"))?;
        let min_start = base.wrapping_add(r.u64()?);
        let max_start = min_start.wrapping_add(r.u64()?);
        let min_dur = r.u64()?;
        let max_dur = min_dur.wrapping_add(r.u64()?);
        let count = r.u64()?;
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
