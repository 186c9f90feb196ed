import { type AttributeValue, ListTablesCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../contract/clock.js';
import { validateEvent } from '../../contract/event-contract.js';
import { packMessages } from '../../contract/queue-message.js';
import { StripeMeterReporter } from '../../functions/adapters/stripe/stripe-meter-reporter.js';
import type { Statement } from '../../functions/core/billing/statement.js';
import { closeCustomer } from '../../functions/core/close/close-customer.js';
import { privacyDepsOf, requestPrivacy, runPrivacyRequest } from '../../functions/core/privacy/run-request.js';
import { generateKey, hashKey } from '../../functions/core/shared/api-keys.js';
import { buildCustomer } from '../../functions/core/shared/customers.js';
import type { Customer } from '../../functions/core/shared/ports.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { type StripeTestServer, startStripeTestServer } from '../../local/stripe-test-server/index.js';
import { apiCall, fileEvent, post, userActive } from '../fakes/events.js';
import { settled } from '../fakes/settled.js';

/**
 * Erasing a whole customer, proved on the local stack: two customers' usage goes in through HTTP ingest (users,
 * files, a rejected event), is closed and reported to the Stripe test server, with keys and expected activity; then
 * one customer is erased through the admin route, as a job of the close worker. Every item of every table is read
 * back: only the ledger's retained amounts (stripped, with the Stripe id and an expiry), the audit trail, the
 * request and the erased mark still name the customer; the other customer's statement and usage are unchanged.
 */
const GONE = 'erase-co-7vq';
const KEEP = 'keep-co-3mx';
const NAME = 'Erase Company Ltd';
const yesterday = new Date(Date.now() - DAY_MS).toISOString().slice(0, 10);
const at = (h: number) => `${yesterday}T${String(h).padStart(2, '0')}:10:00.000Z`;

let stack: LocalStack;
let stripeServer: StripeTestServer;
let reporter: StripeMeterReporter;
const customers: Record<string, Customer> = {};

async function everyItem(): Promise<{ table: string; item: Record<string, unknown>; text: string }[]> {
  const ddb = stack.services.clients.dynamo;
  const out: { table: string; item: Record<string, unknown>; text: string }[] = [];
  for (const table of (await ddb.send(new ListTablesCommand({}))).TableNames ?? []) {
    let key: Record<string, AttributeValue> | undefined;
    do {
      const page = await ddb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: key, ConsistentRead: true }));
      for (const raw of page.Items ?? []) out.push({ table, item: unmarshall(raw), text: JSON.stringify(raw) });
      key = page.LastEvaluatedKey;
    } while (key);
  }
  return out;
}

const api = (method: string, path: string, body?: unknown) =>
  fetch(`${stack.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.adminKey}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });

async function statementOf(id: string): Promise<Statement> {
  const res = await api('GET', `/v1/statements/${id}?period=${yesterday.slice(0, 7)}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Statement;
}

beforeAll(async () => {
  stack = await startLocalStack({ visibilityTimeoutSeconds: 1 });
  stripeServer = await startStripeTestServer();
  const stripe = new Stripe('sk_test_erase', { ...stripeServer.stripeConfig, maxNetworkRetries: 0 });
  reporter = new StripeMeterReporter({ stripe, clock: stack.services.clock, sleep: async () => {} });
  await reporter.ensureMeters();
  for (const id of [GONE, KEEP]) {
    const cus = await stripe.customers.create({ name: id });
    customers[id] = buildCustomer({ id, name: id === GONE ? NAME : 'Keep', stripeCustomerId: cus.id }, undefined, Date.now() - 40 * DAY_MS);
    await stack.services.registry.putCustomer(customers[id]!);
  }
  const now = new Date().toISOString();
  const scoped = generateKey('ingest');
  await stack.services.registry.putKey({
    hash: hashKey(scoped),
    prefix: scoped.slice(0, 12),
    role: 'ingest',
    principal: 'gone-gw',
    source: 'gw',
    customers: [GONE],
    createdAt: now,
  });
  const shared = generateKey('ingest');
  await stack.services.registry.putKey({
    hash: hashKey(shared),
    prefix: shared.slice(0, 12),
    role: 'ingest',
    principal: 'shared-gw',
    source: 'gw',
    customers: [GONE, KEEP],
    createdAt: now,
  });
  await stack.services.flags.putExpectedActivity({
    id: 'exp-1',
    customerId: GONE,
    from: at(0),
    to: at(23),
    rules: ['volume_spike'],
    meters: ['api_calls'],
    reason: 'migration',
    createdBy: 'ana',
    createdAt: now,
  });
  // Both customers in the same requests, so their usage shares fragment items.
  const batch = [GONE, KEEP].flatMap((c) => [
    apiCall(c, { time: at(9) }, { quantity: 30 }),
    userActive(c, `${c}-user-1`, { time: at(10) }),
    userActive(c, `${c}-user-2`, { time: at(11) }),
    fileEvent(c, `${c}-file-1`, 'protected', { time: at(12) }),
  ]);
  const res = await post(stack.url, stack.ingestKey, [...batch, userActive(GONE, 'gone-user-3', { time: 'never' })]);
  expect(res.body.rejected?.length).toBe(1);
  await stack.drain();
  for (const c of Object.values(customers)) {
    const closed = await closeCustomer(c, yesterday, [], `run-${c.id}`, {
      events: stack.services.events,
      rollups: stack.services.rollups,
      ledger: stack.services.ledger,
      reporter,
      clock: stack.services.clock,
    });
    expect(closed.failed).toEqual([]);
  }
}, 180_000);
afterAll(async () => {
  await stripeServer?.close();
  await stack?.stop();
});

describe('erasing a whole customer', () => {
  let before: { keep: Statement; keepUsage: unknown; ledger: number };

  it('exports everything held about the customer first, and nothing of the other customer', async () => {
    // Act
    const made = await api('POST', '/v1/privacy/requests', { type: 'export', customer: GONE, reason: 'portability request' });
    const { id } = (await made.json()) as { id: string };
    const status = (await settled(async () => (await (await api('GET', `/v1/privacy/requests/${id}`)).json()) as { status: string }))
      ?.status;
    const text = await (await api('GET', `/v1/privacy/requests/${id}/export`)).text();
    const doc = JSON.parse(text) as { tables: Record<string, Record<string, unknown>[]>; csv: Record<string, string> };
    // Assess
    expect(made.status).toBe(202);
    expect(status).toBe('done');
    expect(doc.tables.customer).toEqual([expect.objectContaining({ id: GONE, name: NAME })]);
    expect(doc.tables.events).toHaveLength(4);
    expect(doc.tables.ledger!.length).toBe((await stack.services.ledger.entries(GONE)).length);
    expect(doc.tables.dailyUsage!.map((d) => d.day)).toContain(yesterday);
    expect(doc.tables.expectedActivity).toHaveLength(1);
    expect(doc.tables.quarantine).toHaveLength(1);
    expect(doc.tables.keys!.map((k) => [k.principal, k.customers, k.sharedWithOtherCustomers ?? false]).sort()).toEqual([
      ['gone-gw', [GONE], false],
      ['shared-gw', [GONE], true],
    ]);
    expect(doc.tables.keys!.every((k) => !('hash' in k))).toBe(true);
    expect(doc.tables.audit!.every((a) => a.customerId === GONE)).toBe(true);
    expect(Object.keys(doc.csv).sort()).toEqual(
      Object.keys(doc.tables)
        .map((t) => `${t}.csv`)
        .sort(),
    );
    expect(text).not.toContain(KEEP);
  });

  it('deletes everything of the customer but the ledger kept for tax, and leaves the other customer as it was', async () => {
    // Prepare
    const usage = async () =>
      (await api('GET', `/v1/usage?customer=${KEEP}&from=${yesterday}T00:00:00Z&to=${new Date().toISOString()}`)).json();
    before = { keep: await statementOf(KEEP), keepUsage: await usage(), ledger: (await stack.services.ledger.entries(GONE)).length };
    expect(before.ledger).toBeGreaterThan(0);
    // Act
    const made = await api('POST', '/v1/privacy/requests', { type: 'erase', customer: GONE, reason: 'contract ended, erasure asked' });
    const request = (await made.json()) as { id: string };
    type Answer = { status: string; counts: Record<string, number>; notes: string[] };
    const r = (await settled(async () => (await (await api('GET', `/v1/privacy/requests/${request.id}`)).json()) as Answer))!;
    const items = await everyItem();
    // Assess
    expect(made.status).toBe(202);
    expect(r.status).toBe('done');
    expect(r.counts).toMatchObject({ events: 4, keys: 2, expectedActivity: 1, quarantine: 1, ledgerRetained: before.ledger });
    expect(r.notes.join(' ')).toContain("Stripe's redaction");
    const naming = items.filter((i) => i.text.includes(GONE));
    const kinds = new Set(
      naming.map(({ table, item }) => {
        if (table.endsWith('Ledger')) return 'ledger';
        if (table.endsWith('Audit')) return 'audit';
        if (String(item.pk).startsWith('PR#')) return 'request';
        if (item.pk === `CX#${GONE}`) return 'erased mark';
        return `${table} ${item.pk}/${item.sk}`;
      }),
    );
    expect([...kinds].sort()).toEqual(['audit', 'erased mark', 'ledger', 'request']);
    expect(items.filter((i) => i.text.includes(NAME))).toEqual([]);
    const ledger = naming.filter((i) => i.table.endsWith('Ledger')).map((i) => i.item);
    expect(ledger).toHaveLength(before.ledger);
    for (const rec of ledger) {
      expect(rec).toMatchObject({ stripeCustomerId: customers[GONE]!.stripeCustomerId, retained: 'customer erased: kept for tax' });
      expect(Number(rec.expiresAt)).toBeGreaterThan(Date.now() / 1000 + 3000 * 86_400);
      expect(rec).not.toHaveProperty('runId');
    }
    // The key scoped to both customers stays, scoped to the other one alone.
    const keys = items.filter((i) => i.item.kind === 'key').map((i) => i.item);
    expect(keys.filter((k) => k.principal === 'shared-gw').map((k) => k.customers)).toEqual([[KEEP]]);
    expect(keys.filter((k) => k.principal === 'gone-gw')).toEqual([]);
    expect(await statementOf(KEEP)).toEqual(before.keep);
    expect(await usage()).toEqual(before.keepUsage);
  });

  it('drops the erased customer’s events still in flight, and a rerun of the request changes nothing', async () => {
    // Prepare: an event of the erased customer arrives after the erasure, straight from the queue.
    const v = validateEvent(
      {
        specversion: '1.0',
        type: 'com.serenity.user.active',
        source: 'gw',
        subject: GONE,
        id: 'late-1',
        time: at(20),
        data: { userId: 'late-user' },
      },
      { now: Date.now(), newId: () => 'late-1' },
    );
    if (!v.ok) throw new Error('invalid');
    await stack.services.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: stack.services.config.queueUrl, MessageBody: packMessages([v.event])[0]!.body }),
    );
    await stack.drain();
    const requests = await stack.services.privacyRequests.list({ limit: 100 });
    const erase = requests.items.find((r) => r.type === 'erase' && r.customerId === GONE)!;
    // Act
    const rerun = await runPrivacyRequest(erase.id, privacyDepsOf(stack.services));
    const again = await requestPrivacy(
      { type: 'erase', customerId: GONE, reason: 'again', actor: 'test' },
      privacyDepsOf(stack.services),
    ).catch((e: Error) => e);
    const items = await everyItem();
    // Assess
    expect(items.filter((i) => i.text.includes('late-user') || i.text.includes('late-1'))).toEqual([]);
    expect(items.filter((i) => String(i.item.pk).includes(GONE) && i.table.endsWith('Quarantine'))).toEqual([]);
    expect(rerun.status).toBe('done');
    expect(again).toMatchObject({ message: `customer "${GONE}" is not registered` });
  });

  it('resumes an erasure that crashed half-way: the rerun finds what is left and finishes', async () => {
    // Prepare: a third customer with usage, erased by a job that dies after its events, before its rollups.
    const half = buildCustomer({ id: 'half-co-2pk' }, undefined, Date.now() - 40 * DAY_MS);
    await stack.services.registry.putCustomer(half);
    await post(stack.url, stack.ingestKey, [apiCall(half.id, { time: at(9) }), userActive(half.id, 'half-user', { time: at(9) })]);
    await stack.drain();
    const deps = privacyDepsOf(stack.services);
    const real = deps.customerData;
    const killed = new Proxy(real, {
      get: (target, name) =>
        name === 'deleteRollups'
          ? () => Promise.reject(new Error('killed'))
          : (target[name as keyof typeof target] as (...a: unknown[]) => unknown).bind(target),
    });
    const crashing = { ...deps, customerData: killed };
    const made = await requestPrivacy({ type: 'erase', customerId: half.id, reason: 'erasure', actor: 'test' }, deps);
    // Act
    const first = await runPrivacyRequest(made.id, crashing).catch((e: Error) => e);
    const failed = await stack.services.privacyRequests.get(made.id);
    const leftAfterCrash = (await everyItem()).filter((i) => i.text.includes(half.id) && !i.table.endsWith('Audit'));
    await runPrivacyRequest(made.id, deps);
    const done = await stack.services.privacyRequests.get(made.id);
    const left = (await everyItem()).filter((i) => i.text.includes(half.id));
    // Assess
    expect(first).toMatchObject({ message: 'killed' });
    expect(failed?.status).toBe('failed');
    expect(leftAfterCrash.some((i) => String(i.item.pk) === `CUS#${half.id}`)).toBe(true);
    expect(done?.status).toBe('done');
    expect(new Set(left.map((i) => (i.table.endsWith('Audit') ? 'audit' : String(i.item.pk).slice(0, 3))))).toEqual(
      new Set(['audit', 'PR#', 'CX#']),
    );
  });
});
