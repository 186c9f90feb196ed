// One idea in one file, though over 300 lines: the quarantine and its depth counters, kept per expiry day and moved in the
// same transaction as every put and remove, so the count stays exact while TTL deletes expired items.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AttributeValue,
  type DynamoDBClient,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { DAY_MS, utcDay } from '../../../contract/clock.js';
import type { Page, PageRequest, QuarantineFilter, QuarantineItem, QuarantinePages, QuarantineStore } from '../../core/shared/ports.js';
import { DEFAULTS } from '../../resources.js';
import type { CapacityMeter } from './capacity-meter.js';
import { decodeKeyCursor, encodeKeyCursor } from './dynamodb-cursor.js';

const pkOf = (customerId: string) => `Q#${customerId}`;
const skOf = (i: Pick<QuarantineItem, 'reason' | 'key'>) => `${i.reason}#${i.key}`;
/**
 * The quarantine's depth counters, in the quarantine table itself: one per UTC day on which the items it
 * counts expire (`sk` that day), `n` moved by every put of a new item and every remove. DynamoDB's TTL
 * deletes an item without a word, so no counter can be moved then; instead a day's counter stops being
 * summed once its day is over, when all it counts has expired, and then expires itself. Items written
 * before items expired are counted under `sk` `QCOUNT` (the former single counter), which never expires.
 */
export const QUARANTINE_COUNTER_PK = 'QCOUNT';
const LEGACY_BUCKET = 'QCOUNT';
/** DynamoDB's limit of items in one transaction. */
const MAX_TRANSACTION_ITEMS = 100;
/** Items per transaction, leaving room for the counters they move (a chunk that still overflows is halved). */
const MAX_PER_TRANSACTION = 90;
/** Bytes of items per transaction: DynamoDB refuses a transaction over 4 MB. */
const MAX_TRANSACTION_BYTES = 3_000_000;
/** Rounds of a put whose items another writer adds or removes meanwhile; each round settles at least one item. */
const MAX_ROUNDS = 5;

/**
 * Rejected input as DynamoDB can hold it: a number a DynamoDB number cannot keep exactly (beyond ±2^53-1, non-finite,
 * or outside its 1e-130..1e125 range) becomes its JSON text and a lone surrogate U+FFFD, so quarantining never fails on what a client sent.
 */
export function storable(value: unknown): unknown {
  if (typeof value === 'number') {
    const abs = Math.abs(value);
    const exact = Number.isInteger(value) ? Number.isSafeInteger(value) : Number.isFinite(value) && abs >= 1e-130 && abs < 1e125;
    return exact ? value : String(value);
  }
  if (typeof value === 'string') return wellFormed(value);
  if (Array.isArray(value)) return value.map(storable);
  if (typeof value === 'object' && value !== null) {
    // marshall assigns keys, so an own `__proto__` key would become the map's prototype and be sent as a broken value.
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k === '__proto__' ? '[__proto__]' : wellFormed(k), storable(v)]));
  }
  return value;
}

/** A lone surrogate has no UTF-8 form, so DynamoDB cannot store it: it becomes U+FFFD, as a UTF-8 decoder would make it. */
const wellFormed = (text: string) => text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');

/** How the quarantine ends its items: `retentionDays` after each one's `quarantinedAt`, by the clock `now` (ms). */
export interface QuarantineRetention {
  retentionDays: number;
  now: () => number;
}

/** What a stored item is, as far as the counters go: absent, or present and counted in `bucket`. */
type Stored = { present: false } | { present: true; bucket: string; expiresAt?: number };

/** DynamoDB implementation of the QuarantineStore port. */
export class DynamoDbQuarantine implements QuarantineStore, QuarantinePages {
  constructor(
    private readonly clients: { dynamo: DynamoDBClient; doc: DynamoDBDocumentClient },
    private readonly table: string,
    private readonly meter?: CapacityMeter,
    private readonly retention: QuarantineRetention = { retentionDays: DEFAULTS.quarantineRetentionDays, now: () => Date.now() },
  ) {}

  /**
   * Stores items; one already quarantined is overwritten. The depth counters move in the same
   * transaction as the writes: each item is put on condition that it is as last seen (absent at first),
   * `ADD`ing one to the counter of its expiry day and, over one present, one less to that one's; an
   * item found otherwise is read and written again.
   */
  async put(items: readonly QuarantineItem[]): Promise<void> {
    for (const chunk of chunksOf(items.map((i) => this.itemOf(i)))) await this.putChunk(chunk);
  }

  /**
   * The stored form of an item, keyed by customer and (reason, key), with `expiresAt` `retentionDays` after its
   * `quarantinedAt` (a Number: DynamoDB's TTL ignores any other type); an overwrite counts from the new time.
   */
  private itemOf(i: QuarantineItem): Record<string, AttributeValue> {
    const at = Date.parse(i.quarantinedAt);
    const expiresAt = Number.isFinite(at) ? Math.floor((at + this.retention.retentionDays * DAY_MS) / 1000) : undefined;
    return marshall(
      { pk: pkOf(i.customerId), sk: skOf(i), ...i, ...(i.raw !== undefined ? { raw: storable(i.raw) } : {}), expiresAt },
      { removeUndefinedValues: true, convertClassInstanceToMap: true },
    );
  }

  private async putChunk(chunk: readonly Record<string, AttributeValue>[]): Promise<void> {
    const stored: Stored[] = chunk.map(() => ({ present: false }));
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const moves = new Map<string, number>();
      const move = (bucket: string, by: number) => moves.set(bucket, (moves.get(bucket) ?? 0) + by);
      const writes: TransactWriteItem[] = chunk.map((Item, i) => {
        move(bucketOf(Item.expiresAt?.N), 1);
        const was = stored[i]!;
        if (was.present) move(was.bucket, -1);
        return { Put: { TableName: this.table, Item, ...asStored(was) } };
      });
      const counters = [...moves].filter(([, by]) => by !== 0).map(([bucket, by]) => this.counterMove(bucket, by));
      if (writes.length + counters.length > MAX_TRANSACTION_ITEMS) {
        // Items counted under many days each: halve the chunk until its counters fit.
        const half = Math.ceil(chunk.length / 2);
        await this.putChunk(chunk.slice(0, half));
        await this.putChunk(chunk.slice(half));
        return;
      }
      try {
        await this.transact([...writes, ...counters]);
        return;
      } catch (err) {
        const failed = conditionFailures(err);
        if (!failed) throw err;
        // Another put or remove on a counter at the same moment: wait a little, as DynamoDB advises.
        if (failed.length === 0) await sleep(20 * 2 ** round * Math.random());
        // Items not as last seen (written or removed meanwhile): see how they are now.
        const now = await Promise.all(failed.map((i) => this.storedAt(chunk[i]!)));
        failed.forEach((i, k) => {
          stored[i] = now[k]!;
        });
      }
    }
    throw new Error(`quarantine put: items kept changing under ${MAX_ROUNDS} transactions`);
  }

  /** How an item stands now (strongly consistent), as the counters count it. */
  private async storedAt(item: Record<string, AttributeValue>): Promise<Stored> {
    const r = await this.clients.doc.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: item.pk!.S!, sk: item.sk!.S! },
        ProjectionExpression: 'pk, expiresAt',
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.meter?.add('read', r.ConsumedCapacity);
    if (!r.Item) return { present: false };
    const expiresAt = typeof r.Item.expiresAt === 'number' ? r.Item.expiresAt : undefined;
    return { present: true, bucket: bucketOf(expiresAt === undefined ? undefined : String(expiresAt)), expiresAt };
  }

  /** Moves the counter of one expiry day (`bucket`), which expires itself the day after. */
  private counterMove(bucket: string, by: number): TransactWriteItem {
    const day = bucket === LEGACY_BUCKET ? undefined : Date.parse(`${bucket}T00:00:00.000Z`);
    return {
      Update: {
        TableName: this.table,
        Key: marshall({ pk: QUARANTINE_COUNTER_PK, sk: bucket }),
        UpdateExpression: day === undefined ? 'ADD n :by' : 'ADD n :by SET expiresAt = :exp',
        ExpressionAttributeValues: marshall({ ':by': by, ...(day === undefined ? {} : { ':exp': (day + 2 * DAY_MS) / 1000 }) }),
      },
    };
  }

  private async transact(TransactItems: TransactWriteItem[]): Promise<void> {
    const r = await this.clients.dynamo.send(new TransactWriteItemsCommand({ TransactItems, ReturnConsumedCapacity: 'TOTAL' }));
    for (const c of r.ConsumedCapacity ?? []) this.meter?.add('write', c);
  }

  async list(filter: QuarantineFilter = {}): Promise<QuarantineItem[]> {
    const out: QuarantineItem[] = [];
    const limit = filter.limit ?? 1000;
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.readOnce(filter, start);
      out.push(...r.items);
      start = r.next;
    } while (start && out.length < limit);
    return out.slice(0, limit).sort((a, b) => (a.quarantinedAt < b.quarantinedAt ? -1 : 1));
  }

  /**
   * One page of items: a Query of the customer's partition when one is named (the reason as a key prefix),
   * else a Scan with the reason as a filter. Either reads at most `page.limit` items per page, so a filtered
   * page may hold fewer (even none) and still have a cursor; the depth counters are filtered out, and so are
   * items past their expiry that DynamoDB's TTL (which runs some time after) has not deleted yet.
   */
  async page(filter: Omit<QuarantineFilter, 'limit'>, page: PageRequest): Promise<Page<QuarantineItem>> {
    const ours = filter.customerId
      ? (pk: string) => pk === pkOf(filter.customerId!)
      : (pk: string) => pk.startsWith('Q#') || pk === 'QCOUNT';
    const start = page.cursor === undefined ? undefined : decodeKeyCursor(page.cursor, ours);
    const { items, next } = await this.readOnce(filter, start, page.limit);
    return { items, ...(next ? { cursor: encodeKeyCursor(next) } : {}) };
  }

  /** One Query (a customer named) or Scan request of the listing from `start`, the depth counters and expired items left out. */
  private async readOnce(
    filter: Omit<QuarantineFilter, 'limit'>,
    start: Record<string, unknown> | undefined,
    limit?: number,
  ): Promise<{ items: QuarantineItem[]; next?: Record<string, unknown> }> {
    const common = {
      TableName: this.table,
      ...(limit !== undefined ? { Limit: limit } : {}),
      ExclusiveStartKey: start,
      ReturnConsumedCapacity: 'TOTAL' as const,
    };
    const live = '(attribute_not_exists(expiresAt) OR expiresAt > :now)';
    const now = Math.floor(this.retention.now() / 1000);
    const r = filter.customerId
      ? await this.clients.doc.send(
          new QueryCommand({
            ...common,
            KeyConditionExpression: filter.reason ? 'pk = :pk AND begins_with(sk, :r)' : 'pk = :pk',
            FilterExpression: live,
            ExpressionAttributeValues: {
              ':pk': pkOf(filter.customerId),
              ':now': now,
              ...(filter.reason ? { ':r': `${filter.reason}#` } : {}),
            },
          }),
        )
      : await this.clients.doc.send(
          new ScanCommand({
            ...common,
            FilterExpression: `pk <> :counter AND ${live}${filter.reason ? ' AND reason = :r' : ''}`,
            ExpressionAttributeValues: {
              ':counter': QUARANTINE_COUNTER_PK,
              ':now': now,
              ...(filter.reason ? { ':r': filter.reason } : {}),
            },
          }),
        );
    this.meter?.add('read', r.ConsumedCapacity);
    const items = (r.Items ?? []).map(({ pk: _pk, sk: _sk, expiresAt: _e, ...rest }) => rest as QuarantineItem);
    return { items, ...(r.LastEvaluatedKey ? { next: r.LastEvaluatedKey } : {}) };
  }

  /**
   * Removes an item, and moves the counter it is counted in with it, on condition that it is still as read;
   * removing one that is not there changes nothing.
   */
  async remove(i: Pick<QuarantineItem, 'customerId' | 'reason' | 'key'>): Promise<void> {
    const Key = marshall({ pk: pkOf(i.customerId), sk: skOf(i) });
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const was = await this.storedAt(Key);
      if (!was.present) return;
      try {
        await this.transact([{ Delete: { TableName: this.table, Key, ...asStored(was) } }, this.counterMove(was.bucket, -1)]);
        return;
      } catch (err) {
        const failed = conditionFailures(err);
        if (!failed) throw err;
        // Rewritten or removed meanwhile: read it again. Or a counter was busy: wait a little, then once more.
        if (failed.length === 0) await sleep(20 * 2 ** round * Math.random());
      }
    }
    throw new Error(`quarantine remove: the item kept changing under ${MAX_ROUNDS} transactions`);
  }

  /**
   * The depth: the counters of today and the days after (and the never-expiring one), one strongly consistent
   * Query of their small partition, however much is quarantined. Items expiring today still count until the day ends.
   */
  async count(): Promise<number> {
    const r = await this.clients.doc.send(
      new QueryCommand({
        TableName: this.table,
        // `QCOUNT` sorts after every `YYYY-MM-DD`, so the never-expiring counter is in the range too.
        KeyConditionExpression: 'pk = :pk AND sk >= :today',
        ExpressionAttributeValues: { ':pk': QUARANTINE_COUNTER_PK, ':today': utcDay(this.retention.now()) },
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.meter?.add('read', r.ConsumedCapacity);
    return (r.Items ?? []).reduce((sum, c) => sum + Number(c.n ?? 0), 0);
  }
}

/** The counter an item is counted in: the UTC day of its expiry (`expiresAt`, Unix seconds), or the never-expiring one. */
function bucketOf(expiresAt: string | undefined): string {
  return expiresAt === undefined ? LEGACY_BUCKET : utcDay(Number(expiresAt) * 1000);
}

/** The condition that an item is still as last seen: absent, or present with the same expiry (so in the same counter). */
function asStored(was: Stored): Pick<TransactWriteItem['Put'] & {}, 'ConditionExpression' | 'ExpressionAttributeValues'> {
  if (!was.present) return { ConditionExpression: 'attribute_not_exists(pk)' };
  if (was.expiresAt === undefined) return { ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(expiresAt)' };
  return { ConditionExpression: 'expiresAt = :was', ExpressionAttributeValues: { ':was': { N: String(was.expiresAt) } } };
}

/** Items in groups one transaction can take. */
function chunksOf(items: readonly Record<string, AttributeValue>[]): Record<string, AttributeValue>[][] {
  const out: Record<string, AttributeValue>[][] = [];
  let current: Record<string, AttributeValue>[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = JSON.stringify(item).length;
    if (current.length > 0 && (current.length >= MAX_PER_TRANSACTION || bytes + size > MAX_TRANSACTION_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * The indexes of a cancelled transaction's items whose condition failed (empty when it only met another
 * transaction on the counter: retry as it was), or undefined when it failed otherwise.
 */
function conditionFailures(err: unknown): number[] | undefined {
  if (!(err instanceof TransactionCanceledException)) return undefined;
  const reasons = err.CancellationReasons ?? [];
  const failed = reasons.flatMap((r, i) => (r.Code === 'ConditionalCheckFailed' ? [i] : []));
  if (failed.length > 0) return failed;
  return reasons.some((r) => r.Code === 'TransactionConflict') ? [] : undefined;
}
