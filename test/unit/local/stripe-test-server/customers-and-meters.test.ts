import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import type { StripeTestServer } from '../../../../local/stripe-test-server/index.js';
import { caught, sdkFor, T0, useServer } from '../../../fakes/stripe-test-server.js';

let server: StripeTestServer;
let stripe: Stripe;

useServer((s, sdk) => ([server, stripe] = [s, sdk]));

describe('authentication', () => {
  it('answers 401 in Stripe shape when no key is sent', async () => {
    // Act
    const res = await fetch(`${server.url}/v1/customers`);
    // Assess
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toContain('You did not provide an API key');
  });

  it('refuses a key that is not a test secret key', async () => {
    // Prepare
    const live = sdkFor(server, {}, 'sk_live_not_allowed_here');
    // Act
    const error = await caught(live.customers.list());
    // Assess
    expect(error).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(error.statusCode).toBe(401);
    expect(error.message).toMatch(/^Invalid API Key provided: sk_live_/);
  });

  it('accepts Basic auth with the key as user name, like curl -u', async () => {
    // Act
    const res = await fetch(`${server.url}/v1/customers`, {
      headers: { Authorization: `Basic ${Buffer.from('sk_test_abc:').toString('base64')}` },
    });
    // Assess
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ object: 'list', data: [], has_more: false, url: '/v1/customers' });
  });
});

describe('unknown routes', () => {
  it('answers 404 with Stripe error shape', async () => {
    // Act
    const res = await fetch(`${server.url}/v1/charges/ch_1`, { headers: { Authorization: 'Bearer sk_test_x' } });
    // Assess
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error).toMatchObject({ type: 'invalid_request_error' });
    expect(body.error.message).toContain('Unrecognized request URL (GET: /v1/charges/ch_1)');
  });
});

describe('customers', () => {
  it('creates, retrieves and lists newest first with cursor pagination', async () => {
    // Prepare
    const a = await stripe.customers.create({ email: 'a@example.com', metadata: { tenant: 't1' } });
    const b = await stripe.customers.create({ email: 'b@example.com' });
    const c = await stripe.customers.create({ email: 'c@example.com' });
    // Act
    const fetched = await stripe.customers.retrieve(a.id);
    const page1 = await stripe.customers.list({ limit: 2 });
    const page2 = await stripe.customers.list({ limit: 2, starting_after: page1.data[1]?.id });
    // Assess
    expect(a.id).toMatch(/^cus_[0-9A-Za-z]{14}$/);
    expect(fetched).toMatchObject({ id: a.id, object: 'customer', email: 'a@example.com', metadata: { tenant: 't1' }, created: T0 });
    expect(page1.data.map((x) => x.id)).toEqual([c.id, b.id]);
    expect(page1.has_more).toBe(true);
    expect(page2.data.map((x) => x.id)).toEqual([a.id]);
    expect(page2.has_more).toBe(false);
  });

  it('answers 404 resource_missing for an unknown customer', async () => {
    // Act
    const error = await caught(stripe.customers.retrieve('cus_missing'));
    // Assess
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ statusCode: 404, code: 'resource_missing', message: "No such customer: 'cus_missing'" });
  });
});

describe('billing meters', () => {
  it('creates a meter with Stripe defaults for the payload keys', async () => {
    // Act
    const meter = await stripe.billing.meters.create({
      display_name: 'Calls',
      event_name: 'calls',
      default_aggregation: { formula: 'count' },
    });
    // Assess
    expect(meter.id).toMatch(/^mtr_test_/);
    expect(meter).toMatchObject({
      object: 'billing.meter',
      customer_mapping: { event_payload_key: 'stripe_customer_id', type: 'by_id' },
      value_settings: { event_payload_key: 'value' },
      default_aggregation: { formula: 'count' },
      event_time_window: null,
      status: 'active',
      status_transitions: { deactivated_at: null },
      created: T0,
    });
    expect(await stripe.billing.meters.retrieve(meter.id)).toMatchObject({ id: meter.id, event_name: 'calls' });
  });

  it('keeps custom payload keys and the event time window', async () => {
    // Act
    const meter = await stripe.billing.meters.create({
      display_name: 'Seats',
      event_name: 'seats',
      default_aggregation: { formula: 'last' },
      customer_mapping: { event_payload_key: 'customer', type: 'by_id' },
      value_settings: { event_payload_key: 'seats' },
      event_time_window: 'day',
    });
    // Assess
    expect(meter.customer_mapping.event_payload_key).toBe('customer');
    expect(meter.value_settings.event_payload_key).toBe('seats');
    expect(meter.event_time_window).toBe('day');
  });

  it('rejects a second meter with the same event_name and a formula Stripe does not have', async () => {
    // Prepare
    await stripe.billing.meters.create({ display_name: 'A', event_name: 'dup', default_aggregation: { formula: 'sum' } });
    // Act
    const duplicate = await caught(
      stripe.billing.meters.create({ display_name: 'B', event_name: 'dup', default_aggregation: { formula: 'sum' } }),
    );
    const badFormula = await caught(
      stripe.billing.meters.create({ display_name: 'C', event_name: 'c', default_aggregation: { formula: 'max' } }),
    );
    // Assess
    expect(duplicate).toMatchObject({ statusCode: 400, param: 'event_name' });
    expect(badFormula).toMatchObject({ statusCode: 400, param: 'default_aggregation[formula]' });
    expect(server.meters()).toHaveLength(1);
  });

  it('lets only display_name change', async () => {
    // Prepare
    const meter = await stripe.billing.meters.create({ display_name: 'Old', event_name: 'e', default_aggregation: { formula: 'sum' } });
    const sneaky: Record<string, unknown> = { display_name: 'New', event_name: 'other' };
    // Act
    const renamed = await stripe.billing.meters.update(meter.id, { display_name: 'Renamed' });
    const error = await caught(stripe.billing.meters.update(meter.id, sneaky as Stripe.Billing.MeterUpdateParams));
    // Assess
    expect(renamed.display_name).toBe('Renamed');
    expect(error).toMatchObject({ statusCode: 400, code: 'parameter_unknown', message: 'Received unknown parameter: event_name' });
    expect((await stripe.billing.meters.retrieve(meter.id)).event_name).toBe('e');
  });

  it('deactivates and reactivates, and lists by status', async () => {
    // Prepare
    const keep = await stripe.billing.meters.create({ display_name: 'K', event_name: 'k', default_aggregation: { formula: 'sum' } });
    const stop = await stripe.billing.meters.create({ display_name: 'S', event_name: 's', default_aggregation: { formula: 'sum' } });
    // Act
    const deactivated = await stripe.billing.meters.deactivate(stop.id);
    const inactive = await stripe.billing.meters.list({ status: 'inactive' });
    const active = await stripe.billing.meters.list({ status: 'active' });
    const reactivated = await stripe.billing.meters.reactivate(stop.id);
    // Assess
    expect(deactivated).toMatchObject({ status: 'inactive', status_transitions: { deactivated_at: T0 } });
    expect(inactive.data.map((m) => m.id)).toEqual([stop.id]);
    expect(active.data.map((m) => m.id)).toEqual([keep.id]);
    expect(reactivated).toMatchObject({ status: 'active', status_transitions: { deactivated_at: null } });
  });
});
