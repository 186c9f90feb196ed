import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayQuarantine } from '../../functions/core/ingest/replay.js';
import { hashKey } from '../../functions/core/shared/api-keys.js';
import { buildCustomer } from '../../functions/core/shared/customers.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { apiCall, post } from '../fakes/events.js';

let stack: LocalStack;
const today = () => new Date().toISOString().slice(0, 10);

beforeAll(async () => {
  stack = await startLocalStack({ visibilityTimeoutSeconds: 1 });
});
afterAll(async () => stack?.stop());

describe('HTTP ingest endpoint', () => {
  it('refuses a missing or wrong key with 401 and an analyst key with 403', async () => {
    // Prepare
    const analystKey = 'mk_analyst_test-key-for-403';
    await stack.services.registry.putKey({
      hash: hashKey(analystKey),
      prefix: 'mk_analyst_t',
      role: 'analyst',
      principal: 'ana',
      createdAt: new Date().toISOString(),
    });
    // Act
    const none = await post(stack.url, undefined, [apiCall('a')]);
    const wrong = await post(stack.url, 'mk_ingest_nope', [apiCall('a')]);
    const analyst = await post(stack.url, analystKey, [apiCall('a')]);
    // Assess
    expect(none.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('unknown API key');
    expect(analyst.status).toBe(403);
  });

  it('answers 400 for an unparseable body and 413 for too many events or bytes', async () => {
    // Act
    const bad = await post(stack.url, stack.ingestKey, '{not json');
    const many = await post(
      stack.url,
      stack.ingestKey,
      Array.from({ length: 1001 }, () => apiCall('a')),
    );
    const big = await post(stack.url, stack.ingestKey, [{ ...apiCall('a'), pad: 'x'.repeat(1024 * 1024) }]);
    // Assess
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('body is not valid JSON');
    expect(many.status).toBe(413);
    expect(big.status).toBe(413);
  });

  it('accepts a single structured-mode event and generates a sortable id when none is given', async () => {
    // Prepare
    await stack.services.registry.putCustomer(buildCustomer({ id: 'single' }, undefined, Date.now()));
    const { id: _omit, ...noId } = apiCall('single');
    // Act
    const res = await post(stack.url, stack.ingestKey, noId, 'application/cloudevents+json');
    await stack.drain();
    // Assess
    expect(res.status).toBe(202);
    expect(res.body.accepted?.[0]?.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    const stored = await stack.services.events.listDay('single', today());
    expect(stored.map((e) => e.id)).toEqual([res.body.accepted?.[0]?.id]);
  });

  it('rejects an event whose source differs from the key binding, naming the field', async () => {
    // Act
    const res = await post(stack.url, stack.ingestKey, [apiCall('single', { source: 'someone-else' })]);
    // Assess
    expect(res.status).toBe(202);
    expect(res.body.rejected?.[0]?.errors).toEqual([
      { field: 'source', message: 'does not match the source "local" that this ingest key is bound to' },
    ]);
  });

  it('stores the client IP as a /24 prefix only', async () => {
    // Prepare
    await stack.services.registry.putCustomer(buildCustomer({ id: 'ipcheck' }, undefined, Date.now()));
    // Act
    await post(stack.url, stack.ingestKey, [apiCall('ipcheck', {}, { clientIp: '198.51.100.23', country: 'US', region: 'US-CA' })]);
    await stack.drain();
    // Assess
    const [e] = await stack.services.events.listDay('ipcheck', today());
    expect(e!.ipPrefix).toBe('198.51.100.0/24');
    expect(JSON.stringify(e)).not.toContain('198.51.100.23');
  });

  it('quarantines events of an unknown customer and counts them once replayed after registration', async () => {
    // Prepare
    const events = [apiCall('newco', {}, { quantity: 5 }), apiCall('newco', {}, { quantity: 6 })];
    await post(stack.url, stack.ingestKey, events);
    await stack.drain();
    const quarantined = await stack.services.quarantine.list({ customerId: 'newco' });
    expect(quarantined.map((q) => q.reason)).toEqual(['unknown_customer', 'unknown_customer']);
    // Act
    await stack.services.registry.putCustomer(buildCustomer({ id: 'newco' }, undefined, Date.now()));
    const outcome = await replayQuarantine(
      { customerId: 'newco' },
      { ...stack.services, customers: (ids) => stack.services.registry.customers(ids) },
    );
    const again = await replayQuarantine(
      { customerId: 'newco' },
      { ...stack.services, customers: (ids) => stack.services.registry.customers(ids) },
    );
    await stack.drain();
    // Assess
    expect(outcome).toEqual({ replayed: 2, kept: [] });
    expect(again.replayed).toBe(0);
    expect(await stack.services.quarantine.list({ customerId: 'newco' })).toEqual([]);
    const frags = await stack.services.usage.fragments('newco', today());
    expect(frags.reduce((s, f) => s + Object.values(f.calls).reduce((a, b) => a + b, 0), 0)).toBe(11);
  });

  it("quarantines an unknown customer's event sent twice in one request once, and still counts the known customer's", async () => {
    // Prepare
    await stack.services.registry.putCustomer(buildCustomer({ id: 'twice-known' }, undefined, Date.now()));
    const twice = apiCall('twice-unknown', { id: 'same-id' });

    // Act
    await post(stack.url, stack.ingestKey, [twice, twice, apiCall('twice-known', {}, { quantity: 3 })]);
    await stack.drain();

    // Assess
    expect((await stack.services.quarantine.list({ customerId: 'twice-unknown' })).map((q) => q.reason)).toEqual(['unknown_customer']);
    const frags = await stack.services.usage.fragments('twice-known', today());
    expect(frags.reduce((s, f) => s + Object.values(f.calls).reduce((a, b) => a + b, 0), 0)).toBe(3);
  });

  it('moves a message that keeps failing to the DLQ after 5 receives and reports it in health', async () => {
    // Prepare: a message whose processing always throws (the registry lookup fails for this customer id).
    // The consumer's own services (each function has its own clients, acting as its role).
    const consumer = stack.functionServices.consume;
    const realCustomers = consumer.registry.customers.bind(consumer.registry);
    consumer.registry.customers = async (ids) => {
      if (ids.includes('poison')) throw new Error('registry unavailable');
      return realCustomers(ids);
    };
    const body = JSON.stringify({
      v: 1,
      events: [
        { id: 'p1', source: 'local', customerId: 'poison', type: 'com.serenity.api.call', time: new Date().toISOString(), quantity: 1 },
      ],
    });
    // Act
    await stack.services.clients.sqs.send(new SendMessageCommand({ QueueUrl: stack.services.config.queueUrl, MessageBody: body }));
    await stack.drain(30_000);
    // Assess
    // Without a key, liveness only; the depths need an admin key.
    expect(await (await fetch(`${stack.url}/v1/health`)).json()).toEqual({ status: 'ok' });
    const health = await (await fetch(`${stack.url}/v1/health`, { headers: { authorization: `Bearer ${stack.adminKey}` } })).json();
    expect(health.dlq).toBe(1);
    expect(health.status).toBe('attention');
    consumer.registry.customers = realCustomers;
  });
});
