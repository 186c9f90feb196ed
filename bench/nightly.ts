/**
 * npm run bench:nightly — the nightly close for 1,000 and 10,000 customers with a day of usage each, on
 * the local stack (DynamoDB Local, local SQS fan-out, the real planner and workers) against the Stripe
 * test server. Prints wall time, capacity units, Stripe calls per customer-meter-day and the scaling
 * ratio, and ends with one JSON line.
 */
import Stripe from 'stripe';
import { fixedClock } from '../contract/clock.js';
import { type UsageEvent, validateEvent } from '../contract/event-contract.js';
import { inParallel } from '../functions/core/shared/concurrency.js';
import { buildCustomer } from '../functions/core/shared/customers.js';
import { makePlanner } from '../functions/handlers/close-planner.js';
import { makeCloseWorker } from '../functions/handlers/close-worker.js';
import { makeCloseServices } from '../functions/runtime/close-services.js';
import { startPoller } from '../local/lambda-poller.js';
import { startLocalStack } from '../local/stack.js';
import { rng, zipf } from './traffic-model.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const DAY = '2026-03-01';
const SIZES = (process.env.BENCH_SIZES ?? '1000,10000').split(',').map(Number);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 4);
const fmt = (x: number, d = 3) => Number(x.toFixed(d));

/** A day of usage for one customer: emitter-aggregated API calls, active users, a few file operations. */
function dayOfUsage(customerId: string, size: number, random: () => number): UsageEvent[] {
  const out: UsageEvent[] = [];
  let n = 0;
  const push = (type: string, minute: number, data: Record<string, unknown>) => {
    const time = new Date(Date.parse(`${DAY}T00:00:00Z`) + minute * 60_000).toISOString();
    const v = validateEvent(
      { specversion: '1.0', type, source: 'bench', subject: customerId, id: `${customerId}-${n++}`, time, data },
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

async function run(customers: number) {
  const clock = fixedClock('2026-03-02T00:30:00Z');
  const stack = await startLocalStack({ noPoller: true, clock });
  try {
    const s = stack.services;
    const stripeServer = stack.stripeServer!;
    const stripe = new Stripe('sk_test_bench', { ...stripeServer.stripeConfig, maxNetworkRetries: 0 });
    // Live mode allows 1,000 meter-event calls a second; the bench's workers share that budget.
    const close = makeCloseServices(s, { ...stack.env, STRIPE_RATE_PER_SECOND: String(1000 / WORKERS), CLOSE_CONCURRENCY: '8' });

    const random = rng(7);
    const pick = zipf(customers, 1.1, random);
    const weight = new Array(customers).fill(0);
    for (let i = 0; i < customers * 5; i++) weight[pick()]++;
    const ids = Array.from({ length: customers }, (_, i) => `bench-${String(i).padStart(5, '0')}`);
    let events = 0;
    await inParallel(ids, 16, async (id) => {
      const cus = await stripe.customers.create({ name: id });
      await s.registry.putCustomer(buildCustomer({ id, stripeCustomerId: cus.id }, undefined, Date.parse('2026-01-01T00:00:00Z')));
      const usage = dayOfUsage(id, 1 + weight[ids.indexOf(id)]!, random);
      events += usage.length;
      await s.events.put(usage, 'bench', `${DAY}T23:00:00.000Z`);
    });

    const worker = makeCloseWorker(close);
    const poller = startPoller({
      sqs: s.clients.sqs,
      queueUrl: close.close.queueUrl,
      handler: worker,
      concurrency: WORKERS,
      batchSize: 1,
      visibilityTimeoutSeconds: 600,
    });
    const callsBefore = stripeCalls(stripeServer.stats());
    const before = stack.capacity.snapshot();
    const t0 = performance.now();
    const plan = await makePlanner(close)({ day: DAY });
    for (;;) {
      const r = await s.rollups.getRun(DAY, plan.runId);
      if (process.env.BENCH_DEBUG) console.error(((performance.now() - t0) / 1000).toFixed(1), r?.chunksDone, r?.counts);
      if ((r?.chunksDone ?? 0) >= plan.chunks) break;
      await new Promise((res) => setTimeout(res, process.env.BENCH_DEBUG ? 2000 : 100));
    }
    const wallSeconds = (performance.now() - t0) / 1000;
    await poller.stop();
    const run = (await s.rollups.getRun(DAY, plan.runId))!;
    const calls = stripeCalls(stripeServer.stats()) - callsBefore;
    const stored = stripeServer.meterEvents().length;
    const cmd = run.counts.planned ?? 0;
    return {
      customers,
      events,
      wallSeconds: fmt(wallSeconds, 2),
      rcu: fmt(stack.capacity.read - before.read, 1),
      wcu: fmt(stack.capacity.write - before.write, 1),
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
  console.log(
    JSON.stringify({
      runs,
      customers: runs.map((r) => r.customers),
      wallSeconds: runs.map((r) => r.wallSeconds),
      stripeCallsPerCustomerMeterDay: Math.max(...runs.map((r) => r.stripeCallsPerCustomerMeterDay)),
      scaling10kVs1k,
      workers: WORKERS,
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
