import { readFileSync } from 'node:fs';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { HANDLERS, handlerConstructId, TABLES } from '../../functions/resources.js';
import { METRIC, METRICS_NAMESPACE } from '../../functions/runtime/metric-names.js';
import { OPS_THRESHOLDS } from '../../lib/constructs/ops-alarms.js';
import { MeteringStack } from '../../lib/metering-stack.js';

type Props = Record<string, unknown>;
type Resource = { Type: string; Properties: Props };
type Alarm = Props & {
  Threshold: number;
  ComparisonOperator: string;
  AlarmActions: unknown[];
  InsufficientDataActions?: unknown[];
  MetricName?: string;
  Namespace?: string;
  Dimensions?: { Name: string; Value: unknown }[];
  Metrics?: {
    Id: string;
    Expression?: string;
    MetricStat?: { Metric: { MetricName: string; Namespace: string; Dimensions?: { Name: string; Value: unknown }[] } };
  }[];
  TreatMissingData: string;
  EvaluationPeriods: number;
};

const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context;

let app: App;
let stack: MeteringStack;
let resources: Record<string, Resource>;
const idOf = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as CfnElement);
const alarms = () =>
  Object.values(resources)
    .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
    .map((r) => r.Properties as Alarm);
const topicRef = () => ({ Ref: idOf(stack.ops.topic) });
/** The alarms on a metric (a plain metric, or one inside a math expression) with these dimension values. */
const alarmsOn = (metricName: string, dimension: unknown) =>
  alarms().filter((a) => {
    const plain = a.MetricName === metricName && JSON.stringify(a.Dimensions ?? []).includes(JSON.stringify(dimension));
    const inMath = (a.Metrics ?? []).some(
      (m) =>
        m.MetricStat?.Metric.MetricName === metricName &&
        JSON.stringify(m.MetricStat.Metric.Dimensions ?? []).includes(JSON.stringify(dimension)),
    );
    return plain || inMath;
  });
/** The one alarm on a metric, which must notify the OpsAlarms topic. */
const oneAlarm = (metricName: string, dimension: unknown): Alarm => {
  const found = alarmsOn(metricName, dimension);
  expect(found, `${metricName} ${JSON.stringify(dimension)}`).toHaveLength(1);
  expect(found[0]!.AlarmActions).toEqual([topicRef()]);
  return found[0]!;
};

beforeAll(() => {
  app = new App({ context: { ...context, 'aws:cdk:bundling-stacks': [] }, stackTraces: false });
  stack = new MeteringStack(app, 'OpsTest');
  resources = Template.fromStack(stack).toJSON().Resources;
});

describe('the operators alarms', () => {
  it('publishes to an OpsAlarms topic encrypted with a rotated key CloudWatch may use, over TLS only', () => {
    // Act
    const topic = resources[idOf(stack.ops.topic)]!;
    const keyId = (topic.Properties.KmsMasterKeyId as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const key = resources[keyId]!;
    const statements = (key.Properties.KeyPolicy as { Statement: { Principal?: { Service?: string }; Action: string | string[] }[] })
      .Statement;
    // Assess
    expect(topic.Type).toBe('AWS::SNS::Topic');
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(statements.filter((s) => s.Principal?.Service === 'cloudwatch.amazonaws.com').flatMap((s) => [s.Action].flat())).toEqual(
      expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey*']),
    );
    expect(JSON.stringify(Object.values(resources).filter((r) => r.Type === 'AWS::SNS::TopicPolicy'))).toContain('aws:SecureTransport');
  });

  it('alarms when either dead-letter queue (and the planner failures queue) holds a message', () => {
    for (const q of [stack.pipeline.dlq, stack.close.dlq, stack.close.plannerDlq]) {
      const a = oneAlarm('ApproximateNumberOfMessagesVisible', { Name: 'QueueName', Value: { 'Fn::GetAtt': [idOf(q), 'QueueName'] } });
      expect(a).toMatchObject({ Threshold: OPS_THRESHOLDS.dlqMessages, ComparisonOperator: 'GreaterThanThreshold', Statistic: 'Maximum' });
    }
    expect(OPS_THRESHOLDS.dlqMessages).toBe(0);
  });

  it('alarms when the oldest UsageEvents message is 15 minutes old', () => {
    const a = oneAlarm('ApproximateAgeOfOldestMessage', {
      Name: 'QueueName',
      Value: { 'Fn::GetAtt': [idOf(stack.pipeline.queue), 'QueueName'] },
    });
    expect(a).toMatchObject({ Threshold: 900, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
  });

  it('alarms on errors and on throttles of every function', () => {
    const fns = {
      ingest: stack.http.ingest,
      consume: stack.pipeline.consume,
      api: stack.http.api,
      'close-planner': stack.close.planner,
      'close-worker': stack.close.worker,
    };
    expect(Object.keys(fns).sort()).toEqual([...HANDLERS].sort());
    for (const [name, fn] of Object.entries(fns)) {
      const dimension = { Name: 'FunctionName', Value: { Ref: idOf(fn) } };
      for (const metric of ['Errors', 'Throttles']) {
        const a = oneAlarm(metric, dimension);
        expect(a, `${handlerConstructId(name as (typeof HANDLERS)[number])} ${metric}`).toMatchObject({
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
          Statistic: 'Sum',
          Period: 300,
        });
      }
    }
  });

  it('alarms on DynamoDB throttled reads and writes of each table', () => {
    const tables = Object.keys(TABLES) as (keyof typeof TABLES)[];
    expect(tables.length).toBeGreaterThanOrEqual(9);
    for (const name of tables) {
      const dimension = { Name: 'TableName', Value: { Ref: idOf(stack.tables.tables[name]) } };
      const reads = oneAlarm('ReadThrottleEvents', dimension);
      expect(alarmsOn('WriteThrottleEvents', dimension)).toEqual([reads]);
      expect(reads).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
      expect(reads.Metrics?.find((m) => m.Expression)?.Expression).toBe('FILL(r, 0) + FILL(w, 0)');
    }
  });

  it('alarms on the 5xx rate of both HTTP APIs, over 1% of requests', () => {
    for (const api of [stack.http.httpApi, stack.console.consoleApi.httpApi]) {
      const dimension = { Name: 'ApiId', Value: { Ref: stack.getLogicalId(api.node.defaultChild as CfnElement) } };
      const a = oneAlarm('5xx', dimension);
      expect(alarmsOn('Count', dimension)).toEqual([a]);
      expect(a).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanThreshold' });
      expect(a.Metrics?.find((m) => m.Expression)?.Expression).toBe('IF(FILL(c, 0) > 0, 100 * FILL(e, 0) / c, 0)');
    }
  });

  it('alarms when the 03:00 UTC check finds the night not closed, or no check ran for 26 hours', () => {
    // Act
    const a = oneAlarm(METRIC.nightClosed, { Name: 'service', Value: 'close-planner' });
    const rule = resources[idOf(stack.ops.nightCheck)]!;
    // Assess
    expect(a).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      Statistic: 'Minimum',
      Period: 3600,
      EvaluationPeriods: 26,
      DatapointsToAlarm: 1,
      TreatMissingData: 'missing',
    });
    expect(a.InsufficientDataActions).toEqual([topicRef()]);
    expect(rule.Properties).toMatchObject({ ScheduleExpression: 'cron(0 3 * * ? *)', State: 'ENABLED' });
    expect(rule.Properties.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [idOf(stack.close.planner), 'Arn'] },
        Input: JSON.stringify({ check: 'night-closed' }),
      }),
    ]);
  });

  it('alarms on ledger records pending over 12 hours and on holds near escalation, as the close worker counts them', () => {
    for (const metric of [METRIC.ledgerPendingOver12h, METRIC.holdsNearEscalation]) {
      const a = oneAlarm(metric, { Name: 'service', Value: 'close-worker' });
      expect(a).toMatchObject({
        Namespace: METRICS_NAMESPACE,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        Statistic: 'Maximum',
      });
      // The close counts once a night: the last count stands until the next.
      expect(a.TreatMissingData).toBe('ignore');
    }
  });

  it('sends every alarm to the OpsAlarms topic and lists them all on the dashboard', () => {
    // Act
    const all = alarms();
    const dashboards = Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboards[0]?.Properties.DashboardBody);
    // Assess: 3 DLQs + age + 5 functions x 2 + tables + 2 APIs + night + pending + holds
    expect(all).toHaveLength(3 + 1 + HANDLERS.length * 2 + Object.keys(TABLES).length + 2 + 3);
    for (const a of all) expect(a.AlarmActions).toEqual([topicRef()]);
    expect(dashboards).toHaveLength(1);
    for (const alarm of stack.ops.alarms) expect(body).toContain(idOf(alarm));
    for (const name of [METRIC.eventsAccepted, METRIC.eventsCounted, METRIC.stripeCallsRateLimited, METRIC.closeRecordsSent])
      expect(body).toContain(name);
  });

  it('keeps the source address out of both access logs, and the request id in', () => {
    const stages = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Stage');
    expect(stages).toHaveLength(2);
    for (const s of stages) {
      const format = (s.Properties.AccessLogSettings as { Format: string }).Format;
      expect(JSON.parse(format)).toMatchObject({ requestId: '$context.requestId' });
      expect(format).not.toMatch(/sourceIp|\$context\.identity/);
    }
  });

  it('traces every function with X-Ray, and grants nothing else on every resource (*)', () => {
    // Act
    const fns = Object.values(resources).filter(
      (r) => r.Type === 'AWS::Lambda::Function' && (r.Properties.Environment as { Variables?: Props })?.Variables?.METER_FUNCTION,
    );
    const roles = new Set(fns.map((fn) => (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]));
    const onAny = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && (r.Properties.Roles as { Ref: string }[]).some((role) => roles.has(role.Ref)))
      .flatMap((p) => (p.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement)
      .filter((st) => [st.Resource].flat().includes('*'))
      .flatMap((st) => [st.Action].flat());
    // Assess
    expect(fns).toHaveLength(5);
    for (const fn of fns) expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
    expect([...new Set(onAny)].sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  });

  it('passes the AWS Solutions checks', () => {
    // Act
    const report = new AwsSolutionsChecks().validateScope(app);
    const mine = report.violations.flatMap((v) =>
      v.violatingResources
        .filter((r) => (r.constructPath ?? '').startsWith(`${stack.ops.node.path}/`))
        .map((r) => `${v.ruleName} ${r.constructPath}`),
    );
    // Assess
    expect(mine).toEqual([]);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });
});
