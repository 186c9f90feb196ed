import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DAY_MS } from '../../../contract/clock.js';
import { type Backoff, DEFAULT_BACKOFF, withBackoff } from '../../core/shared/concurrency.js';
import type { AuditEntry, AuditLog, AuditQuery, AuditSearch, Page, PageRequest } from '../../core/shared/ports.js';
import type { CapacityMeter } from './capacity-meter.js';
import { isRetryableDynamoError } from './dynamodb-batch.js';
import { decodeKeyCursor, encodeKeyCursor } from './dynamodb-cursor.js';

/** DynamoDB implementation of the AuditLog port: one item per operation, partitioned by UTC day. */
export class DynamoDbAuditLog implements AuditLog, AuditSearch {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly retentionDays: number,
    private readonly meter?: CapacityMeter,
    private readonly backoff: Backoff = DEFAULT_BACKOFF,
  ) {}

  async record(entry: AuditEntry): Promise<void> {
    const expiresAt = Math.floor((Date.parse(entry.at) + this.retentionDays * DAY_MS) / 1000);
    try {
      // Throttling is waited out here, bounded: past the bound the error reaches the caller, whose record fails.
      const r = await withBackoff(
        () =>
          this.doc.send(
            new PutCommand({
              TableName: this.table,
              Item: { pk: `A#${entry.at.slice(0, 10)}`, sk: entry.id, expiresAt, ...entry },
              ConditionExpression: 'attribute_not_exists(pk)',
              ReturnConsumedCapacity: 'TOTAL',
            }),
          ),
        isRetryableDynamoError,
        this.backoff,
      );
      this.meter?.add('write', r.ConsumedCapacity);
    } catch (err) {
      // Recorded already under this id: the first record stands (entries are never rewritten).
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }

  async list(day: string, limit = 100): Promise<AuditEntry[]> {
    const r = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `A#${day}` },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (r.Items ?? []).map(({ pk: _pk, sk: _sk, expiresAt: _e, ...rest }) => rest as AuditEntry);
  }

  /**
   * One Query of the day's partition, newest first. The actor, action and customer are FilterExpressions: the
   * trail has no index on them, and a day's partition is the bound. `Limit` caps the entries read (not
   * matched) per page, so each page costs at most `page.limit` entries' reads; a page may hold fewer matches,
   * even none, and still carry a cursor.
   */
  async search(q: AuditQuery, page: PageRequest): Promise<Page<AuditEntry>> {
    const pk = `A#${q.day}`;
    const filters: string[] = [];
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':pk': pk };
    for (const [name, value] of [
      ['actor', q.actor],
      ['action', q.action],
      ['customerId', q.customerId],
    ] as const) {
      if (value === undefined) continue;
      filters.push(`#${name} = :${name}`);
      names[`#${name}`] = name;
      values[`:${name}`] = value;
    }
    const r = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        ...(filters.length > 0 ? { FilterExpression: filters.join(' AND '), ExpressionAttributeNames: names } : {}),
        ExpressionAttributeValues: values,
        ScanIndexForward: false,
        Limit: page.limit,
        ExclusiveStartKey: page.cursor === undefined ? undefined : decodeKeyCursor(page.cursor, (p) => p === pk),
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.meter?.add('read', r.ConsumedCapacity);
    const items = (r.Items ?? []).map(({ pk: _pk, sk: _sk, expiresAt: _e, ...rest }) => rest as AuditEntry);
    return { items, ...(r.LastEvaluatedKey ? { cursor: encodeKeyCursor(r.LastEvaluatedKey) } : {}) };
  }
}
