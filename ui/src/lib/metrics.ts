// Reading Jaeger's SPM answers: protobuf JSON of `MetricFamily`, where timestamps are
// RFC 3339 strings and points without data carry the string "NaN".
import type { MetricFamily } from './types';

type Metric = MetricFamily['metrics'][number];

/** The series' finite points as [ms since epoch, value]. */
export function points(m: Metric | undefined): [number, number][] {
  return (m?.metricPoints ?? [])
    .map((p) => [typeof p.timestamp === 'number' ? p.timestamp : Date.parse(p.timestamp), Number(p.gaugeValue?.doubleValue ?? NaN)] as [number, number])
    .filter(([t, v]) => Number.isFinite(t) && Number.isFinite(v));
}

export function label(m: Metric, name: string): string {
  return m.labels?.find((l) => l.name === name)?.value ?? '';
}
