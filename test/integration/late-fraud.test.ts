import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, fixedClock, utcDay } from '../../contract/clock.js';
import { type UsageEvent, validateEvent } from '../../contract/event-contract.js';
import { type CloseDeps, closeCustomer } from '../../functions/core/close/close-customer.js';
import type { Flag } from '../../functions/core/fraud/types.js';
import { buildCustomer } from '../../functions/core/shared/customers.js';
import type { Customer } from '../../functions/core/shared/ports.js';
import { makePlanner } from '../../functions/handlers/close-planner.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { post } from '../fakes/events.js';

// Steady office-hours API traffic (100 calls an hour on weekdays, 20 at weekends, 08-18 UTC) from
// 2026-02-01, each day closed the night after. Day D closes through the real path; then twenty times the
// usual calls arrive late, over HTTP, for three hours of LATE, already closed; the next night re-scores LATE.
// All days after February lie in one billing period (March), so a release is planned by the next close.
const FIRST = '2026-02-01';
const LATE = '2026-03-03'; // Tuesday
const D = '2026-03-05'; // Thursday
const NEXT = '2026-03-06'; // Friday: closes NEXT and the late LATE
const AFTER = '2026-03-07'; // Saturday: the night after the dismissal
const clock = fixedClock(`${FIRST}T00:30:00Z`);
const at = (day: string, time: string) => clock.set(Date.parse(`${day}T${time}Z`));
const closeAt = (day: string) => clock.set(Date.parse(`${day}T00:00:00Z`) + DAY_MS + 30 * 60_000);
const addDays = (day: string, n: number) => utcDay(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS);
const steady = (day: string) => ([0, 6].includes(new Date(`${day}T00:00:00Z`).getUTCDay()) ? 20 : 100);
const ANALYST = 'mk_analyst_late-fraud-test-ana';
const HOLD_SEVERITIES = ['medium', 'high'] as const;

let stack: LocalStack;
let customer: Customer;
let seq = 0;

/** Contract-v1 API calls of one customer: `count` events of `quantity` in each of `hours`, at :10 + i seconds. */
function calls(day: string, hours: readonly number[], quantity: number, count = 1) {
  return hours.flatMap((h) =>
    Array.from({ length: count }, (_, i) => ({
      specversion: '1.0',
      type: 'com.serenity.api.call',
      source: 'local',
      subject: customer.id,
      id: `lf-${seq++}`,
      time: `${day}T${String(h).padStart(2, '0')}:10:${String(i).padStart(2, '0')}Z`,
      data: { quantity, apiKeyId: 'k1', clientIp: '198.51.100.7', country: 'DE' },
    })),
  );
}
const OFFICE = [8, 9, 10, 11, 12, 13, 14, 15, 16, 17];

/** History goes straight to the event store (as the consumer would store it), a day at a time. */
function validated(raw: ReturnType<typeof calls>): UsageEvent[] {
  return raw.map((r) => {
    const v = validateEvent(r, { now: Date.parse(r.time) + 1000, newId: () => 'x' });
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    return v.event;
  });
}

/** Ingests over HTTP at the clock's time; the real consumer counts them (and marks ended days late). */
async function ingest(raw: ReturnType<typeof calls>) {
  const res = await post(stack.url, stack.ingestKey, raw);
  expect([res.status, res.body.rejected]).toEqual([202, []]);
  await stack.drain();
}

/** Runs the nightly close of `day` at 00:30 the morning after: the real planner, close queue and worker. */
async function nightly(day: string) {
  closeAt(day);
  const sent: string[] = [];
  const s = stack.functionServices['close-planner'];
  const planner = makePlanner({
    ...s,
    closeQueue: {
      send: async (bodies: readonly string[]) => {
        sent.push(...bodies);
        return s.closeQueue.send(bodies);
      },
    } as unknown as typeof s.closeQueue,
  });
  const plan = await planner({ day });
  const run = await waitForRun(day, plan.runId, plan.chunks);
  return { plan, run, chunks: sent };
}
async function waitForRun(day: string, runId: string, chunks: number) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const run = await stack.services.rollups.getRun(day, runId);
    if ((run?.chunksDone ?? 0) >= chunks) return run!;
    if (Date.now() > deadline) throw new Error(`close run ${runId} of ${day} not done: ${JSON.stringify(run)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Calls the local stack's API as the analyst; `T` is the body the call is expected to answer with. */
async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ANALYST}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/** What the embedded Stripe test server holds for the customer's API calls: value per day of its timestamp. */
function stripeByDay(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of stack.stripeServer!.meterEvents({ eventName: 'serenity_api_calls', customerId: customer.stripeCustomerId })) {
    const day = utcDay(e.timestamp * 1000);
    out[day] = (out[day] ?? 0) + Number(e.value);
  }
  return out;
}
const stripeEventsOf = (day: string) =>
  stack
    .stripeServer!.meterEvents({ eventName: 'serenity_api_calls', customerId: customer.stripeCustomerId })
    .filter((e) => utcDay(e.timestamp * 1000) === day);

beforeAll(async () => {
  // The close worker reads its hold policy when the stack builds it: open medium flags hold too (a
  // 20-fold burst over three hours scores medium, 0.77; only high flags hold by default).
  const policy = process.env.HOLD_SEVERITIES;
  process.env.HOLD_SEVERITIES = HOLD_SEVERITIES.join(',');
  try {
    stack = await startLocalStack({ clock });
  } finally {
    if (policy === undefined) delete process.env.HOLD_SEVERITIES;
    else process.env.HOLD_SEVERITIES = policy;
  }
  const stripe = new Stripe('sk_test_late_fraud', { ...stack.stripeServer!.stripeConfig, maxNetworkRetries: 0 });
  customer = buildCustomer(
    { id: 'late-burst-co', stripeCustomerId: (await stripe.customers.create({ name: 'late burst' })).id },
    undefined,
    Date.parse(`${FIRST}T00:00:00Z`),
  );
  await stack.services.registry.putCustomer(customer);
  await stack.addKey(ANALYST, 'analyst', 'ana');
  // The steady history through the day before D, closed night by night with the worker's own services.
  const s = stack.functionServices['close-worker'];
  const deps: CloseDeps = {
    events: s.events,
    rollups: s.rollups,
    ledger: s.ledger,
    reporter: await s.reporter(),
    clock,
    fraud: { flags: s.flags, policy: { holdSeverities: HOLD_SEVERITIES } },
  };
  for (let day = FIRST; day < D; day = addDays(day, 1)) {
    // Seeding the events is the operator's doing (as the consumer would have stored them); the close is the worker's.
    await stack.services.events.put(validated(calls(day, OFFICE, steady(day))), 'history', `${day}T23:00:00.000Z`);
    closeAt(day);
    await closeCustomer(customer, day, [], `history-${day}`, deps);
  }
}, 120_000);
afterAll(async () => stack?.stop());

describe('late fraud on the local stack', () => {
  it('re-scores a closed day that got a late burst, holds the burst from Stripe, and releases it with its own day once dismissed', async () => {
    // Prepare: D's steady traffic over HTTP, closed by the real nightly close
    at(D, '23:00:00');
    await ingest(calls(D, OFFICE, 100));
    const dNight = await nightly(D);
    expect(dNight.run.counts).toMatchObject({ customers: 1, flagsOpened: 0, held: 0, failed: 0 });
    const before = stripeByDay();
    expect([before[LATE], before[D]]).toEqual([1000, 1000]);
    expect(await stack.services.flags.forCustomer(customer.id)).toEqual([]);

    // Act: 20 x 100 calls an hour arrive late for 10-12 UTC of LATE (20 times its usual hours); NEXT's own traffic; NEXT's close
    at(NEXT, '12:00:00');
    await ingest(calls(LATE, [10, 11, 12], 100, 20));
    expect(await stack.services.rollups.lateDays()).toEqual([{ customerId: customer.id, day: LATE }]);
    at(NEXT, '23:00:00');
    await ingest(calls(NEXT, OFFICE, 100));
    const night = await nightly(NEXT);

    // Assess: the chunk carried LATE; one medium volume_spike on api_calls within LATE, its usage held, NEXT's reported
    expect(night.chunks.map((b) => JSON.parse(b).customers)).toEqual([[{ id: customer.id, lateDays: [LATE] }]]);
    expect(night.run.counts).toMatchObject({ customers: 1, days: 6, flagsOpened: 1, held: 1, failed: 0, unreportable: 0 });
    expect(await stack.services.rollups.lateDays()).toEqual([]);
    const [flag, ...others] = await stack.services.flags.forCustomer(customer.id);
    expect(others).toEqual([]);
    expect([flag!.rule, flag!.meter, flag!.severity, flag!.status]).toEqual(['volume_spike', 'api_calls', 'medium', 'open']);
    expect(flag!.window).toEqual({ from: `${LATE}T10:00:00.000Z`, to: `${LATE}T13:00:00.000Z` });
    expect([flag!.evidence.observed, flag!.history.map((h) => [h.action, h.at])]).toEqual([6300, [['opened', `${AFTER}T00:30:00.000Z`]]]);
    const listed = await api<{ flags: Pick<Flag, 'id' | 'rule' | 'window'>[] }>('GET', `/v1/flags?customer=${customer.id}&status=open`);
    expect(listed.body.flags.map((f) => [f.id, f.rule, f.window.from.slice(0, 10)])).toEqual([[flag!.id, 'volume_spike', LATE]]);
    expect((await stack.services.rollups.getDays(customer.id, LATE, LATE))[0]!.apiCalls).toBe(7000);
    const held = stripeByDay();
    expect([held[LATE], held[D], held[NEXT]]).toEqual([1000, 1000, 1000]);
    // The statement reads the same policy as the close: the medium flag's day shows as held, not missing.
    const statement = await api<{ meters: { meter: string; held: { from: string; to: string }[] }[] }>(
      'GET',
      `/v1/statements/${customer.id}?period=2026-03`,
    );
    expect(statement.body.meters.find((m) => m.meter === 'api_calls')?.held.map((h) => [h.from, h.to])).toEqual([[LATE, addDays(LATE, 1)]]);
    expect(Object.values(held).reduce((a, b) => a + b, 0)).toBe(Object.values(before).reduce((a, b) => a + b, 0) + 1000);

    // Act: SQS delivers the same chunk again (a worker died after closing); the late day is scored again
    const s = stack.functionServices['close-planner'];
    await s.closeQueue.send(night.chunks);
    const redelivered = await waitForRun(NEXT, night.plan.runId, 2);
    // Assess: no new flag, nothing new in Stripe
    expect(redelivered.counts).toMatchObject({ flagsOpened: 1, held: 2, failed: 0 });
    expect(await stack.services.flags.forCustomer(customer.id)).toEqual([flag]);
    expect(stripeByDay()).toEqual(held);

    // Act: an analyst dismisses the flag through the review API; the next night closes
    at(AFTER, '09:00:00');
    const review = await api<Flag>('POST', `/v1/flags/${flag!.id}/review`, {
      decision: 'dismiss',
      note: 'customer backfill, confirmed by phone',
    });
    at(AFTER, '23:00:00');
    await ingest(calls(AFTER, OFFICE, steady(AFTER)));
    const after = await nightly(AFTER);

    // Assess: the 6,000 late calls are billed now, stamped in LATE (its revision 1 at 23:00:01); AFTER's own usage too
    expect([review.status, review.body.status]).toEqual([200, 'dismissed']);
    expect(after.run.counts).toMatchObject({ flagsOpened: 0, held: 0, failed: 0 });
    expect(stripeEventsOf(LATE).map((e) => [Number(e.value), new Date(e.timestamp * 1000).toISOString()])).toEqual([
      [1000, `${LATE}T23:00:00.000Z`],
      [6000, `${LATE}T23:00:01.000Z`],
    ]);
    const released = stripeByDay();
    expect([released[LATE], released[D], released[NEXT], released[AFTER]]).toEqual([7000, 1000, 1000, 200]);
    const ledger = (await stack.services.ledger.entries(customer.id)).filter((r) => r.meter === 'api_calls' && r.day === LATE);
    expect(ledger.map((r) => [r.revision, r.value, r.state])).toEqual([
      [0, 1000, 'sent'],
      [1, 6000, 'sent'],
    ]);
  });
});
