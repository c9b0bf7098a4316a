// Per service+operation statistics of one trace, and the differences between two traces.
import type { Span, Trace } from './trace';

export interface OpStats {
  key: string;
  service: string;
  operation: string;
  count: number;
  errors: number;
  total: number;
  self: number;
  min: number;
  max: number;
}

/** A span's self time: its duration minus the union of its children's (clipped) intervals. */
export function selfTime(s: Span): number {
  if (!s.children.length) return s.duration;
  const iv = s.children
    .map((c) => [Math.max(c.start, s.start), Math.min(c.end, s.end)] as const)
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let covered = 0;
  let curA = -Infinity;
  let curB = -Infinity;
  for (const [a, b] of iv) {
    if (a > curB) {
      if (curB > curA) covered += curB - curA;
      curA = a;
      curB = b;
    } else curB = Math.max(curB, b);
  }
  if (curB > curA) covered += curB - curA;
  return Math.max(0, s.duration - covered);
}

export function opKey(s: { service: string; operation: string }): string {
  return `${s.service}\u0000${s.operation}`;
}

export function operationStats(trace: Trace): OpStats[] {
  const m = new Map<string, OpStats>();
  for (const s of trace.spans) {
    const key = opKey(s);
    let o = m.get(key);
    if (!o) {
      o = { key, service: s.service, operation: s.operation, count: 0, errors: 0, total: 0, self: 0, min: Infinity, max: 0 };
      m.set(key, o);
    }
    o.count++;
    if (s.error) o.errors++;
    o.total += s.duration;
    o.self += selfTime(s);
    o.min = Math.min(o.min, s.duration);
    o.max = Math.max(o.max, s.duration);
  }
  return [...m.values()].sort((a, b) => b.total - a.total);
}

export interface DiffRow {
  key: string;
  service: string;
  operation: string;
  a: number;
  b: number;
  aDuration: number;
  bDuration: number;
  kind: 'same' | 'added' | 'removed' | 'changed';
}

/** Span counts per service+operation in A and B; `added` means only in B. */
export function diffTraces(a: Trace, b: Trace): DiffRow[] {
  const sa = new Map(operationStats(a).map((o) => [o.key, o]));
  const sb = new Map(operationStats(b).map((o) => [o.key, o]));
  const keys = new Set([...sa.keys(), ...sb.keys()]);
  const rows: DiffRow[] = [];
  for (const key of keys) {
    const x = sa.get(key);
    const y = sb.get(key);
    const ref = (x ?? y)!;
    const ca = x?.count ?? 0;
    const cb = y?.count ?? 0;
    rows.push({
      key,
      service: ref.service,
      operation: ref.operation,
      a: ca,
      b: cb,
      aDuration: x?.total ?? 0,
      bDuration: y?.total ?? 0,
      kind: ca === 0 ? 'added' : cb === 0 ? 'removed' : ca !== cb ? 'changed' : 'same',
    });
  }
  const rank = { removed: 0, added: 1, changed: 2, same: 3 };
  return rows.sort((p, q) => rank[p.kind] - rank[q.kind] || p.service.localeCompare(q.service) || p.operation.localeCompare(q.operation));
}
