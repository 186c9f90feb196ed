import { BatchGetItemCommand, ConditionalCheckFailedException, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { CapacityMeter } from '../../../../functions/adapters/dynamodb/capacity-meter.js';
import { batchGetAll, putEachIf } from '../../../../functions/adapters/dynamodb/dynamodb-batch.js';

// The meter counts what AWS would bill where DynamoDB Local reports less: per-key read minimums, refused conditional writes.
const dynamo = new DynamoDBClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
const mock = mockClient(dynamo);
const keys = (n: number) => Array.from({ length: n }, (_, i) => ({ pk: { S: `E#c#${i}` }, sk: { S: `k${i}` } }));

beforeEach(() => mock.reset());

describe('batchGetAll metering', () => {
  it("meters each key at AWS's 4 KB minimum when the reported units are fewer (1 consistent, 0.5 eventual)", async () => {
    // Prepare: DynamoDB Local's way, the summed size of 10 small items.
    mock.on(BatchGetItemCommand).resolves({ Responses: { T: [] }, ConsumedCapacity: [{ TableName: 'T', CapacityUnits: 0.11 }] });
    const consistent = new CapacityMeter();
    const eventual = new CapacityMeter();
    // Act
    await batchGetAll(dynamo, 'T', keys(10), { consistent: true }, consistent);
    await batchGetAll(dynamo, 'T', keys(10), { consistent: false }, eventual);
    // Assess
    expect(consistent.read).toBe(10);
    expect(eventual.read).toBe(5);
  });

  it('keeps the reported units when they are more (large items), and does not bill keys left unprocessed', async () => {
    // Prepare
    let call = 0;
    mock.on(BatchGetItemCommand).callsFake((input) => {
      call++;
      const pending = input.RequestItems.T.Keys;
      return call === 1
        ? {
            Responses: { T: [] },
            UnprocessedKeys: { T: { Keys: pending.slice(6) } },
            ConsumedCapacity: [{ TableName: 'T', CapacityUnits: 0.2 }],
          }
        : { Responses: { T: [] }, ConsumedCapacity: [{ TableName: 'T', CapacityUnits: 9 }] };
    });
    const meter = new CapacityMeter();
    // Act
    await batchGetAll(dynamo, 'T', keys(10), { consistent: true }, meter, 1, {
      attempts: 3,
      baseMs: 0,
      capMs: 0,
      sleep: async () => {},
      random: () => 0,
    });
    // Assess: 6 keys at the minimum in the first call, then the reported 9 for the last 4.
    expect(meter.read).toBe(15);
  });
});

describe('putEachIf metering', () => {
  it('meters a refused conditional write by the size of the item, in 1 KB units', async () => {
    // Prepare: a 2.5 KB item refused, a small one written.
    mock
      .on(PutItemCommand, { Item: { pk: { S: 'big' }, v: { S: 'x'.repeat(2500) } } })
      .rejects(new ConditionalCheckFailedException({ message: 'refused', $metadata: {} }))
      .on(PutItemCommand, { Item: { pk: { S: 'small' } } })
      .resolves({ ConsumedCapacity: { TableName: 'T', CapacityUnits: 1 } });
    const meter = new CapacityMeter();
    // Act
    const refused = await putEachIf(
      dynamo,
      'T',
      [{ pk: { S: 'big' }, v: { S: 'x'.repeat(2500) } }, { pk: { S: 'small' } }],
      { expression: 'attribute_not_exists(pk)', values: {} },
      meter,
    );
    // Assess
    expect([...refused]).toEqual([0]);
    expect(meter.write).toBe(3 + 1);
  });
});
