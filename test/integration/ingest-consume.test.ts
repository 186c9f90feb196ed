import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageReport } from '../../functions/core/count/usage-query.js';
import { buildCustomer } from '../../functions/core/shared/customers.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { apiCall, fileEvent, post, userActive } from '../fakes/events.js';

let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({ visibilityTimeoutSeconds: 1 });
  for (const id of ['acme', 'globex']) await stack.services.registry.putCustomer(buildCustomer({ id }, undefined, Date.now()));
});
afterAll(async () => stack?.stop());

async function usage(customer: string, granularity = 'day') {
  const from = new Date(Date.now() - 86_400_000).toISOString();
  const to = new Date(Date.now() + 3_600_000).toISOString();
  const res = await fetch(`${stack.url}/v1/usage?customer=${customer}&from=${from}&to=${to}&granularity=${granularity}`, {
    headers: { authorization: `Bearer ${stack.adminKey}` },
  });
  return { status: res.status, body: (await res.json()) as UsageReport };
}

describe('ingest to DynamoDB on the local stack', () => {
  it('counts the same event sent three times once', async () => {
    // Prepare
    const e = apiCall('acme', {}, { quantity: 7 });
    // Act
    for (let i = 0; i < 3; i++) expect((await post(stack.url, stack.ingestKey, [e])).status).toBe(202);
    await stack.drain();
    // Assess
    const u = await usage('acme');
    expect(u.status).toBe(200);
    expect(u.body.totals.api_calls).toBe(7);
    const stored = await stack.services.events.listDay('acme', e.time.slice(0, 10));
    expect(stored.filter((s) => s.id === e.id)).toHaveLength(1);
  });

  it('stores nothing of a rejected event and counts the good ones of a mixed batch exactly', async () => {
    // Prepare
    const good = [
      apiCall('globex', {}, { quantity: 2 }),
      userActive('globex', 'u1'),
      userActive('globex', 'u1'),
      fileEvent('globex', 'f1', 'protected'),
      fileEvent('globex', 'f2', 'protected'),
    ];
    const bad = [
      apiCall('globex', {}, { quantity: 0 }),
      apiCall('globex', { time: '2020-01-01T00:00:00Z' }),
      { ...apiCall('globex'), type: 'com.serenity.nope' },
      apiCall('globex', {}, { note: '4111 1111 1111 1111' }),
    ];
    // Act
    const res = await post(stack.url, stack.ingestKey, [...good, ...bad]);
    await stack.drain();
    // Assess
    expect(res.status).toBe(202);
    expect(res.body.accepted).toHaveLength(5);
    expect(res.body.rejected?.map((r) => r.index)).toEqual([5, 6, 7, 8]);
    expect(res.body.rejected?.[0]?.errors[0]).toEqual({ field: 'data.quantity', message: 'must be at least 1' });
    expect(res.body.rejected?.[3]?.errors[0]?.field).toBe('data.note');
    expect(JSON.stringify(res.body)).not.toContain('4111');
    const u = await usage('globex');
    expect(u.body.totals).toEqual({ api_calls: 2, active_users: 1, protected_files: 2 });
    const stored = await stack.services.events.listDay('globex', good[0]!.time.slice(0, 10));
    const badIds = new Set(bad.map((b) => b.id));
    expect(stored.filter((s) => badIds.has(s.id))).toHaveLength(0);
    const q = await stack.services.quarantine.list({ customerId: 'globex' });
    expect(q).toHaveLength(4);
    expect(JSON.stringify(q)).not.toContain('4111');
  });
});
