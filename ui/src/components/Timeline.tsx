// The span tree with its Gantt bars. Only the rows in (and just around) the viewport are in
// the DOM, so a 10,000-span trace costs the same to render as a 50-span one.
import { useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react';
import type { Section } from '../lib/criticalPath';
import { fmtDuration, serviceColor } from '../lib/format';
import type { Span, Trace } from '../lib/trace';

export const ROW_H = 26;
const OVERSCAN = 12;

export interface TimelineProps {
  trace: Trace;
  rows: Span[];
  view: [number, number];
  collapsed: Set<string>;
  onToggle: (s: Span) => void;
  selected: string | null;
  onSelect: (id: string | null) => void;
  onOpenDetail: () => void;
  critical: Map<string, Section[]> | null;
  matches: Set<string> | null;
  scrollTo: { id: string; n: number } | null;
}

function Ticks({ trace, view }: { trace: Trace; view: [number, number] }) {
  const t0 = view[0] * trace.duration;
  const t1 = view[1] * trace.duration;
  return (
    <div className="ticks">
      {[0, 0.25, 0.5, 0.75, 1].map((f) => (
        <span key={f} style={{ left: `${f * 100}%` }} className={f === 1 ? 'last' : ''}>
          {fmtDuration(t0 + f * (t1 - t0))}
        </span>
      ))}
    </div>
  );
}

export default function Timeline(p: TimelineProps) {
  const box = useRef<HTMLDivElement>(null);
  const [scroll, setScroll] = useState({ top: 0, height: 800 });
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const update = () => setScroll({ top: el.scrollTop, height: el.clientHeight });
    update();
    const ro = new ResizeObserver(update);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  useEffect(() => {
    if (!p.scrollTo || !box.current) return;
    const i = p.rows.findIndex((s) => s.id === p.scrollTo!.id);
    if (i < 0) return;
    const el = box.current;
    const top = i * ROW_H;
    if (top < el.scrollTop || top + ROW_H > el.scrollTop + el.clientHeight) el.scrollTop = Math.max(0, top - el.clientHeight / 3);
  }, [p.scrollTo, p.rows]);

  useEffect(() => {
    // After the first commit, the next frame is the first screen of rows.
    requestAnimationFrame(() => performance.mark('sextant:first-rows'));
  }, []);

  const first = Math.max(0, Math.floor(scroll.top / ROW_H) - OVERSCAN);
  const last = Math.min(p.rows.length, Math.ceil((scroll.top + scroll.height) / ROW_H) + OVERSCAN);
  const dur = Math.max(1, p.trace.duration);
  const v0 = p.view[0] * dur;
  const vw = Math.max(1e-9, (p.view[1] - p.view[0]) * dur);
  const pct = (us: number) => ((us - v0) / vw) * 100;

  const onKey = (e: KeyboardEvent) => {
    const i = p.rows.findIndex((s) => s.id === p.selected);
    const cur = i >= 0 ? p.rows[i] : null;
    const go = (j: number) => {
      const s = p.rows[Math.min(p.rows.length - 1, Math.max(0, j))];
      if (s) p.onSelect(s.id);
    };
    switch (e.key) {
      case 'ArrowDown':
      case 'j':
        go(i + 1);
        break;
      case 'ArrowUp':
      case 'k':
        go(i - 1);
        break;
      case 'ArrowLeft':
        if (cur && cur.children.length && !p.collapsed.has(cur.id)) p.onToggle(cur);
        else if (cur?.parent) p.onSelect(cur.parent.id);
        break;
      case 'ArrowRight':
        if (cur && p.collapsed.has(cur.id)) p.onToggle(cur);
        break;
      case 'Enter':
        if (cur) p.onOpenDetail();
        break;
      case 'Escape':
        p.onSelect(null);
        break;
      default:
        return;
    }
    e.preventDefault();
  };

  return (
    <div className="timeline">
      <div className="tl-header">
        <div className="tl-name">Service &amp; Operation</div>
        <div className="tl-bars">
          <Ticks trace={p.trace} view={p.view} />
        </div>
      </div>
      <div
        className="tl-scroll"
        ref={box}
        tabIndex={0}
        role="tree"
        aria-label="Spans (arrow keys to move, left/right to collapse/expand, Enter for details)"
        onScroll={(e) => setScroll({ top: e.currentTarget.scrollTop, height: e.currentTarget.clientHeight })}
        onKeyDown={onKey}
      >
        <div style={{ height: p.rows.length * ROW_H, position: 'relative' }}>
          {p.rows.slice(first, last).map((s, k) => {
            const i = first + k;
            const sections = p.critical?.get(s.id);
            const left = pct(s.offset);
            const width = Math.max(0.15, pct(s.offset + s.duration) - left);
            const cls = ['tl-row'];
            if (s.id === p.selected) cls.push('selected');
            if (p.matches?.has(s.id)) cls.push('match');
            if (p.matches && !p.matches.has(s.id)) cls.push('dim');
            return (
              <div
                key={s.id}
                className={cls.join(' ')}
                style={{ top: i * ROW_H }}
                role="treeitem"
                aria-level={s.depth + 1}
                aria-selected={s.id === p.selected}
                aria-expanded={s.children.length ? !p.collapsed.has(s.id) : undefined}
                data-span-id={s.id}
                data-testid="span-row"
                onClick={() => {
                  p.onSelect(s.id);
                  p.onOpenDetail();
                }}
              >
                <div className="tl-name" style={{ paddingLeft: 6 + Math.min(s.depth, 40) * 14 }}>
                  {s.children.length ? (
                    <button
                      className="twisty"
                      aria-label={p.collapsed.has(s.id) ? 'Expand children' : 'Collapse children'}
                      onClick={(e) => {
                        e.stopPropagation();
                        p.onToggle(s);
                      }}
                    >
                      {p.collapsed.has(s.id) ? '▸' : '▾'}
                    </button>
                  ) : (
                    <span className="twisty" />
                  )}
                  <span className="svc-mark" style={{ background: serviceColor(s.service) }} />
                  {s.error && <span className="err-mark" title="error">!</span>}
                  <span className="svc">{s.service}</span>
                  <span className="op">{s.operation}</span>
                  {sections && <span className="cp-mark" title="on the critical path" data-testid="critical-mark" />}
                </div>
                <div className="tl-bars">
                  <div className="bar" style={{ left: `${left}%`, width: `${width}%`, background: serviceColor(s.service) }}>
                    {sections?.map((c, j) => {
                      const l = ((c.start - s.start) / Math.max(1, s.duration)) * 100;
                      const w = ((c.end - c.start) / Math.max(1, s.duration)) * 100;
                      return <span key={j} className="cp" style={{ left: `${l}%`, width: `${Math.max(0.5, w)}%` }} />;
                    })}
                  </div>
                  <span className="bar-label" style={left > 70 ? { right: `${100 - left + 0.5}%` } : { left: `${left + width + 0.5}%` }}>
                    {fmtDuration(s.duration)}
                  </span>
                </div>
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
