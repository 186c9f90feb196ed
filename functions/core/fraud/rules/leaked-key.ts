// One idea in one file, though over 300 lines: the leaked_key rule, one replay of each key's days whose five
// measurements share the replay's state (seen prefixes and countries, flagged days).
/**
 * `leaked_key`: an API key used from places it is not used from, against that key's own baseline.
 *
 * Each key is replayed day by day through the history (online: a day is judged only from the days
 * before it). A prefix or country is *seen* when it carried traffic on one of the key's unflagged days
 * of the last `lookbackDays` (28); a flagged day teaches the key nothing. Five measurements, each turned
 * into a strength (1 = at its threshold); the strongest counts:
 *
 * 1. Distinct IP prefixes per day jump: the production spike detector on the key's daily count of
 *    distinct prefixes (daily granularity), counted only when the day also brings `minNewPrefixes`
 *    new prefixes (more of the known ones is growth, not a leak).
 * 2. New prefixes: unseen prefixes against `max(minNewPrefixes, newMargin x the most the key had on
 *    any baseline day + newPrefixSlack)`: a server key that never changes is flagged at 4 new prefixes.
 * 3. New countries, against `max(minNewCountries, newMargin x baseline max + newCountrySlack)`: a key
 *    never used from a new country is flagged at 2 new ones.
 * 4. Too many countries within one hour: the day's busiest hour against
 *    `max(minHourCountries, the key's busiest baseline hour + hourSlack)`: at least 4 countries in one
 *    hour, and 3 more than the key had in any hour of its last 4 weeks.
 * 5. Calls from new places: `minNewPrefixesWithCalls` (3) or more new prefixes carrying at least
 *    `minNewCallShare` (20 %) of the key's calls of the day, the new calls beyond the busiest new prefix
 *    against `max(minNewCalls, newCallsMargin x the most new calls on any baseline day)`. It catches a
 *    leak used from the customer's own country through a few prefixes, below the count bars; one busy
 *    new prefix (a user's new address, a server added) is not counted.
 *
 * Countries (3, 4) count only where they carry `minCountryShare` (1 %) of the key's calls of the day
 * and at least `minCountryCalls`: a traveller's handful of calls is not a place the key is used from,
 * and a leak worth a flag carries traffic. New countries (3) count only when the key's calls from new
 * prefixes reach `minNewCallShareForCountries` (10 %) of its day: two new countries carrying a few
 * percent are travellers or a partner trying the API. The price: such a day is learned like any
 * unflagged day, so a leak that starts that small and then grows through the same places is new to
 * none of the measurements until they age out of the lookback.
 *
 * (1), (2) and (5) only count while the key still uses `minRetainedShare` of its usual number of known
 * prefixes (a quiet day's: the lower quartile of its last 14 baseline days): when the old prefixes go
 * quiet and new ones take over, the key moved (a server migration), which is not a leak, and that
 * day's new prefixes do not raise the key's bar; new countries and crowded hours still count then.
 *
 * A key with fewer than `minBaselineDays` days of traffic in the lookback (a new or rotated key) is
 * judged against all the customer's keys together instead, so a rotated key inherits the places its
 * predecessor was used from. That yardstick learns every day (one key's migration is not the
 * customer's leak) and its bars include every key's churn, so it is conservative; the jump, the
 * new calls and the retained share need a key's own history and are left out then. New prefixes count
 * for such a key only beside a new country: a new key is how a customer brings up new servers, and
 * their addresses in the countries it already works from are the deployment, not a leak.
 *
 * One detection per customer and day, on `api_calls`, naming every key that crossed and the top
 * prefixes and countries, new ones marked.
 */
import { DAY_MS } from '../../../../contract/clock.js';
import type { SpikeResult } from '../../anomaly/types.js';
import { EVIDENCE_CONTEXT, LEAKED_KEY } from '../constants.js';
import { evidenceFromResults, type RuleContext } from '../rule-context.js';
import { round4, scoreOfStrength, severityOfScore } from '../scoring.js';
import { mean, quantile } from '../stats.js';
import type { Detection, EvidenceSeries, FraudInput, KeyDayActivity, RankedValue } from '../types.js';
import { strengthOfResult } from './volume-spike.js';

/** What one key did on one day, measured against its baseline. */
interface KeyDayVerdict {
  strength: number;
  /** The key's old prefixes went quiet: its new ones are a move, not a leak. */
  moved: boolean;
  signals: Record<string, number>;
  newPrefixes: Set<string>;
  newCountries: Set<string>;
  newCalls: number;
  /** For the evidence: the baseline's mean of new prefixes per day, and the bar. */
  usualNewPrefixes: number;
  prefixBar: number;
}

interface BaselineDay {
  dayIndex: number;
  /** Distinct prefixes with traffic that day. */
  activePrefixes: number;
  newPrefixes: number;
  newCountries: number;
  newCalls: number;
  maxHourCountries: number;
}

/** The `leaked_key` detection of the scored day, if any key crossed. */
export function detectLeakedKey(ctx: RuleContext): Detection[] {
  const today = ctx.input.days[ctx.dayIndex]!;
  let union: (KeyDayActivity | undefined)[] | undefined;
  const customerLevel = () => (union ??= unionOfKeys(ctx.input.days));
  const verdicts = today.keys
    .filter((k) => k.calls > 0)
    .map((k) => ({ key: k, verdict: judgeKey(ctx, k.apiKeyId, customerLevel) }))
    .filter(
      (v): v is { key: KeyDayActivity; verdict: KeyDayVerdict & { series: EvidenceSeries[] } } =>
        v.verdict !== undefined && v.verdict.strength >= 1,
    );
  if (verdicts.length === 0) return [];
  verdicts.sort((a, b) => b.verdict.strength - a.verdict.strength);
  const strongest = verdicts[0]!.verdict;
  const score = scoreOfStrength(strongest.strength);
  const severity = severityOfScore(score);
  if (severity === undefined) return [];

  const newPrefixes = new Set(verdicts.flatMap((v) => [...v.verdict.newPrefixes]));
  const newCountries = new Set(verdicts.flatMap((v) => [...v.verdict.newCountries]));
  const observed = verdicts.reduce((a, v) => a + v.verdict.newCalls, 0);
  const expected = verdicts.reduce((a, v) => a + (v.verdict.signals.baselineNewCalls ?? 0), 0);
  const keyIds = verdicts.map((v) => v.key.apiKeyId);
  return [
    {
      customerId: ctx.input.customerId,
      rule: 'leaked_key',
      meter: 'api_calls',
      window: { from: new Date(ctx.dayStart).toISOString(), to: new Date(ctx.dayStart + DAY_MS).toISOString() },
      score: round4(score),
      severity,
      evidence: {
        summary:
          `key ${keyIds.join(', ')}: ${newPrefixes.size} new IP prefix(es) and ${newCountries.size} new countr${newCountries.size === 1 ? 'y' : 'ies'}` +
          ` (most in one hour: ${strongest.signals.maxHourCountries}); ${Math.round(observed)} calls from places not seen in ${LEAKED_KEY.lookbackDays} days`,
        observed,
        expected: round4(expected),
        signals: Object.fromEntries(Object.entries(strongest.signals).map(([k, v]) => [k, round4(v)])),
        series: verdicts.flatMap((v) => v.verdict.series),
        apiKeyIds: keyIds,
        topIpPrefixes: ranked(
          verdicts.map((v) => v.key.ipPrefixes),
          newPrefixes,
        ),
        topCountries: ranked(
          verdicts.map((v) => v.key.countries),
          newCountries,
        ),
      },
    },
  ];
}

/** Where a key (or the customer) has been used from, learned only from unflagged days. */
class PlacesBaseline {
  private readonly seenPrefix = new Map<string, number>();
  private readonly seenCountry = new Map<string, number>();
  private readonly days: BaselineDay[] = [];

  /** Judges day `i`'s activity; undefined while the baseline has fewer than `minBaselineDays` days. */
  judge(a: KeyDayActivity, i: number, own: { jump: SpikeResult } | undefined): KeyDayVerdict | undefined {
    const m = this.measure(a, i);
    const recent = this.days.filter((b) => b.dayIndex >= i - LEAKED_KEY.lookbackDays);
    if (recent.length < LEAKED_KEY.minBaselineDays) return undefined;
    const max = (f: (b: BaselineDay) => number) => Math.max(0, ...recent.map(f));
    // How many of its usual prefixes the key still uses: a migration leaves few, a leak leaves them all.
    // "Usual" is a quiet day's count (the lower quartile of two weeks), so a weekend is not a move.
    const usualActive = quantile(
      recent.slice(-14).map((b) => b.activePrefixes),
      0.25,
    );
    const retained = own && usualActive > 0 ? m.knownActive / usualActive : 1;
    const moved = retained < LEAKED_KEY.minRetainedShare;
    const prefixBar = Math.max(LEAKED_KEY.minNewPrefixes, LEAKED_KEY.newMargin * max((b) => b.newPrefixes) + LEAKED_KEY.newPrefixSlack);
    const countryBar = Math.max(LEAKED_KEY.minNewCountries, LEAKED_KEY.newMargin * max((b) => b.newCountries) + LEAKED_KEY.newCountrySlack);
    const hourBar = Math.max(LEAKED_KEY.minHourCountries, max((b) => b.maxHourCountries) + LEAKED_KEY.hourSlack);
    const jumpStrength =
      own && !moved && own.jump.flagged && m.newPrefixes.size >= LEAKED_KEY.minNewPrefixes ? strengthOfResult(own.jump) : 0;
    const callsBar = Math.max(LEAKED_KEY.minNewCalls, LEAKED_KEY.newCallsMargin * max((b) => b.newCalls));
    const newCallShare = a.calls > 0 ? m.newCalls / a.calls : 0;
    // The new calls beyond the busiest new prefix: one new place is a user's new address or an added server.
    const spreadNewCalls = m.newCalls - m.topNewCalls;
    const newCallsStrength =
      own && !moved && m.newPrefixes.size >= LEAKED_KEY.minNewPrefixesWithCalls && newCallShare >= LEAKED_KEY.minNewCallShare
        ? spreadNewCalls / callsBar
        : 0;
    const strength = Math.max(
      jumpStrength,
      newCallsStrength,
      moved || (!own && m.newCountries.size === 0) ? 0 : m.newPrefixes.size / prefixBar,
      newCallShare >= LEAKED_KEY.minNewCallShareForCountries ? m.newCountries.size / countryBar : 0,
      m.maxHourCountries / hourBar,
    );
    return {
      ...m,
      moved,
      strength,
      usualNewPrefixes: mean(recent.map((b) => b.newPrefixes)),
      prefixBar,
      signals: {
        jumpStrength,
        newCallsStrength,
        newCallShare,
        newCallsBar: callsBar,
        newPrefixes: m.newPrefixes.size,
        newPrefixBar: prefixBar,
        newCountries: m.newCountries.size,
        newCountryBar: countryBar,
        maxHourCountries: m.maxHourCountries,
        hourCountryBar: hourBar,
        retainedShare: retained,
        baselineDays: recent.length,
        keyBaseline: own ? 1 : 0,
        baselineNewCalls: mean(recent.map((b) => b.newCalls)),
      },
    };
  }

  /** Learns day `i` (call only for days that were not flagged); a move's new prefixes do not count as the key's churn. */
  learn(a: KeyDayActivity, i: number, moved = false): void {
    const m = this.measure(a, i);
    for (const [p, c] of Object.entries(a.ipPrefixes)) if (c > 0) this.seenPrefix.set(p, i);
    for (const [c, n] of Object.entries(a.countries)) if (n > 0) this.seenCountry.set(c, i);
    // A day without hourly countries is bounded by its distinct countries of the day.
    const hourly = a.countriesByHour ? m.maxHourCountries : significantCountries(a).size;
    this.days.push({
      dayIndex: i,
      activePrefixes: Object.values(a.ipPrefixes).filter((c) => c > 0).length,
      newPrefixes: moved ? 0 : m.newPrefixes.size,
      newCountries: m.newCountries.size,
      newCalls: m.newCalls,
      maxHourCountries: hourly,
    });
  }

  private measure(a: KeyDayActivity, i: number) {
    const isSeen = (seen: Map<string, number>, v: string) => (seen.get(v) ?? Number.NEGATIVE_INFINITY) >= i - LEAKED_KEY.lookbackDays;
    const significant = significantCountries(a);
    return {
      newPrefixes: new Set(
        Object.entries(a.ipPrefixes)
          .filter(([p, c]) => c >= LEAKED_KEY.minCallsPerNewValue && !isSeen(this.seenPrefix, p))
          .map(([p]) => p),
      ),
      newCountries: new Set([...significant].filter((c) => !isSeen(this.seenCountry, c))),
      newCalls: Object.entries(a.ipPrefixes).reduce((s, [p, c]) => s + (isSeen(this.seenPrefix, p) ? 0 : c), 0),
      topNewCalls: Math.max(0, ...Object.entries(a.ipPrefixes).map(([p, c]) => (isSeen(this.seenPrefix, p) ? 0 : c))),
      knownActive: Object.entries(a.ipPrefixes).filter(([p, c]) => c > 0 && isSeen(this.seenPrefix, p)).length,
      maxHourCountries: Math.max(0, ...(a.countriesByHour ?? []).map((h) => h.filter((c) => significant.has(c)).length)),
    };
  }
}

/** Countries carrying at least `minCountryShare` of the key's calls (and `minCountryCalls`): a traveller's few calls are not a place the key is used from. */
function significantCountries(a: KeyDayActivity): Set<string> {
  const floor = Math.max(LEAKED_KEY.minCountryCalls, LEAKED_KEY.minCountryShare * a.calls);
  return new Set(
    Object.entries(a.countries)
      .filter(([, n]) => n >= floor)
      .map(([c]) => c),
  );
}

/**
 * Replays a series of daily activity through a baseline, judging each day before learning it (a
 * flagged day is not learned, unless `learnAll`); the verdict on `judgeLast` as day `last`.
 */
function replay(
  activity: readonly (KeyDayActivity | undefined)[],
  last: number,
  jump: readonly SpikeResult[] | undefined,
  judgeLast: KeyDayActivity | undefined = activity[last],
  learnAll = false,
): { verdict?: KeyDayVerdict; perDay: ({ verdict: KeyDayVerdict } | undefined)[] } {
  const baseline = new PlacesBaseline();
  const perDay: ({ verdict: KeyDayVerdict } | undefined)[] = [];
  for (let i = 0; i < last; i++) {
    const a = activity[i];
    if (a === undefined || a.calls <= 0) {
      perDay.push(undefined);
      continue;
    }
    const v = baseline.judge(a, i, jump ? { jump: jump[i]! } : undefined);
    perDay.push(v ? { verdict: v } : undefined);
    if (learnAll || v === undefined || v.strength < 1) baseline.learn(a, i, v?.moved);
  }
  const verdict = judgeLast && judgeLast.calls > 0 ? baseline.judge(judgeLast, last, jump ? { jump: jump[last]! } : undefined) : undefined;
  perDay.push(verdict ? { verdict } : undefined);
  return verdict ? { verdict, perDay } : { perDay };
}

/** The verdict on the scored day for one key, with its evidence series; undefined when it cannot be judged. */
function judgeKey(
  ctx: RuleContext,
  keyId: string,
  customerLevel: () => readonly (KeyDayActivity | undefined)[],
): (KeyDayVerdict & { series: EvidenceSeries[] }) | undefined {
  const days = ctx.input.days;
  const activity = days.map((d) => d.keys.find((k) => k.apiKeyId === keyId));
  const prefixCounts = activity.map((a) => (a ? Object.values(a.ipPrefixes).filter((c) => c > 0).length : 0));
  const jump = ctx.dailyOf(`key:${keyId}:prefixes`, prefixCounts);
  let run = replay(activity, ctx.dayIndex, jump);
  let label = `key ${keyId}`;
  if (run.verdict === undefined) {
    // All keys together are a conservative yardstick: every day teaches it (a migration of one key is
    // not a leak of the customer), and its bars include every key's churn.
    run = replay(customerLevel(), ctx.dayIndex, undefined, activity[ctx.dayIndex], true);
    label = `key ${keyId}, against all the customer's keys`;
  }
  const verdict = run.verdict;
  if (verdict === undefined) return undefined;
  const from = Math.max(0, ctx.dayIndex - EVIDENCE_CONTEXT.day);
  const newSeries: EvidenceSeries = {
    name: `new IP prefixes per day (${label})`,
    granularity: 'day',
    points: run.perDay.slice(from).flatMap((p, k) =>
      p === undefined
        ? []
        : [
            {
              t: new Date(ctx.historyStart + (from + k) * DAY_MS).toISOString(),
              observed: p.verdict.newPrefixes.size,
              expected: round4(p.verdict.usualNewPrefixes),
              lo: 0,
              hi: p.verdict.prefixBar,
              flagged: p.verdict.strength >= 1,
            },
          ],
    ),
  };
  return {
    ...verdict,
    series: [
      evidenceFromResults(`distinct IP prefixes per day (key ${keyId})`, 'day', jump, from, ctx.dayIndex + 1, (i) => i === ctx.dayIndex),
      newSeries,
    ],
  };
}

/** All of a customer's keys as one: the fallback baseline for young keys. */
function unionOfKeys(days: FraudInput['days']): (KeyDayActivity | undefined)[] {
  return days.map((d) => {
    if (d.keys.length === 0) return undefined;
    const ipPrefixes: Record<string, number> = {};
    const countries: Record<string, number> = {};
    const byHour = Array.from({ length: 24 }, () => new Set<string>());
    let hourly = true;
    for (const k of d.keys) {
      for (const [p, c] of Object.entries(k.ipPrefixes)) ipPrefixes[p] = (ipPrefixes[p] ?? 0) + c;
      for (const [c, n] of Object.entries(k.countries)) countries[c] = (countries[c] ?? 0) + n;
      if (k.countriesByHour) {
        k.countriesByHour.forEach((h, i) => {
          h.forEach((c) => {
            byHour[i]!.add(c);
          });
        });
      } else hourly = false;
    }
    const calls = d.keys.reduce((a, k) => a + k.calls, 0);
    return { apiKeyId: '*', calls, ipPrefixes, countries, ...(hourly ? { countriesByHour: byHour.map((h) => [...h].sort()) } : {}) };
  });
}

/** The busiest new values (up to 10), then the busiest known ones (up to 5): the new ones are the evidence. */
function ranked(records: readonly Readonly<Record<string, number>>[], fresh: ReadonlySet<string>): RankedValue[] {
  const totals = new Map<string, number>();
  for (const r of records) for (const [v, c] of Object.entries(r)) totals.set(v, (totals.get(v) ?? 0) + c);
  const sorted = [...totals]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([value, calls]) => ({ value, calls, new: fresh.has(value) }));
  return [...sorted.filter((v) => v.new).slice(0, 10), ...sorted.filter((v) => !v.new).slice(0, 5)];
}
