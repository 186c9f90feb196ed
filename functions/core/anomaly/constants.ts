import type { DetectorTuning, Granularity } from './types.js';

/** Production threshold: a point is flagged when its score reaches this (score 0.5 = robust z of `zFlag`). */
export const SPIKE_THRESHOLD = 0.5;

/** Lower score bounds of each severity; `low` starts at the production threshold. */
export const SEVERITY_THRESHOLDS = { low: SPIKE_THRESHOLD, medium: 0.75, high: 0.9 } as const;

const HOURLY: DetectorTuning = {
  zFlag: 5,
  alpha: 0.02,
  gammaDaily: 0.2,
  gammaWeekly: 0.1,
  beta: 0.02,
  betaSlot: 0.1,
  scalePrior: 5,
  profilePrior: 2,
  huberK: 2.5,
  flaggedK: 1,
  warmupPoints: 48,
  shiftAfter: 24,
  tailWindow: 336,
  tailQuantile: 0.99,
  tailRatio: 0,
  dispersion: 0,
  floorMultiplier: 1,
};

const DAILY: DetectorTuning = {
  ...HOURLY,
  alpha: 0.1,
  gammaDaily: 0.2,
  gammaWeekly: 0,
  beta: 0.05,
  warmupPoints: 14,
  shiftAfter: 3,
};

/** The one global parameter set per granularity used in production and by the backtest. */
export function productionTuning(granularity: Granularity): DetectorTuning {
  return granularity === 'hour' ? HOURLY : DAILY;
}
