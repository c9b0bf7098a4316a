// The flame graph view: one frame per call path (see lib/flame.ts). Frames narrower than a
// pixel are skipped, so big traces stay cheap. Click a frame to zoom into it.
import { useMemo, useState } from 'react';
import { buildFrames, layoutFrames, type Frame } from '../lib/flame';
import { fmtDuration, serviceColor } from '../lib/format';
import type { Trace } from '../lib/trace';

const W = 1200;
const ROW = 20;

export default function FlameGraph({ trace }: { trace: Trace }) {
  const roots = useMemo(() => buildFrames(trace), [trace]);
  const [focus, setFocus] = useState<Frame | null>(null);
  const frames = useMemo(() => layoutFrames(roots, focus).filter((f) => f.w * W >= 1), [roots, focus]);
  const base = focus?.depth ?? 0;
  // A loop, not Math.max(...): spreading 100,000 frames would overflow the call stack.
  const depth = Math.min(300, frames.reduce((m, f) => Math.max(m, f.depth - base), 0) + 1);
  return (
    <div className="card">
      <div className="muted flame-help">
        {focus ? (
          <>
            Zoomed into <strong>{focus.service}: {focus.operation}</strong>{' '}
            <button className="link" onClick={() => setFocus(focus.parent)}>
              up one level
            </button>{' '}
            <button className="link" onClick={() => setFocus(null)}>
              reset zoom
            </button>
          </>
        ) : (
          'Spans merged by call path; width is total time. Click a frame to zoom.'
        )}
      </div>
      <svg viewBox={`0 0 ${W} ${depth * ROW}`} className="flame" role="img" aria-label="Flame graph" data-testid="flame-graph">
        {frames.map((f) => {
          const x = f.x * W;
          const w = f.w * W;
          const y = (f.depth - base) * ROW;
          if (y >= depth * ROW) return null;
          const label = `${f.operation}${f.count > 1 ? ` ×${f.count}` : ''} (${fmtDuration(f.total)})`;
          return (
            <g key={f.key} onClick={() => setFocus(f)} className="frame" data-testid="flame-frame">
              <rect x={x} y={y} width={Math.max(1, w - 0.5)} height={ROW - 1} fill={serviceColor(f.service)} className={f.errors ? 'err' : ''} />
              {w > 40 && (
                <text x={x + 4} y={y + 14} className="frame-label">
                  {label.slice(0, Math.floor(w / 7))}
                </text>
              )}
              <title>{`${f.service}: ${f.operation}\n${f.count} span${f.count > 1 ? 's' : ''}, total ${fmtDuration(f.total)}${f.errors ? `, ${f.errors} errors` : ''}`}</title>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
