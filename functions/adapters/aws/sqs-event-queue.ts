import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { ValidationError } from '../../../contract/errors.js';
import { MAX_MESSAGE_BYTES } from '../../../contract/queue-message.js';
import type { DeadLetters, EventQueue } from '../../core/shared/ports.js';

const MAX_ENTRIES = 10;

/** Whether an SQS call's failure may pass: the service's fault, throttling, or the network (no fault recorded). */
function retryableSqsError(err: unknown): boolean {
  const e = err as { $fault?: string; name?: string; $retryable?: unknown };
  return e.$fault !== 'client' || e.$retryable !== undefined || /Throttl|RequestThrottled|OverLimit|KmsThrottled/i.test(e.name ?? '');
}
const MAX_ROUNDS = 5;

/** SQS implementation of the EventQueue port: SendMessageBatch, at most 10 entries and 256 KiB per call. */
export class SqsEventQueue implements EventQueue, DeadLetters {
  /** SendMessageBatch calls made, for benchmarks and tests. */
  calls = 0;

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly dlqUrl?: string,
  ) {}

  async send(bodies: readonly string[]): Promise<{ failed: number[] }> {
    // The whole plan is checked before anything is sent: a body SQS must refuse would otherwise fail
    // after other batches were enqueued, and a resend would duplicate events whose ids the server made.
    const tooLarge = bodies.flatMap((b, i) => (Buffer.byteLength(b) > MAX_MESSAGE_BYTES ? [i] : []));
    if (tooLarge.length > 0) {
      throw new ValidationError(
        tooLarge.map((i) => ({ field: `messages[${i}]`, message: `is over SQS's ${MAX_MESSAGE_BYTES}-byte message limit` })),
        { messages: bodies.length },
      );
    }
    const batches: number[][] = [];
    let cur: number[] = [];
    let bytes = 0;
    bodies.forEach((b, i) => {
      const size = Buffer.byteLength(b);
      if (cur.length === MAX_ENTRIES || (cur.length > 0 && bytes + size > MAX_MESSAGE_BYTES)) {
        batches.push(cur);
        cur = [];
        bytes = 0;
      }
      cur.push(i);
      bytes += size;
    });
    if (cur.length) batches.push(cur);

    const failed: number[] = [];
    await Promise.all(
      batches.map(async (batch) => {
        let pending = batch;
        for (let round = 0; pending.length > 0 && round < MAX_ROUNDS; round++) {
          if (round > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** round * (0.5 + Math.random())));
          try {
            this.calls++;
            const out = await this.sqs.send(
              new SendMessageBatchCommand({
                QueueUrl: this.queueUrl,
                Entries: pending.map((i) => ({ Id: String(i), MessageBody: bodies[i]! })),
              }),
            );
            // Entries SQS blames on the sender will fail the same way again; the rest are retried.
            const retry: number[] = [];
            for (const f of out.Failed ?? []) (f.SenderFault ? failed : retry).push(Number(f.Id));
            pending = retry;
          } catch (err) {
            // Network or throttling failure: the whole call is retried; after the last round the
            // entries are reported as failed so the caller can tell its client exactly which to resend.
            // A refusal that trying again cannot change (access denied, no such queue) is raised at once.
            if (!retryableSqsError(err)) throw err;
          }
        }
        failed.push(...pending);
      }),
    );
    return { failed: failed.sort((a, b) => a - b) };
  }

  async depth(): Promise<{ queue: number; inFlight: number; dlq: number }> {
    const attrs = async (url: string) =>
      (
        await this.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: url,
            AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
          }),
        )
      ).Attributes ?? {};
    const [q, d] = await Promise.all([
      attrs(this.queueUrl),
      this.dlqUrl ? attrs(this.dlqUrl) : Promise.resolve({} as Record<string, string>),
    ]);
    return {
      queue: Number(q.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(q.ApproximateNumberOfMessagesNotVisible ?? 0),
      dlq: Number(d.ApproximateNumberOfMessages ?? 0),
    };
  }

  /**
   * Moves dead-lettered messages back, ten at a time: each is sent to the event queue first and deleted from
   * the DLQ only once SQS accepted it, so a failure half-way duplicates (the consumer dedupes) and never loses.
   * Ends when a receive finds the DLQ empty; messages that could not be moved stay there and are an error.
   */
  async redrive(): Promise<{ moved: number }> {
    if (!this.dlqUrl) throw new Error('no dead-letter queue configured');
    let moved = 0;
    for (;;) {
      const r = await this.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: this.dlqUrl, MaxNumberOfMessages: MAX_ENTRIES, VisibilityTimeout: 60 }),
      );
      const msgs = r.Messages ?? [];
      if (msgs.length === 0) return { moved };
      const sent = await this.sqs.send(
        new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: msgs.map((m, i) => ({ Id: String(i), MessageBody: m.Body! })) }),
      );
      const ok = new Set((sent.Successful ?? []).map((x) => Number(x.Id)));
      const done = msgs.filter((_, i) => ok.has(i));
      if (done.length > 0)
        await this.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.dlqUrl,
            Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
          }),
        );
      moved += done.length;
      if (done.length < msgs.length)
        throw new Error(`moved ${moved}; ${msgs.length - done.length} messages could not be moved and stay in the DLQ`);
    }
  }
}
