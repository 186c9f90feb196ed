/**
 * Part (c) of bench:ingest: what the emitter costs its caller, and what its aggregated events cost
 * in DynamoDB once they have gone through SQS and the real consumer.
 */

import { fixedClock } from '../contract/clock.js';
import { createUsageEmitter, type Transport } from '../emitter/index.js';
import { buildCustomer } from '../functions/core/shared/customers.js';
import { startLocalStack } from '../local/stack.js';
import { rng, zipf } from './traffic-model.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Median ns per apiCall vs per plain Map increment, measured in interleaved rounds. */
function hotPath() {
  const customers = Array.from({ length: 50 }, (_, i) => `cus-${i}`);
  const calls = customers.flatMap((c, i) =>
    ['files.encrypt', 'files.decrypt', 'keys.rotate'].map(
      (operation) => [c, { operation, apiKeyId: `${c}-k`, clientIp: `198.51.${i}.${7 + (i % 3)}`, country: 'DE' }] as const,
    ),
  );
  const mapKeys = calls.map(([c, o]) => `${c}|${o.operation}|${o.apiKeyId}|${o.clientIp}|${o.country}`);
  const transport: Transport = { send: async (events) => ({ accepted: events.map((e) => e.id), rejected: [] }) };
  // A fixed clock keeps every call in one minute, so aggregates are reused as in steady state.
  const emitter = createUsageEmitter({
    source: 'bench',
    transport,
    clock: fixedClock(Date.now()),
    flushIntervalMs: 3_600_000,
    maxPendingEvents: 1_000_000,
  });
  const map = new Map<string, number>();
  const perRound = 20_000;
  const emitterNs: number[] = [];
  const mapNs: number[] = [];
  let sink = 0;
  for (let round = 0; round < 120; round++) {
    let t = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) {
      const [c, o] = calls[i % calls.length]!;
      emitter.apiCall(c, o);
    }
    emitterNs.push(Number(process.hrtime.bigint() - t) / perRound);
    t = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) {
      const k = mapKeys[i % mapKeys.length]!;
      map.set(k, (map.get(k) ?? 0) + 1);
    }
    mapNs.push(Number(process.hrtime.bigint() - t) / perRound);
    sink += map.size;
  }
  const recorded = emitter.stats().recorded;
  if (recorded !== 120 * perRound || sink === 0) throw new Error(`emitter recorded ${recorded} calls, expected ${120 * perRound}`);
  // The first rounds warm the JIT; the median ignores them.
  return { apiCallNs: median(emitterNs.slice(20)), mapNs: median(mapNs.slice(20)) };
}

/**
 * Simulated minutes of API calls at a steady rate through the emitter's SQS transport, the real
 * local queue and the real consumer; write units as DynamoDB reports them.
 */
async function endToEnd(o: Scenario) {
  const stack = await startLocalStack({ visibilityTimeoutSeconds: 30, pollerConcurrency: 2 });
  try {
    const s = stack.services;
    const ids = Array.from({ length: o.customers }, (_, i) => `api-cus-${i}`);
    for (const id of ids) await s.registry.putCustomer(buildCustomer({ id }, undefined, Date.now()));
    const clock = fixedClock(Date.now() - o.minutes * 60_000);
    const emitter = createUsageEmitter({ source: 'bench', queueUrl: s.config.queueUrl, sqs: s.clients.sqs, clock, flushIntervalMs: 100 });
    const random = rng(11);
    const pick = zipf(o.customers, 1.1, random);
    const ops = ['files.encrypt', 'files.decrypt', 'keys.rotate', 'shares.create'];
    const before = stack.capacity.snapshot();
    let calls = 0;
    for (let second = 0; second < o.minutes * 60; second++) {
      for (let i = 0; i < o.callsPerSecond; i++) {
        const c = pick();
        // A customer's backend calls with one or two keys, each from its own /24, as servers in a VPC do.
        const key = Math.floor(random() * 2);
        emitter.apiCall(ids[c]!, {
          operation: ops[Math.floor(random() * ops.length)],
          apiKeyId: `k${c}-${key}`,
          clientIp: `10.${c % 250}.${key}.${Math.floor(random() * 200)}`,
          country: 'US',
        });
        calls++;
      }
      clock.advance(1000);
      // Let the emitter's own timer and sends run, as they would between requests.
      await new Promise((r) => setImmediate(r));
    }
    await emitter.shutdown();
    await stack.drain(300_000);
    const st = emitter.stats();
    return { calls, events: st.accepted, wcu: stack.capacity.write - before.write, dropped: st.dropped.total };
  } finally {
    await stack.stop();
  }
}

interface Scenario {
  customers: number;
  callsPerSecond: number;
  minutes: number;
}

/**
 * The headline: one API server instance serving 100 customers (Zipf) at 1,000 calls/s, four operations,
 * one or two keys per customer. The others show how the cost per call falls as calls per key and minute rise.
 */
export const EMITTER_SCENARIOS: Scenario[] = [
  { customers: 100, callsPerSecond: 1000, minutes: 5 },
  { customers: 200, callsPerSecond: 200, minutes: 5 },
  { customers: 100, callsPerSecond: 5000, minutes: 5 },
];

/** Runs both parts of (c). */
export async function benchEmitter() {
  const { apiCallNs, mapNs } = hotPath();
  const runs = [];
  for (const sc of EMITTER_SCENARIOS) {
    const e2e = await endToEnd(sc);
    if (e2e.dropped) throw new Error(`emitter dropped ${e2e.dropped} events`);
    runs.push({ ...sc, calls: e2e.calls, events: e2e.events, wcu: e2e.wcu, wcuPerApiCall: e2e.wcu / e2e.calls });
  }
  return { apiCallNs, mapNs, costRatio: apiCallNs / mapNs, runs, headline: runs[0]! };
}
