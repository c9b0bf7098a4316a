// /search: the find-traces form on the left, results (scatter plot + list) on the right.
import { useMemo, useRef, useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router-dom';
import ScatterPlot from '../components/ScatterPlot';
import { api } from '../lib/api';
import { fmtAgo, fmtDuration, fmtTime, serviceColor } from '../lib/format';
import { LOOKBACKS, apiQuery, formFromUrl, formToUrl, type SearchForm } from '../lib/searchQuery';
import { processTrace, tracesFromJson, type Trace } from '../lib/trace';
import { addUploaded } from '../lib/uploads';
import { useAsync } from '../lib/useAsync';

const SORTS: [string, string, (a: Trace, b: Trace) => number][] = [
  ['recent', 'Most recent', (a, b) => b.start - a.start],
  ['longest', 'Longest first', (a, b) => b.duration - a.duration],
  ['shortest', 'Shortest first', (a, b) => a.duration - b.duration],
  ['most', 'Most spans', (a, b) => b.spans.length - a.spans.length],
  ['least', 'Fewest spans', (a, b) => a.spans.length - b.spans.length],
  ['errors', 'Most errors', (a, b) => b.errorCount - a.errorCount],
];

function toLocalInput(us: string): string {
  if (!us) return '';
  const d = new Date(Number(us) / 1000);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

function fromLocalInput(v: string): string {
  const t = new Date(v).getTime();
  return Number.isFinite(t) ? String(t * 1000) : '';
}

function SearchFormPanel({ initial, onSubmit }: { initial: SearchForm; onSubmit: (f: SearchForm) => void }) {
  const [f, setF] = useState(initial);
  const services = useAsync((s) => api.services(s), []);
  const ops = useAsync(f.service ? (s) => api.operations(f.service, s) : null, [f.service]);
  const set = (k: keyof SearchForm) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onSubmit(f);
  };
  const serviceList = [...(services.data ?? [])].sort();
  const opList = [...new Set((ops.data ?? []).map((o) => o.name))].sort();
  return (
    <form className="card search-form" onSubmit={submit} aria-label="Search traces">
      <h2>Search</h2>
      <label>
        <span className="label-row">
          Service <span className="muted">({serviceList.length})</span>
        </span>
        <select value={f.service} onChange={(e) => setF({ ...f, service: e.target.value, operation: '' })} name="service" required>
          <option value="">Select a service…</option>
          {serviceList.map((s) => (
            <option key={s}>{s}</option>
          ))}
          {f.service && !serviceList.includes(f.service) && <option>{f.service}</option>}
        </select>
      </label>
      {services.status === 'error' && <div className="error">{services.error.message}</div>}
      <label>
        Operation
        <select value={f.operation} onChange={set('operation')} name="operation">
          <option value="">all</option>
          {opList.map((o) => (
            <option key={o}>{o}</option>
          ))}
          {f.operation && !opList.includes(f.operation) && <option>{f.operation}</option>}
        </select>
      </label>
      <label>
        Tags
        <input name="tags" value={f.tags} onChange={set('tags')} placeholder='http.status_code=200 error=true' />
      </label>
      <label>
        Lookback
        <select name="lookback" value={f.lookback} onChange={set('lookback')}>
          {LOOKBACKS.map(([v, l]) => (
            <option key={v} value={v}>
              {l}
            </option>
          ))}
        </select>
      </label>
      {f.lookback === 'custom' && (
        <div className="row2">
          <label>
            From
            <input type="datetime-local" value={toLocalInput(f.start)} onChange={(e) => setF({ ...f, start: fromLocalInput(e.target.value) })} />
          </label>
          <label>
            To
            <input type="datetime-local" value={toLocalInput(f.end)} onChange={(e) => setF({ ...f, end: fromLocalInput(e.target.value) })} />
          </label>
        </div>
      )}
      <div className="row2">
        <label>
          Min duration
          <input name="minDuration" value={f.minDuration} onChange={set('minDuration')} placeholder="e.g. 1.2s, 100ms" />
        </label>
        <label>
          Max duration
          <input name="maxDuration" value={f.maxDuration} onChange={set('maxDuration')} placeholder="e.g. 5s" />
        </label>
      </div>
      <label>
        Limit results
        <input name="limit" type="number" min={1} max={1500} value={f.limit} onChange={set('limit')} />
      </label>
      <button type="submit" className="primary" disabled={!f.service}>
        Find Traces
      </button>
    </form>
  );
}

function UploadBox({ onTraces }: { onTraces: (t: Trace[]) => void }) {
  const input = useRef<HTMLInputElement>(null);
  const [error, setError] = useState('');
  const load = async (files: FileList | null) => {
    setError('');
    try {
      const all: Trace[] = [];
      for (const file of Array.from(files ?? [])) {
        const raws = tracesFromJson(JSON.parse(await file.text()));
        addUploaded(raws);
        all.push(...raws.map(processTrace));
      }
      onTraces(all);
    } catch (e) {
      setError(`Cannot open the file: ${(e as Error).message}`);
    }
  };
  return (
    <div className="card upload">
      <h2>Open JSON</h2>
      <p className="muted">A trace downloaded from Sextant or Jaeger UI (opened in this tab only).</p>
      <input ref={input} type="file" accept=".json,application/json" multiple aria-label="Open trace JSON file" onChange={(e) => load(e.target.files)} />
      {error && <div className="error">{error}</div>}
    </div>
  );
}

function ResultItem({ t, selected, onSelect }: { t: Trace; selected: boolean; onSelect: (on: boolean) => void }) {
  return (
    <li className="card result" data-testid="search-result">
      <div className="result-head">
        <input type="checkbox" checked={selected} onChange={(e) => onSelect(e.target.checked)} aria-label={`Select ${t.id} to compare`} />
        <Link to={`/trace/${t.id}`} className="result-title">
          <span className="svc">{t.rootService}:</span> {t.rootOperation} <span className="muted mono">{t.id.slice(0, 7)}</span>
        </Link>
        <span className="result-duration">{fmtDuration(t.duration)}</span>
      </div>
      <div className="result-body">
        <div className="badges">
          <span className="badge" data-testid="span-count">{t.spans.length} Spans</span>
          {t.errorCount > 0 && <span className="badge err" data-testid="error-count">{t.errorCount} Errors</span>}
          {t.services.map((s) => (
            <span className="chip" key={s.name} style={{ borderColor: serviceColor(s.name) }}>
              {s.name} ({s.count})
            </span>
          ))}
        </div>
        <div className="result-time">
          <div>{fmtTime(t.start)}</div>
          <div className="muted">{fmtAgo(t.start)}</div>
        </div>
      </div>
    </li>
  );
}

export default function SearchPage() {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const form = formFromUrl(params);

  const [sort, setSort] = useState('recent');
  const [uploaded, setUploaded] = useState<Trace[] | null>(null);
  const [selected, setSelected] = useState<string[]>([]);
  // Jaeger UI links `/search?traceID=a&traceID=b` look traces up by ID.
  const ids = params.getAll('traceID');
  const query = params.get('service') || ids.length ? params.toString() : '';
  const results = useAsync(
    query && !uploaded
      ? (s) =>
          Promise.resolve()
            .then(() => {
              const q = new URLSearchParams(query);
              const byId = q.getAll('traceID');
              return api.search(byId.length ? new URLSearchParams(byId.map((id) => ['traceID', id])).toString() : apiQuery(formFromUrl(q)), s);
            })
            .then((r) => r.map(processTrace))
      : null,
    [query, uploaded],
  );
  const traces = uploaded ?? results.data ?? [];
  const sorted = useMemo(() => [...traces].sort(SORTS.find((s) => s[0] === sort)![2]), [traces, sort]);
  const toggle = (id: string, on: boolean) => setSelected((s) => (on ? [...s.filter((x) => x !== id), id].slice(-2) : s.filter((x) => x !== id)));
  return (
    <div className="page search-page">
      <aside>
        <SearchFormPanel
          key={query}
          initial={form}
          onSubmit={(f) => {
            setUploaded(null);
            setParams(formToUrl(f));
          }}
        />
        <UploadBox onTraces={setUploaded} />
      </aside>
      <section className="results">
        {results.status === 'loading' && <div className="message">Searching…</div>}
        {results.status === 'error' && <div className="message error">Search failed: {results.error.message}</div>}
        {!query && !uploaded && <div className="message muted">Choose a service and press Find Traces.</div>}
        {(results.status === 'done' || uploaded) && (
          <>
            <ScatterPlot traces={traces} onOpen={(id) => navigate(`/trace/${id}`)} />
            <div className="results-bar">
              <strong data-testid="result-count">
                {traces.length} Trace{traces.length === 1 ? '' : 's'}
              </strong>
              {uploaded && <span className="muted"> from file</span>}
              <div className="spacer" />
              <button disabled={selected.length !== 2} onClick={() => navigate(`/trace/${selected[0]}...${selected[1]}`)}>
                Compare {selected.length}/2
              </button>
              <label className="inline">
                Sort
                <select value={sort} onChange={(e) => setSort(e.target.value)} aria-label="Sort results">
                  {SORTS.map(([v, l]) => (
                    <option key={v} value={v}>
                      {l}
                    </option>
                  ))}
                </select>
              </label>
            </div>
            {traces.length === 0 && <div className="message muted">No traces found. Try a longer lookback or fewer filters.</div>}
            <ul className="result-list">
              {sorted.map((t) => (
                <ResultItem key={t.id} t={t} selected={selected.includes(t.id)} onSelect={(on) => toggle(t.id, on)} />
              ))}
            </ul>
          </>
        )}
      </section>
    </div>
  );
}
