import type { SQSEvent } from 'aws-lambda';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../contract/clock.js';
import { validateEvent } from '../../contract/event-contract.js';
import type { CloseChunk } from '../../functions/core/close/close-plan.js';
import { buildCustomer } from '../../functions/core/shared/customers.js';
import type { Customer } from '../../functions/core/shared/ports.js';
import { makeCloseWorker } from '../../functions/handlers/close-worker.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';

// One chunk with two customers, whose close fails for one of them (its events cannot be read).
const DAY = '2026-03-02';
const clock = fixedClock('2026-03-03T00:30:00Z');
let stack: LocalStack;
let good: Customer;
let bad: Customer;

beforeAll(async () => {
  stack = await startLocalStack({ clock, noPoller: true });
  const stripe = new Stripe('sk_test_close_worker', { ...stack.stripeServer!.stripeConfig, maxNetworkRetries: 0 });
  await (await stack.closeServices.reporter()).ensureMeters();
  for (const id of ['worker-good', 'worker-bad']) {
    const c = buildCustomer(
      { id, stripeCustomerId: (await stripe.customers.create({ name: id })).id },
      undefined,
      Date.parse('2026-03-01T00:00:00Z'),
    );
    await stack.services.registry.putCustomer(c);
    const v = validateEvent(
      {
        specversion: '1.0',
        type: 'com.serenity.api.call',
        source: 't',
        subject: id,
        id: `${id}-1`,
        time: `${DAY}T10:00:00Z`,
        data: { quantity: 7 },
      },
      { now: Date.parse(`${DAY}T10:00:01Z`), newId: () => 'x' },
    );
    if (!v.ok) throw new Error('fixture');
    await stack.services.events.put([v.event], 'm', `${DAY}T10:00:01.000Z`);
    if (id === 'worker-good') good = c;
    else bad = c;
  }
}, 60_000);
afterAll(async () => stack?.stop());

describe('the close worker', () => {
  it('closes every other customer of a chunk when one fails, then fails the chunk so SQS retries it', async () => {
    // Prepare
    const s = stack.functionServices['close-worker'];
    const events = {
      ...s.events,
      put: s.events.put.bind(s.events),
      listDay: async (customerId: string, day: string) =>
        customerId === bad.id ? Promise.reject(new Error('throttled')) : s.events.listDay(customerId, day),
    };
    const worker = makeCloseWorker({ ...s, events });
    await stack.services.rollups.startRun({ runId: 'run-1', day: DAY, chunks: 1, customers: 2, startedAt: '2026-03-03T00:30:00.000Z' });
    const chunk: CloseChunk = {
      v: 1,
      runId: 'run-1',
      day: DAY,
      customers: [
        { id: bad.id, lateDays: [] },
        { id: good.id, lateDays: [] },
      ],
    };
    const event = {
      Records: [
        {
          messageId: 'm1',
          body: JSON.stringify(chunk),
          receiptHandle: 'r',
          attributes: {},
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: 'arn',
          awsRegion: 'eu-west-1',
        },
      ],
    } as unknown as SQSEvent;

    // Act
    const res = await worker(event);

    // Assess: the chunk is reported failed; the good customer was closed and reported all the same
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
    expect((await stack.services.rollups.getDays(good.id, DAY, DAY)).map((d) => d.apiCalls)).toEqual([7]);
    expect((await stack.services.ledger.entries(good.id)).map((r) => [r.meter, r.day, r.value, r.state])).toContainEqual([
      'api_calls',
      DAY,
      7,
      'sent',
    ]);
    expect(await stack.services.rollups.getDays(bad.id, DAY, DAY)).toEqual([]);
    expect((await stack.services.rollups.getRun(DAY, 'run-1'))?.chunksDone ?? 0).toBe(0);
  });

  it('fails the chunk when a meter event could not be delivered yet, so SQS resends it within hours, not the next night', async () => {
    // Prepare: Stripe answers 503 to every call
    const s = stack.functionServices['close-worker'];
    const unavailable = {
      report: async (es: readonly { identifier: string }[]) =>
        es.map((e) => ({
          identifier: e.identifier,
          outcome: 'failed_transient' as const,
          reason: 'server_error' as const,
          message: '503',
          attempts: 6,
        })),
    };
    const worker = makeCloseWorker({ ...s, reporter: async () => unavailable as unknown as Awaited<ReturnType<typeof s.reporter>> });
    await stack.services.rollups.startRun({ runId: 'run-2', day: DAY, chunks: 1, customers: 1, startedAt: '2026-03-03T00:30:00.000Z' });
    const chunk: CloseChunk = { v: 1, runId: 'run-2', day: DAY, customers: [{ id: bad.id, lateDays: [] }] };
    const event = {
      Records: [
        {
          messageId: 'm2',
          body: JSON.stringify(chunk),
          receiptHandle: 'r',
          attributes: {},
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: 'arn',
          awsRegion: 'eu-west-1',
        },
      ],
    } as unknown as SQSEvent;

    // Act
    const res = await worker(event);

    // Assess: closed and recorded, the event still pending, the chunk failed for a retry (not counted done)
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: 'm2' }]);
    expect((await stack.services.rollups.getRun(DAY, 'run-2'))?.chunksDone ?? 0).toBe(0);
    expect((await stack.services.ledger.entries(bad.id)).map((r) => [r.meter, r.day, r.value, r.state])).toContainEqual([
      'api_calls',
      DAY,
      7,
      'pending',
    ]);
  });
});
