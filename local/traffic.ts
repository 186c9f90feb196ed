import { rng } from '../bench/traffic-model.js';
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
];

const OPERATIONS = ['files.encrypt', 'files.decrypt', 'keys.rotate', 'shares.create', 'policies.read'];

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
}): TrafficGenerator {
  const customers = o.customers ?? SIM_CUSTOMERS;
  const random = rng(o.seed ?? Date.now());
  const speed = o.speed ?? 0.1;
  const emitter = createUsageEmitter({ endpoint: o.endpoint, apiKey: o.apiKey, source: 'local', flushIntervalMs: 2000 });
  const protectedFiles = new Map(customers.map((c) => [c.id, new Set<number>()]));
  const poisson = (mean: number) => {
    // Knuth for small means, normal approximation above.
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
  const tick = () => {
    const now = Date.now();
    for (const c of customers) {
      const level = rhythm(c, now);
      const calls = poisson(((c.peakCallsPerMinute * level) / 60) * speed * 10);
      for (let i = 0; i < calls; i++) {
        emitter.apiCall(c.id, {
          operation: OPERATIONS[Math.floor(random() * OPERATIONS.length)],
          apiKeyId: `${c.id}-key-${Math.floor(random() * 2)}`,
          clientIp: `198.51.${(c.utcOffset + 20) % 256}.${Math.floor(random() * 200)}`,
          country: c.country,
          region: c.region,
        });
      }
      const activeUsers = poisson(c.users * level * 0.02);
      for (let i = 0; i < activeUsers; i++) emitter.userActive(c.id, `${c.id}-user-${Math.floor(random() * c.users)}`);
      const files = protectedFiles.get(c.id)!;
      for (let i = poisson(c.files * level * 0.0005 * speed * 10); i > 0; i--) {
        const f = Math.floor(random() * c.files);
        if (files.has(f) && random() < 0.3) {
          files.delete(f);
          emitter.fileUnprotected(c.id, `${c.id}-file-${f}`);
        } else {
          files.add(f);
          emitter.fileProtected(c.id, `${c.id}-file-${f}`);
        }
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

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random());
}
