/**
 * Injects one fraud pattern into a customer's clean days, in place, and says what was done. Each
 * pattern's size is drawn from a stated range (see `synthetic.ts`); nothing here looks at the rules.
 */

import { DAY_MS, utcDay } from '../contract/clock.js';
import type { Meter } from '../contract/meters.js';
import { periodContaining } from '../functions/core/close/billing-period.js';
import type { CustomerActivityDay, FraudRule, KeyDayActivity } from '../functions/core/fraud/types.js';
import type { Random } from './prng.js';
import { type CustomerProfile, randomPrefix, spread } from './synthetic-traffic.js';

/** Ground truth of one injection: the customer, pattern, meter and UTC days `[from, to)` it covers. */
export interface GroundTruth {
  customerId: string;
  pattern: FraudRule;
  meter: Meter;
  from: string;
  to: string;
  /** How big it was, for reading the results (never given to the rules). */
  detail: Record<string, number | string>;
  /**
   * The quantity at stake, per UTC day of `[from, to)`: how far the injection moved the meter's daily value
   * (`dailyValue`: calls summed, users of the day, files at the day's end), either way. Filled in by
   * `generateScenario`; never given to the rules.
   */
  quantity?: Record<string, number>;
}

const ATTACKER_COUNTRIES: readonly (readonly [string, number])[] = [
  ['US', 4],
  ['NL', 2],
  ['DE', 2],
  ['RU', 3],
  ['CN', 3],
  ['BR', 2],
  ['IN', 2],
  ['VN', 2],
  ['SG', 1],
  ['UA', 1],
  ['RO', 1],
  ['ID', 1],
  ['TR', 1],
  ['KR', 1],
  ['FR', 1],
  ['GB', 1],
];

/** Reference levels for a new-account surge: what only 1 % of new accounts reach per day, per meter. */
export type SurgeReference = Readonly<Record<Meter, number>>;

/** Applies `pattern` to `days` (all of the customer's simulated days) starting at index `at`. */
export function inject(
  pattern: FraudRule,
  p: CustomerProfile,
  days: CustomerActivityDay[],
  at: number,
  r: Random,
  surgeRef: SurgeReference,
): GroundTruth {
  const dayOf = (i: number) => days[Math.min(i, days.length - 1)]!.day;
  const end = (i: number) =>
    i < days.length ? days[i]!.day : utcDay(Date.parse(`${days[days.length - 1]!.day}T00:00:00Z`) + (i - days.length + 1) * DAY_MS);
  const truth = (meter: Meter, len: number, detail: GroundTruth['detail']): GroundTruth => ({
    customerId: p.customerId,
    pattern,
    meter,
    from: dayOf(at),
    to: end(at + len),
    detail,
  });
  const business = (h: number) => (h - p.tzOffset + 48) % 24;
  switch (pattern) {
    case 'volume_spike': {
      const meter = r.weighted<Meter>([
        ['api_calls', 2],
        ['active_users', p.users >= 60 ? 1 : 0],
        ['protected_files', p.files >= 200 ? 1 : 0],
      ]);
      const wholeDay = r.chance(0.3);
      const start = wholeDay ? 0 : business(r.int(10, 16));
      const hours = wholeDay ? 24 : Math.min(24 - start, r.int(1, 6));
      const d = days[at]!;
      const k =
        meter === 'api_calls'
          ? wholeDay
            ? r.logUniform(2.5, 6)
            : r.logUniform(4, 20)
          : meter === 'active_users'
            ? wholeDay
              ? r.logUniform(2, 4)
              : r.logUniform(3, 10)
            : r.logUniform(0.3, 1);
      if (meter === 'api_calls') for (let h = start; h < start + hours; h++) addCalls(d, h, Math.round(d.apiCalls[h]! * (k - 1)));
      else if (meter === 'active_users') {
        // More people at work: the users bring their calls.
        scaleUsers(d, k, start, start + hours);
        for (let h = start; h < start + hours; h++) addCalls(d, h, Math.round(d.apiCalls[h]! * (k - 1)));
      } else addFiles(days, at * 24 + start, at * 24 + 24, Math.round(d.protectedFiles[start]! * k));
      return truth(meter, 1, { variant: wholeDay ? 'day' : 'hours', hours, multiplier: round(k) });
    }
    case 'leaked_key': {
      const len = r.int(1, 3);
      const key = r.pick(days[at]!.keys).apiKeyId;
      const newPrefixes = Math.round(r.logUniform(3, 40));
      const countries = Array.from({ length: r.int(1, 6) }, () => r.weighted(ATTACKER_COUNTRIES));
      const attackers = Array.from({ length: newPrefixes }, (_, j) => ({
        prefix: randomPrefix(r),
        country: countries[j % countries.length]!,
        weight: r.gammaMean1(2),
      }));
      const share = r.logUniform(0.2, 3);
      for (let i = at; i < Math.min(days.length, at + len); i++) {
        const d = days[i]!;
        const k = d.keys.find((x) => x.apiKeyId === key);
        if (!k) continue;
        const calls = Math.max(200, Math.round(k.calls * share));
        const start = r.int(0, 23);
        const hours = r.int(6, 24);
        const perHour = new Array<number>(24).fill(0);
        for (let h = start; h < start + hours; h++) perHour[h % 24] = calls / hours;
        const extra = spread(key, calls, attackers, perHour);
        for (let h = 0; h < 24; h++) addCalls(d, h, Math.round(perHour[h]!));
        mergeKey(k, extra);
      }
      return truth('api_calls', len, { key, newPrefixes, countries: new Set(countries).size, extraShare: round(share), days: len });
    }
    case 'account_sharing': {
      const len = r.int(2, 7);
      const fewer = r.chance(0.6);
      const k = fewer ? r.logUniform(0.25, 0.5) : r.logUniform(2.5, 6);
      const callsK = fewer ? r.uniform(1, 1.3) : 1;
      for (let i = at; i < Math.min(days.length, at + len); i++) {
        scaleUsers(days[i]!, k, 0, 24);
        for (let h = 0; h < 24; h++) addCalls(days[i]!, h, Math.round(days[i]!.apiCalls[h]! * (callsK - 1)));
      }
      return truth('active_users', len, {
        variant: fewer ? 'calls_per_user' : 'users_up_calls_flat',
        usersMultiplier: round(k),
        callsMultiplier: round(callsK),
        days: len,
      });
    }
    case 'new_account_surge': {
      const meter = r.weighted<Meter>([
        ['api_calls', 3],
        ['active_users', 1],
        ['protected_files', 1],
      ]);
      const len = r.int(1, 3);
      const k = r.logUniform(2, 20);
      const level = Math.round(k * surgeRef[meter]);
      for (let i = at; i < Math.min(days.length, at + len); i++) {
        const d = days[i]!;
        if (meter === 'api_calls') for (let h = 0; h < 24; h++) addCalls(d, h, Math.round(level / 24));
        else if (meter === 'active_users') scaleUsers(d, Math.max(1, level / Math.max(1, d.activeUsersDay)), 0, 24);
        else addFiles(days, i * 24, (i + 1) * 24, level);
      }
      return truth(meter, len, { overQ99: round(k), level, days: len });
    }
    case 'off_hours_burst': {
      const d = days[at]!;
      const start = business(r.int(0, 4));
      const hours = Math.min(24 - start, r.int(1, 4));
      const busy = Math.max(...days.slice(Math.max(0, at - 7), at).flatMap((x) => x.apiCalls));
      const k = r.logUniform(0.5, 3);
      for (let h = start; h < start + hours; h++) addCalls(d, h, Math.round(k * busy));
      return truth('api_calls', 1, { hours, overBusyHour: round(k) });
    }
    case 'end_of_period_gaming': {
      const dayStart = Date.parse(`${days[at]!.day}T00:00:00Z`);
      const periodEnd = Date.parse(periodContaining(dayStart, p.anchorDay).end);
      const endIdx = at + Math.round((periodEnd - dayStart) / DAY_MS);
      const start = business(r.int(9, 17));
      const share = r.uniform(0.3, 0.8);
      const hours = Math.min(24 - start, r.int(1, 4));
      const base = days[at]!.protectedFiles[start]!;
      for (let h = 0; h < hours; h++)
        addFiles(days, at * 24 + start + h, Math.min(days.length, endIdx) * 24, -Math.round((base * share) / hours));
      return truth('protected_files', endIdx - at, { dropShare: round(share), files: base, daysBeforeEnd: endIdx - at });
    }
  }
}

function addCalls(d: CustomerActivityDay, h: number, extra: number): void {
  (d.apiCalls as number[])[h] = Math.max(0, d.apiCalls[h]! + extra);
}

function scaleUsers(d: CustomerActivityDay, k: number, from: number, to: number): void {
  const hourly = d.activeUsers as number[];
  for (let h = from; h < to; h++) hourly[h] = Math.max(0, Math.round(hourly[h]! * k));
  const dayK = to - from === 24 ? k : 1 + ((k - 1) * (to - from)) / 24;
  (d as { activeUsersDay: number }).activeUsersDay = Math.max(Math.round(d.activeUsersDay * dayK), ...hourly);
}

/** Adds `delta` files to every hour-end count from absolute hour `from` to `to` (exclusive), never below 0. */
function addFiles(days: CustomerActivityDay[], from: number, to: number, delta: number): void {
  for (let i = from; i < Math.min(to, days.length * 24); i++) {
    const f = days[Math.floor(i / 24)]!.protectedFiles as number[];
    f[i % 24] = Math.max(0, f[i % 24]! + delta);
  }
}

function mergeKey(k: KeyDayActivity, extra: KeyDayActivity): void {
  const m = k as { calls: number; ipPrefixes: Record<string, number>; countries: Record<string, number>; countriesByHour?: string[][] };
  m.calls += extra.calls;
  for (const [p, c] of Object.entries(extra.ipPrefixes)) m.ipPrefixes[p] = (m.ipPrefixes[p] ?? 0) + c;
  for (const [c, n] of Object.entries(extra.countries)) m.countries[c] = (m.countries[c] ?? 0) + n;
  m.countriesByHour = (m.countriesByHour ?? Array.from({ length: 24 }, () => [])).map((h, i) =>
    [...new Set([...h, ...(extra.countriesByHour?.[i] ?? [])])].sort(),
  );
}

const round = (x: number) => Math.round(x * 100) / 100;
