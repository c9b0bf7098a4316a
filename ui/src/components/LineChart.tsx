// A small multi-series line chart in SVG for the Monitor page.
import { fmtClock } from '../lib/format';

export interface Series {
  name: string;
  color: string;
  points: [number, number][]; // [ms since epoch, value]
}

const W = 420;
const H = 170;
const PAD = { l: 48, r: 10, t: 10, b: 22 };

export default function LineChart({ title, series, unit, testId }: { title: string; series: Series[]; unit: (v: number) => string; testId: string }) {
  const all = series.flatMap((s) => s.points);
  return (
    <div className="card chart-card" data-testid={testId}>
      <h3>{title}</h3>
      {all.length === 0 ? (
        <div className="muted empty-chart">No data in this time range.</div>
      ) : (
        <Plot series={series} unit={unit} all={all} />
      )}
      <div className="legend">
        {series.map((s) => (
          <span key={s.name}>
            <span className="swatch" style={{ background: s.color }} /> {s.name}
          </span>
        ))}
      </div>
    </div>
  );
}

function Plot({ series, unit, all }: { series: Series[]; unit: (v: number) => string; all: [number, number][] }) {
  const t0 = Math.min(...all.map((p) => p[0]));
  const t1 = Math.max(...all.map((p) => p[0]));
  const vMax = Math.max(1e-9, ...all.map((p) => p[1]));
  const x = (t: number) => PAD.l + ((t - t0) / Math.max(1, t1 - t0)) * (W - PAD.l - PAD.r);
  const y = (v: number) => H - PAD.b - (v / vMax) * (H - PAD.t - PAD.b);
  return (
    <svg viewBox={`0 0 ${W} ${H}`} className="chart" role="img">
      {[0, 0.5, 1].map((f) => (
        <g key={f}>
          <line x1={PAD.l} x2={W - PAD.r} y1={y(vMax * f)} y2={y(vMax * f)} className="grid" />
          <text x={PAD.l - 4} y={y(vMax * f) + 4} textAnchor="end" className="axis">
            {unit(vMax * f)}
          </text>
        </g>
      ))}
      <text x={PAD.l} y={H - 5} className="axis">
        {fmtClock(t0)}
      </text>
      <text x={W - PAD.r} y={H - 5} textAnchor="end" className="axis">
        {fmtClock(t1)}
      </text>
      {series.map((s) => (
        <polyline
          key={s.name}
          fill="none"
          stroke={s.color}
          strokeWidth={2}
          points={s.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}
        />
      ))}
    </svg>
  );
}
