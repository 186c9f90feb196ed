/**
 * The simulated customers' history: what a customer registered with a past start did before today, sent
 * through the real emitter and ingest on its first registration, so the fraud rules have a baseline and
 * `sim-spiky`'s incident yesterday stands out at the first `meter nightly`.
 */

import { rng } from '../bench/traffic-model.js';
import { type Clock, DAY_MS, HOUR_MS, MINUTE_MS, startOfUtcDay } from '../contract/clock.js';
import { TransientError } from '../contract/errors.js';
import { assertNever } from '../contract/meters.js';
import { createUsageEmitter, type EmitterStats } from '../emitter/index.js';
import { buildCustomer, type CustomerInput } from '../functions/core/shared/customers.js';
import type { Registry } from '../functions/core/shared/ports.js';
import {
  callsPerSecond,
  fileOp,
  fileOpsPerSecond,
  ipOf,
  KEYS_PER_CUSTOMER,
  OPERATIONS,
  poissonSampler,
  SIM_CUSTOMERS,
  type SimCustomer,
  type SimHistory,
  userTouchesPerSecond,
} from './traffic.js';

/** 00:00 UTC of the first day of a customer's history, when it is registered at `now`. */
export function historyStart(c: SimCustomer & { history: SimHistory }, now: number): number {
  return startOfUtcDay(now) - c.history.days * DAY_MS;
}

/**
 * A simulated customer's registration at `now`. One that brings history gives its start, and its billing
 * period is anchored there, as a subscription's is by default: its history is then in the open period, not
 * in an invoiced one that Stripe would refuse.
 */
export function simRegistration(c: SimCustomer, now: number): CustomerInput {
  if (!c.history) return { id: c.id, name: c.name };
  const start = new Date(historyStart({ ...c, history: c.history }, now));
  return { id: c.id, name: c.name, startedAt: start.toISOString(), anchorDay: start.getUTCDate() };
}

/**
 * Registers the simulated customers not registered yet, as `npm start` does, and sends the history of those
 * that bring one (`sendHistory`). Customers already registered (a restart on the same data) are left alone, so
 * no history is sent twice. Returns the ids it registered.
 */
export async function registerSimCustomers(o: {
  registry: Pick<Registry, 'customers' | 'putCustomer'>;
  clock: Clock;
  endpoint: string;
  apiKey: string;
  speed?: number;
  seed?: number;
  customers?: SimCustomer[];
}): Promise<string[]> {
  const customers = o.customers ?? SIM_CUSTOMERS;
  const known = await o.registry.customers(customers.map((c) => c.id));
  const added: string[] = [];
  for (const c of customers.filter((x) => !known.has(x.id))) {
    const now = o.clock.now();
    await o.registry.putCustomer(buildCustomer(simRegistration(c, now), undefined, now));
    if (c.history) await sendHistory({ ...o, customer: { ...c, history: c.history }, now });
    added.push(c.id);
  }
  return added;
}

/** One thing a simulated customer did in its history, at `at` (epoch ms), as the emitter records it. */
export type SimAction = { at: number } & (
  | { kind: 'calls'; operation: string; apiKeyId: string; clientIp: string; quantity: number }
  | { kind: 'user'; userId: string }
  | { kind: 'protect' | 'unprotect'; fileId: string }
);

/**
 * A simulated customer's history, from `historyStart` to `now`, oldest first, as a migrated customer's
 * backfill would hold it: each hour's calls as one record per key (with its quantity), the users active in
 * each hour, and each day's net changes of protection, each at the hour of the file's last change that day.
 * Volumes follow the same rhythm and `speed` as `startTraffic`, so the live traffic carries on where the
 * history ends; on the day before `now`, the incident's extra calls.
 */
export function historyActions(c: SimCustomer & { history: SimHistory }, now: number, speed = 0.1, seed = 7): SimAction[] {
  const random = rng(seed);
  const poisson = poissonSampler(random);
  const incident = incidentWindow(c, now);
  const files = new Set<number>();
  const out: SimAction[] = [];
  for (let day = historyStart(c, now); day < now; day += DAY_MS) {
    const atDayStart = new Set(files);
    const lastChange = new Map<number, number>();
    for (let hour = day; hour < Math.min(day + DAY_MS, now); hour += HOUR_MS) {
      // Each minute's rate, summed over the part of the hour that has passed.
      const minutes = Array.from({ length: Math.min(60, Math.ceil((now - hour) / MINUTE_MS)) }, (_, m) => hour + (m + 0.5) * MINUTE_MS);
      const sum = (rate: (at: number) => number) => minutes.reduce((a, at) => a + rate(at) * 60, 0);
      const calls = sum((at) => callsPerSecond(c, at, speed)) / KEYS_PER_CUSTOMER;
      for (let k = 0; k < KEYS_PER_CUSTOMER; k++) {
        const operation = OPERATIONS[Math.floor(random() * OPERATIONS.length)]!;
        out.push({ at: hour, kind: 'calls', operation, apiKeyId: `${c.id}-key-${k}`, clientIp: ipOf(c, random), quantity: poisson(calls) });
      }
      if (incident && hour >= incident.from && hour < incident.to) {
        const extra = c.history.incident!.extraCallsPerMinute * speed * 10 * minutes.length;
        const { operation } = c.history.incident!;
        out.push({ at: hour, kind: 'calls', operation, apiKeyId: `${c.id}-key-0`, clientIp: ipOf(c, random), quantity: poisson(extra) });
      }
      // A user touched `touches / users` times in the hour on average is active in it with probability 1 - e^-that.
      const touches = sum((at) => userTouchesPerSecond(c, at)) / c.users;
      for (let u = 0; u < c.users; u++)
        if (random() < 1 - Math.exp(-touches)) out.push({ at: hour, kind: 'user', userId: `${c.id}-user-${u}` });
      for (let i = poisson(sum((at) => fileOpsPerSecond(c, at, speed))); i > 0; i--) lastChange.set(fileOp(c, files, random).file, hour);
    }
    for (const [file, at] of lastChange)
      if (files.has(file) !== atDayStart.has(file))
        out.push({ at, kind: files.has(file) ? 'protect' : 'unprotect', fileId: `${c.id}-file-${file}` });
  }
  return out.sort((a, b) => a.at - b.at);
}

/**
 * Sends a simulated customer's history (`historyActions`) through the real emitter and ingest, which takes
 * it since it lies within 35 days. Throws a TransientError when not every event was accepted.
 */
export async function sendHistory(o: {
  endpoint: string;
  apiKey: string;
  customer: SimCustomer & { history: SimHistory };
  now: number;
  speed?: number;
  seed?: number;
}): Promise<EmitterStats> {
  const c = o.customer;
  const actions = historyActions(c, o.now, o.speed, o.seed);
  let t = actions[0]?.at ?? o.now;
  const clock = { now: () => t };
  const emitter = createUsageEmitter({ endpoint: o.endpoint, apiKey: o.apiKey, source: 'local', clock, shutdownTimeoutMs: 120_000 });
  for (const a of actions) {
    t = a.at;
    switch (a.kind) {
      case 'calls':
        if (a.quantity > 0)
          emitter.apiCall(c.id, {
            operation: a.operation,
            apiKeyId: a.apiKeyId,
            clientIp: a.clientIp,
            country: c.country,
            region: c.region,
            quantity: a.quantity,
          });
        break;
      case 'user':
        emitter.userActive(c.id, a.userId);
        break;
      case 'protect':
        emitter.fileProtected(c.id, a.fileId);
        break;
      case 'unprotect':
        emitter.fileUnprotected(c.id, a.fileId);
        break;
      default:
        assertNever(a);
    }
  }
  await emitter.shutdown();
  const stats = emitter.stats();
  if (stats.pending > 0 || stats.rejected.total > 0 || stats.dropped.total > 0)
    throw new TransientError(
      `the history of ${c.id} was not fully delivered: ${stats.accepted} events accepted, ${stats.rejected.total} rejected, ${stats.dropped.total} dropped, ${stats.pending} pending`,
      { customerId: c.id, rejected: stats.rejected.byReason, dropped: stats.dropped.byReason },
    );
  return stats;
}

/** The UTC span of a customer's incident, on the day before `now` (none without one). */
export function incidentWindow(c: SimCustomer, now: number): { from: number; to: number } | undefined {
  const incident = c.history?.incident;
  if (!incident) return undefined;
  const from = startOfUtcDay(now) - DAY_MS + (incident.fromLocalHour - c.utcOffset) * HOUR_MS;
  return { from, to: from + incident.hours * HOUR_MS };
}
