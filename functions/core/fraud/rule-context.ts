import { DAY_MS, HOUR_MS } from '../../../contract/clock.js';
import { assertNever, type Meter } from '../../../contract/meters.js';
import { scoreSeries } from '../anomaly/spike-detector.js';
import type { SpikeDetectorOptions, SpikeResult, UsagePoint } from '../anomaly/types.js';
import { utcDayStart } from '../close/file-timeline.js';
import { round4 } from './scoring.js';
import type { CustomerActivityDay, EvidencePoint, EvidenceSeries, FraudInput } from './types.js';

/**
 * What every rule reads for one customer and night: the validated input, and the spike detector's
 * online verdicts on each meter's hourly and daily series, computed once and shared (the volume and
 * off-hours rules read the same hourly baseline; a flagged point has taught it nothing).
 */
export interface RuleContext {
  input: FraudInput;
  /** 00:00 UTC of the scored day, ms. */
  dayStart: number;
  /** 00:00 UTC of the first day of history, ms: hour `i` of a series starts at `historyStart + i h`. */
  historyStart: number;
  /** Index of the scored day in `input.days` (the last). */
  dayIndex: number;
  /** The detector's verdict on every hour of history, oldest first. */
  hourly(meter: Meter): SpikeResult[];
  /** The detector's verdict on every day of history (the meter's daily value), oldest first. */
  daily(meter: Meter): SpikeResult[];
  /** Scores any daily series of the history with the daily detector (cached by name). */
  dailyOf(name: string, values: readonly number[], options?: SpikeDetectorOptions): SpikeResult[];
}

/** Builds the shared context; `input` must already be validated. */
export function buildRuleContext(input: FraudInput): RuleContext {
  const historyStart = utcDayStart(input.days[0]!.day)!;
  const cache = new Map<string, SpikeResult[]>();
  const memo = (key: string, compute: () => SpikeResult[]) => {
    let r = cache.get(key);
    if (r === undefined) {
      r = compute();
      cache.set(key, r);
    }
    return r;
  };
  const dailyOf = (name: string, values: readonly number[], options: SpikeDetectorOptions = {}) =>
    memo(`d:${name}:${options.direction ?? 'up'}`, () =>
      scoreSeries(dailyPoints(historyStart, values), { granularity: 'day', ...options }),
    );
  return {
    input,
    dayStart: utcDayStart(input.day)!,
    historyStart,
    dayIndex: input.days.length - 1,
    hourly: (meter) => memo(`h:${meter}`, () => scoreSeries(hourlyPoints(historyStart, input.days, meter), { granularity: 'hour' })),
    daily: (meter) =>
      dailyOf(
        meter,
        input.days.map((d) => dailyValue(d, meter)),
      ),
    dailyOf,
  };
}

/** The hourly values of a meter, 24 per day. */
export function hourlyValues(day: CustomerActivityDay, meter: Meter): readonly number[] {
  switch (meter) {
    case 'api_calls':
      return day.apiCalls;
    case 'active_users':
      return day.activeUsers;
    case 'protected_files':
      return day.protectedFiles;
    default:
      return assertNever(meter);
  }
}

/** A day's value of a meter: calls summed, users distinct over the day, files protected at the day's end. */
export function dailyValue(day: CustomerActivityDay, meter: Meter): number {
  switch (meter) {
    case 'api_calls':
      return day.apiCalls.reduce((a, b) => a + b, 0);
    case 'active_users':
      return day.activeUsersDay;
    case 'protected_files':
      return day.protectedFiles[23]!;
    default:
      return assertNever(meter);
  }
}

function hourlyPoints(start: number, days: readonly CustomerActivityDay[], meter: Meter): UsagePoint[] {
  const out: UsagePoint[] = [];
  days.forEach((d, i) => {
    hourlyValues(d, meter).forEach((value, h) => {
      out.push({ t: start + i * DAY_MS + h * HOUR_MS, value });
    });
  });
  return out;
}

function dailyPoints(start: number, values: readonly number[]): UsagePoint[] {
  return values.map((value, i) => ({ t: start + i * DAY_MS, value }));
}

/**
 * An evidence series from detector verdicts: the buckets `[from, to)` of `results` (indices), each with
 * the detector's expected value and band; `flagged(i)` marks the pattern's buckets.
 */
export function evidenceFromResults(
  name: string,
  granularity: 'hour' | 'day',
  results: readonly SpikeResult[],
  from: number,
  to: number,
  flagged: (i: number) => boolean,
): EvidenceSeries {
  const points: EvidencePoint[] = [];
  for (let i = Math.max(0, from); i < Math.min(results.length, to); i++) {
    const r = results[i]!;
    points.push({
      t: new Date(r.t).toISOString(),
      observed: r.value,
      expected: round4(r.expected),
      lo: round4(r.band[0]),
      hi: round4(r.band[1]),
      flagged: flagged(i),
    });
  }
  return { name, granularity, points };
}
