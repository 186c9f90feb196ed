import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../contract/errors.js';
import { MAX_MESSAGE_BYTES } from '../../../../contract/queue-message.js';
import { SqsEventQueue } from '../../../../functions/adapters/aws/sqs-event-queue.js';

describe('SqsEventQueue.send plans the whole request first (defect 8)', () => {
  it('refuses a set of bodies holding one over the message limit before sending any of them', async () => {
    // Prepare
    const sqs = new SQSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    const mock = mockClient(sqs);
    mock.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const queue = new SqsEventQueue(sqs, 'https://sqs.eu-west-1.amazonaws.com/1/q');
    const bodies = [...Array.from({ length: 12 }, (_, i) => `small ${i}`), 'x'.repeat(MAX_MESSAGE_BYTES + 1)];

    // Act
    const refused = await queue.send(bodies).catch((e: Error) => e);

    // Assess
    expect(refused).toBeInstanceOf(ValidationError);
    expect(mock.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
  });
});
