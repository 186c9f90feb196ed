// One idea in one file, though over 300 lines: what erasing a customer deletes in every table, in the layouts the
// other adapters write, kept together so that a new table or item kind is added to the erasure in one place.
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  type BatchWriteCommandInput,
  type DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { CustomerData } from '../../core/privacy/erase-customer.js';
import type { QuarantineStore } from '../../core/shared/ports.js';
import type { CapacityMeter } from './capacity-meter.js';
import { untilProcessed } from './dynamodb-batch.js';
import { FRAGMENT_SHARDS, fragmentPk } from './dynamodb-usage-store.js';
import { mappingPk, secretPk, tombstonePk } from './dynamodb-user-refs.js';

type Item = Record<string, unknown>;
type Key = { pk: string; sk: string };

/** Registry marker of an erased customer, which the consumer honours while it lasts (pk CX#). */
const erasedPk = (customerId: string) => `CX#${customerId}`;

/**
 * Everything a customer's erasure touches, table by table, in the layouts the other adapters write (see
 * docs/tables.md). Every step deletes what is there and returns how many items it removed, so a rerun after a crash
 * finds less and removes it; none reads more than the customer's own partitions, but for the fragments (shared by
 * all customers of a day and message) and the keys (a Scan of the Registry's keys, as `listKeys` is).
 */
export class DynamoDbCustomerData implements CustomerData {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tables: {
      events: string;
      usage: string;
      registry: string;
      pseudonyms: string;
      rollups: string;
      flags: string;
      ledger: string;
    },
    private readonly quarantine: QuarantineStore,
    private readonly meter?: CapacityMeter,
  ) {}

  async markErased(customerId: string, at: string, expiresAt: number): Promise<void> {
    await this.put(this.tables.registry, { pk: erasedPk(customerId), sk: 'ERASED', at, expiresAt });
    // The profile too, which the consumer and the close read anyway: from now on they leave the customer alone.
    try {
      await this.send(
        new UpdateCommand({
          TableName: this.tables.registry,
          Key: { pk: `CUS#${customerId}`, sk: 'PROFILE' },
          UpdateExpression: 'SET erasingSince = if_not_exists(erasingSince, :at)',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':at': at },
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
    } catch (err) {
      // A rerun after the profile was deleted: nothing to mark.
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }

  async erased(ids: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += 100) {
      const keys = unique.slice(i, i + 100).map((id) => ({ pk: erasedPk(id), sk: 'ERASED' }));
      await untilProcessed(
        keys,
        async (pending) => {
          const r = await this.doc.send(
            new BatchGetCommand({ RequestItems: { [this.tables.registry]: { Keys: pending } }, ReturnConsumedCapacity: 'TOTAL' }),
          );
          this.meter?.add('read', r.ConsumedCapacity);
          for (const item of r.Responses?.[this.tables.registry] ?? []) out.add(String(item.pk).slice(3));
          return (r.UnprocessedKeys?.[this.tables.registry]?.Keys as Key[] | undefined) ?? [];
        },
        { table: this.tables.registry, kind: 'reads' },
      );
    }
    return out;
  }

  async deleteEvents(customerId: string, day: string): Promise<number> {
    const keys = await this.keysOf(this.tables.events, {
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `E#${customerId}#${day}` },
    });
    await this.deleteAll(this.tables.events, keys);
    return keys.length;
  }

  async deleteFragments(customerId: string, day: string): Promise<number> {
    let changed = 0;
    for (let shard = 0; shard < FRAGMENT_SHARDS; shard++) {
      const items = await this.query(this.tables.usage, {
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': fragmentPk(day, shard) },
      });
      for (const item of items) {
        const parts = JSON.parse(String(item.d)) as Record<string, unknown>;
        if (!(customerId in parts)) continue;
        delete parts[customerId];
        changed++;
        // Conditioned on the item as read: another write in between (a redelivery) is read again by a rerun.
        if (Object.keys(parts).length === 0) await this.deleteAll(this.tables.usage, [{ pk: String(item.pk), sk: String(item.sk) }]);
        else
          await this.send(
            new UpdateCommand({
              TableName: this.tables.usage,
              Key: { pk: item.pk, sk: item.sk },
              UpdateExpression: 'SET d = :d',
              ConditionExpression: 'd = :old',
              ExpressionAttributeValues: { ':d': JSON.stringify(parts), ':old': item.d },
              ReturnConsumedCapacity: 'TOTAL',
            }),
          );
      }
    }
    return changed;
  }

  async deleteRollups(customerId: string, periodKeys: readonly string[]): Promise<number> {
    const t = this.tables.rollups;
    // Period user sets outlive raw events (seven years against 400 days): the daily rows name every period closed.
    const rows = await this.query(t, {
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `R#${customerId}` },
      ProjectionExpression: 'periodKey',
    });
    const periods = new Set([...periodKeys, ...rows.map((r) => r.periodKey).filter((p): p is string => typeof p === 'string')]);
    const partitions = [`R#${customerId}`, `FH#${customerId}`, ...[...periods].map((p) => `PU#${customerId}#${p}`)];
    const keys: Key[] = [];
    for (const pk of partitions)
      keys.push(...(await this.keysOf(t, { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk } })));
    keys.push(
      ...(await this.keysOf(t, {
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :c)',
        ExpressionAttributeValues: { ':pk': 'LATE', ':c': `${customerId}#` },
      })),
    );
    await this.deleteAll(t, keys);
    return keys.length;
  }

  async deleteFlags(customerId: string): Promise<{ flags: number; expectedActivity: number }> {
    const t = this.tables.flags;
    const byCustomer = await this.keysOf(t, {
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `CF#${customerId}` },
    });
    const expected = await this.keysOf(t, {
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `EXP#${customerId}` },
    });
    // The copy by id first: a crash leaves the customer's copy, from which a rerun finds the flag again.
    await this.deleteAll(
      t,
      byCustomer.map((k) => ({ pk: `FLAG#${k.sk}`, sk: 'FLAG' })),
    );
    await this.deleteAll(t, [...byCustomer, ...expected]);
    return { flags: byCustomer.length, expectedActivity: expected.length };
  }

  /** Page by page until none is left: a listing holds at most 1,000 items. */
  async deleteQuarantine(customerId: string): Promise<number> {
    let removed = 0;
    for (;;) {
      const items = await this.quarantine.list({ customerId, limit: 1000 });
      if (items.length === 0) return removed;
      for (const item of items) await this.quarantine.remove(item);
      removed += items.length;
    }
  }

  /** Keys scoped to this customer alone are deleted; a key scoped to others too loses this customer from its scope. */
  async deleteKeys(customerId: string): Promise<number> {
    const keys = await this.scanRegistry('kind = :k AND contains(customers, :c)', { ':k': 'key', ':c': customerId });
    for (const key of keys) {
      const others = (key.customers as string[]).filter((c) => c !== customerId);
      if (others.length === 0) await this.deleteAll(this.tables.registry, [{ pk: String(key.pk), sk: String(key.sk) }]);
      else await this.put(this.tables.registry, { ...key, customers: others });
    }
    return keys.length;
  }

  async deleteRefs(customerId: string): Promise<number> {
    const t = this.tables.pseudonyms;
    const keys: Key[] = [];
    for (const pk of [mappingPk(customerId), tombstonePk(customerId)])
      keys.push(...(await this.keysOf(t, { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk } })));
    // The secret last: while it stands, a rerun can still find what is left.
    await this.deleteAll(t, keys);
    await this.deleteAll(t, [{ pk: secretPk(customerId), sk: 'SECRET' }]);
    return keys.length;
  }

  async retainLedger(customerId: string, stripeCustomerId: string | undefined, expiresAt: number): Promise<number> {
    const items = await this.query(this.tables.ledger, {
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `L#${customerId}` },
    });
    for (const item of items) {
      await this.send(
        new UpdateCommand({
          TableName: this.tables.ledger,
          Key: { pk: item.pk, sk: item.sk },
          UpdateExpression: `SET expiresAt = :e, retained = :r${stripeCustomerId ? ', stripeCustomerId = :s' : ''} REMOVE lastError, runId`,
          ExpressionAttributeValues: {
            ':e': expiresAt,
            ':r': 'customer erased: kept for tax',
            ...(stripeCustomerId ? { ':s': stripeCustomerId } : {}),
          },
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
    }
    return items.length;
  }

  /** The documents of earlier exports about the customer (its own, and its users'): the requests themselves stay. */
  async deleteExports(customerId: string): Promise<number> {
    const requests = await this.scanRegistry('kind = :k AND customerId = :c', { ':k': 'privacy_request', ':c': customerId });
    const parts: Key[] = [];
    for (const req of requests)
      parts.push(
        ...(await this.keysOf(this.tables.registry, {
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
          ExpressionAttributeValues: { ':pk': req.pk, ':p': 'PART#' },
        })),
      );
    await this.deleteAll(this.tables.registry, parts);
    return parts.length;
  }

  async deleteProfile(customerId: string): Promise<void> {
    await this.deleteAll(this.tables.registry, [{ pk: `CUS#${customerId}`, sk: 'PROFILE' }]);
  }

  private async keysOf(table: string, input: Omit<QueryCommandInput, 'TableName'>): Promise<Key[]> {
    return (await this.query(table, { ...input, ProjectionExpression: 'pk, sk' })).map((i) => ({ pk: String(i.pk), sk: String(i.sk) }));
  }

  /** Every Registry item matching a filter: a Scan, page by page (the Registry has no index by customer). */
  private async scanRegistry(filter: string, values: Record<string, unknown>): Promise<Item[]> {
    const out: Item[] = [];
    let start: Item | undefined;
    do {
      const r = await this.doc.send(
        new ScanCommand({
          TableName: this.tables.registry,
          FilterExpression: filter,
          ExpressionAttributeValues: values,
          ExclusiveStartKey: start,
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.meter?.add('read', r.ConsumedCapacity);
      out.push(...(r.Items ?? []));
      start = r.LastEvaluatedKey;
    } while (start);
    return out;
  }

  private async query(table: string, input: Omit<QueryCommandInput, 'TableName'>): Promise<Item[]> {
    const out: Item[] = [];
    let start: Item | undefined;
    do {
      const r = await this.doc.send(
        new QueryCommand({ ...input, TableName: table, ExclusiveStartKey: start, ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL' }),
      );
      this.meter?.add('read', r.ConsumedCapacity);
      out.push(...(r.Items ?? []));
      start = r.LastEvaluatedKey;
    } while (start);
    return out;
  }

  private async deleteAll(table: string, keys: readonly Key[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 25) {
      const requests: NonNullable<BatchWriteCommandInput['RequestItems']>[string] = keys
        .slice(i, i + 25)
        .map((k) => ({ DeleteRequest: { Key: { pk: k.pk, sk: k.sk } } }));
      await untilProcessed(
        requests,
        async (pending) => {
          const r = await this.doc.send(new BatchWriteCommand({ RequestItems: { [table]: pending }, ReturnConsumedCapacity: 'TOTAL' }));
          this.meter?.add('write', r.ConsumedCapacity);
          return (r.UnprocessedItems?.[table] as typeof pending | undefined) ?? [];
        },
        { table, kind: 'writes' },
      );
    }
  }

  private async put(table: string, item: Item): Promise<void> {
    await this.send(new PutCommand({ TableName: table, Item: item, ReturnConsumedCapacity: 'TOTAL' }));
  }

  private async send(cmd: PutCommand | UpdateCommand | DeleteCommand): Promise<void> {
    const r = await this.doc.send(cmd as PutCommand);
    this.meter?.add('write', r.ConsumedCapacity);
  }
}
