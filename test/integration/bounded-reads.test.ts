import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FieldError } from '../../contract/errors.js';
import { openFlag } from '../../functions/core/fraud/merge-flags.js';
import type { Detection } from '../../functions/core/fraud/types.js';
import { hashKey } from '../../functions/core/shared/api-keys.js';
import type { QuarantineItem } from '../../functions/core/shared/ports.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';

let stack: LocalStack;
const ANALYST = 'mk_analyst_bounded-reads-key';

type Answer = { error?: string; errors?: FieldError[]; flags?: { id: string }[]; cursor?: string } & Record<string, unknown>;

/** Calls the local stack's API over HTTP. */
async function call(method: string, path: string, key?: string, body?: unknown): Promise<{ status: number; body: Answer }> {
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Answer };
}

const detection = (customerId: string, hour: number): Detection => ({
  customerId,
  rule: 'volume_spike',
  meter: 'api_calls',
  window: {
    from: `2026-11-20T${String(hour).padStart(2, '0')}:00:00.000Z`,
    to: `2026-11-20T${String(hour + 1).padStart(2, '0')}:00:00.000Z`,
  },
  score: 0.9,
  severity: 'high',
  evidence: { summary: 'spike', observed: 5000, expected: 300, signals: { z: 9 }, series: [] },
});

const quarantined = (customerId: string, key: string): QuarantineItem => ({
  customerId,
  key,
  reason: 'unknown_customer',
  errors: [{ field: 'subject', message: 'is not a registered customer' }],
  replayable: true,
  origin: 'ingest',
  quarantinedAt: new Date().toISOString(),
  attempts: 1,
});

/** The DynamoDB commands sent on the operator's client while `f` runs. */
async function commandsDuring(f: () => Promise<unknown>): Promise<string[]> {
  const names: string[] = [];
  const stackOf = stack.services.clients.dynamo.middlewareStack;
  stackOf.add(
    (next, context) => async (args) => {
      names.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'commandSpy' },
  );
  try {
    await f();
  } finally {
    stackOf.remove('commandSpy');
  }
  return names;
}

beforeAll(async () => {
  stack = await startLocalStack({ noPoller: true });
  await stack.services.registry.putKey({
    hash: hashKey(ANALYST),
    prefix: ANALYST.slice(0, 12),
    role: 'analyst',
    principal: 'ana',
    createdAt: new Date().toISOString(),
  });
  const flags = Array.from({ length: 5 }, (_, i) => openFlag(detection(`paged-${i}`, i), '2026-11-21T00:30:00.000Z'));
  await stack.services.flags.save(flags.map((flag) => ({ flag, basedOn: undefined })));
});
afterAll(async () => stack?.stop());

describe('bounded reads (defect 9)', () => {
  it('lists flags a bounded page at a time, and following the cursors yields each flag once', async () => {
    // Act
    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 50; page++) {
      const r = await call('GET', `/v1/flags?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, ANALYST);
      expect(r.status).toBe(200);
      sizes.push(r.body.flags!.length);
      seen.push(...r.body.flags!.map((f) => f.id));
      cursor = r.body.cursor;
      if (!cursor) break;
    }

    // Assess: no page over its limit, and all five flags, none twice
    expect(Math.max(...sizes)).toBeLessThanOrEqual(2);
    expect(sizes.length).toBeGreaterThan(1);
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
  });

  it('refuses a tampered cursor or an out-of-range limit with a 400 naming the field', async () => {
    // Prepare: a real cursor, then the same with another item's key, and noise
    const first = await call('GET', '/v1/flags?limit=1', ANALYST);
    expect(first.body.cursor).toBeDefined();
    const foreign = Buffer.from(JSON.stringify({ pk: 'KEY#abc', sk: 'KEY' })).toString('base64url');
    const extra = Buffer.from(JSON.stringify({ pk: 'FLAG#x', sk: 'FLAG', n: { S: 1 } })).toString('base64url');

    // Act
    const cursors = [`${first.body.cursor}!`, foreign, extra, 'bm90IGpzb24', 'x'.repeat(5000)];
    const byCursor = await Promise.all(cursors.map((c) => call('GET', `/v1/flags?cursor=${encodeURIComponent(c)}`, ANALYST)));
    const byLimit = await Promise.all(['0', 'abc', '1000', '-1', '2.5'].map((l) => call('GET', `/v1/flags?limit=${l}`, ANALYST)));

    // Assess
    for (const r of byCursor) expect([r.status, r.body.errors?.[0]?.field]).toEqual([400, 'cursor']);
    for (const r of byLimit) expect([r.status, r.body.errors?.[0]?.field]).toEqual([400, 'limit']);
  });

  it('answers 400, not 500, for a flag id longer than a key may be, and decodes an encoded one', async () => {
    // Act
    const long = 'f'.repeat(3000);
    const get = await call('GET', `/v1/flags/${long}`, ANALYST);
    const review = await call('POST', `/v1/flags/${long}/review`, ANALYST, { decision: 'dismiss', note: 'n' });
    const malformed = await call('GET', '/v1/flags/%E0%A4%A', ANALYST);
    const encoded = await call('GET', `/v1/flags/${encodeURIComponent('no such/flag')}`, ANALYST);

    // Assess
    expect([get.status, get.body.errors?.[0]?.field]).toEqual([400, 'id']);
    expect([review.status, review.body.errors?.[0]?.field]).toEqual([400, 'id']);
    expect([malformed.status, malformed.body.errors?.[0]?.field]).toEqual([400, 'id']);
    expect([encoded.status, encoded.body.error]).toEqual([404, 'no flag no such/flag']);
  });

  it('answers liveness only without a key, and the depths only to an admin key', async () => {
    // Act
    const anonymous = await call('GET', '/v1/health');
    const ingest = await call('GET', '/v1/health', stack.ingestKey);
    const admin = await call('GET', '/v1/health', stack.adminKey);

    // Assess
    expect([anonymous.status, anonymous.body]).toEqual([200, { status: 'ok' }]);
    expect(ingest.status).toBe(403);
    expect(admin.status).toBe(200);
    expect(Object.keys(admin.body).sort()).toEqual(['dlq', 'inFlight', 'quarantine', 'queue', 'status']);
  });

  it('counts the quarantine from counters kept with each put and remove, in one read and no scan', async () => {
    // Prepare: three items, one of them quarantined twice (an overwrite), then one removed
    const before = await stack.services.quarantine.count();
    await stack.services.quarantine.put([quarantined('ghost-a', 'k1'), quarantined('ghost-a', 'k2'), quarantined('ghost-b', 'k3')]);
    await stack.services.quarantine.put([quarantined('ghost-a', 'k1')]);
    await stack.services.quarantine.remove({ customerId: 'ghost-b', reason: 'unknown_customer', key: 'k3' });
    await stack.services.quarantine.remove({ customerId: 'ghost-b', reason: 'unknown_customer', key: 'k3' });

    // Act
    let counted = 0;
    const commands = await commandsDuring(async () => {
      counted = await stack.services.quarantine.count();
    });
    const health = await call('GET', '/v1/health', stack.adminKey);
    const listed = await stack.services.quarantine.list();

    // Assess
    expect(counted - before).toBe(2);
    expect(health.body.quarantine).toBe(counted);
    // One Query of the counters' small partition (a counter per expiry day, see `QUARANTINE_COUNTER_PK`).
    expect(commands).toEqual(['QueryCommand']);
    expect(listed.map((i) => i.key).sort()).toEqual(['k1', 'k2']);
  });
});
