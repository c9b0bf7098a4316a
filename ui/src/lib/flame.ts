// The trace as a flame graph: spans merged by call path (service+operation under the same
// parent path), widths proportional to total time. Parallel children that add up to more
// than their parent are scaled down to fit inside it, so frames never overlap.
import type { Trace } from './trace';

export interface Frame {
  key: string;
  service: string;
  operation: string;
  count: number;
  total: number;
  errors: number;
  depth: number;
  x: number; // 0..1 of the focused frame's width
  w: number;
  children: Frame[];
  parent: Frame | null;
}

export function buildFrames(trace: Trace): Frame[] {
  const roots: Frame[] = [];
  const frameOf = new Map<string, Frame>(); // span id → frame
  for (const s of trace.spans) {
    // Depth-first order: a span's parent already has its frame.
    const parent = s.parent ? frameOf.get(s.parent.id) ?? null : null;
    const siblings = parent ? parent.children : roots;
    const key = `${parent?.key ?? ''}/${s.service}\u0000${s.operation}`;
    let f = siblings.find((x) => x.key === key);
    if (!f) {
      f = { key, service: s.service, operation: s.operation, count: 0, total: 0, errors: 0, depth: parent ? parent.depth + 1 : 0, x: 0, w: 0, children: [], parent };
      siblings.push(f);
    }
    f.count++;
    f.total += s.duration;
    if (s.error) f.errors++;
    frameOf.set(s.id, f);
  }
  return roots;
}

/** Positions `top` (all roots when null) and everything below it across [0, 1]. */
export function layoutFrames(roots: Frame[], top: Frame | null): Frame[] {
  const out: Frame[] = [];
  const level = top ? [top] : roots;
  const sum = level.reduce((n, f) => n + f.total, 0) || 1;
  const stack: [Frame, number, number][] = [];
  let x = 0;
  for (const f of [...level].sort((a, b) => b.total - a.total)) {
    stack.push([f, x, f.total / sum]);
    x += f.total / sum;
  }
  while (stack.length) {
    const [f, fx, fw] = stack.pop()!;
    f.x = fx;
    f.w = fw;
    out.push(f);
    const childSum = f.children.reduce((n, c) => n + c.total, 0);
    const k = fw / Math.max(f.total, childSum, 1);
    let cx = fx;
    for (const c of [...f.children].sort((a, b) => b.total - a.total)) {
      stack.push([c, cx, c.total * k]);
      cx += c.total * k;
    }
  }
  return out;
}
