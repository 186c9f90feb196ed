import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
  QueryCommand,
  type QueryCommandInput,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { TransientError } from '../../../contract/errors.js';
import { type Backoff, backoffDelay, DEFAULT_BACKOFF, inParallel, mapLimit, withBackoff } from '../../core/shared/concurrency.js';
import type { CapacityMeter } from './capacity-meter.js';

type Item = Record<string, AttributeValue>;

/** Errors DynamoDB answers when it is busy rather than when the request is wrong: waiting can help. */
const BUSY = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
]);

/** Whether a DynamoDB failure is worth another attempt after a wait (throttling, a 5xx, a TransientError). */
export function isRetryableDynamoError(err: unknown): boolean {
  if (err instanceof TransientError) return true;
  const e = err as { name?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } } | null;
  return !!e && (BUSY.has(e.name ?? '') || !!e.$retryable || (e.$metadata?.httpStatusCode ?? 0) >= 500);
}

/**
 * Sends `pending` until DynamoDB has taken all of it: `send` returns what it left unprocessed. Each round
 * waits a bounded, jittered backoff; after `b.attempts` rounds a TransientError says how much is left, so
 * the caller's record is retried later instead of spinning here.
 */
export async function untilProcessed<T>(
  pending: T[],
  send: (items: T[]) => Promise<T[]>,
  what: { table: string; kind: 'reads' | 'writes' },
  b: Backoff = DEFAULT_BACKOFF,
): Promise<void> {
  let left = pending;
  for (let round = 0; left.length > 0; round++) {
    if (round === b.attempts) throw new TransientError(`DynamoDB left ${left.length} ${what.kind} unprocessed`, { table: what.table });
    if (round > 0) await b.sleep(backoffDelay(round, b));
    try {
      left = await send(left);
    } catch (err) {
      // The whole call throttled: the same as every item left unprocessed, with the same bound.
      if (!isRetryableDynamoError(err) || round + 1 === b.attempts) throw err;
    }
  }
}

/**
 * Writes requests with BatchWriteItem, 25 per call, retrying unprocessed items with backoff.
 * Throws a TransientError when DynamoDB keeps refusing some, so the caller's record is retried.
 */
export async function batchWriteAll(
  client: DynamoDBClient,
  table: string,
  requests: readonly WriteRequest[],
  meter?: CapacityMeter,
  concurrency = 8,
  backoff: Backoff = DEFAULT_BACKOFF,
): Promise<void> {
  const chunks: WriteRequest[][] = [];
  for (let i = 0; i < requests.length; i += 25) chunks.push(requests.slice(i, i + 25));
  await inParallel(chunks, concurrency, (chunk) =>
    untilProcessed(
      chunk,
      async (pending) => {
        const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending }, ReturnConsumedCapacity: 'TOTAL' }));
        meter?.add('write', out.ConsumedCapacity);
        return out.UnprocessedItems?.[table] ?? [];
      },
      { table, kind: 'writes' },
      backoff,
    ),
  );
}

/** Reads keys with BatchGetItem, 100 per call, retrying unprocessed keys with the same bounded backoff. */
export async function batchGetAll(
  client: DynamoDBClient,
  table: string,
  keys: readonly Item[],
  opts: { consistent: boolean; projection?: string; names?: Record<string, string> },
  meter?: CapacityMeter,
  concurrency = 8,
  backoff: Backoff = DEFAULT_BACKOFF,
): Promise<Item[]> {
  const chunks: Item[][] = [];
  for (let i = 0; i < keys.length; i += 100) chunks.push(keys.slice(i, i + 100));
  const found: Item[] = [];
  await inParallel(chunks, concurrency, (chunk) =>
    untilProcessed(
      chunk,
      async (pending) => {
        const out = await client.send(
          new BatchGetItemCommand({
            RequestItems: {
              [table]: {
                Keys: pending,
                ConsistentRead: opts.consistent,
                ProjectionExpression: opts.projection,
                ExpressionAttributeNames: opts.names,
              },
            },
            ReturnConsumedCapacity: 'TOTAL',
          }),
        );
        const unprocessed = (out.UnprocessedKeys?.[table]?.Keys as Item[] | undefined) ?? [];
        // DynamoDB Local reports a BatchGetItem by the summed size of what it read; AWS rounds each key's read up
        // to 4 KB, a missing item's too, so the meter takes the larger of the two.
        const awsMinimum = (pending.length - unprocessed.length) * (opts.consistent ? 1 : 0.5);
        const reported = [out.ConsumedCapacity ?? []].flat().reduce((a, c) => a + (c.CapacityUnits ?? 0), 0);
        meter?.add('read', reported >= awsMinimum ? out.ConsumedCapacity : { TableName: table, CapacityUnits: awsMinimum });
        found.push(...(out.Responses?.[table] ?? []));
        return unprocessed;
      },
      { table, kind: 'reads' },
      backoff,
    ),
  );
  return found;
}

/**
 * Puts each item with its own conditional PutItem (DynamoDB cannot batch conditions); on AWS it costs the
 * same write unit as a batched put. Returns the indexes whose condition failed. Throttling is retried with
 * the bounded backoff; a condition failure is an answer, not an error.
 */
export async function putEachIf(
  client: DynamoDBClient,
  table: string,
  items: readonly Item[],
  condition: { expression: string; values: Record<string, AttributeValue> },
  meter?: CapacityMeter,
  concurrency = 32,
  backoff: Backoff = DEFAULT_BACKOFF,
): Promise<Set<number>> {
  const refused = new Set<number>();
  await mapLimit(
    items.map((item, i) => [item, i] as const),
    concurrency,
    async ([item, i]) => {
      try {
        const out = await withBackoff(
          () =>
            client.send(
              new PutItemCommand({
                TableName: table,
                Item: item,
                ConditionExpression: condition.expression,
                ...(Object.keys(condition.values).length > 0 ? { ExpressionAttributeValues: condition.values } : {}),
                ReturnConsumedCapacity: 'TOTAL',
              }),
            ),
          isRetryableDynamoError,
          backoff,
        );
        meter?.add('write', out.ConsumedCapacity);
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
        // A refused conditional write is still charged on AWS, but the error reports no units: the meter counts
        // it by the item's size, in 1 KB write units, as AWS bills it.
        meter?.add('write', { TableName: table, CapacityUnits: Math.max(1, Math.ceil(itemBytes(item) / 1024)) });
        refused.add(i);
      }
    },
  );
  return refused;
}

/** Runs a Query to its last page, adding up the read units. */
export async function queryAll(client: DynamoDBClient, input: QueryCommandInput, meter?: CapacityMeter): Promise<Item[]> {
  const out: Item[] = [];
  let start: Item | undefined;
  do {
    const page = await client.send(new QueryCommand({ ...input, ExclusiveStartKey: start, ReturnConsumedCapacity: 'TOTAL' }));
    meter?.add('read', page.ConsumedCapacity);
    out.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

/** An item's size as DynamoDB sizes it, near enough for write units: attribute names and values in UTF-8 bytes. */
function itemBytes(item: Item): number {
  const size = (v: AttributeValue): number => {
    if (v.S !== undefined) return Buffer.byteLength(v.S);
    if (v.N !== undefined) return Math.ceil(v.N.length / 2) + 1;
    if (v.B !== undefined) return v.B.length;
    if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
    if (v.M !== undefined) return 3 + itemBytes(v.M);
    if (v.L !== undefined) return 3 + v.L.reduce((a, x) => a + 1 + size(x), 0);
    if (v.SS !== undefined) return v.SS.reduce((a, x) => a + Buffer.byteLength(x), 0);
    if (v.NS !== undefined) return v.NS.reduce((a, x) => a + Math.ceil(x.length / 2) + 1, 0);
    return 0;
  };
  return Object.entries(item).reduce((a, [k, v]) => a + Buffer.byteLength(k) + size(v), 0);
}
