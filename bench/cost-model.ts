/**
 * The cost model of bench:cost: AWS list prices in one dated table, and pure functions that turn the
 * capacity units, requests and durations the benches measured into dollars, part by part.
 */

/** One list price: dollars per unit, what the unit is, and where it was read. */
export interface Price {
  usd: number;
  unit: string;
  source: string;
}

/**
 * us-east-1 list prices, read on `asOf` (no free tier, no savings plan; first volume tier). Where a
 * figure was not legible in the stored page text, `note` says so and what it was checked against.
 */
export const PRICES = {
  asOf: '2026-12-03',
  region: 'us-east-1',
  dynamoWriteRequestUnit: {
    usd: 0.625 / 1e6,
    unit: 'on-demand write request unit (1 KB)',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  },
  dynamoReadRequestUnit: {
    usd: 0.125 / 1e6,
    unit: 'on-demand read request unit (4 KB strongly consistent)',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  },
  sqsRequest: {
    usd: 0.4 / 1e6,
    unit: 'standard-queue request, per 64 KB chunk of payload',
    source: 'https://aws.amazon.com/sqs/pricing/',
  },
  lambdaArmGbSecond: { usd: 0.0000133334, unit: 'Lambda arm64 GB-second', source: 'https://aws.amazon.com/lambda/pricing/' },
  lambdaRequest: { usd: 0.2 / 1e6, unit: 'Lambda request', source: 'https://aws.amazon.com/lambda/pricing/' },
  httpApiRequest: {
    usd: 1.0 / 1e6,
    unit: 'API Gateway HTTP API request, per 512 KB increment (first 300 million a month)',
    source: 'https://docs.aws.amazon.com/whitepapers/latest/best-practices-api-gateway-private-apis-integration/cost-optimization.html',
  },
  logsIngestedGb: { usd: 0.5, unit: 'CloudWatch Logs ingested GB (standard class)', source: 'https://aws.amazon.com/cloudwatch/pricing/' },
} as const satisfies { asOf: string; region: string } & Record<string, Price | string>;

export type Prices = typeof PRICES;

/** Sizes the deployed stack is configured with, and the assumptions the benches cannot measure. */
export interface Deployment {
  ingestMemoryGb: number;
  consumerMemoryGb: number;
  closeWorkerMemoryGb: number;
  consumerBatchSize: number;
  customersPerChunk: number;
  /** Log bytes per invocation: the platform's START/END/REPORT lines, one summary line, one EMF metrics blob. */
  logBytesPerInvocation: number;
}

/** What the benches measured. */
export interface Measured {
  /** bench:load, 1,000-event requests: body bytes, one lone request's duration, the ingest's own units per request. */
  ingest: { eventsPerRequest: number; bodyBytes: number; requestMs: number; wcuPerRequest: number; rcuPerRequest: number };
  /** The queue messages one request of `eventsPerRequest` events packs into, by their bytes. */
  messageBytes: number[];
  /** bench:ingest (a): the consumer's units per event and its throughput at `concurrency` invocations at once. */
  consumer: { wcuPerEvent: number; rcuPerEvent: number; eventsPerSecond: number; concurrency: number };
  /** bench:ingest (c), headline run: API calls through the emitter, the events they became, the write units. */
  emitter: { calls: number; events: number; wcu: number };
  /**
   * bench:nightly: one close of `customers` customers holding `events` events for the day (the first of a
   * period). With `period`, the mean customer-night over a whole 31-night period prices the DynamoDB units
   * and the events they serve instead, since the first night of a period writes the most (its user set).
   */
  close: {
    customers: number;
    events: number;
    wallSeconds: number;
    workers: number;
    wcu: number;
    rcu: number;
    period?: { wcuPerCustomerNight: number; rcuPerCustomerNight: number; eventsPerCustomerNight: number };
  };
}

export interface Part {
  part: string;
  usd: number;
}

const KB64 = 64 * 1024;
const KB512 = 512 * 1024;

/** SQS requests to carry one request's messages: sent in batches of 10, received and deleted in the consumer's batches. */
function sqsRequestsPerIngestRequest(messageBytes: number[], batch: number): number {
  const chunks = (bytes: number[]) => Math.max(1, Math.ceil(bytes.reduce((a, b) => a + b, 0) / KB64));
  let send = 0;
  for (let i = 0; i < messageBytes.length; i += 10) send += chunks(messageBytes.slice(i, i + 10));
  // Receives return the same payload (billed by its chunks) in batches of `batch`; deletes are tiny batch calls.
  let receive = 0;
  for (let i = 0; i < messageBytes.length; i += batch) receive += chunks(messageBytes.slice(i, i + batch));
  const deletes = Math.ceil(messageBytes.length / batch);
  return send + receive + deletes;
}

/** The close's units and events for its `customers`: the period's mean customer-night when measured, else the one night's. */
export function closeUnits(m: Measured['close']): { wcu: number; rcu: number; events: number } {
  if (!m.period) return { wcu: m.wcu, rcu: m.rcu, events: m.events };
  const n = m.customers;
  return { wcu: m.period.wcuPerCustomerNight * n, rcu: m.period.rcuPerCustomerNight * n, events: m.period.eventsPerCustomerNight * n };
}

/** The close's cost, part by part, for the customers measured. */
export function closeParts(m: Measured['close'], d: Deployment, p: Prices = PRICES): Part[] {
  const chunks = Math.ceil(m.customers / d.customersPerChunk);
  // Upper bound: every worker busy for the whole wall time.
  const gbSeconds = m.wallSeconds * m.workers * d.closeWorkerMemoryGb;
  const invocations = chunks + 1;
  const units = closeUnits(m);
  return [
    { part: 'close: DynamoDB writes', usd: units.wcu * p.dynamoWriteRequestUnit.usd },
    { part: 'close: DynamoDB reads', usd: units.rcu * p.dynamoReadRequestUnit.usd },
    { part: 'close: Lambda GB-s (workers)', usd: gbSeconds * p.lambdaArmGbSecond.usd },
    { part: 'close: Lambda requests', usd: invocations * p.lambdaRequest.usd },
    { part: 'close: SQS (send, receive, delete per chunk)', usd: chunks * 3 * p.sqsRequest.usd },
    { part: 'close: CloudWatch Logs', usd: ((invocations * d.logBytesPerInvocation) / 1e9) * p.logsIngestedGb.usd },
  ];
}

/** Per event through the pipeline behind the queue: consumer Lambda, its DynamoDB units, SQS, logs, the close's share. */
function behindQueueParts(m: Measured, d: Deployment, p: Prices, events: number, wcuTotal: number): Part[] {
  const requests = events / m.ingest.eventsPerRequest;
  const messages = requests * m.messageBytes.length;
  const invocations = messages / d.consumerBatchSize;
  const consumerSeconds = (events / m.consumer.eventsPerSecond) * m.consumer.concurrency;
  const rcu = events * m.consumer.rcuPerEvent;
  const closeUsd = closeParts(m.close, d, p).reduce((a, x) => a + x.usd, 0);
  return [
    {
      part: 'SQS requests (64 KB chunks)',
      usd: requests * sqsRequestsPerIngestRequest(m.messageBytes, d.consumerBatchSize) * p.sqsRequest.usd,
    },
    { part: 'consumer Lambda GB-s', usd: consumerSeconds * d.consumerMemoryGb * p.lambdaArmGbSecond.usd },
    { part: 'consumer Lambda requests', usd: invocations * p.lambdaRequest.usd },
    { part: 'consumer DynamoDB writes', usd: wcuTotal * p.dynamoWriteRequestUnit.usd },
    { part: 'consumer DynamoDB reads', usd: rcu * p.dynamoReadRequestUnit.usd },
    { part: 'consumer CloudWatch Logs', usd: ((invocations * d.logBytesPerInvocation) / 1e9) * p.logsIngestedGb.usd },
    { part: 'nightly close (share per event)', usd: (closeUsd / closeUnits(m.close).events) * events },
  ];
}

/** Raw events end to end, sent in requests of `eventsPerRequest` through API Gateway and the ingest function. */
export function perMillionEvents(m: Measured, d: Deployment, p: Prices = PRICES): Part[] {
  const events = 1e6;
  const requests = events / m.ingest.eventsPerRequest;
  return [
    { part: 'API Gateway HTTP API', usd: requests * Math.ceil(m.ingest.bodyBytes / KB512) * p.httpApiRequest.usd },
    { part: 'ingest Lambda GB-s', usd: requests * (m.ingest.requestMs / 1000) * d.ingestMemoryGb * p.lambdaArmGbSecond.usd },
    { part: 'ingest Lambda requests', usd: requests * p.lambdaRequest.usd },
    {
      part: 'ingest DynamoDB (key lookup, audit record)',
      usd: requests * (m.ingest.wcuPerRequest * p.dynamoWriteRequestUnit.usd + m.ingest.rcuPerRequest * p.dynamoReadRequestUnit.usd),
    },
    { part: 'ingest CloudWatch Logs', usd: ((requests * d.logBytesPerInvocation) / 1e9) * p.logsIngestedGb.usd },
    ...behindQueueParts(m, d, p, events, events * m.consumer.wcuPerEvent),
  ];
}

/**
 * A million API calls recorded by the emitter, which aggregates them into `events / calls` events a call
 * and sends them straight to the queue (its SQS transport, as bench:ingest (c) measured); the write units are its own.
 */
export function perMillionApiCallsViaEmitter(m: Measured, d: Deployment, p: Prices = PRICES): Part[] {
  const events = (1e6 * m.emitter.events) / m.emitter.calls;
  const wcu = (1e6 * m.emitter.wcu) / m.emitter.calls;
  return behindQueueParts(m, d, p, events, wcu);
}

export const total = (parts: readonly Part[]) => parts.reduce((a, x) => a + x.usd, 0);

/** Each part with its share of the total, largest first. */
export function shares(parts: readonly Part[]): (Part & { share: number })[] {
  const t = total(parts);
  return [...parts].map((x) => ({ ...x, share: t > 0 ? x.usd / t : 0 })).sort((a, b) => b.usd - a.usd);
}
