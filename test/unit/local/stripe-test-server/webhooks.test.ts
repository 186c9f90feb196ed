import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StripeTestServer } from '../../../../local/stripe-test-server/index.js';
import { signatureHeader } from '../../../../local/stripe-test-server/webhooks.js';
import { control, customerAndMeter, sdkFor, T0, T0_MS, useServer } from '../../../fakes/stripe-test-server.js';

const SECRET = 'whsec_test_webhooks_unit';

let server: StripeTestServer;
let stripe: Stripe;
let customerId: string;
let meterId: string;
/** What the endpoint received: the exact body and the signature header. */
let received: { body: string; signature: string }[] = [];
let answer = 200;
let endpoint: Server;
let endpointUrl: string;

useServer((s, sdk) => ([server, stripe] = [s, sdk]));

beforeAll(async () => {
  endpoint = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ body: Buffer.concat(chunks).toString('utf8'), signature: String(req.headers['stripe-signature']) });
      res.writeHead(answer).end();
    });
  });
  await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', r));
  endpointUrl = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/hook`;
});
afterAll(() => new Promise<void>((r) => endpoint.close(() => r())));
beforeEach(async () => {
  received = [];
  answer = 200;
  server.webhooks.setEndpoint({ url: endpointUrl, secret: SECRET });
  const made = await customerAndMeter(stripe);
  customerId = made.customerId;
  meterId = made.meter.id;
});

async function stream(events: Record<string, unknown>[]): Promise<void> {
  const session = await stripe.v2.billing.meterEventSession.create();
  await sdkFor(server, {}, session.authentication_token).v2.billing.meterEventStream.create({ events: events as never });
}

describe('webhooks for asynchronous meter errors', () => {
  it('sends one signed thin error_report_triggered per meter, which the SDK verifies and fetches in full', async () => {
    // Act
    await stream([
      { event_name: 'api_calls', identifier: 'good', payload: { stripe_customer_id: customerId, value: '1' } },
      { event_name: 'api_calls', identifier: 'nobody-1', payload: { stripe_customer_id: 'cus_missing', value: '1' } },
      { event_name: 'api_calls', identifier: 'nobody-2', payload: { stripe_customer_id: 'cus_missing', value: '2' } },
      { event_name: 'api_calls', identifier: 'digits', payload: { stripe_customer_id: customerId, value: '1234567890123456' } },
    ]);
    await server.webhooks.flush();
    // Assess
    expect(received).toHaveLength(1);
    const [hook] = received;
    const notification = stripe.parseEventNotification(hook!.body, hook!.signature, SECRET, undefined, undefined, T0_MS);
    expect(notification).toMatchObject({
      object: 'v2.core.event',
      type: 'v1.billing.meter.error_report_triggered',
      livemode: false,
      related_object: { id: meterId, type: 'billing.meter', url: `/v1/billing/meters/${meterId}` },
    });
    expect(JSON.parse(hook!.body)).not.toHaveProperty('data');
    const event = (await notification.fetchEvent()) as Stripe.Events.V1BillingMeterErrorReportTriggeredEvent;
    expect(event.data.reason.error_count).toBe(3);
    expect(event.data.reason.error_types).toEqual([
      {
        code: 'meter_event_customer_not_found',
        error_count: 2,
        sample_errors: [
          { error_message: expect.stringContaining('cus_missing'), request: { identifier: 'nobody-1' } },
          { error_message: expect.stringContaining('cus_missing'), request: { identifier: 'nobody-2' } },
        ],
      },
      {
        code: 'meter_event_value_too_many_digits',
        error_count: 1,
        sample_errors: [{ error_message: expect.stringContaining('15 significant digits'), request: { identifier: 'digits' } }],
      },
    ]);
    expect(server.meterEvents().map((e) => e.identifier)).toEqual(['good']);
  });

  it('sends no_meter_found, with no related object, for an event naming no meter', async () => {
    await stream([{ event_name: 'nothing_here', identifier: 'lost', payload: { stripe_customer_id: customerId, value: '1' } }]);
    await server.webhooks.flush();
    const n = stripe.parseEventNotification(received[0]!.body, received[0]!.signature, SECRET, undefined, undefined, T0_MS);
    expect(n.type).toBe('v1.billing.meter.no_meter_found');
    expect(n).not.toHaveProperty('related_object');
    const event = (await n.fetchEvent()) as Stripe.Events.V1BillingMeterNoMeterFoundEvent;
    expect(event.data.reason.error_types.map((t) => [t.code, t.sample_errors[0]?.request.identifier])).toEqual([['no_meter', 'lost']]);
  });

  it("signs as Stripe documents: t=<seconds>,v1=HMAC-SHA256(secret, t + '.' + body)", async () => {
    await stream([{ event_name: 'api_calls', identifier: 'x', payload: { stripe_customer_id: 'cus_missing', value: '1' } }]);
    await server.webhooks.flush();
    expect(received[0]!.signature).toBe(signatureHeader(received[0]!.body, SECRET, T0));
    // The SDK refuses a body changed by one byte, and another secret.
    const tampered = received[0]!.body.replace('"livemode":false', '"livemode":true');
    expect(() => stripe.parseEventNotification(tampered, received[0]!.signature, SECRET, undefined, undefined, T0_MS)).toThrow(
      Stripe.errors.StripeSignatureVerificationError,
    );
    expect(() =>
      stripe.parseEventNotification(received[0]!.body, received[0]!.signature, 'whsec_other', undefined, undefined, T0_MS),
    ).toThrow(Stripe.errors.StripeSignatureVerificationError);
  });

  it('sends nothing for accepted events or for codes outside Stripe’s enum, and retries an endpoint that fails', async () => {
    await stream([
      { event_name: 'api_calls', identifier: 'ok', payload: { stripe_customer_id: customerId, value: '1' } },
      { event_name: 'api_calls', identifier: 'ok', payload: { stripe_customer_id: customerId, value: '1' } },
    ]);
    await server.webhooks.flush();
    expect(server.errorReports().map((r) => r.code)).toEqual(['duplicate_identifier']);
    expect(received).toEqual([]);
    answer = 500;
    await stream([{ event_name: 'api_calls', identifier: 'y', payload: { stripe_customer_id: 'cus_missing', value: '1' } }]);
    await server.webhooks.flush();
    expect(server.webhooks.deliveries().map((d) => [d.attempt, d.status])).toEqual([
      [1, 500],
      [2, 500],
      [3, 500],
    ]);
  });

  it('answers 404 resource_missing for an unknown event, and the control surface sets the endpoint', async () => {
    await expect(stripe.v2.core.events.retrieve('evt_test_nope')).rejects.toMatchObject({ statusCode: 404 });
    expect((await control(server, 'POST', '/_test/webhook_endpoint', null)).status).toBe(200);
    await stream([{ event_name: 'api_calls', identifier: 'z', payload: { stripe_customer_id: 'cus_missing', value: '1' } }]);
    await server.webhooks.flush();
    expect(received).toEqual([]);
    expect(server.webhooks.events()).toHaveLength(1);
    expect((await control(server, 'POST', '/_test/webhook_endpoint', { url: endpointUrl, secret: 'nope' })).status).toBe(400);
  });
});
