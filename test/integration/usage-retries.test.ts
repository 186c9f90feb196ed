import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAwsClients } from '../../functions/adapters/aws/aws-clients.js';
import type { UsageReport } from '../../functions/core/count/usage-query.js';
import { buildCustomer } from '../../functions/core/shared/customers.js';
import { makeConsumeHandler } from '../../functions/handlers/consume.js';
import { makeServices } from '../../functions/runtime/services.js';
import { LOCAL_CREDENTIALS } from '../../local/dynamodb-local.js';
import { toRecord } from '../../local/lambda-poller.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { apiCall, post } from '../fakes/events.js';

let stack: LocalStack;
const CUSTOMERS = ['r1', 'r2', 'r3', 'r4', 'r5'];

beforeAll(async () => {
  stack = await startLocalStack({ noPoller: true });
  for (const id of CUSTOMERS) await stack.services.registry.putCustomer(buildCustomer({ id }, undefined, Date.now()));
});
afterAll(async () => stack?.stop());

/** Takes every message now on the queue, as records the event source would hand a consumer. */
async function takeAll(): Promise<SQSRecord[]> {
  const out: SQSRecord[] = [];
  for (let empty = 0; empty < 3; ) {
    const r = await stack.services.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: stack.services.config.queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 300 }),
    );
    const got = r.Messages ?? [];
    if (got.length === 0) empty++;
    for (const m of got) {
      out.push(toRecord(m));
    }
  }
  return out;
}

const batchesOf = (records: SQSRecord[]): SQSEvent[] =>
  Array.from({ length: Math.ceil(records.length / 10) }, (_, i) => ({ Records: records.slice(i * 10, i * 10 + 10) }));

async function usage(customer: string): Promise<UsageReport> {
  const from = new Date(Date.now() - 86_400_000).toISOString();
  const to = new Date(Date.now() + 3_600_000).toISOString();
  const res = await fetch(`${stack.url}/v1/usage?customer=${customer}&from=${from}&to=${to}&granularity=day`, {
    headers: { authorization: `Bearer ${stack.adminKey}` },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as UsageReport;
}

describe('GET /v1/usage under client retries', () => {
  it('counts every event once when 20 % of batches are resent at once and consumed side by side with the originals', async () => {
    // Prepare: 40 batches of 25 API calls over 5 customers; 8 of them (20 %) resent by a client that timed out.
    // Half the resends are the same request again, half leave out the one event the client saw acknowledged,
    // so the queue holds the same events under other message keys.
    const truth = new Map(CUSTOMERS.map((c) => [c, 0]));
    const batches = Array.from({ length: 40 }, (_, b) =>
      Array.from({ length: 25 }, (_, i) => {
        const customer = CUSTOMERS[(b + i) % (i % 3 === 0 ? 5 : 2)]!;
        const quantity = 1 + ((b * 7 + i) % 9);
        truth.set(customer, truth.get(customer)! + quantity);
        return apiCall(customer, {}, { quantity });
      }),
    );
    for (const batch of batches) expect((await post(stack.url, stack.ingestKey, batch)).status).toBe(202);
    const originals = await takeAll();
    const resent = batches.filter((_, b) => b % 5 === 0).map((batch, k) => (k % 2 === 0 ? batch : batch.slice(1)));
    await Promise.all(resent.map(async (batch) => expect((await post(stack.url, stack.ingestKey, batch)).status).toBe(202)));
    const retries = await takeAll();
    expect(originals).toHaveLength(40);
    expect(retries).toHaveLength(8);

    // Act: two Lambda instances (own clients) consume each resent batch's original and its resend at once.
    const other = makeServices({
      env: stack.env,
      clients: makeAwsClients({
        region: 'us-east-1',
        endpoints: { dynamodb: stack.env.AWS_ENDPOINT_URL_DYNAMODB, sqs: stack.env.AWS_ENDPOINT_URL_SQS },
        credentials: LOCAL_CREDENTIALS,
      }),
    });
    const first = makeConsumeHandler(stack.services);
    const second = makeConsumeHandler(other);
    // By content: the queue need not hand messages back in the order they were sent.
    const resentIds = batches.filter((_, b) => b % 5 === 0).map((batch) => batch.at(-1)!.id);
    const isResent = (r: SQSRecord) => resentIds.some((id) => r.body.includes(`"${id}"`));
    const resentOriginals = originals.filter(isResent);
    const rest = originals.filter((r) => !isResent(r));
    expect(resentOriginals).toHaveLength(8);
    const [a, b] = await Promise.all([first({ Records: resentOriginals }), second({ Records: retries })]);
    const others = await Promise.all(batchesOf(rest).map((batch) => first(batch)));

    // Assess
    for (const r of [a, b, ...others]) expect(r.batchItemFailures).toEqual([]);
    for (const c of CUSTOMERS)
      expect({ customer: c, api_calls: (await usage(c)).totals.api_calls }).toEqual({ customer: c, api_calls: truth.get(c) });
  });
});
