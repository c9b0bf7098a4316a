//! Trace search over the write buffers and the segments, with one ordering rule: traces by
//! the start of their most recent *matching* span, newest first.
//!
//! Each source yields candidates with an upper bound on that key. Buffered spans and
//! segment postings whose figures prove every span in them matches are exact; the rest are
//! verified by decoding the trace's spans and running the shared matcher. Candidates are
//! taken in descending bound order and the search stops as soon as `limit` traces are
//! confirmed with keys above every remaining bound — so a search touches few blocks.

use std::collections::HashMap;

use sextant_model::TraceId;

use super::segment::{Segment, SegmentError};
use crate::matcher::CompiledQuery;

#[derive(Clone, Copy, Debug)]
pub struct Candidate {
    pub ub: u64,
    pub trace: TraceId,
    /// `None` for an exact candidate (its key is `ub`); else (segment index, ordinal) to
    /// verify.
    pub verify: Option<(usize, u32)>,
}

/// The candidates one segment offers for `q`.
pub fn segment_candidates(
    seg_index: usize,
    seg: &Segment,
    q: &CompiledQuery,
    out: &mut Vec<Candidate>,
) -> Result<(), SegmentError> {
    let (qmin, qmax) = q.start_time_range();
    if seg.span_count == 0 || seg.max_start < qmin || seg.min_start > qmax {
        return Ok(());
    }
    let (dmin, dmax) = q.duration_range();
    let mut entries = seg.stat_posting(q.service(), q.operation())?;
    entries.retain(|(_, s)| {
        s.max_start >= qmin && s.min_start <= qmax && s.max_dur >= dmin && s.min_dur <= dmax
    });
    for tag in q.tags() {
        if entries.is_empty() {
            break;
        }
        let ords = seg.tag_ordinals(&tag.key, &tag.value)?;
        entries.retain(|(o, _)| ords.binary_search(o).is_ok());
    }
    let no_tags = q.tags().is_empty();
    for (ord, s) in entries {
        let Some(row) = seg.trace_row(ord) else {
            continue;
        };
        let all_match = no_tags
            && s.min_start >= qmin
            && s.max_start <= qmax
            && s.min_dur >= dmin
            && s.max_dur <= dmax;
        out.push(Candidate {
            ub: s.max_start.min(qmax),
            trace: row.id,
            verify: (!all_match).then_some((seg_index, ord)),
        });
    }
    Ok(())
}

/// Picks the `limit` best traces. `verify` returns the key of a candidate (its newest
/// matching span's start) or `None` when nothing in it matches.
pub fn rank<E>(
    mut cands: Vec<Candidate>,
    limit: usize,
    mut verify: impl FnMut(usize, u32) -> Result<Option<u64>, E>,
) -> Result<Vec<TraceId>, E> {
    cands.sort_unstable_by_key(|c| std::cmp::Reverse((c.ub, c.trace)));
    let mut keys: HashMap<TraceId, u64> = HashMap::new();
    let mut i = 0;
    while let Some(c) = cands.get(i) {
        i += 1;
        // A trace already confirmed at or above this bound cannot improve here.
        if keys.get(&c.trace).is_some_and(|&k| k >= c.ub) {
            continue;
        }
        let key = match c.verify {
            None => Some(c.ub),
            Some((seg, ord)) => verify(seg, ord)?,
        };
        if let Some(key) = key {
            let k = keys.entry(c.trace).or_insert(key);
            *k = (*k).max(key);
        }
        if keys.len() >= limit && i % 16 == 0 {
            if let Some(next) = cands.get(i) {
                if kth_largest(&keys, limit) > next.ub {
                    break;
                }
            }
        }
    }
    let mut found: Vec<(u64, TraceId)> = keys.into_iter().map(|(t, k)| (k, t)).collect();
    found.sort_unstable_by(|a, b| b.cmp(a));
    Ok(found.into_iter().take(limit).map(|(_, t)| t).collect())
}

fn kth_largest(keys: &HashMap<TraceId, u64>, k: usize) -> u64 {
    let mut v: Vec<u64> = keys.values().copied().collect();
    let Some(idx) = k.checked_sub(1).filter(|&i| i < v.len()) else {
        return 0;
    };
    let (_, kth, _) = v.select_nth_unstable_by(idx, |a, b| b.cmp(a));
    *kth
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(ub: u64, t: u128, verify: bool) -> Candidate {
        Candidate {
            ub,
            trace: TraceId(t),
            verify: verify.then_some((0, t as u32)),
        }
    }

    #[test]
    fn orders_by_verified_key_not_bound() {
        // Trace 1's bound is highest but its real key is lowest.
        let cands = vec![c(100, 1, true), c(90, 2, false), c(80, 3, false)];
        let keys = |_: usize, ord: u32| Ok::<_, ()>(Some(if ord == 1 { 10 } else { 0 }));
        assert_eq!(
            rank(cands.clone(), 2, keys).unwrap(),
            vec![TraceId(2), TraceId(3)]
        );
        assert_eq!(
            rank(cands, 5, keys).unwrap(),
            vec![TraceId(2), TraceId(3), TraceId(1)]
        );
        let none = |_: usize, _: u32| Ok::<_, ()>(None);
        assert_eq!(rank(vec![c(5, 9, true)], 3, none).unwrap(), vec![]);
    }

    #[test]
    fn stops_early_once_the_limit_is_certain() {
        let mut cands: Vec<_> = (0..1000).map(|i| c(10_000 - i, i as u128, true)).collect();
        cands.push(c(1, 5000, false));
        let mut calls = 0;
        let got = rank(cands, 3, |_, ord| {
            calls += 1;
            Ok::<_, ()>(Some(10_000 - u64::from(ord)))
        })
        .unwrap();
        assert_eq!(got, vec![TraceId(0), TraceId(1), TraceId(2)]);
        assert!(calls <= 32, "{calls} verifications");
    }
}
