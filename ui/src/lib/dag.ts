// Layered layout of the service dependency graph (a small Sugiyama): break cycles, assign
// each node the layer of its longest path from a source, order layers by barycentre sweeps.
import type { DependencyLink } from './types';

export interface LaidNode {
  id: string;
  layer: number;
  x: number;
  y: number;
}

export interface LaidEdge {
  from: string;
  to: string;
  calls: number;
  back: boolean;
}

export interface Layout {
  nodes: LaidNode[];
  edges: LaidEdge[];
  width: number;
  height: number;
}

export const NODE_W = 170;
export const NODE_H = 40;
const GAP_X = 90;
const GAP_Y = 26;

/** `extra` adds nodes without edges (a single-span trace, a service that calls nobody). */
export function layoutDag(links: DependencyLink[], extra: string[] = []): Layout {
  const out = new Map<string, Map<string, number>>();
  const names = new Set<string>();
  for (const l of links) {
    names.add(l.parent);
    names.add(l.child);
    if (!out.has(l.parent)) out.set(l.parent, new Map());
    const m = out.get(l.parent)!;
    m.set(l.child, (m.get(l.child) ?? 0) + l.callCount);
  }
  for (const id of extra) names.add(id);
  const ids = [...names].sort();
  // Cycle breaking: edges that close a cycle in an iterative DFS become "back" edges and
  // are ignored by the layering.
  const state = new Map<string, 1 | 2>();
  const back = new Set<string>();
  for (const root of ids) {
    if (state.has(root)) continue;
    const stack: [string, string[]][] = [[root, [...(out.get(root)?.keys() ?? [])].sort()]];
    state.set(root, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const next = top[1].shift();
      if (next === undefined) {
        state.set(top[0], 2);
        stack.pop();
      } else if (state.get(next) === 1 || next === top[0]) back.add(`${top[0]}\u0000${next}`);
      else if (!state.has(next)) {
        state.set(next, 1);
        stack.push([next, [...(out.get(next)?.keys() ?? [])].sort()]);
      }
    }
  }
  const edges: LaidEdge[] = [];
  for (const [from, m] of out)
    for (const [to, calls] of m) edges.push({ from, to, calls, back: back.has(`${from}\u0000${to}`) });
  // Longest-path layering over the acyclic part (Kahn's order).
  const layer = new Map(ids.map((id) => [id, 0]));
  const indeg = new Map(ids.map((id) => [id, 0]));
  const fwd = edges.filter((e) => !e.back);
  for (const e of fwd) indeg.set(e.to, (indeg.get(e.to) ?? 0) + 1);
  const queue = ids.filter((id) => indeg.get(id) === 0);
  while (queue.length) {
    const n = queue.shift()!;
    for (const e of fwd)
      if (e.from === n) {
        layer.set(e.to, Math.max(layer.get(e.to)!, layer.get(n)! + 1));
        indeg.set(e.to, indeg.get(e.to)! - 1);
        if (indeg.get(e.to) === 0) queue.push(e.to);
      }
  }
  const layers: string[][] = [];
  for (const id of ids) (layers[layer.get(id)!] ??= []).push(id);
  for (let i = 0; i < layers.length; i++) layers[i] ??= [];
  // Barycentre ordering: a few down and up sweeps reduce crossings well enough for service maps.
  const pos = new Map<string, number>();
  const setPos = () => layers.forEach((l) => l.forEach((id, i) => pos.set(id, i)));
  setPos();
  const neighbours = (id: string, up: boolean) =>
    fwd.filter((e) => (up ? e.to === id : e.from === id)).map((e) => pos.get(up ? e.from : e.to)!);
  for (let sweep = 0; sweep < 4; sweep++) {
    const up = sweep % 2 === 0;
    const range = up ? layers.map((_, i) => i).slice(1) : layers.map((_, i) => i).reverse().slice(1);
    for (const i of range) {
      const bc = new Map(
        layers[i].map((id) => {
          const ns = neighbours(id, up);
          return [id, ns.length ? ns.reduce((a, b) => a + b, 0) / ns.length : pos.get(id)!];
        }),
      );
      layers[i].sort((a, b) => bc.get(a)! - bc.get(b)! || a.localeCompare(b));
      setPos();
    }
  }
  const tallest = Math.max(1, ...layers.map((l) => l.length));
  const height = tallest * (NODE_H + GAP_Y) + GAP_Y;
  const nodes: LaidNode[] = [];
  layers.forEach((l, li) => {
    const offset = (height - l.length * (NODE_H + GAP_Y) + GAP_Y) / 2;
    l.forEach((id, i) =>
      nodes.push({ id, layer: li, x: GAP_X / 2 + li * (NODE_W + GAP_X), y: offset + i * (NODE_H + GAP_Y) }),
    );
  });
  return { nodes, edges, width: layers.length * (NODE_W + GAP_X), height };
}
