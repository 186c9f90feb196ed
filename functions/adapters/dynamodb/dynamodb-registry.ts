import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { type Backoff, DEFAULT_BACKOFF } from '../../core/shared/concurrency.js';
import type { ApiKey, Customer, CustomerPages, Page, PageRequest, Registry } from '../../core/shared/ports.js';
import type { CapacityMeter } from './capacity-meter.js';
import { untilProcessed } from './dynamodb-batch.js';
import { decodeKeyCursor, encodeKeyCursor } from './dynamodb-cursor.js';

const customerPk = (id: string) => `CUS#${id}`;
const keyPk = (hash: string) => `KEY#${hash}`;
/**
 * Every partition of the Registry (see TABLES.registry): a Scan's page may stop on any of them, customers and keys,
 * erased marks and privacy requests alike. End users' pseudonyms are in a table of their own, so a Scan of customers
 * does not grow with their users.
 */
export const isRegistryPk = (pk: string) => /^(CUS|KEY|CX|PR)#/.test(pk);

/** DynamoDB implementation of the Registry port: customers and hashed API keys in one small table. */
export class DynamoDbRegistry implements Registry, CustomerPages {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly meter?: CapacityMeter,
    private readonly backoff: Backoff = DEFAULT_BACKOFF,
  ) {}

  async customers(ids: readonly string[]): Promise<Map<string, Customer>> {
    const out = new Map<string, Customer>();
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += 100) {
      const keys: Record<string, unknown>[] = unique.slice(i, i + 100).map((id) => ({ pk: customerPk(id), sk: 'PROFILE' }));
      // Bounded and jittered: a throttled Registry fails the record (retried later) instead of spinning.
      await untilProcessed(
        keys,
        async (pending) => {
          const r: BatchGetCommandOutput = await this.doc.send(
            new BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending } }, ReturnConsumedCapacity: 'TOTAL' }),
          );
          this.meter?.add('read', r.ConsumedCapacity);
          for (const item of r.Responses?.[this.table] ?? []) out.set(item.id, toCustomer(item));
          return r.UnprocessedKeys?.[this.table]?.Keys ?? [];
        },
        { table: this.table, kind: 'reads' },
        this.backoff,
      );
    }
    return out;
  }

  async putCustomer(c: Customer): Promise<void> {
    const r = await this.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: customerPk(c.id), sk: 'PROFILE', kind: 'customer', ...c },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.meter?.add('write', r.ConsumedCapacity);
  }

  async listCustomers(): Promise<Customer[]> {
    const out: Customer[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.doc.send(
        new ScanCommand({
          TableName: this.table,
          FilterExpression: 'kind = :k',
          ExpressionAttributeValues: { ':k': 'customer' },
          ExclusiveStartKey: start,
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.meter?.add('read', r.ConsumedCapacity);
      for (const item of r.Items ?? []) out.push(toCustomer(item));
      start = r.LastEvaluatedKey;
    } while (start);
    return out.sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** One page of customers: a Scan filtered to `kind = customer`, as `listKeys` is, reading at most `page.limit` items. */
  async pageCustomers(page: PageRequest): Promise<Page<Customer>> {
    const r = await scanKindPage(this.doc, this.table, 'customer', page, this.meter);
    return { ...r, items: r.items.map(toCustomer) };
  }

  async deleteCustomer(id: string): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.table, Key: { pk: customerPk(id), sk: 'PROFILE' } }));
  }

  async keyByHash(hash: string): Promise<ApiKey | undefined> {
    const r = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { pk: keyPk(hash), sk: 'KEY' }, ReturnConsumedCapacity: 'TOTAL' }),
    );
    this.meter?.add('read', r.ConsumedCapacity);
    if (!r.Item) return undefined;
    const { pk: _pk, sk: _sk, kind: _kind, ...key } = r.Item;
    return key as ApiKey;
  }

  async putKey(key: ApiKey): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.table, Item: { pk: keyPk(key.hash), sk: 'KEY', kind: 'key', ...key } }));
  }

  /**
   * One page of keys. Keys and customers share the table without an index, so this is a Scan filtered to
   * `kind = key`: each page reads at most `page.limit` items (a page may hold fewer keys and still have a cursor).
   */
  async listKeys(page: PageRequest): Promise<Page<ApiKey>> {
    const r = await scanKindPage(this.doc, this.table, 'key', page, this.meter);
    return { ...r, items: r.items.map(({ pk: _pk, sk: _sk, kind: _kind, ...key }) => key as unknown as ApiKey) };
  }

  /** Stamps `revokedAt` on a stored key (the first revocation's time stays); undefined when no such key. */
  async revokeKey(hash: string, at: string): Promise<ApiKey | undefined> {
    try {
      const r = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: keyPk(hash), sk: 'KEY' },
          UpdateExpression: 'SET revokedAt = if_not_exists(revokedAt, :at)',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':at': at },
          ReturnValues: 'ALL_NEW',
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.meter?.add('write', r.ConsumedCapacity);
      const { pk: _pk, sk: _sk, kind: _kind, ...key } = r.Attributes ?? {};
      return key as ApiKey;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      throw err;
    }
  }

  /** Conditional, so concurrent requests of one key write `lastUsedAt` once per staleness window, not once each. */
  async touchKey(hash: string, at: string, staleBefore: string): Promise<void> {
    try {
      const r = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: keyPk(hash), sk: 'KEY' },
          UpdateExpression: 'SET lastUsedAt = :at',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(lastUsedAt) OR lastUsedAt < :stale)',
          ExpressionAttributeValues: { ':at': at, ':stale': staleBefore },
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.meter?.add('write', r.ConsumedCapacity);
    } catch (err) {
      // Another request touched it within the window (or the key is gone): nothing to write.
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }
}

function toCustomer(item: Record<string, unknown>): Customer {
  const { pk: _pk, sk: _sk, kind: _kind, ...c } = item;
  return c as unknown as Customer;
}

/**
 * One page of a Scan of the Registry filtered to one `kind` (customer, key, privacy_request): the table has no index
 * by kind, so each page reads at most `page.limit` items and may hold fewer of the kind, even none, with a cursor.
 */
export async function scanKindPage(
  doc: DynamoDBDocumentClient,
  table: string,
  kind: string,
  page: PageRequest,
  meter?: CapacityMeter,
): Promise<Page<Record<string, unknown>>> {
  const start = page.cursor === undefined ? undefined : decodeKeyCursor(page.cursor, isRegistryPk);
  const r = await doc.send(
    new ScanCommand({
      TableName: table,
      FilterExpression: 'kind = :k',
      ExpressionAttributeValues: { ':k': kind },
      Limit: page.limit,
      ExclusiveStartKey: start,
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  meter?.add('read', r.ConsumedCapacity);
  return { items: r.Items ?? [], ...(r.LastEvaluatedKey ? { cursor: encodeKeyCursor(r.LastEvaluatedKey) } : {}) };
}
