// The trace as a graph: one node per service+operation, edges from caller to callee with
// the number of calls. Nodes with errors are outlined in red; critical-path nodes in bold.
import { useMemo } from 'react';
import { serviceColor } from '../lib/format';
import { opKey } from '../lib/stats';
import type { Trace } from '../lib/trace';
import type { DependencyLink } from '../lib/types';
import DagView from './DagView';

export default function TraceGraph({ trace, critical }: { trace: Trace; critical: Set<string> | null }) {
  const { links, nodes, info } = useMemo(() => {
    const counts = new Map<string, DependencyLink>();
    const info = new Map<string, { service: string; operation: string; spans: number; errors: number; critical: boolean }>();
    for (const s of trace.spans) {
      const k = opKey(s);
      const i = info.get(k) ?? { service: s.service, operation: s.operation, spans: 0, errors: 0, critical: false };
      i.spans++;
      if (s.error) i.errors++;
      if (critical?.has(s.id)) i.critical = true;
      info.set(k, i);
      if (s.parent) {
        const e = `${opKey(s.parent)}\u0001${k}`;
        const l = counts.get(e) ?? { parent: opKey(s.parent), child: k, callCount: 0 };
        l.callCount++;
        counts.set(e, l);
      }
    }
    return { links: [...counts.values()], nodes: [...info.keys()], info };
  }, [trace, critical]);
  return (
    <div className="card graph-box" data-testid="trace-graph">
      <DagView
        links={links}
        extraNodes={nodes}
        label={(id) => [info.get(id)!.service, info.get(id)!.operation]}
        color={(id) => serviceColor(info.get(id)!.service)}
        nodeTitle={(id) => {
          const i = info.get(id)!;
          return `${i.service}: ${i.operation}\n${i.spans} spans${i.errors ? `, ${i.errors} errors` : ''}${i.critical ? '\non the critical path' : ''}`;
        }}
        nodeClass={(id) => `${info.get(id)!.errors ? 'err' : ''} ${info.get(id)!.critical ? 'critical' : ''}`}
      />
    </div>
  );
}
