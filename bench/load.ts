/**
 * npm run bench:load — HTTP ingest under load on loopback, against a bare node:http server doing the
 * same JSON.parse of the same bodies in the same run, then the emitter recording a steady stream of API
 * calls in real time (its CPU, its sends and its heap). Prints figures and ends with one JSON line.
 *
 * Settings (environment): BENCH_LOAD_SECONDS per measured run (default 10), BENCH_LOAD_CONNECTIONS
 * (default 8), BENCH_EMITTER_SECONDS (default 300, the 5 minutes; 0 skips the emitter part),
 * BENCH_EMITTER_RATE calls per second (default 10,000).
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type UsageEvent, validateEvent } from '../contract/event-contract.js';
import { packMessages } from '../contract/queue-message.js';
import { startLocalStack } from '../local/stack.js';
import { rng, zipf } from './traffic-model.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_LOAD_CONNECTIONS ?? 8);
const EMITTER_SECONDS = Number(process.env.BENCH_EMITTER_SECONDS ?? 300);
const EMITTER_RATE = Number(process.env.BENCH_EMITTER_RATE ?? 10_000);
const SIZES = [100, 1000] as const;
const WARM_SECONDS = 2;
const fmt = (x: number, d = 3) => Number(x.toFixed(d));

/** The part of autocannon's result this bench reads (the package ships no types). */
interface CannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  throughput: { average: number };
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
}
type Cannon = (o: Record<string, unknown>) => Promise<CannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Cannon;

/**
 * A request body of `n` CloudEvents as a client sends them: Zipf customers, mostly API calls,
 * some user activity and file protection, times within the last hour; source "local", the key's binding.
 */
function body(n: number, seed: number): string {
  const random = rng(seed);
  const pick = zipf(200, 1.1, random);
  const now = Date.now();
  const events = Array.from({ length: n }, (_, i) => {
    const c = pick();
    const r = random();
    const base = {
      specversion: '1.0',
      source: 'local',
      subject: `cus-${String(c).padStart(4, '0')}`,
      id: `load-${seed}-${i}`,
      time: new Date(now - Math.floor(random() * 3_600_000)).toISOString(),
    };
    if (r < 0.85)
      return {
        ...base,
        type: 'com.serenity.api.call',
        data: {
          operation: ['encrypt', 'decrypt', 'share', 'rotate'][Math.floor(random() * 4)],
          apiKeyId: `key-${c}-${Math.floor(random() * 2)}`,
          clientIp: `10.${c % 250}.${Math.floor(random() * 4)}.${Math.floor(random() * 250)}`,
          country: 'US',
          quantity: 1 + Math.floor(random() * 50),
        },
      };
    if (r < 0.95) return { ...base, type: 'com.serenity.user.active', data: { userId: `user-${c}-${Math.floor(random() * 50)}` } };
    return { ...base, type: 'com.serenity.file.protected', data: { fileId: `file-${c}-${Math.floor(random() * 5000)}` } };
  });
  return JSON.stringify(events);
}

/** The baseline: node:http reading the body, JSON.parse, and answering with the accepted ids, nothing else. */
function startBareServer(): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const events = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string }[];
      res
        .writeHead(202, { 'content-type': 'application/json' })
        .end(JSON.stringify({ accepted: events.map((e) => ({ id: e.id })), rejected: [] }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** One autocannon run; it fires from its own worker thread, so it does not share the servers' event loop. */
async function fire(url: string, key: string, payload: string, seconds: number, connections: number) {
  const r = await autocannon({
    url: `${url}/v1/events`,
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/cloudevents-batch+json' },
    body: payload,
    connections,
    duration: seconds,
    workers: 1,
    timeout: 30,
  });
  if (r['2xx'] === 0) throw new Error(`${url}: no request completed in ${seconds} s; raise BENCH_LOAD_SECONDS`);
  if (r.errors || r.timeouts || r.non2xx)
    throw new Error(`${url}: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx responses under load`);
  return r;
}

/** Sends one body first and checks the answer: every event accepted, none rejected. */
async function check(url: string, key: string, payload: string, n: number) {
  const res = await fetch(`${url}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/cloudevents-batch+json' },
    body: payload,
  });
  const out = (await res.json()) as { accepted?: unknown[]; rejected?: unknown[] };
  if (res.status !== 202 || out.accepted?.length !== n || (out.rejected?.length ?? 0) !== 0)
    throw new Error(`${url} answered ${res.status} with ${out.accepted?.length} accepted, ${out.rejected?.length} rejected of ${n}`);
}

/**
 * The pure part of one request, timed alone in this process: JSON.parse, validating every event and packing
 * the queue messages (median of 30). The rest of a request is I/O and the local services sharing this process.
 */
function coreMs(payload: string): number {
  const times: number[] = [];
  for (let round = 0; round < 30; round++) {
    const t = performance.now();
    const now = Date.now();
    const valid: UsageEvent[] = [];
    for (const raw of JSON.parse(payload) as unknown[]) {
      const v = validateEvent(raw, { now, newId: () => 'unused', boundSource: 'local' });
      if (v.ok) valid.push(v.event);
    }
    packMessages(valid);
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[15]!;
}

interface Figures {
  requestsPerSecond: number;
  eventsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
}
const figures = (r: CannonResult, n: number): Figures => ({
  requestsPerSecond: fmt(r['2xx'] / r.duration, 1),
  eventsPerSecond: fmt((r['2xx'] * n) / r.duration, 0),
  p50Ms: r.latency.p50,
  p99Ms: r.latency.p99,
  requests: r['2xx'],
});

/** Runs bench/load-emitter.ts in a child process of its own, so its heap is the emitter's alone. */
function runEmitter(url: string, key: string): Promise<Record<string, unknown>> {
  const file = fileURLToPath(new URL('./load-emitter.ts', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', file], {
      env: {
        ...process.env,
        LOAD_EMITTER_URL: url,
        LOAD_EMITTER_KEY: key,
        BENCH_EMITTER_SECONDS: String(EMITTER_SECONDS),
        BENCH_EMITTER_RATE: String(EMITTER_RATE),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      process.stdout.write(c);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0) reject(new Error(`the emitter bench exited with ${code}`));
      else resolve(JSON.parse(last) as Record<string, unknown>);
    });
  });
}

async function main() {
  console.log(
    `load: ${SECONDS} s per run, ${CONNECTIONS} connections, requests of ${SIZES.join(' and ')} events; the local stack's HTTP ingest (real handler, DynamoDB Local, local SQS, IAM enforced; no consumer polling) vs a bare node:http server`,
  );
  const stack = await startLocalStack({ noPoller: true, consoleDir: false });
  const bare = await startBareServer();
  const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}`;
  try {
    const perSize: Record<string, unknown>[] = [];
    for (const n of SIZES) {
      const payload = body(n, n);
      await check(stack.url, stack.ingestKey, payload, n);
      await check(bareUrl, 'unused', payload, n);
      // Each server warms on the same body before it is timed; they take turns, so background load falls on both.
      await fire(stack.url, stack.ingestKey, payload, WARM_SECONDS, CONNECTIONS);
      await fire(bareUrl, 'unused', payload, WARM_SECONDS, CONNECTIONS);
      const before = stack.capacity.snapshot();
      const ingest = figures(await fire(stack.url, stack.ingestKey, payload, SECONDS, CONNECTIONS), n);
      const wcu = stack.capacity.write - before.write;
      const rcu = stack.capacity.read - before.read;
      const baseline = figures(await fire(bareUrl, 'unused', payload, SECONDS, CONNECTIONS), n);
      // One connection: what one request takes alone, the closest local figure to an ingest invocation's duration.
      const lone = figures(await fire(stack.url, stack.ingestKey, payload, Math.max(2, Math.ceil(SECONDS / 3)), 1), n);
      const ratio = ingest.eventsPerSecond / baseline.eventsPerSecond;
      const core = coreMs(payload);
      console.log(
        `\n${n} events per request (${(Buffer.byteLength(payload) / 1024).toFixed(0)} KiB)\n` +
          `  ingest: ${ingest.eventsPerSecond} events/s (${ingest.requestsPerSecond} req/s), p50 ${ingest.p50Ms} ms, p99 ${ingest.p99Ms} ms; ${fmt(wcu / ingest.requests, 2)} WCU and ${fmt(rcu / ingest.requests, 2)} RCU per request\n` +
          `  bare node:http + JSON.parse: ${baseline.eventsPerSecond} events/s (${baseline.requestsPerSecond} req/s), p50 ${baseline.p50Ms} ms, p99 ${baseline.p99Ms} ms\n` +
          `  ratio ingest / bare: ${fmt(ratio, 3)}; one request alone: p50 ${lone.p50Ms} ms, p99 ${lone.p99Ms} ms, of which parse + validate + pack ${fmt(core, 1)} ms`,
      );
      perSize.push({
        eventsPerRequest: n,
        bodyBytes: Buffer.byteLength(payload),
        ingest,
        bare: baseline,
        vsBareServer: fmt(ratio, 3),
        loneRequestP50Ms: lone.p50Ms,
        loneRequestP99Ms: lone.p99Ms,
        parseValidatePackMs: fmt(core, 2),
        wcuPerRequest: fmt(wcu / ingest.requests, 3),
        rcuPerRequest: fmt(rcu / ingest.requests, 3),
      });
    }
    bare.close();

    let emitter: Record<string, unknown> | null = null;
    if (EMITTER_SECONDS > 0) {
      console.log(
        `\nemitter: ${EMITTER_RATE} apiCall()s per second for ${EMITTER_SECONDS} s in real time, in a child process, sending over HTTP to the same ingest`,
      );
      emitter = await runEmitter(stack.url, stack.ingestKey);
    }

    const headline = perSize.find((p) => p.eventsPerRequest === 1000) as {
      ingest: Figures;
      vsBareServer: number;
      loneRequestP50Ms: number;
    };
    console.log(
      JSON.stringify({
        eventsPerSecond: headline.ingest.eventsPerSecond,
        p50Ms: headline.ingest.p50Ms,
        p99Ms: headline.ingest.p99Ms,
        vsBareServer: headline.vsBareServer,
        headlineEventsPerRequest: 1000,
        ingestLoneRequestP50Ms: headline.loneRequestP50Ms,
        perSize,
        emitter,
        settings: { seconds: SECONDS, connections: CONNECTIONS, emitterSeconds: EMITTER_SECONDS, emitterRate: EMITTER_RATE },
      }),
    );
  } finally {
    bare.close();
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
