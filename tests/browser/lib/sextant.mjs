// Starts a real `sextant` all-in-one on free loopback ports with a fresh embedded store,
// feeds it OTLP/JSON over HTTP, and stops it. Every `*host-port` flag the binary lists in
// --help gets its own free port, so new listeners never collide with a running Jaeger.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const root = resolve(new URL('../../..', import.meta.url).pathname);

/** `n` distinct free loopback ports: every socket stays open until all are chosen, so the
 * kernel cannot hand the same port out twice. */
async function freePorts(n) {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise((ok, fail) => {
      const s = createServer();
      s.unref();
      s.on('error', fail);
      s.listen(0, '127.0.0.1', () => ok(s));
    })),
  );
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  return ports;
}

export async function waitFor(what, fn, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

/** Starts `sextant`; a port taken between choosing it and binding it (another process's
 * outgoing connection can grab it) is retried with fresh ports. */
export async function startSextant(options = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (e) {
      if (attempt >= 3 || !/Address already in use/.test(e.message)) throw e;
    }
  }
}

async function startOnce({ basePath = '' } = {}) {
  const bin = process.env.SEXTANT_BIN ?? join(process.env.SEXTANT_BIN_DIR ?? join(root, 'target/debug'), 'sextant');
  const help = execFileSync(bin, ['--help'], { encoding: 'utf8' });
  const flags = [...new Set(help.match(/--[a-z0-9.-]*host-port\b/g) ?? [])].filter((f) => !f.startsWith('--reporter.'));
  const chosen = await freePorts(flags.length);
  const ports = Object.fromEntries(flags.map((f, i) => [f.slice(2), chosen[i]]));
  const dir = mkdtempSync(join(tmpdir(), 'sextant-ui-'));
  const log = join(dir, 'sextant.log');
  const out = openSync(log, 'w');
  const args = [`--embedded.directory=${join(dir, 'data')}`, ...Object.entries(ports).map(([k, v]) => `--${k}=127.0.0.1:${v}`)];
  if (basePath) args.push(`--query.base-path=${basePath}`);
  const proc = spawn(bin, args, { stdio: ['ignore', out, out] });
  const admin = ports['admin.http.host-port'];
  const query = `http://127.0.0.1:${ports['query.http-server.host-port']}${basePath}`;
  const otlp = `http://127.0.0.1:${ports['collector.otlp.http.host-port']}/v1/traces`;
  let exited = null;
  proc.on('exit', (code) => (exited = code));
  await waitFor('sextant health', async () => {
    if (exited !== null) throw new Error(`sextant exited with ${exited}:\n${readFileSync(log, 'utf8')}`);
    return (await fetch(`http://127.0.0.1:${admin}/`)).ok;
  });
  return {
    query,
    otlp,
    logs: () => readFileSync(log, 'utf8'),
    async post(body) {
      const res = await fetch(otlp, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`OTLP POST: ${res.status} ${await res.text()}`);
    },
    async api(path) {
      const res = await fetch(`${query}${path}`);
      return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text() };
    },
    /** Polls until trace `id` is stored with `spans` spans. */
    async waitTrace(id, spans, timeoutMs = 30000) {
      return waitFor(`trace ${id} with ${spans} spans`, async () => {
        const r = await this.api(`/api/traces/${id}`);
        return r.status === 200 && r.body.data?.[0]?.spans?.length >= spans ? r.body.data[0] : null;
      }, timeoutMs);
    },
    async stop() {
      if (exited === null) {
        proc.kill('SIGTERM');
        await waitFor('sextant exit', () => exited !== null, 15000).catch(() => proc.kill('SIGKILL'));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
