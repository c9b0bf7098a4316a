// Timing (a report, not a test threshold): how long a 10,000-span trace takes from
// navigation to its first screen of span rows, in headless chromium against a real
// all-in-one, and how long a scroll step takes to repaint. Prints the median of several runs.
//
//   node tests/browser/timing.mjs [spans=10000] [runs=5]
import { launchBrowser } from './lib/browser.mjs';
import { startSextant } from './lib/sextant.mjs';
import { bigTrace, chunks } from './lib/traces.mjs';

const n = Number(process.argv[2] ?? 10000);
const runs = Number(process.argv[3] ?? 5);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const sextant = await startSextant();
let browser;
try {
  const t = bigTrace(n);
  for (const req of chunks(t.spans, 1000)) await sextant.post(req);
  await sextant.waitTrace(t.traceId, n, 60000);
  browser = await launchBrowser();
  const firstScreen = [];
  const scrollStep = [];
  const fetches = [];
  for (let i = 0; i < runs; i++) {
    // A fresh context per run: nothing cached from the previous one.
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    await page.goto(`${sextant.query}/trace/${t.traceId}`, { waitUntil: 'commit' });
    await page.waitForSelector('[data-testid=span-row]');
    // The UI marks the frame after its first commit of span rows; times are milliseconds
    // since this navigation started. The trace fetch is split out: in a debug build of the
    // server it is most of the total.
    const { ms, fetchMs } = await page.evaluate(() => {
      const mark = performance.getEntriesByName('sextant:first-rows')[0];
      const res = performance.getEntriesByType('resource').find((e) => /\/api\/traces\/[0-9a-f]+$/.test(e.name));
      return { ms: mark.startTime, fetchMs: res ? res.responseEnd - res.startTime : NaN };
    });
    fetches.push(fetchMs);
    const rows = await page.locator('[data-testid=span-row]').count();
    const total = await page.getByTestId('total-spans').innerText();
    if (Number(total) !== n) throw new Error(`trace shows ${total} spans, expected ${n}`);
    firstScreen.push(ms);
    // 20 scroll steps of one screen each, each awaited until the next frame is painted.
    const perStep = await page.evaluate(async () => {
      const el = document.querySelector('.tl-scroll');
      const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      const t0 = performance.now();
      for (let k = 0; k < 20; k++) {
        el.scrollTop += el.clientHeight;
        await frame();
      }
      return (performance.now() - t0) / 20;
    });
    scrollStep.push(perStep);
    console.log(`run ${i + 1}: first screen ${ms.toFixed(0)} ms (trace fetch ${fetchMs.toFixed(0)} ms; ${rows} rows in the DOM), scroll step ${perStep.toFixed(1)} ms`);
    await ctx.close();
  }
  console.log(`\n${n}-span trace, median of ${runs}: first screen ${median(firstScreen).toFixed(0)} ms (of which trace fetch ${median(fetches).toFixed(0)} ms), scroll step ${median(scrollStep).toFixed(1)} ms`);
} finally {
  await browser?.close();
  await sextant.stop();
}
