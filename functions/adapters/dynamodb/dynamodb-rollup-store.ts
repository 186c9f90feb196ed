import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { DAY_MS } from '../../../contract/clock.js';
import { periodContaining } from '../../core/close/billing-period.js';
import type { FileOp } from '../../core/count/usage-fragment.js';
import type { CloseRun, CloseRunListing, RollupStore, StoredDay, StoredRun } from '../../core/shared/ports.js';
import { DEFAULTS } from '../../resources.js';
import type { CapacityMeter } from './capacity-meter.js';
import { batchWriteAll } from './dynamodb-batch.js';

const LATE_PK = 'LATE';
/** The close watermark sits beside the runs (`RUN#<day>`), one item. */
const WATERMARK_KEY = { pk: 'RUN#WATERMARK', sk: 'closed' };

/** How long the close's records live (see docs/retention.md). */
export interface RollupRetention {
  /** Daily rollups and period user sets: days after their billing period's end (`ROLLUP_RETENTION_DAYS`). */
  rollupDays: number;
  /** Late-day marks (from their marking) and close runs (from their day): as long as the raw events (`EVENT_RETENTION_DAYS`). */
  eventDays: number;
}

/** Unix seconds `days` after `fromMs`: what DynamoDB's TTL reads. */
const secondsAfter = (fromMs: number, days: number) => Math.floor((fromMs + days * DAY_MS) / 1000);
const dayStart = (day: string) => Date.parse(`${day}T00:00:00.000Z`);

/**
 * DynamoDB implementation of the RollupStore port: the nightly close's state, one table. Daily rollups,
 * period user sets, late marks and runs carry `expiresAt`; file histories and the watermark never expire:
 * a file protected years ago is still billed, and every later close reads the whole history.
 */
export class DynamoDbRollupStore implements RollupStore, CloseRunListing {
  constructor(
    private readonly clients: { dynamo: DynamoDBClient; doc: DynamoDBDocumentClient },
    private readonly table: string,
    private readonly meter?: CapacityMeter,
    private readonly retention: RollupRetention = { rollupDays: DEFAULTS.rollupRetentionDays, eventDays: DEFAULTS.eventRetentionDays },
  ) {}

  async getDays(customerId: string, fromDay: string, toDay: string): Promise<StoredDay[]> {
    const items = await this.query({
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :a AND :b',
      ExpressionAttributeValues: { ':pk': `R#${customerId}`, ':a': `D#${fromDay}`, ':b': `D#${toDay}` },
    });
    return items.map(({ pk: _pk, sk: _sk, expiresAt: _e, ...d }) => d as unknown as StoredDay);
  }

  /** When a day's rollup expires: `rollupDays` after the end of the billing period it belongs to. */
  private dayExpiry(d: Pick<StoredDay, 'day' | 'anchorDay'>): number {
    return secondsAfter(Date.parse(periodContaining(dayStart(d.day), d.anchorDay).end), this.retention.rollupDays);
  }

  /**
   * When a period's user set expires: as its days do. The days saved with it name the period's anchor; without
   * one (never, from the close) the period is taken at its longest, 31 days from its start, so it never leaves early.
   */
  private periodUsersExpiry(periodKey: string, days: readonly StoredDay[]): number {
    const day = days.find((d) => d.periodKey === periodKey);
    if (day) return this.dayExpiry(day);
    return secondsAfter(dayStart(periodKey.length === 7 ? `${periodKey}-01` : periodKey) + 31 * DAY_MS, this.retention.rollupDays);
  }

  async save(
    customerId: string,
    changes: {
      days: readonly StoredDay[];
      periodUsers: ReadonlyMap<string, ReadonlyMap<string, string>>;
      files: ReadonlyMap<string, readonly FileOp[]>;
    },
  ): Promise<void> {
    // Day rows last: a close that dies halfway leaves its days unstored, so the next close computes them
    // again (and rewrites the users and file histories, idempotently) rather than trusting days whose
    // users or file operations were never written.
    await this.write([
      ...[...changes.periodUsers].flatMap(([periodKey, firstDays]) => {
        const expiresAt = this.periodUsersExpiry(periodKey, changes.days);
        return [...firstDays].map(([u, firstDay]) => ({ pk: `PU#${customerId}#${periodKey}`, sk: u, firstDay, expiresAt }));
      }),
      ...[...changes.files].map(([fileId, ops]) => ({ pk: `FH#${customerId}`, sk: fileId, ops: JSON.stringify(ops) })),
    ]);
    await this.write(changes.days.map((d) => ({ pk: `R#${d.customerId}`, sk: `D#${d.day}`, ...d, expiresAt: this.dayExpiry(d) })));
  }

  async periodUsers(customerId: string, periodKey: string): Promise<Map<string, string>> {
    const items = await this.query({
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `PU#${customerId}#${periodKey}` },
    });
    return new Map(items.map((i) => [i.sk as string, i.firstDay as string]));
  }

  async fileHistory(customerId: string): Promise<Map<string, FileOp[]>> {
    const items = await this.query({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `FH#${customerId}` } });
    return new Map(items.map((i) => [i.sk as string, JSON.parse(i.ops as string) as FileOp[]]));
  }

  async lateDays(): Promise<{ customerId: string; day: string }[]> {
    const items = await this.query({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': LATE_PK } });
    return items.map((i) => ({ customerId: i.customerId as string, day: i.day as string }));
  }

  async markLate(marks: readonly { customerId: string; day: string }[], at: number): Promise<void> {
    await this.write(
      // A mark outlives its use once the raw events it would recompute the day from have expired.
      marks.map((m) => ({
        pk: LATE_PK,
        sk: `${m.customerId}#${m.day}`,
        customerId: m.customerId,
        day: m.day,
        markedAt: at,
        expiresAt: secondsAfter(at, this.retention.eventDays),
      })),
    );
  }

  async clearLate(marks: readonly { customerId: string; day: string }[], markedBy: number): Promise<void> {
    for (const m of marks) {
      try {
        await this.clients.doc.send(
          new DeleteCommand({
            TableName: this.table,
            Key: { pk: LATE_PK, sk: `${m.customerId}#${m.day}` },
            // Marks written before marks carried a stamp count as old.
            ConditionExpression: 'attribute_not_exists(markedAt) OR markedAt <= :by',
            ExpressionAttributeValues: { ':by': markedBy },
          }),
        );
      } catch (err) {
        // Marked again while the close ran: the next close plans the day again.
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      }
    }
  }

  async startRun(run: CloseRun): Promise<void> {
    // The audit trail keeps each run's plan and chunks for its own, longer, retention.
    await this.write([
      { pk: `RUN#${run.day}`, sk: run.runId, ...run, counts: {}, expiresAt: secondsAfter(dayStart(run.day), this.retention.eventDays) },
    ]);
  }

  async chunkDone(day: string, runId: string, counts: Record<string, number>): Promise<void> {
    const names: Record<string, string> = {};
    const values: Record<string, number> = { ':one': 1, ':zero': 0 };
    const sets: string[] = [];
    // ADD works on top-level attributes only; nested counters are SET from their current value.
    Object.entries(counts).forEach(([k, v], i) => {
      names[`#c${i}`] = k;
      values[`:c${i}`] = v;
      sets.push(`counts.#c${i} = if_not_exists(counts.#c${i}, :zero) + :c${i}`);
    });
    await this.clients.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: `RUN#${day}`, sk: runId },
        UpdateExpression: `ADD chunksDone :one${sets.length ? ` SET ${sets.join(', ')}` : ''}`,
        ExpressionAttributeNames: Object.keys(names).length ? names : undefined,
        ExpressionAttributeValues: values,
      }),
    );
  }

  async getRun(day: string, runId: string): Promise<(CloseRun & { counts: Record<string, number>; chunksDone?: number }) | undefined> {
    const r = await this.clients.doc.send(
      new GetCommand({ TableName: this.table, Key: { pk: `RUN#${day}`, sk: runId }, ConsistentRead: true }),
    );
    if (!r.Item) return undefined;
    const { pk: _pk, sk: _sk, expiresAt: _e, ...run } = r.Item;
    return run as CloseRun & { counts: Record<string, number>; chunksDone?: number };
  }

  /** One Query of the day's run partition: a day holds one run a night, and a few more when it was re-closed. */
  async runsOf(day: string): Promise<StoredRun[]> {
    const items = await this.query({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `RUN#${day}` } });
    return items.map(({ pk: _pk, sk: _sk, expiresAt: _e, ...run }) => run as unknown as StoredRun);
  }

  async closedThrough(): Promise<string | undefined> {
    const r = await this.clients.doc.send(
      new GetCommand({ TableName: this.table, Key: WATERMARK_KEY, ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL' }),
    );
    this.meter?.add('read', r.ConsumedCapacity);
    return typeof r.Item?.day === 'string' ? r.Item.day : undefined;
  }

  async markClosedThrough(day: string): Promise<void> {
    try {
      const r = await this.clients.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: WATERMARK_KEY,
          ReturnConsumedCapacity: 'TOTAL',
          UpdateExpression: 'SET #day = :day',
          // Forward only: a late-finishing run of an older day, or a re-close, never moves it back.
          ConditionExpression: 'attribute_not_exists(#day) OR #day < :day',
          ExpressionAttributeNames: { '#day': 'day' },
          ExpressionAttributeValues: { ':day': day },
        }),
      );
      this.meter?.add('write', r.ConsumedCapacity);
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }

  private async write(items: Record<string, unknown>[]): Promise<void> {
    if (items.length === 0) return;
    await batchWriteAll(
      this.clients.dynamo,
      this.table,
      items.map((Item) => ({ PutRequest: { Item: marshall(Item, { removeUndefinedValues: true }) } })),
      this.meter,
    );
  }

  private async query(input: Omit<ConstructorParameters<typeof QueryCommand>[0], 'TableName'>): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.clients.doc.send(
        new QueryCommand({ ...input, TableName: this.table, ExclusiveStartKey: start, ReturnConsumedCapacity: 'TOTAL' }),
      );
      this.meter?.add('read', r.ConsumedCapacity);
      out.push(...(r.Items ?? []));
      start = r.LastEvaluatedKey;
    } while (start);
    return out;
  }
}
