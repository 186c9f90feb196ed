import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { utcDay } from '../../contract/clock.js';
import { validateEvent } from '../../contract/event-contract.js';
import { packMessages } from '../../contract/queue-message.js';
import { buildCustomer } from '../../functions/core/shared/customers.js';
import { makePlanner } from '../../functions/handlers/close-planner.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { apiCall, post } from '../fakes/events.js';

// The console's operations routes (admin only) through the local stack's HTTP API, each function acting as its IAM role.
let stack: LocalStack;
const today = () => utcDay(Date.now());

type Answer = { status: number; body: Record<string, unknown> & { error?: string; errors?: { field: string }[]; cursor?: string } };
async function call(method: string, path: string, key: string | undefined, body?: unknown): Promise<Answer> {
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}
const admin = (method: string, path: string, body?: unknown) => call(method, path, stack.adminKey, body);

/** Every item of a paged listing, following its cursors; also the raw pages, to scan them. */
async function allPages<T>(path: string, field: string, key = stack.adminKey): Promise<{ items: T[]; pages: Answer[] }> {
  const pages: Answer[] = [];
  let cursor: string | undefined;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await call('GET', `${path}${cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ''}`, key);
    expect(page.status).toBe(200);
    pages.push(page);
    cursor = page.body.cursor;
  } while (cursor && pages.length < 100);
  return { items: pages.flatMap((p) => p.body[field] as T[]), pages };
}

/** A key issued through POST /v1/keys. */
async function issue(role: string, principal: string, extra: Record<string, unknown> = {}) {
  const r = await admin('POST', '/v1/keys', { role, principal, ...extra });
  expect(r.status).toBe(201);
  return r.body as { key: string; id: string; prefix: string };
}

const calls = async (customer: string) =>
  (await stack.services.usage.fragments(customer, today())).reduce((s, f) => s + Object.values(f.calls).reduce((a, b) => a + b, 0), 0);

beforeAll(async () => {
  stack = await startLocalStack();
}, 180_000);
afterAll(async () => {
  await stack?.stop();
});

describe('roles', () => {
  it('answers 401 without a key and 403 to finance and analyst keys on every operations route', async () => {
    // Prepare
    const finance = await issue('finance', 'fiona');
    const analyst = await issue('analyst', 'ana');
    const routes: [string, string, unknown?][] = [
      ['GET', '/v1/close-runs'],
      ['GET', '/v1/quarantine'],
      ['POST', '/v1/quarantine/replay', {}],
      ['POST', '/v1/dlq/redrive'],
      ['GET', `/v1/audit?day=${today()}`],
      ['GET', '/v1/keys'],
      ['POST', '/v1/keys', { role: 'admin', principal: 'mallory' }],
      ['DELETE', `/v1/keys/${finance.id}`],
    ];

    // Act
    const answers = await Promise.all(
      routes.flatMap(([m, p, b]) => [call(m, p, undefined, b), call(m, p, finance.key, b), call(m, p, analyst.key, b)]),
    );

    // Assess
    expect(answers.map((a) => a.status)).toEqual(routes.flatMap(() => [401, 403, 403]));
    expect((await admin('GET', '/v1/keys?limit=200')).body.keys).not.toContainEqual(expect.objectContaining({ principal: 'mallory' }));
  });
});

describe('the caller', () => {
  it('names the principal and role of a console key, and refuses ingest keys and missing keys', async () => {
    // Prepare
    const fin = await issue('finance', 'fin-me@example.com');
    const ana = await issue('analyst', 'ana-me@example.com');

    // Act
    const [asFinance, asAnalyst, asAdmin, asIngest, anonymous] = await Promise.all([
      call('GET', '/v1/me', fin.key),
      call('GET', '/v1/me', ana.key),
      admin('GET', '/v1/me'),
      call('GET', '/v1/me', stack.ingestKey),
      call('GET', '/v1/me', undefined),
    ]);

    // Assert
    expect(asFinance).toEqual({ status: 200, body: { principal: 'fin-me@example.com', role: 'finance' } });
    expect(asAnalyst).toEqual({ status: 200, body: { principal: 'ana-me@example.com', role: 'analyst' } });
    expect(asAdmin.body.role).toBe('admin');
    expect(asIngest.status).toBe(403);
    expect(anonymous.status).toBe(401);
  });
});

describe('API keys', () => {
  it('issues a key shown once, lists keys without key material, and a revoked key is refused on the very next request', async () => {
    // Prepare
    const created = await issue('admin', 'olga');
    const ingest = await issue('ingest', 'partner', { source: 'partner-gw', customers: ['a-co', 'b-co'] });
    expect(created.key).toMatch(/^mk_admin_/);
    // Used twice: read afresh each time, never a cached copy; lastUsedAt is written by the first use only (once an hour).
    expect((await call('GET', '/v1/keys?limit=1', created.key)).status).toBe(200);
    const firstUse = (await stack.services.registry.keyByHash(created.id))?.lastUsedAt;
    await new Promise((r) => setTimeout(r, 5));
    expect((await call('GET', '/v1/keys?limit=1', created.key)).status).toBe(200);
    expect([firstUse, (await stack.services.registry.keyByHash(created.id))?.lastUsedAt]).toEqual([expect.any(String), firstUse]);

    // Act
    const listing = await allPages<Record<string, unknown>>('/v1/keys?limit=1', 'keys');
    const revoked = await admin('DELETE', `/v1/keys/${created.id}`);
    const after = await call('GET', '/v1/keys?limit=1', created.key);

    // Assess
    const raw = JSON.stringify(listing.pages.map((p) => p.body));
    for (const k of [created.key, ingest.key, stack.adminKey, stack.ingestKey]) expect(raw).not.toContain(k);
    const olga = listing.items.find((k) => k.id === created.id);
    expect(olga).toMatchObject({ principal: 'olga', role: 'admin', prefix: created.key.slice(0, 12), lastUsedAt: expect.any(String) });
    expect(listing.items.find((k) => k.id === ingest.id)).toMatchObject({
      role: 'ingest',
      source: 'partner-gw',
      customers: ['a-co', 'b-co'],
    });
    expect(listing.pages.length).toBeGreaterThan(2);
    expect([revoked.status, revoked.body.revokedAt]).toEqual([200, expect.any(String)]);
    expect([after.status, after.body.error]).toEqual([401, 'this API key was revoked']);
    const trail = await admin('GET', `/v1/audit?day=${today()}&actor=local-admin&limit=200`);
    const actions = (trail.body.entries as { action: string; details?: { prefix?: string } }[]).filter(
      (e) => e.details?.prefix === created.prefix,
    );
    expect(actions.map((e) => e.action)).toEqual(['key.revoke', 'key.create']);
  });

  it('refuses a bad key request naming the field, and a revocation of an unknown key with 404', async () => {
    // Act
    const [role, source, principal, unknown, badId] = await Promise.all([
      admin('POST', '/v1/keys', { role: 'root', principal: 'x' }),
      admin('POST', '/v1/keys', { role: 'ingest', principal: 'x' }),
      admin('POST', '/v1/keys', { role: 'admin' }),
      admin('DELETE', `/v1/keys/${'0'.repeat(64)}`),
      admin('DELETE', '/v1/keys/not-a-hash'),
    ]);

    // Assess
    expect([role.status, role.body.errors?.map((e) => e.field)]).toEqual([400, ['role']]);
    expect([source.status, source.body.errors?.map((e) => e.field)]).toEqual([400, ['source']]);
    expect([principal.status, principal.body.errors?.map((e) => e.field)]).toEqual([400, ['principal']]);
    expect(unknown.status).toBe(404);
    expect([badId.status, badId.body.errors?.map((e) => e.field)]).toEqual([400, ['id']]);
  });
});

describe('quarantine', () => {
  it('lists quarantined items a page at a time without their payload, and replays them once the customer is registered', async () => {
    // Prepare: an unknown customer's events, quarantined by the consumer
    const events = [apiCall('qnew-co', {}, { quantity: 5 }), apiCall('qnew-co', {}, { quantity: 6 }), apiCall('qother-co')];
    await post(stack.url, stack.ingestKey, events);
    await stack.drain();

    // Act
    const mine = await admin('GET', '/v1/quarantine?customer=qnew-co&reason=unknown_customer');
    const paged = await allPages<{ customerId: string; key: string }>('/v1/quarantine?limit=1', 'items');
    const badReason = await admin('GET', '/v1/quarantine?reason=lost');
    await stack.services.registry.putCustomer(buildCustomer({ id: 'qnew-co' }, undefined, Date.now()));
    const replay = await admin('POST', '/v1/quarantine/replay', { customer: 'qnew-co' });
    await stack.drain();

    // Assess
    expect(mine.status).toBe(200);
    const items = mine.body.items as Record<string, unknown>[];
    expect(items.map((i) => [i.customerId, i.reason, i.replayable, i.origin])).toEqual([
      ['qnew-co', 'unknown_customer', true, 'consume'],
      ['qnew-co', 'unknown_customer', true, 'consume'],
    ]);
    expect(items.some((i) => 'event' in i || 'raw' in i)).toBe(false);
    expect(paged.items.map((i) => i.customerId).sort()).toEqual(['qnew-co', 'qnew-co', 'qother-co']);
    expect([badReason.status, badReason.body.errors?.map((e) => e.field)]).toEqual([400, ['reason']]);
    expect(replay.body).toEqual({ replayed: 2, kept: [] });
    expect(await calls('qnew-co')).toBe(11);
    expect((await admin('GET', '/v1/quarantine?customer=qnew-co')).body.items).toEqual([]);
    const audit = await admin('GET', `/v1/audit?day=${today()}&action=replay&customer=qnew-co`);
    expect(audit.body.entries).toEqual([
      expect.objectContaining({ actor: 'local-admin', counts: { replayed: 2, kept: 0 }, ipPrefix: expect.any(String) }),
    ]);
  });
});

describe('dead-letter queue', () => {
  it('moves a dead-lettered message back to the event queue, where it is counted, and audits the redrive', async () => {
    // Prepare
    await stack.services.registry.putCustomer(buildCustomer({ id: 'dlq-co' }, undefined, Date.now()));
    const v = validateEvent(apiCall('dlq-co', {}, { quantity: 7 }), { now: Date.now(), newId: () => 'x' });
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    const [message] = packMessages([v.event]);
    await stack.services.clients.sqs.send(new SendMessageCommand({ QueueUrl: stack.services.config.dlqUrl, MessageBody: message!.body }));

    // Act
    const redrive = await admin('POST', '/v1/dlq/redrive');
    await stack.drain();

    // Assess
    expect([redrive.status, redrive.body]).toEqual([200, { moved: 1 }]);
    expect(await calls('dlq-co')).toBe(7);
    expect((await admin('GET', '/v1/health')).body.dlq).toBe(0);
    const audit = await admin('GET', `/v1/audit?day=${today()}&action=dlq.redrive`);
    expect(audit.body.entries).toEqual([expect.objectContaining({ actor: 'local-admin', counts: { moved: 1 } })]);
  });
});

describe('audit search', () => {
  it('filters a day by actor, action and customer, pages through matches newest first, and requires the day', async () => {
    // Prepare: three audited key issues by a second admin
    const other = await issue('admin', 'audrey');
    for (const p of ['k1', 'k2', 'k3'])
      expect((await call('POST', '/v1/keys', other.key, { role: 'analyst', principal: p })).status).toBe(201);

    // Act
    const whole = await admin('GET', `/v1/audit?day=${today()}&actor=audrey&action=key.create&limit=200`);
    const paged = await allPages<{ id: string }>(`/v1/audit?day=${today()}&actor=audrey&action=key.create&limit=1`, 'entries');
    const otherAction = await admin('GET', `/v1/audit?day=${today()}&actor=audrey&action=key.revoke`);
    const noDay = await admin('GET', '/v1/audit?actor=audrey');
    const badDay = await admin('GET', '/v1/audit?day=2026-02-30');
    const forged = Buffer.from(JSON.stringify({ pk: 'A#2020-01-01', sk: 'x' })).toString('base64url');
    const [otherDayCursor, garbageCursor] = await Promise.all([
      admin('GET', `/v1/audit?day=${today()}&cursor=${forged}`),
      admin('GET', `/v1/audit?day=${today()}&cursor=not*a*cursor`),
    ]);

    // Assess
    const entries = whole.body.entries as { id: string; at: string; details: { principal: string } }[];
    expect(entries.map((e) => e.details.principal)).toEqual(['k3', 'k2', 'k1']);
    expect(paged.items.map((e) => e.id)).toEqual(entries.map((e) => e.id));
    expect(otherAction.body.entries).toEqual([]);
    expect([noDay.status, noDay.body.errors?.map((e) => e.field)]).toEqual([400, ['day']]);
    expect([badDay.status, badDay.body.errors?.map((e) => e.field)]).toEqual([400, ['day']]);
    for (const bad of [otherDayCursor, garbageCursor])
      expect([bad.status, bad.body.errors?.map((e) => e.field)]).toEqual([400, ['cursor']]);
  });
});

describe('close runs', () => {
  it('lists a finished nightly close, newest first, with its progress and counts', async () => {
    // Prepare
    await stack.services.registry.putCustomer(buildCustomer({ id: 'close-co' }, undefined, Date.now()));
    const plan = await makePlanner(stack.functionServices['close-planner'])({});
    const deadline = Date.now() + 60_000;
    for (;;) {
      const run = await stack.services.rollups.getRun(plan.day, plan.runId);
      if ((run?.chunksDone ?? 0) >= plan.chunks) break;
      if (Date.now() > deadline) throw new Error(`run ${plan.runId} did not finish`);
      await new Promise((r) => setTimeout(r, 100));
    }

    // Act
    const listed = await admin('GET', '/v1/close-runs?limit=5');
    const badLimit = await admin('GET', '/v1/close-runs?limit=0');

    // Assess
    expect(listed.status).toBe(200);
    const [newest] = listed.body.runs as Record<string, unknown>[];
    expect(newest).toMatchObject({
      day: plan.day,
      runId: plan.runId,
      chunks: plan.chunks,
      chunksDone: plan.chunks,
      complete: true,
      counts: expect.any(Object),
    });
    expect(plan.chunks).toBeGreaterThan(0);
    expect([badLimit.status, badLimit.body.errors?.map((e) => e.field)]).toEqual([400, ['limit']]);
  });
});
