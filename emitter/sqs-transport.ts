import type { SQSClient } from '@aws-sdk/client-sqs';
import { ulid } from 'ulid';
import type { Clock } from '../contract/clock.js';
import { type UsageEvent, validateEvent } from '../contract/event-contract.js';
import { packMessages } from '../contract/queue-message.js';
import { SqsEventQueue } from '../functions/adapters/aws/sqs-event-queue.js';
import type { Transport, TransportRejection } from './types.js';

/** Where and how to reach the events queue. */
export interface SqsTransportOptions {
  queueUrl: string;
  sqs: SQSClient;
  clock: Clock;
}

/**
 * Transport straight to the events queue: each event is normalised by the same validateEvent that
 * ingest runs, packed by packMessages and sent by SqsEventQueue. Events of a message SQS would not
 * take come back retryable; invalid ones (which the emitter never produces) non-retryable.
 * @example const transport = createSqsTransport({ queueUrl, sqs: new SQSClient({}), clock: systemClock });
 */
export function createSqsTransport(o: SqsTransportOptions): Transport {
  const queue = new SqsEventQueue(o.sqs, o.queueUrl);
  return {
    async send(events) {
      const now = o.clock.now();
      const valid: UsageEvent[] = [];
      const rejected: TransportRejection[] = [];
      for (const ce of events) {
        const v = validateEvent(ce, { now, newId: () => ulid(now) });
        if (v.ok) valid.push(v.event);
        else rejected.push({ id: ce.id, retryable: false, reason: `invalid:${v.errors[0]?.field || 'event'}`, errors: v.errors });
      }
      const packed = packMessages(valid);
      const { failed } = await queue.send(packed.map((p) => p.body));
      const notEnqueued = new Set(failed.flatMap((m) => packed[m]!.indexes));
      const accepted: string[] = [];
      valid.forEach((e, i) => {
        if (notEnqueued.has(i))
          rejected.push({ id: e.id, retryable: true, reason: 'not_enqueued', errors: [{ field: '', message: 'could not be enqueued' }] });
        else accepted.push(e.id);
      });
      return { accepted, rejected };
    },
  };
}
