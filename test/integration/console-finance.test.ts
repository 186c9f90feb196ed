import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderStatement } from '../../cli/render/statement.js';
import { DAY_MS, utcDay } from '../../contract/clock.js';
import { loadStatement } from '../../functions/core/billing/statement.js';
import { holdsFromFlags } from '../../functions/core/fraud/holds.js';
import { makeApiHandler } from '../../functions/handlers/api.js';
import { makePlanner } from '../../functions/handlers/close-planner.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { apiCall, fileEvent, post, userActive } from '../fakes/events.js';

// The console's finance routes through the local stack's HTTP API, the api function acting as its IAM role, on usage
// ingested over HTTP and closed by the real nightly close (planner, close queue, worker) against the embedded Stripe server.
let stack: LocalStack;
let stripe: Stripe;
const YESTERDAY = utcDay(Date.now() - DAY_MS);
const MONTH = YESTERDAY.slice(0, 7);
/** Customers with usage: one billed in Stripe, one registered without a Stripe customer; and some without usage. */
const BILLED = 'fin-billed';
const UNMAPPED = 'fin-unmapped';
const IDLE = ['fin-idle-1', 'fin-idle-2', 'fin-idle-3'];
let finance: string;
let analyst: string;

type Answer = {
  status: number;
  headers: Headers;
  text: string;
  body: Record<string, unknown> & { error?: string; errors?: { field: string }[]; cursor?: string };
};
async function call(method: string, path: string, key: string | undefined, body?: unknown): Promise<Answer> {
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: Answer['body'] = {};
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    // A CSV answer: kept as text.
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}
const admin = (method: string, path: string, body?: unknown) => call(method, path, stack.adminKey, body);
const fields = (a: Answer) => (a.body.errors ?? []).map((e) => e.field);

/** Every item of a paged listing, following its cursors, and how many pages it took. */
async function allPages<T>(path: string, field: string, key: string): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let pages = 0;
  let cursor: string | undefined;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await call('GET', `${path}${cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ''}`, key);
    expect(page.status).toBe(200);
    items.push(...(page.body[field] as T[]));
    pages++;
    cursor = page.body.cursor;
  } while (cursor && pages < 100);
  return { items, pages };
}

async function issue(role: string, principal: string): Promise<string> {
  const r = await admin('POST', '/v1/keys', { role, principal });
  expect(r.status).toBe(201);
  return r.body.key as string;
}

/** The nightly close of `day`: the real planner, close queue and worker. */
async function nightly(day: string) {
  const plan = await makePlanner(stack.functionServices['close-planner'])({ day });
  const deadline = Date.now() + 90_000;
  for (;;) {
    const run = await stack.services.rollups.getRun(day, plan.runId);
    if ((run?.chunksDone ?? 0) >= plan.chunks) return run!;
    if (Date.now() > deadline) throw new Error(`close run ${plan.runId} of ${day} not done: ${JSON.stringify(run)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One day of usage at noon of `day`: 42 API calls, 2 active users, 3 protected files. */
const usage = (c: string, day: string) => {
  const time = `${day}T12:00:00Z`;
  return [
    apiCall(c, { time }, { quantity: 40 }),
    apiCall(c, { time }, { quantity: 2 }),
    userActive(c, 'u1', { time }),
    userActive(c, 'u2', { time }),
    ...['f1', 'f2', 'f3'].map((f) => fileEvent(c, f, 'protected', { time })),
  ];
};

beforeAll(async () => {
  stack = await startLocalStack();
  stripe = new Stripe('sk_test_local_stand_in', { ...stack.stripeServer!.stripeConfig, maxNetworkRetries: 0 });
  const cus = await stripe.customers.create({ name: BILLED });
  for (const body of [
    { customerId: BILLED, name: 'Billed Co', stripeCustomerId: cus.id },
    { customerId: UNMAPPED },
    ...IDLE.map((customerId) => ({ customerId })),
  ])
    expect((await admin('POST', '/v1/customers', body)).status).toBe(201);
  const sent = await post(stack.url, stack.ingestKey, [...usage(BILLED, YESTERDAY), ...usage(UNMAPPED, YESTERDAY)]);
  expect([sent.status, sent.body.rejected]).toEqual([202, []]);
  await stack.drain();
  await nightly(YESTERDAY);
  finance = await issue('finance', 'fiona');
  analyst = await issue('analyst', 'ana');
}, 240_000);
afterAll(async () => {
  await stack?.stop();
});

describe('roles', () => {
  it('answers 401 without a key, 403 to ingest keys everywhere and to analysts on the period close, reconcile and the ledger', async () => {
    // Prepare
    const routes: [string, string, unknown?][] = [
      ['GET', `/v1/periods/${MONTH}`],
      ['POST', '/v1/reconcile', { period: MONTH }],
      ['GET', `/v1/ledger/${BILLED}`],
    ];
    // Act
    const refused = await Promise.all(
      routes.flatMap(([m, p, b]) => [call(m, p, undefined, b), call(m, p, stack.ingestKey, b), call(m, p, analyst, b)]),
    );
    const customers = await Promise.all([undefined, stack.ingestKey, analyst, finance].map((k) => call('GET', '/v1/customers', k)));
    // Assess
    expect(refused.map((a) => a.status)).toEqual(routes.flatMap(() => [401, 403, 403]));
    expect(customers.map((a) => a.status)).toEqual([401, 403, 200, 200]);
  });
});

describe('GET /v1/customers', () => {
  it('pages through every registered customer once, with its anchor day', async () => {
    // Act
    const { items, pages } = await allPages<{ id: string; anchorDay: number; name?: string; createdAt: string }>(
      '/v1/customers?limit=2',
      'customers',
      finance,
    );
    // Assess
    const ids = items.map((c) => c.id).sort();
    expect(ids).toEqual([BILLED, ...IDLE, UNMAPPED].sort());
    expect(pages).toBeGreaterThan(3);
    expect(items.find((c) => c.id === BILLED)).toMatchObject({ name: 'Billed Co', anchorDay: 1, createdAt: expect.any(String) });
  });

  it('answers 400 naming limit and cursor for bad ones', async () => {
    // Act
    const limit = await call('GET', '/v1/customers?limit=0', finance);
    const cursor = await call('GET', '/v1/customers?cursor=bm90LWEtY3Vyc29y', finance);
    // Assess
    expect([limit.status, fields(limit)]).toEqual([400, ['limit']]);
    expect([cursor.status, fields(cursor)]).toEqual([400, ['cursor']]);
  });
});

describe('GET /v1/periods/{period}', () => {
  it("shows each customer's meters: the billed one reported in full and in Stripe, the unmapped one's difference named", async () => {
    // Act
    const { items: rows, pages } = await allPages<Record<string, unknown>>(`/v1/periods/${MONTH}?limit=2`, 'rows', finance);
    const first = await call('GET', `/v1/periods/${MONTH}?limit=2`, finance);
    // Assess
    expect(pages).toBeGreaterThan(1);
    expect(first.body).toMatchObject({ period: MONTH, deadline: expect.stringMatching(/T01:00:00.000Z$/) });
    const brief = (id: string) =>
      rows
        .filter((r) => r.customerId === id)
        .map((r) => [r.meter, r.metered, r.reported, r.inStripe, r.held, r.unreportable, r.difference, r.status]);
    expect(brief(BILLED)).toEqual([
      ['api_calls', 42, 42, 42, 0, 0, 0, 'ok'],
      ['active_users', 2, 2, 2, 0, 0, 0, 'ok'],
      ['protected_files', 3, 3, 3, 0, 0, 0, 'ok'],
    ]);
    expect(brief(UNMAPPED)).toEqual([
      ['api_calls', 42, 0, null, 0, 0, 42, 'no_stripe_customer'],
      ['active_users', 2, 0, null, 0, 0, 2, 'no_stripe_customer'],
      ['protected_files', 3, 0, null, 0, 0, 3, 'no_stripe_customer'],
    ]);
    // Every customer's three meters, once each, across the pages.
    expect(rows.map((r) => `${r.customerId}/${r.meter}`).sort()).toEqual(
      [BILLED, UNMAPPED, ...IDLE].flatMap((c) => ['active_users', 'api_calls', 'protected_files'].map((m) => `${c}/${m}`)).sort(),
    );
  });

  it('answers 400 naming period for one that is not YYYY-MM', async () => {
    // Act
    const bad = await call('GET', '/v1/periods/2026-13-01', finance);
    // Assess
    expect([bad.status, fields(bad)]).toEqual([400, ['period']]);
  });
});

describe('GET /v1/ledger/{customer}', () => {
  it("pages through the customer's ledger records, and narrows them to a meter and a period", async () => {
    // Act
    const all = await allPages<Record<string, unknown>>(`/v1/ledger/${BILLED}?limit=1`, 'records', finance);
    const api = await call('GET', `/v1/ledger/${BILLED}?meter=api_calls&period=${MONTH}`, finance);
    const none = await call('GET', `/v1/ledger/${BILLED}?period=2020-01`, finance);
    // Assess
    expect(all.items.map((r) => [r.meter, r.day, r.revision, r.value, r.state])).toEqual([
      ['active_users', YESTERDAY, 0, 2, 'sent'],
      ['api_calls', YESTERDAY, 0, 42, 'sent'],
      ['protected_files', YESTERDAY, 0, 3, 'sent'],
    ]);
    expect(all.pages).toBeGreaterThanOrEqual(3);
    expect(api.status).toBe(200);
    expect(api.body.records).toEqual([
      {
        identifier: `srn:api:${YESTERDAY}:r0:${BILLED}`,
        meter: 'api_calls',
        day: YESTERDAY,
        revision: 0,
        value: 42,
        state: 'sent',
        attempts: expect.any(Number),
        sentAt: expect.any(String),
        createdAt: expect.any(String),
        runId: expect.any(String),
        periodKey: MONTH,
      },
    ]);
    expect([none.status, none.body.records]).toEqual([200, []]);
  });

  it('answers 400 naming meter, period or cursor for bad ones, and 404 for a customer not registered', async () => {
    // Act
    const meter = await call('GET', `/v1/ledger/${BILLED}?meter=bananas`, finance);
    const period = await call('GET', `/v1/ledger/${BILLED}?period=soon`, finance);
    // A cursor of another customer's ledger cannot start a read in this one.
    const other = await call('GET', `/v1/ledger/${UNMAPPED}?limit=1`, finance);
    const cursor = await call('GET', `/v1/ledger/${BILLED}?cursor=${other.body.cursor}`, finance);
    const unknown = await call('GET', '/v1/ledger/nobody', finance);
    // Assess
    expect([meter.status, fields(meter)]).toEqual([400, ['meter']]);
    expect([period.status, fields(period)]).toEqual([400, ['period']]);
    expect([cursor.status, fields(cursor)]).toEqual([400, ['cursor']]);
    expect(unknown.status).toBe(404);
  });
});

describe('GET /v1/statements/{customer}?format=csv', () => {
  it('answers the CSV `meter statement --format csv` prints, as an attachment', async () => {
    // Prepare
    const customer = (await stack.services.registry.customers([BILLED])).get(BILLED)!;
    const holds = holdsFromFlags(await stack.services.flags.forCustomer(BILLED));
    const cli = renderStatement(await loadStatement(customer, MONTH, stack.services, holds), 'csv');
    // Act
    const csv = await call('GET', `/v1/statements/${BILLED}?period=${MONTH}&format=csv`, finance);
    const json = await call('GET', `/v1/statements/${BILLED}?period=${MONTH}`, finance);
    // Assess
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csv.headers.get('content-disposition')).toBe(`attachment; filename="statement-${BILLED}-${MONTH}.csv"`);
    expect(csv.text).toBe(cli);
    expect(csv.text.split('\n')).toContain(`${BILLED},${MONTH},api_calls,billed,,,,42,,,,`);
    expect([json.status, json.headers.get('content-type'), (json.body.customer as { id: string }).id]).toEqual([
      200,
      'application/json',
      BILLED,
    ]);
  });

  it('answers 400 naming format for one it does not know', async () => {
    // Act
    const bad = await call('GET', `/v1/statements/${BILLED}?period=${MONTH}&format=xml`, finance);
    // Assess
    expect([bad.status, fields(bad)]).toEqual([400, ['format']]);
  });
});

describe('POST /v1/reconcile', () => {
  it("compares every customer's period with Stripe for finance, as meter reconcile does", async () => {
    // Act
    const r = await call('POST', '/v1/reconcile', finance, { period: MONTH });
    // Assess
    expect(r.status).toBe(200);
    const rows = r.body.rows as { customerId: string; meter: string; metered: number; stripe: number | null; status: string }[];
    expect(rows.filter((x) => x.customerId === BILLED).map((x) => [x.meter, x.metered, x.stripe, x.status])).toEqual([
      ['api_calls', 42, 42, 'ok'],
      ['active_users', 2, 2, 'ok'],
      ['protected_files', 3, 3, 'ok'],
    ]);
    expect(rows.filter((x) => x.customerId === UNMAPPED).map((x) => x.status)).toEqual(Array(3).fill('no_stripe_customer'));
    expect(r.body).toMatchObject({ period: MONTH, fixes: [], differences: 3 });
  });

  it('refuses a fix to finance (403, nothing changed) and one without a reason (400 naming reason), and names bad fields', async () => {
    // Prepare
    const before = await stack.services.ledger.entries(UNMAPPED);
    // Act
    const byFinance = await call('POST', '/v1/reconcile', finance, { period: MONTH, customer: UNMAPPED, fix: true, reason: 'resend' });
    const noReason = await admin('POST', '/v1/reconcile', { period: MONTH, customer: UNMAPPED, fix: true, reason: '  ' });
    const badFields = await admin('POST', '/v1/reconcile', { customer: 7, fix: 'yes' });
    const notJson = await call('POST', '/v1/reconcile', stack.adminKey, undefined);
    // Assess
    expect(byFinance.status).toBe(403);
    expect([noReason.status, fields(noReason)]).toEqual([400, ['reason']]);
    expect([badFields.status, fields(badFields).sort()]).toEqual([400, ['customer', 'fix', 'period']]);
    expect([notJson.status, fields(notJson)]).toEqual([400, ['body']]);
    expect(await stack.services.ledger.entries(UNMAPPED)).toEqual(before);
    expect(before.every((r) => r.state === 'error' && r.lastError === 'no_stripe_customer')).toBe(true);
  });

  it("lets an admin fix, with a reason audited with the admin: the unmapped customer's records go to Stripe", async () => {
    // Prepare: the Stripe customer is found and registered; the records the close could not send wait in the ledger
    const cus = await stripe.customers.create({ name: UNMAPPED });
    expect((await admin('POST', '/v1/customers', { customerId: UNMAPPED, stripeCustomerId: cus.id })).status).toBe(200);
    // Act
    const r = await admin('POST', '/v1/reconcile', { period: MONTH, customer: UNMAPPED, fix: true, reason: 'customer mapped in Stripe' });
    // Assess
    expect(r.status).toBe(200);
    const fixes = r.body.fixes as { meter: string; kind: string; value: number; state: string }[];
    expect(fixes.map((f) => [f.meter, f.kind, f.value, f.state])).toEqual([
      ['api_calls', 'resend', 42, 'sent'],
      ['active_users', 'resend', 2, 'sent'],
      ['protected_files', 'resend', 3, 'sent'],
    ]);
    expect((r.body.before as { status: string }[]).map((x) => x.status)).not.toContain('ok');
    expect((await stack.services.ledger.entries(UNMAPPED)).map((x) => x.state)).toEqual(['sent', 'sent', 'sent']);
    const audit = await stack.services.audit.list(utcDay(Date.now()), 500);
    expect(audit.filter((e) => e.action === 'reconcile.fix_requested')).toEqual([
      expect.objectContaining({
        actor: 'local-admin',
        customerId: UNMAPPED,
        details: { period: MONTH, reason: 'customer mapped in Stripe' },
      }),
    ]);
    expect(audit.filter((e) => e.action === 'reconcile.fix').map((e) => [e.actor, e.customerId])).toEqual([['local-admin', UNMAPPED]]);
  });

  it('answers 503 naming the setting when the API has no Stripe configured', async () => {
    // Prepare: the api function as deployed without a Stripe secret
    const handler = makeApiHandler({ ...stack.functionServices.api, stripe: undefined });
    const event = {
      version: '2.0',
      routeKey: 'POST /v1/reconcile',
      rawPath: '/v1/reconcile',
      rawQueryString: '',
      headers: { authorization: `Bearer ${stack.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ period: MONTH }),
      isBase64Encoded: false,
      requestContext: { http: { method: 'POST', path: '/v1/reconcile', sourceIp: '127.0.0.1' }, requestId: 'r-1' },
    } as unknown as APIGatewayProxyEventV2;
    // Act
    const res = await handler(event);
    // Assess
    const answer = typeof res === 'string' ? { statusCode: 0, body: res } : res;
    expect(answer.statusCode).toBe(503);
    expect(JSON.parse(answer.body ?? '{}').error).toMatch(/Stripe is not configured.*STRIPE_SECRET_ARN/);
  });
});
