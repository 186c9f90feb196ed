import { type AttributeValue, DescribeTimeToLiveCommand, GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../contract/clock.js';
import { type AwsClients, makeAwsClients } from '../../functions/adapters/aws/aws-clients.js';
import { DynamoDbFlagStore } from '../../functions/adapters/dynamodb/dynamodb-flag-store.js';
import { DynamoDbQuarantine, QUARANTINE_COUNTER_PK } from '../../functions/adapters/dynamodb/dynamodb-quarantine.js';
import { DynamoDbRollupStore } from '../../functions/adapters/dynamodb/dynamodb-rollup-store.js';
import { DynamoDbUsageStore, fragmentPk } from '../../functions/adapters/dynamodb/dynamodb-usage-store.js';
import { flagRevision, openFlag } from '../../functions/core/fraud/merge-flags.js';
import { reviewFlag } from '../../functions/core/fraud/review-flag.js';
import type { Detection, Flag } from '../../functions/core/fraud/types.js';
import type { QuarantineItem, StoredDay } from '../../functions/core/shared/ports.js';
import { TABLES, type TableName } from '../../functions/resources.js';
import { type DynamoDbLocal, LOCAL_CREDENTIALS, startDynamoDbLocal } from '../../local/dynamodb-local.js';

let ddb: DynamoDbLocal;
let clients: AwsClients;
beforeAll(async () => {
  ddb = await startDynamoDbLocal({ prefix: 'retention' });
  clients = makeAwsClients({ region: 'us-east-1', endpoints: { dynamodb: ddb.endpoint }, credentials: LOCAL_CREDENTIALS });
}, 90_000);
afterAll(async () => {
  clients?.dynamo.destroy();
  await ddb?.stop();
});

/** Unix seconds `days` after an ISO instant: what every `expiresAt` is. */
const expiryAfter = (iso: string, days: number) => Math.floor((Date.parse(iso) + days * DAY_MS) / 1000);

/** One item as DynamoDB holds it, attribute types and all. */
async function raw(table: TableName, pk: string, sk: string): Promise<Record<string, AttributeValue> | undefined> {
  const r = await clients.dynamo.send(
    new GetItemCommand({ TableName: ddb.tableNames[table], Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: true }),
  );
  return r.Item;
}

/** An item's expiry, checked to be a Number attribute (DynamoDB's TTL skips an item whose attribute is a string). */
async function expiryOf(table: TableName, pk: string, sk: string): Promise<number | undefined> {
  const item = await raw(table, pk, sk);
  expect(item, `${table} ${pk} / ${sk} exists`).toBeDefined();
  if (item!.expiresAt === undefined) return undefined;
  expect(Object.keys(item!.expiresAt), `${table} ${pk} / ${sk} expiresAt type`).toEqual(['N']);
  return Number(item!.expiresAt.N);
}

describe('retention: TTL on the tables', () => {
  it('turns TTL on `expiresAt` for every table with a retention, as TABLES defines it', async () => {
    // Act
    const ttl = Object.fromEntries(
      await Promise.all(
        (Object.keys(TABLES) as TableName[]).map(async (k) => {
          const r = await clients.dynamo.send(new DescribeTimeToLiveCommand({ TableName: ddb.tableNames[k] }));
          const d = r.TimeToLiveDescription;
          return [k, d?.TimeToLiveStatus === 'ENABLED' ? d.AttributeName : undefined];
        }),
      ),
    );

    // Assess: as TABLES defines, and every table with a retention has it (the ledger is the billing record, kept)
    expect(ttl).toEqual(Object.fromEntries(Object.entries(TABLES).map(([k, t]) => [k, 'ttlAttribute' in t ? t.ttlAttribute : undefined])));
    for (const k of ['events', 'usage', 'quarantine', 'audit', 'rollups', 'flags'] as const) expect(ttl[k], k).toBe('expiresAt');
    expect(ttl.ledger).toBeUndefined();
  });
});

describe('retention: usage fragments', () => {
  it('expire FRAGMENT_RETENTION_DAYS after their UTC day, however late they were written', async () => {
    // Prepare
    const usage = new DynamoDbUsageStore(clients.dynamo, ddb.tableNames.usage, undefined, 400);
    const short = new DynamoDbUsageStore(clients.dynamo, ddb.tableNames.usage, undefined, 30);
    const fragment = (day: string, messageKey: string) => ({
      customerId: 'acme',
      day,
      messageKey,
      calls: { '10': 3 },
      users: {},
      fileOps: [],
      events: 3,
    });

    // Days of last week, so that even the 30-day expiry is still ahead (DynamoDB Local's TTL may delete what is past).
    const dayAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);
    const [d1, d2, d3] = [dayAgo(7), dayAgo(6), dayAgo(5)] as [string, string, string];

    // Act
    await usage.putFragments([fragment(d1, 'm1'), fragment(d2, 'm1')]);
    await short.putFragments([fragment(d3, 'm2')]);

    // Assess: read back by their shard, whichever it is
    const expiryByDay = async (day: string, key: string) => {
      for (let shard = 0; shard < 8; shard++) {
        const item = await raw('usage', fragmentPk(day, shard), key);
        if (item) return expiryOf('usage', fragmentPk(day, shard), key);
      }
      throw new Error(`no fragment ${day} ${key}`);
    };
    expect(await expiryByDay(d1, 'm1')).toBe(expiryAfter(`${d1}T00:00:00Z`, 400));
    expect(await expiryByDay(d2, 'm1')).toBe(expiryAfter(`${d2}T00:00:00Z`, 400));
    expect(await expiryByDay(d3, 'm2')).toBe(expiryAfter(`${d3}T00:00:00Z`, 30));
    expect((await usage.fragments('acme', d1))[0]).toEqual(fragment(d1, 'm1'));
  });
});

describe('retention: quarantine', () => {
  let now = Date.parse('2026-12-01T00:00:00Z');
  const quarantine = () => new DynamoDbQuarantine(clients, ddb.tableNames.quarantine, undefined, { retentionDays: 90, now: () => now });
  const item = (key: string, quarantinedAt: string): QuarantineItem => ({
    customerId: 'ghost',
    key,
    reason: 'unknown_customer',
    errors: [{ field: 'subject', message: 'is not a registered customer' }],
    replayable: true,
    origin: 'ingest',
    quarantinedAt,
    attempts: 1,
  });
  const counter = async (sk: string) => {
    const c = await raw('quarantine', QUARANTINE_COUNTER_PK, sk);
    return c === undefined ? undefined : { n: Number(c.n?.N), expiresAt: c.expiresAt?.N === undefined ? undefined : Number(c.expiresAt.N) };
  };

  it('expires each item QUARANTINE_RETENTION_DAYS after its quarantine, counted in the counter of its expiry day', async () => {
    // Prepare
    const q = quarantine();

    // Act
    await q.put([item('k1', '2026-11-29T12:00:00.000Z'), item('k2', '2026-11-30T08:00:00.000Z')]);

    // Assess: each item's own expiry; one counter per expiry day, which expires the day after its day
    expect(await expiryOf('quarantine', 'Q#ghost', 'unknown_customer#k1')).toBe(expiryAfter('2026-11-29T12:00:00Z', 90));
    expect(await expiryOf('quarantine', 'Q#ghost', 'unknown_customer#k2')).toBe(expiryAfter('2026-11-30T08:00:00Z', 90));
    expect(await counter('2027-02-27')).toEqual({ n: 1, expiresAt: expiryAfter('2027-03-01T00:00:00Z', 0) });
    expect(await counter('2027-02-28')).toEqual({ n: 1, expiresAt: expiryAfter('2027-03-02T00:00:00Z', 0) });
    expect(await q.count()).toBe(2);
    expect((await q.list({ customerId: 'ghost' })).map((i) => i.key)).toEqual(['k1', 'k2']);
    expect(Object.keys((await q.list({ customerId: 'ghost' }))[0]!)).not.toContain('expiresAt');
  });

  it('moves an overwritten item to its new expiry day, and a removed one out of its counter', async () => {
    // Prepare
    const q = quarantine();
    const before = await q.count();

    // Act: k1 quarantined again three days later, then k2 removed (twice: the second finds nothing)
    await q.put([item('k1', '2026-12-02T12:00:00.000Z')]);
    const afterOverwrite = await q.count();
    await q.remove({ customerId: 'ghost', reason: 'unknown_customer', key: 'k2' });
    await q.remove({ customerId: 'ghost', reason: 'unknown_customer', key: 'k2' });

    // Assess
    expect(await expiryOf('quarantine', 'Q#ghost', 'unknown_customer#k1')).toBe(expiryAfter('2026-12-02T12:00:00Z', 90));
    expect([before, afterOverwrite, await q.count()]).toEqual([2, 2, 1]);
    expect((await counter('2027-02-27'))?.n).toBe(0);
    expect((await counter('2027-02-28'))?.n).toBe(0);
    expect((await counter('2027-03-02'))?.n).toBe(1);
  });

  it('stops counting and listing items once their expiry has passed, before TTL deletes them', async () => {
    // Prepare
    const q = quarantine();
    expect(await q.count()).toBe(1);

    // Act: the day after k1's expiry day
    now = Date.parse('2027-03-03T00:00:00Z');
    const counted = await q.count();
    const listed = await q.list({ customerId: 'ghost' });
    const page = await q.page({}, { limit: 100 });
    now = Date.parse('2026-12-03T00:00:00Z');

    // Assess
    expect(counted).toBe(0);
    expect(listed).toEqual([]);
    expect(page.items.filter((i) => i.customerId === 'ghost')).toEqual([]);
  });

  it('keeps counting items stored before items expired under the never-expiring counter, and moves them out of it', async () => {
    // Prepare: an item and the single counter as they were before retention
    const q = quarantine();
    const start = await q.count();
    const legacy = { pk: 'Q#old', sk: 'unknown_customer#k0', ...item('k0', '2026-01-05T00:00:00.000Z'), customerId: 'old' };
    await clients.dynamo.send(new PutItemCommand({ TableName: ddb.tableNames.quarantine, Item: marshall(legacy) }));
    await clients.dynamo.send(
      new PutItemCommand({ TableName: ddb.tableNames.quarantine, Item: marshall({ pk: QUARANTINE_COUNTER_PK, sk: 'QCOUNT', n: 1 }) }),
    );
    const withLegacy = await q.count();

    // Act: quarantined again (now with an expiry), then removed
    await q.put([{ ...item('k0', '2026-12-03T00:00:00.000Z'), customerId: 'old' }]);
    const moved = { legacy: (await counter('QCOUNT'))?.n, day: (await counter('2027-03-03'))?.n, count: await q.count() };
    await q.remove({ customerId: 'old', reason: 'unknown_customer', key: 'k0' });

    // Assess
    expect(withLegacy).toBe(start + 1);
    expect(moved).toEqual({ legacy: 0, day: 1, count: start + 1 });
    expect(await q.count()).toBe(start);
    expect(await raw('quarantine', 'Q#old', 'unknown_customer#k0')).toBeUndefined();
  });
});

describe('retention: rollups', () => {
  const rollups = () => new DynamoDbRollupStore(clients, ddb.tableNames.rollups, undefined, { rollupDays: 2555, eventDays: 400 });
  const day = (customerId: string, d: string, periodKey: string, anchorDay: number) =>
    ({ customerId, day: d, periodKey, anchorDay, apiCalls: 1, values: { api_calls: 1 } }) as unknown as StoredDay;

  it('expires daily rollups and period user sets ROLLUP_RETENTION_DAYS after their period ends; file histories never', async () => {
    // Prepare: a calendar-month customer and one anchored on the 15th
    const store = rollups();

    // Act
    await store.save('cal', {
      days: [day('cal', '2026-03-02', '2026-03', 1)],
      periodUsers: new Map([['2026-03', new Map([['u1', '2026-03-02']])]]),
      files: new Map([['f1', [['f1', '+', Date.parse('2026-03-02T10:00:00Z'), 'k']]]]),
    });
    await store.save('anch', {
      days: [day('anch', '2026-03-02', '2026-02-15', 15)],
      periodUsers: new Map([['2026-02-15', new Map([['u1', '2026-03-02']])]]),
      files: new Map(),
    });

    // Assess
    expect(await expiryOf('rollups', 'R#cal', 'D#2026-03-02')).toBe(expiryAfter('2026-04-01T00:00:00Z', 2555));
    expect(await expiryOf('rollups', 'PU#cal#2026-03', 'u1')).toBe(expiryAfter('2026-04-01T00:00:00Z', 2555));
    expect(await expiryOf('rollups', 'R#anch', 'D#2026-03-02')).toBe(expiryAfter('2026-03-15T00:00:00Z', 2555));
    expect(await expiryOf('rollups', 'PU#anch#2026-02-15', 'u1')).toBe(expiryAfter('2026-03-15T00:00:00Z', 2555));
    expect(await expiryOf('rollups', 'FH#cal', 'f1')).toBeUndefined();
    expect(Object.keys((await store.getDays('cal', '2026-03-01', '2026-03-31'))[0]!)).not.toContain('expiresAt');
  });

  it('expires late marks EVENT_RETENTION_DAYS after their marking and runs after their day; the watermark never', async () => {
    // Prepare
    const store = rollups();
    const markedAt = Date.parse('2026-05-06T07:08:09Z');

    // Act
    await store.markLate([{ customerId: 'cal', day: '2026-05-01' }], markedAt);
    await store.startRun({ runId: 'r1', day: '2026-05-05', chunks: 1, customers: 2, startedAt: '2026-05-06T00:30:00.000Z' });
    await store.chunkDone('2026-05-05', 'r1', { sent: 2 });
    await store.markClosedThrough('2026-05-05');

    // Assess
    expect(await expiryOf('rollups', 'LATE', 'cal#2026-05-01')).toBe(expiryAfter('2026-05-06T07:08:09Z', 400));
    expect(await expiryOf('rollups', 'RUN#2026-05-05', 'r1')).toBe(expiryAfter('2026-05-05T00:00:00Z', 400));
    expect(await expiryOf('rollups', 'RUN#WATERMARK', 'closed')).toBeUndefined();
    expect(Object.keys((await store.getRun('2026-05-05', 'r1'))!)).not.toContain('expiresAt');
    expect(Object.keys((await store.runsOf('2026-05-05'))[0]!)).not.toContain('expiresAt');
  });
});

describe('retention: fraud flags', () => {
  const flags = () => new DynamoDbFlagStore(clients, ddb.tableNames.flags, undefined, undefined, 730);
  const detection: Detection = {
    customerId: 'flagged',
    rule: 'volume_spike',
    meter: 'api_calls',
    window: { from: '2026-11-20T10:00:00.000Z', to: '2026-11-20T11:00:00.000Z' },
    score: 0.9,
    severity: 'high',
    evidence: { summary: 'spike', observed: 5000, expected: 300, signals: { z: 9 }, series: [] },
  };
  const copies = async (f: Flag) => [await raw('flags', `FLAG#${f.id}`, 'FLAG'), await raw('flags', `CF#${f.customerId}`, f.id)];
  const openQueue = async () =>
    (
      await clients.dynamo.send(
        new QueryCommand({
          TableName: ddb.tableNames.flags,
          IndexName: 'OpenByUrgency',
          KeyConditionExpression: '#q = :open',
          ExpressionAttributeNames: { '#q': 'queue' },
          ExpressionAttributeValues: { ':open': { S: 'OPEN' } },
        }),
      )
    ).Items ?? [];

  it('never expires an open flag; a decided one expires FLAG_RETENTION_DAYS after its decision, both copies alike', async () => {
    // Prepare
    const store = flags();
    const open = openFlag(detection, '2026-11-21T00:30:00.000Z');
    await store.save([{ flag: open, basedOn: undefined }]);
    const whileOpen = await copies(open);
    const queuedWhileOpen = (await openQueue()).length;

    // Act
    const confirmed = reviewFlag(open, { decision: 'confirm', note: 'leaked key', reviewer: 'ana', at: '2026-11-25T09:00:00.000Z' });
    await store.save([{ flag: confirmed, basedOn: flagRevision(open) }]);

    // Assess
    expect(whileOpen.map((i) => i?.expiresAt)).toEqual([undefined, undefined]);
    expect(queuedWhileOpen).toBe(1);
    expect(await expiryOf('flags', `FLAG#${open.id}`, 'FLAG')).toBe(expiryAfter('2026-11-25T09:00:00Z', 730));
    expect(await expiryOf('flags', `CF#${open.customerId}`, open.id)).toBe(expiryAfter('2026-11-25T09:00:00Z', 730));
    expect(await openQueue()).toEqual([]);
    expect((await store.get(open.id))?.status).toBe('confirmed');
  });

  it('moves a confirmed flag’s expiry on when the close extends it after the decision', async () => {
    // Prepare
    const store = flags();
    const confirmed = (await store.get(openFlag(detection, '2026-11-21T00:30:00.000Z').id))!;
    const extended: Flag = {
      ...confirmed,
      window: { ...confirmed.window, to: '2026-12-01T00:00:00.000Z' },
      history: [...confirmed.history, { at: '2026-12-02T00:30:00.000Z', by: 'system', action: 'extended' }],
    };

    // Act
    await store.save([{ flag: extended, basedOn: flagRevision(confirmed) }]);

    // Assess
    const [byId, byCustomer] = await copies(extended);
    expect(Number(byId?.expiresAt?.N)).toBe(expiryAfter('2026-12-02T00:30:00Z', 730));
    expect(byCustomer?.expiresAt).toEqual(byId?.expiresAt);
  });
});
