/**
 * npm run bench:nightly — the nightly close for 1,000 and 10,000 customers with a day of usage each, on
 * the local stack (DynamoDB Local, local SQS fan-out, the real planner and workers) against the Stripe
 * test server. Prints wall time, capacity units, Stripe calls per customer-meter-day and the scaling
 * ratio. Then closes every night of a 31-day period (March) for `BENCH_PERIOD_CUSTOMERS` customers
 * (default 50: thirty-one closes of the 1,000 would take long) and compares the write units per
 * customer-night of its last day, with 30 days of history, to those of its first. Ends with one JSON line.
 */
import Stripe from 'stripe';
import { DAY_MS, fixedClock, utcDay } from '../contract/clock.js';
import { type UsageEvent, validateEvent } from '../contract/event-contract.js';
import { inParallel } from '../functions/core/shared/concurrency.js';
import { buildCustomer } from '../functions/core/shared/customers.js';
import { makePlanner } from '../functions/handlers/close-planner.js';
import { makeCloseWorker } from '../functions/handlers/close-worker.js';
import { makeCloseServices } from '../functions/runtime/close-services.js';
import { startPoller } from '../local/lambda-poller.js';
import { type LocalStack, startLocalStack } from '../local/stack.js';
import { rng, zipf } from './traffic-model.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const DAY = '2026-03-01';
const SIZES = (process.env.BENCH_SIZES ?? '1000,10000').split(',').filter(Boolean).map(Number);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 4);
/** Customers of the whole-period part (0 skips it). */
const PERIOD_CUSTOMERS = Number(process.env.BENCH_PERIOD_CUSTOMERS ?? 50);
const PERIOD_DAYS = 31;
const fmt = (x: number, d = 3) => Number(x.toFixed(d));

/** A day of usage for one customer: emitter-aggregated API calls, active users, a few file operations. */
function dayOfUsage(customerId: string, size: number, random: () => number, day = DAY): UsageEvent[] {
  const out: UsageEvent[] = [];
  let n = 0;
  // Letters, not the date's digits: a long run of digits in an id is rejected as a possible card number.
  const dayTag = [...day.replaceAll('-', '')].map((c) => String.fromCharCode(97 + Number(c))).join('');
  const push = (type: string, minute: number, data: Record<string, unknown>) => {
    const time = new Date(Date.parse(`${day}T00:00:00Z`) + minute * 60_000).toISOString();
    const v = validateEvent(
      { specversion: '1.0', type, source: 'bench', subject: customerId, id: `${customerId}-${n++}-${dayTag}`, time, data },
      { now: Date.parse(time), newId: () => 'x' },
    );
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    out.push(v.event);
  };
  // size 1..: a big customer calls every working minute, a small one a few times a day.
  const activeMinutes = Math.min(600, 3 + Math.floor(size * 20 * random()));
  for (let i = 0; i < activeMinutes; i++)
    push('com.serenity.api.call', 420 + Math.floor(random() * 660), {
      quantity: 1 + Math.floor(random() * size * 10),
      operation: 'files.encrypt',
    });
  for (let i = 0; i < Math.min(200, 1 + Math.floor(size * 3 * random())); i++)
    push('com.serenity.user.active', 420 + Math.floor(random() * 660), { userId: `u${i}` });
  for (let i = 0; i < Math.floor(size * random()); i++)
    push('com.serenity.file.protected', 420 + Math.floor(random() * 660), { fileId: `f${i}` });
  return out;
}

/** The bench's customers, registered with a Stripe customer each, and how busy each one is (Zipf-distributed). */
async function seedCustomers(stack: LocalStack, customers: number, random: () => number) {
  const stripe = new Stripe('sk_test_bench', { ...stack.stripeServer!.stripeConfig, maxNetworkRetries: 0 });
  const pick = zipf(customers, 1.1, random);
  const weight = new Array<number>(customers).fill(0);
  for (let i = 0; i < customers * 5; i++) weight[pick()]!++;
  const ids = Array.from({ length: customers }, (_, i) => `bench-${String(i).padStart(5, '0')}`);
  await inParallel(ids, 16, async (id) => {
    const cus = await stripe.customers.create({ name: id });
    await stack.services.registry.putCustomer(
      buildCustomer({ id, stripeCustomerId: cus.id }, undefined, Date.parse('2026-01-01T00:00:00Z')),
    );
  });
  return ids.map((id, i) => ({ id, size: 1 + weight[i]! }));
}

/** Stores a day of usage for every customer, received that evening (on time). */
async function storeDay(stack: LocalStack, customers: { id: string; size: number }[], day: string, random: () => number) {
  let events = 0;
  await inParallel(customers, 16, async ({ id, size }) => {
    const usage = dayOfUsage(id, size, random, day);
    events += usage.length;
    await stack.services.events.put(usage, 'bench', `${day}T23:00:00.000Z`);
  });
  return events;
}

/** The close services of the bench and a poller feeding the close queue to `WORKERS` workers. */
function closePipeline(stack: LocalStack) {
  // Live mode allows 1,000 meter-event calls a second; the bench's workers share that budget.
  const close = makeCloseServices(stack.services, { ...stack.env, STRIPE_RATE_PER_SECOND: String(1000 / WORKERS), CLOSE_CONCURRENCY: '8' });
  const poller = startPoller({
    sqs: stack.services.clients.sqs,
    queueUrl: close.close.queueUrl,
    handler: makeCloseWorker(close),
    concurrency: WORKERS,
    batchSize: 1,
    visibilityTimeoutSeconds: 600,
  });
  return { close, poller };
}

/** Plans the close of `day` and waits until its chunks are done; what it cost. */
async function closeNight(stack: LocalStack, close: ReturnType<typeof closePipeline>['close'], day: string) {
  const s = stack.services;
  const before = stack.capacity.snapshot();
  const t0 = performance.now();
  const plan = await makePlanner(close)({ day });
  for (;;) {
    const r = await s.rollups.getRun(day, plan.runId);
    if (process.env.BENCH_DEBUG) console.error(((performance.now() - t0) / 1000).toFixed(1), r?.chunksDone, r?.counts);
    if ((r?.chunksDone ?? 0) >= plan.chunks) break;
    await new Promise((res) => setTimeout(res, process.env.BENCH_DEBUG ? 2000 : 100));
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  const run = (await s.rollups.getRun(day, plan.runId))!;
  return { wallSeconds, run, rcu: stack.capacity.read - before.read, wcu: stack.capacity.write - before.write };
}

async function run(customers: number) {
  const clock = fixedClock('2026-03-02T00:30:00Z');
  const stack = await startLocalStack({ noPoller: true, clock });
  try {
    const stripeServer = stack.stripeServer!;
    const random = rng(7);
    const seeded = await seedCustomers(stack, customers, random);
    const events = await storeDay(stack, seeded, DAY, random);

    const { close, poller } = closePipeline(stack);
    const callsBefore = stripeCalls(stripeServer.stats());
    const night = await closeNight(stack, close, DAY);
    await poller.stop();
    const { wallSeconds, run } = night;
    const calls = stripeCalls(stripeServer.stats()) - callsBefore;
    const stored = stripeServer.meterEvents().length;
    const cmd = run.counts.planned ?? 0;
    return {
      customers,
      events,
      wallSeconds: fmt(wallSeconds, 2),
      rcu: fmt(night.rcu, 1),
      wcu: fmt(night.wcu, 1),
      stripeCalls: calls,
      meterEventsStored: stored,
      customerMeterDays: cmd,
      stripeCallsPerCustomerMeterDay: fmt(calls / Math.max(cmd, 1), 3),
      failed: run.counts.failed ?? 0,
    };
  } finally {
    await stack.stop();
  }
}

/**
 * Closes every night of March (a 31-day period) for `customers` customers, each with a day of usage a
 * night, and measures the first and the last close: the last one recomputes the whole period for each
 * customer, but should write little more than the first.
 */
async function runPeriod(customers: number) {
  const clock = fixedClock('2026-03-02T00:30:00Z');
  const stack = await startLocalStack({ noPoller: true, clock });
  try {
    const random = rng(11);
    const seeded = await seedCustomers(stack, customers, random);
    const { close, poller } = closePipeline(stack);
    const nights: { day: string; events: number; wcu: number; rcu: number; wallSeconds: number; days: number; daysWritten: number }[] = [];
    const t0 = performance.now();
    for (let n = 0; n < PERIOD_DAYS; n++) {
      const day = utcDay(Date.parse(`${DAY}T00:00:00Z`) + n * DAY_MS);
      const events = await storeDay(stack, seeded, day, random);
      clock.set(Date.parse(`${day}T00:30:00Z`) + DAY_MS);
      const night = await closeNight(stack, close, day);
      const { days = 0, daysWritten = 0, failed = 0 } = night.run.counts;
      if (failed > 0) throw new Error(`closing ${day}: ${failed} meter event(s) undelivered`);
      nights.push({ day, events, wcu: night.wcu, rcu: night.rcu, wallSeconds: night.wallSeconds, days, daysWritten });
      if (process.env.BENCH_DEBUG) console.error(day, night.run.counts, fmt(night.wcu, 1), 'WCU');
    }
    await poller.stop();
    const perNight = (x: (typeof nights)[number]) => ({
      day: x.day,
      wcuPerCustomerNight: fmt(x.wcu / customers, 2),
      rcuPerCustomerNight: fmt(x.rcu / customers, 2),
      daysRecomputed: x.days,
      daysWritten: x.daysWritten,
      wallSeconds: fmt(x.wallSeconds, 2),
    });
    const first = perNight(nights[0]!);
    const last = perNight(nights.at(-1)!);
    const sum = (k: 'wcu' | 'rcu' | 'events') => nights.reduce((a, x) => a + x[k], 0);
    return {
      customers,
      nights: nights.length,
      wallSeconds: fmt((performance.now() - t0) / 1000, 1),
      day1: first,
      day31: last,
      // What a customer-night costs on average over the period: the figure a month of closes is priced by.
      mean: {
        wcuPerCustomerNight: fmt(sum('wcu') / nights.length / customers, 2),
        rcuPerCustomerNight: fmt(sum('rcu') / nights.length / customers, 2),
        eventsPerCustomerNight: fmt(sum('events') / nights.length / customers, 2),
      },
      day31VsDay1: fmt(last.wcuPerCustomerNight / first.wcuPerCustomerNight, 2),
    };
  } finally {
    await stack.stop();
  }
}

function stripeCalls(stats: Record<string, { total?: number; count?: number; byStatus?: Record<string, number> }>): number {
  let n = 0;
  for (const [endpoint, st] of Object.entries(stats)) {
    if (!endpoint.includes('meter_event')) continue;
    n += st.total ?? st.count ?? Object.values(st.byStatus ?? {}).reduce((a, b) => a + b, 0);
  }
  return n;
}

async function main() {
  const runs = [];
  for (const n of SIZES) {
    const r = await run(n);
    runs.push(r);
    console.log(
      `${r.customers} customers (${r.events} events): close ${r.wallSeconds} s; ${r.rcu} RCU, ${r.wcu} WCU; ${r.stripeCalls} Stripe calls for ${r.customerMeterDays} customer-meter-days = ${r.stripeCallsPerCustomerMeterDay} per customer-meter-day; ${r.meterEventsStored} meter events stored; ${r.failed} undelivered`,
    );
  }
  const small = runs.find((r) => r.customers === 1000);
  const big = runs.find((r) => r.customers === 10000);
  const scaling10kVs1k = small && big ? fmt(big.wallSeconds / small.wallSeconds, 2) : null;
  if (scaling10kVs1k !== null)
    console.log(`10,000 vs 1,000 customers: ${scaling10kVs1k}x the wall time (linear would be 10x; target at most 11x)`);
  const period = PERIOD_CUSTOMERS > 0 ? await runPeriod(PERIOD_CUSTOMERS) : undefined;
  if (period) {
    const line = (x: typeof period.day1) =>
      `${x.wcuPerCustomerNight} WCU and ${x.rcuPerCustomerNight} RCU per customer-night (${x.daysRecomputed} days recomputed, ${x.daysWritten} written; ${x.wallSeconds} s)`;
    console.log(`period of ${PERIOD_DAYS} nights, ${period.customers} customers (BENCH_PERIOD_CUSTOMERS), ${period.wallSeconds} s:`);
    console.log(`  day 1 (${period.day1.day}): ${line(period.day1)}`);
    console.log(`  day 31 (${period.day31.day}, 30 days of history): ${line(period.day31)}`);
    console.log(
      `  mean of the ${PERIOD_DAYS} nights: ${period.mean.wcuPerCustomerNight} WCU and ${period.mean.rcuPerCustomerNight} RCU per customer-night`,
    );
    console.log(`  day 31 vs day 1: ${period.day31VsDay1}x the write units per customer-night (target at most 1.2x)`);
  }
  console.log(
    JSON.stringify({
      runs,
      customers: runs.map((r) => r.customers),
      wallSeconds: runs.map((r) => r.wallSeconds),
      stripeCallsPerCustomerMeterDay: Math.max(...runs.map((r) => r.stripeCallsPerCustomerMeterDay)),
      scaling10kVs1k,
      workers: WORKERS,
      period: period ?? null,
      writeUnitsPerCustomerNight: period
        ? { day1: period.day1.wcuPerCustomerNight, day31: period.day31.wcuPerCustomerNight, mean: period.mean.wcuPerCustomerNight }
        : null,
      day31VsDay1WriteUnits: period?.day31VsDay1 ?? null,
    }),
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
