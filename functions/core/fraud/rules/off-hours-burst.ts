/**
 * `off_hours_burst`: heavy API traffic in hours where the customer's own baseline is near zero.
 *
 * It reads the production spike detector's hourly baseline of `api_calls` (shared with
 * `volume_spike`, so there is one baseline, which flagged hours do not teach):
 *
 * - the customer's *busy hour* is the 95th percentile of the detector's expected values over the week
 *   before the scored day;
 * - an hour is *quiet* when its expected value is at most `quietShare` (5 %) of the busy hour;
 * - a quiet hour *bursts* when the detector flags it, it carries at least `minCalls` calls above
 *   expected, and its calls reach `burstShare` (25 %) of the busy hour. Strength = calls over
 *   `burstShare x busy hour`, so a burst as large as the busy hour itself is strength 4 (high).
 *
 * A customer busy around the clock has no quiet hours and is never flagged here. Needs
 * `minHistoryDays` of history. Window: the first to the last bursting hour of the scored day. The
 * evidence names where the day's calls came from (`placesOfDay`), as `volume_spike`'s does.
 */
import { HOUR_MS } from '../../../../contract/clock.js';
import { EVIDENCE_CONTEXT, OFF_HOURS_BURST } from '../constants.js';
import { placesOfDay } from '../places.js';
import { evidenceFromResults, type RuleContext } from '../rule-context.js';
import { round4, scoreOfStrength, severityOfScore } from '../scoring.js';
import { quantile } from '../stats.js';
import type { Detection } from '../types.js';
import { placesNote } from './volume-spike.js';

/** The `off_hours_burst` detection of the scored day, if a quiet hour burst. */
export function detectOffHoursBurst(ctx: RuleContext): Detection[] {
  if (ctx.dayIndex < OFF_HOURS_BURST.minHistoryDays) return [];
  const hourly = ctx.hourly('api_calls');
  const first = ctx.dayIndex * 24;
  const week = hourly.slice(first - 7 * 24, first);
  if (!week.every((r) => r.warm)) return [];
  const busy = quantile(
    week.map((r) => r.expected),
    0.95,
  );
  if (!(busy > 0)) return [];
  const bursts = hourly
    .slice(first, first + 24)
    .map((r, h) => ({ r, h, strength: r.value / (OFF_HOURS_BURST.burstShare * busy) }))
    .filter(
      ({ r, strength }) =>
        r.flagged && r.expected <= OFF_HOURS_BURST.quietShare * busy && r.value - r.expected >= OFF_HOURS_BURST.minCalls && strength >= 1,
    );
  if (bursts.length === 0) return [];
  const strength = Math.max(...bursts.map((b) => b.strength));
  const score = scoreOfStrength(strength);
  const severity = severityOfScore(score);
  if (severity === undefined) return [];
  const fromHour = bursts[0]!.h;
  const toHour = bursts[bursts.length - 1]!.h + 1;
  const observed = bursts.reduce((a, b) => a + b.r.value, 0);
  const expected = bursts.reduce((a, b) => a + b.r.expected, 0);
  const burstSet = new Set(bursts.map((b) => first + b.h));
  const places = placesOfDay(ctx.input.days, ctx.dayIndex);
  return [
    {
      customerId: ctx.input.customerId,
      rule: 'off_hours_burst',
      meter: 'api_calls',
      window: {
        from: new Date(ctx.dayStart + fromHour * HOUR_MS).toISOString(),
        to: new Date(ctx.dayStart + toHour * HOUR_MS).toISOString(),
      },
      score: round4(score),
      severity,
      evidence: {
        summary: `${Math.round(observed)} API calls in ${bursts.length} usually quiet hour(s) (${bursts.map((b) => `${String(b.h).padStart(2, '0')}:00`).join(', ')} UTC) against ${Math.round(expected)} expected; the busy hour carries ${Math.round(busy)}${placesNote(places)}`,
        observed,
        expected: round4(expected),
        signals: {
          ...(places ? { newPlaceShare: places.newPlaceShare } : {}),
          strength: round4(strength),
          busyHour: round4(busy),
          quietBar: round4(OFF_HOURS_BURST.quietShare * busy),
          burstBar: round4(OFF_HOURS_BURST.burstShare * busy),
          burstHours: bursts.length,
        },
        series: [
          evidenceFromResults('api_calls per hour', 'hour', hourly, first + fromHour - EVIDENCE_CONTEXT.hour, first + 24, (i) =>
            burstSet.has(i),
          ),
        ],
        ...(places ? { apiKeyIds: places.apiKeyIds, topIpPrefixes: places.topIpPrefixes, topCountries: places.topCountries } : {}),
      },
    },
  ];
}
