import { describe, expect, it } from 'vitest';
import { evaluate, type Statement } from '../../../local/iam/policy.js';
import { type LocalArns, requestAccess } from '../../../local/iam/request-access.js';

const TABLE = 'arn:aws:dynamodb:ddblocal:000000000000:table/meter-Registry';
const allow = (actions: string[], resources: string[], condition?: Statement['condition']): Statement => ({
  effect: 'Allow',
  actions,
  resources,
  ...(condition ? { condition } : {}),
});
const arns: LocalArns = {
  tableArn: (t) => `arn:aws:dynamodb:ddblocal:000000000000:table/${t}`,
  queueArn: (url) => `arn:aws:sqs:us-east-1:000000000000:${url.split('/').pop()}`,
  queueArnByName: (n) => `arn:aws:sqs:us-east-1:000000000000:${n}`,
};

describe('the local IAM evaluator', () => {
  it('matches action wildcards case-insensitively and resource wildcards such as an index ARN', () => {
    // Prepare
    const statements = [allow(['dynamodb:Get*', 'dynamodb:query'], [TABLE, `${TABLE}/index/*`])];

    // Act
    const decisions = [
      evaluate(statements, { action: 'dynamodb:GetItem', resource: TABLE }),
      evaluate(statements, { action: 'dynamodb:Query', resource: `${TABLE}/index/byCustomer` }),
      evaluate(statements, { action: 'dynamodb:PutItem', resource: TABLE }),
      evaluate(statements, { action: 'dynamodb:GetItem', resource: `${TABLE}-other` }),
    ];

    // Assess
    expect(decisions).toEqual(['allow', 'allow', 'implicit-deny', 'implicit-deny']);
  });

  it('allows writes under a LeadingKeys condition only for the keys it names', () => {
    // Prepare
    const statements = [allow(['dynamodb:PutItem'], [TABLE], { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['CUS#*'] } })];
    const put = (pk: string) => requestAccess('DynamoDBClient', 'PutItem', { TableName: 'meter-Registry', Item: { pk: { S: pk } } }, arns);

    // Act
    const [customer] = put('CUS#acme');
    const [key] = put('KEY#abc');

    // Assess
    expect(evaluate(statements, customer!)).toBe('allow');
    expect(evaluate(statements, key!)).toBe('implicit-deny');
  });

  it('denies under a condition it does not understand, and lets an explicit Deny win', () => {
    // Prepare
    const unknown = [allow(['dynamodb:GetItem'], [TABLE], { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } })];
    const unknownKey = [allow(['dynamodb:GetItem'], [TABLE], { StringEquals: { 'dynamodb:Attributes': 'pk' } })];
    const denied: Statement[] = [allow(['dynamodb:*'], ['*']), { effect: 'Deny', actions: ['dynamodb:DeleteItem'], resources: ['*'] }];

    // Act
    const request = { action: 'dynamodb:GetItem', resource: TABLE, context: { 'dynamodb:LeadingKeys': ['CUS#a'] } };

    // Assess
    expect(evaluate(unknown, request)).toBe('implicit-deny');
    expect(evaluate(unknownKey, request)).toBe('implicit-deny');
    expect(evaluate(denied, { action: 'dynamodb:DeleteItem', resource: TABLE })).toBe('explicit-deny');
    expect(evaluate(denied, request)).toBe('allow');
  });
});

describe('what an SDK call asks IAM for', () => {
  it('names every table of a batch and each part of a transaction with its own action', () => {
    // Act
    const batch = requestAccess(
      'DynamoDBClient',
      'BatchWriteItem',
      {
        RequestItems: {
          'meter-Audit': [{ PutRequest: { Item: { pk: { S: 'A#2026-12-02' } } } }],
          'meter-Rollups': [{ DeleteRequest: { Key: { pk: { S: 'LATE' } } } }],
        },
      },
      arns,
    );
    const transaction = requestAccess(
      'DynamoDBClient',
      'TransactWriteItems',
      {
        TransactItems: [
          { Put: { TableName: 'meter-Flags', Item: { pk: { S: 'FLAG#1' } } } },
          { Update: { TableName: 'meter-Quarantine', Key: { pk: { S: 'COUNT' } } } },
        ],
      },
      arns,
    );

    // Assess
    expect(batch.map((r) => [r.action, r.resource.split('/')[1], r.context?.['dynamodb:LeadingKeys']])).toEqual([
      ['dynamodb:BatchWriteItem', 'meter-Audit', ['A#2026-12-02']],
      ['dynamodb:BatchWriteItem', 'meter-Rollups', ['LATE']],
    ]);
    expect(transaction.map((r) => [r.action, r.resource.split('/')[1]])).toEqual([
      ['dynamodb:PutItem', 'meter-Flags'],
      ['dynamodb:UpdateItem', 'meter-Quarantine'],
    ]);
  });

  it("reads a query's partition key and names an index ARN, and maps SQS batches to their single action", () => {
    // Act
    const [query] = requestAccess(
      'DynamoDBClient',
      'Query',
      {
        TableName: 'meter-Usage',
        KeyConditionExpression: '#p = :p AND begins_with(sk, :s)',
        ExpressionAttributeNames: { '#p': 'pk' },
        ExpressionAttributeValues: { ':p': { S: 'F#2026-12-01#3' }, ':s': { S: 'x' } },
      },
      arns,
    );
    const [onIndex] = requestAccess('DynamoDBClient', 'Query', { TableName: 'meter-Flags', IndexName: 'byState' }, arns);
    const [send] = requestAccess('SQSClient', 'SendMessageBatch', { QueueUrl: 'http://127.0.0.1:1/000000000000/usage-events' }, arns);

    // Assess
    expect(query?.context).toEqual({ 'dynamodb:LeadingKeys': ['F#2026-12-01#3'] });
    expect(onIndex?.resource).toBe('arn:aws:dynamodb:ddblocal:000000000000:table/meter-Flags/index/byState');
    expect(send).toEqual({ action: 'sqs:SendMessage', resource: 'arn:aws:sqs:us-east-1:000000000000:usage-events' });
  });
});
