// Everything about one span: tags, process/resource, logs/events, references/links, warnings.
import { fmtDuration, fmtValue } from '../lib/format';
import type { Span, Trace } from '../lib/trace';
import type { KeyValue } from '../lib/types';

function KvTable({ items, label }: { items: KeyValue[]; label: string }) {
  if (!items.length) return <div className="muted">No {label.toLowerCase()}.</div>;
  return (
    <table className="kv" aria-label={label}>
      <tbody>
        {items.map((kv, i) => (
          <tr key={`${kv.key}-${i}`}>
            <th>{kv.key}</th>
            <td className={kv.type === 'string' || !kv.type ? '' : 'typed'}>{fmtValue(kv.value)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export default function SpanDetail({
  span,
  trace,
  onClose,
  onJump,
}: {
  span: Span;
  trace: Trace;
  onClose: () => void;
  onJump: (id: string) => void;
}) {
  const r = span.raw;
  return (
    <section className="detail" aria-label="Span details" data-testid="span-detail">
      <header>
        <h3>
          <span className="svc">{span.service}</span> {span.operation}
        </h3>
        <div className="muted">
          Duration <strong>{fmtDuration(span.duration)}</strong> · Start {fmtDuration(span.offset)} · Span ID{' '}
          <span className="mono">{span.id}</span>
        </div>
        <button className="ghost close" onClick={onClose} aria-label="Close details">
          ✕
        </button>
      </header>
      <div className="detail-body">
        <details open>
          <summary>Tags ({r.tags?.length ?? 0})</summary>
          <KvTable items={r.tags ?? []} label="Tags" />
        </details>
        <details open>
          <summary>Process ({span.process.tags?.length ?? 0})</summary>
          <KvTable items={[{ key: 'service.name', value: span.service }, ...(span.process.tags ?? [])]} label="Process" />
        </details>
        <details open={!!r.logs?.length}>
          <summary>Logs ({r.logs?.length ?? 0})</summary>
          {(r.logs ?? []).map((l, i) => (
            <div className="log" key={i}>
              <div className="muted">{fmtDuration(l.timestamp - trace.start)}</div>
              <KvTable items={l.fields ?? []} label="Log fields" />
            </div>
          ))}
        </details>
        <details open={!!r.references?.length}>
          <summary>References ({r.references?.length ?? 0})</summary>
          <ul className="refs">
            {(r.references ?? []).map((ref, i) => {
              const target = trace.byId.get(ref.spanID);
              return (
                <li key={i}>
                  <span className="badge">{ref.refType}</span>{' '}
                  {target ? (
                    <button className="link" onClick={() => onJump(ref.spanID)}>
                      {target.service}: {target.operation}
                    </button>
                  ) : (
                    <span className="mono">
                      {ref.traceID !== trace.id ? `trace ${ref.traceID} ` : ''}span {ref.spanID}
                    </span>
                  )}
                </li>
              );
            })}
          </ul>
        </details>
        {!!r.warnings?.length && (
          <details open>
            <summary>Warnings ({r.warnings.length})</summary>
            <ul>
              {r.warnings.map((w, i) => (
                <li key={i} className="error">
                  {w}
                </li>
              ))}
            </ul>
          </details>
        )}
      </div>
    </section>
  );
}
