import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCall, post } from '../fakes/events.js';
import { type ConsoleWorld, check, NEXT_DAY, ROOT, SPIKE_DAY, SPIKES, STEADY, signIn, startConsoleWorld, visit } from './harness.js';

// The console in a real Chromium against the local stack, seeded through the real pipeline: a person's
// tasks from sign-in to the bill. Every page visited is screenshotted (test-results/screenshots) and scanned by axe.
let w: ConsoleWorld;

beforeAll(async () => {
  w = await startConsoleWorld();
}, 600_000);
afterAll(async () => {
  await w?.stop();
});

/** The API as the admin key sees it, for checks outside the browser. */
async function admin<T>(path: string): Promise<T> {
  const res = await fetch(`${w.stack.url}${path}`, { headers: { authorization: `Bearer ${w.keys.admin}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

type FlagRow = { id: string; customerId: string; status: string; holding: boolean };

describe('signing in', () => {
  it('the one-time link signs a browser in, cleans the URL, and works only once', async () => {
    // Prepare
    const link = w.stack.newSignInUrl!();
    const first = await w.browser.newContext();
    const second = await w.browser.newContext();
    try {
      const page = await first.newPage();
      // Act
      await page.goto(link);
      await page.getByRole('navigation', { name: 'Main' }).waitFor();
      const reused = await (await second.newPage()).goto(link);
      // Assert
      expect(page.url()).not.toContain('token');
      const cookies = await first.cookies();
      expect(cookies.find((c) => c.name === 'meter_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
      expect(reused?.status()).toBe(401);
      expect(await second.cookies()).toEqual([]);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('the sign-in page refuses an ingest key with a message, and takes an analyst key', async () => {
    // Prepare
    const context = await w.browser.newContext({ baseURL: w.stack.url });
    try {
      const page = await context.newPage();
      await page.goto('/');
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await check(page, 'sign-in');
      // Act
      await page.getByLabel('API key').fill(w.stack.ingestKey);
      await page.getByRole('button', { name: 'Sign in' }).click();
      const refusal = await page.getByRole('alert').textContent();
      await page.getByLabel('API key').fill(w.keys.analyst);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('navigation', { name: 'Main' }).waitFor();
      // Assert
      expect(refusal).toMatch(/403|cannot/);
      expect(await page.getByRole('heading', { name: 'Flag queue' }).isVisible()).toBe(true);
    } finally {
      await context.close();
    }
  });
});

describe('fraud analyst', () => {
  it('opens the top flag, sees its chart, dismisses it with a note, and the next close releases the held usage', async () => {
    // Prepare
    const { context, page } = await signIn(w, w.keys.analyst);
    const heldBefore = await admin<{ meters: { meter: string; held: unknown[]; daily: { day: string; value: number }[] }[] }>(
      '/v1/statements/spiky-co?period=2026-03',
    );
    try {
      await visit(page, '/flags', 'Flag queue', 'flag-queue');
      // Act: the queue's first row is the flag holding the most usage
      const firstRow = page.locator('main table tbody tr').first();
      await expect.poll(() => firstRow.locator('td').nth(1).textContent()).toContain('spiky-co');
      await firstRow.getByRole('link').click();
      await page.getByRole('heading', { name: /spiky-co/ }).waitFor();
      await page.locator('.uplot canvas, .uplot svg, canvas').first().waitFor();
      const impact = await page.getByRole('region', { name: 'What a decision does' }).textContent();
      await check(page, 'flag');
      await page.getByRole('button', { name: 'Dismiss' }).click();
      const noNote = await page.getByRole('alert').textContent();
      await page.getByLabel('Note').fill('Launch-day traffic agreed with the customer');
      await page.getByRole('button', { name: 'Dismiss' }).click();
      // Assert: the app moves on to the next flag in the queue
      await page.getByRole('heading', { name: /caught-co/ }).waitFor();
      expect(await page.getByRole('status').first().textContent()).toMatch(/dismissed/);
      expect(noNote).toMatch(/note is required/i);
      expect(impact).toMatch(/releases [\d,]+ API calls/);
      expect(heldBefore.meters.find((m) => m.meter === 'api_calls')?.held.length).toBeGreaterThan(0);
      const flags = await admin<{ flags: FlagRow[] }>('/v1/flags?customer=spiky-co&status=dismissed');
      expect(flags.flags.map((f) => f.customerId)).toEqual(['spiky-co']);

      // Act: the next close
      await w.closeDay(NEXT_DAY);
      // Assert: the spike day was reported to Stripe, nothing held
      const after = await admin<{
        meters: { meter: string; held: unknown[]; reports: { day: string; value: number; state: string }[] }[];
      }>('/v1/statements/spiky-co?period=2026-03');
      const calls = after.meters.find((m) => m.meter === 'api_calls')!;
      expect(calls.held).toEqual([]);
      expect(calls.reports.filter((r) => r.day === SPIKE_DAY).map((r) => r.value)).toContain(SPIKES['spiky-co'] * 10);
    } finally {
      await context.close();
    }
  });

  it('can reach every control of the queue by keyboard, nav first', async () => {
    // Prepare
    const { context, page } = await signIn(w, w.keys.analyst);
    try {
      await visit(page, '/flags', 'Flag queue', 'flag-queue-keyboard');
      // Act: tab through the page, recording what takes focus; select the first flag with Space, as a keyboard user would
      const seen: string[] = [];
      const focused = () =>
        page.evaluate(() => {
          const el = document.activeElement as HTMLElement | null;
          return el ? `${el.tagName.toLowerCase()}:${el.getAttribute('aria-label') ?? el.textContent?.trim() ?? ''}` : '';
        });
      for (let i = 0; i < 60 && !seen.some((s) => s.startsWith('input:Select flag')); i++) {
        await page.keyboard.press('Tab');
        seen.push(await focused());
      }
      await page.keyboard.press('Space');
      // The bulk action sits above the table: back up to it.
      for (let i = 0; i < 20 && !seen.some((s) => s.startsWith('button:Dismiss selected')); i++) {
        await page.keyboard.press('Shift+Tab');
        seen.push(await focused());
      }
      // Assert
      const flagsLink = seen.findIndex((s) => s.startsWith('a:Flags'));
      expect(flagsLink, seen.join(' | ')).toBeGreaterThanOrEqual(0);
      expect(seen.findIndex((s) => s.startsWith('input:Select flag'))).toBeGreaterThan(flagsLink);
      expect(
        seen.some((s) => s.startsWith('button:Dismiss selected')),
        seen.join(' | '),
      ).toBe(true);
    } finally {
      await context.close();
    }
  });
});

describe('finance', () => {
  it('is refused a review: the page says so, and the API refuses it too', async () => {
    // Prepare
    const { flags } = await admin<{ flags: FlagRow[] }>('/v1/flags?customer=caught-co&status=open');
    const flag = flags[0]!;
    const { context, page } = await signIn(w, w.keys.finance);
    try {
      // Act
      await page.goto(`/flags/${flag.id}`);
      const notice = await page.getByRole('alert').textContent();
      await check(page, 'finance-refused-flag');
      const status = await page.evaluate(async (id) => {
        const s = (await (await fetch('/console/session')).json()) as { csrfToken: string };
        const res = await fetch(`/v1/flags/${id}/review`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrfToken },
          body: JSON.stringify({ decision: 'dismiss', note: 'finance should not be able to' }),
        });
        return res.status;
      }, flag.id);
      // Assert
      expect(notice).toMatch(/cannot open this page/);
      expect(status).toBe(403);
      const still = await admin<{ status: string }>(`/v1/flags/${flag.id}`);
      expect(still.status).toBe('open');
      expect(await page.getByRole('link', { name: 'Flags' }).count()).toBe(0);
    } finally {
      await context.close();
    }
  });

  it('downloads a statement CSV byte-identical to `meter statement --format csv`', async () => {
    // Prepare
    const { context, page } = await signIn(w, w.keys.finance);
    try {
      await visit(page, `/finance/statement/${STEADY}?period=2026-02`, /Statement/, 'statement');
      // Act
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download CSV' }).click()]);
      const csv = readFileSync((await download.path())!, 'utf8');
      const cli = spawnSync(
        process.execPath,
        ['bin/meter.mjs', 'statement', '--customer', STEADY, '--period', '2026-02', '--format', 'csv', '--data-dir', w.dataDir],
        { cwd: ROOT, encoding: 'utf8', env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'ERROR' } },
      );
      // Assert
      expect(cli.status, cli.stderr).toBe(0);
      expect(download.suggestedFilename()).toBe(`statement-${STEADY}-2026-02.csv`);
      expect(`${csv}\n`).toBe(cli.stdout);
      expect(csv.split('\n').length).toBeGreaterThan(20);
    } finally {
      await context.close();
    }
  });

  it('opens the period close, reconciliation and ledger pages', async () => {
    // Prepare
    const { context, page } = await signIn(w, w.keys.finance);
    try {
      // Act + Assert: each page renders its data and passes axe
      await visit(page, '/finance?period=2026-02', /Period close/, 'period-close');
      await page.locator('main table tbody tr').first().waitFor();
      expect(await page.locator('main table tbody tr').count()).toBeGreaterThanOrEqual(3);
      await visit(page, '/finance/reconcile?period=2026-02', /Reconcil/, 'reconcile');
      await page.getByRole('button', { name: 'Run reconciliation' }).click();
      const outcome = page.getByRole('status').filter({ hasText: 'Period 2026-02' });
      await outcome.waitFor();
      await check(page, 'reconcile-result');
      // February was reported in full for all three customers, and Stripe's own totals agree.
      expect(await outcome.textContent()).toMatch(/every row agrees \(9 rows\)/);
      expect(await page.getByRole('button', { name: 'Apply fix' }).count()).toBe(0);
      await visit(page, `/finance/ledger/${STEADY}?meter=api_calls&period=2026-02`, /Ledger/, 'ledger');
      await page.locator('main table tbody tr').first().waitFor();
      expect(await page.locator('main table tbody tr').count()).toBeGreaterThan(5);
    } finally {
      await context.close();
    }
  });
});

describe('admin', () => {
  it('replays the quarantine once the customer exists, and the events are counted', async () => {
    // Prepare: events for a customer nobody registered yet are quarantined
    const day = NEXT_DAY;
    w.clock.set(`${day}T12:00:00Z`);
    const events = Array.from({ length: 5 }, (_, i) => apiCall('late-co', { time: `${day}T10:0${i}:00Z` }, { quantity: 7 }));
    const res = await post(w.stack.url, w.stack.ingestKey, events);
    expect(res.status).toBe(202);
    await w.stack.drain(60_000);
    const queued = await admin<{ items: unknown[] }>('/v1/quarantine?customer=late-co');
    expect(queued.items.length).toBe(5);
    await w.stack.services.registry.putCustomer({
      ...w.customers.get(STEADY)!,
      id: 'late-co',
      name: 'Late Co',
      stripeCustomerId: undefined,
    });
    const { context, page } = await signIn(w, w.keys.admin);
    try {
      await visit(page, '/operations/quarantine', 'Quarantine', 'quarantine');
      // Act
      await page.getByLabel('Customer').fill('late-co');
      await page.getByRole('button', { name: 'Replay' }).click();
      const outcome = await page.getByText(/Replayed/).textContent();
      await w.stack.drain(60_000);
      // Assert
      expect(outcome).toMatch(/Replayed 5/);
      const left = await admin<{ items: unknown[] }>('/v1/quarantine?customer=late-co');
      expect(left.items).toEqual([]);
      const usage = await admin<{ totals: { api_calls: number } }>(
        `/v1/usage?customer=late-co&from=${day}T00:00:00Z&to=${day}T23:00:00Z&granularity=day`,
      );
      expect(usage.totals.api_calls).toBe(35);
    } finally {
      await context.close();
    }
  });

  it('opens every operations page', async () => {
    // Prepare
    const { context, page } = await signIn(w, w.keys.admin);
    try {
      // Act + Assert
      await visit(page, '/operations', /Operations|Health/, 'operations');
      await visit(page, '/operations/dlq', /DLQ|Dead/, 'dlq');
      await visit(page, '/operations/audit', /Audit/, 'audit');
      await page.locator('main table tbody tr').first().waitFor();
      await visit(page, '/operations/keys', /API keys/, 'keys');
      await visit(page, '/flags/expected-activity', /Expected activity/, 'expected-activity');
    } finally {
      await context.close();
    }
  });
});
