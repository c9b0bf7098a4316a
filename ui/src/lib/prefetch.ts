// Starts fetching the trace of a /trace/{id} URL while React is still booting, so the
// network round trip overlaps with script start-up (it dominates big traces' first paint).
import { api } from './api';
import type { RawTrace } from './types';

let pending: { id: string; promise: Promise<RawTrace> } | null = null;

export function prefetchFromLocation(basename: string): void {
  const path = window.location.pathname.slice(basename === '/' ? 0 : basename.length);
  const m = /^\/trace\/([^/.]+)$/.exec(path);
  if (!m) return;
  const id = decodeURIComponent(m[1]);
  const promise = api.trace(id);
  promise.catch(() => {}); // consumed (and reported) by the trace page
  pending = { id, promise };
}

/** The prefetched trace for `id`, once; later loads fetch again. */
export function takePrefetched(id: string): Promise<RawTrace> | null {
  if (pending?.id !== id) return null;
  const p = pending.promise;
  pending = null;
  return p;
}
