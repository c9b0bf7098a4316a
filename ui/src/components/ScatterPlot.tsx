// Duration over time of search results: one dot per trace, sized by span count, red when
// the trace has errors. Clicking a dot opens the trace.
import { useState } from 'react';
import { fmtClock, fmtDuration } from '../lib/format';
import type { Trace } from '../lib/trace';

const W = 900;
const H = 160;
const PAD = { l: 56, r: 16, t: 10, b: 24 };

export default function ScatterPlot({ traces, onOpen }: { traces: Trace[]; onOpen: (id: string) => void }) {
  const [hover, setHover] = useState<Trace | null>(null);
  if (!traces.length) return null;
  const t0 = Math.min(...traces.map((t) => t.start));
  const t1 = Math.max(...traces.map((t) => t.start));
  const dMax = Math.max(1, ...traces.map((t) => t.duration));
  const span = Math.max(1, t1 - t0);
  const x = (us: number) => PAD.l + ((us - t0) / span) * (W - PAD.l - PAD.r);
  const y = (d: number) => H - PAD.b - (d / dMax) * (H - PAD.t - PAD.b);
  const maxSpans = Math.max(...traces.map((t) => t.spans.length));
  const ticks = [0, 0.5, 1];
  return (
    <div className="card scatter">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label="Trace durations over time" className="chart">
        {ticks.map((f) => (
          <g key={f}>
            <line x1={PAD.l} x2={W - PAD.r} y1={y(dMax * f)} y2={y(dMax * f)} className="grid" />
            <text x={PAD.l - 6} y={y(dMax * f) + 4} textAnchor="end" className="axis">
              {fmtDuration(dMax * f)}
            </text>
          </g>
        ))}
        {[t0, t0 + span / 2, t1].map((t, i) => (
          <text key={i} x={x(t)} y={H - 6} textAnchor={i === 0 ? 'start' : i === 2 ? 'end' : 'middle'} className="axis">
            {fmtClock(t / 1000)}
          </text>
        ))}
        {traces.map((t) => (
          <circle
            key={t.id}
            data-testid="scatter-dot"
            cx={x(t.start)}
            cy={y(t.duration)}
            r={4 + 6 * Math.sqrt(t.spans.length / maxSpans)}
            className={t.errorCount ? 'dot err' : 'dot'}
            onMouseEnter={() => setHover(t)}
            onMouseLeave={() => setHover(null)}
            onClick={() => onOpen(t.id)}
          >
            <title>{`${t.rootService}: ${t.rootOperation} — ${fmtDuration(t.duration)}, ${t.spans.length} spans`}</title>
          </circle>
        ))}
      </svg>
      <div className="scatter-hover">
        {hover ? `${hover.rootService}: ${hover.rootOperation} · ${fmtDuration(hover.duration)} · ${hover.spans.length} spans` : '\u00a0'}
      </div>
    </div>
  );
}
