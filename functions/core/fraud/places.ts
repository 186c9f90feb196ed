import { LEAKED_KEY } from './constants.js';
import type { CustomerActivityDay, FlagEvidence, RankedValue } from './types.js';

/** Where a day's API calls came from, for an analyst reading a volume flag: keys, prefixes and countries. */
export type PlacesEvidence = Required<Pick<FlagEvidence, 'apiKeyIds' | 'topIpPrefixes' | 'topCountries'>> & {
  /** Share of the day's attributed calls from /24 prefixes none of the customer's keys used in the `LEAKED_KEY.lookbackDays` days before. */
  newPlaceShare: number;
};

/**
 * The scored day's (`days[dayIndex]`) calls by API key, /24 prefix and country, over all the customer's
 * keys, the busiest first, each prefix and country marked `new` when none of the customer's keys used it
 * in the `LEAKED_KEY.lookbackDays` days before. Rollups attribute places per day, not per hour, so this is
 * the whole day's mix: more of the usual places points to the customer's own systems (a backfill), new
 * ones to someone else. Undefined when the day has no attributed calls.
 *
 * @example placesOfDay(input.days, input.days.length - 1)?.topIpPrefixes[0] // { value: '203.0.113.0/24', calls: 5200 }
 */
export function placesOfDay(days: readonly CustomerActivityDay[], dayIndex: number): PlacesEvidence | undefined {
  const today = days[dayIndex];
  const total = today?.keys.reduce((a, k) => a + k.calls, 0) ?? 0;
  if (today === undefined || total <= 0) return undefined;
  const seenPrefixes = new Set<string>();
  const seenCountries = new Set<string>();
  for (const d of days.slice(Math.max(0, dayIndex - LEAKED_KEY.lookbackDays), dayIndex)) {
    for (const k of d.keys) {
      for (const [p, c] of Object.entries(k.ipPrefixes)) if (c > 0) seenPrefixes.add(p);
      for (const [c, n] of Object.entries(k.countries)) if (n > 0) seenCountries.add(c);
    }
  }
  const prefixes = sum(today.keys.map((k) => k.ipPrefixes));
  const countries = sum(today.keys.map((k) => k.countries));
  const attributed = [...prefixes.values()].reduce((a, b) => a + b, 0);
  const fromNew = [...prefixes].reduce((a, [p, c]) => a + (seenPrefixes.has(p) ? 0 : c), 0);
  return {
    apiKeyIds: [...today.keys]
      .filter((k) => k.calls > 0)
      .sort((a, b) => b.calls - a.calls || (a.apiKeyId < b.apiKeyId ? -1 : 1))
      .slice(0, 5)
      .map((k) => k.apiKeyId),
    topIpPrefixes: top(prefixes, seenPrefixes, 10),
    topCountries: top(countries, seenCountries, 5),
    newPlaceShare: attributed > 0 ? Math.round((10_000 * fromNew) / attributed) / 10_000 : 0,
  };
}

function sum(records: readonly Readonly<Record<string, number>>[]): Map<string, number> {
  const totals = new Map<string, number>();
  for (const r of records) for (const [v, c] of Object.entries(r)) if (c > 0) totals.set(v, (totals.get(v) ?? 0) + c);
  return totals;
}

function top(totals: ReadonlyMap<string, number>, seen: ReadonlySet<string>, n: number): RankedValue[] {
  return [...totals]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, n)
    .map(([value, calls]) => (seen.has(value) ? { value, calls } : { value, calls, new: true }));
}
