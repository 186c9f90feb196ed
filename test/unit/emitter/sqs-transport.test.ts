import type { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../contract/clock.js';
import { parseMessage } from '../../../contract/queue-message.js';
import { type CloudEvent, createSqsTransport, createUsageEmitter } from '../../../emitter/index.js';

/** An SQSClient stand-in that keeps every SendMessageBatch body and accepts all entries. */
function fakeSqs() {
  const bodies: string[] = [];
  const client = {
    send: async (command: SendMessageBatchCommand) => {
      for (const entry of command.input.Entries ?? []) bodies.push(entry.MessageBody!);
      return { Successful: [], Failed: [] };
    },
  };
  return { bodies, client: client as unknown as SQSClient };
}

describe('SQS transport', () => {
  it('puts events on the queue normalised exactly as ingest would', async () => {
    // Prepare
    const sqs = fakeSqs();
    const emitter = createUsageEmitter({
      queueUrl: 'http://sqs.local/000/events',
      sqs: sqs.client,
      source: 'api-gw',
      clock: fixedClock('2026-03-10T12:00:05.000Z'),
    });
    for (let i = 0; i < 4; i++) emitter.apiCall('cus_1', { operation: 'files.encrypt', clientIp: '203.0.113.50' });
    emitter.fileProtected('cus_2', 'file_9');
    // Act
    await emitter.shutdown();
    // Assess
    const events = sqs.bodies.flatMap((b) => parseMessage(b).events);
    expect(sqs.bodies.flatMap((b) => parseMessage(b).invalid)).toEqual([]);
    expect(events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          customerId: 'cus_1',
          type: 'com.serenity.api.call',
          quantity: 4,
          ipPrefix: '203.0.113.0/24',
          time: '2026-03-10T12:00:00.000Z',
        }),
        expect.objectContaining({ customerId: 'cus_2', type: 'com.serenity.file.protected', fileId: 'file_9', quantity: 1 }),
      ]),
    );
    expect(sqs.bodies.join()).not.toContain('203.0.113.50');
    expect(emitter.stats()).toMatchObject({ accepted: 2, pending: 0 });
  });

  it('rejects, without retry, an event that no longer passes the contract', async () => {
    // Prepare: an event recorded 36 days before it is sent
    const sqs = fakeSqs();
    const transport = createSqsTransport({
      queueUrl: 'http://sqs.local/000/events',
      sqs: sqs.client,
      clock: fixedClock('2026-03-10T12:00:00.000Z'),
    });
    const stale: CloudEvent = {
      specversion: '1.0',
      id: 'old_1',
      source: 'api-gw',
      type: 'com.serenity.api.call',
      subject: 'cus_1',
      time: '2026-02-02T12:00:00.000Z',
      datacontenttype: 'application/json',
      data: { quantity: 1 },
    };
    // Act
    const result = await transport.send([stale]);
    // Assess
    expect(result).toEqual({
      accepted: [],
      rejected: [expect.objectContaining({ id: 'old_1', retryable: false, reason: 'invalid:time' })],
    });
    expect(sqs.bodies).toEqual([]);
  });
});
