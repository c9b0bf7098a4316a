// /trace/{a}...{b}: two traces side by side and their span counts per service+operation,
// with what only one of them has highlighted.
import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { fmtDuration, fmtTime } from '../lib/format';
import { diffTraces } from '../lib/stats';
import type { Trace } from '../lib/trace';
import { useAsync } from '../lib/useAsync';
import { loadTrace } from './TracePage';

function Picker({ a, b }: { a: string; b: string }) {
  const navigate = useNavigate();
  const [x, setX] = useState(a);
  const [y, setY] = useState(b);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    navigate(`/trace/${x.trim()}...${y.trim()}`);
  };
  return (
    <form className="card compare-picker" onSubmit={submit}>
      <label>
        Trace A <input value={x} onChange={(e) => setX(e.target.value)} placeholder="trace ID" aria-label="Trace A ID" />
      </label>
      <label>
        Trace B <input value={y} onChange={(e) => setY(e.target.value)} placeholder="trace ID" aria-label="Trace B ID" />
      </label>
      <button className="primary" type="submit" disabled={!x.trim() || !y.trim()}>
        Compare
      </button>
    </form>
  );
}

function Side({ label, state, id }: { label: string; state: ReturnType<typeof useAsync<Trace>>; id: string }) {
  return (
    <div className="card compare-side" data-testid={`compare-${label}`}>
      <h3>Trace {label}</h3>
      {state.status === 'error' && <div className="error">{state.error.status === 404 ? `Trace ${id} not found.` : state.error.message}</div>}
      {state.status === 'loading' && <div className="muted">Loading…</div>}
      {state.status === 'done' && (
        <>
          <Link to={`/trace/${state.data.id}`}>
            <strong>
              {state.data.rootService}: {state.data.rootOperation}
            </strong>
          </Link>
          <div className="muted mono small">{state.data.id}</div>
          <div className="summary">
            <span>{fmtTime(state.data.start)}</span>
            <span>
              <strong>{fmtDuration(state.data.duration)}</strong>
            </span>
            <span>
              <strong>{state.data.spans.length}</strong> spans
            </span>
            <span>
              <strong>{state.data.errorCount}</strong> errors
            </span>
          </div>
        </>
      )}
    </div>
  );
}

export default function ComparePage({ a, b }: { a: string; b: string }) {
  const ta = useAsync(a ? (s) => loadTrace(a, s) : null, [a]);
  const tb = useAsync(b ? (s) => loadTrace(b, s) : null, [b]);
  const rows = ta.status === 'done' && tb.status === 'done' ? diffTraces(ta.data, tb.data) : null;
  return (
    <div className="page compare-page">
      <Picker key={`${a}...${b}`} a={a} b={b} />
      {(a || b) && (
        <div className="compare-sides">
          <Side label="A" state={ta} id={a} />
          <Side label="B" state={tb} id={b} />
        </div>
      )}
      {rows && (
        <div className="card">
          <div className="legend">
            <span className="diff-removed">only in A</span> <span className="diff-added">only in B</span>{' '}
            <span className="diff-changed">count differs</span>
          </div>
          <table className="grid-table" data-testid="diff-table">
            <thead>
              <tr>
                <th>Service</th>
                <th>Operation</th>
                <th className="num">Spans in A</th>
                <th className="num">Spans in B</th>
                <th className="num">Δ</th>
                <th className="num">Time in A</th>
                <th className="num">Time in B</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.key} className={`diff-${r.kind}`} data-diff={r.kind}>
                  <td>{r.service}</td>
                  <td>{r.operation}</td>
                  <td className="num">{r.a}</td>
                  <td className="num">{r.b}</td>
                  <td className="num">{r.b - r.a > 0 ? `+${r.b - r.a}` : r.b - r.a}</td>
                  <td className="num">{fmtDuration(r.aDuration)}</td>
                  <td className="num">{fmtDuration(r.bDuration)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {!a && !b && <div className="message muted">Enter two trace IDs, or tick two search results and press Compare.</div>}
    </div>
  );
}
