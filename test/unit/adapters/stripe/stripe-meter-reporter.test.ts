import type Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../../../contract/clock.js';
import { ConfigError, ValidationError } from '../../../../contract/errors.js';
import type { Meter } from '../../../../contract/meters.js';
import {
  createStripeClient,
  type StripeClientInput,
  stripeClientConfig,
} from '../../../../functions/adapters/stripe/stripe-client-config.js';
import { StripeMeterReporter, type StripeMeterReporterOptions } from '../../../../functions/adapters/stripe/stripe-meter-reporter.js';
import { MeterConfigurationError } from '../../../../functions/adapters/stripe/stripe-meter-setup.js';
import { TokenBucket } from '../../../../functions/adapters/stripe/stripe-rate-limiter.js';
import {
  type MeterEventToSend,
  meterEventIdempotencyKey,
  meterEventIdentifier,
  STRIPE_METERS,
} from '../../../../functions/core/billing/stripe-reporting.js';
import { loadStripeConfig } from '../../../../functions/runtime/config.js';
import { type StripeTestServer, startStripeTestServer } from '../../../../local/stripe-test-server/index.js';

/** The server's frozen "now": 2026-03-10 12:00 UTC. Events are dated on the days before. */
const T0_MS = Date.parse('2026-03-10T12:00:00.000Z');
const KEY = 'sk_test_serenity_reporter';
const METER_PATH = '/v1/billing/meter_events';

let server: StripeTestServer;
let stripe: Stripe;

beforeAll(async () => {
  server = await startStripeTestServer({ clock: fixedClock(T0_MS) });
  stripe = createStripeClient({ secretKey: KEY, apiBase: server.url });
});
afterAll(() => server.close());
beforeEach(() => {
  server.reset();
  server.clock.set(T0_MS);
});

/** Waits recorded instead of slept, so retries cost no wall time. */
function instantSleep(): { sleep: (ms: number) => Promise<void>; waits: number[] } {
  const waits: number[] = [];
  return { waits, sleep: async (ms) => void waits.push(ms) };
}

function reporter(opts: Partial<StripeMeterReporterOptions> = {}): StripeMeterReporter {
  return new StripeMeterReporter({ stripe, ratePerSecond: 1_000, concurrency: 4, sleep: instantSleep().sleep, ...opts });
}

/** Last second of a UTC day, as a daily report would be dated. */
const endOfDay = (day: string) => Date.parse(`${day}T00:00:00Z`) / 1000 + 86_399;

function event(customerId: string, stripeCustomerId: string, meter: Meter, day: string, value: number, revision = 0): MeterEventToSend {
  return {
    identifier: meterEventIdentifier({ customerId, meter, day, revision }),
    eventName: STRIPE_METERS[meter].eventName,
    stripeCustomerId,
    value,
    timestamp: endOfDay(day),
  };
}

async function customers(n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 1) ids.push((await stripe.customers.create({ email: `c${i}@example.com` })).id);
  return ids;
}

const meterEventCalls = () => server.requestLog().filter((r) => r.path === METER_PATH);

describe('stripeClientConfig', () => {
  it('points the SDK at the parsed STRIPE_API_BASE, with the SDK’s own retries off', () => {
    // Act
    const local = stripeClientConfig(
      loadStripeConfig({ STRIPE_SECRET_KEY: 'sk_test_abc', STRIPE_API_BASE: 'http://127.0.0.1:12111' }) as StripeClientInput,
    );
    const ipv6 = stripeClientConfig(
      loadStripeConfig({ STRIPE_SECRET_KEY: 'sk_test_abc', STRIPE_API_BASE: 'https://[::1]' }) as StripeClientInput,
    );
    // Assess
    expect(local).toMatchObject({
      apiKey: 'sk_test_abc',
      config: { host: '127.0.0.1', port: 12111, protocol: 'http', maxNetworkRetries: 0 },
    });
    expect(ipv6.config).toMatchObject({ host: '::1', port: 443, protocol: 'https' });
  });

  it('leaves host, port and protocol to the SDK (api.stripe.com) when STRIPE_API_BASE is absent or empty', () => {
    // Act
    const configs = [{ STRIPE_SECRET_KEY: 'sk_live_abc' }, { STRIPE_SECRET_KEY: 'rk_test_abc', STRIPE_API_BASE: '' }].map((env) =>
      stripeClientConfig(loadStripeConfig(env) as StripeClientInput),
    );
    // Assess
    for (const { config } of configs) {
      expect(config).not.toHaveProperty('host');
      expect(config).not.toHaveProperty('port');
      expect(config.maxNetworkRetries).toBe(0);
    }
  });

  it('fails loudly on a missing or malformed key or base, without echoing the key (loadStripeConfig, the one parser)', () => {
    // Act
    const attempts = [
      {},
      { STRIPE_SECRET_KEY: 'pk_test_publishable_secret_value' },
      { STRIPE_SECRET_KEY: 'sk_test_abc', STRIPE_API_BASE: 'ftp://x' },
      { STRIPE_SECRET_KEY: 'sk_test_abc', STRIPE_API_BASE: 'http://127.0.0.1:12111/v1' },
    ].map((env) => {
      try {
        loadStripeConfig(env);
        return undefined;
      } catch (error) {
        return error;
      }
    });
    // Assess
    for (const error of attempts) expect(error).toBeInstanceOf(ConfigError);
    expect(String((attempts[1] as Error).message)).not.toContain('publishable_secret_value');
    expect((attempts[0] as ConfigError).context).toEqual({ variables: ['STRIPE_SECRET_KEY'] });
    expect((attempts[3] as ConfigError).context).toEqual({ variables: ['STRIPE_API_BASE'] });
  });
});

describe('StripeMeterReporter options', () => {
  it('rejects unknown options (typos) and impossible values', () => {
    // Act / Assess
    expect(() => new StripeMeterReporter({ stripe, concurency: 8 } as never)).toThrow(ValidationError);
    expect(() => new StripeMeterReporter({ stripe, streamBatchSize: 101 })).toThrow(/streamBatchSize/);
    expect(() => new StripeMeterReporter({ stripe: {} as Stripe })).toThrow(/stripe/);
  });
});

describe('ensureMeters', () => {
  it('creates the three meters, then verifies them without creating more', async () => {
    // Prepare
    const r = reporter();
    // Act
    const first = await r.ensureMeters();
    const second = await r.ensureMeters();
    // Assess
    expect(Object.values(first).map((m) => m.action)).toEqual(['created', 'created', 'created']);
    expect(Object.values(second).map((m) => m.action)).toEqual(['verified', 'verified', 'verified']);
    expect(second.api_calls.id).toBe(first.api_calls.id);
    expect(server.meters().map((m) => [m.eventName, m.formula, m.customerKey, m.valueKey, m.status])).toEqual([
      ['serenity_api_calls', 'sum', 'stripe_customer_id', 'value', 'active'],
      ['serenity_active_users', 'last', 'stripe_customer_id', 'value', 'active'],
      ['serenity_protected_files', 'last', 'stripe_customer_id', 'value', 'active'],
    ]);
    expect(server.requestLog().filter((x) => x.method === 'POST' && x.path === '/v1/billing/meters')).toHaveLength(3);
  });

  it('flags a wrongly configured meter as an error, and still sets up the others', async () => {
    // Prepare
    await stripe.billing.meters.create({
      display_name: 'users',
      event_name: 'serenity_active_users',
      default_aggregation: { formula: 'sum' },
    });
    await stripe.billing.meters.create({
      display_name: 'files',
      event_name: 'serenity_protected_files',
      default_aggregation: { formula: 'last' },
      value_settings: { event_payload_key: 'count' },
      event_time_window: 'day',
    });
    // Act
    const error = await reporter()
      .ensureMeters()
      .catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(MeterConfigurationError);
    const checks = (error as MeterConfigurationError).checks;
    expect(checks.map((c) => [c.eventName, c.action])).toEqual([
      ['serenity_api_calls', 'created'],
      ['serenity_active_users', 'mismatch'],
      ['serenity_protected_files', 'mismatch'],
    ]);
    expect(checks[1]?.problems).toEqual(['formula is sum, expected last']);
    expect(checks[2]?.problems).toEqual([
      'value_settings.event_payload_key is count, expected value',
      'event_time_window is day, expected none',
    ]);
    expect((error as MeterConfigurationError).retryable).toBe(false);
  });

  it('reactivates an inactive meter that is otherwise right', async () => {
    // Prepare
    const r = reporter();
    const { api_calls } = await r.ensureMeters();
    await stripe.billing.meters.deactivate(api_calls.id);
    // Act
    const again = await r.ensureMeters();
    // Assess
    expect(again.api_calls).toMatchObject({ id: api_calls.id, action: 'reactivated' });
    expect(server.meters().find((m) => m.id === api_calls.id)?.status).toBe('active');
  });

  it('changes nothing when only finding them (reconcile): a missing or inactive meter is a mismatch', async () => {
    // Prepare: no meters at all; then all three, one of them deactivated
    const r = reporter();
    const none = await r.findMeters().catch((e: unknown) => e);
    const { active_users } = await r.ensureMeters();
    await stripe.billing.meters.deactivate(active_users.id);
    const posts = server.requestLog().filter((x) => x.method === 'POST').length;

    // Act
    const inactive = await r.findMeters().catch((e: unknown) => e);

    // Assess
    expect((none as MeterConfigurationError).checks.map((c) => c.problems)).toEqual(
      new Array(3).fill(['missing on Stripe: run meter stripe setup']),
    );
    expect((inactive as MeterConfigurationError).checks.map((c) => [c.eventName, c.action])).toEqual([
      ['serenity_api_calls', 'verified'],
      ['serenity_active_users', 'mismatch'],
      ['serenity_protected_files', 'verified'],
    ]);
    expect(server.requestLog().filter((x) => x.method === 'POST').length).toBe(posts);
    expect(server.meters().find((m) => m.id === active_users.id)?.status).toBe('inactive');
  });
});

describe('report (v1): exactly once', () => {
  it('delivers a batch exactly once through 500s, 429s, resets and a lost answer', async () => {
    // Prepare
    const { sleep, waits } = instantSleep();
    const r = reporter({ sleep, retry: { maxAttempts: 12 } });
    await r.ensureMeters();
    const cus = await customers(3);
    const days = ['2026-03-05', '2026-03-06', '2026-03-07', '2026-03-08', '2026-03-09'];
    const events = cus.flatMap((c, i) =>
      days.flatMap((d, j) => [event(`cust-${i}`, c, 'api_calls', d, 10 * i + j + 1), event(`cust-${i}`, c, 'active_users', d, j + 1)]),
    );
    server.faults.inject([
      { processed: true, status: 500, path: METER_PATH }, // stored, but the answer is lost
      { status: 500, count: 3, path: METER_PATH },
      { status: 429, count: 3, path: METER_PATH },
      { status: 503, shouldRetry: true, path: METER_PATH },
      { reset: true, path: METER_PATH },
    ]);
    // Act
    const outcomes = await r.report(events);
    // Assess
    expect(outcomes.map((o) => o.outcome)).toEqual(events.map(() => 'delivered'));
    expect(outcomes.map((o) => o.identifier)).toEqual(events.map((e) => e.identifier));
    const stored = server.meterEvents();
    expect(stored).toHaveLength(events.length);
    expect(new Set(stored.map((e) => e.identifier)).size).toBe(events.length);
    for (const e of events) expect(server.meterEvents({ identifier: e.identifier }).map((s) => s.value)).toEqual([e.value]);
    // The lost answer came back as an idempotent replay of the first call, not a second event.
    expect(outcomes.filter((o) => o.outcome === 'delivered' && o.via === 'replayed')).toHaveLength(1);
    expect(server.faults.pending()).toEqual([]);
    const stats = r.stats();
    expect(stats.retries).toBeGreaterThanOrEqual(8);
    expect(stats.rateLimited).toBe(3);
    expect(stats.outcomes).toMatchObject({ delivered: events.length, permanent: 0, failed_transient: 0 });
    // One wait per retry (backoff) plus one per permit the token bucket made wait.
    expect(waits.length).toBe(stats.retries + stats.limiter.delayed);
    // Every retry of an event reused that event's idempotency key, derived from its identifier.
    const keys = meterEventCalls().map((c) => c.idempotencyKey);
    expect(keys.length).toBeGreaterThan(events.length);
    expect(new Set(keys)).toEqual(new Set(events.map((e) => meterEventIdempotencyKey(e.identifier))));
  });

  it('treats Stripe’s "already exists with identifier" rejection as delivered, storing nothing twice', async () => {
    // Prepare: an earlier run stored the event, with a key of its own, and never recorded the answer.
    await reporter().ensureMeters();
    const [cus] = await customers(1);
    const e = event('acme', cus!, 'api_calls', '2026-03-09', 42);
    await stripe.billing.meterEvents.create({
      event_name: e.eventName,
      identifier: e.identifier,
      timestamp: e.timestamp,
      payload: { stripe_customer_id: cus!, value: '42' },
    });
    const r = reporter();
    // Act
    const [outcome] = await r.report([e]);
    // Assess
    expect(outcome).toEqual({ identifier: e.identifier, outcome: 'delivered', attempts: 1, via: 'already_held' });
    expect(server.meterEvents({ identifier: e.identifier })).toHaveLength(1);
    expect(r.stats().duplicate).toBe(1);
    expect(meterEventCalls().at(-1)?.status).toBe(400);
  });

  it('reports permanent failures with their reason and still delivers the rest of the batch', async () => {
    // Prepare
    const r = reporter();
    await r.ensureMeters();
    const [good] = await customers(1);
    const events = [
      event('a', good!, 'api_calls', '2026-03-09', 5),
      event('ghost', 'cus_doesnotexist', 'api_calls', '2026-03-09', 7),
      { ...event('a', good!, 'active_users', '2026-01-01', 3) }, // older than 35 days
      { ...event('a', good!, 'protected_files', '2026-03-09', 1), value: 1.5 },
      event('a', good!, 'protected_files', '2026-03-08', -2),
    ];
    // Act
    const outcomes = await r.report(events);
    // Assess
    expect(outcomes.map((o) => (o.outcome === 'permanent' ? `${o.outcome}:${o.reason}` : o.outcome))).toEqual([
      'delivered',
      'permanent:unknown_customer',
      'permanent:timestamp_out_of_window',
      'permanent:invalid_event',
      'delivered',
    ]);
    expect(outcomes[1]).toMatchObject({ status: 400, attempts: 1, message: expect.stringContaining('cus_doesnotexist') });
    expect(outcomes[3]).toMatchObject({ attempts: 0, message: expect.stringContaining('value') });
    expect(server.meterEvents().map((e) => e.value)).toEqual([5, -2]);
    expect(meterEventCalls()).toHaveLength(4); // the invalid event was never sent
  });

  it('never sends a value of more than 15 digits (Stripe refuses them since 2026-04-22): refused locally, without a call', async () => {
    // Prepare
    const r = reporter();
    await r.ensureMeters();
    const [cus] = await customers(1);
    const events = [
      event('a', cus!, 'api_calls', '2026-03-09', 1_234_567_890_123_456),
      event('a', cus!, 'api_calls', '2026-03-08', -1_000_000_000_000_000),
      event('a', cus!, 'api_calls', '2026-03-07', 999_999_999_999_999),
    ];
    // Act
    const outcomes = await r.report(events);
    // Assess
    expect(outcomes.map((o) => (o.outcome === 'permanent' ? `${o.outcome}:${o.reason}` : o.outcome))).toEqual([
      'permanent:value_too_many_digits',
      'permanent:value_too_many_digits',
      'delivered',
    ]);
    expect(outcomes[0]).toMatchObject({ attempts: 0, message: expect.stringContaining('15 digits') });
    expect(meterEventCalls()).toHaveLength(1);
    expect(server.meterEvents().map((e) => e.value)).toEqual([999_999_999_999_999]);
  });

  it('settles identifier clashes inside one batch without a call, and shares identical copies’ outcome', async () => {
    // Prepare
    const r = reporter();
    await r.ensureMeters();
    const [cus] = await customers(1);
    const e = event('a', cus!, 'api_calls', '2026-03-09', 5);
    // Act
    const outcomes = await r.report([e, { ...e }, { ...e, value: 6 }]);
    // Assess
    expect(outcomes.map((o) => o.outcome)).toEqual(['delivered', 'delivered', 'permanent']);
    expect(outcomes[2]).toMatchObject({ reason: 'identifier_conflict', attempts: 0 });
    expect(meterEventCalls()).toHaveLength(1);
  });

  it('gives up with failed_transient after the last attempt, backing off with full jitter, and never throws', async () => {
    // Prepare
    const { sleep, waits } = instantSleep();
    // A limiter far above these few calls, so every recorded wait is a backoff, never pacing.
    const r = reporter({ sleep, random: () => 0.5, retry: { maxAttempts: 4 }, ratePerSecond: 1_000_000, burst: 100 });
    await r.ensureMeters();
    const [cus] = await customers(1);
    server.faults.inject({ status: 429, count: 50, path: METER_PATH });
    // Act
    const [outcome] = await r.report([event('a', cus!, 'api_calls', '2026-03-09', 1)]);
    // Assess
    expect(outcome).toMatchObject({ outcome: 'failed_transient', reason: 'rate_limited', attempts: 4 });
    expect(waits).toEqual([500, 1_000, 2_000]); // half of 1 s, 2 s, 4 s
    expect(server.meterEvents()).toHaveLength(0);
  });

  it('stops at once when Stripe says Stripe-Should-Retry: false, leaving the event to a later run', async () => {
    // Prepare
    const r = reporter();
    await r.ensureMeters();
    const [cus] = await customers(1);
    server.faults.inject({ status: 500, shouldRetry: false, path: METER_PATH });
    // Act
    const [outcome] = await r.report([event('a', cus!, 'api_calls', '2026-03-09', 1)]);
    // Assess
    expect(outcome).toMatchObject({ outcome: 'failed_transient', reason: 'server_error', attempts: 1 });
    expect(meterEventCalls()).toHaveLength(1);
  });

  it('retries a timed-out call with the same key and gets the first call’s result, not a second event', async () => {
    // Prepare
    const r = new StripeMeterReporter({
      stripe,
      ratePerSecond: 1_000,
      timeoutMs: 150,
      random: () => 0.99,
      retry: { transient: { baseMs: 400, capMs: 400 } },
    });
    await r.ensureMeters();
    const [cus] = await customers(1);
    const e = event('a', cus!, 'api_calls', '2026-03-09', 9);
    server.faults.inject({ delayMs: 300, path: METER_PATH });
    // Act
    const [outcome] = await r.report([e]);
    // Assess
    expect(outcome).toMatchObject({ outcome: 'delivered', via: 'replayed' });
    expect(outcome?.attempts).toBeGreaterThanOrEqual(2);
    expect(server.meterEvents({ identifier: e.identifier })).toHaveLength(1);
    expect(new Set(meterEventCalls().map((c) => c.idempotencyKey)).size).toBe(1);
  });
});

describe('report (v1): Stripe’s limits', () => {
  it('never has two calls in flight for one customer and meter, even at concurrency 8', async () => {
    // Prepare
    const r = reporter({ concurrency: 8 });
    await r.ensureMeters();
    const [busy, other] = await customers(2);
    const days = Array.from({ length: 9 }, (_, i) => `2026-03-0${i + 1}`);
    const sameLane = days.flatMap((d) => [0, 1, 2].map((rev) => event('busy', busy!, 'api_calls', d, rev + 1, rev)));
    const otherLanes = days.map((d) => event('other', other!, 'active_users', d, 4));
    server.faults.setConcurrencyCheck(true);
    server.faults.setLatency(3);
    // Act: two batches at once, on the same reporter, both hitting the busy lane.
    const [a, b] = await Promise.all([r.report(sameLane.slice(0, 14)), r.report([...sameLane.slice(14), ...otherLanes])]);
    // Assess
    expect([...a, ...b].every((o) => o.outcome === 'delivered')).toBe(true);
    expect(meterEventCalls().filter((c) => c.status === 429)).toHaveLength(0);
    expect(r.stats()).toMatchObject({ rateLimited: 0, maxInFlightPerLane: 1 });
    expect(r.stats().maxInFlight).toBe(2); // the busy lane and the other lane overlapped
    expect(server.meterEvents({ customerId: busy! })).toHaveLength(sameLane.length);
  });

  it('(control) the server’s concurrency check does catch parallel calls on one lane', async () => {
    // Prepare
    await reporter().ensureMeters();
    const [cus] = await customers(1);
    server.faults.setConcurrencyCheck(true);
    server.faults.setLatency(20);
    // Act
    const results = await Promise.allSettled(
      [1, 2, 3, 4].map((i) =>
        stripe.billing.meterEvents.create({
          event_name: 'serenity_api_calls',
          identifier: `naive-${i}`,
          payload: { stripe_customer_id: cus!, value: '1' },
        }),
      ),
    );
    // Assess
    expect(results.filter((x) => x.status === 'rejected').length).toBeGreaterThan(0);
  });

  it('paces calls with its token bucket under the server’s rate limit (asserted on counters)', async () => {
    // Prepare: real time here, because the server's limiter uses real time.
    const r = new StripeMeterReporter({ stripe, ratePerSecond: 20, burst: 1, concurrency: 8 });
    await r.ensureMeters();
    const cus = await customers(5);
    const events = cus.flatMap((c, i) => ['2026-03-07', '2026-03-08', '2026-03-09'].map((d) => event(`c${i}`, c, 'api_calls', d, 1)));
    const before = r.stats().limiter;
    server.faults.setRateLimit(20);
    // Act
    const outcomes = await r.report(events);
    // Assess
    const stats = r.stats();
    expect(outcomes.every((o) => o.outcome === 'delivered')).toBe(true);
    expect(server.meterEvents()).toHaveLength(events.length);
    expect(stats.limiter.granted - before.granted).toBe(meterEventCalls().length);
    expect(stats.limiter.granted).toBe(stats.calls);
    expect(stats.limiter.delayed - before.delayed).toBeGreaterThanOrEqual(events.length - 1);
    expect(stats.limiter.peakPerSecond).toBeLessThanOrEqual(21);
    // Whatever the server still refused (timing noise on a busy machine) was counted and retried.
    expect(stats.rateLimited).toBe(meterEventCalls().filter((c) => c.status === 429).length);
  });
});

describe('TokenBucket', () => {
  it('spaces permits at the configured rate after the burst (fake clock, no real waiting)', async () => {
    // Prepare
    const clock = fixedClock(0);
    const bucket = new TokenBucket({ ratePerSecond: 20, burst: 5, clock, sleep: async (ms) => clock.advance(ms) });
    // Act
    for (let i = 0; i < 100; i += 1) await bucket.take();
    // Assess
    expect(bucket.stats()).toEqual({ granted: 100, delayed: 95, waitedMs: 95 * 50, peakPerSecond: 24 });
    expect(clock.now()).toBe(95 * 50);
  });

  it('queues concurrent takers first come, first served', async () => {
    // Prepare
    const clock = fixedClock(0);
    const waits: number[] = [];
    const bucket = new TokenBucket({ ratePerSecond: 10, clock, sleep: async (ms) => void waits.push(ms) });
    // Act
    await Promise.all([1, 2, 3, 4].map(() => bucket.take()));
    // Assess
    expect(waits).toEqual([100, 200, 300]);
    expect(bucket.stats().peakPerSecond).toBe(4);
  });
});

describe('report (v2-stream)', () => {
  it('sends up to 100 events per call on one session and marks them accepted_async', async () => {
    // Prepare
    const r = reporter({ mode: 'v2-stream', clock: server.clock });
    await r.ensureMeters();
    const cus = await customers(5);
    const events = cus.flatMap((c, i) =>
      Array.from({ length: 50 }, (_, j) => ({ ...event(`c${i}`, c, 'api_calls', '2026-03-09', j + 1, j) })),
    );
    const setupCalls = r.stats().calls;
    // Act
    const outcomes = await r.report(events);
    // Assess
    expect(outcomes.every((o) => o.outcome === 'accepted_async')).toBe(true);
    const stored = server.meterEvents();
    expect(stored).toHaveLength(250);
    expect(new Set(stored.map((e) => e.source))).toEqual(new Set(['v2_stream']));
    expect(stored.reduce((t, e) => t + (e.value ?? 0), 0)).toBe((5 * (50 * 51)) / 2);
    const streamCalls = server.requestLog().filter((x) => x.path === '/v2/billing/meter_event_stream');
    expect(streamCalls).toHaveLength(3);
    expect(streamCalls.every((x) => x.idempotencyKey?.startsWith('srn-mes:'))).toBe(true);
    expect(r.stats()).toMatchObject({ sessionsOpened: 1, outcomes: { accepted_async: 250 } });
    expect(r.stats().calls - setupCalls).toBe(4); // one session and three stream calls
  });

  it('opens a new session before the old one expires, and recovers when Stripe says it already has', async () => {
    // Prepare
    const r = reporter({ mode: 'v2-stream', clock: server.clock });
    await r.ensureMeters();
    const [cus] = await customers(1);
    await r.report([event('a', cus!, 'api_calls', '2026-03-07', 1)]);
    // Act 1: 14.5 minutes later, inside the refresh margin.
    server.clock.advance(14.5 * 60_000);
    await r.report([event('a', cus!, 'api_calls', '2026-03-08', 1)]);
    // Act 2: a reporter whose clock lags Stripe's uses its session after Stripe expired it.
    const lagging = fixedClock(T0_MS);
    const late = reporter({ mode: 'v2-stream', clock: lagging });
    await late.report([event('a', cus!, 'api_calls', '2026-03-09', 1, 1)]);
    server.clock.advance(16 * 60_000);
    const [outcome] = await late.report([event('a', cus!, 'api_calls', '2026-03-09', 2, 2)]);
    // Assess
    expect(r.stats().sessionsOpened).toBe(2);
    expect(outcome).toMatchObject({ outcome: 'accepted_async', attempts: 2 });
    expect(late.stats()).toMatchObject({ sessionsOpened: 2, sessionExpired: 1 });
    expect(server.meterEvents()).toHaveLength(4);
  });

  it('cannot see per-event problems: an unknown customer is accepted, then dropped (reconcile!)', async () => {
    // Prepare
    const r = reporter({ mode: 'v2-stream', clock: server.clock });
    const meters = await r.ensureMeters();
    const [cus] = await customers(1);
    const good = event('a', cus!, 'api_calls', '2026-03-09', 5);
    const ghost = event('ghost', 'cus_doesnotexist', 'api_calls', '2026-03-09', 7);
    const tooOld = event('a', cus!, 'api_calls', '2026-01-01', 3);
    // Act
    const outcomes = await r.report([good, ghost, tooOld]);
    const billed = await r.listEventSummaries(meters.api_calls.id, cus!, endOfDay('2026-03-09') - 86_399, endOfDay('2026-03-09') + 1);
    // Assess
    // The window is the core's guard's to check (sendRecords, by the business clock); sent anyway, Stripe drops it later.
    expect(outcomes.map((o) => o.outcome)).toEqual(['accepted_async', 'accepted_async', 'accepted_async']);
    expect(server.meterEvents().map((e) => e.identifier)).toEqual([good.identifier]);
    expect(server.errorReports().map((e) => [e.identifier, e.code])).toEqual([
      [ghost.identifier, 'meter_event_customer_not_found'],
      [tooOld.identifier, 'timestamp_too_far_in_past'],
    ]);
    expect(billed).toBe(5);
  });
});

describe('listEventSummaries', () => {
  it('returns Stripe’s aggregate over [start, end), corrections included', async () => {
    // Prepare
    const r = reporter();
    const meters = await r.ensureMeters();
    const [cus] = await customers(1);
    await r.report([
      event('a', cus!, 'api_calls', '2026-03-08', 100),
      event('a', cus!, 'api_calls', '2026-03-09', 40),
      event('a', cus!, 'api_calls', '2026-03-08', -30, 1),
    ]);
    const start = Date.parse('2026-03-01T00:00:00Z') / 1000;
    // Act
    const march = await r.listEventSummaries(meters.api_calls.id, cus!, start, Date.parse('2026-04-01T00:00:00Z') / 1000);
    const eighth = await r.listEventSummaries(
      meters.api_calls.id,
      cus!,
      Date.parse('2026-03-08T00:00:00Z') / 1000,
      Date.parse('2026-03-09T00:00:00Z') / 1000,
    );
    // Assess
    expect(march).toBe(110);
    expect(eighth).toBe(70);
    await expect(r.listEventSummaries(meters.api_calls.id, cus!, start + 1, start + 3600)).rejects.toThrow(ValidationError);
    await expect(r.listEventSummaries('mtr_nope', cus!, start, start + 3600)).rejects.toMatchObject({ retryable: false });
  });
});
