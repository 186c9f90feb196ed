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
import type { Page, PageRequest, QuarantineFilter, QuarantineItem, QuarantinePages, QuarantineStore } from '../../core/shared/ports.js';
import type { CapacityMeter } from './capacity-meter.js';
import { decodeKeyCursor, encodeKeyCursor } from './dynamodb-cursor.js';

const pkOf = (customerId: string) => `Q#${customerId}`;
const skOf = (i: Pick<QuarantineItem, 'reason' | 'key'>) => `${i.reason}#${i.key}`;
/** The quarantine's depth counter: one item in the quarantine table itself, `n` moved by every put of a new item and every remove. */
export const QUARANTINE_COUNTER_KEY = { pk: 'QCOUNT', sk: 'QCOUNT' } as const;
/** DynamoDB's limit of items in one transaction, less the counter's update. */
const MAX_PER_TRANSACTION = 99;
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

/** DynamoDB implementation of the QuarantineStore port. */
export class DynamoDbQuarantine implements QuarantineStore, QuarantinePages {
  constructor(
    private readonly clients: { dynamo: DynamoDBClient; doc: DynamoDBDocumentClient },
    private readonly table: string,
    private readonly meter?: CapacityMeter,
  ) {}

  /**
   * Stores items; one already quarantined is overwritten. The depth counter moves in the same
   * transaction as the writes: each new item is put on condition that it is absent, with the counter
   * `ADD`ed by the number of new ones; an item found present (or gone) is written again the other way.
   */
  async put(items: readonly QuarantineItem[]): Promise<void> {
    for (const chunk of chunksOf(items.map((i) => this.itemOf(i)))) await this.putChunk(chunk);
  }

  /** The stored form of an item, keyed by customer and (reason, key). */
  private itemOf(i: QuarantineItem): Record<string, AttributeValue> {
    return marshall(
      { pk: pkOf(i.customerId), sk: skOf(i), ...i, ...(i.raw !== undefined ? { raw: storable(i.raw) } : {}) },
      { removeUndefinedValues: true, convertClassInstanceToMap: true },
    );
  }

  private async putChunk(chunk: readonly Record<string, AttributeValue>[]): Promise<void> {
    const present = new Set<number>();
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const fresh = chunk.length - present.size;
      const writes: TransactWriteItem[] = chunk.map((Item, i) => ({
        Put: { TableName: this.table, Item, ConditionExpression: present.has(i) ? 'attribute_exists(pk)' : 'attribute_not_exists(pk)' },
      }));
      try {
        await this.transact(fresh > 0 ? [...writes, this.counterMove(fresh)] : writes);
        return;
      } catch (err) {
        const failed = conditionFailures(err);
        if (!failed) throw err;
        // Another put or remove on the counter at the same moment: wait a little, as DynamoDB advises.
        if (failed.length === 0) await sleep(20 * 2 ** round * Math.random());
        for (const i of failed) {
          if (present.has(i)) present.delete(i);
          else present.add(i);
        }
      }
    }
    throw new Error(`quarantine put: items kept changing under ${MAX_ROUNDS} transactions`);
  }

  private counterMove(by: number): TransactWriteItem {
    return {
      Update: {
        TableName: this.table,
        Key: marshall(QUARANTINE_COUNTER_KEY),
        UpdateExpression: 'ADD n :by',
        ExpressionAttributeValues: marshall({ ':by': by }),
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
   * page may hold fewer (even none) and still have a cursor; the depth counter is filtered out.
   */
  async page(filter: Omit<QuarantineFilter, 'limit'>, page: PageRequest): Promise<Page<QuarantineItem>> {
    const ours = filter.customerId
      ? (pk: string) => pk === pkOf(filter.customerId!)
      : (pk: string) => pk.startsWith('Q#') || pk === 'QCOUNT';
    const start = page.cursor === undefined ? undefined : decodeKeyCursor(page.cursor, ours);
    const { items, next } = await this.readOnce(filter, start, page.limit);
    return { items, ...(next ? { cursor: encodeKeyCursor(next) } : {}) };
  }

  /** One Query (a customer named) or Scan request of the listing from `start`, the depth counter left out. */
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
    const r = filter.customerId
      ? await this.clients.doc.send(
          new QueryCommand({
            ...common,
            KeyConditionExpression: filter.reason ? 'pk = :pk AND begins_with(sk, :r)' : 'pk = :pk',
            ExpressionAttributeValues: { ':pk': pkOf(filter.customerId), ...(filter.reason ? { ':r': `${filter.reason}#` } : {}) },
          }),
        )
      : await this.clients.doc.send(
          new ScanCommand({
            ...common,
            FilterExpression: filter.reason ? 'pk <> :counter AND reason = :r' : 'pk <> :counter',
            ExpressionAttributeValues: { ':counter': QUARANTINE_COUNTER_KEY.pk, ...(filter.reason ? { ':r': filter.reason } : {}) },
          }),
        );
    this.meter?.add('read', r.ConsumedCapacity);
    const items = (r.Items ?? []).map(({ pk: _pk, sk: _sk, ...rest }) => rest as QuarantineItem);
    return { items, ...(r.LastEvaluatedKey ? { next: r.LastEvaluatedKey } : {}) };
  }

  /** Removes an item, and moves the counter with it; removing one that is not there changes nothing. */
  async remove(i: Pick<QuarantineItem, 'customerId' | 'reason' | 'key'>, round = 0): Promise<void> {
    const Key = marshall({ pk: pkOf(i.customerId), sk: skOf(i) });
    try {
      await this.transact([{ Delete: { TableName: this.table, Key, ConditionExpression: 'attribute_exists(pk)' } }, this.counterMove(-1)]);
    } catch (err) {
      const failed = conditionFailures(err);
      if (!failed) throw err;
      // The item was not there (removed already): nothing to count. Or the counter was busy: once more.
      if (failed.length === 0 && round + 1 < MAX_ROUNDS) {
        await sleep(20 * 2 ** round * Math.random());
        return this.remove(i, round + 1);
      }
      if (failed.length === 0) throw err;
    }
  }

  /** The depth counter: one strongly consistent read, however much is quarantined. */
  async count(): Promise<number> {
    const r = await this.clients.doc.send(
      new GetCommand({ TableName: this.table, Key: QUARANTINE_COUNTER_KEY, ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL' }),
    );
    this.meter?.add('read', r.ConsumedCapacity);
    return Number(r.Item?.n ?? 0);
  }
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
