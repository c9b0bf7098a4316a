// /monitor: RED metrics (request rate, error rate, latency percentiles) for a service and
// its operations, from Jaeger's SPM API (/api/metrics/*). When the backend has no metrics
// store the API answers 404/501 and the page says so instead of showing empty charts.
import { useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import LineChart, { type Series } from '../components/LineChart';
import { api, ApiError } from '../lib/api';
import { label, points } from '../lib/metrics';
import { useAsync } from '../lib/useAsync';

const RANGES: [number, string][] = [
  [30 * 60e3, 'Last 30 minutes'],
  [3600e3, 'Last hour'],
  [2 * 3600e3, 'Last 2 hours'],
  [6 * 3600e3, 'Last 6 hours'],
  [86400e3, 'Last 24 hours'],
];
const KINDS = ['server', 'client', 'producer', 'consumer', 'internal'];

interface Red {
  latency: Series[];
  calls: Series[];
  errors: Series[];
  ops: { name: string; p95: number; rate: number; errRate: number }[];
}

async function loadRed(service: string, kind: string, range: number, signal: AbortSignal): Promise<Red> {
  const end = Date.now();
  const step = Math.max(60e3, Math.round(range / 60));
  const base = `service=${encodeURIComponent(service)}&endTs=${end}&lookback=${range}&step=${step}&ratePer=600000&spanKind=${kind}`;
  const [p50, p75, p95, calls, errors, opLat, opCalls, opErr] = await Promise.all([
    api.metrics('latencies', `${base}&quantile=0.5`, signal),
    api.metrics('latencies', `${base}&quantile=0.75`, signal),
    api.metrics('latencies', `${base}&quantile=0.95`, signal),
    api.metrics('calls', base, signal),
    api.metrics('errors', base, signal),
    api.metrics('latencies', `${base}&quantile=0.95&groupByOperation=true`, signal),
    api.metrics('calls', `${base}&groupByOperation=true`, signal),
    api.metrics('errors', `${base}&groupByOperation=true`, signal),
  ]);
  const avg = (ps: [number, number][]) => (ps.length ? ps.reduce((a, p) => a + p[1], 0) / ps.length : 0);
  const byOp = new Map<string, { name: string; p95: number; rate: number; errRate: number }>();
  const op = (name: string) => byOp.get(name) ?? byOp.set(name, { name, p95: 0, rate: 0, errRate: 0 }).get(name)!;
  for (const m of opLat.metrics ?? []) op(label(m, 'operation')).p95 = avg(points(m));
  for (const m of opCalls.metrics ?? []) op(label(m, 'operation')).rate = avg(points(m));
  for (const m of opErr.metrics ?? []) op(label(m, 'operation')).errRate = avg(points(m));
  return {
    latency: [
      { name: 'p95', color: '#e0544a', points: points(p95.metrics?.[0]) },
      { name: 'p75', color: '#e39b3a', points: points(p75.metrics?.[0]) },
      { name: 'p50', color: '#4a8fe0', points: points(p50.metrics?.[0]) },
    ],
    calls: [{ name: 'requests/s', color: '#4a8fe0', points: points(calls.metrics?.[0]) }],
    errors: [{ name: 'error rate', color: '#e0544a', points: points(errors.metrics?.[0]).map(([t, v]) => [t, v * 100]) }],
    ops: [...byOp.values()].filter((o) => o.name).sort((a, b) => b.p95 * b.rate - a.p95 * a.rate),
  };
}

export default function MonitorPage() {
  const [params, setParams] = useSearchParams();
  const services = useAsync((s) => api.services(s), []);
  const list = [...(services.data ?? [])].sort();
  const service = params.get('service') ?? list[0] ?? '';
  const [kind, setKind] = useState('server');
  const [range, setRange] = useState(3600e3);
  const red = useAsync(service ? (s) => loadRed(service, kind, range, s) : null, [service, kind, range]);
  const notAvailable = red.status === 'error' && red.error instanceof ApiError && red.error.notAvailable;
  return (
    <div className="page monitor-page">
      <div className="card toolbar">
        <h2>Monitor</h2>
        <select aria-label="Service" value={service} onChange={(e) => setParams({ service: e.target.value })}>
          {list.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
        <select aria-label="Span kind" value={kind} onChange={(e) => setKind(e.target.value)}>
          {KINDS.map((k) => (
            <option key={k}>{k}</option>
          ))}
        </select>
        <select aria-label="Time range" value={range} onChange={(e) => setRange(Number(e.target.value))}>
          {RANGES.map(([v, l]) => (
            <option key={v} value={v}>
              {l}
            </option>
          ))}
        </select>
      </div>
      {services.status === 'done' && !list.length && <div className="message muted">No services have reported spans yet.</div>}
      {red.status === 'loading' && <div className="message">Loading metrics…</div>}
      {notAvailable && (
        <div className="message card" data-testid="monitor-unavailable">
          <strong>Service performance monitoring is not available.</strong>
          <p className="muted">
            This query service has no metrics backend configured (the <code>/api/metrics</code> endpoints answered{' '}
            {(red.error as ApiError).status}). Configure a metrics store to see RED metrics here.
          </p>
        </div>
      )}
      {red.status === 'error' && !notAvailable && <div className="message error">Cannot load metrics: {red.error.message}</div>}
      {red.status === 'done' && (
        <>
          <div className="charts">
            <LineChart testId="chart-latency" title="Latency (ms)" series={red.data.latency} unit={(v) => `${v.toFixed(v < 10 ? 1 : 0)}ms`} />
            <LineChart testId="chart-errors" title="Error rate (%)" series={red.data.errors} unit={(v) => `${v.toFixed(1)}%`} />
            <LineChart testId="chart-calls" title="Request rate (req/s)" series={red.data.calls} unit={(v) => v.toFixed(v < 10 ? 2 : 0)} />
          </div>
          <div className="card">
            <h3>Operations</h3>
            <table className="grid-table" data-testid="monitor-ops">
              <thead>
                <tr>
                  <th>Name</th>
                  <th className="num">P95 latency</th>
                  <th className="num">Request rate</th>
                  <th className="num">Error rate</th>
                </tr>
              </thead>
              <tbody>
                {red.data.ops.map((o) => (
                  <tr key={o.name}>
                    <td>{o.name}</td>
                    <td className="num">{o.p95.toFixed(2)}ms</td>
                    <td className="num">{o.rate.toFixed(2)} req/s</td>
                    <td className="num">{(o.errRate * 100).toFixed(1)}%</td>
                  </tr>
                ))}
                {!red.data.ops.length && (
                  <tr>
                    <td colSpan={4} className="muted">
                      No operations with metrics in this range.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
        </>
      )}
    </div>
  );
}
