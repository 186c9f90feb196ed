import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { ChangeMessageVisibilityCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateEvent } from '../../contract/event-contract.js';
import { packMessages } from '../../contract/queue-message.js';
import { makeAwsClients } from '../../functions/adapters/aws/aws-clients.js';
import { buildCustomer } from '../../functions/core/shared/customers.js';
import { makeConsumeHandler } from '../../functions/handlers/consume.js';
import { makeServices, type Services } from '../../functions/runtime/services.js';
import { LOCAL_CREDENTIALS } from '../../local/dynamodb-local.js';
import { toRecord } from '../../local/lambda-poller.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { apiCall } from '../fakes/events.js';

let stack: LocalStack;
const today = () => new Date().toISOString().slice(0, 10);

beforeAll(async () => {
  stack = await startLocalStack({ noPoller: true });
  for (const id of ['th-a', 'th-b']) await stack.services.registry.putCustomer(buildCustomer({ id }, undefined, Date.now()));
});
afterAll(async () => stack?.stop());

/**
 * A consumer whose DynamoDB answers ProvisionedThroughputExceededException on the Audit table while
 * `throttle()` says so: SDK middleware on a real client against DynamoDB Local, ahead of the SDK's own retries.
 */
function throttledConsumer(throttle: () => boolean): { services: Services; auditCalls: () => number } {
  const clients = makeAwsClients({
    region: 'us-east-1',
    endpoints: { dynamodb: stack.env.AWS_ENDPOINT_URL_DYNAMODB, sqs: stack.env.AWS_ENDPOINT_URL_SQS },
    credentials: LOCAL_CREDENTIALS,
  });
  let calls = 0;
  const auditTable = stack.services.config.tables.audit;
  clients.dynamo.middlewareStack.add(
    (next) => async (args) => {
      if ((args.input as { TableName?: string }).TableName === auditTable) {
        calls++;
        if (throttle())
          throw new ProvisionedThroughputExceededException({ message: 'Rate of requests exceeds the allowed throughput', $metadata: {} });
      }
      return next(args);
    },
    { step: 'initialize', name: 'injectAuditThrottle' },
  );
  return { services: makeServices({ env: stack.env, clients }), auditCalls: () => calls };
}

async function enqueue(customer: string, messages: number, perMessage: number, quantity: number) {
  for (let m = 0; m < messages; m++) {
    const events = Array.from({ length: perMessage }, () => {
      const v = validateEvent(apiCall(customer, {}, { quantity }), { now: Date.now(), newId: () => 'x' });
      if (!v.ok) throw new Error(JSON.stringify(v.errors));
      return v.event;
    });
    expect((await stack.services.queue.send(packMessages(events).map((p) => p.body))).failed).toEqual([]);
  }
}

async function receive(max: number, visibility: number, waitSeconds = 1): Promise<SQSEvent> {
  const out: SQSEvent = { Records: [] };
  for (let tries = 0; out.Records.length < max && tries < 5; tries++) {
    const r = await stack.services.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: stack.services.config.queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: visibility,
        WaitTimeSeconds: waitSeconds,
        AttributeNames: ['All'],
      } as never),
    );
    for (const m of r.Messages ?? []) {
      out.Records.push(toRecord(m));
    }
  }
  return out;
}

async function callsOf(customer: string) {
  const frags = await stack.services.usage.fragments(customer, today());
  return frags.reduce((s, f) => s + Object.values(f.calls).reduce((a, b) => a + b, 0), 0);
}

const consumeAudits = async (customerKeys: Set<string>) =>
  (await stack.services.audit.list(today(), 1000)).filter(
    (e) => e.action === 'consume' && customerKeys.has(String((e.details as { messageKey?: string } | undefined)?.messageKey)),
  );

describe('DynamoDB throttling in the consumer, on the local stack', () => {
  it('a briefly throttled audit write is retried with backoff inside the invocation and fails no record', async () => {
    // Prepare: the first three audit writes are throttled.
    await enqueue('th-a', 3, 10, 2);
    const batch = await receive(3, 60);
    let n = 0;
    const { services } = throttledConsumer(() => ++n <= 3);
    // Act
    const res = await makeConsumeHandler(services)(batch);
    // Assess
    expect(res.batchItemFailures).toEqual([]);
    expect(await callsOf('th-a')).toBe(60);
    expect(n).toBeGreaterThan(3);
  });

  it('sustained audit throttling fails the records, not the counting, delays their next delivery, and a redelivery audits each once', async () => {
    // Prepare: every audit write is throttled until `throttling` is cleared.
    await enqueue('th-b', 3, 10, 5);
    const batch = await receive(3, 2);
    let throttling = true;
    const { services, auditCalls } = throttledConsumer(() => throttling);
    const consume = makeConsumeHandler(services);

    // Act: consume while throttled.
    const first = await consume(batch);

    // Assess: every record is reported failed (its audit record is owed), its counting stands...
    expect(first.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(batch.Records.map((r) => r.messageId).sort());
    expect(auditCalls()).toBeGreaterThan(3);
    expect(await callsOf('th-b')).toBe(150);
    // ...and SQS does not hand the records back when their 2 s visibility would have run out.
    await new Promise((r) => setTimeout(r, 2500));
    expect((await receive(3, 2, 0)).Records).toHaveLength(0);

    // Act: the throttling ends; the delay is cut short here, as if it had passed.
    throttling = false;
    for (const r of batch.Records) {
      await stack.services.clients.sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: stack.services.config.queueUrl,
          ReceiptHandle: r.receiptHandle,
          VisibilityTimeout: 0,
        }),
      );
    }
    const again = await receive(3, 60);
    const second = await consume(again);

    // Assess: counted once, audited once per message.
    expect(second.batchItemFailures).toEqual([]);
    expect(await callsOf('th-b')).toBe(150);
    const keys = new Set((await stack.services.usage.fragments('th-b', today())).map((f) => f.messageKey));
    expect(keys.size).toBe(3);
    expect(await consumeAudits(keys)).toHaveLength(3);
  });
});
