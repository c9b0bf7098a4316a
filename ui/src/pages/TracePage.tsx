// /trace/{id}: header summary, then the timeline, statistics or flame graph of one trace.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import FlameGraph from '../components/FlameGraph';
import Minimap from '../components/Minimap';
import SpanDetail from '../components/SpanDetail';
import StatsTable from '../components/StatsTable';
import Timeline from '../components/Timeline';
import TraceGraph from '../components/TraceGraph';
import { api } from '../lib/api';
import { computeCriticalPath, sectionsFromApi, type Section } from '../lib/criticalPath';
import { fmtDuration, fmtTime, fmtValue, serviceColor } from '../lib/format';
import { processTrace, type Span, type Trace } from '../lib/trace';
import { takePrefetched } from '../lib/prefetch';
import { getUploaded } from '../lib/uploads';
import { useAsync } from '../lib/useAsync';

export async function loadTrace(id: string, signal: AbortSignal): Promise<Trace> {
  // performance marks let tests/browser/timing.mjs split load time into fetch and render.
  const raw = getUploaded(id) ?? (await (takePrefetched(id) ?? api.trace(id, signal)));
  performance.mark('sextant:trace-fetched');
  const trace = processTrace(raw);
  performance.mark('sextant:trace-processed');
  return trace;
}

interface CriticalPath {
  sections: Section[];
  source: 'api' | 'computed';
}

async function loadCriticalPath(trace: Trace, signal: AbortSignal): Promise<CriticalPath> {
  if (!getUploaded(trace.id)) {
    try {
      const fromApi = sectionsFromApi(await api.criticalPath(trace.id, signal));
      if (fromApi) return { sections: fromApi, source: 'api' };
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      // Endpoint missing or failing: Jaeger UI computes it in the browser, so do we.
    }
  }
  return { sections: computeCriticalPath(trace), source: 'computed' };
}

function spanMatches(s: Span, q: string): boolean {
  if (s.id.includes(q) || s.service.toLowerCase().includes(q) || s.operation.toLowerCase().includes(q)) return true;
  const kvs = [...(s.raw.tags ?? []), ...(s.process.tags ?? []), ...(s.raw.logs ?? []).flatMap((l) => l.fields ?? [])];
  return kvs.some((kv) => kv.key.toLowerCase().includes(q) || fmtValue(kv.value).toLowerCase().includes(q));
}

function download(trace: Trace) {
  const blob = new Blob([JSON.stringify({ data: [trace.raw] }, null, 2)], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = `trace-${trace.id}.json`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

type Tab = 'timeline' | 'graph' | 'stats' | 'flame';

function TraceView({ trace }: { trace: Trace }) {
  const [params, setParams] = useSearchParams();
  const [tab, setTab] = useState<Tab>('timeline');
  const [collapsed, setCollapsed] = useState<Set<string>>(() => new Set());
  const [selected, setSelected] = useState<string | null>(null);
  const [detail, setDetail] = useState(false);
  const [view, setView] = useState<[number, number]>([0, 1]);
  const [scrollTo, setScrollTo] = useState<{ id: string; n: number } | null>(null);
  const [showCp, setShowCp] = useState(true);
  // The box is local state (typing must not wait for a navigation); the URL follows it so
  // a link with ?uiFind= reproduces the highlight.
  const [find, setFind] = useState(() => params.get('uiFind') ?? '');
  useEffect(() => {
    const p = new URLSearchParams(window.location.search);
    if ((p.get('uiFind') ?? '') === find) return;
    if (find) p.set('uiFind', find);
    else p.delete('uiFind');
    setParams(p, { replace: true });
  }, [find, setParams]);
  const findBox = useRef<HTMLInputElement>(null);
  const cp = useAsync((s) => loadCriticalPath(trace, s), [trace]);

  const critical = useMemo(() => {
    if (!showCp || cp.status !== 'done') return null;
    const m = new Map<string, Section[]>();
    for (const s of cp.data.sections) (m.get(s.spanId) ?? m.set(s.spanId, []).get(s.spanId)!).push(s);
    return m;
  }, [cp, showCp]);

  const criticalIds = useMemo(() => (critical ? new Set(critical.keys()) : null), [critical]);

  const rows = useMemo(() => {
    const out: Span[] = [];
    let skipDepth = Infinity;
    for (const s of trace.spans) {
      if (s.depth > skipDepth) continue;
      skipDepth = collapsed.has(s.id) ? s.depth : Infinity;
      out.push(s);
    }
    return out;
  }, [trace, collapsed]);

  const matches = useMemo(() => {
    const q = find.trim().toLowerCase();
    if (!q) return null;
    return new Set(trace.spans.filter((s) => spanMatches(s, q)).map((s) => s.id));
  }, [trace, find]);

  const toggle = useCallback(
    (s: Span) =>
      setCollapsed((c) => {
        const n = new Set(c);
        if (n.has(s.id)) n.delete(s.id);
        else n.add(s.id);
        return n;
      }),
    [],
  );

  /** Selects a span, expanding its ancestors and scrolling it into view. */
  const reveal = useCallback(
    (id: string) => {
      const s = trace.byId.get(id);
      if (!s) return;
      setCollapsed((c) => {
        const n = new Set(c);
        for (let p = s.parent; p; p = p.parent) n.delete(p.id);
        return n;
      });
      setSelected(id);
      setScrollTo((x) => ({ id, n: (x?.n ?? 0) + 1 }));
    },
    [trace],
  );

  const nextMatch = (dir: number) => {
    if (!matches?.size) return;
    const list = trace.spans.filter((s) => matches.has(s.id));
    const cur = list.findIndex((s) => s.id === selected);
    const next = list[(cur + dir + list.length) % list.length];
    reveal(next.id);
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === '/' && document.activeElement?.tagName !== 'INPUT') {
        e.preventDefault();
        findBox.current?.focus();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const sel = selected ? trace.byId.get(selected) : undefined;
  const cpSpans = cp.status === 'done' ? new Set(cp.data.sections.map((s) => s.spanId)).size : 0;

  return (
    <div className="page trace-page">
      <div className="trace-head card">
        <div className="trace-title">
          <div className="title-row">
          <h1 data-testid="trace-title">
            <span className="svc">{trace.rootService}:</span> {trace.rootOperation}{' '}
            <span className="muted mono small">{trace.id}</span>
          </h1>
            <button onClick={() => download(trace)}>Download JSON</button>
          </div>
          <div className="summary" data-testid="trace-summary">
            <span>
              Trace Start <strong>{fmtTime(trace.start)}</strong>
            </span>
            <span>
              Duration <strong>{fmtDuration(trace.duration)}</strong>
            </span>
            <span>
              Services <strong>{trace.services.length}</strong>
            </span>
            <span>
              Depth <strong>{trace.maxDepth + 1}</strong>
            </span>
            <span>
              Total Spans <strong data-testid="total-spans">{trace.spans.length}</strong>
            </span>
            {trace.errorCount > 0 && (
              <span className="error">
                Errors <strong>{trace.errorCount}</strong>
              </span>
            )}
          </div>
          <div className="badges">
            {trace.services.map((s) => (
              <span className="chip" key={s.name} style={{ borderColor: serviceColor(s.name) }}>
                {s.name} ({s.count})
              </span>
            ))}
          </div>
          {!!trace.raw.warnings?.length && <div className="error">{trace.raw.warnings.join('; ')}</div>}
        </div>
        <div className="trace-tools">
          <div className="tabs" role="tablist">
            {(
              [
                ['timeline', 'Timeline'],
                ['graph', 'Graph'],
                ['stats', 'Statistics'],
                ['flame', 'Flame graph'],
              ] as [Tab, string][]
            ).map(([t, l]) => (
              <button key={t} role="tab" aria-selected={tab === t} className={tab === t ? 'active' : ''} onClick={() => setTab(t)}>
                {l}
              </button>
            ))}
          </div>
          <div className="find">
            <input
              ref={findBox}
              placeholder="Find in trace… ( / )"
              aria-label="Find in trace"
              value={find}
              onChange={(e) => setFind(e.target.value)}
              onKeyDown={(e) => e.key === 'Enter' && nextMatch(e.shiftKey ? -1 : 1)}
            />
            {matches && (
              <span className="muted" data-testid="find-count">
                {matches.size} match{matches.size === 1 ? '' : 'es'}
              </span>
            )}
            <button onClick={() => nextMatch(-1)} disabled={!matches?.size} aria-label="Previous match">
              ↑
            </button>
            <button onClick={() => nextMatch(1)} disabled={!matches?.size} aria-label="Next match">
              ↓
            </button>
          </div>
          <label className="inline" title="The spans that determined the trace's duration">
            <input type="checkbox" checked={showCp} onChange={(e) => setShowCp(e.target.checked)} /> Critical path
            {cp.status === 'done' && (
              <span className="muted" data-testid="critical-path-info">
                {' '}
                ({cpSpans} spans, {cp.data.source === 'api' ? 'from server' : 'computed'})
              </span>
            )}
          </label>
          <button onClick={() => setCollapsed(new Set(trace.spans.filter((s) => s.children.length && s.depth >= 1).map((s) => s.id)))}>Collapse</button>
          <button onClick={() => setCollapsed(new Set())}>Expand</button>
        </div>
      </div>
      {tab === 'timeline' && (
        <div className="trace-body">
          <Minimap trace={trace} rows={rows} view={view} onView={setView} />
          {(view[0] > 0 || view[1] < 1) && (
            <button className="link reset-zoom" onClick={() => setView([0, 1])}>
              Reset zoom
            </button>
          )}
          <Timeline
            trace={trace}
            rows={rows}
            view={view}
            collapsed={collapsed}
            onToggle={toggle}
            selected={selected}
            onSelect={setSelected}
            onOpenDetail={() => setDetail(true)}
            critical={critical}
            matches={matches}
            scrollTo={scrollTo}
          />
          {detail && sel && <SpanDetail span={sel} trace={trace} onClose={() => setDetail(false)} onJump={reveal} />}
        </div>
      )}
      {tab === 'graph' && <TraceGraph trace={trace} critical={criticalIds} />}
      {tab === 'stats' && <StatsTable trace={trace} />}
      {tab === 'flame' && <FlameGraph trace={trace} />}
    </div>
  );
}

export default function TracePage({ id }: { id: string }) {
  const state = useAsync((s) => loadTrace(id, s), [id]);
  if (state.status === 'error')
    return (
      <div className="page message error" data-testid="trace-error">
        {state.error.status === 404 ? `Trace ${id} not found.` : `Cannot load trace ${id}: ${state.error.message}`}
      </div>
    );
  if (state.status !== 'done') return <div className="page message">Loading trace…</div>;
  return <TraceView key={id} trace={state.data} />;
}
