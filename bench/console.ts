/**
 * `npm run bench:console`: what the console costs a browser and the table behind it.
 * - Bundle: the built console's JS and CSS, gzipped (target ≤ 250 KB), against a baseline built in the same
 *   run with the same Vite and React: an app that renders one paragraph, which is React's own floor.
 * - First useful paint of the flag queue in Chromium with 10,000 flags stored (target < 1 s, median of 5):
 *   from navigation start until the first flag row is in the DOM. Baseline: the same queue, same stack, measured
 *   before any flag is stored (the page then settles on "No flags match these filters.").
 * - The queue's read cost per page in DynamoDB read units (ReturnConsumedCapacity), against one full Scan.
 * Ends with one line of JSON.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { build } from 'vite';
import { ensureConsoleBuilt } from '../local/console-build.js';
import { startLocalStack } from '../local/stack.js';
import { launchChromium } from '../test/browser/harness.js';
import { measureFlagsPage, seedBenchFlags } from './flags-page.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

const ROOT = join(import.meta.dirname, '..');
const RUNS = 5;
const FLAGS = Number(process.env.BENCH_FLAGS ?? 10_000);
const NOW = Date.parse('2026-03-20T12:00:00.000Z');

/** Gzipped bytes of every .js and .css file under a built app's assets. */
function gzippedAssets(dist: string): { js: number; css: number } {
  const sizes = { js: 0, css: 0 };
  for (const f of readdirSync(join(dist, 'assets'))) {
    const kind = f.endsWith('.js') ? 'js' : f.endsWith('.css') ? 'css' : undefined;
    if (kind) sizes[kind] += gzipSync(readFileSync(join(dist, 'assets', f)), { level: 9 }).length;
  }
  return sizes;
}

/** React's floor: a one-paragraph React app built with the console's plugins, inside the repo so it resolves the same packages. */
async function floorBundle(): Promise<number> {
  const dir = join(ROOT, 'node_modules', '.cache', 'bench-console-floor');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'index.html'), '<!doctype html><div id="root"></div><script type="module" src="./main.tsx"></script>');
  writeFileSync(
    join(dir, 'main.tsx'),
    "import { createRoot } from 'react-dom/client';\ncreateRoot(document.getElementById('root')!).render(<p>floor</p>);\n",
  );
  const react = (await import('@vitejs/plugin-react')).default;
  await build({ root: dir, configFile: false, logLevel: 'error', plugins: [react()], build: { outDir: 'dist', emptyOutDir: true } });
  const { js, css } = gzippedAssets(join(dir, 'dist'));
  rmSync(dir, { recursive: true, force: true });
  return js + css;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** What marks the queue as painted: its first row, or (empty) the status saying there is none. */
type Ready = 'row' | 'empty';

/**
 * Milliseconds from navigation start until the queue is `ready` (checked every animation frame). A function,
 * not a string: the console's CSP forbids eval, and the bench runs under the same CSP as users do.
 */
async function paintMs(page: Page, url: string, ready: Ready): Promise<number> {
  await page.goto('about:blank');
  await page.goto(url, { waitUntil: 'commit' });
  const handle = await page.waitForFunction(
    (want) => {
      const done =
        want === 'row'
          ? document.querySelector('main table tbody tr') !== null
          : [...document.querySelectorAll('[role=status]')].some((e) => e.textContent?.includes('No flags match'));
      return done ? performance.now() : false;
    },
    ready,
    { polling: 'raf', timeout: 30_000 },
  );
  return Number(await handle.jsonValue());
}

async function main() {
  console.log('building the console and the React floor…');
  await ensureConsoleBuilt({ force: true, quiet: true });
  const bundle = gzippedAssets(join(ROOT, 'console', 'dist'));
  const bundleKb = (bundle.js + bundle.css) / 1024;
  const floorKb = (await floorBundle()) / 1024;
  console.log(
    `bundle: ${bundleKb.toFixed(1)} KB gzipped (JS ${(bundle.js / 1024).toFixed(1)}, CSS ${(bundle.css / 1024).toFixed(1)}); ` +
      `React floor ${floorKb.toFixed(1)} KB; ratio ${(bundleKb / floorKb).toFixed(2)}x; target ≤ 250 KB`,
  );

  const stack = await startLocalStack({ noPoller: true, clock: { now: () => NOW } });
  const browser = await launchChromium();
  try {
    const signIn = await fetch(`${stack.url}/console/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apiKey: stack.adminKey }),
    });
    const cookie = /meter_session=([^;]+)/.exec(signIn.headers.get('set-cookie') ?? '')?.[1];
    if (signIn.status !== 204 || !cookie) throw new Error(`console sign-in answered ${signIn.status}`);
    const context = await browser.newContext();
    await context.addCookies([{ name: 'meter_session', value: cookie, url: stack.url }]);
    const page = await context.newPage();
    const queue = `${stack.url}/flags`;
    const rowReady: Ready = 'row';
    const emptyReady: Ready = 'empty';

    await paintMs(page, queue, emptyReady); // warm: the first load compiles nothing, but fills Chromium's caches
    const empty = [];
    for (let i = 0; i < RUNS; i++) empty.push(await paintMs(page, queue, emptyReady));

    console.log(`seeding ${FLAGS.toLocaleString('en')} flags…`);
    await seedBenchFlags(stack, FLAGS);
    const full = [];
    for (let i = 0; i < RUNS; i++) full.push(await paintMs(page, queue, rowReady));
    const paint = { ms: Math.round(median(full)), emptyMs: Math.round(median(empty)) };
    console.log(
      `first useful paint of the queue, median of ${RUNS}: ${paint.ms} ms with ${FLAGS.toLocaleString('en')} flags ` +
        `(runs ${full.map(Math.round).join(', ')}); empty queue ${paint.emptyMs} ms; ratio ${(paint.ms / paint.emptyMs).toFixed(2)}x; target < 1000 ms`,
    );

    const reads = await measureFlagsPage({ stack, flags: FLAGS, seeded: true });
    console.log(
      `flags page (50 rows): ${reads.pageReadUnits} read units, ${reads.pageMs} ms in the handler; ` +
        `one full Scan ${reads.scanReadUnits} read units; ratio ${(reads.scanReadUnits / reads.pageReadUnits).toFixed(0)}x fewer`,
    );
    console.log(
      JSON.stringify({
        bench: 'console',
        bundleGzipKb: Number(bundleKb.toFixed(1)),
        floorGzipKb: Number(floorKb.toFixed(1)),
        bundleWithinTarget: bundleKb <= 250,
        flags: FLAGS,
        firstPaintMs: paint.ms,
        emptyQueuePaintMs: paint.emptyMs,
        paintWithinTarget: paint.ms < 1000,
        pageReadUnits: reads.pageReadUnits,
        scanReadUnits: reads.scanReadUnits,
      }),
    );
  } finally {
    await browser.close();
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
