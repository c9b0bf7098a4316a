//! A bounded cache of decoded data blocks, so repeated trace fetches and search
//! verifications of neighbouring traces decompress a block once.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use sextant_model::Span;

use super::segment::{Segment, SegmentError};

type Key = (u64, u32);

struct Inner {
    map: HashMap<Key, (Arc<Vec<Span>>, u64)>,
    tick: u64,
    spans: usize,
}

/// Least-recently-used eviction, bounded by the number of cached spans.
pub struct BlockCache {
    max_spans: usize,
    inner: Mutex<Inner>,
}

impl BlockCache {
    pub fn new(max_spans: usize) -> Self {
        BlockCache {
            max_spans,
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                tick: 0,
                spans: 0,
            }),
        }
    }

    pub fn block(&self, seg: &Segment, block: u32) -> Result<Arc<Vec<Span>>, SegmentError> {
        let key = (seg.id, block);
        {
            let mut inner = self.inner.lock();
            inner.tick += 1;
            let tick = inner.tick;
            if let Some((spans, used)) = inner.map.get_mut(&key) {
                *used = tick;
                return Ok(spans.clone());
            }
        }
        // Decoded outside the lock: other readers keep going meanwhile.
        let spans = Arc::new(seg.read_block(block)?);
        let mut inner = self.inner.lock();
        inner.spans += spans.len();
        let tick = inner.tick;
        if let Some((old, _)) = inner.map.insert(key, (spans.clone(), tick)) {
            inner.spans -= old.len();
        }
        while inner.spans > self.max_spans && inner.map.len() > 1 {
            let Some(oldest) = inner
                .map
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| *k)
            else {
                break;
            };
            if let Some((old, _)) = inner.map.remove(&oldest) {
                inner.spans -= old.len();
            }
        }
        Ok(spans)
    }

    /// The spans of trace `ord` of `seg`.
    pub fn trace(&self, seg: &Segment, ord: u32) -> Result<Vec<Span>, SegmentError> {
        let Some(row) = seg.trace_row(ord) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for b in row.first_block..row.first_block.saturating_add(row.blocks) {
            let spans = self.block(seg, b)?;
            let from = spans.partition_point(|s| s.trace_id < row.id);
            out.extend(
                spans
                    .iter()
                    .skip(from)
                    .take_while(|s| s.trace_id == row.id)
                    .cloned(),
            );
        }
        Ok(out)
    }

    /// Forgets every block of these segments (after they were deleted).
    pub fn forget(&self, segment_ids: &[u64]) {
        let mut inner = self.inner.lock();
        let before: usize = inner.spans;
        let mut removed = 0;
        inner.map.retain(|(id, _), (spans, _)| {
            let keep = !segment_ids.contains(id);
            if !keep {
                removed += spans.len();
            }
            keep
        });
        inner.spans = before - removed;
    }
}
