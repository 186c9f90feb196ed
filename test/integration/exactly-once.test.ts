import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateEvent } from '../../contract/event-contract.js';
import { packMessages } from '../../contract/queue-message.js';
import { makeAwsClients } from '../../functions/adapters/aws/aws-clients.js';
import { buildCustomer } from '../../functions/core/shared/customers.js';
import type { UsageStore } from '../../functions/core/shared/ports.js';
import { makeConsumeHandler } from '../../functions/handlers/consume.js';
import { makeServices } from '../../functions/runtime/services.js';
import { LOCAL_CREDENTIALS } from '../../local/dynamodb-local.js';
import { toRecord } from '../../local/lambda-poller.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { apiCall, fileEvent, userActive } from '../fakes/events.js';

let stack: LocalStack;
const today = () => new Date().toISOString().slice(0, 10);

beforeAll(async () => {
  stack = await startLocalStack({ noPoller: true, visibilityTimeoutSeconds: 1 });
  for (const id of ['crash', 'race', 'race2']) await stack.services.registry.putCustomer(buildCustomer({ id }, undefined, Date.now()));
});
afterAll(async () => stack?.stop());

/** Enqueues events as the ingest endpoint would, `perMessage` to a message. */
async function enqueue(raw: Record<string, unknown>[], perMessage: number) {
  const events = raw.map((r) => {
    const v = validateEvent(r, { now: Date.now(), newId: () => 'x' });
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    return v.event;
  });
  const bodies: string[] = [];
  for (let i = 0; i < events.length; i += perMessage) bodies.push(...packMessages(events.slice(i, i + perMessage)).map((p) => p.body));
  const { failed } = await stack.services.queue.send(bodies);
  expect(failed).toEqual([]);
  return bodies.length;
}

async function receiveAll(max: number, visibility = 30): Promise<SQSEvent> {
  const out: SQSEvent = { Records: [] };
  while (out.Records.length < max) {
    const r = await stack.services.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: stack.services.config.queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: visibility,
        AttributeNames: ['All'],
      } as never),
    );
    for (const m of r.Messages ?? []) {
      out.Records.push(toRecord(m));
    }
  }
  return out;
}

/** Deletes what a handler reported done, as the event source mapping does. */
async function ack(batch: SQSEvent, res: { batchItemFailures: { itemIdentifier: string }[] }) {
  const failed = new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
  for (const r of batch.Records.filter((r) => !failed.has(r.messageId))) {
    await stack.services.clients.sqs.send(
      new DeleteMessageCommand({ QueueUrl: stack.services.config.queueUrl, ReceiptHandle: r.receiptHandle }),
    );
  }
}

async function totals(customer: string) {
  const frags = await stack.services.usage.fragments(customer, today());
  const calls = frags.reduce((s, f) => s + Object.values(f.calls).reduce((a, b) => a + b, 0), 0);
  const stored = await stack.services.events.listDay(customer, today());
  return { calls, stored: stored.length };
}

describe('exactly once on the real local stack', () => {
  it('a consumer that crashes mid-batch and is redelivered counts every event once', async () => {
    // Prepare: 10 messages of 20 events; the usage store dies on its 4th write, like a killed process.
    const raw = Array.from({ length: 200 }, () => apiCall('crash', {}, { quantity: 3 }));
    await enqueue(raw, 20);
    let writes = 0;
    const dying: UsageStore = {
      fragments: (c, d) => stack.services.usage.fragments(c, d),
      putFragments: async (f) => {
        if (++writes >= 4) throw new Error('simulated crash');
        return stack.services.usage.putFragments(f);
      },
    };
    const crashing = makeConsumeHandler({ ...stack.services, usage: dying });
    const batch = await receiveAll(10, 1);
    // Act: the crashing run reports failures; then the real consumer takes the redelivered records.
    const first = await crashing(batch);
    await ack(batch, first);
    expect(first.batchItemFailures.length).toBeGreaterThan(0);
    expect((await totals('crash')).stored).toBe(200); // events were stored before the crash...
    const redelivered = await receiveAll(first.batchItemFailures.length, 30);
    expect(redelivered.Records.every((r) => Number(r.attributes.ApproximateReceiveCount) === 2)).toBe(true);
    const second = await makeConsumeHandler(stack.services)(redelivered);
    await ack(redelivered, second);
    // Assess: ...and counted exactly once after the redelivery.
    expect(second.batchItemFailures).toEqual([]);
    expect(await totals('crash')).toEqual({ calls: 600, stored: 200 });
  });

  it('two consumers racing on the same messages count each event once', async () => {
    // Prepare: two independent "Lambda instances" with their own clients.
    const raw = [
      ...Array.from({ length: 300 }, () => apiCall('race', {}, { quantity: 2 })),
      ...Array.from({ length: 50 }, (_, i) => userActive('race', `user-${i % 20}`)),
      ...Array.from({ length: 30 }, (_, i) => fileEvent('race', `file-${i}`, 'protected')),
    ];
    await enqueue(raw, 38);
    const batch = await receiveAll(10);
    const other = makeServices({
      env: stack.env,
      clients: makeAwsClients({
        region: 'us-east-1',
        endpoints: { dynamodb: stack.env.AWS_ENDPOINT_URL_DYNAMODB, sqs: stack.env.AWS_ENDPOINT_URL_SQS },
        credentials: LOCAL_CREDENTIALS,
      }),
    });
    // Act
    const [a, b] = await Promise.all([makeConsumeHandler(stack.services)(batch), makeConsumeHandler(other)(batch)]);
    // Assess
    await ack(batch, a);
    expect(a.batchItemFailures).toEqual([]);
    expect(b.batchItemFailures).toEqual([]);
    expect(await totals('race')).toEqual({ calls: 600, stored: 380 });
    const frags = await stack.services.usage.fragments('race', today());
    const users = new Set(frags.flatMap((f) => Object.values(f.users).flat()));
    expect(users.size).toBe(20);
    expect(frags.flatMap((f) => f.fileOps)).toHaveLength(30);
  });

  it('the same events redelivered many times in one batch and across batches count once', async () => {
    // Prepare: one message sent three times (a client retrying an identical request), consumed twice.
    const raw = Array.from({ length: 25 }, () => apiCall('race2', {}, { quantity: 4 }));
    for (let i = 0; i < 3; i++) await enqueue(raw, 25);
    const consume = makeConsumeHandler(stack.services);
    // Act
    const batch = await receiveAll(3);
    await consume(batch);
    await ack(batch, await consume(batch));
    // Assess
    expect(await totals('race2')).toEqual({ calls: 100, stored: 25 });
  });
});
