import { type DynamoDBClient, TransactionCanceledException, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { ExpectedActivity } from '../../core/fraud/expected-activity.js';
import { flagRevision } from '../../core/fraud/merge-flags.js';
import { FlagConflictError } from '../../core/fraud/review-flag.js';
import type { Flag } from '../../core/fraud/types.js';
import type { FlagFilter, FlagStore, FlagWrite } from '../../core/shared/ports.js';
import type { CapacityMeter } from './capacity-meter.js';

/**
 * DynamoDB implementation of the FlagStore port. Each flag is kept twice, by id (for review) and under
 * its customer (for the nightly merge); flags are few, so the second write is cheap. A customer's
 * expected activity lives under `EXP#<customer>`, one item each, overwritten only by its withdrawal.
 */
export class DynamoDbFlagStore implements FlagStore {
  constructor(
    private readonly clients: { dynamo: DynamoDBClient; doc: DynamoDBDocumentClient },
    private readonly table: string,
    private readonly meter?: CapacityMeter,
  ) {}

  async get(id: string): Promise<Flag | undefined> {
    const r = await this.clients.doc.send(
      new GetCommand({ TableName: this.table, Key: { pk: `FLAG#${id}`, sk: 'FLAG' }, ConsistentRead: true }),
    );
    return r.Item ? (JSON.parse(r.Item.flag as string) as Flag) : undefined;
  }

  async forCustomer(customerId: string): Promise<Flag[]> {
    return (await this.queryAll(`CF#${customerId}`)).map((i) => JSON.parse(i.flag as string) as Flag);
  }

  async list(f: FlagFilter = {}): Promise<Flag[]> {
    if (f.customerId) return (await this.forCustomer(f.customerId)).filter((x) => matches(x, f)).sort(newestFirst);
    const out: Flag[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.clients.doc.send(
        new ScanCommand({
          TableName: this.table,
          FilterExpression: 'sk = :sk',
          ExpressionAttributeValues: { ':sk': 'FLAG' },
          ExclusiveStartKey: start,
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.meter?.add('read', r.ConsumedCapacity);
      for (const i of r.Items ?? []) {
        const flag = JSON.parse(i.flag as string) as Flag;
        if (matches(flag, f)) out.push(flag);
      }
      start = r.LastEvaluatedKey;
    } while (start);
    return out.sort(newestFirst);
  }

  async expectedActivity(customerId: string): Promise<ExpectedActivity[]> {
    const all = (await this.queryAll(`EXP#${customerId}`)).map((i) => JSON.parse(i.expectation as string) as ExpectedActivity);
    return all.sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
  }

  async putExpectedActivity(e: ExpectedActivity, options: { replace: boolean } = { replace: false }): Promise<void> {
    const r = await this.clients.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: `EXP#${e.customerId}`, sk: e.id, customerId: e.customerId, expectation: JSON.stringify(e) },
        ConditionExpression: options.replace ? 'attribute_exists(pk)' : 'attribute_not_exists(pk)',
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.meter?.add('write', r.ConsumedCapacity);
  }

  /** Every item of one partition, page by page. */
  private async queryAll(pk: string): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.clients.doc.send(
        // Strongly consistent: the close merges against the flags as reviews left them.
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': pk },
          ExclusiveStartKey: start,
          ConsistentRead: true,
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.meter?.add('read', r.ConsumedCapacity);
      out.push(...(r.Items ?? []));
      start = r.LastEvaluatedKey;
    } while (start);
    return out;
  }

  async save(writes: readonly FlagWrite[]): Promise<void> {
    const conflicts: string[] = [];
    // One transaction per flag: its two copies move together, conditioned on the copy by id still being
    // at the revision the flag was made from. Items written before revisions were stored carry none.
    for (const { flag, basedOn } of writes) {
      const revision = flagRevision(flag);
      // The flag as JSON: its evidence series are nested deeply, and only whole flags are read back.
      const common = {
        id: flag.id,
        customerId: flag.customerId,
        status: flag.status,
        severity: flag.severity,
        rule: flag.rule,
        revision,
        flag: JSON.stringify(flag),
      };
      const condition =
        basedOn === undefined
          ? { ConditionExpression: 'attribute_not_exists(pk)' }
          : {
              ConditionExpression: 'attribute_not_exists(revision) OR revision = :basedOn',
              ExpressionAttributeValues: marshall({ ':basedOn': basedOn }),
            };
      try {
        const r = await this.clients.dynamo.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              { Put: { TableName: this.table, Item: marshall({ pk: `FLAG#${flag.id}`, sk: 'FLAG', ...common }), ...condition } },
              { Put: { TableName: this.table, Item: marshall({ pk: `CF#${flag.customerId}`, sk: flag.id, ...common }) } },
            ],
            ReturnConsumedCapacity: 'TOTAL',
          }),
        );
        this.meter?.add('write', r.ConsumedCapacity);
      } catch (err) {
        // Another writer's condition failed us, or its transaction ran at the same moment: read again either way.
        const code =
          err instanceof TransactionCanceledException ? err.CancellationReasons?.find((r) => r.Code && r.Code !== 'None')?.Code : undefined;
        if (code === 'ConditionalCheckFailed' || code === 'TransactionConflict') conflicts.push(flag.id);
        else throw err;
      }
    }
    if (conflicts.length > 0) throw new FlagConflictError(conflicts);
  }
}

const matches = (x: Flag, f: FlagFilter) =>
  (!f.status || x.status === f.status) &&
  (!f.severity || x.severity === f.severity) &&
  (!f.rule || x.rule === f.rule) &&
  (!f.customerId || x.customerId === f.customerId);
const newestFirst = (a: Flag, b: Flag) => (a.window.from < b.window.from ? 1 : a.window.from > b.window.from ? -1 : 0);
