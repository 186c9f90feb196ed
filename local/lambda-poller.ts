import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { EVENT_QUEUE } from '../functions/resources.js';

export type SqsHandler = (event: SQSEvent) => Promise<SQSBatchResponse | undefined>;

export interface PollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  handler: SqsHandler;
  /** Parallel pollers, like concurrent Lambda instances. */
  concurrency?: number;
  batchSize?: number;
  /** Visibility timeout asked for on each receive; a failed record reappears after it. */
  visibilityTimeoutSeconds?: number;
  queueArn?: string;
  onError?: (err: unknown) => void;
}

export interface Poller {
  /** Resolves once the queue has no visible or in-flight messages. */
  drain(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
  readonly invocations: number;
}

/**
 * Emulates Lambda's SQS event source mapping: long-polls in batches, invokes the handler with real
 * SQS event shapes, deletes the records that succeeded, and leaves failed ones (reported through
 * batchItemFailures, or all of them when the handler throws) to reappear after the visibility
 * timeout, so the queue's redrive policy moves them to the DLQ after maxReceiveCount receives.
 */
export function startPoller(o: PollerOptions): Poller {
  let running = true;
  let invocations = 0;
  const batchSize = o.batchSize ?? EVENT_QUEUE.batchSize;
  const arn = o.queueArn ?? `arn:aws:sqs:us-east-1:123456789012:${o.queueUrl.split('/').pop()}`;

  const loop = async () => {
    while (running) {
      let messages: Message[] = [];
      try {
        const out = await o.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: o.queueUrl,
            MaxNumberOfMessages: batchSize,
            // Short polls: local-aws-sqs starts the visibility clock when it picks a message, not when it returns it.
            WaitTimeSeconds: 0,
            VisibilityTimeout: o.visibilityTimeoutSeconds,
            AttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          } as ConstructorParameters<typeof ReceiveMessageCommand>[0]),
        );
        messages = out.Messages ?? [];
      } catch (err) {
        if (running) o.onError?.(err);
        await sleep(200);
        continue;
      }
      if (messages.length === 0) {
        await sleep(50);
        continue;
      }
      const event: SQSEvent = { Records: messages.map((m) => toRecord(m, arn)) };
      let failedIds: Set<string>;
      try {
        invocations++;
        const res = await o.handler(event);
        failedIds = new Set((res?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
      } catch (err) {
        o.onError?.(err);
        failedIds = new Set(messages.map((m) => m.MessageId!));
      }
      const done = messages.filter((m) => !failedIds.has(m.MessageId!));
      if (done.length > 0) {
        await o.sqs
          .send(
            new DeleteMessageBatchCommand({
              QueueUrl: o.queueUrl,
              Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
            }),
          )
          .catch((err) => o.onError?.(err));
      }
    }
  };
  const loops = Array.from({ length: o.concurrency ?? 2 }, loop);

  return {
    get invocations() {
      return invocations;
    },
    async drain(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const a = (
          await o.sqs.send(
            new GetQueueAttributesCommand({
              QueueUrl: o.queueUrl,
              AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
            }),
          )
        ).Attributes!;
        if (Number(a.ApproximateNumberOfMessages) === 0 && Number(a.ApproximateNumberOfMessagesNotVisible) === 0) return;
        if (Date.now() > deadline) throw new Error(`queue not drained after ${timeoutMs} ms: ${JSON.stringify(a)}`);
        await sleep(100);
      }
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** An SQS message as the Lambda event source hands it to a handler; tests that receive messages themselves use it too. */
export function toRecord(m: Message, arn = 'arn'): SQSRecord {
  const a = m.Attributes ?? {};
  return {
    messageId: m.MessageId!,
    receiptHandle: m.ReceiptHandle!,
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: arn,
    awsRegion: 'us-east-1',
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
