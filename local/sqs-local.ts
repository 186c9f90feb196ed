import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createSqsServer } from 'local-aws-sqs';
import { CLOSE_QUEUE, EVENT_QUEUE } from '../functions/resources.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './dynamodb-local.js';
import { freePort } from './free-port.js';

export interface QueuePair {
  queueUrl: string;
  dlqUrl: string;
}

export interface SqsLocal {
  endpoint: string;
  /** The usage-event queue (kept flat for the callers that predate the close queue). */
  queueUrl: string;
  dlqUrl: string;
  close: QueuePair;
  stop(): Promise<void>;
}

interface QueueDefinition {
  id: string;
  dlqId: string;
  maxReceiveCount: number;
  retentionDays: number;
  dlqRetentionDays: number;
}

async function createPair(sqs: SQSClient, def: QueueDefinition, visibilityTimeoutSeconds: number): Promise<QueuePair> {
  const dlq = await sqs.send(
    new CreateQueueCommand({ QueueName: def.dlqId, Attributes: { MessageRetentionPeriod: String(def.dlqRetentionDays * 86400) } }),
  );
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!
    .QueueArn!;
  const q = await sqs.send(
    new CreateQueueCommand({
      QueueName: def.id,
      Attributes: {
        VisibilityTimeout: String(visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(def.retentionDays * 86400),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: def.maxReceiveCount }),
      },
    }),
  );
  return { queueUrl: q.QueueUrl!, dlqUrl: dlq.QueueUrl! };
}

/** Starts local-aws-sqs in this process and creates the event and close queues with their DLQs from functions/resources.ts. */
export async function startSqsLocal(opts: { port?: number; visibilityTimeoutSeconds?: number } = {}): Promise<SqsLocal> {
  const port = opts.port ?? (await freePort());
  const server = await createSqsServer({ port, hostname: '127.0.0.1', emulateQueueCreationLifecycle: false });
  const endpoint = `http://127.0.0.1:${port}`;
  const sqs = new SQSClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const events = await createPair(sqs, EVENT_QUEUE, opts.visibilityTimeoutSeconds ?? EVENT_QUEUE.visibilityTimeoutSeconds);
  // Locally a close chunk takes seconds, not the minutes AWS allows for.
  const close = await createPair(sqs, CLOSE_QUEUE, 120);
  sqs.destroy();
  return {
    endpoint,
    ...events,
    close,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
