import { type AttributeValue, DeleteItemCommand, GetItemCommand, ListTablesCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { ChangeMessageVisibilityCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../contract/clock.js';
import { validateEvent } from '../../contract/event-contract.js';
import { METERS, type Meter } from '../../contract/meters.js';
import { packMessages } from '../../contract/queue-message.js';
import { DynamoDbUserRefs } from '../../functions/adapters/dynamodb/dynamodb-user-refs.js';
import { StripeMeterReporter } from '../../functions/adapters/stripe/stripe-meter-reporter.js';
import type { Statement } from '../../functions/core/billing/statement.js';
import { closeCustomer } from '../../functions/core/close/close-customer.js';
import { type PrivacyDeps, privacyDepsOf, requestPrivacy, runPrivacyRequest } from '../../functions/core/privacy/run-request.js';
import { buildCustomer } from '../../functions/core/shared/customers.js';
import type { Customer } from '../../functions/core/shared/ports.js';
import { userPseudonym } from '../../functions/core/shared/pseudonyms.js';
import { EVENT_QUEUE } from '../../functions/resources.js';
import { logger } from '../../functions/runtime/logger.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { type StripeTestServer, startStripeTestServer } from '../../local/stripe-test-server/index.js';
import { apiCall, post, userActive } from '../fakes/events.js';
import { captureOutput } from '../fakes/stored-bytes.js';

/**
 * Erasing one end user, proved on the local stack: usage for two users of one customer goes in through HTTP ingest
 * and straight onto the queue (with a rejected event and a metadata value naming the user), is counted, closed and
 * reported to the Stripe test server; then one user is erased. Every stored byte is read back: no table, queue or
 * log line holds the user's id or its pseudonym, the statement and Stripe's totals are unchanged, the other user
 * is untouched. Ids are chosen so that no other stored text can contain them by chance.
 */
const ALICE = 'alice-9qz7xw';
const BOB = 'bob-4kv2mr';
const ACME = 'privacy-acme';

let stack: LocalStack;
let stripeServer: StripeTestServer;
let reporter: StripeMeterReporter;
let meterIds: Record<Meter, string>;
let customer: Customer;
let output: ReturnType<typeof captureOutput>;
const yesterday = new Date(Date.now() - DAY_MS).toISOString().slice(0, 10);
const at = (hour: number) => `${yesterday}T${String(hour).padStart(2, '0')}:20:00.000Z`;

const deps = (): PrivacyDeps => privacyDepsOf(stack.services);

/** Every stored text: each item of each table (marshalled, binary attributes as base64), each queued message, the logs. */
async function storedTexts(): Promise<{ where: string; text: string }[]> {
  const out: { where: string; text: string }[] = [];
  const ddb = stack.services.clients.dynamo;
  for (const table of (await ddb.send(new ListTablesCommand({}))).TableNames ?? []) {
    let key: Record<string, AttributeValue> | undefined;
    do {
      const page = await ddb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: key, ConsistentRead: true }));
      for (const item of page.Items ?? []) {
        const text = JSON.stringify(item, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));
        out.push({ where: `${table}:${item.pk?.S}/${item.sk?.S}`, text });
      }
      key = page.LastEvaluatedKey;
    } while (key);
  }
  const sqs = stack.services.clients.sqs;
  for (const url of [stack.env[EVENT_QUEUE.env]!, stack.env[EVENT_QUEUE.dlqEnv]!]) {
    const held: string[] = [];
    for (;;) {
      const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 30 }));
      if (!r.Messages?.length) break;
      for (const m of r.Messages) {
        held.push(m.ReceiptHandle!);
        out.push({ where: `queue ${url.split('/').pop()}`, text: m.Body ?? '' });
      }
    }
    for (const h of held) await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: h, VisibilityTimeout: 0 }));
  }
  out.push({ where: 'logs', text: output.text() });
  return out;
}

const holding = (texts: { where: string; text: string }[], needle: string) =>
  texts.filter((t) => t.text.includes(needle)).map((t) => t.where);

async function secretOf(customerId: string): Promise<Uint8Array> {
  const r = await stack.services.clients.dynamo.send(
    new GetItemCommand({ TableName: stack.services.config.tables.pseudonyms, Key: { pk: { S: `PS#${customerId}` }, sk: { S: 'SECRET' } } }),
  );
  return r.Item!.secret!.B!;
}

async function statement(): Promise<Statement> {
  const res = await fetch(`${stack.url}/v1/statements/${ACME}?period=${yesterday.slice(0, 7)}`, {
    headers: { authorization: `Bearer ${stack.adminKey}` },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Statement;
}

async function stripeTotals(): Promise<number[]> {
  const start = Date.parse(`${yesterday.slice(0, 7)}-01T00:00:00Z`) / 1000;
  const end = Math.floor(Date.now() / 60_000) * 60;
  return Promise.all(METERS.map((m) => reporter.listEventSummaries(meterIds[m], customer.stripeCustomerId!, start, end)));
}

/** A user.active event put straight on the queue, as a producer that never passed ingest would. */
async function sendDirect(userId: string, hour: number, id: string): Promise<void> {
  const v = validateEvent(
    { specversion: '1.0', type: 'com.serenity.user.active', source: 'direct', subject: ACME, id, time: at(hour), data: { userId } },
    { now: Date.now(), newId: () => id },
  );
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  const [packed] = packMessages([v.event]);
  await stack.services.clients.sqs.send(new SendMessageCommand({ QueueUrl: stack.services.config.queueUrl, MessageBody: packed!.body }));
}

beforeAll(async () => {
  stack = await startLocalStack({ visibilityTimeoutSeconds: 1 });
  stripeServer = await startStripeTestServer();
  const stripe = new Stripe('sk_test_privacy', { ...stripeServer.stripeConfig, maxNetworkRetries: 0 });
  reporter = new StripeMeterReporter({ stripe, clock: stack.services.clock, sleep: async () => {} });
  const meters = await reporter.ensureMeters();
  meterIds = Object.fromEntries(METERS.map((m) => [m, meters[m].id])) as Record<Meter, string>;
  const cus = await stripe.customers.create({ name: ACME });
  customer = buildCustomer({ id: ACME, stripeCustomerId: cus.id }, undefined, Date.now() - 40 * DAY_MS);
  await stack.services.registry.putCustomer(customer);
  logger.setLogLevel('DEBUG');
  output = captureOutput();

  // Through HTTP ingest: both users over several hours, an API call whose metadata names Alice, a rejected event of hers.
  const batch = [
    ...[9, 10, 14].map((h) => userActive(ACME, ALICE, { time: at(h) })),
    ...[9, 11].map((h) => userActive(ACME, BOB, { time: at(h) })),
    apiCall(ACME, { time: at(9) }, { quantity: 40, actingUser: ALICE }),
    apiCall(ACME, { time: at(15) }, { quantity: 2 }),
    userActive(ACME, ALICE, { time: 'not-a-time' }),
  ];
  const res = await post(stack.url, stack.ingestKey, batch);
  expect(res.body.rejected?.length).toBe(1);
  // Straight onto the queue: one of Alice's hours, and the same hour again under another id (a repeat).
  await sendDirect(ALICE, 16, 'direct-1');
  await sendDirect(ALICE, 16, 'direct-2');
  await stack.drain();
  const closed = await closeCustomer(customer, yesterday, [], 'privacy-run', {
    events: stack.services.events,
    rollups: stack.services.rollups,
    ledger: stack.services.ledger,
    reporter,
    clock: stack.services.clock,
  });
  expect(closed.failed).toEqual([]);
});
afterAll(async () => {
  output?.stop();
  logger.setLogLevel('ERROR');
  await stripeServer?.close();
  await stack?.stop();
});

describe('erasing one end user', () => {
  let before: { statement: Statement; stripe: number[]; aliceRef: string; bobRef: string; pseudonym: string };

  it('stores no user id as sent, from the start: only refs, found through the pseudonym', async () => {
    // Prepare
    const alice = await stack.services.userRefs.find(ACME, ALICE);
    const bob = await stack.services.userRefs.find(ACME, BOB);
    // Act
    const texts = await storedTexts();
    // Assess
    expect(alice?.erased).toBe(false);
    expect(bob?.ref).not.toBe(alice?.ref);
    expect(holding(texts, ALICE)).toEqual([]);
    expect(holding(texts, BOB)).toEqual([]);
    const pseudonym = userPseudonym(await secretOf(ACME), ALICE);
    expect(holding(texts, pseudonym)).toEqual([`${stack.services.config.tables.pseudonyms}:UT#${ACME}/${pseudonym}`]);
    // The Registry (which the planner and the listings Scan) holds no user's item: its Scans do not grow with users.
    const registryPks = texts
      .filter((t) => t.where.startsWith(`${stack.services.config.tables.registry}:`))
      .map((t) => t.where.split(':')[1]!);
    expect(registryPks.length).toBeGreaterThan(0);
    expect(registryPks.filter((pk) => !/^(CUS|KEY|CX|PR)#/.test(pk))).toEqual([]);
    // Alice's ref stands in her events, the metadata value that named her, the period's user set and her rejected event.
    const aliceHolders = holding(texts, alice!.ref);
    expect(aliceHolders.filter((w) => w.startsWith(`${stack.services.config.tables.events}:`)).length).toBe(6);
    expect(aliceHolders.some((w) => w.startsWith(`${stack.services.config.tables.quarantine}:`))).toBe(true);
    expect(aliceHolders.some((w) => w.startsWith(`${stack.services.config.tables.rollups}:PU#${ACME}#`))).toBe(true);
    const s = await statement();
    expect(s.meters.find((m) => m.meter === 'active_users')?.billed).toBe(2);
    before = { statement: s, stripe: await stripeTotals(), aliceRef: alice!.ref, bobRef: bob!.ref, pseudonym };
  });

  it('exports everything held about Alice and nothing about Bob', async () => {
    // Act
    const r = await requestPrivacy(
      { type: 'export', customerId: ACME, userId: ALICE, reason: 'subject access request', actor: 'test' },
      deps(),
    );
    const done = await runPrivacyRequest(r.id, deps());
    const doc = JSON.parse((await stack.services.privacyRequests.getExport(r.id))!) as {
      tables: Record<string, { userId?: string; metadata?: Record<string, unknown> }[]>;
      csv: Record<string, string>;
    };
    // Assess
    expect(done.status).toBe('done');
    expect(doc.tables.events!.length).toBe(6);
    expect(doc.tables.events!.filter((e) => e.userId === before.aliceRef).length).toBe(5);
    expect(doc.tables.events!.filter((e) => e.metadata?.actingUser === before.aliceRef).length).toBe(1);
    expect(doc.tables.periodUsers).toEqual([{ period: yesterday.slice(0, 7), firstDay: yesterday }]);
    expect(doc.tables.quarantine!.length).toBe(1);
    expect(doc.csv['events.csv']!.split('\n').length).toBe(7);
    expect(JSON.stringify(doc)).not.toContain(before.bobRef);
  });

  it('unlinks her from every stored byte, keeps every count, and leaves Bob as he was', async () => {
    // Act
    const r = await requestPrivacy(
      { type: 'erase', customerId: ACME, userId: ALICE, reason: 'erasure request #41', actor: 'test' },
      deps(),
    );
    await stack.drain();
    const texts = await storedTexts();
    // Assess
    expect(r.status).toBe('done');
    expect(r.userRef).toBe(before.aliceRef);
    expect(holding(texts, ALICE)).toEqual([]);
    expect(holding(texts, before.pseudonym)).toEqual([]);
    expect(await stack.services.userRefs.find(ACME, BOB)).toEqual({ ref: before.bobRef, erased: false });
    expect(await statement()).toEqual(before.statement);
    expect(await stripeTotals()).toEqual(before.stripe);
    const audit = (await stack.services.audit.list(new Date().toISOString().slice(0, 10))).find((a) => a.action === 'privacy.erase');
    expect(audit?.details).toMatchObject({ subject: before.aliceRef });
  });

  it('counts her events still in flight under the erased ref, without linking her again', async () => {
    // Act
    await sendDirect(ALICE, 17, 'direct-late');
    await stack.drain();
    const texts = await storedTexts();
    // Assess
    expect(holding(texts, ALICE)).toEqual([]);
    expect(holding(texts, before.pseudonym)).toEqual([]);
    expect(holding(texts, 'direct-late').some((w) => w.startsWith(`${stack.services.config.tables.events}:`))).toBe(true);
    const late = texts.find((t) => t.where.startsWith(`${stack.services.config.tables.events}:`) && t.text.includes('direct-late'))!;
    expect(late.text).toContain(before.aliceRef);
    expect(await stack.services.userRefs.find(ACME, ALICE)).toEqual({ ref: before.aliceRef, erased: true });
  });

  it('is idempotent, and a rerun finishes an erasure that crashed between its two writes', async () => {
    // Prepare: Carol is erased by a client whose delete fails, as a crash after the tombstone would leave her.
    await post(stack.url, stack.ingestKey, [userActive(ACME, 'carol-8hw3pd', { time: at(12) })]);
    await stack.drain();
    const real = stack.services.clients.dynamo;
    const crashing = {
      send: (cmd: unknown) => (cmd instanceof DeleteItemCommand ? Promise.reject(new Error('crash')) : real.send(cmd as never)),
    };
    const table = stack.services.config.tables.pseudonyms;
    const broken = new DynamoDbUserRefs(crashing as never, table, () => Date.now());
    // Act
    const first = requestPrivacy(
      { type: 'erase', customerId: ACME, userId: 'carol-8hw3pd', reason: 'r', actor: 'test' },
      { ...deps(), userRefs: broken },
    );
    await expect(first).rejects.toThrow('crash');
    const halfway = await stack.services.userRefs.find(ACME, 'carol-8hw3pd');
    const rerun = await requestPrivacy({ type: 'erase', customerId: ACME, userId: 'carol-8hw3pd', reason: 'r', actor: 'test' }, deps());
    const again = await requestPrivacy({ type: 'erase', customerId: ACME, userId: 'carol-8hw3pd', reason: 'r', actor: 'test' }, deps());
    // Assess
    expect(halfway?.erased).toBe(false);
    expect(rerun.userRef).toBe(halfway?.ref);
    expect(again.userRef).toBe(halfway?.ref);
    const pseudonym = userPseudonym(await secretOf(ACME), 'carol-8hw3pd');
    expect(holding(await storedTexts(), pseudonym)).toEqual([]);
  });

  it('refuses an erasure without a reason, naming the field', async () => {
    await expect(
      requestPrivacy({ type: 'erase', customerId: ACME, userId: BOB, reason: ' ', actor: 'test' }, deps()),
    ).rejects.toMatchObject({
      errors: [{ field: 'reason', message: 'is required to erase data' }],
    });
    expect(await stack.services.userRefs.find(ACME, BOB)).toEqual({ ref: before.bobRef, erased: false });
  });
});
