// One idea in one file, though over 300 lines: the chaos run's script, from traffic through every fault to the verdict.
/**
 * The chaos run: days of usage for many customers through the local stack (HTTP ingest, SQS, the consumer, the
 * nightly close, Stripe), with every fault of bench/chaos/faults.ts at once, then the verdict: events lost or
 * counted twice, Stripe's totals against the metered truth (computed here, from the traffic sent), and reconcile.
 */
import { randomUUID } from 'node:crypto';
import { DAY_MS, fixedClock } from '../../contract/clock.js';
import { METERS, type Meter } from '../../contract/meters.js';
import { createStripeClient } from '../../functions/adapters/stripe/stripe-client-config.js';
import { StripeMeterReporter } from '../../functions/adapters/stripe/stripe-meter-reporter.js';
import type { ReconcileRow } from '../../functions/core/billing/reconcile.js';
import { reconcilePeriod } from '../../functions/core/billing/reconcile-period.js';
import { buildCustomer } from '../../functions/core/shared/customers.js';
import { makePlanner } from '../../functions/handlers/close-planner.js';
import { makeCloseWorker } from '../../functions/handlers/close-worker.js';
import { startPoller } from '../../local/lambda-poller.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { startStripeTestServer } from '../../local/stripe-test-server/index.js';
import { rng } from '../traffic-model.js';
import {
  chaoticConsumer,
  compressRedeliveryDelays,
  type FaultCounts,
  injectDynamoFaults,
  type KillSwitch,
  noFaults,
  startFaultyStripe,
} from './faults.js';

export interface ChaosOptions {
  customers: number;
  days: number;
  /** Distinct events over the run, late ones included. */
  events: number;
  seed: number;
  /** The first day of usage; the run stays inside its month. */
  start: string;
  dynamoThrottleRate: number;
  stripeFaultRate: number;
  killRate: number;
  redeliveryRate: number;
  /** Share of requests a client sends twice, and of events sent again in a later request. */
  retryRate: number;
}

export const CHAOS_DEFAULTS: ChaosOptions = {
  customers: 200,
  days: 4,
  events: 100_000,
  seed: 7,
  start: '2026-03-02',
  dynamoThrottleRate: 0.05,
  stripeFaultRate: 0.1,
  killRate: 0.1,
  redeliveryRate: 0.05,
  retryRate: 0.05,
};

export interface ChaosFigures {
  options: ChaosOptions;
  accepted: number;
  rejected: number;
  /** Distinct events sent that the Events table lacks, or a day's rollup did not count. */
  lost: number;
  /** Events counted more than once, in the rollups (from the fragments), or API calls billed twice in Stripe. */
  doubleCounted: number;
  /** Customer-meter-periods where Stripe's total differs from the metered truth. */
  stripeMismatches: number;
  /** Reconcile's rows that are not `ok`. */
  reconcileDifferences: number;
  reconcileRows: number;
  faults: FaultCounts;
  /** Ingest answers that were errors (5xx), each retried by the client until accepted. */
  ingestErrorsRetried: number;
  plannerRetries: number;
  /** Nights closed, the failed one and the ones after the last day of usage included. */
  nights: number;
  dlqRedriven: number;
  /** Flags open after the last day's close, by rule and severity (`volume_spike/high`); the analyst dismissed each (see `runChaos`). */
  flags: Record<string, number>;
  flagsDismissed: number;
  stripeMeterEvents: number;
  wallSeconds: number;
}

interface Truth {
  /** Distinct events per customer and day. */
  events: Map<string, Map<string, number>>;
  apiCalls: Map<string, number>;
  users: Map<string, Set<string>>;
}

const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaos(o: ChaosOptions, progress: (line: string) => void = () => {}): Promise<ChaosFigures> {
  const started = Date.now();
  // Faults draw from one stream, in whatever order concurrency calls them; the traffic (its events, duplicates and
  // client retries) draws from its own, in a fixed order, so one seed always sends the same requests.
  const random = rng(o.seed);
  const traffic = rng(o.seed + 0x9e3779b9);
  const faults = noFaults();
  const clock = fixedClock(`${o.start}T00:00:00Z`);
  const envBefore = { ...process.env };
  const stripeServer = await startStripeTestServer({ clock });
  const proxy = await startFaultyStripe(stripeServer.url, 0, random, faults);
  Object.assign(process.env, {
    STRIPE_API_BASE: proxy.url,
    STRIPE_SECRET_KEY: 'sk_test_chaos',
    STRIPE_INVOICE_GRACE_HOURS: '72',
    STRIPE_RATE_PER_SECOND: '200',
  });
  let stack: LocalStack | undefined;
  const pollers: { stop(): Promise<void> }[] = [];
  try {
    stack = await startLocalStack({ clock, noPoller: true, stripe: 'external', consoleDir: false });
    const s = stack;
    await (await s.closeServices.reporter()).ensureMeters();
    const stripe = createStripeClient({ secretKey: 'sk_test_chaos', apiBase: stripeServer.url });
    const ids = Array.from({ length: o.customers }, (_, i) => `chaos-${String(i).padStart(4, '0')}`);
    const registeredAt = Date.parse(`${o.start}T00:00:00Z`) - 120 * DAY_MS;
    for (const id of ids) {
      const cus = await stripe.customers.create({ name: id });
      await s.services.registry.putCustomer(buildCustomer({ id, stripeCustomerId: cus.id }, undefined, registeredAt));
    }

    // Faults on every function's own clients (each acts as its role); the operator's stay clean for the verdict.
    const throttle = { rate: 0 };
    const kill: KillSwitch = { callsLeft: undefined };
    const dynamoRandom = () => (random() < throttle.rate ? 0 : 1);
    const fs = s.functionServices;
    injectDynamoFaults(fs.consume.clients, 1, dynamoRandom, faults, kill);
    for (const f of [fs.ingest, fs['close-planner'], fs['close-worker']]) injectDynamoFaults(f.clients, 1, dynamoRandom, faults);
    compressRedeliveryDelays(fs.consume.clients);
    const consumer = chaoticConsumer(s.consume, kill, { killRate: o.killRate, redeliveryRate: o.redeliveryRate, random, counts: faults });
    const eventsPoller = startPoller({
      sqs: fs.consume.clients.sqs,
      queueUrl: s.env.EVENTS_QUEUE_URL!,
      handler: consumer,
      concurrency: 1,
      visibilityTimeoutSeconds: 1,
    });
    const closePoller = startPoller({
      sqs: fs['close-worker'].clients.sqs,
      queueUrl: s.env.CLOSE_QUEUE_URL!,
      handler: makeCloseWorker(fs['close-worker']),
      concurrency: 2,
      batchSize: 1,
      visibilityTimeoutSeconds: 15,
    });
    pollers.push(eventsPoller, closePoller);
    throttle.rate = o.dynamoThrottleRate;
    proxy.setRate(o.stripeFaultRate);

    const truth: Truth = { events: new Map(), apiCalls: new Map(), users: new Map() };
    const figures = { accepted: 0, rejected: 0, ingestErrorsRetried: 0, plannerRetries: 0, nights: 0 };
    const perDay = Math.floor(o.events / o.days);
    let seq = 0;
    const makeEvents = (day: string, n: number, fromMinute: number, toMinute: number) =>
      Array.from({ length: n }, () => {
        const c = ids[Math.floor(traffic() * ids.length)]!;
        const minute = fromMinute + Math.floor(traffic() * (toMinute - fromMinute));
        const time = new Date(Date.parse(`${day}T00:00:00Z`) + minute * 60_000).toISOString();
        const roll = traffic();
        const id = `ev-${o.seed}-${seq++}`;
        const base = { specversion: '1.0', source: 'local', subject: c, id, time };
        const byDay = truth.events.get(c) ?? new Map<string, number>();
        truth.events.set(c, byDay.set(day, (byDay.get(day) ?? 0) + 1));
        if (roll < 0.7) {
          const quantity = 1 + Math.floor(traffic() * 20);
          truth.apiCalls.set(c, (truth.apiCalls.get(c) ?? 0) + quantity);
          return { ...base, type: 'com.serenity.api.call', data: { quantity, operation: 'encrypt' } };
        }
        if (roll < 0.95) {
          const userId = `user-${c}-${Math.floor(traffic() * 12)}`;
          truth.users.set(c, (truth.users.get(c) ?? new Set()).add(userId));
          return { ...base, type: 'com.serenity.user.active', data: { userId } };
        }
        const op = traffic() < 0.8 ? 'protected' : 'unprotected';
        return { ...base, type: `com.serenity.file.${op}`, data: { fileId: `file-${Math.floor(traffic() * 30)}` } };
      });

    /** Sends like an emitter: 100 events a request, a few sent twice, a few events again later, 5xx retried. */
    const send = async (events: Record<string, unknown>[]) => {
      const requests: Record<string, unknown>[][] = [];
      for (let i = 0; i < events.length; i += 100) requests.push(events.slice(i, i + 100));
      for (const batch of requests) {
        const again = batch.filter(() => traffic() < o.retryRate);
        faults.duplicateEvents += again.length;
        if (again.length > 0) requests.push(again);
      }
      // The client loses the answer to these requests and sends each again, byte for byte.
      const resent = new Set(requests.flatMap((_, i) => (traffic() < o.retryRate ? [i] : [])));
      const post = async (batch: Record<string, unknown>[]) => {
        for (;;) {
          const res = await fetch(`${s.url}/v1/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/cloudevents-batch+json', authorization: `Bearer ${s.ingestKey}` },
            body: JSON.stringify(batch),
          });
          const body = (await res.json()) as { accepted?: unknown[]; rejected?: unknown[] };
          if (res.status >= 500) {
            figures.ingestErrorsRetried++;
            await sleep(50);
            continue;
          }
          if (res.status >= 300 && res.status !== 207) throw new Error(`ingest answered ${res.status}: ${JSON.stringify(body)}`);
          return body;
        }
      };
      let next = 0;
      const worker = async () => {
        while (next < requests.length) {
          const i = next++;
          const batch = requests[i]!;
          const body = await post(batch);
          figures.accepted += body.accepted?.length ?? 0;
          figures.rejected += body.rejected?.length ?? 0;
          if (body.rejected?.length && figures.rejected === body.rejected.length) progress(`rejected: ${JSON.stringify(body.rejected[0])}`);
          if (resent.has(i)) {
            faults.clientRetries++;
            await post(batch);
          }
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      await eventsPoller.drain(600_000);
    };

    const planner = makePlanner(fs['close-planner']);
    /** Plans the night (retrying a planner run that throttling failed, as the scheduler retries) and waits for it. */
    const closeNight = async (night: string, copies = 1) => {
      clock.set(`${night}T00:30:00Z`);
      figures.nights++;
      const plan = async () => {
        for (let attempt = 0; ; attempt++) {
          try {
            return await planner({});
          } catch (err) {
            if (attempt >= 10) throw err;
            figures.plannerRetries++;
          }
        }
      };
      const plans = await Promise.all(Array.from({ length: copies }, plan));
      const deadline = Date.now() + 900_000;
      for (const p of plans) {
        for (;;) {
          const run = await s.services.rollups.getRun(p.day, p.runId);
          const through = await s.services.rollups.closedThrough();
          if ((run?.chunksDone ?? 0) >= p.chunks && through !== undefined && through >= p.day) break;
          if (Date.now() > deadline) throw new Error(`run ${p.runId} for ${p.day} did not finish`);
          await sleep(200);
        }
      }
      progress(`closed the night of ${night} (${copies} at once) at ${secondsSince(started)} s`);
    };

    const lateShare = 0.02;
    for (let i = 0; i < o.days; i++) {
      const day = addDays(o.start, i);
      clock.set(`${day}T23:59:00Z`);
      await send(makeEvents(day, Math.round(perDay * (1 - lateShare)), 0, 23 * 60 + 58));
      progress(`sent ${day} at ${secondsSince(started)} s`);
      const night = addDays(day, 1);
      if (i === 1) {
        // The planner of this night fails: the close queue refuses its chunks. The next night catches up.
        const closeQueue = Object.assign(Object.create(fs['close-planner'].closeQueue), {
          send: async (bodies: readonly string[]) => ({ failed: bodies.map((_, k) => k) }),
        });
        clock.set(`${night}T00:30:00Z`);
        await makePlanner({ ...fs['close-planner'], closeQueue })({}).then(
          () => {
            throw new Error('the broken planner succeeded');
          },
          () => {
            faults.failedPlannerRuns++;
          },
        );
        figures.nights++;
      } else {
        if (i === 0) faults.concurrentCloses++;
        await closeNight(night, i === 0 ? 2 : 1);
      }
      // Late events, dated the day just closed, arrive after its close.
      clock.set(`${night}T01:00:00Z`);
      const late = makeEvents(day, Math.round(perDay * lateShare), 22 * 60, 23 * 60 + 58);
      faults.lateEvents += late.length;
      await send(late);
    }
    // The nights after the last day of usage: the last day's close, the analyst's turn, then two more closes to
    // settle what Stripe refused and to bill what the analyst released.
    const last = addDays(o.start, o.days - 1);
    await closeNight(addDays(last, 1));
    const review = await dismissEveryFlag(s);
    progress(`the analyst dismissed ${review.dismissed} flag(s) at ${secondsSince(started)} s: ${JSON.stringify(review.flags)}`);
    for (let k = 2; k <= 3; k++) await closeNight(addDays(last, k));

    // The operator's turn: faults off, the DLQ redriven (nothing should be there), one more night, then reconcile.
    throttle.rate = 0;
    proxy.setRate(0);
    const { moved } = await s.services.queue.redrive();
    progress(`redrove ${moved} message(s) from the DLQ at ${secondsSince(started)} s`);
    if (moved > 0) await eventsPoller.drain(600_000);
    await closeNight(addDays(last, 4));
    clock.set(`${addDays(last, 4)}T03:00:00Z`);
    // Paced by the wall clock: on the frozen business clock its rate limiter would wait for ever once its burst is spent.
    const reporter = new StripeMeterReporter({ stripe, ratePerSecond: 1000 });
    const meters = await reporter.findMeters();
    const meterIds = Object.fromEntries(METERS.map((m) => [m, meters[m].id])) as Record<Meter, string>;
    const reconciled = await reconcilePeriod(
      { services: s.services, clock, stripe: { reporter, meterIds }, actor: 'chaos' },
      { period: o.start.slice(0, 7) },
    );

    progress(`reconciled ${reconciled.rows.length} rows at ${secondsSince(started)} s`);

    // The verdict, from the traffic sent.
    let lost = 0;
    let doubleCounted = 0;
    for (const c of ids) {
      const byDay = truth.events.get(c) ?? new Map<string, number>();
      const stored = await s.services.rollups.getDays(c, o.start, last);
      for (let i = 0; i < o.days; i++) {
        const day = addDays(o.start, i);
        const sent = byDay.get(day) ?? 0;
        const inEvents = (await s.services.events.listDay(c, day)).length;
        const counted = stored.find((d) => d.day === day)?.eventCount ?? 0;
        lost += Math.max(0, sent - inEvents) + Math.max(0, sent - counted);
        doubleCounted += Math.max(0, inEvents - sent) + Math.max(0, counted - sent);
      }
    }
    const expected: Record<string, number> = {};
    for (const c of ids) {
      expected[`${c}/api_calls`] = truth.apiCalls.get(c) ?? 0;
      expected[`${c}/active_users`] = truth.users.get(c)?.size ?? 0;
    }
    progress(`checked every customer-day's events and rollups at ${secondsSince(started)} s`);
    let stripeMismatches = 0;
    for (const row of reconciled.rows) {
      const want = expected[`${row.customerId}/${row.meter}`];
      const truthKnown = want !== undefined;
      if (row.stripe !== row.metered || (truthKnown && row.metered !== want)) {
        stripeMismatches++;
        if (stripeMismatches <= 20) await describeMismatch(s, row, want, progress);
      }
      if (row.meter === 'api_calls' && truthKnown && (row.stripe ?? 0) > want) doubleCounted += (row.stripe ?? 0) - want;
    }
    return {
      options: o,
      ...figures,
      lost,
      doubleCounted,
      stripeMismatches,
      reconcileDifferences: reconciled.differences,
      reconcileRows: reconciled.rows.length,
      faults,
      dlqRedriven: moved,
      flags: review.flags,
      flagsDismissed: review.dismissed,
      stripeMeterEvents: stripeServer.meterEvents().length,
      wallSeconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    progress(`stopping the pollers and the local stack at ${secondsSince(started)} s`);
    for (const p of pollers) await p.stop();
    await stack?.stop();
    progress(`stopped at ${secondsSince(started)} s`);
    await proxy.close();
    await stripeServer.close();
    for (const k of ['STRIPE_API_BASE', 'STRIPE_SECRET_KEY', 'STRIPE_INVOICE_GRACE_HOURS', 'STRIPE_RATE_PER_SECOND']) {
      if (envBefore[k] === undefined) delete process.env[k];
      else process.env[k] = envBefore[k];
    }
  }
}

const secondsSince = (t: number) => Math.round((Date.now() - t) / 1000);

/**
 * The analyst's turn, through the API as the console takes it: every open flag is dismissed. The traffic is uniform
 * by construction, so a flag on it is a false one, but the rules rightly suspect it: customers registered long
 * before the run, silent until its first day, then about a thousand API calls a day (a dormant account waking).
 * Their usage is held until the dismissal, and the closes after it must bill it exactly once.
 */
async function dismissEveryFlag(s: LocalStack) {
  const key = `mk_analyst_${randomUUID().replaceAll('-', '')}`;
  await s.addKey(key, 'analyst', 'chaos-analyst');
  /** Like the console: a 409 (a close updated the flag meanwhile) or a 5xx is tried again, anything else is the verdict. */
  const ok = async (path: string, body?: unknown) => {
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(`${s.url}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (res.status === 200) return res.json() as Promise<{ flags: { id: string; rule: string; severity: string }[]; cursor?: string }>;
      const text = await res.text();
      if (attempt >= 5 || (res.status !== 409 && res.status < 500)) throw new Error(`${path} answered ${res.status}: ${text}`);
      await sleep(200 * attempt);
    }
  };
  const flags: Record<string, number> = {};
  const open: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await ok(`/v1/flags?status=open&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    for (const f of page.flags) {
      flags[`${f.rule}/${f.severity}`] = (flags[`${f.rule}/${f.severity}`] ?? 0) + 1;
      open.push(f.id);
    }
    cursor = page.cursor;
  } while (cursor);
  for (const id of open)
    await ok(`/v1/flags/${encodeURIComponent(id)}/review`, { decision: 'dismiss', note: 'chaos run: uniform traffic, not fraud' });
  return { flags, dismissed: open.length };
}

/** One line per record of a row that differs, so a failed run says where Stripe and the metered truth parted. */
async function describeMismatch(s: LocalStack, row: ReconcileRow, truth: number | undefined, progress: (line: string) => void) {
  const { customerId, meter, metered, reported, stripe, status, note } = row;
  progress(`differs: ${JSON.stringify({ customerId, meter, truth, metered, reported, stripe, status, note })}`);
  for (const r of await s.services.ledger.entries(customerId)) if (r.meter === meter) progress(`  ledger ${JSON.stringify(r)}`);
  for (const f of await s.services.flags.forCustomer(customerId)) {
    const { rule, severity, status, window, evidence } = f;
    progress(`  flag ${JSON.stringify({ rule, meter: f.meter, severity, status, window, summary: evidence.summary })}`);
  }
}
