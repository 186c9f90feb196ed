import { SendMessageCommand } from '@aws-sdk/client-sqs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayQuarantine } from '../../functions/core/ingest/replay.js';
import { buildCustomer } from '../../functions/core/shared/customers.js';
import { logger } from '../../functions/runtime/logger.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { apiCall, post } from '../fakes/events.js';
import { hostileCloudEvent, LATE_CUSTOMER, producerBody, REGISTERED_CUSTOMERS } from '../fakes/privacy-arbitraries.js';
import { captureOutput, type Leak, leaksInValue, scanQueues, scanTables } from '../fakes/stored-bytes.js';

/**
 * Privacy invariants by property: hostile events go in through the HTTP ingest, straight onto the queue (a producer
 * that never passed ingest) and through quarantine and replay; then every stored byte is searched by an independent
 * scanner. `PRIVACY_RUNS` sets how many generated rounds run (each one HTTP batch and a few queue bodies).
 */
const RUNS = Number(process.env.PRIVACY_RUNS ?? 10);
const SEED = process.env.PRIVACY_SEED === undefined ? undefined : Number(process.env.PRIVACY_SEED);

let stack: LocalStack;
let output: ReturnType<typeof captureOutput>;

beforeAll(async () => {
  stack = await startLocalStack({ visibilityTimeoutSeconds: 1 });
  for (const id of REGISTERED_CUSTOMERS) await stack.services.registry.putCustomer(buildCustomer({ id }, undefined, Date.now()));
  // Everything the logger would write, not only errors: a leak in a debug line is still a leak.
  logger.setLogLevel('DEBUG');
  output = captureOutput();
});
afterAll(async () => {
  output?.stop();
  logger.setLogLevel('ERROR');
  await stack?.stop();
});

const replayDeps = () => ({
  quarantine: stack.services.quarantine,
  queue: stack.services.queue,
  customers: (ids: readonly string[]) => stack.services.registry.customers(ids),
  clock: stack.services.clock,
});

async function sendToQueue(body: string) {
  await stack.services.clients.sqs.send(new SendMessageCommand({ QueueUrl: stack.services.config.queueUrl, MessageBody: body }));
}

/** Every leak in the tables, the queues, the logs and the given HTTP answers. */
async function everyLeak(answers: unknown[] = []): Promise<{ leaks: Leak[]; items: number; messages: number }> {
  const tables = await scanTables(stack);
  const queues = await scanQueues(stack);
  return {
    leaks: [
      ...tables.leaks,
      ...queues.leaks,
      ...leaksInValue(output.text(), 'logs'),
      ...answers.flatMap((a, i) => leaksInValue(a, `answer ${i}`)),
    ],
    items: tables.items,
    messages: queues.messages,
  };
}

const describeLeaks = (leaks: Leak[]) =>
  leaks
    .slice(0, 10)
    .map((l) => `${l.kind} "${l.found}" in ${l.where}`)
    .join('\n');

describe('privacy invariants over every stored byte', () => {
  it("stores none of the review's findings: IPv4, IPv6, cards with dots or double spaces, an e-mail, 6to4, coordinates", async () => {
    // Prepare
    const customer = REGISTERED_CUSTOMERS[0];
    const events = [
      apiCall(customer, {}, { clientIp: '203.0.113.77', forwarded: '203.0.113.77, 198.51.100.9' }),
      apiCall(customer, {}, { clientIp: '2001:db8:85a3::8a2e:370:7334', peer: '[2001:db8::1]:443' }),
      apiCall(customer, {}, { note: 'card 4111.1111.1111.1111' }),
      apiCall(customer, {}, { note: 'card 5555  5555  5555  4444' }),
      apiCall(customer, {}, { contact: 'jane.doe@example.com' }),
      apiCall(customer, {}, { clientIp: '2002:cb00:714d::1', relay: '2002:cb00:714d::1' }),
      apiCall(customer, {}, { where: '37.7749,-122.4194', lat: 37.7749, lng: -122.4194 }),
      apiCall(customer, {}, { 'card 4111-1111-1111-1111': 1 }),
      apiCall('priv-unknown', { time: 'not a time' }, { clientIp: '203.0.113.77:443', city: 'San Francisco' }),
    ];
    const producer = {
      v: 1,
      events: [
        {
          id: 'prod-1',
          source: 'producer',
          customerId: customer,
          type: 'com.serenity.api.call',
          time: new Date().toISOString(),
          quantity: 1,
          ipPrefix: '198.51.100.23',
          metadata: { contact: 'ops@example.org', where: '37.7749 -122.4194', card: '4111 1111 1111 1111' },
        },
        {
          id: 'prod-2',
          source: 'producer',
          customerId: customer,
          type: 'com.serenity.user.active',
          time: new Date().toISOString(),
          quantity: 1,
          userId: 'jane.doe@example.com',
          metadata: { postal_code: '94103' },
        },
      ],
    };
    // Act
    const answer = await post(stack.url, stack.ingestKey, events);
    await sendToQueue(JSON.stringify(producer));
    await stack.drain(30_000);
    const { leaks } = await everyLeak([answer.body]);
    // Assess
    expect(answer.status).toBe(202);
    expect(describeLeaks(leaks)).toBe('');
  });

  it(
    `holds for ${RUNS} generated rounds through ingest, the queue and quarantine`,
    async () => {
      // Prepare
      const started = Date.now();
      let inputs = 0;
      let fiveHundreds = 0;
      let lastLeaks: Leak[] = [];
      // Act
      await fc
        .assert(
          fc.asyncProperty(
            fc.array(hostileCloudEvent, { minLength: 1, maxLength: 12 }),
            fc.array(producerBody, { minLength: 1, maxLength: 3 }),
            async (events, bodies) => {
              inputs += events.length + bodies.length;
              const answer = await post(stack.url, stack.ingestKey, [...events, apiCall(REGISTERED_CUSTOMERS[1])]);
              if (answer.status >= 500) fiveHundreds++;
              for (const body of bodies) await sendToQueue(body);
              await stack.drain(30_000);
              // Replay while the late customer is still unknown: the kept items are rewritten with why.
              await replayQuarantine({}, replayDeps());
              await stack.drain(30_000);
              lastLeaks = (await everyLeak([answer.body])).leaks;
              return answer.status < 500 && lastLeaks.length === 0;
            },
          ),
          { numRuns: RUNS, endOnFailure: true, ...(SEED !== undefined ? { seed: SEED } : {}) },
        )
        .catch((err: Error) => {
          throw new Error(`${err.message.split('\n')[0]}\n${describeLeaks(lastLeaks)}`);
        });
      // The late customer registers: its quarantined events replay and are counted, and nothing leaks on the way.
      await stack.services.registry.putCustomer(buildCustomer({ id: LATE_CUSTOMER }, undefined, Date.now()));
      await replayQuarantine({ customerId: LATE_CUSTOMER }, replayDeps());
      await stack.drain(30_000);
      const final = await everyLeak();
      const seconds = (Date.now() - started) / 1000;
      // Assess
      console.info(
        `privacy-properties: ${RUNS} rounds, ${inputs} inputs, ${final.items} items and ${final.messages} queued messages scanned, ` +
          `${fiveHundreds} 5xx, ${final.leaks.length} leaks, ${seconds.toFixed(1)} s`,
      );
      expect(output.text()).toContain('"message":"ingest"'); // the logs were captured, so their scan could fail
      expect(fiveHundreds).toBe(0);
      expect(describeLeaks(final.leaks)).toBe('');
      expect(final.items).toBeGreaterThan(0);
      // Sized by the run count: each round is one HTTP batch, a few queue bodies, two drains and a scan of every table.
    },
    60_000 + RUNS * 6_000,
  );
});
