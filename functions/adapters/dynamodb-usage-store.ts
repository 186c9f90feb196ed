import { QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { UsageStore } from '../core/ports.js';
import type { UsageFragment } from '../core/usage-fragment.js';
import { batchWriteAll } from './dynamodb-batch.js';
import type { CapacityMeter } from './capacity-meter.js';

type Item = Record<string, AttributeValue>;

/** Partition of a customer's usage on one UTC day. */
export const usagePk = (customerId: string, day: string) => `U#${customerId}#${day}`;

/** DynamoDB implementation of the UsageStore port: one item per (customer, day, message). */
export class DynamoDbUsageStore implements UsageStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    private readonly meter?: CapacityMeter,
  ) {}

  async putFragments(fragments: readonly UsageFragment[]): Promise<void> {
    await batchWriteAll(
      this.client,
      this.table,
      fragments.map((f) => ({
        PutRequest: {
          Item: {
            pk: { S: usagePk(f.customerId, f.day) },
            sk: { S: `F#${f.messageKey}` },
            n: { N: String(f.events) },
            // One JSON attribute keeps the item small and the marshalling cheap.
            d: { S: JSON.stringify({ c: f.calls, u: f.users, f: f.fileOps }) },
          },
        },
      })),
      this.meter,
    );
  }

  async fragments(customerId: string, day: string): Promise<UsageFragment[]> {
    const out: UsageFragment[] = [];
    let start: Item | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :f)',
          ExpressionAttributeValues: { ':pk': { S: usagePk(customerId, day) }, ':f': { S: 'F#' } },
          ExclusiveStartKey: start,
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.meter?.add('read', page.ConsumedCapacity);
      for (const i of page.Items ?? []) {
        const d = JSON.parse(i.d!.S!);
        out.push({ customerId, day, messageKey: i.sk!.S!.slice(2), events: Number(i.n!.N), calls: d.c, users: d.u, fileOps: d.f });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }
}
