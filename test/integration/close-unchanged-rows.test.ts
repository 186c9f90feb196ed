import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, fixedClock } from '../../contract/clock.js';
import { type UsageEvent, validateEvent } from '../../contract/event-contract.js';
import { StripeMeterReporter } from '../../functions/adapters/stripe/stripe-meter-reporter.js';
import { type CloseDeps, closeCustomer } from '../../functions/core/close/close-customer.js';
import { buildCustomer } from '../../functions/core/shared/customers.js';
import type { Customer, StoredDay } from '../../functions/core/shared/ports.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';

// The close leaves a stored day row alone when its recomputed values are the same, and rewrites it when a late event changed them.
const clock = fixedClock('2026-03-02T00:30:00Z');
const closeAt = (day: string) => clock.set(Date.parse(`${day}T00:00:00Z`) + DAY_MS + 30 * 60_000);
const dayOf = (n: number) => `2026-03-${String(n).padStart(2, '0')}`;

let stack: LocalStack;
let stripe: Stripe;
let reporter: StripeMeterReporter;
let seq = 0;

function ev(customerId: string, type: string, at: string, data: Record<string, unknown>): UsageEvent {
  const v = validateEvent(
    { specversion: '1.0', type, source: 'test', subject: customerId, id: `u-${seq++}`, time: at, data },
    { now: Date.parse(at) + 1000, newId: () => 'x' },
  );
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  return v.event;
}
/** The same usage every day: so nothing but the day's own row, and its file's history, is new when a day closes. */
const usageOn = (c: string, day: string): UsageEvent[] => [
  ev(c, 'com.serenity.api.call', `${day}T09:00:00Z`, { quantity: 10 }),
  ev(c, 'com.serenity.user.active', `${day}T09:00:00Z`, { userId: 'u1' }),
  ev(c, 'com.serenity.file.protected', `${day}T10:00:00Z`, { fileId: `f-${day}` }),
];
const store = (events: UsageEvent[]) => stack.services.events.put(events, 'test-message', new Date(clock.now()).toISOString());
const deps = (): CloseDeps => ({
  events: stack.services.events,
  rollups: stack.services.rollups,
  ledger: stack.services.ledger,
  reporter,
  clock,
});
const storedDays = async (c: Customer): Promise<Map<string, StoredDay>> =>
  new Map((await stack.services.rollups.getDays(c.id, dayOf(1), dayOf(31))).map((d) => [d.day, d]));
/** Write units the close spent on the Rollups table (day rows, period users, file histories). */
async function rollupWrites<T>(fn: () => Promise<T>): Promise<{ result: T; units: number }> {
  const table = stack.capacity.byTable.get(stack.env.ROLLUPS_TABLE!)?.write ?? 0;
  const result = await fn();
  return { result, units: (stack.capacity.byTable.get(stack.env.ROLLUPS_TABLE!)?.write ?? 0) - table };
}
/** What Stripe holds equals what was metered: the sum of the daily API calls, the latest day's period-to-date users and files. */
async function expectStripeMatchesMetered(c: Customer) {
  const days = [...(await storedDays(c)).values()].sort((a, b) => (a.day < b.day ? -1 : 1));
  const held = (eventName: string) =>
    stack
      .stripeServer!.meterEvents({ eventName, customerId: c.stripeCustomerId })
      .sort((a, b) => a.timestamp - b.timestamp)
      .map((e) => Number(e.value));
  expect(held('serenity_api_calls').reduce((a, b) => a + b, 0)).toBe(days.reduce((a, d) => a + d.values.api_calls, 0));
  expect(held('serenity_active_users').at(-1)).toBe(days.at(-1)!.values.active_users);
  expect(held('serenity_protected_files').at(-1)).toBe(days.at(-1)!.values.protected_files);
}

beforeAll(async () => {
  stack = await startLocalStack({ noPoller: true, clock });
  stripe = new Stripe('sk_test_unchanged', { ...stack.stripeServer!.stripeConfig, maxNetworkRetries: 0 });
  reporter = new StripeMeterReporter({ stripe, clock, sleep: async () => {} });
  await reporter.ensureMeters();
});
afterAll(async () => {
  await stack?.stop();
});

describe('the close writes only the day rows whose values changed', () => {
  it('leaves the unchanged days of the period as stored, and rewrites those a late event changed', async () => {
    // Prepare: five nights of the same usage, closed one after the other
    const cus = await stripe.customers.create({ name: 'unchanged-co' });
    const c = buildCustomer({ id: 'unchanged-co', stripeCustomerId: cus.id }, undefined, Date.parse('2026-01-01T00:00:00Z'));
    await stack.services.registry.putCustomer(c);
    const first = { units: 0, written: [] as string[] };
    for (let n = 1; n <= 5; n++) {
      await store(usageOn(c.id, dayOf(n)));
      closeAt(dayOf(n));
      const { result, units } = await rollupWrites(() => closeCustomer(c, dayOf(n), [], `run-${n}`, deps()));
      expect(result.failed).toEqual([]);
      if (n === 1) Object.assign(first, { units, written: result.written });
    }
    const before = await storedDays(c);

    // Act: the sixth night, with no late event
    await store(usageOn(c.id, dayOf(6)));
    closeAt(dayOf(6));
    const sixth = await rollupWrites(() => closeCustomer(c, dayOf(6), [], 'run-6', deps()));

    // Assess: every day of the period was recomputed, only the sixth written, at no more cost than the first night
    expect(first.written).toEqual([dayOf(1)]);
    expect(sixth.result.days).toEqual([1, 2, 3, 4, 5, 6].map(dayOf));
    expect(sixth.result.written).toEqual([dayOf(6)]);
    expect(sixth.units).toBeGreaterThan(0);
    expect(sixth.units).toBeLessThanOrEqual(first.units);
    const after = await storedDays(c);
    for (let n = 1; n <= 5; n++) expect(after.get(dayOf(n))).toEqual(before.get(dayOf(n)));
    expect(after.get(dayOf(6))!.computedAt).toBe(new Date(clock.now()).toISOString());
    expect(after.get(dayOf(6))!.ptd).toEqual({ apiCalls: 60, activeUsers: 1, filesPeak: 6, filesEnd: 6 });

    // Act: a late call and a new user for the 3rd arrive; the seventh night closes with the 3rd as a late day
    await store([
      ev(c.id, 'com.serenity.api.call', `${dayOf(3)}T20:00:00Z`, { quantity: 5 }),
      ev(c.id, 'com.serenity.user.active', `${dayOf(3)}T20:00:00Z`, { userId: 'u2' }),
    ]);
    await store(usageOn(c.id, dayOf(7)));
    closeAt(dayOf(7));
    const late = await closeCustomer(c, dayOf(7), [dayOf(3)], 'run-7', deps());

    // Assess: the 3rd and every day after it (their period-to-date figures moved) are rewritten; the 1st and 2nd are not
    expect(late.failed).toEqual([]);
    expect(late.written).toEqual([3, 4, 5, 6, 7].map(dayOf));
    const corrected = await storedDays(c);
    for (const n of [1, 2]) expect(corrected.get(dayOf(n))).toEqual(before.get(dayOf(n)));
    expect(corrected.get(dayOf(3))).toMatchObject({ apiCalls: 15, eventCount: 5, activeUsers: 2, ptd: { apiCalls: 35, activeUsers: 2 } });
    for (const n of [3, 4, 5, 6, 7]) expect(corrected.get(dayOf(n))!.computedAt).toBe(new Date(clock.now()).toISOString());
    expect(corrected.get(dayOf(7))!.ptd).toEqual({ apiCalls: 75, activeUsers: 2, filesPeak: 7, filesEnd: 7 });
    expect(corrected.get(dayOf(7))!.values).toEqual({ api_calls: 10, active_users: 2, protected_files: 7 });
    await expectStripeMatchesMetered(c);

    // Act: a late mark with nothing new behind it (a re-close of the 4th)
    await store(usageOn(c.id, dayOf(8)));
    closeAt(dayOf(8));
    const idle = await closeCustomer(c, dayOf(8), [dayOf(4)], 'run-8', deps());

    // Assess: the 4th is recomputed and found equal, so only the 8th is written, and Stripe still holds what was metered
    expect(idle.days).toContain(dayOf(4));
    expect(idle.written).toEqual([dayOf(8)]);
    expect((await storedDays(c)).get(dayOf(4))).toEqual(corrected.get(dayOf(4)));
    await expectStripeMatchesMetered(c);
  });
});
