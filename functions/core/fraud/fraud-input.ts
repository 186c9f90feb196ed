import { DAY_MS, utcDay } from '../../../contract/clock.js';
import { type FieldError, ValidationError } from '../../../contract/errors.js';
import { METERS } from '../../../contract/meters.js';
import { isCountryCode } from '../../../contract/privacy.js';
import { utcDayStart } from '../close/file-timeline.js';
import { MAX_HISTORY_DAYS } from './constants.js';
import type { CustomerActivityDay, FraudInput, KeyDayActivity, PeerStats } from './types.js';

const INPUT_KEYS = new Set(['customerId', 'day', 'createdAt', 'period', 'days', 'peers']);
const DAY_KEYS = new Set(['day', 'apiCalls', 'activeUsers', 'activeUsersDay', 'protectedFiles', 'keys']);

/**
 * Checks one night's input, reporting every problem at once (unknown keys too, to catch typos), and
 * returns it cut to the last `MAX_HISTORY_DAYS` days.
 *
 * @example const input = validateFraudInput({ customerId: 'c1', day: '2026-03-09', createdAt, period, days })
 */
export function validateFraudInput(input: FraudInput): FraudInput {
  const errors: FieldError[] = [];
  const fail = (field: string, message: string) => errors.push({ field, message });
  for (const key of Object.keys(input)) if (!INPUT_KEYS.has(key)) fail(key, 'unknown field');
  if (typeof input.customerId !== 'string' || input.customerId.length < 1 || input.customerId.length > 256)
    fail('customerId', 'must be 1-256 characters');
  const dayStart = utcDayStart(input.day);
  if (dayStart === undefined) fail('day', `must be a UTC day, YYYY-MM-DD, got '${input.day}'`);
  const created = Date.parse(input.createdAt);
  if (!Number.isFinite(created)) fail('createdAt', `must be an ISO-8601 instant, got '${input.createdAt}'`);
  else if (dayStart !== undefined && created >= dayStart + DAY_MS) fail('createdAt', `must be before the end of ${input.day}`);
  const pFrom = Date.parse(input.period?.start);
  const pTo = Date.parse(input.period?.end);
  if (!(pFrom < pTo) || !(Number.isInteger(input.period.anchorDay) && input.period.anchorDay >= 1 && input.period.anchorDay <= 31)) {
    fail('period', 'must be a BillingPeriod: start < end, ISO instants, and its anchor day 1-31');
  } else if (dayStart !== undefined && !(dayStart >= pFrom && dayStart < pTo)) fail('period', `must hold ${input.day}`);
  if (!Array.isArray(input.days) || input.days.length === 0) fail('days', 'must hold at least the scored day');
  else {
    input.days.forEach((d, i) => {
      checkDay(d, `days[${i}]`, fail);
    });
    const last = input.days[input.days.length - 1]!;
    if (last.day !== input.day) fail('days', `must end with the scored day ${input.day}, got ${last.day}`);
    for (let i = 1; i < input.days.length; i++) {
      const prev = utcDayStart(input.days[i - 1]!.day);
      if (prev !== undefined && input.days[i]!.day !== utcDay(prev + DAY_MS))
        fail(`days[${i}].day`, `must be the day after ${input.days[i - 1]!.day}`);
    }
    const scored = last.keys.find((k: KeyDayActivity) => k.countriesByHour === undefined);
    if (scored) fail(`days[${input.days.length - 1}].keys`, `key ${scored.apiKeyId} needs countriesByHour on the scored day`);
  }
  if (input.peers !== undefined) checkPeers(input.peers, fail);
  if (errors.length > 0) throw new ValidationError(errors, { customerId: input.customerId, day: input.day });
  return input.days.length <= MAX_HISTORY_DAYS ? input : { ...input, days: input.days.slice(-MAX_HISTORY_DAYS) };
}

function checkDay(d: CustomerActivityDay, at: string, fail: (field: string, message: string) => void): void {
  for (const key of Object.keys(d)) if (!DAY_KEYS.has(key)) fail(`${at}.${key}`, 'unknown field');
  if (utcDayStart(d.day) === undefined) fail(`${at}.day`, `must be a UTC day, YYYY-MM-DD, got '${d.day}'`);
  for (const name of ['apiCalls', 'activeUsers', 'protectedFiles'] as const) {
    const xs = d[name];
    if (!Array.isArray(xs) || xs.length !== 24 || !xs.every(isCount))
      fail(`${at}.${name}`, 'must be 24 whole numbers >= 0, one per UTC hour');
  }
  if (!isCount(d.activeUsersDay)) fail(`${at}.activeUsersDay`, 'must be a whole number >= 0');
  else if (Array.isArray(d.activeUsers) && d.activeUsers.some((u) => u > d.activeUsersDay))
    fail(`${at}.activeUsersDay`, "must be at least every hour's distinct users");
  if (!Array.isArray(d.keys)) {
    fail(`${at}.keys`, 'must be a list');
    return;
  }
  const ids = new Set<string>();
  d.keys.forEach((k, j) => {
    const kat = `${at}.keys[${j}]`;
    if (typeof k.apiKeyId !== 'string' || k.apiKeyId.length < 1) fail(`${kat}.apiKeyId`, 'must be a non-empty string');
    else if (ids.has(k.apiKeyId)) fail(`${kat}.apiKeyId`, `${k.apiKeyId} appears twice`);
    ids.add(k.apiKeyId);
    if (!isCount(k.calls)) fail(`${kat}.calls`, 'must be a whole number >= 0');
    if (!isCountRecord(k.ipPrefixes)) fail(`${kat}.ipPrefixes`, 'must map prefixes to whole numbers >= 0');
    if (!isCountRecord(k.countries) || !Object.keys(k.countries ?? {}).every(isCountryCode))
      fail(`${kat}.countries`, 'must map ISO 3166-1 alpha-2 codes to whole numbers >= 0');
    if (
      k.countriesByHour !== undefined &&
      !(
        Array.isArray(k.countriesByHour) &&
        k.countriesByHour.length === 24 &&
        k.countriesByHour.every((h: readonly string[]) => Array.isArray(h) && h.every(isCountryCode))
      )
    ) {
      fail(`${kat}.countriesByHour`, 'must be 24 lists of ISO 3166-1 alpha-2 codes');
    }
  });
}

function checkPeers(peers: PeerStats, fail: (field: string, message: string) => void): void {
  if (!isCount(peers.accounts)) fail('peers.accounts', 'must be a whole number >= 0');
  for (const meter of METERS) {
    const ages = peers.byAge?.[meter];
    if (!Array.isArray(ages)) {
      fail(`peers.byAge.${meter}`, 'must list quantiles per day of age');
      continue;
    }
    ages.forEach((q, i) => {
      if (!(isCount(q.n) && q.q50 >= 0 && q.q90 >= q.q50 && q.q99 >= q.q90))
        fail(`peers.byAge.${meter}[${i}]`, 'must hold n >= 0 and 0 <= q50 <= q90 <= q99');
    });
  }
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const isCountRecord = (r: unknown): boolean => typeof r === 'object' && r !== null && Object.values(r).every(isCount);
