/**
 * The volume-spike detector: one online pass per series, each point scored only from the points before it.
 *
 * 1. Counts go through a negative-binomial variance-stabilizing transform (2 asinh(sqrt(d x)) / sqrt(d)):
 *    Poisson-like for small counts, log-like for large ones.
 * 2. A robust baseline (level + hour-of-day + hour-of-week profiles, or level + day-of-week for daily
 *    series) forecasts the point, with a noise scale per hour of day, never below the Poisson floor.
 * 3. z = (transformed value - forecast) / scale. The point is flagged when z reaches the bar: `zFlag`, or
 *    1.2 x the series' own third-loudest hour of the two weeks ending a day ago, if that is higher.
 * 4. The baseline then learns from the point, winsorized; a flagged point teaches it nothing. Twelve
 *    flags in a row move the level at once (a level shift, not an anomaly).
 *
 * Warm-up: nothing is flagged before 72 hourly points (3 days) or 14 daily points (2 weeks).
 */
import { DAY_MS, HOUR_MS } from '../../../contract/clock.js';
import { type FieldError, ValidationError } from '../../../contract/errors.js';
import { assertNever } from '../../../contract/meters.js';
import { productionTuning, SEVERITY_THRESHOLDS, SPIKE_THRESHOLD } from './constants.js';
import { fromModelSpace, SeasonalBaseline, toModelSpace } from './seasonal-baseline.js';
import { TailMemory } from './tail-memory.js';
import type { DetectorTuning, Direction, Granularity, Severity, SpikeDetectorOptions, SpikeResult, UsagePoint } from './types.js';
import { validateOptions } from './validate-options.js';

/** A stateful, online detector: feed it one series' points in time order. */
export interface SpikeDetector {
  /** Scores `point` from the points before it only, then learns from it. */
  update(point: UsagePoint): SpikeResult;
}

/**
 * Creates an online volume-spike detector for one series (one customer and meter).
 *
 * @example
 * const detector = createSpikeDetector({ granularity: 'hour' });
 * const { flagged, severity, expected } = detector.update({ t: Date.parse('2025-01-01T00:00:00Z'), value: 42 });
 */
export function createSpikeDetector(options: SpikeDetectorOptions = {}): SpikeDetector {
  validateOptions(options);
  const granularity: Granularity = options.granularity ?? 'hour';
  const direction: Direction = options.direction ?? 'up';
  const tuning: DetectorTuning = { ...productionTuning(granularity), ...options.tuning };
  const stepMs = granularity === 'hour' ? HOUR_MS : DAY_MS;
  const baseline = new SeasonalBaseline(granularity, tuning);
  const tail = new TailMemory(tuning.tailWindow, tuning.tailLag);
  let lastT: number | undefined;
  // Residuals of the current run of consecutive flags: a long run means the level itself moved.
  let run: number[] = [];

  return {
    update(point) {
      validatePoint(point, stepMs, lastT);
      lastT = point.t;
      const index = point.t / stepMs;
      const y = toModelSpace(point.value, tuning.dispersion);
      const f = baseline.forecast(index);
      const warm = baseline.count >= tuning.warmupPoints;
      const z = warm ? (y - f.mean) / f.sigma : 0;
      const dz = directed(z, direction);
      // The bar is zFlag, raised for a series whose own routine bursts are louder than that.
      const routine = tuning.tailRatio * tail.quantile(tuning.tailQuantile, tuning.warmupPoints);
      const zThreshold = Math.max(tuning.zFlag, routine);
      const score = scoreOf(dz, zThreshold);
      const flagged = score >= SPIKE_THRESHOLD;
      if (warm) tail.push(dz);

      baseline.absorb(index, y, f, flagged);
      if (flagged && (run.length === 0 || Math.sign(run[0]!) === Math.sign(y - f.mean))) run.push(y - f.mean);
      else run = flagged ? [y - f.mean] : [];
      if (run.length >= tuning.shiftAfter) {
        baseline.shiftLevel(median(run));
        run = [];
      }

      const spread = zThreshold * f.sigma;
      return {
        t: point.t,
        value: point.value,
        score,
        flagged,
        severity: severityOf(score),
        expected: Math.max(0, fromModelSpace(f.mean, tuning.dispersion)),
        band: [Math.max(0, fromModelSpace(f.mean - spread, tuning.dispersion)), fromModelSpace(f.mean + spread, tuning.dispersion)],
        z,
        warm,
      };
    },
  };
}

/**
 * Scores a whole series in one pass with a fresh detector; result `i` depends only on points `0..i`.
 *
 * @example scoreSeries(points, { granularity: 'day' }).filter((r) => r.flagged)
 */
export function scoreSeries(points: readonly UsagePoint[], options: SpikeDetectorOptions = {}): SpikeResult[] {
  const detector = createSpikeDetector(options);
  return points.map((p) => detector.update(p));
}

/**
 * Maps a directed robust z to [0, 1] against the flag threshold T: 0 at or below the expected value,
 * 0.5 at T, 0.8 at 2 T, 0.9 at 3 T, tending to 1.
 *
 * @example scoreOf(10, 5) // 0.8
 */
export function scoreOf(directedZ: number, threshold: number): number {
  if (!(directedZ > 0)) return 0;
  const q = directedZ * directedZ;
  return q / (q + threshold * threshold);
}

/** The severity band a score falls in (see `SEVERITY_THRESHOLDS`). */
export function severityOf(score: number): Severity {
  if (score >= SEVERITY_THRESHOLDS.high) return 'high';
  if (score >= SEVERITY_THRESHOLDS.medium) return 'medium';
  if (score >= SEVERITY_THRESHOLDS.low) return 'low';
  return 'none';
}

function directed(z: number, direction: Direction): number {
  switch (direction) {
    case 'up':
      return z;
    case 'down':
      return -z;
    case 'both':
      return Math.abs(z);
    default:
      return assertNever(direction);
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function validatePoint(point: UsagePoint, stepMs: number, lastT: number | undefined): void {
  const errors: FieldError[] = [];
  if (!Number.isSafeInteger(point.t)) errors.push({ field: 't', message: 'must be an integer epoch in milliseconds' });
  else if (point.t % stepMs !== 0)
    errors.push({ field: 't', message: `must be aligned to ${stepMs === HOUR_MS ? 'a UTC hour' : 'a UTC day'}` });
  else if (lastT !== undefined && point.t <= lastT) errors.push({ field: 't', message: 'must be after the previous point' });
  if (!Number.isFinite(point.value) || point.value < 0) errors.push({ field: 'value', message: 'must be a finite number >= 0' });
  if (errors.length > 0) throw new ValidationError(errors, { t: point.t });
}
