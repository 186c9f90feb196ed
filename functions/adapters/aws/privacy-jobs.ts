import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** The close queue's message for a privacy job (the close worker tells it from a chunk by `kind`). */
export interface PrivacyJobMessage {
  kind: 'privacy';
  requestId: string;
}

export const isPrivacyJob = (body: unknown): body is PrivacyJobMessage =>
  typeof body === 'object' &&
  body !== null &&
  (body as { kind?: unknown }).kind === 'privacy' &&
  typeof (body as { requestId?: unknown }).requestId === 'string';

/** Queues a privacy export on the close queue, where the close worker (15 minutes, 1 GB) runs it. */
export async function sendPrivacyJob(sqs: SQSClient, queueUrl: string, requestId: string): Promise<void> {
  const message: PrivacyJobMessage = { kind: 'privacy', requestId };
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(message) }));
}
