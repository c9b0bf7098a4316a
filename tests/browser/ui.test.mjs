// Browser tests of the web UI: a real `sextant` all-in-one (under --query.base-path, so
// base-path handling is exercised everywhere) fed OTLP/JSON traces, driven by headless
// Debian chromium through playwright-core. Walks search → trace → span details →
// critical path → find/statistics/flame graph → compare → service map → monitor → upload,
// asserting on what each page shows, and saves a screenshot of every page to
// target/ui-screenshots/. Exit code 0 = all passed.
//
//   node tests/browser/ui.test.mjs        (needs target/debug/sextant and /usr/bin/chromium)
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser } from './lib/browser.mjs';
import { root, startSextant } from './lib/sextant.mjs';
import { dispatchTrace } from './lib/traces.mjs';

const shots = process.env.SEXTANT_SCREENSHOTS ?? join(root, 'target/ui-screenshots');
mkdirSync(shots, { recursive: true });
const BASE = '/jaeger';

let sextant;
let browser;
let page;
let current = '';
const steps = [];

async function step(name, fn) {
  current = name;
  const t = Date.now();
  await fn();
  steps.push(name);
  console.log(`ok   ${name} (${Date.now() - t} ms)`);
}

const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`) });
const text = (sel) => page.locator(sel).first().innerText();

async function main() {
  sextant = await startSextant({ basePath: BASE });
  // Five traces: A (3 redis calls, 2 route calls, an error), B (5 redis, 0 route), and
  // three more so the scatter plot and sorting have something to show.
  const a = dispatchTrace({ redisCalls: 3, routeCalls: 2, error: true });
  const b = dispatchTrace({ redisCalls: 5, routeCalls: 0, startUs: Date.now() * 1000 - 50_000_000 });
  const more = [1, 2, 3].map((i) => dispatchTrace({ redisCalls: i, routeCalls: 1, scale: i, startUs: Date.now() * 1000 - (100 + i * 60) * 1e6 }));
  for (const t of [a, b, ...more]) await sextant.post(t.request);
  for (const t of [a, b, ...more]) await sextant.waitTrace(t.traceId, t.count);

  browser = await launchBrowser();
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true, colorScheme: 'light' });
  page = await ctx.newPage();
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  const ui = (path) => `${sextant.query}${path}`;

  await step('search form lists services and finds traces', async () => {
    // The base path itself (with its slash, as people type it) opens the search page.
    await page.goto(ui('/'));
    await page.waitForURL((u) => u.pathname === `${BASE}/search`);
    const service = page.locator('select[name=service]');
    await page.waitForFunction(() => document.querySelectorAll('select[name=service] option').length > 5);
    const options = await service.locator('option').allInnerTexts();
    for (const s of ['frontend', 'customer', 'driver', 'redis', 'mysql']) assert.ok(options.includes(s), `service ${s} in ${options}`);
    await service.selectOption('frontend');
    await page.locator('select[name=operation] option', { hasText: 'HTTP GET /dispatch' }).waitFor({ state: 'attached' });
    await page.getByRole('button', { name: 'Find Traces' }).click();
    await page.getByTestId('result-count').waitFor();
    assert.equal(await text('[data-testid=result-count]'), '5 Traces');
    assert.match(page.url(), /\/jaeger\/search\?service=frontend/);
    assert.equal(await page.getByTestId('scatter-dot').count(), 5);
  });

  await step('search deep link with tags and sorting', async () => {
    await page.goto(ui('/search?service=frontend&lookback=1h&limit=20&tags=http.method%3DGET'));
    await page.getByTestId('result-count').waitFor();
    assert.equal(await text('[data-testid=result-count]'), '5 Traces');
    await page.getByLabel('Sort results').selectOption('most');
    const first = page.getByTestId('search-result').first();
    assert.match(await first.innerText(), new RegExp(`${b.count} Spans`));
    await page.getByLabel('Sort results').selectOption('errors');
    const top = await page.getByTestId('search-result').first().innerText();
    assert.match(top, /1 Errors/);
    assert.match(top, /frontend: HTTP GET \/dispatch/);
    assert.match(top, /redis \(3\)/);
    await shot('01-search');
    await page.goto(ui('/search?service=frontend&tags=customer_id%3D999'));
    await page.getByTestId('result-count').waitFor();
    assert.equal(await text('[data-testid=result-count]'), '0 Traces');
    // Jaeger UI's lookup of several trace IDs.
    await page.goto(ui(`/search?traceID=${a.traceId}&traceID=${b.traceId}`));
    await page.getByTestId('result-count').waitFor();
    assert.equal(await text('[data-testid=result-count]'), '2 Traces');
  });

  await step('open a trace from the results', async () => {
    await page.goto(ui('/search?service=frontend&lookback=1h'));
    await page.locator(`a[href$="/trace/${a.traceId}"]`).click();
    await page.getByTestId('trace-title').waitFor();
    assert.equal(new URL(page.url()).pathname, `${BASE}/trace/${a.traceId}`);
    assert.match(await text('[data-testid=trace-title]'), /frontend: HTTP GET \/dispatch/);
    assert.equal(await text('[data-testid=total-spans]'), String(a.count));
    assert.match(await text('[data-testid=trace-summary]'), /Services\s*6/);
    assert.equal(await page.getByTestId('span-row').count(), a.count);
    await shot('02-trace');
  });

  await step('expand a span: details with tags, process, logs, references', async () => {
    await page.getByTestId('span-row').filter({ hasText: 'SQL SELECT' }).click();
    const d = page.getByTestId('span-detail');
    await d.waitFor();
    const body = await d.innerText();
    assert.match(body, /mysql\s+SQL SELECT/);
    assert.match(body, /SELECT \* FROM customer WHERE customer_id=123/);
    assert.match(body, /host\.name\s+mysql-host/);
    assert.match(body, /acquired lock/);
    assert.match(body, /CHILD_OF\s+customer: HTTP GET \/customer/);
    await shot('03-span-detail');
    await page.getByLabel('Close details').click();
    // Collapse the root: only it stays visible; expand again.
    const rootRow = page.getByTestId('span-row').first();
    await rootRow.getByLabel('Collapse children').click();
    assert.equal(await page.getByTestId('span-row').count(), 1);
    await rootRow.getByLabel('Expand children').click();
    assert.equal(await page.getByTestId('span-row').count(), a.count);
  });

  await step('critical path highlights the slow branch only', async () => {
    await page.getByTestId('critical-path-info').waitFor();
    assert.match(await text('[data-testid=critical-path-info]'), /\(\d+ spans, (from server|computed)\)/);
    const onPath = async (op) =>
      page.getByTestId('span-row').filter({ hasText: op }).first().getByTestId('critical-mark').count();
    assert.equal(await onPath('FindNearest'), 1, 'driver call is on the critical path');
    assert.equal(await onPath('HTTP GET /customer'), 0, 'the parallel, earlier customer call is not');
    assert.equal(await onPath('SQL SELECT'), 0);
  });

  await step('keyboard navigation and find in trace', async () => {
    await page.locator('.tl-scroll').focus();
    await page.keyboard.press('Escape'); // clear the selection: the next ArrowDown selects the root
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    assert.match(await page.getByTestId('span-detail').innerText(), /customer\s+HTTP GET \/customer/);
    await page.keyboard.press('Escape');
    await page.keyboard.press('/');
    await page.keyboard.type('redis');
    assert.equal(await text('[data-testid=find-count]'), '3 matches');
    assert.match(page.url(), /uiFind=redis/);
    assert.equal(await page.locator('.tl-row.match').count(), 3);
    await shot('04-trace-find');
    await page.getByLabel('Find in trace').fill('');
  });

  await step('trace graph, statistics and flame graph', async () => {
    await page.getByRole('tab', { name: 'Graph', exact: true }).click();
    const graph = page.getByTestId('trace-graph');
    await graph.waitFor();
    assert.equal(await graph.getByTestId('dep-node').count(), 6, 'one node per service+operation');
    const calls = (await graph.locator('.edge-label').allTextContents()).sort();
    assert.deepEqual(calls, ['1', '1', '1', '2', '3'], 'calls per caller → callee');
    assert.equal(await graph.locator('.node.err').count(), 1, 'GetDriver had an error');
    await shot('05-trace-graph');
    await page.getByRole('tab', { name: 'Statistics' }).click();
    const stats = await text('[data-testid=stats-table]');
    assert.match(stats, /redis\s+GetDriver\s+3\s+1/);
    assert.match(stats, /frontend\s+HTTP GET \/dispatch\s+1\s+0/);
    await shot('06-trace-stats');
    await page.getByRole('tab', { name: 'Flame graph' }).click();
    // One frame per call path: the 3 GetDriver and 2 FindRoute spans merge into one each.
    assert.equal(await page.getByTestId('flame-frame').count(), 6);
    const labels = await page.locator('.frame-label').allTextContents();
    assert.ok(labels.some((l) => l.startsWith('GetDriver ×3 (420ms)')), `flame labels: ${labels}`);
    await shot('07-trace-flame');
    await page.getByRole('tab', { name: 'Timeline' }).click();
  });

  await step('download JSON, then open it from a file', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download JSON' }).click()]);
    const dlDir = mkdtempSync(join(tmpdir(), 'sextant-dl-'));
    const file = join(dlDir, 'trace.json');
    await download.saveAs(file);
    await page.goto(ui('/search'));
    await page.getByLabel('Open trace JSON file').setInputFiles(file);
    await page.getByTestId('result-count').waitFor();
    assert.equal(await text('[data-testid=result-count]'), '1 Trace');
    assert.match(await page.getByTestId('search-result').innerText(), new RegExp(`${a.count} Spans`));
    await page.locator(`a[href$="/trace/${a.traceId}"]`).click();
    assert.equal(await text('[data-testid=total-spans]'), String(a.count));
    // A broken file gives a message, not a crash.
    const bad = join(dlDir, 'bad.json');
    writeFileSync(bad, '{"hello": 1}');
    await page.goto(ui('/search'));
    await page.getByLabel('Open trace JSON file').setInputFiles(bad);
    await page.getByText(/Cannot open the file: no Jaeger traces/).waitFor();
    rmSync(dlDir, { recursive: true, force: true });
  });

  await step('compare two traces (Jaeger trace-diff URL)', async () => {
    await page.goto(ui(`/search?service=frontend`));
    await page.getByLabel(`Select ${a.traceId} to compare`).check();
    await page.getByLabel(`Select ${b.traceId} to compare`).check();
    await page.getByRole('button', { name: 'Compare 2/2' }).click();
    await page.getByTestId('diff-table').waitFor();
    assert.equal(new URL(page.url()).pathname, `${BASE}/trace/${a.traceId}...${b.traceId}`);
    const row = (op) => page.locator('[data-testid=diff-table] tr', { hasText: op }).first();
    assert.equal(await row('FindRoute').getAttribute('data-diff'), 'removed');
    assert.match(await row('FindRoute').innerText(), /route\s+FindRoute\s+2\s+0\s+-2/);
    assert.equal(await row('GetDriver').getAttribute('data-diff'), 'changed');
    assert.match(await row('GetDriver').innerText(), /redis\s+GetDriver\s+3\s+5\s+\+2/);
    assert.equal(await row('SQL SELECT').getAttribute('data-diff'), 'same');
    assert.match(await page.getByTestId('compare-A').innerText(), new RegExp(`${a.count}\\s+spans`));
    assert.match(await page.getByTestId('compare-B').innerText(), new RegExp(`${b.count}\\s+spans`));
    await shot('08-compare');
  });

  await step('service map: DAG with call counts, click-through to search', async () => {
    await page.goto(ui('/dependencies'));
    await page.getByTestId('deps-summary').waitFor();
    const deps = (await sextant.api(`/api/dependencies?endTs=${Date.now()}&lookback=86400000`)).body.data;
    assert.ok(deps.length >= 5, `dependencies from the API: ${JSON.stringify(deps)}`);
    assert.equal(await page.getByTestId('dep-node').count(), new Set(deps.flatMap((d) => [d.parent, d.child])).size);
    assert.equal(await page.getByTestId('dep-edge').count(), deps.length);
    const fr = deps.find((d) => d.parent === 'frontend' && d.child === 'driver');
    assert.ok(fr, 'frontend → driver edge');
    assert.equal(fr.callCount, 5);
    const labels = await page.locator('.edge-label').allTextContents();
    assert.ok(labels.includes('5'), `edge labels ${labels}`);
    await shot('09-dependencies');
    await page.getByTestId('dep-node').filter({ hasText: 'driver' }).click();
    await page.getByTestId('result-count').waitFor();
    assert.match(page.url(), /\/jaeger\/search\?service=driver/);
    assert.equal(await text('[data-testid=result-count]'), '5 Traces');
  });

  await step('monitor: RED metrics or a clear "not available"', async () => {
    const probe = await sextant.api(`/api/metrics/calls?service=frontend&endTs=${Date.now()}&lookback=3600000&step=60000&ratePer=600000&spanKind=server`);
    await page.goto(ui('/monitor?service=frontend'));
    if (probe.status === 200) {
      await page.getByTestId('chart-latency').waitFor();
      for (const c of ['chart-latency', 'chart-errors', 'chart-calls']) assert.equal(await page.getByTestId(c).locator('polyline').count() > 0, true, c);
      assert.match(await text('[data-testid=monitor-ops]'), /HTTP GET \/dispatch/);
    } else {
      await page.getByTestId('monitor-unavailable').waitFor();
      assert.match(await text('[data-testid=monitor-unavailable]'), /not available/);
    }
    await shot('10-monitor');
  });

  await step('dark theme, unknown trace, unknown API path', async () => {
    await page.goto(ui(`/trace/${a.traceId}`));
    await page.getByLabel('Toggle theme').click();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    await page.getByTestId('span-row').filter({ hasText: 'GetDriver' }).first().click();
    await shot('11-trace-dark');
    await page.reload();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark', 'theme is remembered');
    await page.getByLabel('Toggle theme').click();
    await page.goto(ui('/trace/00000000000000000000000000abcdef'));
    await page.getByTestId('trace-error').waitFor();
    assert.match(await text('[data-testid=trace-error]'), /not found/);
    const r = await sextant.api('/api/no-such-route');
    assert.equal(r.status, 404);
  });

  assert.deepEqual(consoleErrors, [], 'no uncaught page errors');
}

try {
  await main();
  console.log(`\n${steps.length} steps passed; screenshots in ${shots}`);
} catch (e) {
  console.error(`FAIL ${current}\n${e.stack ?? e}`);
  if (page) await page.screenshot({ path: join(shots, 'FAILED.png') }).catch(() => {});
  if (sextant) console.error(`--- sextant log (tail) ---\n${sextant.logs().slice(-3000)}`);
  process.exitCode = 1;
} finally {
  await browser?.close().catch(() => {});
  await sextant?.stop().catch(() => {});
}
