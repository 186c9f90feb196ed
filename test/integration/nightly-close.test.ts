import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Stripe from 'stripe';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { startStripeTestServer, type StripeTestServer } from '../../local/stripe-test-server/index.js';
import { StripeMeterReporter } from '../../functions/adapters/stripe-meter-reporter.js';
import { closeCustomer, type CloseDeps } from '../../functions/core/nightly-close.js';
import { buildCustomer } from '../../functions/core/customers.js';
import { fixedClock } from '../../functions/core/clock.js';
import { validateEvent, type UsageEvent } from '../../functions/core/event-contract.js';
import type { Customer } from '../../functions/core/ports.js';

// The closed day is yesterday; the clock stands at 00:30 the morning after, as the schedule does.
const DAY = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
const clock = fixedClock(`${new Date(Date.now()).toISOString().slice(0, 10)}T00:30:00Z`);

let stack: LocalStack;
let stripeServer: StripeTestServer;
let stripe: Stripe;
let reporter: StripeMeterReporter;
let customer: Customer;
let seq = 0;

function ev(type: string, hour: number, data: Record<string, unknown>, day = DAY): UsageEvent {
  const v = validateEvent(
    { specversion: '1.0', type, source: 'test', subject: customer.id, id: `n-${seq++}`, time: `${day}T${String(hour).padStart(2, '0')}:15:00Z`, data },
    { now: clock.now(), newId: () => 'x' },
  );
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  return v.event;
}

async function store(events: UsageEvent[]) {
  await stack.services.events.put(events, 'test-message', new Date().toISOString());
}

const deps = (): CloseDeps => ({ events: stack.services.events, rollups: stack.services.rollups, ledger: stack.services.ledger, reporter, clock });

async function stripeTotal(eventName: string, stripeCustomerId: string) {
  const events = stripeServer.meterEvents({ eventName, customerId: stripeCustomerId });
  return events;
}

beforeAll(async () => {
  stack = await startLocalStack({ noPoller: true });
  stripeServer = await startStripeTestServer({ clock });
  stripe = new Stripe('sk_test_close', { ...stripeServer.stripeConfig, maxNetworkRetries: 0 });
  reporter = new StripeMeterReporter({ stripe, clock, sleep: async () => {} });
  await reporter.ensureMeters();
  const cus = await stripe.customers.create({ name: 'Close Co' });
  customer = buildCustomer({ id: 'close-co', stripeCustomerId: cus.id }, undefined, Date.now() - 40 * 86_400_000);
  await stack.services.registry.putCustomer(customer);
});
afterAll(async () => {
  await stripeServer?.close();
  await stack?.stop();
});

describe('closing a day', () => {
  it('reports each meter once, and a rerun reports nothing new', async () => {
    // Prepare
    await store([
      ev('com.serenity.api.call', 9, { quantity: 40 }),
      ev('com.serenity.api.call', 15, { quantity: 2 }),
      ev('com.serenity.user.active', 9, { userId: 'u1' }),
      ev('com.serenity.user.active', 10, { userId: 'u2' }),
      ev('com.serenity.file.protected', 8, { fileId: 'f1' }),
      ev('com.serenity.file.protected', 9, { fileId: 'f2' }),
      ev('com.serenity.file.unprotected', 11, { fileId: 'f1' }),
    ]);
    // Act
    const first = await closeCustomer(customer, DAY, [], 'run-1', deps());
    const second = await closeCustomer(customer, DAY, [], 'run-2', deps());
    // Assess
    expect(first.failed).toEqual([]);
    expect(second.planned).toBe(0);
    expect(second.sent).toBe(0);
    const byName = (n: string) => stripeServer.meterEvents({ eventName: n, customerId: customer.stripeCustomerId });
    expect(byName('serenity_api_calls').map((e) => e.value)).toEqual([42]);
    expect(byName('serenity_active_users').map((e) => e.value)).toEqual([2]);
    expect(byName('serenity_protected_files').map((e) => e.value)).toEqual([2]);
    const ledger = await stack.services.ledger.entries(customer.id);
    expect(ledger.filter((r) => r.day === DAY).every((r) => r.state === 'sent')).toBe(true);
  });
});
