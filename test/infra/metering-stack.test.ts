import { readFileSync } from 'node:fs';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CLOSE_FUNCTIONS,
  CLOSE_QUEUE,
  CONSUMER,
  EVENT_QUEUE,
  HTTP_ROUTES,
  STRIPE_SECRET,
  STRIPE_WEBHOOK_SECRET,
  TABLES,
  type TableDefinition,
} from '../../functions/resources.js';
import { MeteringStack } from '../../lib/metering-stack.js';

type Ref = { Ref: string };
/**
 * A resource of the synthesised template. The properties the tests reach into are typed as CloudFormation
 * writes them, each read only from the resource types that have it; any other property is `unknown`.
 */
type Resource = {
  Type: string;
  Properties: {
    [property: string]: unknown;
    /** AWS::IAM::Policy */
    Roles: Ref[];
    PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] };
    /** AWS::Lambda::EventSourceMapping */
    FunctionName: Ref;
    /** AWS::ApiGatewayV2::Route */
    RouteKey: string;
    /** `integrations/` joined to the integration's Ref */
    Target: { 'Fn::Join': [string, [string, Ref]] };
    /** AWS::ApiGatewayV2::Integration: the function's Arn */
    IntegrationUri: { 'Fn::GetAtt': [string, string] };
    /** AWS::Lambda::Function */
    Environment: { Variables: Record<string, unknown> };
  };
};

// The same feature flags `cdk synth` uses, so the template under test is the one that deploys.
const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context;

let app: App;
let stack: MeteringStack;
let template: Template;
let resources: Record<string, Resource>;
const idOf = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as CfnElement);
const byType = (type: string) => Object.values(resources).filter((r) => r.Type === type);
const policyStatementsOf = (fn: { role?: IConstruct }) =>
  byType('AWS::IAM::Policy')
    .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === idOf(fn.role!)))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
const actionsOn = (fn: { role?: IConstruct }, resource: IConstruct) => {
  const arn = { 'Fn::GetAtt': [idOf(resource), 'Arn'] };
  return policyStatementsOf(fn)
    .filter((s) => [s.Resource].flat().some((r) => JSON.stringify(r) === JSON.stringify(arn)))
    .flatMap((s) => [s.Action].flat());
};

beforeAll(() => {
  // Synthesizing bundles the five handlers with esbuild, so do it once for the whole file;
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
          ...(def.globalIndexes ?? []).flatMap((i) => [
            { AttributeName: i.partitionKey, AttributeType: 'S' },
            { AttributeName: i.sortKey, AttributeType: 'S' },
          ]),
        ],
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      });
      const indexes = (resource?.Properties.GlobalSecondaryIndexes ?? []) as { IndexName: string }[];
      expect(indexes.map((i) => i.IndexName)).toEqual((def.globalIndexes ?? []).map((i) => i.name));
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
    // The two queue pairs and the planner's failure queue (which EventBridge may also send to).
    template.resourceCountIs('AWS::SQS::QueuePolicy', 5);
    template.allResourcesProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
  });

  it('feeds the consumer in batches and lets it report failed records one by one', () => {
    // Prepare
    const consumerId = idOf(stack.pipeline.consume);

    // Act
    const mappings = byType('AWS::Lambda::EventSourceMapping').filter((m) => m.Properties.FunctionName.Ref === consumerId);

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
    // Act: ours, not the console upload's provider function, which aws-cdk-lib brings and runs.
    const functions = Object.entries(resources)
      .filter(([id, r]) => r.Type === 'AWS::Lambda::Function' && !id.startsWith('CustomCDKBucketDeployment'))
      .map(([, r]) => r);

    // Assess
    expect(functions).toHaveLength(5);
    for (const fn of functions) {
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Handler: 'index.handler' });
    }
  });

  it('routes the HTTP API paths to the right functions', () => {
    // Prepare
    const targetOf = (routeKey: string) => {
      const route = byType('AWS::ApiGatewayV2::Route').find((r) => r.Properties.RouteKey === routeKey);
      const integrationId = route!.Properties.Target['Fn::Join'][1][1].Ref;
      return resources[integrationId]?.Properties.IntegrationUri['Fn::GetAtt'][0];
    };

    // Act: the public API's routes (the console's API is checked in console-hosting.test.ts).
    const routeKeys = byType('AWS::ApiGatewayV2::Route')
      .filter((r) => JSON.stringify(r.Properties.ApiId) === JSON.stringify({ Ref: idOf(stack.http.httpApi) }))
      .map((r) => r.Properties.RouteKey);

    // Assess
    // Every route of HTTP_ROUTES, and no other, on the public API, each served by the function it names.
    expect(routeKeys.sort()).toEqual(Object.keys(HTTP_ROUTES).sort());
    for (const [key, fn] of Object.entries(HTTP_ROUTES))
      expect(targetOf(key), key).toBe(idOf(fn === 'ingest' ? stack.http.ingest : stack.http.api));
    expect(targetOf('POST /v1/customers/{customer}/expected-activity')).toBe(idOf(stack.http.api));
    expect(targetOf('POST /v1/flags/{id}/review')).toBe(idOf(stack.http.api));
    expect(targetOf('POST /v1/customers')).toBe(idOf(stack.http.api));
    expect(targetOf('GET /v1/statements/{customer}')).toBe(idOf(stack.http.api));
    expect(targetOf('POST /v1/events')).toBe(idOf(stack.http.ingest));
    expect(targetOf('GET /v1/usage')).toBe(idOf(stack.http.api));
    expect(targetOf('GET /v1/health')).toBe(idOf(stack.http.api));
  });

  it('hands the consumer every table name and both queue URLs under the names config.ts reads', () => {
    // Prepare
    const expected = Object.fromEntries([
      ...Object.entries(TABLES).map(([name, def]) => [def.env, { Ref: idOf(stack.tables.tables[name as keyof typeof TABLES]) }]),
      [EVENT_QUEUE.env, { Ref: idOf(stack.pipeline.queue) }],
      [EVENT_QUEUE.dlqEnv, { Ref: idOf(stack.pipeline.dlq) }],
    ]);

    // Act
    const variables = resources[idOf(stack.pipeline.consume)]?.Properties.Environment.Variables;

    // Assess
    expect(variables).toMatchObject(expected);
  });

  it('lets the read API write only flags (reviews, expected activity), audit records, the registry (customers, keys), the late marks of a dismissal (rollups), the quarantine (a replay) and the ledger (a reconcile fix)', () => {
    // Act
    const policy = byType('AWS::IAM::Policy').find((p) =>
      p.Properties.Roles.some((r: { Ref: string }) => r.Ref === idOf(stack.http.api.role!)),
    );
    const statements: { Action: string | string[]; Resource: unknown }[] = policy?.Properties.PolicyDocument.Statement ?? [];
    const writes = statements.filter((st) => [st.Action].flat().some((a) => a === 'dynamodb:PutItem' || a === 'dynamodb:BatchWriteItem'));
    const written = new Set(
      writes
        .flatMap((st) => [st.Resource].flat())
        .map((r) => JSON.stringify(r))
        .filter((r) => !r.includes('/index/')),
    );

    // Assess
    expect(statements.flatMap((st) => [st.Action].flat())).toContain('dynamodb:Query');
    // A replay and a DLQ redrive send to the event queue; a privacy export is a job on the close queue.
    const sends = statements.filter((st) => [st.Action].flat().includes('sqs:SendMessage')).flatMap((st) => [st.Resource].flat());
    expect(sends).toEqual(
      expect.arrayContaining([{ 'Fn::GetAtt': [idOf(stack.pipeline.queue), 'Arn'] }, { 'Fn::GetAtt': [idOf(stack.close.queue), 'Arn'] }]),
    );
    expect(sends).toHaveLength(2);
    const arnOf = (t: keyof typeof TABLES) => JSON.stringify({ 'Fn::GetAtt': [idOf(stack.tables.tables[t]), 'Arn'] });
    expect([...written].sort()).toEqual(
      [
        arnOf('audit'),
        arnOf('flags'),
        arnOf('ledger'),
        arnOf('pseudonyms'),
        arnOf('quarantine'),
        arnOf('registry'),
        arnOf('rollups'),
      ].sort(),
    );
  });

  it('passes the AWS Solutions checks, with every exception acknowledged in code', () => {
    // Act
    const report = new AwsSolutionsChecks().validateScope(app);

    // Assess
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  });
  it('starts the nightly close planner at 00:30 UTC every day', () => {
    // Prepare
    const plannerArn = { 'Fn::GetAtt': [idOf(stack.close.planner), 'Arn'] };

    // Act
    const rule = resources[idOf(stack.close.schedule)];

    // Assess
    expect(rule?.Properties).toMatchObject({ ScheduleExpression: 'cron(30 0 * * ? *)', State: 'ENABLED' });
    expect(rule?.Properties.Targets).toEqual([expect.objectContaining({ Arn: plannerArn })]);
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: plannerArn,
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [idOf(stack.close.schedule), 'Arn'] },
    });
    expect(resources[idOf(stack.close.planner)]?.Properties.Timeout).toBe(CLOSE_FUNCTIONS.plannerTimeoutSeconds);
  });

  it('redrives the close queue to its DLQ after five receives, hiding a chunk for six worker timeouts', () => {
    // Prepare
    const dlqId = idOf(stack.close.dlq);

    // Act
    const queue = resources[idOf(stack.close.queue)];
    const dlq = resources[dlqId];

    // Assess
    expect(queue?.Properties).toMatchObject({
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 5 },
      VisibilityTimeout: CLOSE_QUEUE.visibilityTimeoutSeconds,
      MessageRetentionPeriod: CLOSE_QUEUE.retentionDays * 86_400,
      SqsManagedSseEnabled: true,
    });
    expect(dlq?.Properties).toMatchObject({ MessageRetentionPeriod: CLOSE_QUEUE.dlqRetentionDays * 86_400, SqsManagedSseEnabled: true });
    expect(CLOSE_QUEUE.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(6 * CLOSE_FUNCTIONS.workerTimeoutSeconds);
    expect(resources[idOf(stack.close.worker)]?.Properties.Timeout).toBe(CLOSE_FUNCTIONS.workerTimeoutSeconds);
  });

  it('feeds the close worker one chunk at a time, at bounded concurrency, reporting failed chunks one by one', () => {
    // Prepare
    const workerId = idOf(stack.close.worker);

    // Act
    const mappings = byType('AWS::Lambda::EventSourceMapping').filter((m) => m.Properties.FunctionName.Ref === workerId);

    // Assess
    expect(mappings).toHaveLength(1);
    expect(mappings[0]?.Properties).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': [idOf(stack.close.queue), 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 1,
      ScalingConfig: { MaximumConcurrency: CLOSE_FUNCTIONS.workerMaxConcurrency },
    });
  });

  it('lets only the close worker and the api function (reconcile) read the Stripe secret, and hands them the ARN, never the key', () => {
    // Prepare
    const secret = stack.close.stripeSecret.node.defaultChild as CfnElement;
    const secretId = stack.getLogicalId(secret);
    const canRead = (fn: { role?: IConstruct }) =>
      policyStatementsOf(fn).some(
        (s) =>
          [s.Action].flat().includes('secretsmanager:GetSecretValue') &&
          [s.Resource].flat().some((r) => JSON.stringify(r) === JSON.stringify({ Ref: secretId })),
      );

    // Act
    const workerEnv = resources[idOf(stack.close.worker)]?.Properties.Environment.Variables;
    const allEnvNames = byType('AWS::Lambda::Function').flatMap((fn) => Object.keys(fn.Properties.Environment?.Variables ?? {}));

    // Assess
    expect(resources[secretId]).toMatchObject({
      Type: 'AWS::SecretsManager::Secret',
      Properties: { Name: STRIPE_SECRET.name },
      DeletionPolicy: 'Retain',
    });
    expect(canRead(stack.close.worker)).toBe(true);
    expect(canRead(stack.http.api)).toBe(true);
    for (const fn of [stack.close.planner, stack.pipeline.consume, stack.http.ingest]) expect(canRead(fn)).toBe(false);
    expect(resources[idOf(stack.http.api)]?.Properties.Environment.Variables).toMatchObject({ [STRIPE_SECRET.env]: { Ref: secretId } });
    expect(workerEnv).toMatchObject({
      [STRIPE_SECRET.env]: { Ref: secretId },
      STRIPE_RATE_PER_SECOND: String(CLOSE_FUNCTIONS.stripeRatePerSecond / CLOSE_FUNCTIONS.workerMaxConcurrency),
      CLOSE_CONCURRENCY: String(CLOSE_FUNCTIONS.customersAtOnce),
    });
    expect(allEnvNames).not.toContain('STRIPE_SECRET_KEY');
    expect(Object.keys(resources[idOf(stack.close.planner)]!.Properties.Environment.Variables)).not.toContain(STRIPE_SECRET.env);
  });

  it('hands both close functions every table, both pipeline queues and both close queues', () => {
    // Prepare
    const expected = Object.fromEntries([
      ...Object.entries(TABLES).map(([name, def]) => [def.env, { Ref: idOf(stack.tables.tables[name as keyof typeof TABLES]) }]),
      [EVENT_QUEUE.env, { Ref: idOf(stack.pipeline.queue) }],
      [EVENT_QUEUE.dlqEnv, { Ref: idOf(stack.pipeline.dlq) }],
      [CLOSE_QUEUE.env, { Ref: idOf(stack.close.queue) }],
      [CLOSE_QUEUE.dlqEnv, { Ref: idOf(stack.close.dlq) }],
    ]);

    // Act
    const [planner, worker] = [stack.close.planner, stack.close.worker].map((fn) => resources[idOf(fn)]?.Properties.Environment.Variables);

    // Assess
    expect(planner).toMatchObject(expected);
    expect(worker).toMatchObject(expected);
  });

  it('grants the close functions only what each needs', () => {
    // Prepare
    const t = stack.tables.tables;
    const reads = ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:BatchGetItem'];
    const writes = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem'];
    const { planner, worker, queue, dlq } = stack.close;

    // Act
    const plannerOn = (r: IConstruct) => actionsOn(planner, r);
    const workerOn = (r: IConstruct) => actionsOn(worker, r);

    // Assess
    expect(plannerOn(t.registry)).toEqual(expect.arrayContaining(reads));
    expect(plannerOn(t.registry)).not.toContain('dynamodb:PutItem');
    expect(plannerOn(t.rollups)).toEqual(expect.arrayContaining([...reads, ...writes]));
    expect(plannerOn(t.audit)).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:BatchWriteItem']));
    expect(plannerOn(t.audit)).not.toContain('dynamodb:Query');
    expect(plannerOn(queue)).toContain('sqs:SendMessage');
    expect(plannerOn(queue)).not.toContain('sqs:ReceiveMessage');
    for (const table of [t.events, t.usage, t.ledger, t.quarantine]) expect(plannerOn(table)).toEqual([]);

    expect(workerOn(t.events)).toEqual(expect.arrayContaining(reads));
    expect(workerOn(t.registry)).toEqual(expect.arrayContaining(reads));
    expect(workerOn(t.events)).not.toContain('dynamodb:PutItem');
    // The worker also runs privacy exports: it writes their requests (pk PR# of the Registry) and nothing else there,
    // reads the quarantine, and queries the audit for the requests' own entries.
    const registryWrites = (policyStatementsOf(worker) as { Action: string | string[]; Resource: unknown; Condition?: unknown }[]).filter(
      (st) => [st.Action].flat().includes('dynamodb:PutItem') && JSON.stringify(st.Resource).includes(`"${idOf(t.registry)}"`),
    );
    // A customer's erasure adds the customer's own partitions (profile, keys, the erased mark), and in the
    // Pseudonyms table its secret, refs and tombstones.
    expect(registryWrites.map((st) => st.Condition)).toEqual([
      { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['PR#*'] } },
      { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['CUS#*', 'KEY#*', 'CX#*', 'PR#*'] } },
    ]);
    expect(plannerOn(t.pseudonyms)).toEqual([]);
    for (const table of [t.rollups, t.ledger]) expect(workerOn(table)).toEqual(expect.arrayContaining([...reads, ...writes]));
    expect(workerOn(t.audit)).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:BatchWriteItem', 'dynamodb:Query']));
    expect(workerOn(t.audit)).not.toContain('dynamodb:UpdateItem');
    // An erasure removes the customer's quarantined events (with the depth counters) and its part of the fragments.
    expect(workerOn(t.quarantine)).toEqual(expect.arrayContaining([...reads, 'dynamodb:DeleteItem', 'dynamodb:UpdateItem']));
    expect(workerOn(queue)).toEqual(expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']));
    expect(workerOn(queue)).not.toContain('sqs:SendMessage');
    expect([...new Set(workerOn(t.usage))].sort()).toEqual(['dynamodb:BatchWriteItem', 'dynamodb:Query', 'dynamodb:UpdateItem']);
    for (const fn of [planner, worker]) expect(actionsOn(fn, dlq)).toEqual([]);
  });

  it('keeps the Ledger and Rollups tables under point-in-time recovery, retained with the stack', () => {
    // Act
    const [ledger, rollups] = [stack.tables.tables.ledger, stack.tables.tables.rollups].map((t) => resources[idOf(t)]);

    // Assess
    for (const table of [ledger, rollups]) {
      expect(table).toMatchObject({
        Type: 'AWS::DynamoDB::Table',
        DeletionPolicy: 'Retain',
        Properties: { PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } },
      });
    }
  });

  it('imports the Stripe secret by name when the stripeSecretName context is set', () => {
    // Prepare
    // Only the secret wiring is under test here, so skip bundling the handlers again.
    const other = new App({
      context: { ...context, stripeSecretName: 'billing/stripe-live', 'aws:cdk:bundling-stacks': [] },
      stackTraces: false,
    });
    const imported = new MeteringStack(other, 'Imported');

    // Act
    const json = Template.fromStack(imported).toJSON();
    const secrets = Object.values(json.Resources as Record<string, Resource>).filter((r) => r.Type === 'AWS::SecretsManager::Secret');
    const workerEnv =
      json.Resources[imported.getLogicalId(imported.close.worker.node.defaultChild as CfnElement)].Properties.Environment.Variables;

    // Assess
    // Only the webhook signing secret is created; the key's secret is imported.
    expect(secrets.map((r) => r.Properties.Name)).toEqual([STRIPE_WEBHOOK_SECRET.name]);
    expect(JSON.stringify(workerEnv[STRIPE_SECRET.env])).toContain(':secret:billing/stripe-live');
  });

  it('lets only the api function read the Stripe webhook signing secret, handing it the ARN as STRIPE_WEBHOOK_SECRET_ARN', () => {
    const secretId = Object.entries(resources).find(
      ([, r]) => r.Type === 'AWS::SecretsManager::Secret' && r.Properties.Name === STRIPE_WEBHOOK_SECRET.name,
    )![0];
    const canRead = (fn: { role?: IConstruct }) =>
      policyStatementsOf(fn).some(
        (s) =>
          [s.Action].flat().includes('secretsmanager:GetSecretValue') &&
          [s.Resource].flat().some((r) => JSON.stringify(r) === JSON.stringify({ Ref: secretId })),
      );
    expect(resources[secretId]).toMatchObject({ DeletionPolicy: 'Retain' });
    expect(canRead(stack.http.api)).toBe(true);
    for (const fn of [stack.close.worker, stack.close.planner, stack.pipeline.consume, stack.http.ingest]) expect(canRead(fn)).toBe(false);
    expect(resources[idOf(stack.http.api)]?.Properties.Environment.Variables).toMatchObject({
      [STRIPE_WEBHOOK_SECRET.env]: { Ref: secretId },
    });
  });

  it('gives every function the same hold policy: high by default, the holdSeverities context when set, a bad one failing the synth', () => {
    // Prepare
    const functions = [stack.pipeline.consume, stack.http.ingest, stack.http.api, stack.close.planner, stack.close.worker];
    const policyOf = (s: MeteringStack, json: { Resources: Record<string, Resource> }, fn: IConstruct) =>
      json.Resources[s.getLogicalId(fn.node.defaultChild as CfnElement)]!.Properties.Environment.Variables.HOLD_SEVERITIES;
    const withContext = (holdSeverities: string) =>
      new MeteringStack(new App({ context: { ...context, holdSeverities, 'aws:cdk:bundling-stacks': [] }, stackTraces: false }), 'Policy');

    // Act
    const defaults = functions.map((fn) => policyOf(stack, template.toJSON() as { Resources: Record<string, Resource> }, fn));
    const wider = withContext('medium, high');
    const widerPolicies = [wider.pipeline.consume, wider.http.api, wider.close.worker].map((fn) =>
      policyOf(wider, Template.fromStack(wider).toJSON() as { Resources: Record<string, Resource> }, fn),
    );

    // Assess
    expect(defaults).toEqual(['high', 'high', 'high', 'high', 'high']);
    expect(widerPolicies).toEqual(['medium,high', 'medium,high', 'medium,high']);
    expect(() => withContext('severe')).toThrow(/HOLD_SEVERITIES must list low, medium or high, got severe/);
  });

  it("tells every function the Stripe account's invoice grace period: 1 hour by default, the invoiceGraceHours context when set, at most 72", () => {
    // Prepare
    const graceOf = (s: MeteringStack, json: { Resources: Record<string, Resource> }, fn: IConstruct) =>
      json.Resources[s.getLogicalId(fn.node.defaultChild as CfnElement)]!.Properties.Environment.Variables.STRIPE_INVOICE_GRACE_HOURS;
    const withGrace = (invoiceGraceHours: number) =>
      new MeteringStack(
        new App({ context: { ...context, invoiceGraceHours, 'aws:cdk:bundling-stacks': [] }, stackTraces: false }),
        'Grace',
      );

    // Act
    const byDefault = [stack.close.worker, stack.http.api].map((fn) =>
      graceOf(stack, template.toJSON() as { Resources: Record<string, Resource> }, fn),
    );
    const longest = withGrace(72);

    // Assess
    expect(byDefault).toEqual(['1', '1']);
    expect(graceOf(longest, Template.fromStack(longest).toJSON() as { Resources: Record<string, Resource> }, longest.close.worker)).toBe(
      '72',
    );
    expect(() => withGrace(96)).toThrow(/invoiceGraceHours must be .* 1-72 hours, got 96/);
    // A grace shorter than the 00:30 close plus one SQS retry is warned about at synth.
    const warnings = (s: MeteringStack) => Annotations.fromStack(s).findWarning('*', Match.stringLikeRegexp('invoice grace')).length;
    expect([warnings(stack), warnings(longest)]).toEqual([1, 0]);
  });

  it('publishes new fraud flags to an encrypted SNS topic that only the close worker may publish to', () => {
    // Act
    const topics = byType('AWS::SNS::Topic');
    const env = resources[idOf(stack.close.worker)]!.Properties.Environment.Variables;
    const publishers = byType('AWS::IAM::Policy').filter((p) =>
      p.Properties.PolicyDocument.Statement.some((st: { Action: string | string[] }) => [st.Action].flat().includes('sns:Publish')),
    );
    // Assess
    // FraudFlags, and the operators' OpsAlarms (test/infra/ops-alarms.test.ts): both encrypted.
    expect(topics).toHaveLength(2);
    for (const t of topics) expect(t.Properties.KmsMasterKeyId).toBeDefined();
    expect(env.FLAG_TOPIC_ARN).toEqual({ Ref: idOf(stack.close.flagTopic) });
    expect(publishers.flatMap((p) => p.Properties.Roles.map((r: { Ref: string }) => r.Ref))).toEqual([idOf(stack.close.worker.role!)]);
  });
});
