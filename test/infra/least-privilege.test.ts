import { readFileSync } from 'node:fs';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { TABLES, type TableName } from '../../functions/resources.js';
import { MeteringStack } from '../../lib/metering-stack.js';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, unknown>> };
type Resource = { Type: string; Properties: Record<string, unknown> & { Roles?: { Ref: string }[] } };

// The same feature flags `cdk synth` uses; the IAM under test does not depend on the bundles, so skip them.
const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context;
const synth = (extra: Record<string, unknown> = {}) => {
  const app = new App({ context: { ...context, 'aws:cdk:bundling-stacks': [], ...extra }, stackTraces: false });
  const stack = new MeteringStack(app, 'LeastPrivilege');
  return { stack, resources: Template.fromStack(stack).toJSON().Resources as Record<string, Resource> };
};

let stack: MeteringStack;
let resources: Record<string, Resource>;
const idOf = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as CfnElement);
const functions = () => ({
  ingest: stack.http.ingest,
  consume: stack.pipeline.consume,
  api: stack.http.api,
  'close-planner': stack.close.planner,
  'close-worker': stack.close.worker,
});
const statementsOf = (fn: { role?: IConstruct }) =>
  Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles?.some((x) => x.Ref === idOf(fn.role!)))
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
/** Statements on a table itself (not its indexes). */
const onTable = (fn: { role?: IConstruct }, table: TableName) => {
  const arn = JSON.stringify({ 'Fn::GetAtt': [idOf(stack.tables.tables[table]), 'Arn'] });
  return statementsOf(fn).filter((s) => [s.Resource].flat().some((r) => JSON.stringify(r) === arn));
};
const actions = (sts: Statement[]) => [...new Set(sts.flatMap((s) => [s.Action].flat()))].sort();

beforeAll(() => {
  ({ stack, resources } = synth());
});

describe('least privilege', () => {
  it("keeps audit records append-only: no function may update or delete them; only the API (the console's search) and the close worker (a privacy export's audit) may query", () => {
    // Act
    const granted = Object.fromEntries(Object.entries(functions()).map(([name, fn]) => [name, actions(onTable(fn, 'audit'))]));

    // Assess
    for (const [name, acts] of Object.entries(granted)) {
      const expected = [
        'dynamodb:BatchWriteItem',
        'dynamodb:PutItem',
        ...(name === 'api' || name === 'close-worker' ? ['dynamodb:Query'] : []),
      ];
      expect({ name, acts }).toEqual({ name, acts: expected });
    }
  });

  it('lets the public API function write Registry customers and keys, privacy requests and user refs only, and delete only refs and request parts', () => {
    // Act
    const scopesOn = (table: TableName) =>
      onTable(stack.http.api, table)
        .filter((s) => [s.Action].flat().some((a) => /^dynamodb:(PutItem|UpdateItem|DeleteItem|BatchWriteItem|\*)$/.test(a)))
        .map((s) => ({ actions: [s.Action].flat().sort(), condition: s.Condition }));

    // Assess: customers and keys are written, never deleted (a revoked key stays, stamped); privacy requests (PR#)
    // are written and their stale parts deleted; an erasure puts a tombstone (UX#) and deletes a mapping (UT#).
    const leading = (keys: string[]) => ({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': keys } });
    expect(scopesOn('registry')).toEqual([
      { actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'], condition: leading(['CUS#*', 'KEY#*']) },
      { actions: ['dynamodb:DeleteItem', 'dynamodb:PutItem'], condition: leading(['PR#*']) },
    ]);
    expect(scopesOn('pseudonyms')).toEqual([
      { actions: ['dynamodb:DeleteItem', 'dynamodb:PutItem'], condition: leading(['UT#*', 'UX#*']) },
    ]);
  });

  it("keeps end users' pseudonyms in a table of their own under a rotated customer-managed key, usable only by the functions that tokenize or erase", () => {
    // Act
    const table = resources[idOf(stack.tables.tables.pseudonyms)]!.Properties as { SSESpecification: Record<string, unknown> };
    const keyId = idOf(stack.tables.tables.pseudonyms.encryptionKey!);
    const onKey = (fn: { role?: IConstruct }) =>
      actions(statementsOf(fn).filter((s) => JSON.stringify(s.Resource) === JSON.stringify({ 'Fn::GetAtt': [keyId, 'Arn'] })));
    const granted = Object.fromEntries(Object.entries(functions()).map(([name, fn]) => [name, onKey(fn)]));
    const others = (Object.keys(TABLES) as TableName[]).filter((t) => t !== 'pseudonyms');

    // Assess: the table is KMS-encrypted with the key, which rotates; no other table uses it.
    expect(table.SSESpecification).toEqual({ KMSMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] }, SSEEnabled: true, SSEType: 'KMS' });
    expect(resources[keyId]!.Properties.EnableKeyRotation).toBe(true);
    for (const t of others) expect(JSON.stringify(resources[idOf(stack.tables.tables[t])]!.Properties)).not.toContain(keyId);
    // Those that make refs or erase them encrypt too; the planner, which never reads a user, gets nothing.
    const writer = ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'];
    expect(granted).toEqual({ ingest: writer, consume: writer, api: writer, 'close-worker': writer, 'close-planner': [] });
    expect(actions(onTable(stack.close.planner, 'pseudonyms'))).toEqual([]);
  });

  it('lets the consumer write only the late-day marks of Rollups, with BatchWriteItem (defect 1)', () => {
    // Act
    const granted = onTable(stack.pipeline.consume, 'rollups');

    // Assess
    expect(granted).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: 'dynamodb:BatchWriteItem',
        Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['LATE'] } },
      }),
    ]);
  });

  it('grants the consumer only the writes consuming does, and reads of the Registry only', () => {
    // Act
    const granted = Object.fromEntries((Object.keys(TABLES) as TableName[]).map((t) => [t, actions(onTable(stack.pipeline.consume, t))]));

    // Assess
    expect(granted).toMatchObject({
      events: ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:PutItem'],
      usage: ['dynamodb:BatchWriteItem', 'dynamodb:PutItem'],
      quarantine: ['dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      ledger: [],
      flags: [],
    });
    const writesOf = (t: TableName) =>
      granted[t]!.filter(
        (a) => !/^dynamodb:(BatchGetItem|GetItem|Query|Scan|ConditionCheckItem|DescribeTable|GetRecords|GetShardIterator)$/.test(a),
      );
    expect(writesOf('registry')).toEqual([]);
    expect(writesOf('pseudonyms')).toEqual(['dynamodb:PutItem']);
    // The one write: a customer's pseudonym secret and its users' refs, each made once (functions/adapters/dynamodb/dynamodb-user-refs.ts).
    const puts = onTable(stack.pipeline.consume, 'pseudonyms').filter((st) => [st.Action].flat().includes('dynamodb:PutItem'));
    expect(puts.map((st) => st.Condition)).toEqual([{ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['PS#*', 'UT#*'] } }]);
  });

  it('lets no function delete usage, events, ledger records, customers, keys or audit records, but the close worker erasing a customer', () => {
    // Act: a Registry delete counts unless it is held to the privacy requests, a Pseudonyms delete unless it is held
    // to the user refs and tombstones (an erasure of one user).
    const heldTo = (st: Statement, allowed: string[]) =>
      ((st.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'] as string[] | undefined) ?? ['*']).every((k) =>
        allowed.includes(k),
      );
    const privacyOnly = (t: TableName, st: Statement) =>
      (t === 'registry' && heldTo(st, ['PR#*'])) || (t === 'pseudonyms' && heldTo(st, ['UT#*', 'UX#*']));
    const deletes = (st: Statement) => [st.Action].flat().some((a) => a === 'dynamodb:DeleteItem' || a === 'dynamodb:*');
    const deleters = Object.entries(functions()).flatMap(([name, fn]) =>
      (['events', 'usage', 'ledger', 'registry', 'pseudonyms', 'audit'] as TableName[])
        .filter((t) => onTable(fn, t).some((st) => deletes(st) && !privacyOnly(t, st)))
        .map((t) => `${name} on ${t}`),
    );
    const erasure = onTable(stack.close.worker, 'registry').filter(deletes);

    // Assess: the one exception is a customer's erasure (functions/core/privacy/erase-customer.ts), held to the
    // customer's own Registry partitions; its event deletes are batch writes, which the worker was not granted before.
    expect(deleters.sort()).toEqual(['close-worker on pseudonyms', 'close-worker on registry']);
    expect(erasure.map((st) => st.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'])).toEqual(
      expect.arrayContaining([['CUS#*', 'KEY#*', 'CX#*', 'PR#*']]),
    );
    expect(
      onTable(stack.close.worker, 'pseudonyms')
        .filter(deletes)
        .map((st) => st.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys']),
    ).toEqual([['PS#*', 'UT#*', 'UX#*']]);
    expect(actions(onTable(stack.close.worker, 'ledger'))).not.toContain('dynamodb:DeleteItem');
    expect(actions(onTable(stack.close.worker, 'audit'))).not.toContain('dynamodb:DeleteItem');
  });

  it('protects every billing table against deletion', () => {
    // Act
    const protectedTables = (Object.keys(TABLES) as TableName[]).filter(
      (t) => resources[idOf(stack.tables.tables[t])]?.Properties.DeletionProtectionEnabled === true,
    );

    // Assess
    expect(protectedTables.sort()).toEqual((Object.keys(TABLES) as TableName[]).sort());
  });
});

describe('the nightly close schedule', () => {
  it('sends a schedule event it could not deliver, and a planner run that failed, to a dead-letter queue', () => {
    // Prepare
    const rule = resources[idOf(stack.close.schedule)]!;
    const [target] = rule.Properties.Targets as { Arn: unknown; DeadLetterConfig?: { Arn: unknown }; RetryPolicy?: unknown }[];
    const invokeConfig = Object.values(resources).find(
      (r) =>
        r.Type === 'AWS::Lambda::EventInvokeConfig' &&
        JSON.stringify(r.Properties.FunctionName) === JSON.stringify({ Ref: idOf(stack.close.planner) }),
    );

    // Assess
    expect(target?.DeadLetterConfig).toBeDefined();
    expect(target?.RetryPolicy).toMatchObject({ MaximumRetryAttempts: expect.any(Number), MaximumEventAgeInSeconds: expect.any(Number) });
    expect(invokeConfig?.Properties).toMatchObject({
      DestinationConfig: { OnFailure: { Destination: target?.DeadLetterConfig?.Arn } },
      MaximumRetryAttempts: expect.any(Number),
    });
    const dlq = resources[(target!.DeadLetterConfig!.Arn as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0]];
    expect(dlq?.Type).toBe('AWS::SQS::Queue');
    expect(dlq?.Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 86_400 });
  });
});

describe('the HTTP API stage', () => {
  it('throttles at the rate and burst of the apiThrottleRate and apiThrottleBurst context', () => {
    // Act
    const stageOf = (r: Record<string, Resource>) => Object.values(r).find((x) => x.Type === 'AWS::ApiGatewayV2::Stage')!;
    const byDefault = stageOf(resources).Properties.DefaultRouteSettings;
    const custom = stageOf(synth({ apiThrottleRate: 20, apiThrottleBurst: 40 }).resources).Properties.DefaultRouteSettings;

    // Assess
    expect(byDefault).toEqual({ ThrottlingRateLimit: context.apiThrottleRate, ThrottlingBurstLimit: context.apiThrottleBurst });
    expect(custom).toEqual({ ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 });
    expect(() => synth({ apiThrottleRate: 0 })).toThrow(/apiThrottleRate must be .*, got 0/);
    expect(() => synth({ apiThrottleBurst: 2.5 })).toThrow(/apiThrottleBurst must be .*, got 2.5/);
  });
});
