import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { LedgerPages, LedgerQuery, LedgerRecord, LedgerStore, Page, PageRequest } from '../../core/shared/ports.js';
import type { CapacityMeter } from './capacity-meter.js';
import { batchWriteAll } from './dynamodb-batch.js';
import { decodeKeyCursor, encodeKeyCursor } from './dynamodb-cursor.js';

const pkOf = (customerId: string) => `L#${customerId}`;
const skOf = (r: Pick<LedgerRecord, 'meter' | 'day' | 'revision'>) => `${r.meter}#${r.day}#r${String(r.revision).padStart(6, '0')}`;

/** DynamoDB implementation of the LedgerStore port: one item per meter event, created once. */
export class DynamoDbLedger implements LedgerStore, LedgerPages {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly meter?: CapacityMeter,
  ) {}

  async entries(customerId: string): Promise<LedgerRecord[]> {
    const out: LedgerRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': pkOf(customerId) },
          ExclusiveStartKey: start,
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.meter?.add('read', r.ConsumedCapacity);
      for (const { pk: _pk, sk: _sk, ...rec } of r.Items ?? []) out.push(rec as LedgerRecord);
      start = r.LastEvaluatedKey;
    } while (start);
    return out;
  }

  /**
   * One page of a customer's records: a Query of its partition, by sort key (`meter#day#revision`). A meter narrows
   * the key range (with days, to `[meter#fromDay, meter#toDay~]`); days without a meter filter, so a page may hold
   * fewer than `page.limit` records and still have a cursor.
   */
  async page(customerId: string, q: LedgerQuery, page: PageRequest): Promise<Page<LedgerRecord>> {
    const pk = pkOf(customerId);
    const start = page.cursor === undefined ? undefined : decodeKeyCursor(page.cursor, (p) => p === pk);
    const values: Record<string, unknown> = { ':pk': pk };
    let keyCondition = 'pk = :pk';
    if (q.meter !== undefined) {
      values[':from'] = `${q.meter}#${q.fromDay ?? ''}`;
      // `~` sorts after every character of a day and a revision: the range ends after toDay's last revision.
      values[':to'] = `${q.meter}#${q.toDay ?? ''}~`;
      keyCondition += ' AND sk BETWEEN :from AND :to';
    }
    const dayFilter = q.meter === undefined && (q.fromDay !== undefined || q.toDay !== undefined);
    if (dayFilter) {
      values[':fromDay'] = q.fromDay ?? '';
      values[':toDay'] = q.toDay ?? '~';
    }
    const r = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: keyCondition,
        ...(dayFilter ? { FilterExpression: '#day BETWEEN :fromDay AND :toDay', ExpressionAttributeNames: { '#day': 'day' } } : {}),
        ExpressionAttributeValues: values,
        Limit: page.limit,
        ExclusiveStartKey: start,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.meter?.add('read', r.ConsumedCapacity);
    const items = (r.Items ?? []).map(({ pk: _pk, sk: _sk, ...rec }) => rec as LedgerRecord);
    return { items, ...(r.LastEvaluatedKey ? { cursor: encodeKeyCursor(r.LastEvaluatedKey) } : {}) };
  }

  async record(customerId: string, key: Pick<LedgerRecord, 'meter' | 'day' | 'revision'>): Promise<LedgerRecord | undefined> {
    const r = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { pk: pkOf(customerId), sk: skOf(key) }, ReturnConsumedCapacity: 'TOTAL' }),
    );
    this.meter?.add('read', r.ConsumedCapacity);
    if (!r.Item) return undefined;
    const { pk: _pk, sk: _sk, ...rec } = r.Item;
    return rec as LedgerRecord;
  }

  async create(records: readonly LedgerRecord[]): Promise<{ conflicts: number }> {
    let conflicts = 0;
    for (const rec of records) {
      try {
        const r = await this.doc.send(
          new PutCommand({
            TableName: this.table,
            Item: { pk: pkOf(rec.customerId), sk: skOf(rec), ...rec },
            ConditionExpression: 'attribute_not_exists(pk)',
            ReturnConsumedCapacity: 'TOTAL',
          }),
        );
        this.meter?.add('write', r.ConsumedCapacity);
      } catch (err) {
        // Another run planned the same revision first: its record (same identifier) stands.
        if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
        conflicts++;
      }
    }
    return { conflicts };
  }

  async update(records: readonly LedgerRecord[]): Promise<void> {
    await batchWriteAll(
      this.dynamo,
      this.table,
      records.map((rec) => ({
        PutRequest: { Item: marshall({ pk: pkOf(rec.customerId), sk: skOf(rec), ...rec }, { removeUndefinedValues: true }) },
      })),
      this.meter,
    );
  }
}
