//! Trace search over the write buffers and the segments, with one ordering rule: traces by
//! the start of their most recent *matching* span, newest first.
//!
//! Each source yields candidates with an upper bound on that key. Buffered spans and
//! segment postings whose figures prove every span in them matches are exact; the rest are
//! verified by decoding the trace's spans and running the shared matcher. Candidates are
//! taken in descending bound order and the search stops as soon as `limit` traces are
//! confirmed with keys above every remaining bound — so a search touches few blocks.

use std::collections::{BinaryHeap, HashMap};

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
    if lazy_source(seg_index, seg, q).is_none() {
        return Ok(());
    }
    let (qmin, qmax) = q.start_time_range();
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

/// A segment not yet asked for candidates: no candidate it offers can rank above `bound`
/// (its newest span start, capped by the query's end).
#[derive(Clone, Copy, Debug)]
pub struct LazySource {
    pub bound: u64,
    pub segment: usize,
}

/// The segment as a source of candidates for `q`; `None` when its time range misses the
/// query's.
pub fn lazy_source(segment: usize, seg: &Segment, q: &CompiledQuery) -> Option<LazySource> {
    let (qmin, qmax) = q.start_time_range();
    (seg.span_count > 0 && seg.max_start >= qmin && seg.min_start <= qmax).then(|| LazySource {
        bound: seg.max_start.min(qmax),
        segment,
    })
}

/// Picks the `limit` best traces. `initial` are the buffers' candidates; each of `sources`
/// is asked for its candidates (`load`) only once the search reaches its bound, so a search
/// over many time-ordered segments reads the postings of the newest few. `verify` returns
/// the key of a candidate (its newest matching span's start) or `None` when nothing in it
/// matches.
pub fn rank<E>(
    initial: Vec<Candidate>,
    mut sources: Vec<LazySource>,
    limit: usize,
    mut load: impl FnMut(usize, &mut Vec<Candidate>) -> Result<(), E>,
    mut verify: impl FnMut(usize, u32) -> Result<Option<u64>, E>,
) -> Result<Vec<TraceId>, E> {
    // Newest first; popped from the end.
    sources.sort_unstable_by_key(|s| s.bound);
    let mut heap: BinaryHeap<HeapEntry> = initial.into_iter().map(Candidate::key).collect();
    let mut loaded = Vec::new();
    let mut keys: HashMap<TraceId, u64> = HashMap::new();
    let mut popped = 0usize;
    loop {
        // Every source that may hold a candidate at or above the best one left joins first.
        while let Some(&source) = sources.last() {
            if heap.peek().is_some_and(|top| top.0 > source.bound) {
                break;
            }
            if keys.len() >= limit && kth_largest(&keys, limit) > source.bound {
                // Nothing in this source, nor in the older ones, can enter the result.
                sources.clear();
                break;
            }
            sources.pop();
            load(source.segment, &mut loaded)?;
            heap.extend(loaded.drain(..).map(Candidate::key));
        }
        let Some((ub, trace, to_verify)) = heap.pop() else {
            break;
        };
        popped += 1;
        // A trace already confirmed at or above this bound cannot improve here.
        if keys.get(&trace).is_some_and(|&k| k >= ub) {
            continue;
        }
        let key = match to_verify {
            None => Some(ub),
            Some((seg, ord)) => verify(seg, ord)?,
        };
        if let Some(key) = key {
            let k = keys.entry(trace).or_insert(key);
            *k = (*k).max(key);
        }
        if keys.len() >= limit && popped.is_multiple_of(16) {
            let next = heap
                .peek()
                .map(|c| c.0)
                .max(sources.last().map(|s| s.bound));
            if next.is_some_and(|next| kth_largest(&keys, limit) > next) {
                break;
            }
        }
    }
    let mut found: Vec<(u64, TraceId)> = keys.into_iter().map(|(t, k)| (k, t)).collect();
    found.sort_unstable_by(|a, b| b.cmp(a));
    Ok(found.into_iter().take(limit).map(|(_, t)| t).collect())
}

/// A candidate as the ranking heap orders it: (bound, trace, what to verify).
type HeapEntry = (u64, TraceId, Option<(usize, u32)>);

impl Candidate {
    /// The heap order: by bound, then trace ID (as the result's tie-break), newest first.
    fn key(self) -> HeapEntry {
        (self.ub, self.trace, self.verify)
    }
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

    /// `rank` with every candidate known up front.
    fn rank_eager<E>(
        cands: Vec<Candidate>,
        limit: usize,
        verify: impl FnMut(usize, u32) -> Result<Option<u64>, E>,
    ) -> Result<Vec<TraceId>, E> {
        rank(cands, Vec::new(), limit, |_, _| Ok(()), verify)
    }

    #[test]
    fn orders_by_verified_key_not_bound() {
        // Trace 1's bound is highest but its real key is lowest.
        let cands = vec![c(100, 1, true), c(90, 2, false), c(80, 3, false)];
        let keys = |_: usize, ord: u32| Ok::<_, ()>(Some(if ord == 1 { 10 } else { 0 }));
        assert_eq!(
            rank_eager(cands.clone(), 2, keys).unwrap(),
            vec![TraceId(2), TraceId(3)]
        );
        assert_eq!(
            rank_eager(cands, 5, keys).unwrap(),
            vec![TraceId(2), TraceId(3), TraceId(1)]
        );
        let none = |_: usize, _: u32| Ok::<_, ()>(None);
        assert_eq!(rank_eager(vec![c(5, 9, true)], 3, none).unwrap(), vec![]);
    }

    #[test]
    fn stops_early_once_the_limit_is_certain() {
        let mut cands: Vec<_> = (0..1000).map(|i| c(10_000 - i, i as u128, true)).collect();
        cands.push(c(1, 5000, false));
        let mut calls = 0;
        let got = rank_eager(cands, 3, |_, ord| {
            calls += 1;
            Ok::<_, ()>(Some(10_000 - u64::from(ord)))
        })
        .unwrap();
        assert_eq!(got, vec![TraceId(0), TraceId(1), TraceId(2)]);
        assert!(calls <= 32, "{calls} verifications");
    }

    /// Candidates spread over lazily loaded sources rank exactly as when all are known up
    /// front, and sources older than the result are never loaded.
    #[test]
    fn lazy_sources_rank_as_eager_and_skip_old_segments() {
        let mut rng = crate::test_rng::Rng(0x9e37_79b9_7f4a_7c15);
        let mut next = move |n: u64| rng.below(n);
        for round in 0..300 {
            let segments = 1 + next(12) as usize;
            let mut per_segment: Vec<Vec<Candidate>> = vec![Vec::new(); segments];
            let mut truth: HashMap<(usize, u32), u64> = HashMap::new();
            let mut initial = Vec::new();
            for i in 0..(1 + next(200)) {
                // Segments are roughly time-ordered, with overlap, like flushes.
                let seg = next(segments as u64) as usize;
                let ub = seg as u64 * 50 + next(120);
                let trace = TraceId(u128::from(next(150)));
                let verify = next(3) != 0;
                let ord = i as u32;
                if verify {
                    // Some verify to nothing, the rest below their bound.
                    let key = (next(4) != 0).then(|| ub - next(ub / 4 + 1));
                    if let Some(key) = key {
                        truth.insert((seg, ord), key);
                    }
                }
                let cand = Candidate {
                    ub,
                    trace,
                    verify: verify.then_some((seg, ord)),
                };
                if next(10) == 0 {
                    initial.push(Candidate {
                        verify: None,
                        ..cand
                    });
                } else {
                    per_segment[seg].push(cand);
                }
            }
            let limit = 1 + next(30) as usize;
            let verify = |seg: usize, ord: u32| Ok::<_, ()>(truth.get(&(seg, ord)).copied());
            let everything: Vec<Candidate> = initial
                .iter()
                .chain(per_segment.iter().flatten())
                .copied()
                .collect();
            let eager = rank_eager(everything, limit, verify).unwrap();
            let sources = per_segment
                .iter()
                .enumerate()
                .map(|(segment, cands)| LazySource {
                    bound: cands.iter().map(|c| c.ub).max().unwrap_or(0),
                    segment,
                })
                .collect();
            let mut loads = Vec::new();
            let lazy = rank(
                initial.clone(),
                sources,
                limit,
                |seg, out: &mut Vec<Candidate>| {
                    loads.push(seg);
                    out.extend_from_slice(&per_segment[seg]);
                    Ok(())
                },
                verify,
            )
            .unwrap();
            assert_eq!(lazy, eager, "round {round}");
            let mut unique = loads.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), loads.len(), "a segment loaded twice");
        }
        // Ten time-ordered segments of exact candidates: a limit met by the newest loads one.
        let per_segment: Vec<Vec<Candidate>> = (0..10u64)
            .map(|s| {
                (0..30)
                    .map(|i| c(s * 100 + i, u128::from(s * 100 + i), false))
                    .collect()
            })
            .collect();
        let sources = (0..10)
            .map(|segment| LazySource {
                bound: segment as u64 * 100 + 29,
                segment,
            })
            .collect();
        let mut loads = Vec::new();
        let got = rank(
            Vec::new(),
            sources,
            5,
            |seg, out: &mut Vec<Candidate>| {
                loads.push(seg);
                out.extend_from_slice(&per_segment[seg]);
                Ok::<_, ()>(())
            },
            |_, _| Ok(None),
        )
        .unwrap();
        assert_eq!(got, (925..930u128).rev().map(TraceId).collect::<Vec<_>>());
        assert_eq!(loads, vec![9]);
    }
}
