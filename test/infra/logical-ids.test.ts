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
    'TablesQuarantineFBED62D1',
    'TablesRegistry55D7706D',
    'TablesRollupsBE40FD10',
    'TablesUsageA60E9525',
  ],
  'AWS::SQS::Queue': [
    'CloseCloseWork3CB34E3E',
    'CloseCloseWorkDlq670E9153',
    'ClosePlannerFailures9B120EE1',
    'PipelineUsageEventsD6EEF91E',
    'PipelineUsageEventsDlqD23D43B1',
  ],
  'AWS::SecretsManager::Secret': ['CloseStripeSecretC88C1F68'],
  'AWS::SNS::Topic': ['CloseFraudFlagsC27FEB78'],
  'AWS::ApiGatewayV2::Api': ['HttpApi4E1D4184'],
  'AWS::ApiGatewayV2::Stage': ['HttpDefaultStageE6653C08'],
};

describe('logical ids of stateful and addressed resources', () => {
  const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context;
  const template = Template.fromStack(new MeteringStack(new App({ context, stackTraces: false }), 'SerenityMetering')).toJSON() as {
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
