// The critical path: the chain of work that determined the trace's end-to-end latency.
// Same algorithm as Jaeger UI: start at the root's end, repeatedly descend into the child
// that finished last before the current point in time, and when a span has no such child
// climb back to its parent at that span's start.
import type { Span, Trace } from './trace';

export interface Section {
  spanId: string;
  start: number;
  end: number;
}

export function computeCriticalPath(trace: Trace): Section[] {
  const root = trace.roots[0];
  if (!root) return [];
  // Children are clipped to their parent, since clock skew can make them overflow it.
  // trace.spans is depth-first, so a parent's bounds are known before its children's.
  const clip = new Map<Span, { start: number; end: number }>();
  for (const s of trace.spans) {
    const p = s.parent ? clip.get(s.parent) : undefined;
    let b = p ? { start: Math.max(s.start, p.start), end: Math.min(s.end, p.end) } : { start: s.start, end: s.end };
    if (p && b.end < b.start) b = { start: p.start, end: p.start };
    clip.set(s, b);
  }
  const bounds = (s: Span) => clip.get(s) ?? { start: s.start, end: s.end };
  const sections: Section[] = [];
  let span: Span | null = root;
  let until = bounds(root).end;
  let climbed = false;
  let guard = trace.spans.length * 4 + 10;
  while (span && guard-- > 0) {
    const b = bounds(span);
    let last: Span | null = null;
    for (const c of span.children) {
      if (c.raw.references?.some((r) => r.refType === 'FOLLOWS_FROM' && r.spanID === span!.id)) continue;
      const cb = bounds(c);
      // After climbing, only children that ended strictly before the returning child started.
      const fits = climbed ? cb.end < until : cb.end <= until;
      if (fits && (!last || cb.end > bounds(last).end)) last = c;
    }
    if (last) {
      const lb = bounds(last);
      if (lb.end < until) sections.push({ spanId: span.id, start: lb.end, end: until });
      span = last;
      until = lb.end;
      climbed = false;
    } else {
      if (b.start < until || sections.length === 0) sections.push({ spanId: span.id, start: b.start, end: until });
      until = b.start;
      // Climb: the parent continues from the moment this span started.
      span = span.parent;
      climbed = true;
    }
  }
  return sections;
}

/** Reads the server's `/api/traces/{id}/critical-path` answer in any of the plausible shapes. */
export function sectionsFromApi(json: unknown): Section[] | null {
  const list = Array.isArray(json) ? json : (json as { data?: unknown })?.data;
  if (!Array.isArray(list)) return null;
  const out: Section[] = [];
  for (const item of list) {
    if (!item || typeof item !== 'object') return null;
    const o = item as Record<string, unknown>;
    const spanId = o.spanId ?? o.spanID ?? o.span_id;
    const start = o.sectionStart ?? o.section_start ?? o.start;
    const end = o.sectionEnd ?? o.section_end ?? o.end;
    if (typeof spanId !== 'string' || typeof start !== 'number' || typeof end !== 'number') return null;
    out.push({ spanId, start, end });
  }
  return out;
}
