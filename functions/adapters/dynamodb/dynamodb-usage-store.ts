import { createHash } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DAY_MS } from '../../../contract/clock.js';
import type { FileOp, UsageFragment } from '../../core/count/usage-fragment.js';
import type { UsageStore } from '../../core/shared/ports.js';
import { DEFAULTS } from '../../resources.js';
import type { CapacityMeter } from './capacity-meter.js';
import { batchWriteAll, queryAll } from './dynamodb-batch.js';

/** Partitions per day: spreads a busy day's writes while keeping a day's reads to a few queries. */
export const FRAGMENT_SHARDS = 8;

const shardOf = (messageKey: string) => createHash('sha1').update(messageKey).digest()[0]! % FRAGMENT_SHARDS;
/** Partition of the fragments of one UTC day (all customers) in one shard. */
export const fragmentPk = (day: string, shard: number) => `F#${day}#${shard}`;

/**
 * When a day's fragments expire, in Unix seconds: `retentionDays` after the day's 00:00 UTC. Counted from the
 * day, not the write, so a late fragment leaves with the rest of its day and the usage API never folds half a day.
 */
export const fragmentExpiry = (day: string, retentionDays: number) =>
  Math.floor((Date.parse(`${day}T00:00:00.000Z`) + retentionDays * DAY_MS) / 1000);

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
    private readonly retentionDays: number = DEFAULTS.fragmentRetentionDays,
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
            expiresAt: { N: String(fragmentExpiry(i.day, this.retentionDays)) },
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
