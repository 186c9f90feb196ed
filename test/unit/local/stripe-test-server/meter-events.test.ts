import Stripe from 'stripe';
import { beforeEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../../../contract/clock.js';
import { type StripeTestServer, startStripeTestServer } from '../../../../local/stripe-test-server/index.js';
import { caught, customerAndMeter, DAY, sdkFor, T0, T0_MS, useServer } from '../../../fakes/stripe-test-server.js';

let server: StripeTestServer;
let stripe: Stripe;
let customerId: string;
let meter: Stripe.Billing.Meter;

useServer((s, sdk) => ([server, stripe] = [s, sdk]));
beforeEach(async () => {
  ({ customerId, meter } = await customerAndMeter(stripe));
});

const send = (value: string, extra: Partial<Stripe.Billing.MeterEventCreateParams> = {}, client = stripe) =>
  client.billing.meterEvents.create({ event_name: 'api_calls', payload: { stripe_customer_id: customerId, value }, ...extra });

describe('accepting meter events', () => {
  it('stores the event and answers with the billing.meter_event object', async () => {
    // Act
    const event = await send('3', { identifier: 'evt-1', timestamp: T0 - 60 });
    // Assess
    expect(event).toEqual({
      object: 'billing.meter_event',
      created: T0,
      event_name: 'api_calls',
      identifier: 'evt-1',
      livemode: false,
      payload: { stripe_customer_id: customerId, value: '3' },
      timestamp: T0 - 60,
    });
    expect(server.meterEvents()).toMatchObject([{ identifier: 'evt-1', meterId: meter.id, customerId, value: 3, source: 'v1' }]);
  });

  it('generates an identifier and uses the receive time when they are absent', async () => {
    // Act
    const event = await send('1');
    // Assess
    expect(event.identifier).toMatch(/^bmes_/);
    expect(event.timestamp).toBe(T0);
    expect(server.meterEvents({ identifier: event.identifier })).toHaveLength(1);
  });

  it('accepts negative whole numbers, which Stripe documents as usage corrections', async () => {
    // Act
    await send('-4');
    // Assess
    expect(server.meterEvents()[0]?.value).toBe(-4);
  });

  it('reads the customer and value from the meter’s own payload keys', async () => {
    // Prepare
    await stripe.billing.meters.create({
      display_name: 'Files',
      event_name: 'files',
      default_aggregation: { formula: 'sum' },
      customer_mapping: { event_payload_key: 'account', type: 'by_id' },
      value_settings: { event_payload_key: 'files' },
    });
    // Act
    await stripe.billing.meterEvents.create({ event_name: 'files', payload: { account: customerId, files: '7' } });
    const wrongKeys = await caught(
      stripe.billing.meterEvents.create({ event_name: 'files', payload: { stripe_customer_id: customerId, value: '7' } }),
    );
    // Assess
    expect(server.meterEvents({ eventName: 'files' })).toMatchObject([{ customerId, value: 7 }]);
    expect(wrongKeys).toMatchObject({ statusCode: 400, param: 'payload[account]' });
  });
});

describe('duplicate identifiers', () => {
  it('rejects a second event with a held identifier, says not to retry, and the SDK does not retry', async () => {
    // Prepare
    const retrying = sdkFor(server, { maxNetworkRetries: 2 });
    await send('5', { identifier: 'usage-42' }, retrying);
    // Act
    const error = await caught(send('5', { identifier: 'usage-42' }, retrying));
    // Assess
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error.statusCode).toBe(400);
    expect(error.message).toContain('An event already exists with identifier usage-42');
    expect(error.headers?.['stripe-should-retry']).toBe('false');
    expect(server.meterEvents()).toHaveLength(1);
    expect(server.stats()['POST /v1/billing/meter_events']).toEqual({ total: 2, byStatus: { '200': 1, '400': 1 } });
  });

  it('releases the identifier once the 24 hour window has passed', async () => {
    // Prepare
    await send('5', { identifier: 'usage-43' });
    server.clock.advance(DAY * 1000);
    // Act
    await send('5', { identifier: 'usage-43' });
    // Assess
    expect(server.meterEvents({ identifier: 'usage-43' })).toHaveLength(2);
  });
});

describe('timestamp window (injected clock)', () => {
  it('accepts the past 35 days and up to 5 minutes ahead, and rejects beyond', async () => {
    // Prepare: a separate server driven by the pipeline's own fixed clock.
    const clock = fixedClock(T0_MS);
    const own = await startStripeTestServer({ clock });
    const client = sdkFor(own);
    const { customerId: cus } = await customerAndMeter(client);
    const at = (timestamp: number) =>
      client.billing.meterEvents.create({ event_name: 'api_calls', payload: { stripe_customer_id: cus, value: '1' }, timestamp });
    try {
      // Act
      await at(T0 - 35 * DAY + 1);
      await at(T0 + 300);
      const tooOld = await caught(at(T0 - 35 * DAY - 1));
      const tooNew = await caught(at(T0 + 301));
      clock.advance(60_000);
      await at(T0 + 301);
      // Assess
      expect(tooOld).toMatchObject({ statusCode: 400, param: 'timestamp' });
      expect(tooOld.message).toContain('past 35 calendar days');
      expect(tooNew).toMatchObject({ statusCode: 400, param: 'timestamp' });
      expect(tooNew.message).toContain('5 minutes in the future');
      expect(own.meterEvents().map((e) => e.timestamp)).toEqual([T0 - 35 * DAY + 1, T0 + 300, T0 + 301]);
    } finally {
      await own.close();
    }
  });
});

describe('rejected events', () => {
  it('rejects values that are not whole numbers', async () => {
    // Act
    const decimal = await caught(send('1.5'));
    const word = await caught(send('three'));
    // Assess
    expect(decimal).toMatchObject({ statusCode: 400, param: 'payload[value]' });
    expect(decimal.message).toContain('whole number');
    expect(word).toMatchObject({ statusCode: 400, param: 'payload[value]' });
    expect(server.meterEvents()).toHaveLength(0);
  });

  it('refuses a value of more than 15 significant digits, as Stripe does since 2026-04-22, and takes 15', async () => {
    // Act: 16 significant digits, though below 2^53 (a double holds it exactly)
    const sixteen = await caught(send('1234567890123456'));
    const negative = await caught(send('-1234567890123456'));
    await send('123456789012345', { identifier: 'fifteen' });
    await send('-999999999999999', { identifier: 'fifteen-negative' });
    // Assess
    expect(sixteen).toMatchObject({ statusCode: 400, param: 'payload[value]' });
    expect(sixteen.message).toContain('15 significant digits');
    expect(negative).toMatchObject({ statusCode: 400, param: 'payload[value]' });
    expect(server.meterEvents().map((e) => e.value)).toEqual([123456789012345, -999999999999999]);
  });
  it('rejects events for an inactive meter until it is reactivated', async () => {
    // Prepare
    await stripe.billing.meters.deactivate(meter.id);
    // Act
    const error = await caught(send('1'));
    await stripe.billing.meters.reactivate(meter.id);
    await send('1');
    // Assess
    expect(error).toMatchObject({ statusCode: 400, param: 'event_name' });
    expect(error.message).toContain('inactive');
    expect(server.meterEvents()).toHaveLength(1);
  });

  it('rejects unknown event names, unknown or missing customers and over-long names', async () => {
    // Act
    const noMeter = await caught(
      stripe.billing.meterEvents.create({ event_name: 'nope', payload: { stripe_customer_id: customerId, value: '1' } }),
    );
    const noCustomer = await caught(
      stripe.billing.meterEvents.create({ event_name: 'api_calls', payload: { stripe_customer_id: 'cus_ghost', value: '1' } }),
    );
    const noCustomerKey = await caught(stripe.billing.meterEvents.create({ event_name: 'api_calls', payload: { value: '1' } }));
    const longId = await caught(send('1', { identifier: 'x'.repeat(101) }));
    const longName = await caught(stripe.billing.meterEvents.create({ event_name: 'e'.repeat(101), payload: { value: '1' } }));
    // Assess
    expect(noMeter).toMatchObject({ statusCode: 400, param: 'event_name' });
    expect(noCustomer).toMatchObject({ statusCode: 400, message: "No such customer: 'cus_ghost'" });
    expect(noCustomerKey).toMatchObject({ statusCode: 400, param: 'payload[stripe_customer_id]' });
    expect(longId).toMatchObject({ statusCode: 400, param: 'identifier' });
    expect(longName).toMatchObject({ statusCode: 400, param: 'event_name' });
    expect(server.meterEvents()).toHaveLength(0);
  });
});

describe('Idempotency-Key', () => {
  it('replays the first response for the same key and parameters instead of storing twice', async () => {
    // Act
    const first = await send('2', {}, stripe);
    const again = await stripe.billing.meterEvents.create(
      { event_name: 'api_calls', payload: { stripe_customer_id: customerId, value: '2' } },
      { idempotencyKey: 'report-1' },
    );
    const replay = await stripe.billing.meterEvents.create(
      { event_name: 'api_calls', payload: { stripe_customer_id: customerId, value: '2' } },
      { idempotencyKey: 'report-1' },
    );
    // Assess
    expect(replay.identifier).toBe(again.identifier);
    expect(replay.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(server.meterEvents().map((e) => e.identifier)).toEqual([first.identifier, again.identifier]);
    expect(
      server
        .requestLog()
        .filter((r) => r.idempotencyKey === 'report-1')
        .map((r) => r.replayed),
    ).toEqual([false, true]);
  });

  it('answers idempotency_error when the same key comes with other parameters', async () => {
    // Prepare
    await send('2', {}, stripe);
    await stripe.billing.meterEvents.create(
      { event_name: 'api_calls', payload: { stripe_customer_id: customerId, value: '2' } },
      { idempotencyKey: 'k' },
    );
    // Act
    const error = await caught(
      stripe.billing.meterEvents.create(
        { event_name: 'api_calls', payload: { stripe_customer_id: customerId, value: '9' } },
        { idempotencyKey: 'k' },
      ),
    );
    // Assess
    expect(error).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(error).toMatchObject({ statusCode: 400, rawType: 'idempotency_error' });
    expect(server.meterEvents()).toHaveLength(2);
  });

  it('forgets keys after 24 hours', async () => {
    // Prepare
    const params = { event_name: 'api_calls', payload: { stripe_customer_id: customerId, value: '2' } };
    await stripe.billing.meterEvents.create(params, { idempotencyKey: 'old' });
    server.clock.advance(DAY * 1000);
    // Act
    const fresh = await stripe.billing.meterEvents.create(params, { idempotencyKey: 'old' });
    // Assess
    expect(fresh.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    expect(server.meterEvents()).toHaveLength(2);
  });
});

describe('meter event adjustments', () => {
  it('cancels an event within 24 hours so it stops counting', async () => {
    // Prepare
    await send('10', { identifier: 'keep', timestamp: T0 - 120 });
    await send('5', { identifier: 'oops', timestamp: T0 - 60 });
    server.clock.advance(DAY * 1000 - 1000);
    // Act
    const adjustment = await stripe.billing.meterEventAdjustments.create({
      event_name: 'api_calls',
      type: 'cancel',
      cancel: { identifier: 'oops' },
    });
    const summary = await stripe.billing.meters.listEventSummaries(meter.id, { customer: customerId, start_time: T0 - 3600, end_time: T0 });
    // Assess
    expect(adjustment).toEqual({
      object: 'billing.meter_event_adjustment',
      cancel: { identifier: 'oops' },
      event_name: 'api_calls',
      livemode: false,
      status: 'pending',
      type: 'cancel',
    });
    expect(summary.data[0]?.aggregated_value).toBe(10);
    expect(server.meterEvents({ includeCancelled: false }).map((e) => e.identifier)).toEqual(['keep']);
  });

  it('refuses to cancel after 24 hours, twice, or an unknown identifier', async () => {
    // Prepare
    await send('5', { identifier: 'late' });
    await send('5', { identifier: 'twice' });
    await stripe.billing.meterEventAdjustments.create({ event_name: 'api_calls', type: 'cancel', cancel: { identifier: 'twice' } });
    server.clock.advance(DAY * 1000);
    // Act
    const late = await caught(
      stripe.billing.meterEventAdjustments.create({ event_name: 'api_calls', type: 'cancel', cancel: { identifier: 'late' } }),
    );
    const again = await caught(
      stripe.billing.meterEventAdjustments.create({ event_name: 'api_calls', type: 'cancel', cancel: { identifier: 'twice' } }),
    );
    const unknown = await caught(
      stripe.billing.meterEventAdjustments.create({ event_name: 'api_calls', type: 'cancel', cancel: { identifier: 'ghost' } }),
    );
    // Assess
    expect(late).toMatchObject({ statusCode: 400, param: 'cancel[identifier]' });
    expect(late.message).toContain('within 24 hours');
    expect(again.message).toContain('already been cancelled');
    expect(unknown).toMatchObject({ statusCode: 400, param: 'cancel[identifier]' });
    expect(server.meterEvents({ identifier: 'late' })[0]?.cancelledAtMs).toBeNull();
  });
});
