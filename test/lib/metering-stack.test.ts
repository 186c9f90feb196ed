import { readFileSync } from 'node:fs';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONSUMER, EVENT_QUEUE, TABLES, type TableDefinition } from '../../functions/resources.js';
import { MeteringStack } from '../../lib/metering-stack.js';

type Resource = { Type: string; Properties: Record<string, any> };

// The same feature flags `cdk synth` uses, so the template under test is the one that deploys.
const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context;

let app: App;
let stack: MeteringStack;
let template: Template;
let resources: Record<string, Resource>;
const idOf = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as CfnElement);
const byType = (type: string) => Object.values(resources).filter((r) => r.Type === type);

beforeAll(() => {
  // Synthesizing bundles the three handlers with esbuild, so do it once for the whole file;
  // construct stack traces only slow the synth down here.
  app = new App({ context, stackTraces: false });
  stack = new MeteringStack(app, 'Test');
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources;
});

describe('MeteringStack', () => {
  it('creates one on-demand table with PITR per TABLES entry, TTL only where defined', () => {
    // Prepare
    const definitions = Object.entries(TABLES) as [keyof typeof TABLES, TableDefinition][];

    // Act
    const tables = definitions.map(([name, def]) => ({ def, resource: resources[idOf(stack.tables.tables[name])] }));

    // Assess
    expect(byType('AWS::DynamoDB::Table')).toHaveLength(definitions.length);
    for (const { def, resource } of tables) {
      expect(resource?.Type).toBe('AWS::DynamoDB::Table');
      expect(resource?.Properties).toMatchObject({
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: def.partitionKey, KeyType: 'HASH' },
          { AttributeName: def.sortKey, KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: def.partitionKey, AttributeType: 'S' },
          { AttributeName: def.sortKey, AttributeType: 'S' },
        ],
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      });
      expect(resource?.Properties.TimeToLiveSpecification).toEqual(
        def.ttlAttribute ? { AttributeName: def.ttlAttribute, Enabled: true } : undefined,
      );
    }
    template.allResources('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  it('redrives the event queue to its DLQ after five receives, over TLS only', () => {
    // Prepare
    const dlqId = idOf(stack.pipeline.dlq);

    // Act
    const queue = resources[idOf(stack.pipeline.queue)];

    // Assess
    expect(EVENT_QUEUE.maxReceiveCount).toBe(5);
    expect(queue?.Properties).toMatchObject({
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 5 },
      VisibilityTimeout: EVENT_QUEUE.visibilityTimeoutSeconds,
      SqsManagedSseEnabled: true,
    });
    template.resourceCountIs('AWS::SQS::QueuePolicy', 2);
    template.allResourcesProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('feeds the consumer in batches and lets it report failed records one by one', () => {
    // Prepare
    const consumerId = idOf(stack.pipeline.consumer);

    // Act
    const mappings = byType('AWS::Lambda::EventSourceMapping');

    // Assess
    expect(mappings).toHaveLength(1);
    expect(mappings[0]?.Properties).toMatchObject({
      FunctionName: { Ref: consumerId },
      EventSourceArn: { 'Fn::GetAtt': [idOf(stack.pipeline.queue), 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: EVENT_QUEUE.batchSize,
      MaximumBatchingWindowInSeconds: EVENT_QUEUE.maxBatchingWindowSeconds,
    });
    expect(resources[consumerId]?.Properties).toMatchObject({ Timeout: CONSUMER.timeoutSeconds, MemorySize: CONSUMER.memoryMb });
  });

  it('runs every function on nodejs22.x arm64 with an ESM bundle', () => {
    // Act
    const functions = byType('AWS::Lambda::Function');

    // Assess
    expect(functions).toHaveLength(3);
    for (const fn of functions) {
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Handler: 'index.handler' });
    }
  });

  it('routes the three HTTP API paths to the right functions', () => {
    // Prepare
    const targetOf = (routeKey: string) => {
      const route = byType('AWS::ApiGatewayV2::Route').find((r) => r.Properties.RouteKey === routeKey);
      const integrationId: string = route?.Properties.Target['Fn::Join'][1][1].Ref;
      return resources[integrationId]?.Properties.IntegrationUri['Fn::GetAtt'][0];
    };

    // Act
    const routeKeys = byType('AWS::ApiGatewayV2::Route').map((r) => r.Properties.RouteKey);

    // Assess
    expect(routeKeys.sort()).toEqual(['GET /v1/health', 'GET /v1/usage', 'POST /v1/events']);
    expect(targetOf('POST /v1/events')).toBe(idOf(stack.http.ingest));
    expect(targetOf('GET /v1/usage')).toBe(idOf(stack.http.reader));
    expect(targetOf('GET /v1/health')).toBe(idOf(stack.http.reader));
  });

  it('hands the consumer every table name and both queue URLs under the names config.ts reads', () => {
    // Prepare
    const expected = Object.fromEntries([
      ...Object.entries(TABLES).map(([name, def]) => [def.env, { Ref: idOf(stack.tables.tables[name as keyof typeof TABLES]) }]),
      [EVENT_QUEUE.env, { Ref: idOf(stack.pipeline.queue) }],
      [EVENT_QUEUE.dlqEnv, { Ref: idOf(stack.pipeline.dlq) }],
    ]);

    // Act
    const variables = resources[idOf(stack.pipeline.consumer)]?.Properties.Environment.Variables;

    // Assess
    expect(variables).toMatchObject(expected);
  });

  it('gives the read API no write access to any table', () => {
    // Act
    const policy = byType('AWS::IAM::Policy').find((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === idOf(stack.http.reader.role!)));
    const actions = policy?.Properties.PolicyDocument.Statement.flatMap((s: { Action: string | string[] }) => s.Action);

    // Assess
    expect(actions).toContain('dynamodb:Query');
    expect(actions).not.toContain('dynamodb:PutItem');
    expect(actions).not.toContain('dynamodb:BatchWriteItem');
    expect(actions).not.toContain('sqs:SendMessage');
  });

  it('passes the AWS Solutions checks, with every exception acknowledged in code', () => {
    // Act
    const report = new AwsSolutionsChecks().validateScope(app);

    // Assess
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  });
});
