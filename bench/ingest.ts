// One idea in one file, though over 300 lines: the ingest bench, which measures each write path against its
// baselines in one run so every ratio compares figures taken side by side.
/**
 * npm run bench:ingest — cost and speed of counting usage events, measured in one run against the
 * same DynamoDB Local, with baselines measured alongside. Prints figures and ends with one JSON line.
 * Capacity units come from ReturnConsumedCapacity, so they do not depend on this machine's speed.
 */
import { type AttributeValue, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import type { UsageEvent } from '../contract/event-contract.js';
import { meterOf } from '../contract/meters.js';
import { packMessages } from '../contract/queue-message.js';
import { makeAwsClients } from '../functions/adapters/aws/aws-clients.js';
import { CapacityMeter } from '../functions/adapters/dynamodb/capacity-meter.js';
import { batchWriteAll, putEachIf } from '../functions/adapters/dynamodb/dynamodb-batch.js';
import { toItem } from '../functions/adapters/dynamodb/dynamodb-event-store.js';
import { inParallel } from '../functions/core/shared/concurrency.js';
import { buildCustomer } from '../functions/core/shared/customers.js';
import { makeConsumeHandler } from '../functions/handlers/consume.js';
import { EVENT_QUEUE, TABLES, type TableName } from '../functions/resources.js';
import { makeServices } from '../functions/runtime/services.js';
import { createTables, LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal, tableNamesFor } from '../local/dynamodb-local.js';
import { benchEmitter } from './emitter.js';
import { customerId, REALISTIC_MIX, rawEvents } from './traffic-model.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const N = Number(process.env.BENCH_EVENTS ?? 50_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 2);
const REQUEST_EVENTS = 1000;
const SLICE = 10_000;

const fmt = (x: number, d = 3) => Number(x.toFixed(d));

function envFor(tableNames: Record<TableName, string>): Record<string, string> {
  const env: Record<string, string> = {
    AWS_REGION: LOCAL_REGION,
    [EVENT_QUEUE.env]: 'http://127.0.0.1:1/unused',
    [EVENT_QUEUE.dlqEnv]: 'http://127.0.0.1:1/unused-dlq',
  };
  for (const [k, t] of Object.entries(TABLES)) env[t.env] = tableNames[k as TableName];
  return env;
}

interface Section {
  seconds: number;
  wcu: number;
  rcu: number;
  n: number;
}
const section = (): Section => ({ seconds: 0, wcu: 0, rcu: 0, n: 0 });

/** Times one piece of work and adds its seconds and capacity units to a section. */
async function measure(sec: Section, meter: CapacityMeter, n: number, work: () => Promise<void>) {
  const before = meter.snapshot();
  const t0 = performance.now();
  await work();
  sec.seconds += (performance.now() - t0) / 1000;
  sec.wcu += meter.write - before.write;
  sec.rcu += meter.read - before.read;
  sec.n += n;
}

/** SQS event shapes of ingest-packed messages: one request of up to 1,000 events at a time, batches of 10. */
function sqsBatches(events: UsageEvent[], offset: number): SQSEvent[] {
  const bodies: string[] = [];
  for (let i = 0; i < events.length; i += REQUEST_EVENTS)
    bodies.push(...packMessages(events.slice(i, i + REQUEST_EVENTS)).map((p) => p.body));
  const batches: SQSEvent[] = [];
  for (let i = 0; i < bodies.length; i += EVENT_QUEUE.batchSize) {
    batches.push({
      Records: bodies.slice(i, i + EVENT_QUEUE.batchSize).map((body, j) => ({
        messageId: `m-${offset}-${i + j}`,
        receiptHandle: 'r',
        body,
        attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'bench', ApproximateFirstReceiveTimestamp: '0' },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:0:bench',
        awsRegion: LOCAL_REGION,
      })),
    });
  }
  return batches;
}

/**
 * The contenders share one DynamoDB Local (separate tables) and take turns on the same slices of traffic,
 * so a change in the machine's background load falls on all of them alike. The consumer claims each event
 * with a conditional PutItem; "batched" is the same handler storing events with BatchWriteItem instead (as
 * it did before claims: cheaper on DynamoDB Local, but it lets two messages both count one event).
 */
async function runContenders(events: UsageEvent[], items: Record<string, AttributeValue>[]) {
  const ddb = await startDynamoDbLocal({ prefix: 'consumer' });
  const clients = makeAwsClients({
    region: LOCAL_REGION,
    endpoints: { dynamodb: ddb.endpoint },
    credentials: LOCAL_CREDENTIALS,
    maxSockets: 128,
  });
  const raw = tableNamesFor('raw');
  const rawConditional = tableNamesFor('rawcond');
  const naive = tableNamesFor('naive');
  const batchedTables = tableNamesFor('batched');
  for (const t of [raw, rawConditional, naive, batchedTables]) await createTables(clients.dynamo, t);
  const meter = new CapacityMeter();
  const s = makeServices({ env: envFor(ddb.tableNames), clients, capacity: meter });
  const b = makeServices({ env: envFor(batchedTables), clients, capacity: meter });
  for (let c = 0; c < REALISTIC_MIX.customers; c++) {
    await s.registry.putCustomer(buildCustomer({ id: customerId(c) }, undefined, Date.now()));
    await b.registry.putCustomer(buildCustomer({ id: customerId(c) }, undefined, Date.now()));
  }
  const handler = makeConsumeHandler(s);
  const batchedEvents = Object.assign(Object.create(b.events) as typeof b.events, {
    claim: async (e: readonly UsageEvent[], owner: string, at: string) => {
      await b.events.put(e, owner, at);
      return new Set<string>();
    },
  });
  const batchedHandler = makeConsumeHandler({ ...b, events: batchedEvents });
  const conditional = { expression: 'attribute_not_exists(pk)', values: {} };

  const naiveOne = async (e: UsageEvent, item: Record<string, AttributeValue>) => {
    try {
      const put = await clients.dynamo.send(
        new PutItemCommand({
          TableName: naive.events,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      meter.add('write', put.ConsumedCapacity);
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') return;
      throw err;
    }
    const up = await clients.dynamo.send(
      new UpdateItemCommand({
        TableName: naive.usage,
        Key: { pk: { S: `C#${e.customerId}#${meterOf(e.type)}` }, sk: { S: e.time.slice(0, 13) } },
        UpdateExpression: 'ADD n :q',
        ExpressionAttributeValues: { ':q': { N: String(e.quantity) } },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    meter.add('write', up.ConsumedCapacity);
  };

  // Warm the JVM on other events for all three paths before anything is timed.
  const warm = rawEvents(2000, Date.now(), REALISTIC_MIX, 7);
  for (const w of sqsBatches(warm, -1)) await handler(w);
  for (const w of sqsBatches(warm, -1)) await batchedHandler(w);
  await putEachIf(clients.dynamo, rawConditional.events, storedItems(warm), conditional, meter, 64);
  await batchWriteAll(
    clients.dynamo,
    raw.events,
    storedItems(warm).map((Item) => ({ PutRequest: { Item } })),
    meter,
    16,
  );
  await inParallel(
    warm.map((_e, i) => i),
    64,
    (i) => naiveOne(warm[i]!, { ...storedItems([warm[i]!])[0]!, sk: { S: `warm#${i}` } }),
  );

  const consumer = section();
  const batched = section();
  const rawSec = section();
  const rawConditionalSec = section();
  const naiveSec = section();
  let failed = 0;
  for (let i = 0; i < events.length; i += SLICE) {
    const slice = events.slice(i, i + SLICE);
    const sliceItems = items.slice(i, i + SLICE);
    await measure(consumer, meter, slice.length, () =>
      inParallel(sqsBatches(slice, i), CONCURRENCY, async (m) => {
        failed += (await handler(m)).batchItemFailures.length;
      }),
    );
    await measure(batched, meter, slice.length, () =>
      inParallel(sqsBatches(slice, i), CONCURRENCY, async (m) => {
        failed += (await batchedHandler(m)).batchItemFailures.length;
      }),
    );
    await measure(rawConditionalSec, meter, slice.length, async () => {
      const refused = await putEachIf(clients.dynamo, rawConditional.events, sliceItems, conditional, meter, 64);
      if (refused.size > 0) throw new Error(`${refused.size} conditional puts refused on a fresh table`);
    });
    await measure(rawSec, meter, slice.length, () =>
      batchWriteAll(
        clients.dynamo,
        raw.events,
        sliceItems.map((Item) => ({ PutRequest: { Item } })),
        meter,
        16,
      ),
    );
    await measure(naiveSec, meter, slice.length, () =>
      inParallel(
        slice.map((_, j) => j),
        64,
        (j) => naiveOne(slice[j]!, sliceItems[j]!),
      ),
    );
  }
  if (failed) throw new Error(`${failed} records failed during the consumer benchmark`);
  const stored = (await s.events.listDay(customerId(0), events[0]!.time.slice(0, 10))).length;
  clients.dynamo.destroy();
  await ddb.stop();
  if (stored === 0) throw new Error('the consumer stored nothing for the biggest customer');
  return { consumer, batched, raw: rawSec, rawConditional: rawConditionalSec, naive: naiveSec };
}

/** The event items exactly as the consumer stores them (same attributes and sizes). */
function storedItems(events: UsageEvent[]): Record<string, AttributeValue>[] {
  const now = new Date().toISOString();
  return events.map((e) => toItem(e, 'MSGKEY0123456789abcdef', now, '2000000000'));
}

async function main() {
  const now = Date.now();
  const events = rawEvents(N, now);
  const items = storedItems(events);
  const avgBytes = events.reduce((s, e) => s + Buffer.byteLength(JSON.stringify(e)), 0) / events.length;
  console.log(
    `traffic: ${N} raw events, ${REALISTIC_MIX.customers} customers (Zipf s=${REALISTIC_MIX.zipfS}), ${REALISTIC_MIX.apiShare * 100}% API calls, ${REALISTIC_MIX.userShare * 100}% user activity, rest file operations; ~${avgBytes.toFixed(0)} B per event as JSON`,
  );

  const { consumer, batched, raw, rawConditional, naive } = await runContenders(events, items);
  const eps = (x: Section) => x.n / x.seconds;
  console.log(
    `\n(a) consumer (real handler, ${CONCURRENCY} concurrent invocations, batches of <= ${EVENT_QUEUE.batchSize} messages, ingest-packed)`,
  );
  console.log(
    `    ${fmt(eps(consumer), 0)} events/s; ${fmt((consumer.wcu / consumer.n) * 1000, 1)} WCU and ${fmt((consumer.rcu / consumer.n) * 1000, 1)} RCU per 1,000 events`,
  );
  console.log('    (reads as DynamoDB Local reports them: it sizes a BatchGetItem by its total bytes; AWS rounds each item up to 4 KB,');
  console.log('     so there the consistent pre-read of each event costs 1 RCU: about 1,000 RCU per 1,000 events)');
  console.log(
    `    naive (conditional PutItem + UpdateItem per event, 64 in flight): ${fmt(eps(naive), 0)} events/s; ${fmt((naive.wcu / naive.n) * 1000, 1)} WCU and ${fmt((naive.rcu / naive.n) * 1000, 1)} RCU per 1,000 events`,
  );
  const wcuPerEvent = consumer.wcu / consumer.n;
  const naiveWcuPerEvent = naive.wcu / naive.n;
  console.log(
    `    ratio: ${fmt(naiveWcuPerEvent / wcuPerEvent, 2)}x fewer write units, ${fmt(eps(consumer) / eps(naive), 2)}x the throughput of the naive consumer`,
  );
  console.log(
    `\n(b) raw BatchWriteItem of the same ${items.length} items (25 per call, 16 in flight): ${fmt(eps(raw), 0)} items/s, ${fmt(raw.wcu / raw.n, 3)} WCU per item`,
  );
  const throughputVsRaw = eps(consumer) / eps(raw);
  console.log(
    `    consumer throughput = ${fmt(throughputVsRaw, 2)} of the raw rate (slices of ${SLICE} events, taking turns on one DynamoDB Local)`,
  );
  const conditionalVsBatch = eps(rawConditional) / eps(raw);
  console.log(
    `    raw conditional PutItem of the same items (64 in flight): ${fmt(eps(rawConditional), 0)} items/s, ${fmt(rawConditional.wcu / rawConditional.n, 3)} WCU per item = ${fmt(conditionalVsBatch, 2)} of BatchWriteItem's rate`,
  );
  console.log(
    `\n(d) both ways: the consumer claiming each event with a conditional PutItem (exactly once) vs storing them with BatchWriteItem (racy)`,
  );
  console.log(
    `    conditional: ${fmt(eps(consumer), 0)} events/s, ${fmt(wcuPerEvent, 4)} WCU/event; batched: ${fmt(eps(batched), 0)} events/s, ${fmt(batched.wcu / batched.n, 4)} WCU/event; throughput ratio ${fmt(eps(consumer) / eps(batched), 2)}`,
  );
  console.log(
    `    batched consumer throughput = ${fmt(eps(batched) / eps(raw), 2)} of raw BatchWriteItem; the conditional consumer's ${fmt(throughputVsRaw, 2)} is against the batched primitive, on DynamoDB Local`,
  );

  const emitter = await benchEmitter();
  console.log(
    `\n(c) emitter: apiCall median ${fmt(emitter.apiCallNs, 1)} ns vs Map increment ${fmt(emitter.mapNs, 1)} ns -> ${fmt(emitter.costRatio, 2)}x`,
  );
  for (const r of emitter.runs) {
    console.log(
      `    ${r.callsPerSecond} calls/s from ${r.customers} customers for ${r.minutes} simulated minutes: ${r.calls} calls -> ${r.events} events -> ${fmt(r.wcu, 0)} WCU = ${fmt(r.wcuPerApiCall, 4)} WCU per API call${r === emitter.headline ? ' (headline)' : ''}`,
    );
  }

  const figures = {
    events: consumer.n,
    wcuPerEvent: fmt(wcuPerEvent, 4),
    rcuPerEvent: fmt(consumer.rcu / consumer.n, 4),
    naiveWcuPerEvent: fmt(naiveWcuPerEvent, 4),
    naiveRcuPerEvent: fmt(naive.rcu / naive.n, 4),
    wcuRatioNaiveVsConsumer: fmt(naiveWcuPerEvent / wcuPerEvent, 3),
    eventsPerSecond: fmt(eps(consumer), 0),
    naiveEventsPerSecond: fmt(eps(naive), 0),
    rawBatchWriteItemsPerSecond: fmt(eps(raw), 0),
    throughputVsRaw: fmt(throughputVsRaw, 3),
    batchedConsumerEventsPerSecond: fmt(eps(batched), 0),
    batchedConsumerWcuPerEvent: fmt(batched.wcu / batched.n, 4),
    batchedConsumerRcuPerEvent: fmt(batched.rcu / batched.n, 4),
    conditionalVsBatchedConsumerThroughput: fmt(eps(consumer) / eps(batched), 3),
    batchedConsumerThroughputVsRaw: fmt(eps(batched) / eps(raw), 3),
    rawConditionalPutItemsPerSecond: fmt(eps(rawConditional), 0),
    rawConditionalWcuPerItem: fmt(rawConditional.wcu / rawConditional.n, 4),
    rawConditionalVsBatchWriteThroughput: fmt(conditionalVsBatch, 3),
    wcuPerApiCallViaEmitter: fmt(emitter.headline.wcuPerApiCall, 5),
    emitterRuns: emitter.runs.map((r) => ({
      callsPerSecond: r.callsPerSecond,
      customers: r.customers,
      calls: r.calls,
      events: r.events,
      wcuPerApiCall: fmt(r.wcuPerApiCall, 5),
    })),
    emitterCostVsMapIncrement: fmt(emitter.costRatio, 3),
    emitterApiCallNs: fmt(emitter.apiCallNs, 1),
    mapIncrementNs: fmt(emitter.mapNs, 1),
    targets: { wcuPerEvent: 1.1, wcuPerApiCallViaEmitter: 0.02, throughputVsRaw: 0.6, emitterCostVsMapIncrement: 5 },
  };
  console.log(JSON.stringify(figures));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
