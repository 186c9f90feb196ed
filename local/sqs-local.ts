import { createSqsServer } from 'local-aws-sqs';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { EVENT_QUEUE } from '../functions/resources.js';
import { freePort } from './free-port.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './dynamodb-local.js';

export interface SqsLocal {
  endpoint: string;
  queueUrl: string;
  dlqUrl: string;
  stop(): Promise<void>;
}

/** Starts local-aws-sqs in this process and creates the event queue and its DLQ from functions/resources.ts. */
export async function startSqsLocal(opts: { port?: number; visibilityTimeoutSeconds?: number } = {}): Promise<SqsLocal> {
  const port = opts.port ?? (await freePort());
  const server = await createSqsServer({ port, hostname: '127.0.0.1', emulateQueueCreationLifecycle: false });
  const endpoint = `http://127.0.0.1:${port}`;
  const sqs = new SQSClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const dlq = await sqs.send(
    new CreateQueueCommand({ QueueName: EVENT_QUEUE.dlqId, Attributes: { MessageRetentionPeriod: String(EVENT_QUEUE.dlqRetentionDays * 86400) } }),
  );
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  const q = await sqs.send(
    new CreateQueueCommand({
      QueueName: EVENT_QUEUE.id,
      Attributes: {
        VisibilityTimeout: String(opts.visibilityTimeoutSeconds ?? EVENT_QUEUE.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(EVENT_QUEUE.retentionDays * 86400),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: EVENT_QUEUE.maxReceiveCount }),
      },
    }),
  );
  sqs.destroy();
  return {
    endpoint,
    queueUrl: q.QueueUrl!,
    dlqUrl: dlq.QueueUrl!,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
