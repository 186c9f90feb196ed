import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../contract/clock.js';
import { type UsageEvent, validateEvent } from '../../contract/event-contract.js';
import { StripeMeterReporter } from '../../functions/adapters/stripe/stripe-meter-reporter.js';
import type { MeterEventReporter } from '../../functions/core/billing/stripe-reporting.js';
import { type CloseDeps, closeCustomer } from '../../functions/core/close/close-customer.js';
import { buildCustomer } from '../../functions/core/shared/customers.js';
import type { Customer } from '../../functions/core/shared/ports.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { type StripeTestServer, startStripeTestServer } from '../../local/stripe-test-server/index.js';

// Fixed dates around a month end; the Stripe test server shares the clock, so its 35-day window agrees.
const clock = fixedClock('2026-02-27T00:30:00Z');
const closeAt = (day: string) => clock.set(Date.parse(`${day}T00:00:00Z`) + 86_400_000 + 30 * 60_000);

let stack: LocalStack;
let stripeServer: StripeTestServer;
let stripe: Stripe;
let reporter: StripeMeterReporter;
let seq = 0;

function ev(customerId: string, type: string, at: string, data: Record<string, unknown>): UsageEvent {
  const v = validateEvent(
    { specversion: '1.0', type, source: 'test', subject: customerId, id: `n-${seq++}`, time: at, data },
    { now: Date.parse(at) + 1000, newId: () => 'x' },
  );
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  return v.event;
}
const call = (c: string, at: string, quantity: number) => ev(c, 'com.serenity.api.call', at, { quantity });
const user = (c: string, at: string, userId: string) => ev(c, 'com.serenity.user.active', at, { userId });
const file = (c: string, at: string, fileId: string, op: 'protected' | 'unprotected') => ev(c, `com.serenity.file.${op}`, at, { fileId });

const store = (events: UsageEvent[]) => stack.services.events.put(events, 'test-message', new Date(clock.now()).toISOString());
const deps = (r: MeterEventReporter = reporter): CloseDeps => ({
  events: stack.services.events,
  rollups: stack.services.rollups,
  ledger: stack.services.ledger,
  reporter: r,
  clock,
});

async function newCustomer(id: string, mapped = true): Promise<Customer> {
  const cus = mapped ? await stripe.customers.create({ name: id }) : undefined;
  const c = buildCustomer({ id, ...(cus ? { stripeCustomerId: cus.id } : {}) }, undefined, Date.parse('2026-01-01T00:00:00Z'));
  await stack.services.registry.putCustomer(c);
  return c;
}

/** What Stripe holds for a customer, aggregated as the meters do: sum, or the newest value per period. */
function stripeHolds(c: Customer, eventName: string, from: string, to: string): number[] {
  const events = stripeServer
    .meterEvents({ eventName, customerId: c.stripeCustomerId })
    .filter((e) => e.timestamp >= Date.parse(from) / 1000 && e.timestamp < Date.parse(to) / 1000);
  return events.map((e) => Number(e.value));
}
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
function newest(c: Customer, eventName: string, from: string, to: string): number | undefined {
  const events = stripeServer
    .meterEvents({ eventName, customerId: c.stripeCustomerId })
    .filter((e) => e.timestamp >= Date.parse(from) / 1000 && e.timestamp < Date.parse(to) / 1000)
    .sort((a, b) => a.timestamp - b.timestamp);
  return events.length ? Number(events.at(-1)!.value) : undefined;
}
/**
 * The invariant every case must keep: what Stripe holds equals what we metered. Sum meter: Stripe's sum
 * over the period equals the rollups' daily values; last meters: Stripe's newest value equals the latest
 * closed day's period-to-date value.
 */
async function expectStripeMatchesMetered(c: Customer, from: string, to: string) {
  const days = (await stack.services.rollups.getDays(c.id, from, new Date(Date.parse(to) - 86_400_000).toISOString().slice(0, 10))).sort(
    (a, b) => (a.day < b.day ? -1 : 1),
  );
  expect(sum(stripeHolds(c, 'serenity_api_calls', from, to))).toBe(sum(days.map((d) => d.values.api_calls)));
  const latest = days.at(-1)!;
  expect(newest(c, 'serenity_active_users', from, to) ?? 0).toBe(latest.values.active_users);
  expect(newest(c, 'serenity_protected_files', from, to) ?? 0).toBe(latest.values.protected_files);
}

const identifiersUnique = (c: Customer) => {
  const ids = stripeServer.meterEvents({ customerId: c.stripeCustomerId }).map((e) => e.identifier);
  return new Set(ids).size === ids.length;
};

beforeAll(async () => {
  stack = await startLocalStack({ noPoller: true });
  stripeServer = await startStripeTestServer({ clock });
  stripe = new Stripe('sk_test_close', { ...stripeServer.stripeConfig, maxNetworkRetries: 0 });
  reporter = new StripeMeterReporter({ stripe, clock, sleep: async () => {} });
  await reporter.ensureMeters();
});
afterAll(async () => {
  await stripeServer?.close();
  await stack?.stop();
});

describe('the nightly close on the local stack against the Stripe test server', () => {
  it('reports each meter once; a rerun reports nothing new', async () => {
    // Prepare
    const c = await newCustomer('rerun-co');
    await store([
      call(c.id, '2026-02-26T09:15:00Z', 40),
      call(c.id, '2026-02-26T15:15:00Z', 2),
      user(c.id, '2026-02-26T09:00:00Z', 'u1'),
      user(c.id, '2026-02-26T10:00:00Z', 'u2'),
      file(c.id, '2026-02-26T08:00:00Z', 'f1', 'protected'),
      file(c.id, '2026-02-26T09:00:00Z', 'f2', 'protected'),
      file(c.id, '2026-02-26T11:00:00Z', 'f1', 'unprotected'),
    ]);
    closeAt('2026-02-26');
    // Act
    const first = await closeCustomer(c, '2026-02-26', [], 'run-1', deps());
    const second = await closeCustomer(c, '2026-02-26', [], 'run-2', deps());
    // Assess
    expect(first.failed).toEqual([]);
    expect([second.planned, second.sent]).toEqual([0, 0]);
    expect(stripeHolds(c, 'serenity_api_calls', '2026-02-01', '2026-03-01')).toEqual([42]);
    expect(stripeHolds(c, 'serenity_active_users', '2026-02-01', '2026-03-01')).toEqual([2]);
    expect(stripeHolds(c, 'serenity_protected_files', '2026-02-01', '2026-03-01')).toEqual([2]); // peak, not the end count (1)
    expect((await stack.services.ledger.entries(c.id)).every((r) => r.state === 'sent')).toBe(true);
    await expectStripeMatchesMetered(c, '2026-02-01', '2026-03-01');
    const [day] = await stack.services.rollups.getDays(c.id, '2026-02-26', '2026-02-26');
    expect(day!.apiCallsByHour.slice(9, 16)).toEqual([40, 0, 0, 0, 0, 0, 2]);
    expect(day!.activeUsersByHour!.slice(8, 12)).toEqual([0, 1, 1, 0]);
    expect(day!.filesByHour!.slice(7, 12)).toEqual([0, 1, 2, 2, 1]);
  });

  it('picks up late events: a delta for sums, a corrected period-to-date value for last meters', async () => {
    // Prepare: day 1 closed, then late events for it arrive
    const c = await newCustomer('late-co');
    await store([call(c.id, '2026-02-25T10:00:00Z', 10), user(c.id, '2026-02-25T10:00:00Z', 'u1')]);
    closeAt('2026-02-25');
    await closeCustomer(c, '2026-02-25', [], 'run-1', deps());
    await store([call(c.id, '2026-02-25T20:00:00Z', 5), user(c.id, '2026-02-25T20:00:00Z', 'u2'), call(c.id, '2026-02-26T10:00:00Z', 1)]);
    // Act: the next night closes day 2 and the late day 1
    closeAt('2026-02-26');
    const r = await closeCustomer(c, '2026-02-26', ['2026-02-25'], 'run-2', deps());
    // Assess
    expect(r.failed).toEqual([]);
    expect(stripeHolds(c, 'serenity_api_calls', '2026-02-01', '2026-03-01').sort((a, b) => a - b)).toEqual([1, 5, 10]);
    expect(newest(c, 'serenity_active_users', '2026-02-01', '2026-03-01')).toBe(2);
    const ledger = await stack.services.ledger.entries(c.id);
    expect(ledger.filter((x) => x.meter === 'api_calls' && x.day === '2026-02-25').map((x) => [x.revision, x.value])).toEqual([
      [0, 10],
      [1, 5],
    ]);
    expect(identifiersUnique(c)).toBe(true);
    await expectStripeMatchesMetered(c, '2026-02-01', '2026-03-01');
  });

  it('starts a fresh period-to-date at the month boundary for last meters', async () => {
    // Prepare
    const c = await newCustomer('month-co');
    await store([
      user(c.id, '2026-02-28T10:00:00Z', 'u1'),
      user(c.id, '2026-02-28T11:00:00Z', 'u2'),
      user(c.id, '2026-03-01T10:00:00Z', 'u2'),
    ]);
    // Act
    closeAt('2026-02-28');
    await closeCustomer(c, '2026-02-28', [], 'run-1', deps());
    closeAt('2026-03-01');
    await closeCustomer(c, '2026-03-01', [], 'run-2', deps());
    // Assess: February bills 2 users, March so far 1 (u2 again, counted afresh)
    expect(newest(c, 'serenity_active_users', '2026-02-01', '2026-03-01')).toBe(2);
    expect(newest(c, 'serenity_active_users', '2026-03-01', '2026-04-01')).toBe(1);
    await expectStripeMatchesMetered(c, '2026-02-01', '2026-03-01');
    await expectStripeMatchesMetered(c, '2026-03-01', '2026-04-01');
  });

  it('survives a crash between sending and recording: the rerun delivers each event exactly once', async () => {
    // Prepare: a reporter that sends, then the process dies before the ledger hears back
    const c = await newCustomer('crash-co');
    await store([call(c.id, '2026-02-26T10:00:00Z', 7), user(c.id, '2026-02-26T10:00:00Z', 'u1')]);
    closeAt('2026-02-26');
    const dying: MeterEventReporter = {
      report: async (events) => {
        await reporter.report(events);
        throw new Error('process killed');
      },
    };
    // Act
    await expect(closeCustomer(c, '2026-02-26', [], 'run-1', deps(dying))).rejects.toThrow('process killed');
    const pending = (await stack.services.ledger.entries(c.id)).filter((r) => r.state === 'pending');
    const rerun = await closeCustomer(c, '2026-02-26', [], 'run-2', deps());
    // Assess
    expect(pending.length).toBe(2);
    expect(rerun.sent).toBe(2);
    expect(stripeHolds(c, 'serenity_api_calls', '2026-02-01', '2026-03-01')).toEqual([7]);
    expect(stripeHolds(c, 'serenity_active_users', '2026-02-01', '2026-03-01')).toEqual([1]);
    expect(identifiersUnique(c)).toBe(true);
    await expectStripeMatchesMetered(c, '2026-02-01', '2026-03-01');
  });

  it('rides out 429 and 500 storms with the same identifiers', async () => {
    // Prepare
    const c = await newCustomer('storm-co');
    await store([
      call(c.id, '2026-02-26T10:00:00Z', 11),
      user(c.id, '2026-02-26T10:00:00Z', 'u1'),
      file(c.id, '2026-02-26T10:00:00Z', 'f', 'protected'),
    ]);
    closeAt('2026-02-26');
    stripeServer.faults.inject([
      { status: 429, count: 4, path: '/v1/billing/meter_events' },
      { status: 500, count: 4, path: '/v1/billing/meter_events' },
    ]);
    // Act
    const r = await closeCustomer(c, '2026-02-26', [], 'run-1', deps());
    // Assess
    expect(r.failed).toEqual([]);
    expect(stripeServer.faults.pending()).toEqual([]);
    expect(stripeHolds(c, 'serenity_api_calls', '2026-02-01', '2026-03-01')).toEqual([11]);
    expect(stripeHolds(c, 'serenity_active_users', '2026-02-01', '2026-03-01')).toEqual([1]);
    expect(stripeHolds(c, 'serenity_protected_files', '2026-02-01', '2026-03-01')).toEqual([1]);
    await expectStripeMatchesMetered(c, '2026-02-01', '2026-03-01');
  });

  it('records a customer without a Stripe mapping in the ledger, and sends once the mapping exists', async () => {
    // Prepare
    const c = await newCustomer('unmapped-co', false);
    await store([call(c.id, '2026-02-26T10:00:00Z', 3)]);
    closeAt('2026-02-26');
    // Act
    const first = await closeCustomer(c, '2026-02-26', [], 'run-1', deps());
    const cus = await stripe.customers.create({ name: 'now mapped' });
    const mapped = buildCustomer({ id: c.id, stripeCustomerId: cus.id }, c, clock.now());
    await stack.services.registry.putCustomer(mapped);
    const second = await closeCustomer(mapped, '2026-02-26', [], 'run-2', deps());
    // Assess
    expect(first.failed).toEqual([{ identifier: expect.stringContaining('2026-02-26'), state: 'error', reason: 'no_stripe_customer' }]);
    expect(second.sent).toBe(1);
    expect(stripeHolds(mapped, 'serenity_api_calls', '2026-02-01', '2026-03-01')).toEqual([3]);
    await expectStripeMatchesMetered(mapped, '2026-02-01', '2026-03-01');
  });

  it('two concurrent runs report every value exactly once', async () => {
    // Prepare
    const c = await newCustomer('twin-co');
    await store([
      call(c.id, '2026-02-26T10:00:00Z', 9),
      user(c.id, '2026-02-26T10:00:00Z', 'u1'),
      user(c.id, '2026-02-26T11:00:00Z', 'u2'),
    ]);
    closeAt('2026-02-26');
    // Act
    await Promise.all([closeCustomer(c, '2026-02-26', [], 'run-a', deps()), closeCustomer(c, '2026-02-26', [], 'run-b', deps())]);
    // Assess
    expect(stripeHolds(c, 'serenity_api_calls', '2026-02-01', '2026-03-01')).toEqual([9]);
    expect(stripeHolds(c, 'serenity_active_users', '2026-02-01', '2026-03-01')).toEqual([2]);
    expect(identifiersUnique(c)).toBe(true);
    await expectStripeMatchesMetered(c, '2026-02-01', '2026-03-01');
  });
});

describe('billing holds', () => {
  it('holds flagged usage back from Stripe, and a released hold reports it with its original timestamp', async () => {
    // Prepare: a hold on api_calls for the day
    const c = await newCustomer('held-co');
    await store([call(c.id, '2026-02-26T10:00:00Z', 500), user(c.id, '2026-02-26T10:00:00Z', 'u1')]);
    closeAt('2026-02-26');
    let holds = [{ customerId: c.id, meter: 'api_calls' as const, from: '2026-02-26', to: '2026-02-27' }];
    const withHolds = (): CloseDeps => ({ ...deps(), holds: async () => holds });
    // Act: close while held, then release and close the next night
    const held = await closeCustomer(c, '2026-02-26', [], 'run-1', withHolds());
    const whileHeld = stripeHolds(c, 'serenity_api_calls', '2026-02-01', '2026-03-01');
    holds = [];
    closeAt('2026-02-27');
    await closeCustomer(c, '2026-02-27', [], 'run-2', withHolds());
    // Assess
    expect(held.deferred.map((d) => [d.meter, d.day])).toEqual([['api_calls', '2026-02-26']]);
    expect(whileHeld).toEqual([]);
    expect(stripeHolds(c, 'serenity_active_users', '2026-02-01', '2026-03-01')).toEqual([1]); // not held
    const released = stripeServer.meterEvents({ eventName: 'serenity_api_calls', customerId: c.stripeCustomerId });
    expect(released.map((e) => [e.value, new Date(e.timestamp * 1000).toISOString().slice(0, 10)])).toEqual([[500, '2026-02-26']]);
    await expectStripeMatchesMetered(c, '2026-02-01', '2026-03-01');
  });
});

describe('Stripe outages: records pending past the 24-hour identifier window', () => {
  const DAY = '2026-03-10';
  /** A close of `DAY` during an outage: every call fails; with `storedFirst`, Stripe stored the first one but its answer was lost. */
  async function closeDuringOutage(c: Customer, storedFirst: boolean) {
    await store([call(c.id, `${DAY}T10:00:00Z`, 12)]);
    closeAt(DAY);
    stripeServer.faults.inject([
      ...(storedFirst ? [{ status: 503 as const, processed: true, count: 1, path: '/v1/billing/meter_events' }] : []),
      { status: 503, count: 20, path: '/v1/billing/meter_events' },
    ]);
    const r = await closeCustomer(c, DAY, [], 'run-outage', deps());
    stripeServer.faults.clear();
    expect(r.failed.map((f) => f.state)).toEqual(['pending']);
  }
  const apiRecords = async (c: Customer) => (await stack.services.ledger.entries(c.id)).filter((r) => r.meter === 'api_calls');

  it('settles a record Stripe already counted (its answer was lost) instead of sending it again after 24 hours', async () => {
    // Prepare
    const c = await newCustomer('outage-counted-co');
    await closeDuringOutage(c, true);
    expect(stripeHolds(c, 'serenity_api_calls', '2026-03-01', '2026-04-01')).toEqual([12]);

    // Act: Stripe is back, 25 hours later; the next close finds the record pending
    clock.set(Date.parse(`${DAY}T00:30:00Z`) + 86_400_000 + 25 * 3_600_000);
    const r = await closeCustomer(c, '2026-03-11', [], 'run-after', deps());

    // Assess: billed once, settled from Stripe's summary
    expect(r.failed).toEqual([]);
    expect(stripeHolds(c, 'serenity_api_calls', '2026-03-01', '2026-04-01')).toEqual([12]);
    expect((await apiRecords(c)).map((x) => [x.day, x.state, x.identifier])).toEqual([
      [DAY, 'sent', `srn:api:${DAY}:r0:outage-counted-co`],
    ]);
  });

  it('resends a record Stripe never counted under a new identifier once the old one’s window has passed', async () => {
    // Prepare
    const c = await newCustomer('outage-lost-co');
    await closeDuringOutage(c, false);
    expect(stripeHolds(c, 'serenity_api_calls', '2026-03-01', '2026-04-01')).toEqual([]);

    // Act
    clock.set(Date.parse(`${DAY}T00:30:00Z`) + 86_400_000 + 25 * 3_600_000);
    const r = await closeCustomer(c, '2026-03-11', [], 'run-after', deps());

    // Assess
    expect(r.failed).toEqual([]);
    expect(stripeHolds(c, 'serenity_api_calls', '2026-03-01', '2026-04-01')).toEqual([12]);
    const [rec] = await apiRecords(c);
    expect([rec?.state, rec?.identifier, rec?.resends]).toEqual(['sent', `srn:api:${DAY}:r0:outage-lost-co:g1`, 1]);
    expect(stripeServer.meterEvents({ customerId: c.stripeCustomerId }).map((e) => e.identifier)).toEqual([
      `srn:api:${DAY}:r0:outage-lost-co:g1`,
    ]);
  });

  it('surfaces a record still pending after 35 days, which Stripe would refuse: settled in error and listed, not kept silently', async () => {
    // Prepare
    const c = await newCustomer('outage-expired-co');
    await closeDuringOutage(c, false);

    // Act: the next close of this customer runs 40 days later
    clock.set(Date.parse(`${DAY}T00:30:00Z`) + 40 * 86_400_000);
    const r = await closeCustomer(c, '2026-04-18', [], 'run-late', deps());

    // Assess
    expect(r.unreportable).toMatchObject([{ meter: 'api_calls', day: DAY, value: 12, reason: 'pending_beyond_stripe_window' }]);
    expect((await apiRecords(c)).map((x) => [x.day, x.state, x.lastError])).toEqual([[DAY, 'error', 'pending_beyond_stripe_window']]);
    expect(stripeHolds(c, 'serenity_api_calls', '2026-03-01', '2026-04-01')).toEqual([]);
  });
});
