// Human-readable durations and times. Trace times are microseconds since the epoch.

export function fmtDuration(us: number): string {
  if (!Number.isFinite(us)) return '–';
  const a = Math.abs(us);
  if (a < 1000) return `${round(us)}μs`;
  if (a < 1_000_000) return `${round(us / 1000)}ms`;
  if (a < 60_000_000) return `${round(us / 1_000_000)}s`;
  return `${round(us / 60_000_000)}m`;
}

function round(n: number): string {
  return n >= 100 || n <= -100 ? n.toFixed(0) : n >= 10 || n <= -10 ? n.toFixed(1) : n.toFixed(2);
}

export function fmtTime(us: number): string {
  const d = new Date(us / 1000);
  return d.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

export function fmtClock(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function fmtAgo(us: number, nowMs = Date.now()): string {
  const s = Math.max(0, Math.round((nowMs - us / 1000) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

export function fmtValue(v: unknown): string {
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/** Parses Jaeger's duration syntax ("1.5ms", "2s", "300us") into microseconds. */
export function parseDuration(s: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|μs|ms|s|m|h)\s*$/.exec(s);
  if (!m) return null;
  const mult: Record<string, number> = { ns: 0.001, us: 1, µs: 1, μs: 1, ms: 1e3, s: 1e6, m: 6e7, h: 3.6e9 };
  return Number(m[1]) * mult[m[2]];
}

/** A stable colour per service name. */
export function serviceColor(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return `hsl(${h % 360}, 55%, 55%)`;
}
