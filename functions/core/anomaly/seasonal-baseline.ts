import type { DetectorTuning, Granularity } from './types.js';

/** What the baseline expects for one bucket, in model space (see {@link toModelSpace}). */
export interface Forecast {
  /** Expected transformed value. */
  mean: number;
  /** Noise scale in model space, never below the count-noise floor. */
  sigma: number;
}

/** One seasonal profile: an additive offset per slot, with how often each slot has been seen. */
interface Profile {
  period: number;
  offsets: Float64Array;
  visits: Uint32Array;
  gain: number;
}

// sqrt(pi/2): turns a mean absolute deviation into a Gaussian-equivalent standard deviation.
const MAD_TO_SIGMA = 1.2533;
// Keeps the scale above zero on perfectly flat series.
const MIN_SIGMA = 0.01;

const slotOf = (index: number, period: number) => ((index % period) + period) % period;

/**
 * A robust additive model of the transformed value: level + hour-of-day profile + hour-of-week residual
 * profile (for daily series: level + day-of-week profile), updated online by exponential smoothing of
 * winsorized residuals, with a noise scale per hour of day (per day of week). The count transform makes
 * the noise roughly scale-free, so one set of parameters fits a customer at 10 calls an hour and one at
 * 10 000, while small counts keep their Poisson noise floor.
 */
export class SeasonalBaseline {
  private level = 0;
  private seen = 0;
  private readonly profiles: Profile[];
  /** Mean absolute residual overall, and per slot of the first profile (heteroscedastic hours). */
  private absDev = 0;
  private scaleSamples = 0;
  private readonly slotAbsDev: Float64Array;
  private readonly slotScaleSamples: Uint32Array;

  constructor(
    granularity: Granularity,
    private readonly tuning: DetectorTuning,
  ) {
    this.profiles =
      granularity === 'hour' ? [profile(24, tuning.gammaDaily), profile(168, tuning.gammaWeekly)] : [profile(7, tuning.gammaDaily)];
    this.slotAbsDev = new Float64Array(this.profiles[0]!.period);
    this.slotScaleSamples = new Uint32Array(this.profiles[0]!.period);
  }

  /** Points absorbed so far. */
  get count(): number {
    return this.seen;
  }

  /** The forecast for the bucket with absolute index `index` (bucket start / bucket length). */
  forecast(index: number): Forecast {
    let mean = this.level;
    for (const p of this.profiles) mean += p.offsets[slotOf(index, p.period)]!;
    const floor =
      this.tuning.floorMultiplier * (this.tuning.dispersion > 0 ? countNoiseFloorVst(mean, this.tuning.dispersion) : countNoiseFloor(mean));
    return { mean, sigma: Math.max(this.learnedSigma(index), floor, MIN_SIGMA) };
  }

  /**
   * Learns from observation `y` (model space) given its forecast. Residuals are winsorized to `huberK`
   * scales, and to `flaggedK` scales for a flagged point (0 in production: a flagged point teaches the
   * baseline nothing, and never the noise scale), so no single point can drag the baseline far.
   */
  absorb(index: number, y: number, f: Forecast, flagged: boolean): void {
    if (this.seen === 0) {
      this.level = y;
      this.seen = 1;
      return;
    }
    const residual = y - f.mean;
    const k = (flagged ? this.tuning.flaggedK : this.tuning.huberK) * f.sigma;
    const r = Math.max(-k, Math.min(k, residual));
    this.level += Math.max(this.tuning.alpha, 1 / this.seen) * r;
    for (const p of this.profiles) {
      const slot = slotOf(index, p.period);
      const visits = p.visits[slot]!;
      // Shrunk towards "no seasonality" until a slot has been seen a few times: young profiles are noise.
      const gain = Math.max(p.gain, 1 / (visits + 1 + this.tuning.profilePrior));
      p.offsets[slot] = p.offsets[slot]! + gain * r;
      p.visits[slot] = visits + 1;
    }
    if (!flagged) this.learnScale(index, Math.min(Math.abs(residual), this.tuning.huberK * f.sigma));
    this.seen++;
  }

  /** Moves the level by `delta` at once: used when a run of flags shows the series has shifted. */
  shiftLevel(delta: number): void {
    this.level += delta;
  }

  private learnedSigma(index: number): number {
    if (this.scaleSamples === 0) return Number.POSITIVE_INFINITY;
    const slot = slotOf(index, this.slotAbsDev.length);
    const n = this.slotScaleSamples[slot]!;
    const w = n / (n + this.tuning.scalePrior);
    return MAD_TO_SIGMA * (w * this.slotAbsDev[slot]! + (1 - w) * this.absDev);
  }

  private learnScale(index: number, absResidual: number): void {
    this.scaleSamples++;
    this.absDev += Math.max(this.tuning.beta, 1 / this.scaleSamples) * (absResidual - this.absDev);
    const slot = slotOf(index, this.slotAbsDev.length);
    const n = ++this.slotScaleSamples[slot]!;
    this.slotAbsDev[slot] = this.slotAbsDev[slot]! + Math.max(this.tuning.betaSlot, 1 / n) * (absResidual - this.slotAbsDev[slot]!);
  }
}

/**
 * The count-noise floor when the model space is log1p (dispersion 0): Poisson noise carried into log1p space (delta method: sd(log1p X) ~ sqrt(mu) / (1 + mu)), with one
 * pseudo-count so that an expected zero still tolerates a few events.
 */
export function countNoiseFloor(meanLog: number): number {
  const mu = Math.max(0, Math.expm1(meanLog));
  return Math.sqrt(mu + 1) / (1 + mu);
}

/** Inverse of {@link toModelSpace}. */
export function fromModelSpace(y: number, dispersion: number): number {
  if (dispersion <= 0) return Math.expm1(y);
  const s = Math.sinh((y * Math.sqrt(dispersion)) / 2);
  return (Math.sign(y) * (s * s)) / dispersion;
}

/**
 * The variance-stabilizing transform of a negative binomial count (var = mu + dispersion mu^2): like
 * 2 sqrt(x) (Poisson, sd 1) for small counts and like log(x) / sqrt(dispersion) for large ones.
 * With dispersion 0 it is log1p.
 */
export function toModelSpace(x: number, dispersion: number): number {
  if (dispersion <= 0) return Math.log1p(x);
  return (2 * Math.asinh(Math.sqrt(dispersion * x))) / Math.sqrt(dispersion);
}

// Poisson noise in the variance-stabilized space: sd ~ 1 / sqrt(1 + dispersion mu), so 1 for small counts.
function countNoiseFloorVst(meanY: number, dispersion: number): number {
  const mu = Math.max(0, fromModelSpace(meanY, dispersion));
  return 1 / Math.sqrt(1 + dispersion * mu);
}

function profile(period: number, gain: number): Profile {
  return { period, offsets: new Float64Array(period), visits: new Uint32Array(period), gain };
}
