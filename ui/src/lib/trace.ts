// Turns the API's flat span list into the tree every trace view renders from.
import type { KeyValue, Process, RawTrace, RawSpan } from './types';

export interface Span {
  raw: RawSpan;
  id: string;
  operation: string;
  service: string;
  process: Process;
  /** Microseconds since the trace start. */
  offset: number;
  start: number;
  duration: number;
  end: number;
  depth: number;
  parent: Span | null;
  children: Span[];
  error: boolean;
  /** Position in depth-first (rendering) order. */
  index: number;
}

export interface Trace {
  raw: RawTrace;
  id: string;
  spans: Span[]; // depth-first order
  byId: Map<string, Span>;
  roots: Span[];
  start: number;
  end: number;
  duration: number;
  services: { name: string; count: number }[];
  errorCount: number;
  maxDepth: number;
  rootService: string;
  rootOperation: string;
}

const ERROR_TAGS = new Set(['error']);

export function isErrorTag(t: KeyValue): boolean {
  if (ERROR_TAGS.has(t.key)) return t.value === true || t.value === 'true';
  if (t.key === 'otel.status_code') return t.value === 'ERROR';
  return false;
}

export function processTrace(raw: RawTrace): Trace {
  const byId = new Map<string, Span>();
  let start = Infinity;
  let end = -Infinity;
  for (const r of raw.spans) {
    start = Math.min(start, r.startTime);
    end = Math.max(end, r.startTime + r.duration);
  }
  if (!Number.isFinite(start)) start = end = 0;
  for (const r of raw.spans) {
    const process = r.process ?? raw.processes?.[r.processID ?? ''] ?? { serviceName: 'unknown' };
    byId.set(r.spanID, {
      raw: r,
      id: r.spanID,
      operation: r.operationName,
      service: process.serviceName,
      process,
      offset: r.startTime - start,
      start: r.startTime,
      duration: r.duration,
      end: r.startTime + r.duration,
      depth: 0,
      parent: null,
      children: [],
      error: (r.tags ?? []).some(isErrorTag),
      index: 0,
    });
  }
  const roots: Span[] = [];
  for (const s of byId.values()) {
    // The parent is the first reference into this trace that resolves (CHILD_OF first, as Jaeger).
    const refs = [...(s.raw.references ?? [])].sort((a, b) =>
      a.refType === b.refType ? 0 : a.refType === 'CHILD_OF' ? -1 : 1,
    );
    const parent = refs.map((ref) => byId.get(ref.spanID)).find((p) => p && p !== s);
    if (parent) {
      s.parent = parent;
      parent.children.push(s);
    } else roots.push(s);
  }
  const bySpanStart = (a: Span, b: Span) => a.start - b.start || a.id.localeCompare(b.id);
  roots.sort(bySpanStart);
  // Iterative DFS: traces can be 10,000s of spans deep and recursion would overflow.
  const order: Span[] = [];
  const seen = new Set<Span>();
  const stack: [Span, number][] = roots.map((r) => [r, 0] as [Span, number]).reverse();
  let maxDepth = 0;
  while (stack.length) {
    const [s, depth] = stack.pop()!;
    if (seen.has(s)) continue; // reference cycles in hostile input
    seen.add(s);
    s.depth = depth;
    maxDepth = Math.max(maxDepth, depth);
    s.index = order.length;
    order.push(s);
    s.children.sort(bySpanStart);
    for (let i = s.children.length - 1; i >= 0; i--) stack.push([s.children[i], depth + 1]);
  }
  // Spans only reachable through a cycle: list them as roots so nothing disappears.
  for (const s of byId.values())
    if (!seen.has(s)) {
      s.parent = null;
      s.index = order.length;
      order.push(s);
      roots.push(s);
    }
  const services = new Map<string, number>();
  let errorCount = 0;
  for (const s of order) {
    services.set(s.service, (services.get(s.service) ?? 0) + 1);
    if (s.error) errorCount++;
  }
  const root = roots[0];
  return {
    raw,
    id: raw.traceID || root?.raw.traceID || '',
    spans: order,
    byId,
    roots,
    start,
    end,
    duration: end - start,
    services: [...services].map(([name, count]) => ({ name, count })).sort((a, b) => b.count - a.count),
    errorCount,
    maxDepth,
    rootService: root?.service ?? '',
    rootOperation: root?.operation ?? '(no spans)',
  };
}

/** Pulls traces out of any JSON a user may upload: `{data:[…]}`, `[…]` or a single trace. */
export function tracesFromJson(json: unknown): RawTrace[] {
  const list = Array.isArray(json)
    ? json
    : json && typeof json === 'object' && Array.isArray((json as { data?: unknown }).data)
      ? (json as { data: unknown[] }).data
      : [json];
  const traces = list.filter(
    (t): t is RawTrace => !!t && typeof t === 'object' && Array.isArray((t as RawTrace).spans),
  );
  if (!traces.length) throw new Error('no Jaeger traces found in the file (expected {"data":[trace, …]})');
  for (const t of traces) {
    t.processes ??= {};
    t.traceID ??= t.spans[0]?.traceID ?? '';
  }
  return traces;
}
