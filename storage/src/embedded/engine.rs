//! The engine: state shared by the store handle and its three threads.
//!
//! * The **commit thread** owns the WAL. It takes every request queued since its last
//!   fsync, appends them in one write, fsyncs once (group commit), inserts the spans into
//!   the active buffer and only then acknowledges — so an acknowledged span is durable and
//!   visible. It freezes the buffer when it is full, and runs purges and shutdown in order
//!   with writes.
//! * The **flush thread** turns a frozen buffer into one segment per time partition,
//!   publishes them and deletes the WAL file the buffer came from.
//! * The **retention thread** drops whole partitions older than the retention period.
//!
//! Readers take a [`Snapshot`] (a few `Arc` clones under a short lock) and never wait for
//! disk I/O of writers.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use foldhash::fast::RandomState;
use parking_lot::{Condvar, Mutex, RwLock};
use sextant_model::{Span, TraceId};
use tokio::sync::{mpsc, oneshot};

use super::cache::BlockCache;
use super::deps::EdgeTally;
use super::memtable::Memtable;
use super::segment::Segment;
use super::segment_write::{write_segment, Edges, WriteOptions, BLOCK_BYTES};
use super::wal::{self, WalWriter};
use crate::{Result, StorageError};

pub const HOUR_NANOS: u64 = 3_600_000_000_000;

/// Tuning of an open store (see `EmbeddedArgs` for the flags).
#[derive(Clone, Debug)]
pub struct EmbeddedOptions {
    /// Partitions whose whole hour ended longer ago than this are dropped.
    pub retention: Duration,
    /// How often retention runs.
    pub retention_check_interval: Duration,
    /// The write buffer is flushed to segments at this estimated size…
    pub max_buffer_bytes: usize,
    /// …or at this many spans, whichever comes first.
    pub max_buffer_spans: usize,
    /// Decoded data blocks kept in memory, counted in spans.
    pub cache_spans: usize,
    /// zstd level for segment blocks and indexes.
    pub compression_level: i32,
    /// Target size of a segment data block (see `WriteOptions::block_bytes`).
    pub block_bytes: usize,
    /// Write requests queued for the commit thread before writers wait.
    pub queue_depth: usize,
    /// Acknowledge a write that fills the buffer only once the buffer is in segment files,
    /// so reads after it are served from segments. For tests; it stalls ingest.
    pub flush_before_ack: bool,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions {
            retention: Duration::from_secs(72 * 3600),
            retention_check_interval: Duration::from_secs(60),
            max_buffer_bytes: 128 << 20,
            max_buffer_spans: 250_000,
            cache_spans: 100_000,
            compression_level: 3,
            block_bytes: BLOCK_BYTES,
            queue_depth: 1024,
            flush_before_ack: false,
        }
    }
}

pub type Buffer = Arc<RwLock<Memtable>>;

/// What a reader sees: consistent at one instant.
#[derive(Clone)]
pub struct Snapshot {
    pub active: Buffer,
    pub frozen: Option<Buffer>,
    pub segments: Arc<Vec<Arc<Segment>>>,
}

pub enum Request {
    Write {
        frame: Vec<u8>,
        spans: Vec<Span>,
        ack: oneshot::Sender<Result<()>>,
    },
    Purge(oneshot::Sender<Result<()>>),
    /// Flush everything to segments and stop.
    Close(oneshot::Sender<Result<()>>),
}

#[derive(Default)]
struct FlushState {
    /// A frozen buffer waiting for (or in) the flush thread, with its WAL files.
    pending: Option<(Buffer, Vec<u64>)>,
    shutdown: bool,
    last_error: Option<String>,
}

pub struct Shared {
    pub dir: PathBuf,
    pub options: EmbeddedOptions,
    pub snapshot: RwLock<Snapshot>,
    pub cache: BlockCache,
    next_segment: AtomicU64,
    flush: Mutex<FlushState>,
    flush_cv: Condvar,
    /// Held for the store's lifetime: a second process opening the same directory would
    /// replay and delete the first one's WAL.
    _dir_lock: fs::File,
}

/// Takes the directory's exclusive lock (released by the OS when the process dies, so a
/// crash never leaves a stale lock behind).
fn lock_directory(dir: &Path) -> Result<fs::File> {
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("LOCK"))
        .map_err(|e| backend("opening the lock file", e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(StorageError::Backend(format!(
            "embedded store: {} is in use by another process",
            dir.display()
        ))),
        Err(fs::TryLockError::Error(e)) => Err(backend("locking the directory", e)),
    }
}

fn backend(context: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(format!("embedded store: {context}: {e}"))
}

fn wal_dir(dir: &Path) -> PathBuf {
    dir.join("wal")
}

fn parts_dir(dir: &Path) -> PathBuf {
    dir.join("partitions")
}

fn partition_dir(dir: &Path, partition: u64) -> PathBuf {
    parts_dir(dir).join(format!("{partition:010}"))
}

impl Shared {
    /// Opens (or creates) a store directory: loads segments, replays and flushes the WAL.
    /// Returns the shared state and the WAL writer for the commit thread.
    pub fn open(dir: &Path, options: EmbeddedOptions) -> Result<(Arc<Shared>, WalWriter)> {
        fs::create_dir_all(wal_dir(dir)).map_err(|e| backend("creating directories", e))?;
        fs::create_dir_all(parts_dir(dir)).map_err(|e| backend("creating directories", e))?;
        let dir_lock = lock_directory(dir)?;
        let segments = load_segments(dir)?;
        let next = segments.iter().map(|s| s.id + 1).max().unwrap_or(1);
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            cache: BlockCache::new(options.cache_spans.max(1)),
            options,
            snapshot: RwLock::new(Snapshot {
                active: Buffer::default(),
                frozen: None,
                segments: Arc::new(segments),
            }),
            next_segment: AtomicU64::new(next),
            flush: Mutex::new(FlushState::default()),
            flush_cv: Condvar::new(),
            _dir_lock: dir_lock,
        });
        // Replay: everything in the WAL was acknowledged (or is a torn tail, dropped).
        let wdir = wal_dir(dir);
        let seqs = wal::list(&wdir).map_err(|e| backend("listing the WAL", e))?;
        let mut replayed = Memtable::default();
        for &seq in &seqs {
            for span in wal::replay(&wdir, seq).map_err(|e| backend("reading the WAL", e))? {
                replayed.insert(span);
            }
        }
        if !replayed.is_empty() {
            tracing::info!(spans = replayed.len(), "recovered spans from the WAL");
            shared.flush_buffer(&replayed)?;
        }
        for &seq in &seqs {
            wal::remove(&wdir, seq).map_err(|e| backend("removing a WAL file", e))?;
        }
        let next_wal = seqs.last().map_or(1, |s| s + 1);
        let writer =
            WalWriter::create(&wdir, next_wal).map_err(|e| backend("creating the WAL", e))?;
        Ok((shared, writer))
    }

    pub fn snapshot(&self) -> Snapshot {
        self.snapshot.read().clone()
    }

    /// Writes `buffer` as segments (one per partition) and publishes them.
    fn flush_buffer(&self, buffer: &Memtable) -> Result<()> {
        let segments = self.snapshot().segments;
        let mut by_trace: HashMap<TraceId, Vec<&Span>, RandomState> = HashMap::default();
        for s in buffer.spans() {
            by_trace.entry(s.trace_id).or_default().push(s);
        }
        // Segments are written from the buffer's spans by reference: cloning (and later
        // dropping) every span was a fifth of a flush.
        let mut parts: BTreeMap<u64, Vec<&Span>> = BTreeMap::new();
        let mut edges: BTreeMap<u64, Edges> = BTreeMap::new();
        let mut tally = EdgeTally::default();
        for (id, spans) in by_trace {
            let mut old = Vec::new();
            for seg in segments.iter() {
                if let Some(ord) = seg.trace_ordinal(id) {
                    old.extend(
                        self.cache
                            .trace(seg, ord)
                            .map_err(|e| backend("reading a segment", e))?,
                    );
                }
            }
            // Spans already in segments (a replayed WAL, a client retry) are not stored twice.
            let new: Vec<&Span> = spans
                .into_iter()
                .filter(|s| !old.iter().any(|o| o.span_id == s.span_id && o == *s))
                .collect();
            tally.add_trace(&new, &old);
            for s in new {
                parts
                    .entry(s.start_time_unix_nano / HOUR_NANOS)
                    .or_default()
                    .push(s);
            }
        }
        // Edges go to the segment of the child's partition when this flush writes one.
        for ((parent, child), times) in tally.into_edges() {
            for t in times {
                let p = t / HOUR_NANOS;
                let target = if parts.contains_key(&p) {
                    p
                } else {
                    parts.keys().next().copied().unwrap_or(p)
                };
                edges
                    .entry(target)
                    .or_default()
                    .entry((parent.clone(), child.clone()))
                    .or_default()
                    .push(t);
            }
        }
        let mut written = Vec::new();
        let empty = Edges::new();
        for (partition, spans) in parts {
            let id = self.next_segment.fetch_add(1, Ordering::Relaxed);
            let dir = partition_dir(&self.dir, partition);
            let e = edges.get(&partition).unwrap_or(&empty);
            let path = write_segment(
                &dir,
                id,
                partition,
                spans,
                e,
                WriteOptions {
                    level: self.options.compression_level,
                    block_bytes: self.options.block_bytes,
                },
            )
            .map_err(|e| backend("writing a segment", e))?;
            let seg = Segment::open(&path, id).map_err(|e| backend("reopening a segment", e))?;
            written.push(Arc::new(seg));
        }
        let mut snap = self.snapshot.write();
        let mut list = (*snap.segments).clone();
        list.extend(written);
        snap.segments = Arc::new(list);
        Ok(())
    }

    /// Drops partitions entirely older than the retention period; returns how many.
    pub fn apply_retention(&self, now_nanos: u64) -> usize {
        let keep_after = now_nanos
            .saturating_sub(u64::try_from(self.options.retention.as_nanos()).unwrap_or(u64::MAX));
        let expired = |s: &Segment| (s.partition + 1).saturating_mul(HOUR_NANOS) <= keep_after;
        let dropped: Vec<Arc<Segment>> = {
            let mut snap = self.snapshot.write();
            let (old, keep): (Vec<_>, Vec<_>) =
                snap.segments.iter().cloned().partition(|s| expired(s));
            if old.is_empty() {
                return 0;
            }
            snap.segments = Arc::new(keep);
            old
        };
        self.delete_segments(&dropped);
        let mut partitions: Vec<u64> = dropped.iter().map(|s| s.partition).collect();
        partitions.dedup();
        tracing::info!(?partitions, "retention dropped expired partitions");
        partitions.len()
    }

    fn delete_segments(&self, segments: &[Arc<Segment>]) {
        let ids: Vec<u64> = segments.iter().map(|s| s.id).collect();
        self.cache.forget(&ids);
        for s in segments {
            if let Err(e) = fs::remove_file(&s.path) {
                tracing::warn!(path = %s.path.display(), error = %e, "removing a segment");
            }
            // Succeeds only once the partition directory is empty.
            let _ = fs::remove_dir(partition_dir(&self.dir, s.partition));
        }
    }

    /// Waits until the flush thread has nothing pending.
    fn wait_flush_idle(&self) -> Result<()> {
        let mut st = self.flush.lock();
        while st.pending.is_some() && !st.shutdown {
            self.flush_cv.wait(&mut st);
        }
        match st.last_error.take() {
            Some(e) => Err(StorageError::Backend(e)),
            None => Ok(()),
        }
    }

    /// Hands the active buffer to the flush thread and starts a new one.
    fn freeze(&self, wal: &mut WalWriter, wal_seqs: &mut Vec<u64>) -> io::Result<()> {
        // One frozen buffer at a time: a second full buffer waits (backpressure).
        let _ = self.wait_flush_idle();
        wal_seqs.push(wal.rotate()?);
        let seqs = std::mem::take(wal_seqs);
        let frozen = {
            let mut snap = self.snapshot.write();
            let old = std::mem::take(&mut snap.active);
            snap.frozen = Some(old.clone());
            old
        };
        let mut st = self.flush.lock();
        st.pending = Some((frozen, seqs));
        self.flush_cv.notify_all();
        Ok(())
    }

    pub fn stop(&self) {
        self.flush.lock().shutdown = true;
        self.flush_cv.notify_all();
    }
}

fn load_segments(dir: &Path) -> Result<Vec<Arc<Segment>>> {
    let mut out = Vec::new();
    let parts = fs::read_dir(parts_dir(dir)).map_err(|e| backend("listing partitions", e))?;
    for part in parts {
        let part = part.map_err(|e| backend("listing partitions", e))?.path();
        let Ok(files) = fs::read_dir(&part) else {
            continue;
        };
        for f in files.flatten() {
            let path = f.path();
            let name = f.file_name().to_string_lossy().into_owned();
            if name.ends_with(".seg.tmp") {
                // A flush that crashed before its rename: its WAL is still there.
                let _ = fs::remove_file(&path);
                continue;
            }
            let Some(id) = name
                .strip_suffix(".seg")
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            match Segment::open(&path, id) {
                Ok(seg) => out.push(Arc::new(seg)),
                Err(e) => {
                    // Renamed only after fsync, so this is outside damage: keep the file for
                    // inspection, serve the rest.
                    tracing::error!(path = %path.display(), error = %e, "skipping an unreadable segment");
                }
            }
        }
    }
    out.sort_by_key(|s| s.id);
    Ok(out)
}

/// The commit thread: group commit of queued writes, buffer rotation, purge and close.
pub fn commit_loop(shared: Arc<Shared>, mut wal: WalWriter, mut rx: mpsc::Receiver<Request>) {
    let mut wal_seqs: Vec<u64> = Vec::new();
    let max_group_bytes = 64 << 20;
    while let Some(first) = rx.blocking_recv() {
        let mut writes = Vec::new();
        let mut control = None;
        let mut bytes = 0usize;
        let mut next = Some(first);
        while let Some(req) = next.take() {
            match req {
                Request::Write { frame, spans, ack } => {
                    bytes += frame.len();
                    writes.push((frame, spans, ack));
                }
                other => {
                    control = Some(other);
                    break;
                }
            }
            if bytes < max_group_bytes {
                next = rx.try_recv().ok();
            }
        }
        if !writes.is_empty() {
            commit(&shared, &mut wal, &mut wal_seqs, writes);
        }
        match control {
            None => {}
            Some(Request::Purge(ack)) => {
                let _ = ack.send(purge(&shared, &mut wal, &mut wal_seqs));
            }
            Some(Request::Close(ack)) => {
                let _ = ack.send(close(&shared, &mut wal, &mut wal_seqs));
                break;
            }
            Some(Request::Write { ack, .. }) => {
                let _ = ack.send(Err(backend("commit", "unexpected request")));
            }
        }
    }
    shared.stop();
}

type Write = (Vec<u8>, Vec<Span>, oneshot::Sender<Result<()>>);

fn commit(shared: &Shared, wal: &mut WalWriter, wal_seqs: &mut Vec<u64>, writes: Vec<Write>) {
    let mut buf = Vec::with_capacity(writes.iter().map(|w| w.0.len()).sum());
    for (frame, _, _) in &writes {
        buf.extend_from_slice(frame);
    }
    if let Err(e) = wal.append_durable(&buf) {
        tracing::error!(error = %e, "WAL append failed; starting a new WAL file");
        // The failed append may have left a partial frame: later frames in this file
        // would be unreachable on replay, so continue in a fresh file.
        match wal.rotate() {
            Ok(seq) => wal_seqs.push(seq),
            Err(e) => tracing::error!(error = %e, "cannot start a new WAL file"),
        }
        for (_, _, ack) in writes {
            let _ = ack.send(Err(backend("writing the WAL", &e)));
        }
        return;
    }
    let active = shared.snapshot().active;
    let mut acks = Vec::with_capacity(writes.len());
    let full = {
        let mut mem = active.write();
        for (_, spans, ack) in writes {
            for s in spans {
                mem.insert(s);
            }
            acks.push(ack);
        }
        mem.bytes() >= shared.options.max_buffer_bytes
            || mem.len() >= shared.options.max_buffer_spans
    };
    if full {
        if let Err(e) = shared.freeze(wal, wal_seqs) {
            tracing::error!(error = %e, "cannot rotate the WAL; the buffer keeps growing");
        }
        if shared.options.flush_before_ack {
            if let Err(e) = shared.wait_flush_idle() {
                tracing::error!(error = %e, "flush failed");
            }
        }
    }
    for ack in acks {
        let _ = ack.send(Ok(()));
    }
}

fn purge(shared: &Shared, wal: &mut WalWriter, wal_seqs: &mut Vec<u64>) -> Result<()> {
    shared.wait_flush_idle()?;
    let dropped = {
        let mut snap = shared.snapshot.write();
        snap.active = Buffer::default();
        snap.frozen = None;
        std::mem::take(&mut snap.segments)
    };
    shared.delete_segments(&dropped);
    wal_seqs.push(wal.rotate().map_err(|e| backend("rotating the WAL", e))?);
    for seq in wal_seqs.drain(..) {
        wal::remove(&wal_dir(&shared.dir), seq).map_err(|e| backend("removing the WAL", e))?;
    }
    Ok(())
}

fn close(shared: &Shared, wal: &mut WalWriter, wal_seqs: &mut Vec<u64>) -> Result<()> {
    if !shared.snapshot().active.read().is_empty() {
        shared
            .freeze(wal, wal_seqs)
            .map_err(|e| backend("rotating the WAL", e))?;
    }
    shared.wait_flush_idle()
}

/// The flush thread.
pub fn flush_loop(shared: Arc<Shared>) {
    let mut dropping = None;
    loop {
        let (buffer, seqs) = {
            let mut st = shared.flush.lock();
            loop {
                if let Some(p) = &st.pending {
                    break p.clone();
                }
                if st.shutdown {
                    return;
                }
                shared.flush_cv.wait(&mut st);
            }
        };
        let result = {
            let mem = buffer.read();
            shared.flush_buffer(&mem)
        };
        let mut st = shared.flush.lock();
        match result {
            Ok(()) => {
                {
                    let mut snap = shared.snapshot.write();
                    if snap
                        .frozen
                        .as_ref()
                        .is_some_and(|f| Arc::ptr_eq(f, &buffer))
                    {
                        snap.frozen = None;
                    }
                }
                for seq in seqs {
                    if let Err(e) = wal::remove(&wal_dir(&shared.dir), seq) {
                        tracing::warn!(error = %e, "removing a flushed WAL file");
                    }
                }
                st.pending = None;
                drop_elsewhere(buffer, &mut dropping);
            }
            Err(e) => {
                // The frozen buffer stays readable and its WAL stays on disk; retry later.
                tracing::error!(error = %e, "flush failed; will retry");
                st.last_error = Some(e.to_string());
                if st.shutdown {
                    return;
                }
                shared.flush_cv.wait_for(&mut st, Duration::from_secs(1));
            }
        }
        shared.flush_cv.notify_all();
    }
}

/// Drops a flushed buffer on a thread of its own: freeing its spans is close to a tenth of
/// a flush, and the next flush need not wait for it. One such drop at a time (`dropping`
/// is the one in progress), so freed buffers cannot pile up.
fn drop_elsewhere(buffer: Buffer, dropping: &mut Option<std::thread::JoinHandle<()>>) {
    if let Some(previous) = dropping.take() {
        let _ = previous.join();
    }
    // If the thread cannot start, the closure (and the buffer) is dropped here instead.
    *dropping = std::thread::Builder::new()
        .name("embedded-drop".to_string())
        .spawn(move || drop(buffer))
        .ok();
}

/// The retention thread: runs at start and then every check interval until shutdown.
pub fn retention_loop(shared: Arc<Shared>) {
    loop {
        shared.apply_retention(now_nanos());
        let mut st = shared.flush.lock();
        if st.shutdown {
            return;
        }
        shared
            .flush_cv
            .wait_for(&mut st, shared.options.retention_check_interval);
        if st.shutdown {
            return;
        }
    }
}

pub fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
