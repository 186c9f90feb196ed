import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock, HOUR_MS } from '../../contract/clock.js';
import { type UsageEvent, validateEvent } from '../../contract/event-contract.js';
import { METERS, type Meter } from '../../contract/meters.js';
import { StripeMeterReporter } from '../../functions/adapters/stripe/stripe-meter-reporter.js';
import { type FinanceDeps, reconcilePeriod } from '../../functions/core/billing/reconcile-period.js';
import type { Statement } from '../../functions/core/billing/statement.js';
import { type CloseDeps, closeCustomer } from '../../functions/core/close/close-customer.js';
import { buildCustomer } from '../../functions/core/shared/customers.js';
import type { Customer } from '../../functions/core/shared/ports.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { type StripeTestServer, startStripeTestServer } from '../../local/stripe-test-server/index.js';

// The closed day is 2026-02-26; the clock stands at 00:30 the morning after, as the schedule does.
// The Stripe test server shares the clock, so its 35-day window and 24-hour cancel window agree with ours.
const DAY = '2026-02-26';
const clock = fixedClock('2026-02-27T00:30:00Z');
const PERIOD_START = Date.parse('2026-02-01T00:00:00Z') / 1000;

let stack: LocalStack;
let stripeServer: StripeTestServer;
let stripe: Stripe;
let reporter: StripeMeterReporter;
let meterIds: Record<Meter, string>;
let seq = 0;

function ev(customerId: string, type: string, at: string, data: Record<string, unknown>): UsageEvent {
  const v = validateEvent(
    { specversion: '1.0', type, source: 'test', subject: customerId, id: `f-${seq++}`, time: at, data },
    { now: Date.parse(at) + 1000, newId: () => 'x' },
  );
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  return v.event;
}
/** One day of usage: 42 API calls, 2 users, 2 files protected (one of them unprotected later). */
const usage = (c: string) => [
  ev(c, 'com.serenity.api.call', `${DAY}T09:15:00Z`, { quantity: 40 }),
  ev(c, 'com.serenity.api.call', `${DAY}T15:15:00Z`, { quantity: 2 }),
  ev(c, 'com.serenity.user.active', `${DAY}T09:15:00Z`, { userId: 'u1' }),
  ev(c, 'com.serenity.user.active', `${DAY}T10:15:00Z`, { userId: 'u2' }),
  ev(c, 'com.serenity.file.protected', `${DAY}T08:15:00Z`, { fileId: 'f1' }),
  ev(c, 'com.serenity.file.protected', `${DAY}T09:15:00Z`, { fileId: 'f2' }),
  ev(c, 'com.serenity.file.unprotected', `${DAY}T11:15:00Z`, { fileId: 'f1' }),
];

const store = (events: UsageEvent[]) => stack.services.events.put(events, 'test-message', new Date(clock.now()).toISOString());
const closeDeps = (): CloseDeps => ({
  events: stack.services.events,
  rollups: stack.services.rollups,
  ledger: stack.services.ledger,
  reporter,
  clock,
});
const financeDeps = (): FinanceDeps => ({ services: stack.services, clock, stripe: { reporter, meterIds }, actor: 'test:finance' });

async function newCustomer(id: string): Promise<Customer> {
  const cus = await stripe.customers.create({ name: id });
  const c = buildCustomer({ id, stripeCustomerId: cus.id }, undefined, Date.parse('2026-01-01T00:00:00Z'));
  await stack.services.registry.putCustomer(c);
  return c;
}

/** Stripe's own aggregate for the period so far, read as reconcile reads it. */
async function stripeTotal(c: Customer, meter: Meter): Promise<number> {
  return reporter.listEventSummaries(meterIds[meter], c.stripeCustomerId!, PERIOD_START, Math.floor(clock.now() / 60_000) * 60);
}

const getStatement = (path: string, key = stack.adminKey) =>
  fetch(`${stack.url}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });

beforeAll(async () => {
  stack = await startLocalStack({ noPoller: true });
  stripeServer = await startStripeTestServer({ clock });
  stripe = new Stripe('sk_test_finance', { ...stripeServer.stripeConfig, maxNetworkRetries: 0 });
  reporter = new StripeMeterReporter({ stripe, clock, sleep: async () => {} });
  const meters = await reporter.ensureMeters();
  meterIds = Object.fromEntries(METERS.map((m) => [m, meters[m].id])) as Record<Meter, string>;
});
afterAll(async () => {
  await stripeServer?.close();
  await stack?.stop();
});

describe('finance on the local stack against the Stripe test server', () => {
  let fin: Customer;

  it("serves a statement whose metered and reported figures agree with Stripe's own", async () => {
    // Prepare
    fin = await newCustomer('fin-co');
    await store(usage(fin.id));
    const closed = await closeCustomer(fin, DAY, [], 'run-1', closeDeps());
    expect(closed.failed).toEqual([]);
    // Act
    const res = await getStatement(`/v1/statements/${fin.id}?period=2026-02`);
    const statement = (await res.json()) as Statement;
    // Assess
    expect(res.status).toBe(200);
    expect(statement.period.key).toBe('2026-02');
    expect(statement.closedThrough).toBe(DAY);
    const three = await Promise.all(
      statement.meters.map(async (m) => [m.meter, m.billed, m.reportedTotal, await stripeTotal(fin, m.meter)]),
    );
    expect(three).toEqual([
      ['api_calls', 42, 42, 42],
      ['active_users', 2, 2, 2],
      ['protected_files', 2, 2, 2],
    ]);
    const api = statement.meters[0]!;
    expect(api.reports.map((r) => [r.identifier, r.value, r.state, r.sentAt])).toEqual([
      ['srn:api:2026-02-26:r0:fin-co', 42, 'sent', new Date(clock.now()).toISOString()],
    ]);
  });

  it('answers 404 for an unknown customer, 400 naming period for a bad one, 401 without a key', async () => {
    // Act
    const unknown = await getStatement('/v1/statements/nobody?period=2026-02');
    const bad = await getStatement(`/v1/statements/fin-co?period=2026-2`);
    const missing = await getStatement(`/v1/statements/fin-co`);
    const anonymous = await getStatement(`/v1/statements/fin-co?period=2026-02`, '');
    // Assess
    expect(unknown.status).toBe(404);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual(['period']);
    expect(missing.status).toBe(400);
    expect(anonymous.status).toBe(401);
  });

  it('finds usage Stripe lost, and --fix restores agreement without the next close taking it back', async () => {
    // Prepare: two hours on (the sends have settled), Stripe loses the day's API calls.
    clock.advance(2 * HOUR_MS);
    await stripe.billing.meterEventAdjustments.create({
      event_name: 'serenity_api_calls',
      type: 'cancel',
      cancel: { identifier: 'srn:api:2026-02-26:r0:fin-co' },
    });
    expect(await stripeTotal(fin, 'api_calls')).toBe(0);
    // Act
    const found = await reconcilePeriod(financeDeps(), { period: '2026-02', customer: fin.id });
    const fixed = await reconcilePeriod(financeDeps(), { period: '2026-02', customer: fin.id, fix: true });
    const nextClose = await closeCustomer(fin, DAY, [], 'run-2', closeDeps());
    // Assess
    const api = found.rows.find((r) => r.meter === 'api_calls')!;
    expect([api.metered, api.reported, api.stripe, api.status, api.action]).toEqual([42, 42, 0, 'not_in_stripe', 'repair_lost']);
    expect(found.differences).toBe(1);
    expect(fixed.before?.find((r) => r.meter === 'api_calls')?.status).toBe('not_in_stripe');
    expect(fixed.fixes.map((f) => [f.kind, f.identifier, f.value, f.state])).toEqual([
      ['repair_lost', 'srn:api:2026-02-26:r2:fin-co', 42, 'sent'],
    ]);
    expect(fixed.rows.map((r) => [r.meter, r.metered, r.reported, r.stripe, r.status])).toEqual([
      ['api_calls', 42, 42, 42, 'ok'],
      ['active_users', 2, 2, 2, 'ok'],
      ['protected_files', 2, 2, 2, 'ok'],
    ]);
    expect(fixed.differences).toBe(0);
    expect(nextClose.planned).toBe(0);
    expect(await stripeTotal(fin, 'api_calls')).toBe(42);
    const ledger = (await stack.services.ledger.entries(fin.id)).filter((r) => r.meter === 'api_calls');
    expect(ledger.map((r) => [r.revision, r.value, r.state, r.lastError ?? ''])).toEqual([
      [0, 42, 'sent', ''],
      [1, -42, 'error', 'lost_in_stripe'],
      [2, 42, 'sent', ''],
    ]);
    const audit = await stack.services.audit.list('2026-02-27', 50);
    expect(audit.filter((a) => a.action === 'reconcile').length).toBe(2);
    expect(audit.find((a) => a.action === 'reconcile.fix')).toMatchObject({
      customerId: fin.id,
      actor: 'test:finance',
      counts: { sent: 1, failed: 0 },
    });
  });

  it('--fix sends records stuck pending again under their own identifiers', async () => {
    // Prepare: Stripe fails every send of the close, so its records stay pending.
    const stuck = await newCustomer('stuck-co');
    await store(usage(stuck.id));
    stripeServer.faults.inject({ status: 500, count: 100, path: '/v1/billing/meter_events' });
    const closed = await closeCustomer(stuck, DAY, [], 'run-3', closeDeps());
    stripeServer.faults.clear();
    expect(closed.failed.map((f) => f.state)).toEqual(['pending', 'pending', 'pending']);
    // Act
    const found = await reconcilePeriod(financeDeps(), { period: '2026-02', customer: stuck.id });
    const fixed = await reconcilePeriod(financeDeps(), { period: '2026-02', customer: stuck.id, fix: true });
    // Assess
    expect(found.rows.map((r) => [r.metered, r.reported, r.stripe, r.status, r.action])).toEqual([
      [42, 0, 0, 'unreported', 'resend'],
      [2, 0, 0, 'unreported', 'resend'],
      [2, 0, 0, 'unreported', 'resend'],
    ]);
    expect(fixed.fixes.map((f) => [f.kind, f.identifier, f.state])).toEqual([
      ['resend', 'srn:api:2026-02-26:r0:stuck-co', 'sent'],
      ['resend', 'srn:users:2026-02-26:r0:stuck-co', 'sent'],
      ['resend', 'srn:files:2026-02-26:r0:stuck-co', 'sent'],
    ]);
    expect(fixed.rows.every((r) => r.status === 'ok')).toBe(true);
    expect(
      stripeServer
        .meterEvents({ customerId: stuck.stripeCustomerId })
        .map((e) => e.identifier)
        .sort(),
    ).toEqual(['srn:api:2026-02-26:r0:stuck-co', 'srn:files:2026-02-26:r0:stuck-co', 'srn:users:2026-02-26:r0:stuck-co']);
  });

  it('reconciles every customer of a month and counts what still differs', async () => {
    // Prepare: a customer with usage the close never reported.
    const late = await newCustomer('unclosed-co');
    await store(usage(late.id));
    await closeCustomer(late, DAY, [], 'run-4', { ...closeDeps(), reporter: undefined });
    // Act
    const all = await reconcilePeriod(financeDeps(), { period: '2026-02' });
    // Assess
    expect([...new Set(all.rows.map((r) => r.customerId))]).toEqual(['fin-co', 'stuck-co', 'unclosed-co']);
    expect(all.rows.filter((r) => r.status !== 'ok').map((r) => [r.customerId, r.meter, r.status, r.action])).toEqual([
      ['unclosed-co', 'api_calls', 'unreported', 'resend'],
      ['unclosed-co', 'active_users', 'unreported', 'resend'],
      ['unclosed-co', 'protected_files', 'unreported', 'resend'],
    ]);
    expect(all.differences).toBe(3);
  });
});
