/**
 * `volume_spike`: a meter's usage far above the customer's own seasonal baseline.
 *
 * This is the production spike detector (`core/anomaly`), unchanged: online, robust, daily and weekly
 * rhythm, flagged points teach it nothing. It runs on each meter's hourly series and on its daily view
 * (calls per day, distinct users per day, files protected at the day's end), so both a sharp burst and
 * a whole day running at several times its usual level are seen. A fraud flag asks more than a detector
 * flag, since every flag costs an analyst's time:
 *
 * - strength (robust z over the detector's bar) at least `minStrength` in at least one hour (or the day);
 * - an excess over expected of at least `minExcess[meter]`, and at least `minExcessShareOfDay` of the
 *   day's expected total (for protected files, a level: of the day's expected level);
 * - for calls and users, flagged hours at `minHourlyRatio` (4) times their expected values or more
 *   together: a legitimately busy hour runs at up to about 3x;
 * - on the daily view, a day at `minDailyRatio` (2) times its expected value or more: a whole day a
 *   little above expected is growth or a level shift, which the detector adopts in a few days;
 * - a whole day up hour after hour also counts on the daily view when no single hour nor the day's total
 *   crosses its bar: the combined z of the day's warm hours (Stouffer: sum / sqrt(hours)) at `wholeDayZ`
 *   with the day at `wholeDayRatio` (2.5) times expected (not for protected files, a level).
 *
 * Window: from the first to the last hour of the scored day the detector flagged, or the whole day when
 * the daily view flags. For API calls the evidence names where the day's calls came from (`placesOfDay`:
 * keys, top /24 prefixes and countries, new ones marked), so an analyst can tell the customer's own
 * systems (a backfill) from someone else's.
 */

import { DAY_MS, HOUR_MS } from '../../../../contract/clock.js';
import { METERS, type Meter } from '../../../../contract/meters.js';
import type { SpikeResult } from '../../anomaly/types.js';
import { EVIDENCE_CONTEXT, LEAKED_KEY, VOLUME_SPIKE } from '../constants.js';
import { type PlacesEvidence, placesOfDay } from '../places.js';
import { evidenceFromResults, type RuleContext } from '../rule-context.js';
import { round4, scoreOfStrength, severityOfScore } from '../scoring.js';
import type { Detection, EvidenceSeries } from '../types.js';

/** The spike detector's strength of a verdict: its robust z over its own bar (1 at the bar). */
export function strengthOfResult(r: SpikeResult): number {
  return r.score <= 0 ? 0 : r.score >= 1 ? Number.POSITIVE_INFINITY : Math.sqrt(r.score / (1 - r.score));
}

/** `volume_spike` detections of the scored day, one per meter at most. */
export function detectVolumeSpike(ctx: RuleContext): Detection[] {
  return METERS.flatMap((meter) => {
    const d = spikeOf(ctx, meter);
    return d ? [d] : [];
  });
}

function spikeOf(ctx: RuleContext, meter: Meter): Detection | undefined {
  const hourly = ctx.hourly(meter);
  const first = ctx.dayIndex * 24;
  const hours = hourly.slice(first, first + 24);
  const level = meter === 'protected_files';
  const expectedSum = hours.reduce((a, r) => a + r.expected, 0);
  const expectedDay = level ? expectedSum / 24 : expectedSum;
  const material = (excess: number) => excess >= VOLUME_SPIKE.minExcess[meter] && excess >= VOLUME_SPIKE.minExcessShareOfDay * expectedDay;

  const flaggedHours = hours.map((r, h) => ({ r, h })).filter(({ r }) => r.flagged);
  const excesses = flaggedHours.map(({ r }) => r.value - r.expected);
  const hourlyExcess = level ? Math.max(0, ...excesses) : excesses.reduce((a, b) => a + b, 0);
  const flaggedObserved = flaggedHours.reduce((a, { r }) => a + r.value, 0);
  const flaggedExpected = flaggedHours.reduce((a, { r }) => a + r.expected, 0);
  const steep = level || flaggedObserved >= VOLUME_SPIKE.minHourlyRatio * flaggedExpected;
  // A level (protected files) back where it stood within the last week is files protected again (after a
  // clean-up, or at a new period after end-of-period gaming), not new usage.
  const recentPeak = level
    ? Math.max(0, ...hourly.slice(Math.max(0, first - VOLUME_SPIKE.recentPeakDays * 24), first).map((r) => r.value))
    : 0;
  const beyondRecent = (observedLevel: number) => !level || observedLevel > recentPeak + VOLUME_SPIKE.minExcess[meter];
  const hourlyHit =
    flaggedHours.some(({ r }) => strengthOfResult(r) >= VOLUME_SPIKE.minStrength) &&
    material(hourlyExcess) &&
    steep &&
    beyondRecent(Math.max(0, ...flaggedHours.map(({ r }) => r.value)));

  const day = ctx.daily(meter)[ctx.dayIndex]!;
  // A whole day well above expected, hour after hour: the day's hours together (Stouffer's z over its warm hours).
  const warmHours = hours.filter((r) => r.warm);
  const dayZ = warmHours.length >= 12 ? warmHours.reduce((a, r) => a + r.z, 0) / Math.sqrt(warmHours.length) : 0;
  const wholeDay = !level && dayZ >= VOLUME_SPIKE.wholeDayZ && day.value >= VOLUME_SPIKE.wholeDayRatio * day.expected;
  const dailyHit =
    ((day.flagged && strengthOfResult(day) >= VOLUME_SPIKE.minStrength) || wholeDay) &&
    day.value >= VOLUME_SPIKE.minDailyRatio * day.expected &&
    material(day.value - day.expected) &&
    beyondRecent(day.value);
  if (!hourlyHit && !dailyHit) return undefined;

  const strength = Math.max(
    hourlyHit ? Math.max(...flaggedHours.map(({ r }) => strengthOfResult(r))) : 0,
    dailyHit ? Math.max(strengthOfResult(day), wholeDay ? dayZ / VOLUME_SPIKE.wholeDayZ : 0) : 0,
  );
  const score = scoreOfStrength(strength);
  const severity = severityOfScore(score);
  if (severity === undefined) return undefined;
  const fromHour = dailyHit ? 0 : flaggedHours[0]!.h;
  const toHour = dailyHit ? 24 : flaggedHours[flaggedHours.length - 1]!.h + 1;
  const flaggedSet = new Set(flaggedHours.map(({ h }) => first + h));
  const observed = dailyHit ? day.value : flaggedObserved;
  const expected = dailyHit ? day.expected : flaggedExpected;
  const series: EvidenceSeries[] = [
    evidenceFromResults(`${meter} per hour`, 'hour', hourly, first + fromHour - EVIDENCE_CONTEXT.hour, first + 24, (i) =>
      flaggedSet.has(i),
    ),
    evidenceFromResults(
      `${meter} per day`,
      'day',
      ctx.daily(meter),
      ctx.dayIndex - EVIDENCE_CONTEXT.day,
      ctx.dayIndex + 1,
      (i) => dailyHit && i === ctx.dayIndex,
    ),
  ];
  const places = meter === 'api_calls' ? placesOfDay(ctx.input.days, ctx.dayIndex) : undefined;
  return {
    customerId: ctx.input.customerId,
    rule: 'volume_spike',
    meter,
    window: {
      from: new Date(ctx.dayStart + fromHour * HOUR_MS).toISOString(),
      to: new Date(ctx.dayStart + (dailyHit ? DAY_MS : toHour * HOUR_MS)).toISOString(),
    },
    score: round4(score),
    severity,
    evidence: {
      summary: `${meter} ${dailyHit ? 'for the day' : `in ${flaggedHours.length} hour(s)`} was ${fmt(observed)} against ${fmt(expected)} expected (${fmt(observed / Math.max(expected, 1))}x)${placesNote(places)}`,
      variant: dailyHit ? 'day' : 'hours',
      observed: round4(observed),
      expected: round4(expected),
      signals: {
        strength: round4(strength),
        flaggedHours: flaggedHours.length,
        ...(places ? { newPlaceShare: places.newPlaceShare } : {}),
        excess: round4(dailyHit ? day.value - day.expected : hourlyExcess),
        dayZ: round4(dayZ),
        dailyZ: round4(day.z),
      },
      series,
      ...(places ? { apiKeyIds: places.apiKeyIds, topIpPrefixes: places.topIpPrefixes, topCountries: places.topCountries } : {}),
    },
  };
}

/** The summary's note on where the day's calls came from. */
export function placesNote(places: PlacesEvidence | undefined): string {
  return places
    ? `; ${Math.round(100 * places.newPlaceShare)} % of the day's calls from IP prefixes new in ${LEAKED_KEY.lookbackDays} days`
    : '';
}

const fmt = (x: number) => (Math.abs(x) >= 100 ? String(Math.round(x)) : x.toFixed(2).replace(/\.?0+$/, ''));
