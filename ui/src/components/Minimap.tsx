// The whole trace in a strip above the timeline: every span (bucketed so a 10,000-span
// trace still draws a few dozen shapes), the zoomed window, drag to zoom, double-click to reset.
import { useRef, useState, type PointerEvent } from 'react';
import { serviceColor } from '../lib/format';
import type { Span, Trace } from '../lib/trace';

const H = 48;

export default function Minimap({
  trace,
  rows,
  view,
  onView,
}: {
  trace: Trace;
  rows: Span[];
  view: [number, number];
  onView: (v: [number, number]) => void;
}) {
  const ref = useRef<SVGSVGElement>(null);
  const [drag, setDrag] = useState<[number, number] | null>(null);
  const buckets = Math.min(rows.length, H);
  const shapes: { x0: number; x1: number; y: number; color: string }[] = [];
  const dur = Math.max(1, trace.duration);
  for (let b = 0; b < buckets; b++) {
    const from = Math.floor((b * rows.length) / buckets);
    const to = Math.floor(((b + 1) * rows.length) / buckets);
    let x0 = Infinity;
    let x1 = -Infinity;
    for (let i = from; i < to; i++) {
      x0 = Math.min(x0, rows[i].offset);
      x1 = Math.max(x1, rows[i].offset + rows[i].duration);
    }
    if (from < to) shapes.push({ x0: x0 / dur, x1: x1 / dur, y: (b * H) / buckets, color: serviceColor(rows[from].service) });
  }
  const frac = (e: PointerEvent) => {
    const r = ref.current!.getBoundingClientRect();
    return Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
  };
  const rowH = Math.max(1, H / Math.max(1, buckets) - 0.5);
  return (
    <svg
      ref={ref}
      className="minimap"
      viewBox={`0 0 1000 ${H}`}
      preserveAspectRatio="none"
      role="img"
      aria-label="Trace minimap: drag to zoom, double-click to reset"
      onPointerDown={(e) => {
        (e.target as Element).setPointerCapture?.(e.pointerId);
        const f = frac(e);
        setDrag([f, f]);
      }}
      onPointerMove={(e) => drag && setDrag([drag[0], frac(e)])}
      onPointerUp={() => {
        if (drag && Math.abs(drag[1] - drag[0]) > 0.005) onView([Math.min(...drag), Math.max(...drag)]);
        setDrag(null);
      }}
      onDoubleClick={() => onView([0, 1])}
    >
      {shapes.map((s, i) => (
        <rect key={i} x={s.x0 * 1000} width={Math.max(1, (s.x1 - s.x0) * 1000)} y={s.y} height={rowH} fill={s.color} />
      ))}
      {(view[0] > 0 || view[1] < 1) && (
        <>
          <rect x={0} width={view[0] * 1000} y={0} height={H} className="mm-shade" />
          <rect x={view[1] * 1000} width={(1 - view[1]) * 1000} y={0} height={H} className="mm-shade" />
        </>
      )}
      {drag && <rect x={Math.min(...drag) * 1000} width={Math.abs(drag[1] - drag[0]) * 1000} y={0} height={H} className="mm-drag" />}
    </svg>
  );
}
