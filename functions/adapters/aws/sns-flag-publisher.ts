import { PublishBatchCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Flag } from '../../core/fraud/types.js';
import type { FlagPublisher } from '../../core/shared/ports.js';

/** SNS implementation of the FlagPublisher port: one message per new flag, without its evidence series. */
export class SnsFlagPublisher implements FlagPublisher {
  constructor(
    private readonly sns: SNSClient,
    private readonly topicArn: string,
  ) {}

  async publish(flags: readonly Flag[]): Promise<void> {
    for (let i = 0; i < flags.length; i += 10) {
      const batch = flags.slice(i, i + 10);
      const out = await this.sns.send(
        new PublishBatchCommand({
          TopicArn: this.topicArn,
          PublishBatchRequestEntries: batch.map((f, j) => ({
            Id: String(j),
            Subject: `Fraud flag: ${f.rule} (${f.severity}) for ${f.customerId}`.slice(0, 100),
            Message: JSON.stringify({
              id: f.id,
              customerId: f.customerId,
              rule: f.rule,
              meter: f.meter,
              severity: f.severity,
              score: f.score,
              window: f.window,
              summary: f.evidence.summary,
            }),
            MessageAttributes: {
              severity: { DataType: 'String', StringValue: f.severity },
              rule: { DataType: 'String', StringValue: f.rule },
            },
          })),
        }),
      );
      if (out.Failed?.length)
        throw new Error(`SNS refused ${out.Failed.length} flag notifications: ${out.Failed.map((x) => x.Code).join(', ')}`);
    }
  }
}
