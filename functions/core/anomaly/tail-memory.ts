/**
 * Remembers the series' own directed z-scores of `size` points, flagged ones included, ending `lag`
 * points ago, and answers a high quantile of them: how loud this series' routine bursts are. A customer
 * whose usage spikes every other day needs a louder spike to be news than one whose usage is steady.
 * The lag keeps an ongoing burst from raising its own bar.
 */
export class TailMemory {
  private readonly pending: number[] = [];
  private readonly ring: Float64Array;
  // The same values kept sorted, so a quantile is a lookup rather than a sort.
  private readonly sorted: number[] = [];
  private filled = 0;
  private next = 0;

  constructor(
    size: number,
    private readonly lag: number,
  ) {
    this.ring = new Float64Array(Math.max(1, size));
  }

  /** The `q` quantile (0..1) of the remembered scores, 0 while fewer than `minPoints` are remembered. */
  quantile(q: number, minPoints: number): number {
    if (this.filled === 0 || this.filled < minPoints) return 0;
    const pos = Math.min(this.filled - 1, Math.max(0, Math.ceil(q * this.filled) - 1));
    return this.sorted[pos]!;
  }

  /** Queues one directed z; it is remembered `lag` pushes later, and the oldest forgotten once full. */
  push(z: number): void {
    this.pending.push(z);
    if (this.pending.length > this.lag) this.remember(this.pending.shift()!);
  }

  private remember(z: number): void {
    if (this.filled === this.ring.length) this.sorted.splice(lowerBound(this.sorted, this.ring[this.next]!), 1);
    else this.filled++;
    this.ring[this.next] = z;
    this.next = (this.next + 1) % this.ring.length;
    this.sorted.splice(lowerBound(this.sorted, z), 0, z);
  }
}

function lowerBound(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
