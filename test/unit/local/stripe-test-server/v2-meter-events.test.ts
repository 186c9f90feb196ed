import Stripe from 'stripe';
import { beforeEach, describe, expect, it } from 'vitest';
import type { ErrorReport, StripeTestServer } from '../../../../local/stripe-test-server/index.js';
import { caught, control, customerAndMeter, sdkFor, T0, useServer } from '../../../fakes/stripe-test-server.js';

let server: StripeTestServer;
let stripe: Stripe;
let customerId: string;

useServer((s, sdk) => ([server, stripe] = [s, sdk]));
beforeEach(async () => {
  ({ customerId } = await customerAndMeter(stripe));
});

describe('POST /v2/billing/meter_events', () => {
  it('validates synchronously and answers the v2 object with ISO times', async () => {
    // Act
    const event = await stripe.v2.billing.meterEvents.create({
      event_name: 'api_calls',
      identifier: 'v2-1',
      timestamp: '2026-03-10T11:59:00.000Z',
      payload: { stripe_customer_id: customerId, value: '4' },
    });
    // Assess
    expect(event).toMatchObject({
      object: 'v2.billing.meter_event',
      created: '2026-03-10T12:00:00.000Z',
      identifier: 'v2-1',
      timestamp: '2026-03-10T11:59:00.000Z',
      livemode: false,
    });
    expect(server.meterEvents()).toMatchObject([{ identifier: 'v2-1', value: 4, timestamp: T0 - 60, source: 'v2' }]);
  });

  it('shares the identifier space with v1 and rejects the duplicate with no-retry', async () => {
    // Prepare
    await stripe.billing.meterEvents.create({
      event_name: 'api_calls',
      identifier: 'shared',
      payload: { stripe_customer_id: customerId, value: '1' },
    });
    // Act
    const error = await caught(
      stripe.v2.billing.meterEvents.create({
        event_name: 'api_calls',
        identifier: 'shared',
        payload: { stripe_customer_id: customerId, value: '1' },
      }),
    );
    // Assess
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error.message).toContain('An event already exists with identifier shared');
    expect(error.headers?.['stripe-should-retry']).toBe('false');
  });

  it('rejects a payload value sent as a JSON number', async () => {
    // Prepare
    const payload: Record<string, unknown> = { stripe_customer_id: customerId, value: 4 };
    // Act
    const error = await caught(
      stripe.v2.billing.meterEvents.create({ event_name: 'api_calls', payload: payload as Record<string, string> }),
    );
    // Assess
    expect(error).toMatchObject({ statusCode: 400, param: 'payload.value' });
    expect(server.meterEvents()).toHaveLength(0);
  });
});

describe('meter event stream', () => {
  it('issues a 15 minute session token', async () => {
    // Act
    const session = await stripe.v2.billing.meterEventSession.create();
    // Assess
    expect(session).toMatchObject({
      object: 'v2.billing.meter_event_session',
      created: '2026-03-10T12:00:00.000Z',
      expires_at: '2026-03-10T12:15:00.000Z',
      livemode: false,
    });
    expect(session.authentication_token).toMatch(/^mes_tok_/);
  });

  it('answers {} at once, stores valid events and turns invalid ones into error reports', async () => {
    // Prepare
    const session = await stripe.v2.billing.meterEventSession.create();
    const streamer = sdkFor(server, {}, session.authentication_token);
    // Act
    await streamer.v2.billing.meterEventStream.create({
      events: [
        { event_name: 'api_calls', identifier: 's-1', payload: { stripe_customer_id: customerId, value: '2' } },
        { event_name: 'api_calls', identifier: 's-2', payload: { stripe_customer_id: customerId, value: '2.5' } },
        { event_name: 'unmetered', identifier: 's-3', payload: { stripe_customer_id: customerId, value: '1' } },
        { event_name: 'api_calls', identifier: 's-1', payload: { stripe_customer_id: customerId, value: '2' } },
      ],
    });
    const reports = await control<{ data: ErrorReport[] }>(server, 'GET', '/_test/error_reports');
    // Assess
    expect(server.meterEvents().map((e) => [e.identifier, e.source])).toEqual([['s-1', 'v2_stream']]);
    expect(reports.status).toBe(200);
    expect(reports.body.data.map((r) => [r.identifier, r.code])).toEqual([
      ['s-2', 'meter_event_invalid_value'],
      ['s-3', 'no_meter'],
      ['s-1', 'duplicate_identifier'],
    ]);
  });

  it('rejects more than 100 events in one request', async () => {
    // Prepare
    const session = await stripe.v2.billing.meterEventSession.create();
    const streamer = sdkFor(server, {}, session.authentication_token);
    const events = Array.from({ length: 101 }, (_, i) => ({
      event_name: 'api_calls',
      identifier: `b-${i}`,
      payload: { stripe_customer_id: customerId, value: '1' },
    }));
    // Act
    const error = await caught(streamer.v2.billing.meterEventStream.create({ events }));
    // Assess
    expect(error).toMatchObject({ statusCode: 400, param: 'events' });
    expect(server.meterEvents()).toHaveLength(0);
  });

  it('refuses an expired token with temporary_session_expired and a secret key outright', async () => {
    // Prepare
    const session = await stripe.v2.billing.meterEventSession.create();
    const streamer = sdkFor(server, {}, session.authentication_token);
    const events = [{ event_name: 'api_calls', payload: { stripe_customer_id: customerId, value: '1' } }];
    server.clock.advance(15 * 60 * 1000);
    // Act
    const expired = await caught(streamer.v2.billing.meterEventStream.create({ events }));
    const secret = await caught(stripe.v2.billing.meterEventStream.create({ events }));
    // Assess
    expect(expired).toBeInstanceOf(Stripe.errors.TemporarySessionExpiredError);
    expect(expired.statusCode).toBe(401);
    expect(secret).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(server.meterEvents()).toHaveLength(0);
  });
});
