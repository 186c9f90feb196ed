import { type DynamoDBClient, TransactionCanceledException, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { DAY_MS } from '../../../contract/clock.js';
import type { ExpectedActivity } from '../../core/fraud/expected-activity.js';
import { urgencyKey } from '../../core/fraud/flag-queue.js';
import { DEFAULT_HOLD_POLICY, type HoldPolicy } from '../../core/fraud/holds.js';
import { flagRevision } from '../../core/fraud/merge-flags.js';
import { FlagConflictError } from '../../core/fraud/review-flag.js';
import type { Flag } from '../../core/fraud/types.js';
import type { FlagFilter, FlagStore, FlagWrite, Page, PageRequest } from '../../core/shared/ports.js';
import { DEFAULTS } from '../../resources.js';
import type { CapacityMeter } from './capacity-meter.js';
import { cursorFields, decodeKeyCursor, encodeCursor, encodeKeyCursor, invalidCursor } from './dynamodb-cursor.js';

/**
 * DynamoDB implementation of the FlagStore port. Each flag is kept twice, by id (for review) and under
 * its customer (for the nightly merge); flags are few, so the second write is cheap. An open flag's copy
 * by id also carries `queue`, `urgency` (`urgencyKey`, under the hold policy given here) and `row` (the
 * flag without its series, notes and history): the sparse index `OpenByUrgency` over them is the queue,
 * read a page at a time in urgency order; the review's write drops them, so the flag leaves the index.
 * A customer's expected activity lives under `EXP#<customer>`, one item each, overwritten only by its withdrawal.
 * A decided flag's two copies carry the same `expiresAt` (`flagExpiry`); an open flag's carry none.
 */
export class DynamoDbFlagStore implements FlagStore {
  constructor(
    private readonly clients: { dynamo: DynamoDBClient; doc: DynamoDBDocumentClient },
    private readonly table: string,
    private readonly meter?: CapacityMeter,
    private readonly policy: HoldPolicy = DEFAULT_HOLD_POLICY,
    private readonly retentionDays: number = DEFAULTS.flagRetentionDays,
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

  /**
   * One page of flags. A customer's flags are one partition (a Query); without a customer, the flags by
   * id are read by a Scan with `Limit`: no index serves every filter, and each request reads at most
   * `limit` items (the filters apply after the read, so a page may hold fewer, even none, and still
   * have a cursor). The cursor is the last evaluated key, base64url JSON, checked when it comes back.
   */
  async list(f: FlagFilter = {}, page: PageRequest = { limit: DEFAULT_PAGE }): Promise<Page<Flag>> {
    const pk = f.customerId ? `CF#${f.customerId}` : undefined;
    const start = page.cursor === undefined ? undefined : decodeCursor(page.cursor, pk);
    const common = { TableName: this.table, Limit: page.limit, ExclusiveStartKey: start, ReturnConsumedCapacity: 'TOTAL' as const };
    const r = pk
      ? await this.clients.doc.send(
          new QueryCommand({
            ...common,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': pk },
            ConsistentRead: true,
          }),
        )
      : await this.clients.doc.send(
          new ScanCommand({ ...common, FilterExpression: 'sk = :sk', ExpressionAttributeValues: { ':sk': 'FLAG' } }),
        );
    this.meter?.add('read', r.ConsumedCapacity);
    const items = (r.Items ?? []).map((i) => JSON.parse(i.flag as string) as Flag).filter((x) => matches(x, f));
    return { items: items.sort(newestFirst), ...(r.LastEvaluatedKey ? { cursor: encodeKeyCursor(r.LastEvaluatedKey) } : {}) };
  }

  /**
   * One page of the open flags in urgency order, from the index. Filters apply after the read, so up to
   * `QUEUE_READS` requests of `limit` items each fill the page: at most that many items are read, however
   * many flags there are. A page cut short of what was read ends its cursor at the last row kept.
   */
  async queue(f: Omit<FlagFilter, 'status'> = {}, page: PageRequest = { limit: DEFAULT_PAGE }): Promise<Page<Flag>> {
    let start: Record<string, unknown> | undefined = page.cursor === undefined ? undefined : decodeQueueCursor(page.cursor);
    const filters = (['customerId', 'severity', 'rule', 'meter'] as const).filter((k) => f[k] !== undefined);
    const filter =
      filters.length > 0
        ? {
            FilterExpression: filters.map((k) => `#${k} = :${k}`).join(' AND '),
            ExpressionAttributeNames: Object.fromEntries(filters.map((k) => [`#${k}`, k])),
          }
        : {};
    const kept: Record<string, unknown>[] = [];
    let cursor: Record<string, unknown> | undefined;
    for (let reads = 0; reads < QUEUE_READS; reads++) {
      const r = await this.clients.doc.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: QUEUE_INDEX,
          KeyConditionExpression: '#queue = :open',
          ExpressionAttributeValues: { ':open': OPEN, ...Object.fromEntries(filters.map((k) => [`:${k}`, f[k]])) },
          ...filter,
          ExpressionAttributeNames: { '#queue': 'queue', ...filter.ExpressionAttributeNames },
          Limit: page.limit,
          ExclusiveStartKey: start,
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.meter?.add('read', r.ConsumedCapacity);
      const items = r.Items ?? [];
      const room = page.limit - kept.length;
      kept.push(...items.slice(0, room));
      cursor = items.length > room ? kept.at(-1) : r.LastEvaluatedKey;
      if (kept.length >= page.limit || !r.LastEvaluatedKey) break;
      start = r.LastEvaluatedKey;
    }
    return {
      items: kept.map((i) => JSON.parse(i.row as string) as Flag),
      ...(cursor ? { cursor: encodeQueueCursor(cursor) } : {}),
    };
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
        expiresAt: flagExpiry(flag, this.retentionDays),
      };
      const condition =
        basedOn === undefined
          ? { ConditionExpression: 'attribute_not_exists(pk)' }
          : {
              ConditionExpression: 'attribute_not_exists(revision) OR revision = :basedOn',
              ExpressionAttributeValues: marshall({ ':basedOn': basedOn }),
            };
      const urgency = urgencyKey(flag, this.policy);
      const queued = urgency === undefined ? {} : { queue: OPEN, urgency, meter: flag.meter, row: JSON.stringify(queueCopy(flag)) };
      try {
        const r = await this.clients.dynamo.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              {
                Put: {
                  TableName: this.table,
                  Item: marshall({ pk: `FLAG#${flag.id}`, sk: 'FLAG', ...common, ...queued }, { removeUndefinedValues: true }),
                  ...condition,
                },
              },
              {
                Put: {
                  TableName: this.table,
                  Item: marshall({ pk: `CF#${flag.customerId}`, sk: flag.id, ...common }, { removeUndefinedValues: true }),
                },
              },
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

/**
 * When a flag's items expire, in Unix seconds: undefined while it is open (an open flag holds usage and waits
 * for review), else `retentionDays` after its last change. That is its decision, or later: a confirmed flag goes
 * on being extended while the usage continues, and each extension moves the expiry on with it.
 */
export function flagExpiry(flag: Pick<Flag, 'status' | 'history'>, retentionDays: number): number | undefined {
  if (flag.status === 'open') return undefined;
  // The decision is one of the history's entries; anything after it is too.
  const last = Math.max(...flag.history.map((h) => Date.parse(h.at)).filter(Number.isFinite));
  // A decided flag with no dated history (never written so): it stays, rather than expire at an invented time.
  if (!Number.isFinite(last)) return undefined;
  return Math.floor((last + retentionDays * DAY_MS) / 1000);
}

const matches = (x: Flag, f: FlagFilter) =>
  (!f.status || x.status === f.status) &&
  (!f.severity || x.severity === f.severity) &&
  (!f.rule || x.rule === f.rule) &&
  (!f.customerId || x.customerId === f.customerId) &&
  (!f.meter || x.meter === f.meter);
const newestFirst = (a: Flag, b: Flag) => (a.window.from < b.window.from ? 1 : a.window.from > b.window.from ? -1 : 0);

/** The page size when a caller names none (the HTTP routes always do). */
const DEFAULT_PAGE = 100;

/** The urgency index (see `TABLES.flags.globalIndexes`), its one partition, and the most requests one queue page makes. */
const QUEUE_INDEX = 'OpenByUrgency';
const OPEN = 'OPEN';
const QUEUE_READS = 4;

/** What the queue lists of a flag: everything but the evidence series and signals, the notes and the history (a row stays small). */
const queueCopy = (flag: Flag): Flag => ({
  ...flag,
  evidence: { summary: flag.evidence.summary, observed: flag.evidence.observed, expected: flag.evidence.expected, signals: {}, series: [] },
  notes: [],
  history: [],
});

/** A queue cursor: the open-flag index's last evaluated key. */
const encodeQueueCursor = (key: Record<string, unknown>) => encodeCursor(key, ['pk', 'sk', 'urgency']);

/** The index key a queue cursor names, or a `ValidationError` on `cursor`. */
function decodeQueueCursor(cursor: string): Record<string, string> {
  const { pk, sk, urgency, ...rest } = cursorFields(cursor);
  if (typeof pk !== 'string' || !pk.startsWith('FLAG#') || sk !== 'FLAG' || typeof urgency !== 'string' || !/^[HN]#/.test(urgency))
    throw invalidCursor();
  if (Object.keys(rest).length > 0 || pk.length > 1024 || urgency.length > 1024) throw invalidCursor();
  return { pk, sk, queue: OPEN, urgency };
}

/**
 * The key a listing cursor names: a key of this table's items, or of the customer's flags when one is asked for.
 * A Scan's last evaluated key is whatever item it read last: a flag by id, a customer's copy, an expectation.
 */
const decodeCursor = (cursor: string, customerPk: string | undefined) =>
  decodeKeyCursor(cursor, (pk) => (customerPk ? pk === customerPk : /^(FLAG|CF|EXP)#/.test(pk)));
