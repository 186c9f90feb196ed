import { DAY_MS, HOUR_MS } from '../../contract/clock.js';
import { createRandom } from '../../eval/prng.js';
import { type BenignRates, type CustomerProfile, simulateCustomer } from '../../eval/synthetic-traffic.js';
import { periodContaining } from '../../functions/core/close/billing-period.js';
import { RULES } from '../../functions/core/fraud/detect-fraud.js';
import { validateFraudInput } from '../../functions/core/fraud/fraud-input.js';
import { buildRuleContext, type RuleContext } from '../../functions/core/fraud/rule-context.js';
import type { CustomerActivityDay, Detection, FraudInput, FraudRule, KeyDayActivity } from '../../functions/core/fraud/types.js';

/** A Monday: fixtures start on a clean week boundary. */
export const START = '2026-01-05';
export const START_MS = Date.parse(`${START}T00:00:00Z`);

/** No benign irregularities: a clean series is clean. */
export const NO_BENIGN: BenignRates = {
  burst: 0,
  backfill: 0,
  levelShift: 0,
  outage: 0,
  fileCleanup: 0,
  keyRotation: 0,
  serverMigration: 0,
  scaleOut: 0,
};

/** An established office-hours customer in Europe: 20,000 calls a weekday, 150 users, 3,000 files. */
export const PROFILE: CustomerProfile = {
  customerId: 'cus-test',
  dailyCalls: 20_000,
  users: 150,
  files: 3_000,
  tzOffset: 1,
  shape: 'office',
  weekendFactor: 0.4,
  growthPerDay: 0,
  anchorDay: 1,
  createdAt: START_MS - 400 * DAY_MS,
  countries: [
    ['DE', 70],
    ['FR', 30],
  ],
};

/** `days` clean days of a customer (deterministic for `seed`), from {@link START}. */
export function cleanDays(days: number, profile: Partial<CustomerProfile> = {}, seed = 7): CustomerActivityDay[] {
  return simulateCustomer({ ...PROFILE, ...profile }, START_MS, days, createRandom(seed), NO_BENIGN).days;
}

/** A day a test may edit in place. */
export type MutableDay = Omit<CustomerActivityDay, 'apiCalls' | 'activeUsers' | 'protectedFiles' | 'keys'> & {
  apiCalls: number[];
  activeUsers: number[];
  protectedFiles: number[];
  keys: KeyDayActivity[];
};

/** A deep copy, so a test can inject into one series and keep the clean one. */
export function copyDays(days: readonly CustomerActivityDay[]): MutableDay[] {
  return structuredClone(days) as MutableDay[];
}

/** The night's input for the last of `days`. */
export function inputOf(days: readonly CustomerActivityDay[], extra: Partial<FraudInput> = {}): FraudInput {
  const last = days[days.length - 1]!;
  const dayStart = Date.parse(`${last.day}T00:00:00Z`);
  return {
    customerId: PROFILE.customerId,
    day: last.day,
    createdAt: new Date(PROFILE.createdAt).toISOString(),
    period: periodContaining(dayStart, PROFILE.anchorDay),
    days,
    ...extra,
  };
}

/** Runs one rule alone on the input. */
export function runRule(rule: FraudRule, input: FraudInput): Detection[] {
  const ctx: RuleContext = buildRuleContext(validateFraudInput(input));
  return RULES[rule](ctx);
}

/** The hour (UTC) at `localHour` in the fixture customer's time zone. */
export const utcHourOf = (localHour: number, tzOffset = PROFILE.tzOffset) => (localHour - tzOffset + 24) % 24;

/** Adds calls to one hour of a day (and to its first key, as the keys' traffic would show). */
export function addCalls(day: CustomerActivityDay, hour: number, extra: number): void {
  (day.apiCalls as number[])[hour]! += extra;
  const k = day.keys[0] as { calls: number } | undefined;
  if (k) k.calls += extra;
}

/** Adds new places to a key's day: prefixes in countries, each with `callsEach`, present in `hours`. */
export function addPlaces(
  key: KeyDayActivity,
  places: readonly { prefix: string; country: string }[],
  callsEach: number,
  hours: readonly number[],
): void {
  const k = key as { calls: number; ipPrefixes: Record<string, number>; countries: Record<string, number>; countriesByHour?: string[][] };
  for (const p of places) {
    k.ipPrefixes[p.prefix] = (k.ipPrefixes[p.prefix] ?? 0) + callsEach;
    k.countries[p.country] = (k.countries[p.country] ?? 0) + callsEach;
    k.calls += callsEach;
  }
  const byHour = k.countriesByHour ?? Array.from({ length: 24 }, () => []);
  for (const h of hours) byHour[h] = [...new Set([...byHour[h]!, ...places.map((p) => p.country)])].sort();
  k.countriesByHour = byHour;
}

/** ISO instant of hour `h` of day index `d` from {@link START}. */
export const isoAt = (d: number, h = 0) => new Date(START_MS + d * DAY_MS + h * HOUR_MS).toISOString();
