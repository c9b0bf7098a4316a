// OTLP/JSON traces for the tests: a small "HotROD-like" request and a generator of big
// traces. Times are real (now), so searches with a lookback find them.
import { randomBytes } from 'node:crypto';

export const hex = (n) => randomBytes(n).toString('hex');
const str = (key, v) => ({ key, value: { stringValue: String(v) } });
const int = (key, v) => ({ key, value: { intValue: String(v) } });

/** Groups spans by service into an OTLP ExportTraceServiceRequest. */
export function otlpRequest(spans) {
  const bySvc = new Map();
  for (const s of spans) {
    if (!bySvc.has(s.service)) bySvc.set(s.service, []);
    bySvc.get(s.service).push(s);
  }
  return {
    resourceSpans: [...bySvc].map(([service, list]) => ({
      resource: { attributes: [str('service.name', service), str('host.name', `${service}-host`)] },
      scopeSpans: [
        {
          scope: { name: 'sextant-ui-test' },
          spans: list.map((s) => ({
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parent ?? '',
            name: s.name,
            kind: s.kind ?? 1,
            startTimeUnixNano: String(s.start * 1000n),
            endTimeUnixNano: String((s.start + BigInt(s.duration)) * 1000n),
            attributes: s.attributes ?? [],
            events: s.events ?? [],
            status: s.error ? { code: 2, message: 'boom' } : {},
          })),
        },
      ],
    })),
  };
}

/**
 * A request through frontend → customer → mysql, frontend → driver → redis×`redisCalls`,
 * frontend → route×`routeCalls`. Returns {traceId, spans, count}. The driver call is the
 * slowest branch, so it is on the critical path; `customer` runs in parallel and finishes
 * earlier, so it is not.
 */
export function dispatchTrace({ redisCalls = 3, routeCalls = 2, error = false, startUs, scale = 1 } = {}) {
  const traceId = hex(16);
  const t0 = BigInt(startUs ?? Date.now() * 1000 - 60_000_000);
  const spans = [];
  const add = (s) => {
    const span = { traceId, spanId: hex(8), ...s };
    spans.push(span);
    return span;
  };
  const root = add({ service: 'frontend', name: 'HTTP GET /dispatch', kind: 2, start: t0, duration: 700_000 * scale,
    attributes: [str('http.method', 'GET'), int('http.status_code', 200)] });
  const cust = add({ service: 'customer', name: 'HTTP GET /customer', kind: 2, parent: root.spanId, start: t0 + 10_000n, duration: 200_000 * scale,
    attributes: [str('customer_id', '123'), int('http.status_code', 200)] });
  add({ service: 'mysql', name: 'SQL SELECT', kind: 3, parent: cust.spanId, start: t0 + 20_000n, duration: 150_000 * scale,
    attributes: [str('sql.query', 'SELECT * FROM customer WHERE customer_id=123')],
    events: [{ timeUnixNano: String((t0 + 30_000n) * 1000n), name: 'acquired lock', attributes: [int('waiters', 2)] }] });
  const drv = add({ service: 'driver', name: 'FindNearest', kind: 2, parent: root.spanId, start: t0 + 15_000n, duration: 600_000 * scale,
    attributes: [str('location', '115,277')] });
  for (let i = 0; i < redisCalls; i++)
    add({ service: 'redis', name: 'GetDriver', kind: 3, parent: drv.spanId, start: t0 + BigInt(20_000 + i * 150_000), duration: 140_000 * scale,
      attributes: [str('driver_id', `T7${i}`)], error: error && i === 0 });
  for (let i = 0; i < routeCalls; i++)
    add({ service: 'route', name: 'FindRoute', kind: 2, parent: root.spanId, start: t0 + BigInt(620_000 + i * 10_000), duration: 40_000 * scale });
  return { traceId, spans, count: spans.length, request: otlpRequest(spans) };
}

/** A trace of `n` spans: a root with a wide, moderately deep tree below it. */
export function bigTrace(n, startUs = Date.now() * 1000 - 30_000_000) {
  const traceId = hex(16);
  const t0 = BigInt(startUs);
  const spans = [];
  const services = ['gateway', 'orders', 'inventory', 'payments', 'shipping', 'db'];
  for (let i = 0; i < n; i++) {
    // Parent i>>2 gives a 4-ary tree about log4(n) levels deep.
    const parent = i === 0 ? undefined : spans[(i - 1) >> 2].spanId;
    const depth = i === 0 ? 0 : Math.floor(Math.log(3 * i + 1) / Math.log(4));
    spans.push({
      traceId,
      spanId: hex(8),
      parent,
      service: services[i % services.length],
      name: `op-${i % 50}`,
      start: t0 + BigInt(i * 50 + depth * 10),
      duration: Math.max(10, 2_000_000 - depth * 200_000 - i * 5),
      attributes: [int('i', i)],
    });
  }
  return { traceId, spans, count: n };
}

/** Splits spans into OTLP requests of at most `per` spans. */
export function chunks(spans, per = 1000) {
  const out = [];
  for (let i = 0; i < spans.length; i += per) out.push(otlpRequest(spans.slice(i, i + per)));
  return out;
}
