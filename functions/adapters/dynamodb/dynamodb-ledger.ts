import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { LedgerRecord, LedgerStore } from '../../core/shared/ports.js';
import type { CapacityMeter } from './capacity-meter.js';
import { batchWriteAll } from './dynamodb-batch.js';

const pkOf = (customerId: string) => `L#${customerId}`;
const skOf = (r: Pick<LedgerRecord, 'meter' | 'day' | 'revision'>) => `${r.meter}#${r.day}#r${String(r.revision).padStart(6, '0')}`;

/** DynamoDB implementation of the LedgerStore port: one item per meter event, created once. */
export class DynamoDbLedger implements LedgerStore {
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
