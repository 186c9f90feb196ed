import { type FieldError, ValidationError } from '../../../contract/errors.js';
import type { DetectorTuning, SpikeDetectorOptions } from './types.js';

const OPTION_KEYS = new Set(['granularity', 'direction', 'tuning']);
const GRANULARITIES = new Set(['hour', 'day']);
const DIRECTIONS = new Set(['up', 'down', 'both']);

/** Valid range of each tuning field: `[min, max, integer]`. */
const TUNING_RANGES: Record<keyof DetectorTuning, [number, number, boolean]> = {
  zFlag: [Number.MIN_VALUE, Number.MAX_VALUE, false],
  alpha: [0, 1, false],
  gammaDaily: [0, 1, false],
  gammaWeekly: [0, 1, false],
  beta: [Number.MIN_VALUE, 1, false],
  betaSlot: [Number.MIN_VALUE, 1, false],
  scalePrior: [0, Number.MAX_VALUE, false],
  profilePrior: [0, Number.MAX_VALUE, false],
  huberK: [Number.MIN_VALUE, Number.MAX_VALUE, false],
  flaggedK: [0, Number.MAX_VALUE, false],
  warmupPoints: [1, Number.MAX_SAFE_INTEGER, true],
  shiftAfter: [1, Number.MAX_SAFE_INTEGER, true],
  tailWindow: [1, 100_000, true],
  tailLag: [0, 100_000, true],
  tailQuantile: [0, 1, false],
  tailRatio: [0, Number.MAX_VALUE, false],
  dispersion: [0, Number.MAX_VALUE, false],
  floorMultiplier: [0, Number.MAX_VALUE, false],
};

/** Checks detector options, reporting every problem at once; unknown keys are errors, to catch typos. */
export function validateOptions(options: SpikeDetectorOptions): void {
  const errors: FieldError[] = [];
  for (const key of Object.keys(options)) if (!OPTION_KEYS.has(key)) errors.push({ field: key, message: 'unknown option' });
  if (options.granularity !== undefined && !GRANULARITIES.has(options.granularity)) {
    errors.push({ field: 'granularity', message: "must be 'hour' or 'day'" });
  }
  if (options.direction !== undefined && !DIRECTIONS.has(options.direction)) {
    errors.push({ field: 'direction', message: "must be 'up', 'down' or 'both'" });
  }
  for (const [key, value] of Object.entries(options.tuning ?? {})) {
    const range = TUNING_RANGES[key as keyof typeof TUNING_RANGES];
    if (range === undefined) {
      errors.push({ field: `tuning.${key}`, message: 'unknown option' });
      continue;
    }
    const [min, max, integer] = range;
    if (typeof value !== 'number' || !(value >= min && value <= max) || (integer && !Number.isInteger(value))) {
      errors.push({ field: `tuning.${key}`, message: `must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}]` });
    }
  }
  if (errors.length > 0) throw new ValidationError(errors);
}
