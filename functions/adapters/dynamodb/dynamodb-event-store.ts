import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DAY_MS } from '../../../contract/clock.js';
import { eventKey, type UsageEvent } from '../../../contract/event-contract.js';
import { type Backoff, DEFAULT_BACKOFF } from '../../core/shared/concurrency.js';
import type { EventStore } from '../../core/shared/ports.js';
import type { CapacityMeter } from './capacity-meter.js';
import { batchWriteAll, putEachIf, queryAll } from './dynamodb-batch.js';

type Item = Record<string, AttributeValue>;

/** Partition of an event: its customer's UTC day. */
export const eventPk = (customerId: string, day: string) => `E#${customerId}#${day}`;

/** Conditional writes in flight per message: each is one small request, so more overlap hides latency. */
const EVENT_CLAIM_CONCURRENCY = 32;

const expiryOf = (ingestedAt: string, retentionDays: number) =>
  String(Math.floor((Date.parse(ingestedAt) + retentionDays * DAY_MS) / 1000));

const keyOf = (e: UsageEvent): Item => ({ pk: { S: eventPk(e.customerId, e.time.slice(0, 10)) }, sk: { S: eventKey(e) } });

/** DynamoDB implementation of the EventStore port. Items are marshalled by hand: this is the hot path. */
export class DynamoDbEventStore implements EventStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    private readonly retentionDays: number,
    private readonly meter?: CapacityMeter,
    private readonly backoff: Backoff = DEFAULT_BACKOFF,
  ) {}

  async put(events: readonly UsageEvent[], owner: string, ingestedAt: string): Promise<void> {
    const expiresAt = expiryOf(ingestedAt, this.retentionDays);
    await batchWriteAll(
      this.client,
      this.table,
      events.map((e) => ({ PutRequest: { Item: toItem(e, owner, ingestedAt, expiresAt) } })),
      this.meter,
      8,
      this.backoff,
    );
  }

  /**
   * One conditional PutItem per event: written when absent or already this message's (a redelivery, or two
   * consumers on the same message), refused when another message holds it. On AWS each costs the same write
   * unit as a batched put, so the dedupe record stays near one write per event.
   */
  async claim(events: readonly UsageEvent[], owner: string, ingestedAt: string): Promise<Set<string>> {
    const expiresAt = expiryOf(ingestedAt, this.retentionDays);
    const refused = await putEachIf(
      this.client,
      this.table,
      events.map((e) => toItem(e, owner, ingestedAt, expiresAt)),
      { expression: 'attribute_not_exists(pk) OR o = :owner', values: { ':owner': { S: owner } } },
      this.meter,
      EVENT_CLAIM_CONCURRENCY,
      this.backoff,
    );
    return new Set([...refused].map((i) => eventKey(events[i]!)));
  }

  async listDay(customerId: string, day: string): Promise<UsageEvent[]> {
    const items = await queryAll(
      this.client,
      // Strongly consistent: an event written just before a close began must be in it (its late mark is cleared after).
      {
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: eventPk(customerId, day) } },
        ConsistentRead: true,
      },
      this.meter,
    );
    return items.map(fromItem);
  }
}

/** The stored form of an event: short attribute names keep items small (write units are per KB). */
export function toItem(e: UsageEvent, owner: string, ingestedAt: string, expiresAt: string): Item {
  const item: Item = {
    ...keyOf(e),
    id: { S: e.id },
    src: { S: e.source },
    c: { S: e.customerId },
    t: { S: e.type },
    ts: { S: e.time },
    q: { N: String(e.quantity) },
    o: { S: owner },
    ia: { S: ingestedAt },
    expiresAt: { N: expiresAt },
  };
  if (e.operation !== undefined) item.op = { S: e.operation };
  if (e.apiKeyId !== undefined) item.k = { S: e.apiKeyId };
  if (e.ipPrefix !== undefined) item.ip = { S: e.ipPrefix };
  if (e.country !== undefined) item.cc = { S: e.country };
  if (e.region !== undefined) item.rg = { S: e.region };
  if (e.userId !== undefined) item.u = { S: e.userId };
  if (e.fileId !== undefined) item.f = { S: e.fileId };
  if (e.metadata !== undefined) item.md = { S: JSON.stringify(e.metadata) };
  return item;
}

function fromItem(i: Item): UsageEvent {
  const s = (k: string) => i[k]?.S;
  const e: UsageEvent = {
    id: s('id')!,
    source: s('src')!,
    customerId: s('c')!,
    type: s('t') as UsageEvent['type'],
    time: s('ts')!,
    quantity: Number(i.q?.N ?? '1'),
  };
  const optional: [keyof UsageEvent, string][] = [
    ['operation', 'op'],
    ['apiKeyId', 'k'],
    ['ipPrefix', 'ip'],
    ['country', 'cc'],
    ['region', 'rg'],
    ['userId', 'u'],
    ['fileId', 'f'],
  ];
  for (const [field, attr] of optional) if (s(attr) !== undefined) (e as Record<string, unknown>)[field] = s(attr);
  if (s('md') !== undefined) e.metadata = JSON.parse(s('md')!);
  return e;
}
