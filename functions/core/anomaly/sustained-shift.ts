// sqrt(pi/2): turns a mean absolute deviation into a Gaussian-equivalent standard deviation.
const MAD_TO_SIGMA = 1.2533;

/**
 * Scores sustained deviations: the mean of the last `k` standardized residuals (the current one
 * included), for each horizon `k`, divided by that mean's own robust scale. The scale is learned from the
 * series (neighbouring hours' residuals are correlated, so it is usually above the independent-noise
 * 1/sqrt(k)) and never below 1/sqrt(k). A modest rise held for hours scores as high as a one-hour spike.
 */
export class SustainedShift {
  private readonly recent: number[] = [];
  private readonly absMean: Float64Array;
  private readonly samples: Uint32Array;
  private readonly maxHorizon: number;

  constructor(
    private readonly horizons: readonly number[],
    private readonly clip: number,
    private readonly beta: number,
  ) {
    this.maxHorizon = Math.max(1, ...horizons);
    this.absMean = new Float64Array(horizons.length);
    this.samples = new Uint32Array(horizons.length);
  }

  /** Forgets the recent residuals, e.g. across a gap in the series. */
  reset(): void {
    this.recent.length = 0;
  }

  /** The signed z of each horizon `k` that would have enough points with `u` added; changes nothing. */
  score(u: number): { k: number; z: number }[] {
    return this.means(this.clipped(u)).map(({ i, k, mean }) => {
      const learned = this.samples[i]! > 0 ? MAD_TO_SIGMA * this.absMean[i]! : 0;
      return { k, z: mean / Math.max(learned, 1 / Math.sqrt(k)) };
    });
  }

  /** Adds standardized residual `u`; `learn` says whether it may teach the horizons' scales. */
  commit(u: number, learn: boolean): void {
    const c = this.clipped(u);
    if (learn) {
      for (const { i, mean } of this.means(c)) {
        const n = ++this.samples[i]!;
        this.absMean[i] = this.absMean[i]! + Math.max(this.beta, 1 / n) * (Math.abs(mean) - this.absMean[i]!);
      }
    }
    this.recent.push(c);
    if (this.recent.length > this.maxHorizon) this.recent.shift();
  }

  private clipped(u: number): number {
    return Math.max(-this.clip, Math.min(this.clip, u));
  }

  private means(next: number): { i: number; k: number; mean: number }[] {
    const out: { i: number; k: number; mean: number }[] = [];
    this.horizons.forEach((k, i) => {
      if (this.recent.length < k - 1) return;
      let sum = next;
      for (let j = this.recent.length - (k - 1); j < this.recent.length; j++) sum += this.recent[j]!;
      out.push({ i, k, mean: sum / k });
    });
    return out;
  }
}
