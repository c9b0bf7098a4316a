// Per service and operation: span count, errors, total/self/avg/min/max duration.
import { useMemo, useState } from 'react';
import { fmtDuration } from '../lib/format';
import { operationStats, type OpStats } from '../lib/stats';
import type { Trace } from '../lib/trace';

const COLS: [keyof OpStats | 'avg', string][] = [
  ['service', 'Service'],
  ['operation', 'Operation'],
  ['count', 'Spans'],
  ['errors', 'Errors'],
  ['total', 'Total'],
  ['avg', 'Avg'],
  ['min', 'Min'],
  ['max', 'Max'],
  ['self', 'Self time'],
];

export default function StatsTable({ trace }: { trace: Trace }) {
  const stats = useMemo(() => operationStats(trace), [trace]);
  const [sort, setSort] = useState<[string, number]>(['total', -1]);
  const val = (o: OpStats, k: string) => (k === 'avg' ? o.total / o.count : (o[k as keyof OpStats] as number | string));
  const rows = [...stats].sort((a, b) => {
    const x = val(a, sort[0]);
    const y = val(b, sort[0]);
    return (typeof x === 'string' ? x.localeCompare(y as string) : x - (y as number)) * sort[1];
  });
  return (
    <div className="card scroll-x">
      <table className="grid-table" data-testid="stats-table">
        <thead>
          <tr>
            {COLS.map(([k, l]) => (
              <th key={k} onClick={() => setSort([k, sort[0] === k ? -sort[1] : -1])} aria-sort={sort[0] === k ? (sort[1] > 0 ? 'ascending' : 'descending') : 'none'}>
                {l}
                {sort[0] === k ? (sort[1] > 0 ? ' ▲' : ' ▼') : ''}
              </th>
            ))}
            <th>% of trace (self)</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((o) => (
            <tr key={o.key}>
              <td>{o.service}</td>
              <td>{o.operation}</td>
              <td className="num">{o.count}</td>
              <td className={o.errors ? 'num error' : 'num'}>{o.errors}</td>
              <td className="num">{fmtDuration(o.total)}</td>
              <td className="num">{fmtDuration(o.total / o.count)}</td>
              <td className="num">{fmtDuration(o.min)}</td>
              <td className="num">{fmtDuration(o.max)}</td>
              <td className="num">{fmtDuration(o.self)}</td>
              <td className="num">
                <span className="pct-bar" style={{ width: `${Math.min(100, (o.self / Math.max(1, trace.duration)) * 100)}%` }} />
                {((o.self / Math.max(1, trace.duration)) * 100).toFixed(1)}%
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
