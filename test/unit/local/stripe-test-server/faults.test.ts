import Stripe from 'stripe';
import { beforeEach, describe, expect, it } from 'vitest';
import type {
  EndpointStats,
  FaultSettings,
  FaultSpec,
  RecordedMeterEvent,
  StripeTestServer,
} from '../../../../local/stripe-test-server/index.js';
import { caught, control, customerAndMeter, sdkFor, useServer } from '../../../fakes/stripe-test-server.js';

let server: StripeTestServer;
let stripe: Stripe;
let customerId: string;

// Fault tests observe single attempts, so the SDK must not retry on its own.
useServer((s, sdk) => ([server, stripe] = [s, sdk]), { maxNetworkRetries: 0 });
beforeEach(async () => {
  ({ customerId } = await customerAndMeter(stripe));
});

const send = (client: Stripe, identifier?: string, customer = customerId) =>
  client.billing.meterEvents.create({ event_name: 'api_calls', identifier, payload: { stripe_customer_id: customer, value: '1' } });

describe('injected status faults', () => {
  it('answers 429 with Stripe’s rate-limit error, then recovers once the fault is used up', async () => {
    // Prepare
    server.faults.inject({ status: 429, count: 1, path: '/v1/billing/meter_events' });
    // Act
    const error = await caught(send(stripe, 'a'));
    await send(stripe, 'a');
    // Assess
    expect(error).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(error).toMatchObject({ statusCode: 429, code: 'rate_limit', rawType: 'invalid_request_error' });
    expect(error.headers?.['stripe-should-retry']).toBeUndefined();
    expect(server.meterEvents()).toHaveLength(1);
    expect(server.requestLog().map((r) => [r.status, r.fault])).toEqual([
      [200, null],
      [200, null],
      [429, '429'],
      [200, null],
    ]);
  });

  it('answers 500 api_error and stores nothing', async () => {
    // Prepare
    server.faults.inject({ status: 500, path: '/v1/billing/meter_events', shouldRetry: true });
    // Act
    const error = await caught(send(stripe, 'b'));
    // Assess
    expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(error).toMatchObject({ statusCode: 500, rawType: 'api_error' });
    expect(error.headers?.['stripe-should-retry']).toBe('true');
    expect(server.meterEvents()).toHaveLength(0);
  });

  it('only hits requests under the fault path', async () => {
    // Prepare
    server.faults.inject({ status: 503, path: '/v1/billing/meter_events' });
    // Act
    const customer = await stripe.customers.create({});
    // Assess
    expect(customer.id).toMatch(/^cus_/);
    expect(server.faults.pending()).toEqual([{ status: 503, path: '/v1/billing/meter_events', count: 1 }]);
  });

  it('lets the SDK’s own retry succeed with the same idempotency key after a 500', async () => {
    // Prepare
    const retrying = sdkFor(server, { maxNetworkRetries: 1 });
    server.faults.inject({ status: 500, path: '/v1/billing/meter_events' });
    // Act
    await send(retrying, 'c');
    // Assess
    const calls = server.requestLog().filter((r) => r.path === '/v1/billing/meter_events');
    expect(calls.map((r) => r.status)).toEqual([500, 200]);
    expect(calls[0]?.idempotencyKey).toBe(calls[1]?.idempotencyKey);
    expect(server.meterEvents()).toHaveLength(1);
  });
});

describe('lost responses (processed: true)', () => {
  it('replays the stored result when the SDK retries a dropped connection with the same key', async () => {
    // Prepare: the event is stored, then the socket is cut before the answer.
    server.faults.inject({ reset: true, processed: true, path: '/v1/billing/meter_events' });
    // Act: node's SDK retries a reset connection once even with maxNetworkRetries 0.
    const event = await send(stripe, 'd');
    // Assess
    expect(event.identifier).toBe('d');
    expect(server.meterEvents()).toHaveLength(1);
    expect(
      server
        .requestLog()
        .filter((r) => r.path === '/v1/billing/meter_events')
        .map((r) => [r.status, r.replayed]),
    ).toEqual([
      [0, false],
      [200, true],
    ]);
  });

  it('makes a fresh attempt (new key) see the duplicate-identifier rejection', async () => {
    // Prepare
    server.faults.inject({ status: 500, processed: true, path: '/v1/billing/meter_events' });
    const lost = await caught(send(stripe, 'e'));
    // Act
    const duplicate = await caught(send(stripe, 'e'));
    // Assess
    expect(lost.statusCode).toBe(500);
    expect(duplicate.message).toContain('An event already exists with identifier e');
    expect(duplicate.headers?.['stripe-should-retry']).toBe('false');
    expect(server.meterEvents()).toHaveLength(1);
  });
});

describe('limits', () => {
  it('enforces one concurrent call per customer per meter when switched on', async () => {
    // Prepare
    const other = (await stripe.customers.create({})).id;
    server.faults.setLatency(150);
    server.faults.setConcurrencyCheck(true);
    // Act
    const results = await Promise.allSettled([send(stripe, 'f1'), send(stripe, 'f2'), send(stripe, 'f3', other)]);
    // Assess
    const statuses = results.map((r) => (r.status === 'fulfilled' ? 200 : (r.reason as Stripe.errors.StripeError).statusCode));
    expect(statuses.filter((s) => s === 429)).toHaveLength(1);
    expect(statuses[2]).toBe(200);
    expect(server.meterEvents()).toHaveLength(2);
  });

  it('answers 429 past the requests-per-second limit', async () => {
    // Prepare
    server.faults.setRateLimit(2);
    // Act
    const results = await Promise.allSettled([stripe.customers.list(), stripe.customers.list(), stripe.customers.list()]);
    // Assess
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.reason).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
  });
});

describe('HTTP control surface', () => {
  it('injects faults, sets the clock and reads stats for another process', async () => {
    // Act
    const injected = await control<{ pending: FaultSpec[]; settings: FaultSettings }>(server, 'POST', '/_test/faults', {
      status: 503,
      count: 1,
      path: '/v1/customers',
    });
    const error = await caught(stripe.customers.create({}));
    const clock = await control<{ now_ms: number; now: string }>(server, 'POST', '/_test/clock', {
      at: '2026-04-01T00:00:00Z',
      advanceMs: 1000,
    });
    const stats = await control<Record<string, EndpointStats>>(server, 'GET', '/_test/stats');
    const typo = await control(server, 'POST', '/_test/faults', { status: 500, cuont: 2 });
    // Assess
    expect(injected.body.pending).toEqual([{ status: 503, count: 1, path: '/v1/customers' }]);
    expect(error).toMatchObject({ statusCode: 503 });
    expect(clock.body).toEqual({ now_ms: Date.parse('2026-04-01T00:00:01Z'), now: '2026-04-01T00:00:01.000Z' });
    expect(server.clock.now()).toBe(Date.parse('2026-04-01T00:00:01Z'));
    expect(stats.body['POST /v1/customers']).toEqual({ total: 2, byStatus: { '200': 1, '503': 1 } });
    expect(typo.status).toBe(400);
  });

  it('lists accepted events for the CLI and resets everything', async () => {
    // Prepare
    await send(stripe, 'g');
    // Act
    const listed = await control<{ data: RecordedMeterEvent[] }>(server, 'GET', `/_test/meter_events?customer=${customerId}`);
    const reset = await control<{ ok: boolean }>(server, 'POST', '/_test/reset');
    // Assess
    expect(listed.body.data).toMatchObject([{ identifier: 'g', customerId, value: 1 }]);
    expect(reset.body).toEqual({ ok: true });
    expect(server.meterEvents()).toHaveLength(0);
    expect(server.customers()).toHaveLength(0);
  });
});
