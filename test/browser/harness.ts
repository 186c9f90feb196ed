/**
 * The browser tests' world: the built console served by the real local stack, seeded through the real
 * pipeline (HTTP ingest, the consumer, the nightly close), keys per role, and Chromium driving the app.
 * Every page a test visits is screenshotted to test-results/screenshots/ and scanned with axe.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import Stripe from 'stripe';
import { DAY_MS, fixedClock, utcDay } from '../../contract/clock.js';
import { type CloseDeps, closeCustomer } from '../../functions/core/close/close-customer.js';
import { generateKey, hashKey } from '../../functions/core/shared/api-keys.js';
import { buildCustomer } from '../../functions/core/shared/customers.js';
import type { Customer, KeyRole } from '../../functions/core/shared/ports.js';
import { ensureConsoleBuilt } from '../../local/console-build.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { apiCall, post } from '../fakes/events.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const SHOTS = join(ROOT, 'test-results', 'screenshots');

// Four weeks of steady weekday traffic, then one day far above it: the volume-spike rule flags it and,
// at high severity, the close holds the day from Stripe.
export const FIRST_DAY = '2026-02-01';
export const SPIKE_DAY = '2026-03-02';
export const NEXT_DAY = '2026-03-03';
/** The flagged customers, the first with the larger spike so it tops the urgency-ordered queue. */
export const SPIKES = { 'spiky-co': 8000, 'caught-co': 5000 } as const;
export const STEADY = 'steady-co';
const PER_HOUR = 100;

export interface ConsoleWorld {
  stack: LocalStack;
  clock: ReturnType<typeof fixedClock>;
  browser: Browser;
  keys: Record<'finance' | 'analyst' | 'admin', string>;
  customers: Map<string, Customer>;
  stripe: Stripe;
  /** The stack's data directory (its stack.json lets the CLI connect). */
  dataDir: string;
  /** Ingests one day's traffic over HTTP (clock at that day's evening), drains, and closes it for every customer. */
  closeDay(day: string, perHour?: (customer: string) => number): Promise<void>;
  stop(): Promise<void>;
}

export const LAUNCH_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
export const launchChromium = () =>
  chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: LAUNCH_ARGS });

/** Builds console/dist once per process when it is older than its sources, as `npm start` does. */
let built: Promise<unknown> | undefined;
export function buildConsole(): Promise<unknown> {
  built ??= ensureConsoleBuilt({ quiet: true });
  return built;
}

function hourlyCalls(customer: string, day: string, perHour: number) {
  return Array.from({ length: 10 }, (_, i) =>
    apiCall(
      customer,
      { time: `${day}T${String(8 + i).padStart(2, '0')}:10:00Z` },
      { quantity: perHour, clientIp: '198.51.100.7', country: 'DE' },
    ),
  );
}

export async function startConsoleWorld(): Promise<ConsoleWorld> {
  await buildConsole();
  const clock = fixedClock(`${FIRST_DAY}T18:00:00Z`);
  const dataDir = mkdtempSync(join(tmpdir(), 'console-browser-'));
  const stack = await startLocalStack({ clock, dataDir, visibilityTimeoutSeconds: 1 });
  const config = await fetch(`${stack.url}/console/config.json`).catch(() => undefined);
  if (!config?.ok) throw new Error(`the local stack does not serve the console at ${stack.url} (/console/config.json: ${config?.status})`);
  if (!stack.stripeServer) throw new Error('the browser tests need the embedded Stripe test server');
  const stripe = new Stripe('sk_test_browser', { ...stack.stripeServer.stripeConfig, maxNetworkRetries: 0 });

  // Keys are put as `meter keys create` puts them: only the hash is stored.
  const keys = { finance: generateKey('finance'), analyst: generateKey('analyst'), admin: stack.adminKey };
  for (const role of ['finance', 'analyst'] as const) {
    const key = keys[role];
    await stack.services.registry.putKey({
      hash: hashKey(key),
      prefix: key.slice(0, 12),
      role: role satisfies KeyRole,
      principal: role === 'finance' ? 'fin@example.com' : 'ana@example.com',
      createdAt: new Date().toISOString(),
    });
  }

  const customers = new Map<string, Customer>();
  for (const id of [...Object.keys(SPIKES), STEADY]) {
    const cus = await stripe.customers.create({ name: id });
    const c = buildCustomer(
      { id, name: id.replace('-co', ' Co'), stripeCustomerId: cus.id },
      undefined,
      Date.parse(`${FIRST_DAY}T00:00:00Z`),
    );
    await stack.services.registry.putCustomer(c);
    customers.set(id, c);
  }
  const reporter = await stack.closeServices.reporter();
  const deps = (): CloseDeps => ({
    events: stack.services.events,
    rollups: stack.services.rollups,
    ledger: stack.services.ledger,
    reporter,
    clock,
    fraud: { flags: stack.services.flags },
  });

  const closeDay: ConsoleWorld['closeDay'] = async (day, perHour) => {
    clock.set(`${day}T18:30:00Z`);
    const weekend = [0, 6].includes(new Date(`${day}T00:00:00Z`).getUTCDay());
    const batch = [...customers.keys()].flatMap((id) => hourlyCalls(id, day, perHour?.(id) ?? (weekend ? PER_HOUR / 5 : PER_HOUR)));
    const res = await post(stack.url, stack.ingestKey, batch);
    if (res.status !== 202) throw new Error(`ingest answered ${res.status}: ${JSON.stringify(res.body)}`);
    await stack.drain(60_000);
    clock.set(Date.parse(`${day}T00:00:00Z`) + DAY_MS + 30 * 60_000);
    for (const c of customers.values()) await closeCustomer(c, day, [], `run-${day}`, deps());
  };

  for (let t = Date.parse(`${FIRST_DAY}T00:00:00Z`); t < Date.parse(`${SPIKE_DAY}T00:00:00Z`); t += DAY_MS) await closeDay(utcDay(t));
  await closeDay(SPIKE_DAY, (id) => SPIKES[id as keyof typeof SPIKES] ?? PER_HOUR);

  const browser = await launchChromium();
  mkdirSync(SHOTS, { recursive: true });
  return {
    stack,
    clock,
    browser,
    keys,
    customers,
    stripe,
    dataDir,
    closeDay,
    async stop() {
      await browser.close();
      await stack.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Signs in through the sign-in page, as a person would, in a fresh browser context (its own cookie jar). */
export async function signIn(w: ConsoleWorld, key: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await w.browser.newContext({ acceptDownloads: true, baseURL: w.stack.url });
  const page = await context.newPage();
  await page.goto('/');
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
  return { context, page };
}

export interface Violation {
  id: string;
  impact?: string | null;
  help: string;
  nodes: number;
}

/** Screenshots the page as it is and returns axe's serious and critical violations on it. */
export async function inspect(page: Page, name: string): Promise<Violation[]> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length }));
}

/** Opens a console URL, waits for its heading, screenshots and scans it; throws on serious/critical axe findings. */
export async function visit(page: Page, path: string, heading: string | RegExp, name: string): Promise<void> {
  await page.goto(path);
  await page.getByRole('heading', { name: heading }).first().waitFor();
  await check(page, name);
}

/** Screenshots and scans the current page; throws on serious/critical axe findings, naming them. */
export async function check(page: Page, name: string): Promise<void> {
  const found = await inspect(page, name);
  if (found.length) throw new Error(`axe on ${name}: ${JSON.stringify(found)}`);
}
