// Traces opened from a JSON file live only in this tab; the trace page looks here first.
import type { RawTrace } from './types';

const uploaded = new Map<string, RawTrace>();

export function addUploaded(traces: RawTrace[]): void {
  for (const t of traces) uploaded.set(t.traceID, t);
}

export function getUploaded(id: string): RawTrace | undefined {
  return uploaded.get(id);
}

export function allUploaded(): RawTrace[] {
  return [...uploaded.values()];
}
