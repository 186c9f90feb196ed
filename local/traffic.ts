import { rng } from '../bench/traffic-model.js';
import { type Clock, systemClock } from '../contract/clock.js';
import type { UsageEmitter } from '../emitter/index.js';
import { createUsageEmitter } from '../emitter/index.js';

/** One simulated Serenity customer: its size, home time zone and habits. */
export interface SimCustomer {
  id: string;
  name: string;
  /** API calls per minute at the daily peak on a weekday. */
  peakCallsPerMinute: number;
  users: number;
  files: number;
  /** Hours east of UTC of its main office. */
  utcOffset: number;
  country: string;
  region: string;
  /** Share of weekday traffic that remains at weekends. */
  weekendFactor: number;
  /** Usage it had before it was registered here (a customer migrated with its history); none for a new account. */
  history?: SimHistory;
}

/**
 * What a simulated customer brings: `days` whole UTC days of usage before the day it is registered, sent
 * through ingest at registration (`sendHistory`), with its start, so the fraud rules judge it as the
 * established account it is, against its own baseline.
 */
export interface SimHistory {
  days: number;
  /**
   * On the day before registration (the day the first `meter nightly` closes), one of the customer's own
   * sync jobs stuck in a retry loop: `extraCallsPerMinute` more calls, with its usual key and network,
   * from `fromLocalHour` for `hours`.
   */
  incident?: { fromLocalHour: number; hours: number; extraCallsPerMinute: number; operation: string };
}

export const SIM_CUSTOMERS: SimCustomer[] = [
  {
    id: 'acme-corp',
    name: 'Acme Corp',
    peakCallsPerMinute: 1200,
    users: 400,
    files: 20_000,
    utcOffset: -5,
    country: 'US',
    region: 'US-NY',
    weekendFactor: 0.2,
  },
  {
    id: 'globex',
    name: 'Globex',
    peakCallsPerMinute: 600,
    users: 150,
    files: 8_000,
    utcOffset: 1,
    country: 'DE',
    region: 'DE-BE',
    weekendFactor: 0.3,
  },
  {
    id: 'initech',
    name: 'Initech',
    peakCallsPerMinute: 240,
    users: 60,
    files: 3_000,
    utcOffset: -8,
    country: 'US',
    region: 'US-CA',
    weekendFactor: 0.1,
  },
  {
    id: 'umbrella',
    name: 'Umbrella Health',
    peakCallsPerMinute: 900,
    users: 300,
    files: 50_000,
    utcOffset: 9,
    country: 'JP',
    region: 'JP-13',
    weekendFactor: 0.6,
  },
  {
    id: 'hooli',
    name: 'Hooli',
    peakCallsPerMinute: 90,
    users: 25,
    files: 900,
    utcOffset: 0,
    country: 'GB',
    region: 'GB-ENG',
    weekendFactor: 0.4,
  },
  {
    // Built to be flagged at the first `meter nightly`: three weeks of history, then yesterday's runaway job.
    id: 'sim-spiky',
    name: 'Spiky Labs',
    peakCallsPerMinute: 60,
    users: 6,
    files: 40,
    utcOffset: 2,
    country: 'FI',
    region: 'FI-18',
    weekendFactor: 0.3,
    history: { days: 21, incident: { fromLocalHour: 15, hours: 3, extraCallsPerMinute: 400, operation: 'files.decrypt' } },
  },
];

export const OPERATIONS = ['files.encrypt', 'files.decrypt', 'keys.rotate', 'shares.create', 'policies.read'];
export const KEYS_PER_CUSTOMER = 2;

/**
 * The share of peak traffic at a UTC instant for a customer: a working-day curve in its own time zone
 * (quiet at night, ramping from 07:00, peaking 10:00-16:00) and lower at weekends.
 */
export function rhythm(c: SimCustomer, utcMs: number): number {
  const local = new Date(utcMs + c.utcOffset * 3_600_000);
  const hour = local.getUTCHours() + local.getUTCMinutes() / 60;
  const daily = 0.05 + 0.95 * Math.exp(-(((hour - 13) / 3.5) ** 2));
  const weekend = local.getUTCDay() === 0 || local.getUTCDay() === 6;
  return daily * (weekend ? c.weekendFactor : 1);
}

// The rates of one customer at an instant, per second. `speed` scales calls and files (0.1 is the customers'
// own rate); user activity is not scaled, since the emitter keeps one event per user and hour anyway.
export const callsPerSecond = (c: SimCustomer, t: number, speed: number) => ((c.peakCallsPerMinute * rhythm(c, t)) / 60) * speed * 10;
export const userTouchesPerSecond = (c: SimCustomer, t: number) => c.users * rhythm(c, t) * 0.02;
export const fileOpsPerSecond = (c: SimCustomer, t: number, speed: number) => c.files * rhythm(c, t) * 0.0005 * speed * 10;

/** The customer's own keys and office network (one /24 per customer). */
const keyOf = (c: SimCustomer, random: () => number) => `${c.id}-key-${Math.floor(random() * KEYS_PER_CUSTOMER)}`;
export const ipOf = (c: SimCustomer, random: () => number) => `198.51.${(c.utcOffset + 20) % 256}.${Math.floor(random() * 200)}`;

/** One file operation: a protected file is unprotected three times in ten, any other file is protected. */
export function fileOp(c: SimCustomer, files: Set<number>, random: () => number): { file: number; protect: boolean } {
  const file = Math.floor(random() * c.files);
  if (files.has(file) && random() < 0.3) {
    files.delete(file);
    return { file, protect: false };
  }
  files.add(file);
  return { file, protect: true };
}

export interface TrafficGenerator {
  emitter: UsageEmitter;
  stop(): Promise<void>;
}

/**
 * Sends simulated usage through the real emitter to the ingest endpoint, once a second.
 * `speed` scales the volume so that a laptop shows lively numbers without melting.
 */
export function startTraffic(o: {
  endpoint: string;
  apiKey: string;
  speed?: number;
  seed?: number;
  customers?: SimCustomer[];
  clock?: Clock;
}): TrafficGenerator {
  const customers = o.customers ?? SIM_CUSTOMERS;
  const random = rng(o.seed ?? Date.now());
  const speed = o.speed ?? 0.1;
  const clock = o.clock ?? systemClock;
  const emitter = createUsageEmitter({ endpoint: o.endpoint, apiKey: o.apiKey, source: 'local', flushIntervalMs: 2000, clock });
  const protectedFiles = new Map(customers.map((c) => [c.id, new Set<number>()]));
  const poisson = poissonSampler(random);
  const tick = () => {
    const now = clock.now();
    for (const c of customers) {
      for (let i = poisson(callsPerSecond(c, now, speed)); i > 0; i--) {
        emitter.apiCall(c.id, {
          operation: OPERATIONS[Math.floor(random() * OPERATIONS.length)],
          apiKeyId: keyOf(c, random),
          clientIp: ipOf(c, random),
          country: c.country,
          region: c.region,
        });
      }
      const activeUsers = poisson(userTouchesPerSecond(c, now));
      for (let i = 0; i < activeUsers; i++) emitter.userActive(c.id, `${c.id}-user-${Math.floor(random() * c.users)}`);
      const files = protectedFiles.get(c.id)!;
      for (let i = poisson(fileOpsPerSecond(c, now, speed)); i > 0; i--) {
        const op = fileOp(c, files, random);
        if (op.protect) emitter.fileProtected(c.id, `${c.id}-file-${op.file}`);
        else emitter.fileUnprotected(c.id, `${c.id}-file-${op.file}`);
      }
    }
  };
  const timer = setInterval(tick, 1000);
  return {
    emitter,
    async stop() {
      clearInterval(timer);
      await emitter.shutdown();
    },
  };
}

/** Poisson draws: Knuth for small means, the normal approximation above. */
export function poissonSampler(random: () => number): (mean: number) => number {
  return (mean) => {
    if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * gaussian(random)));
    let k = 0;
    let p = 1;
    const l = Math.exp(-mean);
    do {
      k++;
      p *= random();
    } while (p > l);
    return k - 1;
  };
}

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random());
}
