import { DynamoDBClient, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { DynamoDbQuarantine } from '../../../../functions/adapters/dynamodb/dynamodb-quarantine.js';
import type { QuarantineItem } from '../../../../functions/core/shared/ports.js';

const item = (raw: unknown): QuarantineItem => ({
  customerId: 'acme',
  key: 'req#0',
  reason: 'invalid',
  errors: [{ field: 'data.quantity', message: 'must be at most 1000000' }],
  raw,
  replayable: false,
  origin: 'ingest',
  quarantinedAt: '2026-11-29T12:00:00.000Z',
  attempts: 0,
});

describe('DynamoDbQuarantine.put (defect 2)', () => {
  it('stores any rejected input, numbers a DynamoDB number cannot hold kept as their JSON text', async () => {
    // Prepare
    const dynamo = new DynamoDBClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    const mock = mockClient(dynamo);
    mock.on(TransactWriteItemsCommand).resolves({});
    const store = new DynamoDbQuarantine({ dynamo, doc: DynamoDBDocumentClient.from(dynamo) }, 'Quarantine');
    const raw = {
      data: { quantity: 1e16, big: 2 ** 60, huge: 1e308, tiny: 5e-324, inf: JSON.parse('1e400'), fine: 12.5, zero: -0 },
      list: [2 ** 60],
      'k\ud800': 'v\udc00w',
    };

    // Act
    await store.put([item({ ...raw, ...JSON.parse('{"__proto__":"p"}') })]);

    // Assess
    const written = mock.commandCalls(TransactWriteItemsCommand)[0]!.args[0].input.TransactItems![0]!.Put!.Item!;
    expect(unmarshall(written).raw).toEqual({
      data: {
        quantity: '10000000000000000',
        big: '1152921504606847000',
        huge: '1e+308',
        tiny: '5e-324',
        inf: 'Infinity',
        fine: 12.5,
        zero: 0,
      },
      list: ['1152921504606847000'],
      'k\ufffd': 'v\ufffdw',
      '[__proto__]': 'p',
    });
  });
});
