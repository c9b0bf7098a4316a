// /dependencies: the service graph from /api/dependencies, laid out as a DAG. Clicking a
// service opens a search for it.
import { useMemo, useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { api } from '../lib/api';
import DagView from '../components/DagView';
import { layoutDag } from '../lib/dag';
import { serviceColor } from '../lib/format';
import { useAsync } from '../lib/useAsync';

const LOOKBACKS: [number, string][] = [
  [3600e3, 'Last hour'],
  [6 * 3600e3, 'Last 6 hours'],
  [86400e3, 'Last 24 hours'],
  [7 * 86400e3, 'Last 7 days'],
];

export default function DependenciesPage() {
  const navigate = useNavigate();
  const [lookback, setLookback] = useState(86400e3);
  const deps = useAsync((s) => api.dependencies(Date.now(), lookback, s), [lookback]);
  const layout = useMemo(() => (deps.status === 'done' ? layoutDag(deps.data) : null), [deps]);
  return (
    <div className="page deps-page">
      <div className="card toolbar">
        <h2>System Architecture</h2>
        <select value={lookback} onChange={(e) => setLookback(Number(e.target.value))} aria-label="Lookback">
          {LOOKBACKS.map(([v, l]) => (
            <option key={v} value={v}>
              {l}
            </option>
          ))}
        </select>
        {layout && (
          <span className="muted" data-testid="deps-summary">
            {layout.nodes.length} services, {layout.edges.length} dependencies
          </span>
        )}
      </div>
      {deps.status === 'loading' && <div className="message">Loading dependencies…</div>}
      {deps.status === 'error' && <div className="message error">Cannot load dependencies: {deps.error.message}</div>}
      {layout && layout.nodes.length === 0 && <div className="message muted">No service dependencies found in this time range.</div>}
      {layout && layout.nodes.length > 0 && (
        <div className="card graph-box">
          <DagView
            links={deps.status === 'done' ? deps.data : []}
            label={(id) => [id]}
            color={serviceColor}
            nodeTitle={(id) => `Search traces of ${id}`}
            onNode={(id) => navigate(`/search?service=${encodeURIComponent(id)}`)}
          />
        </div>
      )}
    </div>
  );
}
