// Fetching from the query API. URLs are relative to <base href>, so the UI works under any
// --query.base-path without knowing it.
import type { DependencyLink, Envelope, MetricFamily, Operation, RawTrace } from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
  get notAvailable(): boolean {
    return this.status === 404 || this.status === 501;
  }
}

export function apiUrl(path: string): string {
  return new URL(path.replace(/^\//, ''), document.baseURI).toString();
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(apiUrl(path), { signal, headers: { Accept: 'application/json' } });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, `cannot reach the query service: ${(e as Error).message}`);
  }
  if (!res.ok) {
    let msg = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as Envelope<unknown>;
      if (body.errors?.[0]?.msg) msg = body.errors[0].msg;
    } catch {
      // Not JSON (e.g. a proxy's error page): keep the status line.
    }
    throw new ApiError(res.status, msg);
  }
  return (await res.json()) as T;
}

export const api = {
  services: (s?: AbortSignal) => getJson<Envelope<string[] | null>>('api/services', s).then((e) => e.data ?? []),
  operations: (service: string, s?: AbortSignal) =>
    getJson<Envelope<Operation[] | null>>(`api/operations?service=${encodeURIComponent(service)}`, s).then(
      (e) => e.data ?? [],
    ),
  search: (query: string, s?: AbortSignal) =>
    getJson<Envelope<RawTrace[] | null>>(`api/traces?${query}`, s).then((e) => e.data ?? []),
  trace: (id: string, s?: AbortSignal) =>
    getJson<Envelope<RawTrace[]>>(`api/traces/${encodeURIComponent(id)}`, s).then((e) => {
      const t = e.data?.[0];
      if (!t) throw new ApiError(404, 'trace not found');
      return t;
    }),
  criticalPath: (id: string, s?: AbortSignal) =>
    getJson<Envelope<unknown> | unknown>(`api/traces/${encodeURIComponent(id)}/critical-path`, s),
  dependencies: (endTs: number, lookback: number, s?: AbortSignal) =>
    getJson<Envelope<DependencyLink[] | null>>(`api/dependencies?endTs=${endTs}&lookback=${lookback}`, s).then(
      (e) => e.data ?? [],
    ),
  metrics: (kind: 'latencies' | 'calls' | 'errors', query: string, s?: AbortSignal) =>
    getJson<MetricFamily | Envelope<MetricFamily>>(`api/metrics/${kind}?${query}`, s).then((m) =>
      'metrics' in (m as MetricFamily) ? (m as MetricFamily) : (m as Envelope<MetricFamily>).data,
    ),
};
