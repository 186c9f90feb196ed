/**
 * Remembers the series' own recent directed z-scores (the last `size` points, flagged ones included)
 * and answers a high quantile of them: how loud this series' routine bursts are. A customer whose usage
 * spikes every other day needs a louder spike to be news than one whose usage is steady.
 */
export class TailMemory {
  private readonly ring: Float64Array;
  private filled = 0;
  private next = 0;

  constructor(size: number) {
    this.ring = new Float64Array(Math.max(1, size));
  }

  /** The `q` quantile (0..1) of the remembered scores, 0 while fewer than `minPoints` are remembered. */
  quantile(q: number, minPoints: number): number {
    if (this.filled < minPoints || this.filled === 0) return 0;
    const sorted = Array.from(this.ring.subarray(0, this.filled)).sort((a, b) => a - b);
    const pos = Math.min(this.filled - 1, Math.max(0, Math.ceil(q * this.filled) - 1));
    return sorted[pos]!;
  }

  /** Remembers one directed z. */
  push(z: number): void {
    this.ring[this.next] = z;
    this.next = (this.next + 1) % this.ring.length;
    this.filled = Math.min(this.filled + 1, this.ring.length);
  }
}
