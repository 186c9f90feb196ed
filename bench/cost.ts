/**
 * npm run bench:cost — the AWS cost of the pipeline from what bench:ingest, bench:nightly and bench:load
 * measure (capacity units, requests, durations, payload sizes), at the list prices of bench/cost-model.ts.
 * Prints each part's share and ends with one JSON line.
 *
 * Each bench runs as a child process and its final JSON line is read. To reuse a saved run instead, point
 * BENCH_COST_INGEST_JSON, BENCH_COST_NIGHTLY_JSON or BENCH_COST_LOAD_JSON at a file holding its output.
 * The children run smaller than their defaults unless told otherwise: BENCH_EVENTS (ingest, default here
 * 20,000), BENCH_SIZES (nightly, default here 1000), BENCH_LOAD_SECONDS (load, default here 5).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { packMessages } from '../contract/queue-message.js';
import { CLOSE_FUNCTIONS, CLOSE_QUEUE, CONSUMER, EVENT_QUEUE } from '../functions/resources.js';
import {
  closeParts,
  type Deployment,
  type Measured,
  type Part,
  PRICES,
  perMillionApiCallsViaEmitter,
  perMillionEvents,
  shares,
  total,
} from './cost-model.js';
import { rawEvents } from './traffic-model.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const fmt = (x: number, d = 3) => Number(x.toFixed(d));
const CONSUMER_CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 2);

/** The last line of a bench's output that parses as a JSON object. */
function lastJson(output: string, name: string): Record<string, unknown> {
  const lines = output.trim().split('\n').reverse();
  for (const l of lines) {
    if (!l.startsWith('{') || l.startsWith('{"level"')) continue;
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {}
  }
  throw new Error(`${name} printed no JSON line`);
}

/** Runs one bench as a child process (or reads a saved run) and returns its final JSON line. */
function figuresOf(name: string, file: string, savedEnv: string, env: Record<string, string>): Promise<Record<string, unknown>> {
  const saved = process.env[savedEnv];
  if (saved) {
    console.log(`${name}: read from ${saved} (${savedEnv})`);
    return Promise.resolve(lastJson(readFileSync(saved, 'utf8'), name));
  }
  const settings = Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  console.log(`${name}: running ${settings} tsx ${file}`);
  const path = fileURLToPath(new URL(file, import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`${name} exited with ${code}: ${err.trim().split('\n').slice(-5).join('\n')}`));
      else
        try {
          resolve(lastJson(out, name));
        } catch (e) {
          reject(e);
        }
    });
  });
}

const num = (o: Record<string, unknown>, k: string, name: string): number => {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${name}'s JSON line has no number "${k}"`);
  return v;
};

function print(title: string, parts: Part[]) {
  console.log(`\n${title}: $${fmt(total(parts), 4)}`);
  for (const p of shares(parts)) console.log(`  ${(p.share * 100).toFixed(1).padStart(5)} %  $${p.usd.toFixed(5).padStart(9)}  ${p.part}`);
}

async function main() {
  const ingestEnv = { BENCH_EVENTS: process.env.BENCH_EVENTS ?? '20000', BENCH_CONCURRENCY: String(CONSUMER_CONCURRENCY) };
  const nightlyEnv = { BENCH_SIZES: process.env.BENCH_SIZES ?? '1000', BENCH_PERIOD_CUSTOMERS: process.env.BENCH_PERIOD_CUSTOMERS ?? '50' };
  const loadEnv = { BENCH_LOAD_SECONDS: process.env.BENCH_LOAD_SECONDS ?? '5', BENCH_EMITTER_SECONDS: '0' };
  // One after another: they share this machine's cores.
  const ingest = await figuresOf('bench:ingest', './ingest.ts', 'BENCH_COST_INGEST_JSON', ingestEnv);
  const nightly = await figuresOf('bench:nightly', './nightly.ts', 'BENCH_COST_NIGHTLY_JSON', nightlyEnv);
  const load = await figuresOf('bench:load', './load.ts', 'BENCH_COST_LOAD_JSON', loadEnv);

  const runs = nightly.runs as Record<string, number>[] | undefined;
  const closeRun = runs?.reduce((a, b) => (b.customers! > a.customers! ? b : a));
  if (!closeRun) throw new Error('bench:nightly printed no runs');
  const workers = typeof nightly.workers === 'number' ? nightly.workers : 4;
  const perSize = load.perSize as Record<string, unknown>[] | undefined;
  const big = perSize?.find((p) => p.eventsPerRequest === 1000);
  if (!big) throw new Error('bench:load printed no figures for 1,000-event requests');
  const headline = (ingest.emitterRuns as Record<string, number>[] | undefined)?.[0];
  if (!headline) throw new Error('bench:ingest printed no emitter runs');

  // The period's mean customer-night (bench:nightly's 31-night part), when it ran.
  const periodMean = (nightly.period as { mean?: Record<string, unknown> } | null | undefined)?.mean;
  // The queue messages a 1,000-event request becomes, packed exactly as ingest packs them.
  const messageBytes = packMessages(rawEvents(1000, Date.now())).map((m) => Buffer.byteLength(m.body));
  const measured: Measured = {
    ingest: {
      eventsPerRequest: 1000,
      bodyBytes: num(big, 'bodyBytes', 'bench:load'),
      requestMs: num(big, 'loneRequestP50Ms', 'bench:load'),
      wcuPerRequest: num(big, 'wcuPerRequest', 'bench:load'),
      rcuPerRequest: num(big, 'rcuPerRequest', 'bench:load'),
    },
    messageBytes,
    consumer: {
      wcuPerEvent: num(ingest, 'wcuPerEvent', 'bench:ingest'),
      rcuPerEvent: num(ingest, 'rcuPerEvent', 'bench:ingest'),
      eventsPerSecond: num(ingest, 'eventsPerSecond', 'bench:ingest'),
      concurrency: CONSUMER_CONCURRENCY,
    },
    emitter: { calls: headline.calls!, events: headline.events!, wcu: headline.wcuPerApiCall! * headline.calls! },
    close: {
      customers: num(closeRun, 'customers', 'bench:nightly'),
      events: num(closeRun, 'events', 'bench:nightly'),
      wallSeconds: num(closeRun, 'wallSeconds', 'bench:nightly'),
      workers,
      wcu: num(closeRun, 'wcu', 'bench:nightly'),
      rcu: num(closeRun, 'rcu', 'bench:nightly'),
      ...(periodMean
        ? {
            period: {
              wcuPerCustomerNight: num(periodMean, 'wcuPerCustomerNight', 'bench:nightly'),
              rcuPerCustomerNight: num(periodMean, 'rcuPerCustomerNight', 'bench:nightly'),
              eventsPerCustomerNight: num(periodMean, 'eventsPerCustomerNight', 'bench:nightly'),
            },
          }
        : {}),
    },
  };
  const deployment: Deployment = {
    ingestMemoryGb: 0.5,
    consumerMemoryGb: CONSUMER.memoryMb / 1024,
    closeWorkerMemoryGb: CLOSE_FUNCTIONS.workerMemoryMb / 1024,
    consumerBatchSize: EVENT_QUEUE.batchSize,
    customersPerChunk: CLOSE_QUEUE.customersPerChunk,
    logBytesPerInvocation: 1200,
  };

  console.log(`\nprices: ${PRICES.region} list prices as of ${PRICES.asOf} (bench/cost-model.ts)`);
  console.log(
    `measured: a 1,000-event request is ${measured.ingest.bodyBytes} B and takes ${measured.ingest.requestMs} ms alone; it packs into ${messageBytes.length} queue message(s) of ${messageBytes.join(', ')} B`,
  );
  console.log(
    `          the consumer: ${measured.consumer.wcuPerEvent} WCU and ${measured.consumer.rcuPerEvent} RCU per event (each BatchGetItem key metered at AWS's 4 KB minimum), ${measured.consumer.eventsPerSecond} events/s at ${CONSUMER_CONCURRENCY} invocations`,
  );
  console.log(
    `          the emitter: ${headline.calls} API calls -> ${headline.events} events, ${headline.wcuPerApiCall} WCU per call; the close: ${measured.close.customers} customers, ${measured.close.events} events, ${measured.close.wcu} WCU, ${measured.close.rcu} RCU, ${measured.close.wallSeconds} s on ${workers} workers`,
  );

  const events = perMillionEvents(measured, deployment);
  const apiCalls = perMillionApiCallsViaEmitter(measured, deployment);
  const close = closeParts(measured.close, deployment);
  const scale = 10_000 / measured.close.customers;
  const close10k = close.map((p) => ({ ...p, usd: p.usd * scale }));
  print('per million raw events, end to end (target <= $1.00; the floor, one write per event, is $0.625)', events);
  console.log(
    `  before the close's share (ingest, queue, consumer): $${fmt(total(events.filter((p) => !p.part.startsWith('nightly close'))), 4)}; the close's share depends on the events per customer-day (${fmt(measured.close.events / measured.close.customers, 1)} in bench:nightly's day)`,
  );
  print('per million API calls through the emitter (target <= $0.02)', apiCalls);
  if (measured.close.period)
    console.log(
      `  the close is priced by the mean customer-night of a 31-night period: ${measured.close.period.wcuPerCustomerNight} WCU, ${measured.close.period.rcuPerCustomerNight} RCU, ${measured.close.period.eventsPerCustomerNight} events (day 1 alone: ${fmt(measured.close.wcu / measured.close.customers, 2)} WCU)`,
    );
  print(
    `nightly close per 10,000 customers${scale === 1 ? '' : ` (the ${measured.close.customers}-customer close scaled linearly)`}`,
    close10k,
  );

  const round = (parts: Part[]) => Object.fromEntries(shares(parts).map((p) => [p.part, { usd: fmt(p.usd, 6), share: fmt(p.share, 4) }]));
  console.log(
    JSON.stringify({
      costPerMillionEvents: fmt(total(events), 4),
      costPerMillionEventsBeforeClose: fmt(total(events.filter((p) => !p.part.startsWith('nightly close'))), 4),
      costPerMillionApiCallsViaEmitter: fmt(total(apiCalls), 4),
      closeCostPer10kCustomers: fmt(total(close10k), 4),
      targets: { costPerMillionEvents: 1.0, costPerMillionApiCallsViaEmitter: 0.02 },
      pricesAsOf: PRICES.asOf,
      parts: { perMillionEvents: round(events), perMillionApiCallsViaEmitter: round(apiCalls), closePer10kCustomers: round(close10k) },
      measured,
      deployment,
    }),
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
