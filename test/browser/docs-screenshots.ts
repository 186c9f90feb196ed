/**
 * `npm run docs:screenshots`: regenerates docs/screenshots/*.png from the console running on the local stack,
 * seeded as the browser tests seed it (the real pipeline, a month of history and two flagged spikes), so the
 * pictures in docs/console.md show what the code does today.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ROOT, STEADY, signIn, startConsoleWorld } from './harness.js';

const OUT = join(ROOT, 'docs', 'screenshots');

async function shot(page: Page, path: string, heading: RegExp, name: string, ready?: string): Promise<void> {
  await page.goto(path);
  await page.getByRole('heading', { name: heading }).first().waitFor();
  if (ready) await page.locator(ready).first().waitFor();
  // Let charts lay out after their data arrives.
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: false });
  console.log(`docs/screenshots/${name}.png`);
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  const w = await startConsoleWorld();
  try {
    const viewport = { width: 1280, height: 860 };
    const analyst = await signIn(w, w.keys.analyst);
    await analyst.page.setViewportSize(viewport);
    await shot(analyst.page, '/flags', /Flag queue/, 'flag-queue', 'main table tbody tr');
    await analyst.page.locator('main table tbody tr').first().getByRole('link').click();
    await analyst.page.getByRole('heading', { name: /spiky-co/ }).waitFor();
    await analyst.page.locator('.uplot').first().waitFor();
    await analyst.page.waitForTimeout(300);
    await analyst.page.screenshot({ path: join(OUT, 'flag.png'), fullPage: false });
    console.log('docs/screenshots/flag.png');

    const finance = await signIn(w, w.keys.finance);
    await finance.page.setViewportSize(viewport);
    await shot(finance.page, '/finance?period=2026-03', /Period close/, 'period-close', 'main table tbody tr');
    await shot(finance.page, '/finance/statement/spiky-co?period=2026-03', /Statement/, 'statement', '.uplot');
    await shot(finance.page, `/finance/ledger/${STEADY}?meter=api_calls&period=2026-02`, /Ledger/, 'ledger', 'main table tbody tr');

    const admin = await signIn(w, w.keys.admin);
    await admin.page.setViewportSize(viewport);
    await shot(admin.page, '/operations', /Operations|Health/, 'operations');
  } finally {
    await w.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
