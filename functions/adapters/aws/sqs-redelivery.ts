import { ChangeMessageVisibilityBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { MeteringError } from '../../../contract/errors.js';
import type { Log } from '../../core/shared/ports.js';
import { isRetryableDynamoError } from '../dynamodb/dynamodb-batch.js';

/** Whether a record's failure is one that waiting can cure: a retryable domain error, throttling, a 5xx. */
export function isTransientFailure(err: unknown): boolean {
  if (err instanceof MeteringError) return err.retryable;
  return isRetryableDynamoError(err) || /Throttl|SlowDown|TooManyRequests/i.test((err as { name?: string } | null)?.name ?? '');
}

/**
 * Hides failed records for longer before SQS hands them back (ChangeMessageVisibility, 10 per call). If SQS
 * refuses, the record still fails and comes back after the queue's own visibility timeout: earlier than
 * planned, nothing lost, and the refusal is logged.
 */
export async function delayRedelivery(
  sqs: SQSClient,
  queueUrl: string,
  records: readonly { messageId: string; receiptHandle: string; seconds: number }[],
  log: Log,
): Promise<void> {
  for (let i = 0; i < records.length; i += 10) {
    const chunk = records.slice(i, i + 10);
    try {
      const out = await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((r, j) => ({ Id: String(j), ReceiptHandle: r.receiptHandle, VisibilityTimeout: r.seconds })),
        }),
      );
      for (const f of out.Failed ?? [])
        log.warn('could not delay a failed record; it returns after the visibility timeout', {
          messageId: chunk[Number(f.Id)]?.messageId,
          code: f.Code,
        });
    } catch (err) {
      log.warn('could not delay failed records; they return after the visibility timeout', {
        messageIds: chunk.map((r) => r.messageId),
        error: err as Error,
      });
    }
  }
}
