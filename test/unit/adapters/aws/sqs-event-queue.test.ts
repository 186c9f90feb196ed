import { SendMessageBatchCommand, SQSClient, SQSServiceException } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { SqsEventQueue } from '../../../../functions/adapters/aws/sqs-event-queue.js';

const client = () => new SQSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
const refused = (name: string, fault: 'client' | 'server') =>
  new SQSServiceException({ name, $fault: fault, $metadata: {}, message: name });

describe('SqsEventQueue.send', () => {
  it('raises a refusal that retrying cannot change, and reports a passing failure as retryable entries', async () => {
    // Prepare
    const sqs = client();
    const mock = mockClient(sqs);
    mock.on(SendMessageBatchCommand).rejectsOnce(refused('AccessDenied', 'client'));
    const queue = new SqsEventQueue(sqs, 'https://sqs.eu-west-1.amazonaws.com/1/q');

    // Act
    const denied = await queue.send(['a', 'b']).catch((e: Error) => e);
    mock.reset();
    mock.on(SendMessageBatchCommand).rejects(refused('InternalError', 'server'));
    const down = await queue.send(['a', 'b']);

    // Assess: the refusal is raised after one call; the outage is retried, then both entries reported failed
    expect((denied as Error).name).toBe('AccessDenied');
    expect(down).toEqual({ failed: [0, 1] });
    expect(mock.commandCalls(SendMessageBatchCommand)).toHaveLength(5);
  });
});
