import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  type DynamoDBClient,
  QueryCommand,
  type QueryCommandInput,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { TransientError } from '../../../contract/errors.js';
import { inParallel } from '../../core/shared/concurrency.js';
import type { CapacityMeter } from './capacity-meter.js';

type Item = Record<string, AttributeValue>;

const MAX_ROUNDS = 8;

const backoff = (round: number) => new Promise((r) => setTimeout(r, Math.min(1000, 25 * 2 ** round) * (0.5 + Math.random())));

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
): Promise<void> {
  const chunks: WriteRequest[][] = [];
  for (let i = 0; i < requests.length; i += 25) chunks.push(requests.slice(i, i + 25));
  await inParallel(chunks, concurrency, async (chunk) => {
    let pending = chunk;
    for (let round = 0; pending.length > 0; round++) {
      if (round === MAX_ROUNDS) {
        throw new TransientError(`DynamoDB left ${pending.length} writes unprocessed`, { table });
      }
      if (round > 0) await backoff(round);
      const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending }, ReturnConsumedCapacity: 'TOTAL' }));
      meter?.add('write', out.ConsumedCapacity);
      pending = out.UnprocessedItems?.[table] ?? [];
    }
  });
}

/** Reads keys with BatchGetItem, 100 per call, retrying unprocessed keys. */
export async function batchGetAll(
  client: DynamoDBClient,
  table: string,
  keys: readonly Item[],
  opts: { consistent: boolean; projection?: string; names?: Record<string, string> },
  meter?: CapacityMeter,
  concurrency = 8,
): Promise<Item[]> {
  const chunks: Item[][] = [];
  for (let i = 0; i < keys.length; i += 100) chunks.push(keys.slice(i, i + 100));
  const found: Item[] = [];
  await inParallel(chunks, concurrency, async (chunk) => {
    let pending: Item[] = chunk;
    for (let round = 0; pending.length > 0; round++) {
      if (round === MAX_ROUNDS) throw new TransientError(`DynamoDB left ${pending.length} reads unprocessed`, { table });
      if (round > 0) await backoff(round);
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
      meter?.add('read', out.ConsumedCapacity);
      found.push(...(out.Responses?.[table] ?? []));
      pending = (out.UnprocessedKeys?.[table]?.Keys as Item[] | undefined) ?? [];
    }
  });
  return found;
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
