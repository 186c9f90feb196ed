import { PublishBatchCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { SnsFlagPublisher } from '../../../../functions/adapters/aws/sns-flag-publisher.js';
import { openFlag } from '../../../../functions/core/fraud/merge-flags.js';

const flag = (i: number) =>
  openFlag(
    {
      customerId: `c${i}`,
      rule: 'leaked_key',
      meter: 'api_calls',
      window: { from: '2026-03-09T10:00:00.000Z', to: '2026-03-09T11:00:00.000Z' },
      score: 0.9,
      severity: 'high',
      evidence: { summary: '9 countries in one hour', observed: 9, expected: 1, signals: {}, series: [] },
    },
    '2026-03-10T00:30:00.000Z',
  );

describe('SnsFlagPublisher', () => {
  it('publishes each new flag once, ten to a batch, without evidence series', async () => {
    // Prepare
    const sns = mockClient(SNSClient);
    sns.on(PublishBatchCommand).resolves({ Successful: [], Failed: [] });
    // Act
    await new SnsFlagPublisher(new SNSClient({ region: 'eu-west-1' }), 'arn:aws:sns:eu-west-1:1:FraudFlags').publish(
      Array.from({ length: 12 }, (_, i) => flag(i)),
    );
    // Assess
    const calls = sns.commandCalls(PublishBatchCommand);
    expect(calls.map((c) => c.args[0].input.PublishBatchRequestEntries!.length)).toEqual([10, 2]);
    const message = JSON.parse(calls[0]!.args[0].input.PublishBatchRequestEntries![0]!.Message!);
    expect(message).toMatchObject({ customerId: 'c0', rule: 'leaked_key', severity: 'high', summary: '9 countries in one hour' });
    expect(message.series).toBeUndefined();
    sns.restore();
  });

  it('fails loudly when SNS refuses a notification', async () => {
    const sns = mockClient(SNSClient);
    sns.on(PublishBatchCommand).resolves({ Successful: [], Failed: [{ Id: '0', Code: 'KMSAccessDenied', SenderFault: false }] });
    await expect(new SnsFlagPublisher(new SNSClient({ region: 'eu-west-1' }), 'arn:t').publish([flag(0)])).rejects.toThrow(
      'KMSAccessDenied',
    );
    sns.restore();
  });
});
