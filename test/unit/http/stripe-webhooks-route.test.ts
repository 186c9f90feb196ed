import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../../contract/clock.js';
import { StripeMeterReporter } from '../../../functions/adapters/stripe/stripe-meter-reporter.js';
import { StripeWebhookReceiver } from '../../../functions/adapters/stripe/stripe-webhooks.js';
import { meterEventIdentifier, STRIPE_METERS } from '../../../functions/core/billing/stripe-reporting.js';
import type { AuditEntry, LedgerRecord } from '../../../functions/core/shared/ports.js';
import { makeRouter } from '../../../functions/http/router.js';
import { postStripeWebhook } from '../../../functions/http/routes/stripe-webhooks.js';
import type { Services } from '../../../functions/runtime/services.js';
import type { StripeTestServer } from '../../../local/stripe-test-server/index.js';
import { signatureHeader } from '../../../local/stripe-test-server/webhooks.js';
import { ledgerRecord } from '../../fakes/ledger.js';
import { MemoryLedger } from '../../fakes/memory-ports.js';
import { sdkFor, startServer, T0, T0_MS } from '../../fakes/stripe-test-server.js';

const SECRET = 'whsec_route_unit';
const at = { periodKey: '2026-03', createdAt: '2026-03-10T00:30:00Z', sentAt: '2026-03-10T00:31:00Z' };
let server: StripeTestServer;
let body: string;

/** A ledger in memory that also answers `record()` by key, as the DynamoDB ledger does. */
class KeyedLedger extends MemoryLedger {
  async record(customerId: string, key: Pick<LedgerRecord, 'meter' | 'day' | 'revision'>) {
    return (await this.entries(customerId)).find((r) => r.meter === key.meter && r.day === key.day && r.revision === key.revision);
  }
}

beforeAll(async () => {
  server = await startServer();
  const stripe = sdkFor(server);
  await new StripeMeterReporter({ stripe }).ensureMeters();
  const session = await stripe.v2.billing.meterEventSession.create();
  await sdkFor(server, {}, session.authentication_token).v2.billing.meterEventStream.create({
    events: [
      {
        event_name: STRIPE_METERS.api_calls.eventName,
        identifier: meterEventIdentifier({ customerId: 'acme', meter: 'api_calls', day: '2026-03-09', revision: 0 }),
        payload: { stripe_customer_id: 'cus_gone', value: '5' },
      },
    ],
  });
  const { data: _data, ...thin } = server.webhooks.events()[0]!;
  body = JSON.stringify(thin);
});
afterAll(() => server.close());

function setup(configured = true) {
  const ledger = new KeyedLedger();
  const audit: AuditEntry[] = [];
  const receiver = new StripeWebhookReceiver(sdkFor(server), SECRET, fixedClock(T0_MS));
  const s = {
    ledger,
    audit: { record: async (e: AuditEntry) => void audit.push(e), list: async () => audit },
    newId: () => 'id-1',
    clock: fixedClock(T0_MS),
    ...(configured ? { stripeWebhooks: async () => receiver } : {}),
  } as unknown as Services;
  const route = makeRouter({ 'POST /v1/stripe/webhooks': postStripeWebhook }, s);
  const call = (raw: string, signature: string | undefined, base64 = true) =>
    route({
      rawPath: '/v1/stripe/webhooks',
      requestContext: { http: { method: 'POST', path: '/v1/stripe/webhooks' }, requestId: 'req-1' },
      headers: signature ? { 'stripe-signature': signature } : {},
      body: base64 ? Buffer.from(raw, 'utf8').toString('base64') : raw,
      isBase64Encoded: base64,
    } as unknown as APIGatewayProxyEventV2);
  return { ledger, audit, call };
}

describe('POST /v1/stripe/webhooks', () => {
  it('verifies the exact bytes of a base64-encoded body, marks the record the report names and audits it', async () => {
    const { ledger, audit, call } = setup();
    await ledger.create([ledgerRecord('api_calls', '2026-03-09', 0, 5, 'sent', at)]);
    const res = await call(body, signatureHeader(body, SECRET, T0));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body as string)).toMatchObject({ ignored: false, marked: 1, unresolved: [], unsampled: 0 });
    const [rec] = await ledger.entries('acme');
    expect(rec).toMatchObject({ state: 'error', lastError: 'unknown_customer', asyncError: { code: 'meter_event_customer_not_found' } });
    expect(audit).toMatchObject([{ action: 'stripe.async_errors', actor: 'stripe', counts: { marked: 1 }, requestId: 'req-1' }]);
  });

  it('answers 400 to a bad, stale or missing signature and to a body changed after signing, marking nothing', async () => {
    const { ledger, audit, call } = setup();
    await ledger.create([ledgerRecord('api_calls', '2026-03-09', 0, 5, 'sent', at)]);
    const answers = await Promise.all([
      call(body, signatureHeader(body, 'whsec_someone_else', T0)),
      call(body, signatureHeader(body, SECRET, T0 - 301)),
      call(body, undefined),
      call(`${body} `, signatureHeader(body, SECRET, T0)),
      // The bytes API Gateway would hand over undecoded: base64 text is not the signed body.
      call(Buffer.from(body).toString('base64'), signatureHeader(body, SECRET, T0), false),
    ]);
    expect(answers.map((a) => a.statusCode)).toEqual([400, 400, 400, 400, 400]);
    expect(JSON.parse(answers[0]!.body as string).error).toMatch(/^the Stripe-Signature header does not verify/);
    expect((await ledger.entries('acme'))[0]).toMatchObject({ state: 'sent' });
    expect(audit).toEqual([]);
  });

  it('lists sampled identifiers no record answers to as unresolved, and answers 503 while unconfigured', async () => {
    const { call } = setup();
    const res = await call(body, signatureHeader(body, SECRET, T0));
    expect(JSON.parse(res.body as string)).toMatchObject({ marked: 0, unresolved: [expect.stringMatching(/^srn:api:/)] });
    expect((await setup(false).call(body, signatureHeader(body, SECRET, T0))).statusCode).toBe(503);
  });

  it('acknowledges a verified event of another type without fetching it', async () => {
    const ping = JSON.stringify({
      id: 'evt_ping',
      object: 'v2.core.event',
      type: 'v2.core.event_destination.ping',
      created: '2026-03-10T12:00:00Z',
      livemode: false,
    });
    const res = await setup().call(ping, signatureHeader(ping, SECRET, T0));
    expect([res.statusCode, JSON.parse(res.body as string)]).toEqual([
      200,
      { eventId: 'evt_ping', type: 'v2.core.event_destination.ping', ignored: true },
    ]);
  });
});
