import { BatchWriteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { DynamoDbRollupStore } from '../../../../functions/adapters/dynamodb/dynamodb-rollup-store.js';
import type { StoredDay } from '../../../../functions/core/shared/ports.js';

describe('DynamoDbRollupStore.save', () => {
  it('writes the period users and file histories before the day rows, so a close that dies between them leaves no day stored', async () => {
    // Prepare: the second batch write fails, as a Lambda timing out would leave it
    const dynamo = new DynamoDBClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    const mock = mockClient(dynamo);
    mock.on(BatchWriteItemCommand).resolvesOnce({ UnprocessedItems: {} }).rejects(new Error('timed out'));
    const store = new DynamoDbRollupStore({ dynamo, doc: DynamoDBDocumentClient.from(dynamo) }, 'Rollups');
    const day = { customerId: 'acme', day: '2026-03-02', periodKey: '2026-03', values: { api_calls: 1 } } as unknown as StoredDay;

    // Act
    const saved = await store
      .save('acme', {
        days: [day],
        periodUsers: new Map([['2026-03', new Map([['u1', '2026-03-02']])]]),
        files: new Map([['f1', [['f1', '+', 1, 'k']]]]),
      })
      .catch((e: Error) => e);

    // Assess
    expect(saved).toBeInstanceOf(Error);
    const calls = mock.commandCalls(BatchWriteItemCommand);
    const keysOf = (i: number) => calls[i]!.args[0].input.RequestItems!.Rollups!.map((r) => r.PutRequest!.Item!.pk!.S);
    expect(keysOf(0)).toEqual(['PU#acme#2026-03', 'FH#acme']);
    expect(keysOf(1)).toEqual(['R#acme']);
  });
});
