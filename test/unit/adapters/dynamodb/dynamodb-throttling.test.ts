import {
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DynamoDBClient,
  ProvisionedThroughputExceededException,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { TransientError } from '../../../../contract/errors.js';
import { batchWriteAll, putEachIf } from '../../../../functions/adapters/dynamodb/dynamodb-batch.js';
import { DynamoDbRegistry } from '../../../../functions/adapters/dynamodb/dynamodb-registry.js';
import type { Backoff } from '../../../../functions/core/shared/concurrency.js';

const dynamo = new DynamoDBClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
const mock = mockClient(dynamo);
const doc = DynamoDBDocumentClient.from(dynamo);
const docMock = mockClient(doc);
const throttled = () => new ProvisionedThroughputExceededException({ message: 'throttled', $metadata: {} });

let sleeps: number[];
/** Instant backoff that records each wait; `random` at its top so the bound itself is visible. */
const backoff = (): Backoff => ({ attempts: 8, baseMs: 25, capMs: 2000, sleep: async (ms) => void sleeps.push(ms), random: () => 0.999 });

beforeEach(() => {
  mock.reset();
  docMock.reset();
  sleeps = [];
});

const profile = (id: string) => ({ pk: `CUS#${id}`, sk: 'PROFILE' });

describe('DynamoDbRegistry.customers under throttling', () => {
  it('gives up with a TransientError after a bounded number of jittered rounds when keys stay unprocessed', async () => {
    // Prepare: DynamoDB leaves every key unprocessed, forever; an unbounded loop trips the guard at 50 calls.
    let calls = 0;
    docMock.on(BatchGetCommand).callsFake((input) => {
      if (++calls > 50) throw new Error(`unbounded: ${calls} BatchGetItem calls`);
      return { UnprocessedKeys: { Registry: { Keys: input.RequestItems!.Registry!.Keys } } };
    });
    const registry = new DynamoDbRegistry(doc, 'Registry', undefined, backoff());
    // Act
    const out = await registry.customers(['acme', 'globex']).catch((e: unknown) => e);
    // Assess
    expect(out).toBeInstanceOf(TransientError);
    expect(calls).toBe(8);
    expect(sleeps).toEqual([49, 99, 199, 399, 799, 1598, 1998]);
  });

  it('backs off between rounds and returns every customer once DynamoDB catches up', async () => {
    // Prepare: the first two rounds leave "globex" unprocessed.
    let calls = 0;
    docMock.on(BatchGetCommand).callsFake(() => {
      calls++;
      const acme = { ...profile('acme'), id: 'acme' };
      const globex = { ...profile('globex'), id: 'globex' };
      if (calls === 1) return { Responses: { Registry: [acme] }, UnprocessedKeys: { Registry: { Keys: [profile('globex')] } } };
      if (calls === 2) return { Responses: { Registry: [] }, UnprocessedKeys: { Registry: { Keys: [profile('globex')] } } };
      return { Responses: { Registry: [globex] } };
    });
    const registry = new DynamoDbRegistry(doc, 'Registry', undefined, backoff());
    // Act
    const out = await registry.customers(['acme', 'globex']);
    // Assess
    expect([...out.keys()].sort()).toEqual(['acme', 'globex']);
    expect(sleeps).toHaveLength(2);
  });

  it('retries a throttled BatchGetItem call with backoff instead of failing the record at once', async () => {
    // Prepare
    docMock
      .on(BatchGetCommand)
      .rejectsOnce(throttled())
      .resolves({ Responses: { Registry: [{ ...profile('acme'), id: 'acme' }] } });
    const registry = new DynamoDbRegistry(doc, 'Registry', undefined, backoff());
    // Act
    const out = await registry.customers(['acme']);
    // Assess
    expect(out.has('acme')).toBe(true);
    expect(sleeps).toHaveLength(1);
  });
});

describe('batchWriteAll and putEachIf under throttling', () => {
  const put = (i: number) => ({ PutRequest: { Item: { pk: { S: `p${i}` }, sk: { S: 's' } } } });

  it('a throttled BatchWriteItem is retried with jittered backoff and the writes land', async () => {
    // Prepare
    mock.on(BatchWriteItemCommand).rejectsOnce(throttled()).rejectsOnce(throttled()).resolves({ UnprocessedItems: {} });
    // Act
    await batchWriteAll(dynamo, 'Events', [put(1), put(2)], undefined, 8, backoff());
    // Assess
    expect(mock.commandCalls(BatchWriteItemCommand)).toHaveLength(3);
    expect(sleeps).toEqual([49, 99]);
  });

  it('unprocessed items that never clear end in a TransientError after the bound', async () => {
    // Prepare
    mock.on(BatchWriteItemCommand).callsFake((input) => ({ UnprocessedItems: input.RequestItems }));
    // Act
    const out = await batchWriteAll(dynamo, 'Events', [put(1)], undefined, 8, backoff()).catch((e: unknown) => e);
    // Assess
    expect(out).toBeInstanceOf(TransientError);
    expect(mock.commandCalls(BatchWriteItemCommand)).toHaveLength(8);
  });

  it('conditional puts retry throttling and report refused conditions as answers, not errors', async () => {
    // Prepare: item 0 is throttled once then written; item 1 is already held by another message.
    mock
      .on(PutItemCommand, { Item: { pk: { S: 'p0' }, sk: { S: 's' } } })
      .rejectsOnce(throttled())
      .resolves({})
      .on(PutItemCommand, { Item: { pk: { S: 'p1' }, sk: { S: 's' } } })
      .rejects(new ConditionalCheckFailedException({ message: 'held', $metadata: {} }));
    // Act
    const refused = await putEachIf(
      dynamo,
      'Events',
      [put(0).PutRequest.Item, put(1).PutRequest.Item],
      { expression: 'attribute_not_exists(pk)', values: {} },
      undefined,
      4,
      backoff(),
    );
    // Assess
    expect([...refused]).toEqual([1]);
    expect(sleeps).toHaveLength(1);
  });
});
