/**
 * npm run bench:stripe — Stripe v1 meter events against the v2 meter event stream (STRIPE_METER_MODE), through
 * the real `StripeMeterReporter` and the official SDK, on the Stripe test server started in this process (no
 * rate limit, no latency). One meter event per customer (the api_calls meter), for 10,000 and 100,000
 * customers (`BENCH_STRIPE_SIZES`). Prints per mode and size the calls made, the wall time here, Stripe's total
 * (checked equal to what was sent), and the wall time the same calls would take at Stripe's live limits; then
 * the ratios v2/v1. Ends with one JSON line.
 */
import Stripe from 'stripe';
import { StripeMeterReporter } from '../functions/adapters/stripe/stripe-meter-reporter.js';
import { type MeterEventToSend, meterEventIdentifier, STRIPE_METERS } from '../functions/core/billing/stripe-reporting.js';
import { inParallel } from '../functions/core/shared/concurrency.js';
import { startStripeTestServer } from '../local/stripe-test-server/index.js';

const SIZES = (process.env.BENCH_STRIPE_SIZES ?? '10000,100000').split(',').filter(Boolean).map(Number);
/** Customer-and-meter lanes (v1) or stream requests (v2) in flight at once: the same for both modes. */
const CONCURRENCY = Number(process.env.BENCH_STRIPE_CONCURRENCY ?? 32);
/** Stripe's documented live limits: v1 meter events 1,000 calls/s; the v2 stream 10,000 requests/s of up to 100 events. */
const LIVE_V1_CALLS_PER_SEC = 1_000;
const LIVE_V2_REQUESTS_PER_SEC = 10_000;
/** The stream's events per second for one business, which Stripe grants on request. */
const LIVE_V2_EVENTS_PER_SEC = 100_000;
const MODES = ['v1', 'v2-stream'] as const;
type Mode = (typeof MODES)[number];
const fmt = (x: number, d = 3) => Number(x.toFixed(d));

interface Run {
  mode: Mode;
  customers: number;
  events: number;
  /** Every API call the reporter made for the events (meter event calls, stream requests, sessions). */
  calls: number;
  meterEventCalls: number;
  sessionCalls: number;
  wallSeconds: number;
  eventsPerSecond: number;
  /** The same calls at Stripe's live limit for the mode, at full rate (no latency, no retries). */
  liveEstimateSeconds: number;
  /** v2: the same events at the 100,000 events/s one business may be granted (the tighter bound at 100 per request). */
  liveEstimateEventsCapSeconds?: number;
  stripeTotal: number;
  sentTotal: number;
  outcomes: Record<string, number>;
}

async function runSize(customers: number): Promise<Run[]> {
  const server = await startStripeTestServer();
  const admin = new Stripe('sk_test_bench_stripe', { ...server.stripeConfig, maxNetworkRetries: 2 });
  const setup = new StripeMeterReporter({ stripe: admin, ratePerSecond: 1e6 });
  await setup.ensureMeters();
  const ids: string[] = new Array(customers);
  const t0 = performance.now();
  await inParallel([...Array(customers).keys()], 64, async (i) => {
    ids[i] = (await admin.customers.create({ name: `bench-${i}` })).id;
  });
  console.log(`  ${customers} Stripe customers created in ${fmt((performance.now() - t0) / 1000, 1)} s`);
  const nowSec = Math.floor(Date.now() / 1000);
  const runs: Run[] = [];
  for (const [m, mode] of MODES.entries()) {
    // Another day per mode, so the identifiers differ and Stripe's totals can be told apart by timestamp.
    const day = new Date((nowSec - (m + 1) * 86_400) * 1000).toISOString().slice(0, 10);
    const events: MeterEventToSend[] = ids.map((stripeCustomerId, i) => ({
      identifier: meterEventIdentifier({ customerId: `bench-${i}`, meter: 'api_calls', day, revision: 0 }),
      eventName: STRIPE_METERS.api_calls.eventName,
      stripeCustomerId,
      value: 1 + (i % 97),
      timestamp: Date.parse(`${day}T12:00:00Z`) / 1000,
    }));
    const before = server.stats();
    const reporter = new StripeMeterReporter({
      stripe: new Stripe('sk_test_bench_stripe', { ...server.stripeConfig, maxNetworkRetries: 0 }),
      mode,
      // The reporter's own limiter out of the way: what is measured is the calls and their cost here.
      ratePerSecond: 1e6,
      burst: 10_000,
      concurrency: CONCURRENCY,
    });
    const started = performance.now();
    const outcomes = await reporter.report(events);
    const wallSeconds = (performance.now() - started) / 1000;
    const after = server.stats();
    const callsTo = (endpoint: string) => (after[endpoint]?.total ?? 0) - (before[endpoint]?.total ?? 0);
    const calls = Object.keys(after).reduce((t, k) => t + callsTo(k), 0);
    const meterEventCalls = callsTo(mode === 'v1' ? 'POST /v1/billing/meter_events' : 'POST /v2/billing/meter_event_stream');
    const sessionCalls = callsTo('POST /v2/billing/meter_event_session');
    const ts = events[0]!.timestamp;
    const stripeTotal = server
      .meterEvents({ eventName: STRIPE_METERS.api_calls.eventName })
      .filter((e) => e.timestamp === ts)
      .reduce((t, e) => t + (e.value ?? 0), 0);
    const sentTotal = events.reduce((t, e) => t + e.value, 0);
    if (stripeTotal !== sentTotal) throw new Error(`${mode}: Stripe holds ${stripeTotal}, ${sentTotal} was sent`);
    const counts: Record<string, number> = {};
    for (const o of outcomes) counts[o.outcome] = (counts[o.outcome] ?? 0) + 1;
    runs.push({
      mode,
      customers,
      events: events.length,
      calls,
      meterEventCalls,
      sessionCalls,
      wallSeconds: fmt(wallSeconds),
      eventsPerSecond: Math.round(events.length / wallSeconds),
      liveEstimateSeconds: fmt(mode === 'v1' ? meterEventCalls / LIVE_V1_CALLS_PER_SEC : meterEventCalls / LIVE_V2_REQUESTS_PER_SEC),
      ...(mode === 'v2-stream' ? { liveEstimateEventsCapSeconds: fmt(events.length / LIVE_V2_EVENTS_PER_SEC) } : {}),
      stripeTotal,
      sentTotal,
      outcomes: counts,
    });
  }
  await server.close();
  return runs;
}

async function main() {
  console.log(
    `bench:stripe — one api_calls meter event per customer; reporter concurrency ${CONCURRENCY} for both modes, its rate limit off (1e6/s); test server without rate limit or latency`,
  );
  const runs: Run[] = [];
  for (const size of SIZES) {
    console.log(`${size} customers:`);
    for (const r of await runSize(size)) {
      runs.push(r);
      console.log(
        `  ${r.mode.padEnd(9)} calls ${String(r.calls).padStart(7)} (meter ${r.meterEventCalls}, sessions ${r.sessionCalls})  wall ${r.wallSeconds.toFixed(2).padStart(7)} s  ${String(r.eventsPerSecond).padStart(7)} events/s  at live limits ≈ ${r.liveEstimateSeconds} s${r.liveEstimateEventsCapSeconds !== undefined ? ` (${r.liveEstimateEventsCapSeconds} s at 100,000 events/s)` : ''}  Stripe total ${r.stripeTotal} = sent`,
      );
    }
  }
  const ratios = SIZES.map((size) => {
    const v1 = runs.find((r) => r.customers === size && r.mode === 'v1')!;
    const v2 = runs.find((r) => r.customers === size && r.mode === 'v2-stream')!;
    return {
      customers: size,
      callsV2OverV1: fmt(v2.calls / v1.calls, 4),
      wallV2OverV1: fmt(v2.wallSeconds / v1.wallSeconds, 4),
      liveEstimateV2OverV1: fmt(v2.liveEstimateSeconds / v1.liveEstimateSeconds, 5),
      liveEstimateEventsCapV2OverV1: fmt(v2.liveEstimateEventsCapSeconds! / v1.liveEstimateSeconds, 5),
    };
  });
  for (const r of ratios)
    console.log(
      `ratio v2/v1 at ${r.customers}: calls ${r.callsV2OverV1}, wall time here ${r.wallV2OverV1}, wall time at live limits ${r.liveEstimateV2OverV1} (${r.liveEstimateEventsCapV2OverV1} at 100,000 events/s)`,
    );
  console.log(
    'live limits: v1 1,000 calls/s, one concurrent call per customer per meter (here every customer-meter is its own lane, so the per-lane rule never binds; a customer with many events of one meter would be serial on v1); v2 stream 10,000 requests/s of up to 100 events and, on request, 100,000 events/s for one business, validated asynchronously; the stream’s session calls (1 per 15 minutes) are not counted in its estimate',
  );
  console.log(JSON.stringify({ bench: 'stripe', concurrency: CONCURRENCY, runs: runs.map(({ outcomes: _o, ...r }) => r), ratios }));
}

await main();
