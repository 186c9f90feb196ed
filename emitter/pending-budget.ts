/**
 * The bound on events held in memory (open aggregates plus sealed, unsettled events), shared by
 * the aggregator and the dispatcher. A plain counter: taking and releasing are the hot path's cost.
 */
export class PendingBudget {
  count = 0;

  constructor(readonly max: number) {}

  /** Reserves room for one more event; false when the bound is reached. */
  tryTake(): boolean {
    if (this.count >= this.max) return false;
    this.count++;
    return true;
  }

  /** Gives back room for `n` settled events. */
  release(n = 1): void {
    this.count -= n;
  }
}
