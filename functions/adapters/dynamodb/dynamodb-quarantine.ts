import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { QuarantineFilter, QuarantineItem, QuarantineStore } from '../../core/shared/ports.js';
import type { CapacityMeter } from './capacity-meter.js';
import { batchWriteAll } from './dynamodb-batch.js';

const pkOf = (customerId: string) => `Q#${customerId}`;
const skOf = (i: Pick<QuarantineItem, 'reason' | 'key'>) => `${i.reason}#${i.key}`;

/** DynamoDB implementation of the QuarantineStore port. */
export class DynamoDbQuarantine implements QuarantineStore {
  constructor(
    private readonly clients: { dynamo: DynamoDBClient; doc: DynamoDBDocumentClient },
    private readonly table: string,
    private readonly meter?: CapacityMeter,
  ) {}

  async put(items: readonly QuarantineItem[]): Promise<void> {
    if (items.length === 0) return;
    await batchWriteAll(
      this.clients.dynamo,
      this.table,
      items.map((i) => ({
        PutRequest: {
          Item: marshall({ pk: pkOf(i.customerId), sk: skOf(i), ...i }, { removeUndefinedValues: true, convertClassInstanceToMap: true }),
        },
      })),
      this.meter,
    );
  }

  async list(filter: QuarantineFilter = {}): Promise<QuarantineItem[]> {
    const out: QuarantineItem[] = [];
    const limit = filter.limit ?? 1000;
    let start: Record<string, unknown> | undefined;
    do {
      const common = {
        TableName: this.table,
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
              ...(filter.reason ? { FilterExpression: 'reason = :r', ExpressionAttributeValues: { ':r': filter.reason } } : {}),
            }),
          );
      this.meter?.add('read', r.ConsumedCapacity);
      for (const item of r.Items ?? []) {
        const { pk: _pk, sk: _sk, ...rest } = item;
        out.push(rest as QuarantineItem);
      }
      start = r.LastEvaluatedKey;
    } while (start && out.length < limit);
    return out.slice(0, limit).sort((a, b) => (a.quarantinedAt < b.quarantinedAt ? -1 : 1));
  }

  async remove(i: Pick<QuarantineItem, 'customerId' | 'reason' | 'key'>): Promise<void> {
    await this.clients.doc.send(new DeleteCommand({ TableName: this.table, Key: { pk: pkOf(i.customerId), sk: skOf(i) } }));
  }

  async count(): Promise<number> {
    let n = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.clients.doc.send(new ScanCommand({ TableName: this.table, Select: 'COUNT', ExclusiveStartKey: start }));
      n += r.Count ?? 0;
      start = r.LastEvaluatedKey;
    } while (start);
    return n;
  }
}
