import { describe, expect, it } from 'vitest';
import { computeCriticalPath, sectionsFromApi } from './criticalPath';
import { layoutDag } from './dag';
import { label, points } from './metrics';
import { buildFrames, layoutFrames } from './flame';
import { diffTraces, selfTime } from './stats';
import { processTrace, tracesFromJson } from './trace';
import type { RawSpan } from './types';

function span(id: string, parent: string | null, start: number, duration: number, svc = 'p1', op = id): RawSpan {
  return {
    traceID: 't',
    spanID: id,
    operationName: op,
    references: parent ? [{ refType: 'CHILD_OF', traceID: 't', spanID: parent }] : [],
    startTime: start,
    duration,
    processID: svc,
  };
}

const processes = { p1: { serviceName: 'front' }, p2: { serviceName: 'back' } };

describe('processTrace', () => {
  it('builds a depth-first tree and counts services and errors', () => {
    const raw = {
      traceID: 't',
      processes,
      spans: [span('c', 'a', 20, 10, 'p2'), span('a', null, 0, 100), span('b', 'a', 10, 5, 'p2')],
    };
    raw.spans[0].tags = [{ key: 'error', type: 'bool', value: true }];
    const t = processTrace(raw);
    expect(t.spans.map((s) => s.id)).toEqual(['a', 'b', 'c']);
    expect(t.spans.map((s) => s.depth)).toEqual([0, 1, 1]);
    expect(t.errorCount).toBe(1);
    expect(t.services).toEqual([
      { name: 'back', count: 2 },
      { name: 'front', count: 1 },
    ]);
    expect(t.rootOperation).toBe('a');
  });

  it('survives reference cycles', () => {
    const t = processTrace({ traceID: 't', processes, spans: [span('a', 'b', 0, 1), span('b', 'a', 0, 1)] });
    expect(t.spans).toHaveLength(2);
  });
});

describe('computeCriticalPath', () => {
  it('follows the last-finishing child and climbs back to the parent', () => {
    // root 0..100; b 10..40; c 50..90 (finishes last); d (child of c) 60..70.
    const t = processTrace({
      traceID: 't',
      processes,
      spans: [span('root', null, 0, 100), span('b', 'root', 10, 30), span('c', 'root', 50, 40), span('d', 'c', 60, 10)],
    });
    const cp = computeCriticalPath(t);
    expect(cp).toEqual([
      { spanId: 'root', start: 90, end: 100 },
      { spanId: 'c', start: 70, end: 90 },
      { spanId: 'd', start: 60, end: 70 },
      { spanId: 'c', start: 50, end: 60 },
      { spanId: 'root', start: 40, end: 50 },
      { spanId: 'b', start: 10, end: 40 },
      { spanId: 'root', start: 0, end: 10 },
    ]);
    const total = cp.reduce((n, s) => n + s.end - s.start, 0);
    expect(total).toBe(100);
  });

  it('reads the API shape', () => {
    expect(sectionsFromApi({ data: [{ spanId: 'a', sectionStart: 1, sectionEnd: 2 }] })).toEqual([
      { spanId: 'a', start: 1, end: 2 },
    ]);
    expect(sectionsFromApi({ data: 'x' })).toBeNull();
  });
});

describe('stats', () => {
  it('self time subtracts the union of children', () => {
    const t = processTrace({
      traceID: 't',
      processes,
      spans: [span('a', null, 0, 100), span('b', 'a', 10, 30), span('c', 'a', 20, 30)],
    });
    expect(selfTime(t.spans[0])).toBe(60);
  });

  it('diffs span counts per service and operation', () => {
    const a = processTrace({ traceID: 'a', processes, spans: [span('r', null, 0, 10), span('x', 'r', 1, 1, 'p2', 'q')] });
    const b = processTrace({ traceID: 'b', processes, spans: [span('r', null, 0, 10), span('y', 'r', 1, 1, 'p2', 'z')] });
    const d = diffTraces(a, b);
    expect(d.map((r) => [r.operation, r.kind])).toEqual([
      ['q', 'removed'],
      ['z', 'added'],
      ['r', 'same'],
    ]);
  });
});

describe('layoutDag', () => {
  it('layers by longest path and keeps cycles as back edges', () => {
    const l = layoutDag([
      { parent: 'a', child: 'b', callCount: 1 },
      { parent: 'b', child: 'c', callCount: 2 },
      { parent: 'a', child: 'c', callCount: 3 },
      { parent: 'c', child: 'a', callCount: 4 },
    ]);
    const layer = Object.fromEntries(l.nodes.map((n) => [n.id, n.layer]));
    expect(layer).toEqual({ a: 0, b: 1, c: 2 });
    expect(l.edges.filter((e) => e.back).map((e) => `${e.from}>${e.to}`)).toEqual(['c>a']);
  });
});

describe('tracesFromJson', () => {
  it('accepts the API envelope and rejects other JSON', () => {
    expect(tracesFromJson({ data: [{ traceID: 'x', spans: [], processes: {} }] })).toHaveLength(1);
    expect(() => tracesFromJson({ foo: 1 })).toThrow(/no Jaeger traces/);
  });
});

describe('flame graph frames', () => {
  it('merges spans by call path and fits parallel children inside the parent', () => {
    const t = processTrace({
      traceID: 't',
      processes,
      spans: [span('r', null, 0, 100), span('a', 'r', 0, 80, 'p2', 'q'), span('b', 'r', 10, 80, 'p2', 'q'), span('c', 'r', 0, 40, 'p1', 'z')],
    });
    const roots = buildFrames(t);
    const frames = layoutFrames(roots, null);
    expect(frames).toHaveLength(3);
    const q = frames.find((f) => f.operation === 'q')!;
    const z = frames.find((f) => f.operation === 'z')!;
    expect(q.count).toBe(2);
    expect(q.total).toBe(160);
    // 160 + 40 > 100: scaled by 1/200 to fit the root's width of 1.
    expect(q.w).toBeCloseTo(0.8);
    expect(z.x).toBeCloseTo(0.8);
    expect(z.x + z.w).toBeCloseTo(1);
  });
});

describe('SPM metric families', () => {
  it('reads points and labels, dropping NaN points', () => {
    const m = {
      labels: [
        { name: 'service_name', value: 'frontend' },
        { name: 'operation', value: '/dispatch' },
      ],
      metricPoints: [
        { gaugeValue: { doubleValue: 1.5 }, timestamp: '2020-09-13T12:26:40Z' },
        { gaugeValue: { doubleValue: 'NaN' }, timestamp: '2020-09-13T12:26:45Z' },
      ],
    };
    expect(points(m)).toEqual([[1_600_000_000_000, 1.5]]);
    expect(label(m, 'operation')).toBe('/dispatch');
    expect(label(m, 'missing')).toBe('');
  });
});
