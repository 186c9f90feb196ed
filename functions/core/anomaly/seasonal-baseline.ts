import type { DetectorTuning, Granularity } from './types.js';

/** What the baseline expects for one bucket, in log1p space. */
export interface Forecast {
  /** Expected log1p(value). */
  mean: number;
  /** Noise scale in log1p space, never below the count-noise floor. */
  sigma: number;
}

/** One seasonal profile: an additive offset per slot, with how often each slot has been seen. */
interface Profile {
  period: number;
  slotOf(index: number): number;
  offsets: Float64Array;
  visits: Uint32Array;
  gain: number;
  /** A primary profile bootstraps from its first visits; a residual profile starts at zero and grows. */
  bootstrap: boolean;
}

// sqrt(pi/2): turns a mean absolute deviation into a Gaussian-equivalent standard deviation.
const MAD_TO_SIGMA = 1.2533;
// Keeps the scale above zero on perfectly flat series.
const MIN_SIGMA = 0.01;

/**
 * A robust additive model of log1p(value): level + hour-of-day profile + hour-of-week residual profile
 * (for daily series: level + day-of-week profile), updated online by exponential smoothing of winsorized
 * residuals. Working in log1p space makes the noise roughly multiplicative-invariant, so one scale fits
 * a customer at 10 calls an hour and one at 10 000.
 */
export class SeasonalBaseline {
  private level = 0;
  private seen = 0;
  private absDev = 0;
  private scaleSamples = 0;
  private readonly profiles: Profile[];

  constructor(
    granularity: Granularity,
    private readonly tuning: DetectorTuning,
  ) {
    this.profiles =
      granularity === 'hour'
        ? [profile(24, tuning.gammaDaily, true), profile(168, tuning.gammaWeekly, false)]
        : [profile(7, tuning.gammaDaily, true)];
  }

  /** Points absorbed so far. */
  get count(): number {
    return this.seen;
  }

  /** The forecast for the bucket with absolute index `index` (bucket start / bucket length). */
  forecast(index: number): Forecast {
    let mean = this.level;
    for (const p of this.profiles) mean += p.offsets[p.slotOf(index)]!;
    const learned = this.scaleSamples > 0 ? MAD_TO_SIGMA * this.absDev : Number.POSITIVE_INFINITY;
    return { mean, sigma: Math.max(learned, this.tuning.floorMultiplier * countNoiseFloor(mean), MIN_SIGMA) };
  }

  /**
   * Learns from one observation `y` (log1p space) given its forecast. `trust` is how much of the residual
   * may teach the baseline: 0 for a flagged point, 1 for a normal one.
   */
  absorb(index: number, y: number, f: Forecast, trust: 0 | 1): void {
    if (this.seen === 0) {
      this.level = y;
      this.seen = 1;
      return;
    }
    const residual = y - f.mean;
    const k = this.tuning.huberK * f.sigma;
    const r = trust * Math.max(-k, Math.min(k, residual));
    let bootstrapped = false;
    for (const p of this.profiles) {
      const slot = p.slotOf(index);
      const visits = p.visits[slot]!;
      if (p.bootstrap && visits === 0) {
        // First sight of this slot: it takes the whole residual, the level none of it.
        p.offsets[slot] = p.offsets[slot]! + (y - f.mean);
        bootstrapped = true;
      } else {
        const gain = p.bootstrap ? Math.max(p.gain, 1 / (visits + 1)) : p.gain;
        p.offsets[slot] = p.offsets[slot]! + gain * r;
      }
      if (trust === 1) p.visits[slot] = visits + 1;
    }
    if (!bootstrapped) {
      this.level += this.tuning.alpha * r;
      if (trust === 1) this.learnScale(Math.min(Math.abs(residual), k));
    }
    this.seen++;
  }

  /** Moves the level by `delta` at once: used when a run of flags shows the series has shifted. */
  shiftLevel(delta: number): void {
    this.level += delta;
  }

  private learnScale(absResidual: number): void {
    this.scaleSamples++;
    const gain = Math.max(this.tuning.beta, 1 / this.scaleSamples);
    this.absDev += gain * (absResidual - this.absDev);
  }
}

/**
 * Poisson noise carried into log1p space (delta method: sd(log1p X) ~ sqrt(mu) / (1 + mu)), with one
 * pseudo-count so that an expected zero still tolerates a few events.
 */
export function countNoiseFloor(meanLog: number): number {
  const mu = Math.max(0, Math.expm1(meanLog));
  return Math.sqrt(mu + 1) / (1 + mu);
}

function profile(period: number, gain: number, bootstrap: boolean): Profile {
  return {
    period,
    slotOf: (index) => ((index % period) + period) % period,
    offsets: new Float64Array(period),
    visits: new Uint32Array(period),
    gain,
    bootstrap,
  };
}
