//! The write-ahead log: every acknowledged batch is here, fsynced, until the segment files
//! holding it are durable.
//!
//! A WAL file is a sequence of frames `[len: u32 LE][crc32(payload): u32 LE][payload]`, the
//! payload being [`super::codec::encode_spans`] of one batch. Files are named
//! `wal/<seq>.wal`; a new one starts each time the write buffer is frozen for flushing, and
//! a file is deleted once the segments built from its buffer are on disk.
//!
//! Recovery reads frames until the first one that is short or fails its checksum — a tail
//! torn by a crash mid-append, which was never acknowledged — and drops the rest.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sextant_model::Span;

use super::codec::decode_spans;

/// A payload larger than this is refused on write and treated as corruption on replay.
pub const MAX_FRAME: usize = 256 << 20;
const HEADER: usize = 8;

/// Builds one frame around an encoded batch.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + HEADER);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// What [`parse_frames`] found in one file.
#[derive(Debug, Default)]
pub struct Parsed {
    pub spans: Vec<Span>,
    /// Bytes of whole, valid frames from the start of the file.
    pub valid_len: usize,
    /// True when bytes after `valid_len` were dropped (a torn or corrupt tail).
    pub torn: bool,
}

/// Decodes frames until the end or the first invalid one. Never panics.
pub fn parse_frames(buf: &[u8]) -> Parsed {
    let mut parsed = Parsed::default();
    let mut rest = buf;
    while !rest.is_empty() {
        let Some(spans) = next_frame(&mut rest) else {
            parsed.torn = true;
            break;
        };
        parsed.spans.extend(spans);
        parsed.valid_len = buf.len() - rest.len();
    }
    parsed
}

fn next_frame(rest: &mut &[u8]) -> Option<Vec<Span>> {
    let header = rest.get(..HEADER)?;
    let len = u32::from_le_bytes(header.get(..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header.get(4..8)?.try_into().ok()?);
    if len > MAX_FRAME {
        return None;
    }
    let payload = rest.get(HEADER..HEADER.checked_add(len)?)?;
    if crc32fast::hash(payload) != crc {
        return None;
    }
    let spans = decode_spans(payload).ok()?;
    *rest = rest.get(HEADER + len..)?;
    Some(spans)
}

fn wal_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.wal"))
}

/// The sequence numbers of the WAL files in `dir`, ascending.
pub fn list(dir: &Path) -> io::Result<Vec<u64>> {
    let mut seqs = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(seq) = name.strip_suffix(".wal").and_then(|s| s.parse().ok()) {
            seqs.push(seq);
        }
    }
    seqs.sort_unstable();
    Ok(seqs)
}

/// Reads every span of WAL file `seq`, dropping a torn tail (logged).
pub fn replay(dir: &Path, seq: u64) -> io::Result<Vec<Span>> {
    let path = wal_path(dir, seq);
    let buf = fs::read(&path)?;
    let parsed = parse_frames(&buf);
    if parsed.torn {
        tracing::warn!(
            file = %path.display(),
            dropped_bytes = buf.len() - parsed.valid_len,
            "dropping the torn tail of a WAL file (a write that was never acknowledged)"
        );
    }
    Ok(parsed.spans)
}

pub fn remove(dir: &Path, seq: u64) -> io::Result<()> {
    match fs::remove_file(wal_path(dir, seq)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The WAL file being appended to.
pub struct WalWriter {
    dir: PathBuf,
    seq: u64,
    file: File,
}

impl WalWriter {
    /// Creates WAL file `seq` (fresh: an existing file of that number is truncated).
    pub fn create(dir: &Path, seq: u64) -> io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(wal_path(dir, seq))?;
        sync_dir(dir)?;
        Ok(WalWriter {
            dir: dir.to_path_buf(),
            seq,
            file,
        })
    }

    /// Appends already framed bytes and makes them durable before returning.
    pub fn append_durable(&mut self, frames: &[u8]) -> io::Result<()> {
        self.file.write_all(frames)?;
        self.file.sync_data()
    }

    /// Starts the next file; returns the sequence number of the one just closed.
    pub fn rotate(&mut self) -> io::Result<u64> {
        let next = WalWriter::create(&self.dir, self.seq + 1)?;
        Ok(std::mem::replace(self, next).seq)
    }
}

/// Makes a directory's entries (created, renamed, removed files) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sextant_model::{Resource, SpanId, TraceId};

    use super::super::codec::encode_spans;
    use super::*;

    fn batch(n: u64) -> Vec<Span> {
        (0..n)
            .map(|i| Span {
                trace_id: TraceId(7),
                span_id: SpanId(i + 1),
                name: format!("op{i}"),
                resource: Arc::new(Resource {
                    service_name: "svc".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn torn_and_corrupt_tails_are_dropped() {
        let mut file = frame(&encode_spans(&batch(3)));
        let first = file.len();
        file.extend(frame(&encode_spans(&batch(2))));
        let whole = parse_frames(&file);
        assert_eq!((whole.spans.len(), whole.torn), (5, false));
        // Every truncation point keeps exactly the whole frames before it.
        for cut in 0..file.len() {
            let p = parse_frames(&file[..cut]);
            let want = if cut >= first { 3 } else { 0 };
            assert_eq!(p.spans.len(), want, "cut at {cut}");
            assert_eq!(p.torn, cut != first && cut != 0);
        }
        // A flipped bit anywhere in the second frame drops it, never the first.
        for i in first..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x10;
            let p = parse_frames(&bad);
            assert_eq!(p.spans.len(), 3, "flip at {i}");
            assert!(p.torn);
        }
        // A huge length is not trusted.
        let mut huge = vec![0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0];
        huge.extend([0u8; 16]);
        assert!(parse_frames(&huge).torn);
    }

    #[test]
    fn files_rotate_and_replay() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = WalWriter::create(dir.path(), 1).unwrap();
        w.append_durable(&frame(&encode_spans(&batch(2)))).unwrap();
        assert_eq!(w.rotate().unwrap(), 1);
        w.append_durable(&frame(&encode_spans(&batch(1)))).unwrap();
        assert_eq!(list(dir.path()).unwrap(), vec![1, 2]);
        assert_eq!(replay(dir.path(), 1).unwrap().len(), 2);
        assert_eq!(replay(dir.path(), 2).unwrap().len(), 1);
        remove(dir.path(), 1).unwrap();
        remove(dir.path(), 1).unwrap();
        assert_eq!(list(dir.path()).unwrap(), vec![2]);
    }
}
