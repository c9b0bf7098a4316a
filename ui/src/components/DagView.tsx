// Draws a layered graph (lib/dag.ts) in SVG: rounded nodes, curved edges with arrowheads
// and counts. Used by the service map and the trace graph.
import { useMemo, useState } from 'react';
import { layoutDag, NODE_H, NODE_W } from '../lib/dag';
import type { DependencyLink } from '../lib/types';

export interface DagViewProps {
  links: DependencyLink[];
  label: (id: string) => [string, string?];
  color: (id: string) => string;
  nodeTitle: (id: string) => string;
  onNode?: (id: string) => void;
  nodeClass?: (id: string) => string;
  extraNodes?: string[];
}

const NONE: string[] = [];

export default function DagView({ links, label, color, nodeTitle, onNode, nodeClass, extraNodes = NONE }: DagViewProps) {
  const layout = useMemo(() => layoutDag(links, extraNodes), [links, extraNodes]);
  const [hover, setHover] = useState<string | null>(null);
  const at = useMemo(() => new Map(layout.nodes.map((n) => [n.id, n])), [layout]);
  return (
    <svg width={layout.width} height={layout.height} viewBox={`0 0 ${layout.width} ${layout.height}`} className="dag" role="img">
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M 0 0 L 10 5 L 0 10 z" className="arrowhead" />
        </marker>
      </defs>
      {layout.edges.map((e) => {
        const f = at.get(e.from)!;
        const t = at.get(e.to)!;
        const self = e.from === e.to;
        const x1 = f.x + NODE_W;
        const y1 = f.y + NODE_H / 2;
        const x2 = t.x;
        const y2 = t.y + NODE_H / 2;
        const d = self
          ? `M ${f.x + NODE_W - 20} ${f.y} C ${f.x + NODE_W} ${f.y - 40}, ${f.x + NODE_W + 40} ${f.y}, ${f.x + NODE_W} ${f.y + 10}`
          : e.back
            ? `M ${f.x} ${y1} C ${f.x - 60} ${y1 + 60}, ${t.x + NODE_W + 60} ${y2 + 60}, ${t.x + NODE_W} ${y2}`
            : `M ${x1} ${y1} C ${(x1 + x2) / 2} ${y1}, ${(x1 + x2) / 2} ${y2}, ${x2} ${y2}`;
        const active = hover === e.from || hover === e.to;
        return (
          <g key={`${e.from}>${e.to}`} className={active ? 'edge active' : 'edge'} data-testid="dep-edge">
            <path d={d} markerEnd="url(#arrow)" />
            <text x={self ? f.x + NODE_W + 20 : (x1 + x2) / 2} y={self ? f.y - 20 : (y1 + y2) / 2 - 4} textAnchor="middle" className="edge-label">
              {e.calls}
            </text>
          </g>
        );
      })}
      {layout.nodes.map((n) => {
        const [l1, l2] = label(n.id);
        const cut = (s: string) => (s.length > 22 ? `${s.slice(0, 21)}…` : s);
        return (
          <g
            key={n.id}
            transform={`translate(${n.x},${n.y})`}
            className={`node ${nodeClass?.(n.id) ?? ''}`}
            data-testid="dep-node"
            role={onNode ? 'link' : undefined}
            tabIndex={onNode ? 0 : undefined}
            onMouseEnter={() => setHover(n.id)}
            onMouseLeave={() => setHover(null)}
            onClick={() => onNode?.(n.id)}
            onKeyDown={(e) => e.key === 'Enter' && onNode?.(n.id)}
          >
            <rect width={NODE_W} height={NODE_H} rx={8} style={{ stroke: color(n.id) }} />
            {l2 === undefined ? (
              <text x={NODE_W / 2} y={NODE_H / 2 + 5} textAnchor="middle">
                {cut(l1)}
              </text>
            ) : (
              <>
                <text x={NODE_W / 2} y={15} textAnchor="middle" className="node-svc">
                  {cut(l1)}
                </text>
                <text x={NODE_W / 2} y={30} textAnchor="middle" className="node-op">
                  {cut(l2)}
                </text>
              </>
            )}
            <title>{nodeTitle(n.id)}</title>
          </g>
        );
      })}
    </svg>
  );
}

