import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, fixedClock, utcDay } from '../../contract/clock.js';
import { type UsageEvent, validateEvent } from '../../contract/event-contract.js';
import { StripeMeterReporter } from '../../functions/adapters/stripe/stripe-meter-reporter.js';
import { loadStatement } from '../../functions/core/billing/statement.js';
import { type CloseDeps, closeCustomer } from '../../functions/core/close/close-customer.js';
import { holdsFromFlags } from '../../functions/core/fraud/holds.js';
import { flagRevision } from '../../functions/core/fraud/merge-flags.js';
import { reviewFlag } from '../../functions/core/fraud/review-flag.js';
import { buildCustomer } from '../../functions/core/shared/customers.js';
import type { Customer } from '../../functions/core/shared/ports.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { type StripeTestServer, startStripeTestServer } from '../../local/stripe-test-server/index.js';

// Four weeks of steady weekday traffic, then one day with fifty times the usual volume.
const FIRST = Date.parse('2026-02-01T00:00:00Z');
const SPIKE_DAY = '2026-03-02';
const clock = fixedClock('2026-02-02T00:30:00Z');
const closeAt = (day: string) => clock.set(Date.parse(`${day}T00:00:00Z`) + DAY_MS + 30 * 60_000);

let stack: LocalStack;
let stripeServer: StripeTestServer;
let reporter: StripeMeterReporter;
let customer: Customer;
let confirmed: Customer;
let seq = 0;

const deps = (): CloseDeps => ({
  events: stack.services.events,
  rollups: stack.services.rollups,
  ledger: stack.services.ledger,
  reporter,
  clock,
  fraud: { flags: stack.services.flags },
});

function calls(day: string, perHour: number, c: Customer = customer): UsageEvent[] {
  const out: UsageEvent[] = [];
  for (let h = 8; h < 18; h++) {
    const time = `${day}T${String(h).padStart(2, '0')}:10:00Z`;
    const v = validateEvent(
      {
        specversion: '1.0',
        type: 'com.serenity.api.call',
        source: 't',
        subject: c.id,
        id: `s-${seq++}`,
        time,
        data: { quantity: perHour, apiKeyId: 'k1', clientIp: '198.51.100.7', country: 'DE' },
      },
      { now: Date.parse(time) + 1000, newId: () => 'x' },
    );
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    out.push(v.event);
  }
  return out;
}

const apiEvents = (c: Customer = customer) => stripeServer.meterEvents({ eventName: 'serenity_api_calls', customerId: c.stripeCustomerId });

beforeAll(async () => {
  stack = await startLocalStack({ noPoller: true });
  stripeServer = await startStripeTestServer({ clock });
  const stripe = new Stripe('sk_test_fraud', { ...stripeServer.stripeConfig, maxNetworkRetries: 0 });
  reporter = new StripeMeterReporter({ stripe, clock, sleep: async () => {} });
  await reporter.ensureMeters();
  customer = buildCustomer({ id: 'spiky-co', stripeCustomerId: (await stripe.customers.create({ name: 'spiky' })).id }, undefined, FIRST);
  confirmed = buildCustomer(
    { id: 'caught-co', stripeCustomerId: (await stripe.customers.create({ name: 'caught' })).id },
    undefined,
    FIRST,
  );
  for (const c of [customer, confirmed]) {
    await stack.services.registry.putCustomer(c);
    // Steady history, closed night by night as production would.
    for (let t = FIRST; t < Date.parse(`${SPIKE_DAY}T00:00:00Z`); t += DAY_MS) {
      const day = utcDay(t);
      const weekend = [0, 6].includes(new Date(t).getUTCDay());
      await stack.services.events.put(calls(day, weekend ? 20 : 100, c), 'm', `${day}T23:00:00.000Z`);
      closeAt(day);
      await closeCustomer(c, day, [], `run-${day}`, deps());
    }
    await stack.services.events.put(calls(SPIKE_DAY, 5000, c), 'm', `${SPIKE_DAY}T23:00:00.000Z`);
  }
}, 240_000);
afterAll(async () => {
  await stripeServer?.close();
  await stack?.stop();
});

describe('fraud flags hold usage from billing', () => {
  it('flags the spike, holds it from Stripe, does not duplicate the flag on a rerun, and releases it with its original timestamp on dismissal', async () => {
    // Act: the spike night, and a rerun of it
    closeAt(SPIKE_DAY);
    const night = await closeCustomer(customer, SPIKE_DAY, [], 'run-spike', deps());
    const rerun = await closeCustomer(customer, SPIKE_DAY, [], 'run-spike-2', deps());
    // Assess: one high-severity flag, the spike day held, nothing new on the rerun
    expect(night.flags.created.map((f) => [f.rule, f.meter, f.severity])).toEqual([['volume_spike', 'api_calls', 'high']]);
    expect(night.deferred.map((d) => [d.meter, d.day])).toEqual([['api_calls', SPIKE_DAY]]);
    expect(rerun.flags.created).toEqual([]);
    const all = await stack.services.flags.forCustomer(customer.id);
    expect(all.map((f) => [f.rule, f.meter, f.severity, f.window.from])).toEqual([
      ['volume_spike', 'api_calls', 'high', night.flags.created[0]!.window.from],
    ]);
    expect(apiEvents().filter((e) => new Date(e.timestamp * 1000).toISOString().startsWith(SPIKE_DAY))).toEqual([]);

    // Act: an analyst dismisses it; the next night's close runs
    const flag = night.flags.created[0]!;
    await stack.services.flags.save([
      {
        flag: reviewFlag(flag, {
          decision: 'dismiss',
          note: 'planned migration',
          reviewer: 'ana',
          at: new Date(clock.now()).toISOString(),
        }),
        basedOn: flagRevision(flag),
      },
    ]);
    const next = utcDay(Date.parse(`${SPIKE_DAY}T00:00:00Z`) + DAY_MS);
    await stack.services.events.put(calls(next, 100), 'm', `${next}T23:00:00.000Z`);
    closeAt(next);
    await closeCustomer(customer, next, [], 'run-next', deps());
    // Assess: the spike is billed now, stamped on its own day
    const spike = apiEvents().filter((e) => new Date(e.timestamp * 1000).toISOString().startsWith(SPIKE_DAY));
    expect(spike.map((e) => e.value)).toEqual([50_000]);
  });

  it('keeps usage held once an analyst confirms the flag', async () => {
    // Prepare: the spike night flags the customer
    closeAt(SPIKE_DAY);
    const night = await closeCustomer(confirmed, SPIKE_DAY, [], 'run-c1', deps());
    const flag = night.flags.created[0]!;
    // Act: confirmed, then the next night closes
    await stack.services.flags.save([
      {
        flag: reviewFlag(flag, { decision: 'confirm', note: 'key leaked', reviewer: 'ana', at: new Date(clock.now()).toISOString() }),
        basedOn: flagRevision(flag),
      },
    ]);
    const next = utcDay(Date.parse(`${SPIKE_DAY}T00:00:00Z`) + DAY_MS);
    closeAt(next);
    const after = await closeCustomer(confirmed, next, [], 'run-c2', deps());
    // Assess: still held, and nothing of the spike day reached Stripe
    expect(after.deferred.map((d) => [d.meter, d.day])).toEqual([['api_calls', SPIKE_DAY]]);
    expect(apiEvents(confirmed).filter((e) => new Date(e.timestamp * 1000).toISOString().startsWith(SPIKE_DAY))).toEqual([]);
    expect((await stack.services.flags.get(flag.id))!.status).toBe('confirmed');
    const statement = await loadStatement(
      confirmed,
      '2026-03',
      stack.services,
      holdsFromFlags(await stack.services.flags.forCustomer(confirmed.id)),
    );
    const api = statement.meters.find((m) => m.meter === 'api_calls')!;
    expect(api.held.map((h) => [h.from, h.to])).toEqual([[SPIKE_DAY, next]]);
  });
});
