/**
 * `leaked_key`: an API key used from places it is not used from, against that key's own baseline.
 *
 * Each key is replayed day by day through the history (online: a day is judged only from the days
 * before it). A prefix or country is *seen* when it carried traffic on one of the key's unflagged days
 * of the last `lookbackDays`; a flagged day teaches the key nothing. Four measurements, each turned into
 * a strength (1 = at its threshold), the strongest counts:
 *
 * 1. Distinct IP prefixes per day jump: the production spike detector on the key's daily count of
 *    distinct prefixes (daily granularity), counted only when the day also brings `minNewPrefixes`
 *    new prefixes (more of the known ones is growth, not a leak).
 * 2. New prefixes: unseen prefixes with at least `minCallsPerNewValue` calls, against
 *    `max(minNewPrefixes, newMargin x the most the key had on any baseline day + newSlack)`.
 * 3. New countries, likewise against `max(minNewCountries, newMargin x baseline max + newSlack)`.
 * 4. Too many countries within one hour: the day's busiest hour against
 *    `max(minHourCountries, the key's busiest baseline hour + hourSlack)`: with the defaults, at least
 *    4 countries in one hour and 2 more than the key has ever had in an hour of its last 4 weeks.
 *
 * (1) and (2) only count while the key's known prefixes still carry `minRetainedShare` of its usual
 * calls: when the old prefixes go quiet and new ones take over, the key moved (a server migration),
 * which is not a leak; new countries and crowded hours still count then.
 *
 * A key with fewer than `minBaselineDays` days of traffic in the lookback is not judged (a new key has
 * no baseline; its volume is still watched by `volume_spike`). One detection per customer and day, on
 * `api_calls`, naming every key that crossed and the top prefixes and countries, new ones marked.
 */
import { DAY_MS } from '../../clock.js';
import { EVIDENCE_CONTEXT, LEAKED_KEY } from '../constants.js';
import { evidenceFromResults, type RuleContext } from '../rule-context.js';
import { round4, scoreOfStrength, severityOfScore } from '../scoring.js';
import type { Detection, EvidenceSeries, KeyDayActivity, RankedValue } from '../types.js';
import { mean, median } from '../stats.js';
import { strengthOfResult } from './volume-spike.js';

/** What one key did on one day, measured against its baseline. */
interface KeyDayVerdict {
  dayIndex: number;
  strength: number;
  signals: Record<string, number>;
  newPrefixes: Set<string>;
  newCountries: Set<string>;
  newCalls: number;
}

interface BaselineDay {
  dayIndex: number;
  calls: number;
  newPrefixes: number;
  newCountries: number;
  newCalls: number;
  maxHourCountries: number;
}

/** The `leaked_key` detection of the scored day, if any key crossed. */
export function detectLeakedKey(ctx: RuleContext): Detection[] {
  const today = ctx.input.days[ctx.dayIndex]!;
  const verdicts = today.keys
    .filter((k) => k.calls > 0)
    .map((k) => ({ key: k, verdict: replayKey(ctx, k.apiKeyId) }))
    .filter((v): v is { key: KeyDayActivity; verdict: KeyDayVerdict & { series: EvidenceSeries[] } } => v.verdict !== undefined && v.verdict.strength >= 1);
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
        topIpPrefixes: ranked(verdicts.map((v) => v.key.ipPrefixes), newPrefixes),
        topCountries: ranked(verdicts.map((v) => v.key.countries), newCountries),
      },
    },
  ];
}

/** Replays one key through the history; the verdict on the scored day (with its evidence), if judged. */
function replayKey(ctx: RuleContext, keyId: string): (KeyDayVerdict & { series: EvidenceSeries[] }) | undefined {
  const days = ctx.input.days;
  const activity = days.map((d) => d.keys.find((k) => k.apiKeyId === keyId));
  const prefixCounts = activity.map((a) => (a ? Object.values(a.ipPrefixes).filter((c) => c > 0).length : 0));
  const jump = ctx.dailyOf(`key:${keyId}:prefixes`, prefixCounts);
  const seenPrefix = new Map<string, number>();
  const seenCountry = new Map<string, number>();
  const baseline: BaselineDay[] = [];
  let last: KeyDayVerdict | undefined;
  const newPerDay: { expected: number; hi: number; observed: number; flagged: boolean }[] = days.map(() => ({ expected: 0, hi: 0, observed: 0, flagged: false }));

  activity.forEach((a, i) => {
    if (a === undefined || a.calls <= 0) return;
    const recent = baseline.filter((b) => b.dayIndex >= i - LEAKED_KEY.lookbackDays);
    const isSeen = (m: Map<string, number>, v: string) => (m.get(v) ?? Number.NEGATIVE_INFINITY) >= i - LEAKED_KEY.lookbackDays;
    const newPrefixes = new Set(Object.entries(a.ipPrefixes).filter(([p, c]) => c >= LEAKED_KEY.minCallsPerNewValue && !isSeen(seenPrefix, p)).map(([p]) => p));
    const newCountries = new Set(Object.entries(a.countries).filter(([c, n]) => n >= LEAKED_KEY.minCallsPerNewValue && !isSeen(seenCountry, c)).map(([c]) => c));
    const newCalls = Object.entries(a.ipPrefixes).reduce((s, [p, c]) => s + (isSeen(seenPrefix, p) ? 0 : c), 0);
    const knownCalls = a.calls - newCalls;
    const maxHourCountries = Math.max(0, ...(a.countriesByHour ?? []).map((h) => h.length));
    let verdict: KeyDayVerdict | undefined;
    if (recent.length >= LEAKED_KEY.minBaselineDays) {
      const max = (f: (b: BaselineDay) => number) => Math.max(0, ...recent.map(f));
      const usualCalls = median(recent.map((b) => b.calls));
      const retained = usualCalls > 0 ? knownCalls / usualCalls : 1;
      const moved = retained < LEAKED_KEY.minRetainedShare;
      const prefixBar = Math.max(LEAKED_KEY.minNewPrefixes, LEAKED_KEY.newMargin * max((b) => b.newPrefixes) + LEAKED_KEY.newSlack);
      const countryBar = Math.max(LEAKED_KEY.minNewCountries, LEAKED_KEY.newMargin * max((b) => b.newCountries) + LEAKED_KEY.newSlack);
      // A baseline day without hourly countries is bounded by its distinct countries of the day.
      const hourBar = Math.max(LEAKED_KEY.minHourCountries, max((b) => b.maxHourCountries) + LEAKED_KEY.hourSlack);
      const j = jump[i]!;
      const jumpStrength = !moved && j.flagged && newPrefixes.size >= LEAKED_KEY.minNewPrefixes ? strengthOfResult(j) : 0;
      const signals = {
        jumpStrength,
        distinctPrefixes: prefixCounts[i]!,
        expectedDistinctPrefixes: j.expected,
        newPrefixes: newPrefixes.size,
        newPrefixBar: prefixBar,
        newCountries: newCountries.size,
        newCountryBar: countryBar,
        maxHourCountries,
        hourCountryBar: hourBar,
        retainedShare: retained,
        baselineNewCalls: mean(recent.map((b) => b.newCalls)),
      };
      const strength = Math.max(jumpStrength, moved ? 0 : newPrefixes.size / prefixBar, newCountries.size / countryBar, maxHourCountries / hourBar);
      verdict = { dayIndex: i, strength, signals, newPrefixes, newCountries, newCalls };
      newPerDay[i] = { expected: mean(recent.map((b) => b.newPrefixes)), hi: prefixBar, observed: newPrefixes.size, flagged: strength >= 1 };
    }
    if (verdict === undefined || verdict.strength < 1) {
      for (const [p, c] of Object.entries(a.ipPrefixes)) if (c > 0) seenPrefix.set(p, i);
      for (const [c, n] of Object.entries(a.countries)) if (n > 0) seenCountry.set(c, i);
      const dailyCountries = Object.values(a.countries).filter((n) => n > 0).length;
      baseline.push({ dayIndex: i, calls: a.calls, newPrefixes: newPrefixes.size, newCountries: newCountries.size, newCalls, maxHourCountries: a.countriesByHour ? maxHourCountries : dailyCountries });
    }
    last = verdict;
  });
  if (last === undefined || last.dayIndex !== ctx.dayIndex) return undefined;
  const from = ctx.dayIndex - EVIDENCE_CONTEXT.day;
  const newSeries: EvidenceSeries = {
    name: `new IP prefixes per day (key ${keyId})`,
    granularity: 'day',
    points: newPerDay.slice(Math.max(0, from)).map((p, k) => ({
      t: new Date(ctx.historyStart + (Math.max(0, from) + k) * DAY_MS).toISOString(),
      observed: p.observed,
      expected: round4(p.expected),
      lo: 0,
      hi: p.hi,
      flagged: p.flagged,
    })),
  };
  return {
    ...last,
    series: [evidenceFromResults(`distinct IP prefixes per day (key ${keyId})`, 'day', jump, from, ctx.dayIndex + 1, (i) => i === ctx.dayIndex), newSeries],
  };
}

/** The busiest new values (up to 10), then the busiest known ones (up to 5): the new ones are the evidence. */
function ranked(records: readonly Readonly<Record<string, number>>[], fresh: ReadonlySet<string>): RankedValue[] {
  const totals = new Map<string, number>();
  for (const r of records) for (const [v, c] of Object.entries(r)) totals.set(v, (totals.get(v) ?? 0) + c);
  const sorted = [...totals].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([value, calls]) => ({ value, calls, new: fresh.has(value) }));
  return [...sorted.filter((v) => v.new).slice(0, 10), ...sorted.filter((v) => !v.new).slice(0, 5)];
}
