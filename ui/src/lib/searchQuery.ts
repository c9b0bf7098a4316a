// The search form's state, kept in the page URL with Jaeger UI's parameter names so that
// bookmarked /search?service=…&lookback=1h links keep working, and translated to the API's.

export interface SearchForm {
  service: string;
  operation: string;
  tags: string; // logfmt: `k=v k2="v 2"`
  lookback: string; // 1h, 2h, … or "custom"
  start: string; // microseconds, custom range only
  end: string;
  minDuration: string;
  maxDuration: string;
  limit: string;
}

export const LOOKBACKS: [string, string][] = [
  ['5m', 'Last 5 minutes'],
  ['15m', 'Last 15 minutes'],
  ['30m', 'Last 30 minutes'],
  ['1h', 'Last hour'],
  ['2h', 'Last 2 hours'],
  ['6h', 'Last 6 hours'],
  ['12h', 'Last 12 hours'],
  ['1d', 'Last 24 hours'],
  ['2d', 'Last 2 days'],
  ['7d', 'Last 7 days'],
  ['custom', 'Custom time range'],
];

const UNIT_US: Record<string, number> = { m: 60e6, h: 3600e6, d: 86400e6 };

export function lookbackUs(lb: string): number {
  const m = /^(\d+)([mhd])$/.exec(lb);
  return m ? Number(m[1]) * UNIT_US[m[2]] : 3600e6;
}

export function formFromUrl(p: URLSearchParams): SearchForm {
  return {
    service: p.get('service') ?? '',
    operation: p.get('operation') ?? '',
    tags: p.get('tags') ?? '',
    lookback: p.get('lookback') ?? '1h',
    start: p.get('start') ?? '',
    end: p.get('end') ?? '',
    minDuration: p.get('minDuration') ?? '',
    maxDuration: p.get('maxDuration') ?? '',
    limit: p.get('limit') ?? '20',
  };
}

export function formToUrl(f: SearchForm): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v) p.set(k, v);
  if (f.lookback !== 'custom') {
    p.delete('start');
    p.delete('end');
  }
  return p.toString();
}

/** logfmt `k=v k2="v w"` (Jaeger UI's tags box) → {k: v}. */
export function parseTags(s: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  const re = /\s*([^\s=]+)=("((?:[^"\\]|\\.)*)"|\S*)/y;
  let rest = s.trim();
  while (rest) {
    re.lastIndex = 0;
    const m = re.exec(rest);
    if (!m) return `cannot parse tags near "${rest.slice(0, 20)}": use key=value pairs separated by spaces`;
    out[m[1]] = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[2];
    rest = rest.slice(m[0].length).trim();
  }
  return out;
}

/** The `/api/traces` query string for a form, or an error message. */
export function apiQuery(f: SearchForm, nowUs = Date.now() * 1000): string {
  const p = new URLSearchParams();
  p.set('service', f.service);
  if (f.operation) p.set('operation', f.operation);
  const tags = parseTags(f.tags);
  if (typeof tags === 'string') throw new Error(tags);
  if (Object.keys(tags).length) p.set('tags', JSON.stringify(tags));
  if (f.lookback === 'custom' && f.start && f.end) {
    p.set('start', f.start);
    p.set('end', f.end);
  } else {
    p.set('end', String(Math.round(nowUs)));
    p.set('start', String(Math.round(nowUs - lookbackUs(f.lookback))));
    p.set('lookback', f.lookback);
  }
  if (f.minDuration) p.set('minDuration', f.minDuration);
  if (f.maxDuration) p.set('maxDuration', f.maxDuration);
  p.set('limit', f.limit || '20');
  return p.toString();
}
