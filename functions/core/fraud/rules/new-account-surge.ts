/**
 * `new_account_surge`: an account younger than `NEW_ACCOUNT_DAYS` whose daily usage of a meter is far
 * above what new accounts use at the same age. It has no history of its own, so it is compared with
 * peers: the quantiles of other customers' daily values at the same day of age (`PeerStats`, see
 * `peer-stats.ts`).
 *
 * Threshold per meter and age: `max(overQ99 x peers' q99, minDaily[meter])`; strength = the day's value
 * over it. So with the defaults a low flag is twice what only 1 % of new accounts reach at that age,
 * and a high one 2.5 times that (5 x q99). Age is counted in UTC days from the creation day (the
 * creation day is age 0, its calls and users scaled to a full day), the same way peers' ages are. Without `minPeers` peers at that age the rule
 * stays silent. Window: the scored day.
 *
 * The pattern is the account's, not a meter's: one detection per day, on the meter that surged most,
 * with the other surging meters folded in (`evidence.alsoMatched` with their meter, score and summary,
 * and their series beside its own), so a big new account makes one flag that holds every meter it
 * surged on (`mergeFlags` continues it over the account's first two weeks, whatever the meter).
 */
import { DAY_MS, HOUR_MS, startOfUtcDay } from '../../../../contract/clock.js';
import { METERS, type Meter } from '../../../../contract/meters.js';
import { NEW_ACCOUNT_DAYS, NEW_ACCOUNT_SURGE } from '../constants.js';
import { foldedMeter } from '../merge-flags.js';
import { dailyValue, type RuleContext } from '../rule-context.js';
import { round4, scoreOfStrength, severityOfScore } from '../scoring.js';
import type { AgeQuantiles, Detection, EvidencePoint } from '../types.js';

/** Day of age of a UTC day for an account created at `createdAtMs` (0 on the creation day). */
export function accountAgeDays(dayStartMs: number, createdAtMs: number): number {
  return Math.round((dayStartMs - startOfUtcDay(createdAtMs)) / DAY_MS);
}

/**
 * A day's value as peers are compared on: on the creation day (age 0) a flow meter (calls, users) is
 * scaled to a full day, as if the account had existed at least `minExposureHours`; files are a level.
 * @example comparableValue(120, 'api_calls', Date.parse('2026-03-09'), Date.parse('2026-03-09T18:00:00Z')) // 480
 */
export function comparableValue(value: number, meter: Meter, dayStartMs: number, createdAtMs: number): number {
  if (meter === 'protected_files' || accountAgeDays(dayStartMs, createdAtMs) !== 0) return value;
  const hours = Math.max(NEW_ACCOUNT_SURGE.minExposureHours, (dayStartMs + DAY_MS - createdAtMs) / HOUR_MS);
  return (value * 24) / Math.min(24, hours);
}

/** The `new_account_surge` detection of the scored day: the meter that surged most, the others folded in. */
export function detectNewAccountSurge(ctx: RuleContext): Detection[] {
  const perMeter = surgingMeters(ctx).sort((a, b) => b.score - a.score || METERS.indexOf(a.meter) - METERS.indexOf(b.meter));
  const [top, ...rest] = perMeter;
  if (top === undefined) return [];
  if (rest.length === 0) return [top];
  return [
    {
      ...top,
      evidence: {
        ...top.evidence,
        series: [...top.evidence.series, ...rest.flatMap((d) => d.evidence.series)],
        alsoMatched: rest.map(foldedMeter),
      },
    },
  ];
}

/** One detection per meter whose day is over its bar. */
function surgingMeters(ctx: RuleContext): Detection[] {
  const peers = ctx.input.peers;
  const age = accountAgeDays(ctx.dayStart, Date.parse(ctx.input.createdAt));
  if (peers === undefined || age < 0 || age >= NEW_ACCOUNT_DAYS) return [];
  return METERS.flatMap((meter) => {
    const q = peers.byAge[meter][age];
    if (q === undefined || q.n < NEW_ACCOUNT_SURGE.minPeers) return [];
    const observed = comparableValue(
      dailyValue(ctx.input.days[ctx.dayIndex]!, meter),
      meter,
      ctx.dayStart,
      Date.parse(ctx.input.createdAt),
    );
    const bar = barOf(q, meter);
    const strength = observed / bar;
    const score = scoreOfStrength(strength);
    const severity = severityOfScore(score);
    if (strength < 1 || severity === undefined) return [];
    return [
      {
        customerId: ctx.input.customerId,
        rule: 'new_account_surge' as const,
        meter,
        window: { from: new Date(ctx.dayStart).toISOString(), to: new Date(ctx.dayStart + DAY_MS).toISOString() },
        score: round4(score),
        severity,
        evidence: {
          summary: `${meter} on day ${age} of the account: ${observed} against a peer median of ${round4(q.q50)} and a 99th percentile of ${round4(q.q99)} (${q.n} peers)`,
          observed: round4(observed),
          expected: round4(q.q50),
          signals: {
            strength: round4(strength),
            ageDays: age,
            peers: q.n,
            peerQ50: round4(q.q50),
            peerQ90: round4(q.q90),
            peerQ99: round4(q.q99),
            bar: round4(bar),
          },
          series: [
            { name: `${meter} per day of account age, against peers`, granularity: 'day' as const, points: ageSeries(ctx, meter, age) },
          ],
        },
      },
    ];
  });
}

function barOf(q: AgeQuantiles, meter: Meter): number {
  return Math.max(NEW_ACCOUNT_SURGE.overQ99 * q.q99, NEW_ACCOUNT_SURGE.minDaily[meter]);
}

function ageSeries(ctx: RuleContext, meter: Meter, age: number): EvidencePoint[] {
  const points: EvidencePoint[] = [];
  const createdAt = Date.parse(ctx.input.createdAt);
  ctx.input.days.forEach((d, i) => {
    const a = accountAgeDays(ctx.historyStart + i * DAY_MS, createdAt);
    const q = ctx.input.peers!.byAge[meter][a];
    if (a < 0 || a > age || q === undefined) return;
    const start = ctx.historyStart + i * DAY_MS;
    points.push({
      t: new Date(start).toISOString(),
      observed: round4(comparableValue(dailyValue(d, meter), meter, start, createdAt)),
      expected: round4(q.q50),
      lo: 0,
      hi: round4(barOf(q, meter)),
      flagged: i === ctx.dayIndex,
    });
  });
  return points;
}
