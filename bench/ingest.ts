/**
 * npm run bench:ingest — cost and speed of counting usage events, measured in one run against the
 * same DynamoDB Local, with baselines measured alongside. Prints figures and ends with one JSON line.
 * Capacity units come from ReturnConsumedCapacity, so they do not depend on this machine's speed.
 */
import { PutItemCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { makeAwsClients } from '../functions/adapters/aws-clients.js';
import { CapacityMeter } from '../functions/adapters/capacity-meter.js';
import { batchWriteAll, inParallel } from '../functions/adapters/dynamodb-batch.js';
import { toItem } from '../functions/adapters/dynamodb-event-store.js';
import { makeConsumeHandler } from '../functions/consume-events.js';
import { buildCustomer } from '../functions/core/customers.js';
import type { UsageEvent } from '../functions/core/event-contract.js';
import { meterOf } from '../functions/core/meters.js';
import { packMessages } from '../functions/core/queue-message.js';
import { EVENT_QUEUE, TABLES, type TableName } from '../functions/resources.js';
import { makeServices } from '../functions/services.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal, type DynamoDbLocal } from '../local/dynamodb-local.js';
import { customerId, rawEvents, REALISTIC_MIX } from './traffic-model.js';
import { benchEmitter } from './emitter-bench.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const N = Number(process.env.BENCH_EVENTS ?? 50_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const REQUEST_EVENTS = 1000;

const fmt = (x: number, d = 3) => Number(x.toFixed(d));

function envFor(ddb: DynamoDbLocal): Record<string, string> {
  const env: Record<string, string> = {
    AWS_REGION: LOCAL_REGION,
    [EVENT_QUEUE.env]: 'http://127.0.0.1:1/unused',
    [EVENT_QUEUE.dlqEnv]: 'http://127.0.0.1:1/unused-dlq',
  };
  for (const [k, t] of Object.entries(TABLES)) env[t.env] = ddb.tableNames[k as TableName];
  return env;
}

/** The consumer under test: the real handler, fed SQS events built from ingest-packed messages. */
async function benchConsumer(events: UsageEvent[]) {
  const ddb = await startDynamoDbLocal({ prefix: 'bench' });
  const clients = makeAwsClients({ region: LOCAL_REGION, endpoints: { dynamodb: ddb.endpoint }, credentials: LOCAL_CREDENTIALS });
  const capacity = new CapacityMeter();
  const s = makeServices({ env: envFor(ddb), clients, capacity });
  for (let c = 0; c < REALISTIC_MIX.customers; c++) await s.registry.putCustomer(buildCustomer({ id: customerId(c) }, undefined, Date.now()));

  // Pack as the ingest endpoint does: one request of up to 1,000 events at a time.
  const bodies: string[] = [];
  for (let i = 0; i < events.length; i += REQUEST_EVENTS) bodies.push(...packMessages(events.slice(i, i + REQUEST_EVENTS)).map((p) => p.body));
  const batches: SQSEvent[] = [];
  for (let i = 0; i < bodies.length; i += EVENT_QUEUE.batchSize) {
    batches.push({
      Records: bodies.slice(i, i + EVENT_QUEUE.batchSize).map((body, j) => ({
        messageId: `m-${i + j}`,
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
  const handler = makeConsumeHandler(s);
  // Warm up the JVM and the connection pool on a throwaway batch of other events.
  await handler({ Records: [{ ...batches[0]!.Records[0]!, messageId: 'warm', body: packMessages(rawEvents(500, Date.now(), REALISTIC_MIX, 7))[0]!.body }] });
  const before = capacity.snapshot();
  const t0 = performance.now();
  let failed = 0;
  await inParallel(batches, CONCURRENCY, async (b) => {
    failed += (await handler(b)).batchItemFailures.length;
  });
  const seconds = (performance.now() - t0) / 1000;
  const wcu = capacity.write - before.write;
  const rcu = capacity.read - before.read;
  const stored = (await Promise.all(Array.from({ length: 5 }, (_, c) => s.events.listDay(customerId(c), events[0]!.time.slice(0, 10))))).flat().length;
  clients.dynamo.destroy();
  await ddb.stop();
  if (failed) throw new Error(`${failed} records failed during the consumer benchmark`);
  return { events: events.length, messages: bodies.length, batches: batches.length, seconds, eventsPerSecond: events.length / seconds, wcu, rcu, sampleStored: stored };
}

/** The naive consumer: one conditional PutItem and one counter UpdateItem per event. */
async function benchNaive(events: UsageEvent[], items: Record<string, AttributeValue>[]) {
  const ddb = await startDynamoDbLocal({ prefix: 'naive' });
  const clients = makeAwsClients({ region: LOCAL_REGION, endpoints: { dynamodb: ddb.endpoint }, credentials: LOCAL_CREDENTIALS });
  const meter = new CapacityMeter();
  const ev = ddb.tableNames.events;
  const usage = ddb.tableNames.usage;
  const one = async (i: number) => {
    const e = events[i]!;
    try {
      const put = await clients.dynamo.send(
        new PutItemCommand({ TableName: ev, Item: items[i]!, ConditionExpression: 'attribute_not_exists(pk)', ReturnConsumedCapacity: 'TOTAL' }),
      );
      meter.add('write', put.ConsumedCapacity);
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') return;
      throw err;
    }
    const up = await clients.dynamo.send(
      new UpdateItemCommand({
        TableName: usage,
        Key: { pk: { S: `C#${e.customerId}#${meterOf(e.type)}` }, sk: { S: e.time.slice(0, 13) } },
        UpdateExpression: 'ADD n :q',
        ExpressionAttributeValues: { ':q': { N: String(e.quantity) } },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    meter.add('write', up.ConsumedCapacity);
  };
  await one(0); // warm-up on the first event, counted out below
  const before = meter.snapshot();
  const t0 = performance.now();
  await inParallel(events.map((_, i) => i).slice(1), 64, one);
  const seconds = (performance.now() - t0) / 1000;
  clients.dynamo.destroy();
  await ddb.stop();
  const n = events.length - 1;
  return { seconds, eventsPerSecond: n / seconds, wcu: meter.write - before.write, rcu: meter.read - before.read, events: n };
}

/** The ceiling: raw BatchWriteItem of the same items into the same kind of DynamoDB Local. */
async function benchRaw(items: Record<string, AttributeValue>[]) {
  const ddb = await startDynamoDbLocal({ prefix: 'raw' });
  const clients = makeAwsClients({ region: LOCAL_REGION, endpoints: { dynamodb: ddb.endpoint }, credentials: LOCAL_CREDENTIALS });
  const meter = new CapacityMeter();
  await batchWriteAll(clients.dynamo, ddb.tableNames.events, items.slice(0, 500).map((Item) => ({ PutRequest: { Item: { ...Item, pk: { S: 'warm' } } } })), meter);
  const before = meter.snapshot();
  const t0 = performance.now();
  await batchWriteAll(clients.dynamo, ddb.tableNames.events, items.map((Item) => ({ PutRequest: { Item } })), meter, 16);
  const seconds = (performance.now() - t0) / 1000;
  clients.dynamo.destroy();
  await ddb.stop();
  return { seconds, itemsPerSecond: items.length / seconds, wcu: meter.write - before.write };
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
  console.log(`traffic: ${N} raw events, ${REALISTIC_MIX.customers} customers (Zipf s=${REALISTIC_MIX.zipfS}), ${REALISTIC_MIX.apiShare * 100}% API calls, ${REALISTIC_MIX.userShare * 100}% user activity, rest file operations; ~${avgBytes.toFixed(0)} B per event as JSON`);

  const consumer = await benchConsumer(events);
  console.log(`\n(a) consumer (real handler, ${CONCURRENCY} concurrent invocations, ${consumer.messages} messages in ${consumer.batches} batches of <= ${EVENT_QUEUE.batchSize})`);
  console.log(`    ${fmt(consumer.eventsPerSecond, 0)} events/s; ${fmt((consumer.wcu / consumer.events) * 1000, 1)} WCU and ${fmt((consumer.rcu / consumer.events) * 1000, 1)} RCU per 1,000 events`);
  console.log('    (reads as DynamoDB Local reports them: it sizes a BatchGetItem by its total bytes; AWS rounds each item up to 4 KB,');
  console.log('     so there the consistent pre-read of each event costs 1 RCU: about 1,000 RCU per 1,000 events)');
  const naive = await benchNaive(events, items);
  console.log(`    naive (conditional PutItem + UpdateItem per event, 64 in flight): ${fmt(naive.eventsPerSecond, 0)} events/s; ${fmt((naive.wcu / naive.events) * 1000, 1)} WCU and ${fmt((naive.rcu / naive.events) * 1000, 1)} RCU per 1,000 events`);
  const wcuPerEvent = consumer.wcu / consumer.events;
  const naiveWcuPerEvent = naive.wcu / naive.events;
  console.log(`    ratio: ${fmt(naiveWcuPerEvent / wcuPerEvent, 2)}x fewer write units, ${fmt(consumer.eventsPerSecond / naive.eventsPerSecond, 2)}x the throughput of the naive consumer`);

  const raw = await benchRaw(items);
  console.log(`\n(b) raw BatchWriteItem of the same ${items.length} items (25 per call, 16 in flight): ${fmt(raw.itemsPerSecond, 0)} items/s, ${fmt(raw.wcu / items.length, 3)} WCU per item`);
  const throughputVsRaw = consumer.eventsPerSecond / raw.itemsPerSecond;
  console.log(`    consumer throughput = ${fmt(throughputVsRaw, 2)} of the raw rate`);

  const emitter = await benchEmitter();
  console.log(`\n(c) emitter: apiCall median ${fmt(emitter.apiCallNs, 1)} ns vs Map increment ${fmt(emitter.mapNs, 1)} ns -> ${fmt(emitter.costRatio, 2)}x`);
  for (const r of emitter.runs) {
    console.log(`    ${r.callsPerSecond} calls/s from ${r.customers} customers for ${r.minutes} simulated minutes: ${r.calls} calls -> ${r.events} events -> ${fmt(r.wcu, 0)} WCU = ${fmt(r.wcuPerApiCall, 4)} WCU per API call${r === emitter.headline ? ' (headline)' : ''}`);
  }

  const figures = {
    events: consumer.events,
    wcuPerEvent: fmt(wcuPerEvent, 4),
    rcuPerEvent: fmt(consumer.rcu / consumer.events, 4),
    naiveWcuPerEvent: fmt(naiveWcuPerEvent, 4),
    naiveRcuPerEvent: fmt(naive.rcu / naive.events, 4),
    wcuRatioNaiveVsConsumer: fmt(naiveWcuPerEvent / wcuPerEvent, 3),
    eventsPerSecond: fmt(consumer.eventsPerSecond, 0),
    naiveEventsPerSecond: fmt(naive.eventsPerSecond, 0),
    rawBatchWriteItemsPerSecond: fmt(raw.itemsPerSecond, 0),
    throughputVsRaw: fmt(throughputVsRaw, 3),
    wcuPerApiCallViaEmitter: fmt(emitter.headline.wcuPerApiCall, 5),
    emitterRuns: emitter.runs.map((r) => ({ callsPerSecond: r.callsPerSecond, customers: r.customers, calls: r.calls, events: r.events, wcuPerApiCall: fmt(r.wcuPerApiCall, 5) })),
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
