import type { Granularity } from '../count/usage-fragment.js';

export type { Granularity };

/** One bucket of a usage series: `t` is the bucket start (epoch ms, aligned to the UTC hour or day). */
export interface UsagePoint {
  t: number;
  value: number;
}

/** Which deviations count: more usage than expected, less, or either. */
export type Direction = 'up' | 'down' | 'both';

/** How loud a point is; `none` below the production threshold. */
export type Severity = 'none' | 'low' | 'medium' | 'high';

/** The detector's verdict on one point, computed only from the points before it. */
export interface SpikeResult {
  t: number;
  value: number;
  /** 0 = as expected (or the wrong direction), 1 = far outside; `flagged` is `score >= SPIKE_THRESHOLD`. */
  score: number;
  flagged: boolean;
  severity: Severity;
  /** The baseline's typical value for this bucket (a median-like figure, not a mean). */
  expected: number;
  /** Values inside `[lo, hi]` are never flagged; with direction `up` only `hi` matters, with `down` only `lo`. */
  band: [lo: number, hi: number];
  /** Robust z-score of the point against the baseline, signed (positive = above expected). */
  z: number;
  /** False while the detector is still warming up; it never flags then. */
  warm: boolean;
}

/**
 * The detector's knobs. One global set is used in production ({@link productionTuning}); the fields are
 * exposed so the evaluation can show how sensitive the result is to them, never to tune per customer.
 */
export interface DetectorTuning {
  /** Robust z at which a point is flagged (score 0.5); the tail memory may raise this bar, never lower it. */
  zFlag: number;
  /** Level gain per point. */
  alpha: number;
  /** Gain of the daily (hour-of-day) profile per visit of a slot; for daily series, of the day-of-week profile. */
  gammaDaily: number;
  /** Gain of the weekly (hour-of-week) residual profile per visit of a slot; unused for daily series. */
  gammaWeekly: number;
  /** Gain of the residual scale estimate per point. */
  beta: number;
  /** Gain of the per-slot (hour-of-day, or day-of-week) residual scale per visit. */
  betaSlot: number;
  /** Visits a slot's own scale needs to weigh as much as the overall scale. */
  scalePrior: number;
  /** Pseudo-visits of "no seasonality" that a seasonal slot's first observations are averaged with. */
  profilePrior: number;
  /** Residuals are winsorized to `±huberK` scales before they update the baseline. */
  huberK: number;
  /** A flagged point's residual is winsorized to `±flaggedK` scales, so it teaches the baseline little. */
  flaggedK: number;
  /** Points seen before the detector may flag. */
  warmupPoints: number;
  /** After this many consecutive flagged points the baseline accepts the new level (a level shift). */
  shiftAfter: number;
  /** Points of the series' own recent scores remembered to judge how bursty it is. */
  tailWindow: number;
  /** How many points old a score must be before it counts as routine (so a burst does not mute itself). */
  tailLag: number;
  /** Which quantile of those scores stands for the series' routine bursts. */
  tailQuantile: number;
  /** The flag threshold is at least this times that quantile; 0 disables the adaptation. */
  tailRatio: number;
  /** Overdispersion of the count model; 0 means plain log1p space. */
  dispersion: number;
  /** Multiplies the Poisson noise floor, so low counts need a larger jump to be flagged. */
  floorMultiplier: number;
}

/** Options of {@link createSpikeDetector}; unknown keys are rejected to catch typos. */
export interface SpikeDetectorOptions {
  granularity?: Granularity;
  direction?: Direction;
  tuning?: Partial<DetectorTuning>;
}
