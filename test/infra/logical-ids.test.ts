import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { MeteringStack } from '../../lib/metering-stack.js';

/**
 * The logical ids of every resource that holds data or that callers address. CloudFormation replaces a
 * resource whose logical id changes: a table would be created empty beside an orphaned one, a queue would
 * lose its messages, the API its URL. So these are pinned, as deployed; a rename must keep them (or be a
 * deliberate migration). Function ids may change: a function holds nothing.
 */
const PINNED: Record<string, string[]> = {
  'AWS::DynamoDB::Table': [
    'TablesAuditCEFF9E0F',
    'TablesEventsE8DD42EA',
    'TablesFlagsDE7FCA03',
    'TablesLedgerF9806C8B',
    'TablesPseudonymsE05BAA7F',
    'TablesQuarantineFBED62D1',
    'TablesRegistry55D7706D',
    'TablesRollupsBE40FD10',
    'TablesUsageA60E9525',
  ],
  // The Pseudonyms table's key: a new key could not decrypt the table's data.
  'AWS::KMS::Key': ['MonitoringOpsAlarmsKeyFA4EB6E7', 'TablesPseudonymsKey6606DC76'],
  'AWS::SQS::Queue': [
    'CloseCloseWork3CB34E3E',
    'CloseCloseWorkDlq670E9153',
    'ClosePlannerFailures9B120EE1',
    'PipelineUsageEventsD6EEF91E',
    'PipelineUsageEventsDlqD23D43B1',
  ],
  'AWS::SecretsManager::Secret': ['CloseStripeSecretC88C1F68', 'HttpStripeWebhookSecret447354FB'],
  // OpsAlarms: operators subscribe to it, and an alarm notification is only as good as its subscriptions.
  'AWS::SNS::Topic': ['CloseFraudFlagsC27FEB78', 'MonitoringOpsAlarmsD27BCFF7'],
  'AWS::ApiGatewayV2::Api': ['ConsoleApiConsoleApiF43F49E7', 'HttpApi4E1D4184'],
  'AWS::ApiGatewayV2::Stage': ['ConsoleApiDefaultStage69305808', 'HttpDefaultStageE6653C08'],
  // The console's users (a new pool has none), its files and logs, and its URL (the app client's callback).
  'AWS::Cognito::UserPool': ['ConsoleUsersPool011395A4'],
  'AWS::Cognito::UserPoolClient': ['ConsoleUsersPoolConsoleClientDBF9D4C5'],
  'AWS::S3::Bucket': ['ConsoleAccessLogs1A46EB79', 'ConsoleSite26539DB4'],
  'AWS::CloudFront::Distribution': ['ConsoleDistribution022D3262'],
};

describe('logical ids of stateful and addressed resources', () => {
  const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context;
  // Logical ids do not depend on the bundles, so the handlers' esbuild and the console's vite build are skipped.
  const app = new App({ context: { ...context, 'aws:cdk:bundling-stacks': [] }, stackTraces: false });
  const template = Template.fromStack(new MeteringStack(app, 'SerenityMetering')).toJSON() as {
    Resources: Record<string, { Type: string }>;
  };

  it.each(Object.entries(PINNED))('%s keeps its logical ids', (type, ids) => {
    // Act
    const actual = Object.entries(template.Resources)
      .filter(([, r]) => r.Type === type)
      .map(([id]) => id)
      .sort();
    // Assess
    expect(actual).toEqual(ids);
  });
});
