import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, fixedClock } from '../../contract/clock.js';
import { type UsageEvent, validateEvent } from '../../contract/event-contract.js';
import { buildCustomer } from '../../functions/core/shared/customers.js';
import type { Customer } from '../../functions/core/shared/ports.js';
import { makePlanner } from '../../functions/handlers/close-planner.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';

// The run on 1 April fails; the next night, on 2 April, must still close 31 March and report it to Stripe.
// Stripe counts late events for the account's invoice grace period after a period ends (up to 72 h):
// with 72 h, 31 March is still billable on 2 April at 00:30.
const clock = fixedClock('2026-03-31T00:30:00Z');
let stack: LocalStack;
let stripe: Stripe;
let customer: Customer;
let seq = 0;
const graceBefore = process.env.STRIPE_INVOICE_GRACE_HOURS;

function call(c: string, at: string, quantity: number): UsageEvent {
  const v = validateEvent(
    { specversion: '1.0', type: 'com.serenity.api.call', source: 'test', subject: c, id: `cu-${seq++}`, time: at, data: { quantity } },
    { now: Date.parse(at) + 1000, newId: () => 'x' },
  );
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  return v.event;
}

/**
 * Plans the night at `at` through the real planner and waits until the close workers finished its chunks and the
 * last of them moved the watermark (it does so just after counting itself done).
 */
async function closeNight(at: string, planner = makePlanner(stack.functionServices['close-planner'])) {
  clock.set(at);
  const plan = await planner({});
  const deadline = Date.now() + 60_000;
  for (;;) {
    const run = await stack.services.rollups.getRun(plan.day, plan.runId);
    const through = await stack.services.rollups.closedThrough();
    if ((run?.chunksDone ?? 0) >= plan.chunks && through !== undefined && through >= plan.day) return { plan, run: run! };
    if (Date.now() > deadline) throw new Error(`run ${plan.runId} for ${plan.day} did not finish`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The API calls Stripe holds for the customer, per UTC day of the events' timestamps. */
function stripeCallsByDay(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of stack.stripeServer!.meterEvents({ eventName: 'serenity_api_calls', customerId: customer.stripeCustomerId })) {
    const day = new Date(e.timestamp * 1000).toISOString().slice(0, 10);
    out[day] = (out[day] ?? 0) + Number(e.value);
  }
  return out;
}

beforeAll(async () => {
  process.env.STRIPE_INVOICE_GRACE_HOURS = '72';
  stack = await startLocalStack({ clock });
  stripe = new Stripe('sk_test_catch_up', { ...stack.stripeServer!.stripeConfig, maxNetworkRetries: 0 });
  const cus = await stripe.customers.create({ name: 'catch-up-co' });
  customer = buildCustomer({ id: 'catch-up-co', stripeCustomerId: cus.id }, undefined, Date.parse('2026-03-01T00:00:00Z'));
  await stack.services.registry.putCustomer(customer);
  await stack.services.events.put(
    [
      call(customer.id, '2026-03-30T10:00:00Z', 30),
      call(customer.id, '2026-03-31T10:00:00Z', 31),
      call(customer.id, '2026-04-01T10:00:00Z', 1),
    ],
    'test-message',
    '2026-04-01T10:00:01.000Z',
  );
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  if (graceBefore === undefined) delete process.env.STRIPE_INVOICE_GRACE_HOURS;
  else process.env.STRIPE_INVOICE_GRACE_HOURS = graceBefore;
});

describe('the nightly close catches up on missed nights', () => {
  it('closes 31 March on 2 April after the run of 1 April failed, and reports it to Stripe', async () => {
    // Prepare: 30 March is closed as usual; on 1 April the planner fails (the close queue refuses every chunk)
    await closeNight('2026-03-31T00:30:00Z');
    const closeQueue = Object.assign(Object.create(stack.functionServices['close-planner'].closeQueue), {
      send: async (bodies: readonly string[]) => ({ failed: bodies.map((_, i) => i) }),
    });
    const broken = makePlanner({ ...stack.functionServices['close-planner'], closeQueue });
    clock.set('2026-04-01T00:30:00Z');
    await expect(broken({})).rejects.toThrow(/could not be enqueued/);
    expect(stripeCallsByDay()).toEqual({ '2026-03-30': 30 });

    // Act: the next night's run, nothing told about the failure
    const { plan, run } = await closeNight('2026-04-02T00:30:00Z');

    // Assess: 31 March reached Stripe with 1 April, each once; the run names the day it caught up
    expect(plan.day).toBe('2026-04-01');
    expect(stripeCallsByDay()).toEqual({ '2026-03-30': 30, '2026-03-31': 31, '2026-04-01': 1 });
    expect(plan.missedDays).toEqual(['2026-03-31']);
    expect(run.counts.failed ?? 0).toBe(0);
    expect((await stack.services.rollups.getDays(customer.id, '2026-03-31', '2026-03-31')).map((d) => d.apiCalls)).toEqual([31]);
    // The watermark moved on: the night after catches nothing up again
    const next = await closeNight(new Date(Date.parse('2026-04-02T00:30:00Z') + DAY_MS).toISOString());
    expect(next.plan.missedDays).toEqual([]);
    expect(stripeCallsByDay()).toEqual({ '2026-03-30': 30, '2026-03-31': 31, '2026-04-01': 1 });
  }, 120_000);
});
