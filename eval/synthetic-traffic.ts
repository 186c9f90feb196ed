// One idea in one file, though over 300 lines: the day-by-day simulation of one customer's clean traffic;
// each benign irregularity is a step of that one loop over its state and its random stream.
/**
 * Clean synthetic traffic for one customer: what the rules must stay quiet on. Realistic in the ways
 * that make fraud detection hard, each at a stated rate (`BenignRates`): daily and weekly rhythm in the
 * customer's time zone, customers busy around the clock, count noise with overdispersion, growth,
 * level shifts, outages, short legitimate bursts, rare large backfills at any hour, file clean-ups, key
 * rotations, server migrations and scale-outs, mobile clients with churning prefixes and travellers.
 */
import { DAY_MS, HOUR_MS, utcDay } from '../contract/clock.js';
import type { CustomerActivityDay, KeyDayActivity } from '../functions/core/fraud/types.js';
import type { Random } from './prng.js';

/** How often each benign irregularity happens (per customer-day unless said otherwise). */
export interface BenignRates {
  /** 1-3 business hours at 1.5-3x. */
  burst: number;
  /** 2-8 hours at any hour, each at 3-8x the customer's busy hour: a backfill or a load test. */
  backfill: number;
  /** A lasting step of 0.6-1.8x in calls and users (a team joins or leaves). */
  levelShift: number;
  /** A day at 10-50 % (an outage or a holiday). */
  outage: number;
  /** 10-50 % of files unprotected within 1-4 hours (a clean-up). */
  fileCleanup: number;
  /** One key replaced by a new one carrying the same traffic. */
  keyRotation: number;
  /** Per server key and day: all its prefixes replaced (country kept 80 % of the time). */
  serverMigration: number;
  /** Per server key and day: one more prefix. */
  scaleOut: number;
}

/** The benign irregularities' rates: set when the generator was written, before any result was seen, and not changed since. */
export const DEFAULT_BENIGN_RATES: BenignRates = {
  burst: 0.02,
  backfill: 0.001,
  levelShift: 1 / 90,
  outage: 1 / 60,
  fileCleanup: 1 / 365,
  keyRotation: 1 / 120,
  serverMigration: 1 / 150,
  scaleOut: 1 / 100,
};

/** One kind of benign irregularity. */
export type BenignKind = keyof BenignRates;

/** A benign irregularity that happened: the eval uses these to explain false flags, never the rules. */
export interface BenignEvent {
  customerId: string;
  kind: BenignKind;
  day: string;
}

interface KeyState {
  id: string;
  kind: 'server' | 'client';
  share: number;
  /** Server: fixed prefixes with weights; client: the pool of users' home prefixes. */
  prefixes: { prefix: string; country: string; weight: number }[];
}

/** The static traits of a synthetic customer. */
export interface CustomerProfile {
  customerId: string;
  /** Weekday calls per day at full size. */
  dailyCalls: number;
  users: number;
  files: number;
  /** Hours ahead of UTC. */
  tzOffset: number;
  shape: 'office' | 'always_on';
  weekendFactor: number;
  growthPerDay: number;
  anchorDay: number;
  createdAt: number;
  countries: readonly (readonly [string, number])[];
}

const WORLD = [
  'US',
  'CA',
  'MX',
  'BR',
  'AR',
  'GB',
  'IE',
  'FR',
  'DE',
  'NL',
  'ES',
  'IT',
  'PL',
  'SE',
  'CH',
  'TR',
  'IN',
  'SG',
  'JP',
  'KR',
  'AU',
  'ZA',
  'AE',
  'ID',
  'VN',
  'PH',
  'NG',
  'EG',
];

/** Relative activity in each local hour: office hours, or busy around the clock. */
export function hourShape(shape: CustomerProfile['shape'], localHour: number): number {
  const day = localHour >= 7 && localHour <= 19 ? Math.sin((Math.PI * (localHour - 7)) / 12) : 0;
  return shape === 'office' ? 0.015 + day : 0.6 + 0.4 * day;
}

/** A fresh random IPv4 /24 prefix. */
export function randomPrefix(r: Random): string {
  return `${r.int(11, 223)}.${r.int(0, 255)}.${r.int(0, 255)}.0/24`;
}

/** A random country other than the customer's own. */
export function travelCountry(r: Random): string {
  return r.pick(WORLD);
}

/**
 * Simulates a customer's clean days from `fromMs` (a UTC midnight) for `days` days: days before the
 * account existed are skipped. Deterministic for a given `Random`.
 */
export function simulateCustomer(
  p: CustomerProfile,
  fromMs: number,
  days: number,
  r: Random,
  rates: BenignRates = DEFAULT_BENIGN_RATES,
): { days: CustomerActivityDay[]; benign: BenignEvent[] } {
  const shapes = Array.from({ length: 24 }, (_, lh) => hourShape(p.shape, lh));
  const shapeSum = shapes.reduce((a, b) => a + b, 0);
  const shapeMax = Math.max(...shapes);
  const keys = initialKeys(p, r);
  let nextKey = keys.length;
  let level = 1;
  const createdDay = Math.floor(p.createdAt / DAY_MS) * DAY_MS;
  const established = createdDay < fromMs;
  let files = established ? p.files : 0;
  const out: CustomerActivityDay[] = [];
  const benign: BenignEvent[] = [];
  for (let d = 0; d < days; d++) {
    const dayStart = fromMs + d * DAY_MS;
    if (dayStart + DAY_MS <= p.createdAt) continue;
    const day = utcDay(dayStart);
    const note = (kind: BenignKind) => benign.push({ customerId: p.customerId, kind, day });
    if (r.chance(rates.levelShift)) {
      level *= r.uniform(0.6, 1.8);
      note('levelShift');
    }
    // Weekends in the customer's own time zone, hour by hour; users and keys follow the local day at noon UTC.
    const weekendAt = (t: number) => [0, 6].includes(new Date(t + p.tzOffset * HOUR_MS).getUTCDay());
    const weekend = weekendAt(dayStart + 12 * HOUR_MS);
    let dayMult = level * Math.exp(0.1 * r.normal()) * (1 + p.growthPerDay) ** d;
    if (r.chance(rates.outage)) {
      dayMult *= r.uniform(0.1, 0.5);
      note('outage');
    }
    const ageAt = (t: number) => (t - p.createdAt) / DAY_MS;
    const ramp = (t: number) => (t < p.createdAt ? 0 : established ? 1 : 1 - 0.85 * Math.exp(-ageAt(t) / 4));
    const apiCalls: number[] = [];
    const activeUsers: number[] = [];
    const protectedFiles: number[] = [];
    const busyHour = (p.dailyCalls * dayMult * shapeMax) / shapeSum;
    for (let h = 0; h < 24; h++) {
      const t = dayStart + h * HOUR_MS;
      const s = shapes[(h + p.tzOffset + 24) % 24]!;
      apiCalls.push(
        r.poisson(
          ((p.dailyCalls * dayMult * s * (weekendAt(t) ? p.weekendFactor : 1)) / shapeSum) * ramp(t + HOUR_MS / 2) * r.gammaMean1(25),
        ),
      );
    }
    if (r.chance(rates.burst)) {
      const start = (r.int(9, 15) - p.tzOffset + 24) % 24;
      const k = r.uniform(1.5, 3);
      for (let h = start; h < Math.min(24, start + r.int(1, 3)); h++) apiCalls[h] = Math.round(apiCalls[h]! * k);
      note('burst');
    }
    if (r.chance(rates.backfill)) {
      const start = r.int(0, 23);
      const k = r.uniform(3, 8);
      for (let h = start; h < Math.min(24, start + r.int(2, 8)); h++)
        apiCalls[h]! += r.poisson(k * busyHour * ramp(dayStart + h * HOUR_MS));
      note('backfill');
    }
    const pActive = (weekend ? 0.7 * p.weekendFactor : 0.7) * Math.min(1.5, dayMult);
    const usersDay = Math.min(Math.round(p.users * level * 1.5), r.poisson(p.users * pActive * ramp(dayStart + DAY_MS / 2)));
    for (let h = 0; h < 24; h++) {
      const s = shapes[(h + p.tzOffset + 24) % 24]!;
      activeUsers.push(
        Math.min(usersDay, r.poisson(usersDay * 0.45 * (s / shapeMax) * (dayStart + (h + 1) * HOUR_MS > p.createdAt ? 1 : 0))),
      );
    }
    const cleanupHour = r.chance(rates.fileCleanup) ? r.int(8, 18) : -1;
    if (cleanupHour >= 0) note('fileCleanup');
    const cleanupShare = r.uniform(0.1, 0.5);
    const cleanupHours = r.int(1, 4);
    for (let h = 0; h < 24; h++) {
      const t = dayStart + h * HOUR_MS;
      const w = shapes[(h + p.tzOffset + 24) % 24]! / shapeSum;
      if (t + HOUR_MS > p.createdAt) {
        files += r.poisson(files * 0.01 * w * (1 + p.growthPerDay * 5)) - r.poisson(files * 0.008 * w);
        if (!established) files += r.poisson(p.files * (Math.exp(-Math.max(0, ageAt(t)) / 3) - Math.exp(-ageAt(t + HOUR_MS) / 3)));
        if (cleanupHour >= 0 && h >= cleanupHour && h < cleanupHour + cleanupHours)
          files -= Math.round((files * cleanupShare) / cleanupHours);
      }
      files = Math.max(0, files);
      protectedFiles.push(files);
    }
    if (r.chance(rates.keyRotation) && keys.length > 0) {
      const k = r.pick(keys);
      k.id = `${p.customerId}-key${nextKey++}`;
      note('keyRotation');
    }
    for (const k of keys.filter((x) => x.kind === 'server')) {
      if (r.chance(rates.serverMigration)) {
        const country = r.chance(0.8) ? k.prefixes[0]!.country : travelCountry(r);
        k.prefixes = k.prefixes.map(() => ({ prefix: randomPrefix(r), country, weight: r.gammaMean1(2) }));
        note('serverMigration');
      } else if (r.chance(rates.scaleOut)) {
        k.prefixes.push({ prefix: randomPrefix(r), country: k.prefixes[0]!.country, weight: r.gammaMean1(2) });
        note('scaleOut');
      }
    }
    out.push({
      day,
      apiCalls,
      activeUsers,
      activeUsersDay: Math.max(usersDay, ...activeUsers),
      protectedFiles,
      keys: keyTraffic(keys, apiCalls, p, r, weekend),
    });
  }
  return { days: out, benign };
}

function initialKeys(p: CustomerProfile, r: Random): KeyState[] {
  const n = Math.min(4, 1 + Math.floor(Math.log10(Math.max(10, p.dailyCalls)) - 2 + r.next()));
  return Array.from({ length: Math.max(1, n) }, (_, i) => {
    const kind = i === 0 || r.chance(0.5) ? 'server' : 'client';
    const share = r.gammaMean1(2);
    if (kind === 'server') {
      const country = r.weighted(p.countries);
      return {
        id: `${p.customerId}-key${i}`,
        kind,
        share,
        prefixes: Array.from({ length: r.int(1, 5) }, () => ({ prefix: randomPrefix(r), country, weight: r.gammaMean1(2) })),
      };
    }
    const pool = Math.max(5, Math.min(250, Math.round(p.users * 1.2)));
    return {
      id: `${p.customerId}-key${i}`,
      kind,
      share,
      prefixes: Array.from({ length: pool }, () => ({ prefix: randomPrefix(r), country: r.weighted(p.countries), weight: 1 })),
    };
  });
}

function keyTraffic(keys: KeyState[], apiCalls: readonly number[], p: CustomerProfile, r: Random, weekend: boolean): KeyDayActivity[] {
  const total = apiCalls.reduce((a, b) => a + b, 0);
  const shares = keys.map((k) => k.share * Math.exp(0.05 * r.normal()));
  const shareSum = shares.reduce((a, b) => a + b, 0);
  let left = total;
  return keys.map((k, i) => {
    const calls = i === keys.length - 1 ? left : Math.min(left, Math.round((total * shares[i]!) / shareSum));
    left -= calls;
    const used: { prefix: string; country: string; weight: number }[] = [];
    if (k.kind === 'server') used.push(...k.prefixes.map((x) => ({ ...x, weight: x.weight * r.gammaMean1(10) })));
    else {
      // Users' home prefixes churn slowly (ISP reassignment); some users are on the road that day.
      for (const x of k.prefixes) if (r.chance(0.01)) x.prefix = randomPrefix(r);
      const active = Math.min(k.prefixes.length, r.poisson(k.prefixes.length * 0.5 * (weekend ? p.weekendFactor : 1)));
      for (let j = 0; j < active; j++) used.push({ ...k.prefixes[r.int(0, k.prefixes.length - 1)]!, weight: r.gammaMean1(1) });
      for (let j = r.poisson(active * 0.08); j > 0; j--)
        used.push({
          prefix: randomPrefix(r),
          country: r.chance(0.95) ? r.weighted(p.countries) : travelCountry(r),
          weight: r.gammaMean1(1) * 0.3,
        });
    }
    return spread(k.id, calls, used, apiCalls);
  });
}

/** Splits a key's calls over prefixes by weight, and derives countries per day and per hour. */
export function spread(
  apiKeyId: string,
  calls: number,
  used: readonly { prefix: string; country: string; weight: number }[],
  apiCalls: readonly number[],
): KeyDayActivity {
  const ipPrefixes: Record<string, number> = {};
  const countries: Record<string, number> = {};
  const wSum = used.reduce((a, u) => a + u.weight, 0);
  for (const u of used) {
    const c = wSum > 0 ? Math.round((calls * u.weight) / wSum) : 0;
    if (c <= 0) continue;
    ipPrefixes[u.prefix] = (ipPrefixes[u.prefix] ?? 0) + c;
    countries[u.country] = (countries[u.country] ?? 0) + c;
  }
  const total = apiCalls.reduce((a, b) => a + b, 0);
  // A country with n calls that day shows in hour h when it had a call then: 1 - exp(-n x share of h).
  const countriesByHour = apiCalls.map((ch) =>
    Object.entries(countries)
      .filter(([, n]) => total > 0 && 1 - Math.exp((-n * ch) / total) > 0.5)
      .map(([c]) => c)
      .sort(),
  );
  return { apiKeyId, calls: Object.values(ipPrefixes).reduce((a, b) => a + b, 0), ipPrefixes, countries, countriesByHour };
}
