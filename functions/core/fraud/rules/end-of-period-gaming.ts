/**
 * `end_of_period_gaming`: mass unprotection of files just before a billing period ends.
 *
 * Watched days: the last `lastDays` (3) UTC days of a billing period. On such a day the rule measures
 * the *drop*: the highest protected-file count of the `peakLookbackDays` (7) days up to the day's end,
 * minus the count at the day's end, as a share of that peak. The bar is
 * `max(minDropShare, historyMargin x the customer's biggest drop share on any earlier unflagged day)`,
 * and the drop must also reach `minFiles` files; strength = drop share over the bar. With the defaults
 * a customer that never drops more than a few percent scores low at a 25 % drop and high at 62.5 %;
 * `severityByEvidence` then raises every such detection one level (medium at 25 %).
 *
 * Online and robust: the history is replayed day by day, earlier periods' last days are judged the same
 * way (their boundaries follow from the period's anchor day), and a flagged day never raises the bar.
 * The meter is `protected_files`; window: the scored day. A hold on it keeps the period's
 * protected-files report back (a `last` meter reports the period's value), which is the point.
 */

import { DAY_MS, HOUR_MS } from '../../../../contract/clock.js';
import { periodContaining } from '../../close/billing-period.js';
import { END_OF_PERIOD_GAMING } from '../constants.js';
import type { RuleContext } from '../rule-context.js';
import { round4, scoreOfStrength, severityOfScore } from '../scoring.js';
import type { Detection, EvidencePoint } from '../types.js';

interface DropVerdict {
  peak: number;
  end: number;
  share: number;
  bar: number;
  strength: number;
}

/** The `end_of_period_gaming` detection of the scored day, if it is watched and the drop crossed. */
export function detectEndOfPeriodGaming(ctx: RuleContext): Detection[] {
  const counts = ctx.input.days.flatMap((d) => d.protectedFiles);
  const { anchorDay } = ctx.input.period;
  let biggestDrop = 0;
  let verdict: DropVerdict | undefined;
  for (let k = 0; k <= ctx.dayIndex; k++) {
    const drop = dropAt(counts, k);
    const dayStart = ctx.historyStart + k * DAY_MS;
    const watched = dayStart >= Date.parse(periodContaining(dayStart, anchorDay).end) - END_OF_PERIOD_GAMING.lastDays * DAY_MS;
    let v: DropVerdict | undefined;
    if (watched) {
      const bar = Math.max(END_OF_PERIOD_GAMING.minDropShare, END_OF_PERIOD_GAMING.historyMargin * biggestDrop);
      const strength = drop.peak - drop.end >= END_OF_PERIOD_GAMING.minFiles ? drop.share / bar : 0;
      v = { ...drop, bar, strength };
    }
    if (k === ctx.dayIndex) verdict = v;
    else if (v === undefined || v.strength < 1) biggestDrop = Math.max(biggestDrop, drop.share);
  }
  if (verdict === undefined || verdict.strength < 1) return [];
  const score = scoreOfStrength(verdict.strength);
  const severity = severityOfScore(score);
  if (severity === undefined) return [];
  const periodEnd = ctx.input.period.end;
  return [
    {
      customerId: ctx.input.customerId,
      rule: 'end_of_period_gaming',
      meter: 'protected_files',
      window: { from: new Date(ctx.dayStart).toISOString(), to: new Date(ctx.dayStart + DAY_MS).toISOString() },
      score: round4(score),
      severity,
      evidence: {
        summary: `protected files fell from ${verdict.peak} to ${verdict.end} (${Math.round(verdict.share * 100)} %) with the period ending ${periodEnd}; the customer's biggest earlier drop was ${Math.round(biggestDrop * 100)} %`,
        observed: verdict.end,
        expected: verdict.peak,
        signals: {
          strength: round4(verdict.strength),
          dropShare: round4(verdict.share),
          bar: round4(verdict.bar),
          biggestEarlierDrop: round4(biggestDrop),
          peak: verdict.peak,
          end: verdict.end,
        },
        series: [{ name: 'protected files at the end of each hour', granularity: 'hour', points: hourSeries(ctx, counts, verdict) }],
      },
    },
  ];
}

/** The drop at the end of day `k`: from the highest count of the lookback days up to then. */
function dropAt(counts: readonly number[], k: number): { peak: number; end: number; share: number } {
  const endIdx = k * 24 + 23;
  const from = Math.max(0, endIdx + 1 - END_OF_PERIOD_GAMING.peakLookbackDays * 24);
  let peak = 0;
  for (let i = from; i <= endIdx; i++) peak = Math.max(peak, counts[i]!);
  const end = counts[endIdx]!;
  return { peak, end, share: peak > 0 ? (peak - end) / peak : 0 };
}

function hourSeries(ctx: RuleContext, counts: readonly number[], v: DropVerdict): EvidencePoint[] {
  const endIdx = ctx.dayIndex * 24 + 23;
  const from = Math.max(0, endIdx + 1 - END_OF_PERIOD_GAMING.peakLookbackDays * 24);
  const points: EvidencePoint[] = [];
  for (let i = from; i <= endIdx; i++) {
    points.push({
      t: new Date(ctx.historyStart + i * HOUR_MS).toISOString(),
      observed: counts[i]!,
      expected: v.peak,
      lo: round4(v.peak * (1 - v.bar)),
      hi: v.peak,
      flagged: i >= ctx.dayIndex * 24 && counts[i]! < v.peak * (1 - v.bar),
    });
  }
  return points;
}
