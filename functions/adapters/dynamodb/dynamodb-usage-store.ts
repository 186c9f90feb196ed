import { createHash } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { FileOp, UsageFragment } from '../../core/count/usage-fragment.js';
import type { UsageStore } from '../../core/shared/ports.js';
import type { CapacityMeter } from './capacity-meter.js';
import { batchWriteAll, queryAll } from './dynamodb-batch.js';

/** Partitions per day: spreads a busy day's writes while keeping a day's reads to a few queries. */
export const FRAGMENT_SHARDS = 8;

const shardOf = (messageKey: string) => createHash('sha1').update(messageKey).digest()[0]! % FRAGMENT_SHARDS;
/** Partition of the fragments of one UTC day (all customers) in one shard. */
export const fragmentPk = (day: string, shard: number) => `F#${day}#${shard}`;

interface CustomerPart {
  c: Record<string, number>;
  u: Record<string, string[]>;
  f: FileOp[];
  n: number;
}

/**
 * DynamoDB implementation of the UsageStore port. All customers' fragments of one message and day share
 * one item: a write costs the item's size in KB however many customers the message touches, instead of
 * one unit per customer. Keyed by (day, message), so a redelivery overwrites the same item.
 */
export class DynamoDbUsageStore implements UsageStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    private readonly meter?: CapacityMeter,
  ) {}

  async putFragments(fragments: readonly UsageFragment[]): Promise<void> {
    const items = new Map<string, { day: string; key: string; parts: Record<string, CustomerPart> }>();
    for (const f of fragments) {
      const id = `${f.day}#${f.messageKey}`;
      let item = items.get(id);
      if (!item) {
        item = { day: f.day, key: f.messageKey, parts: {} };
        items.set(id, item);
      }
      item.parts[f.customerId] = { c: f.calls, u: f.users, f: f.fileOps, n: f.events };
    }
    await batchWriteAll(
      this.client,
      this.table,
      [...items.values()].map((i) => ({
        PutRequest: {
          Item: {
            pk: { S: fragmentPk(i.day, shardOf(i.key)) },
            sk: { S: i.key },
            d: { S: JSON.stringify(i.parts) },
          },
        },
      })),
      this.meter,
    );
  }

  async fragments(customerId: string, day: string): Promise<UsageFragment[]> {
    return (await this.dayFragments(day)).filter((f) => f.customerId === customerId);
  }

  /** Every customer's fragments of one UTC day: what the nightly close reads, once. */
  async dayFragments(day: string): Promise<UsageFragment[]> {
    const shards = await Promise.all(
      Array.from({ length: FRAGMENT_SHARDS }, (_, s) =>
        queryAll(
          this.client,
          { TableName: this.table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: fragmentPk(day, s) } } },
          this.meter,
        ),
      ),
    );
    const out: UsageFragment[] = [];
    for (const item of shards.flat()) {
      const parts = JSON.parse(item.d!.S!) as Record<string, CustomerPart>;
      for (const [customerId, p] of Object.entries(parts)) {
        out.push({ customerId, day, messageKey: item.sk!.S!, calls: p.c, users: p.u, fileOps: p.f, events: p.n });
      }
    }
    return out;
  }
}
