import { setTimeout as delay } from 'node:timers/promises';
import { type Clock, systemClock } from '../../../contract/clock.js';

/** Waits `ms`; injected so tests can move a fake clock instead of sleeping. */
export type Sleep = (ms: number) => Promise<void>;

/** The real timer. */
export const realSleep: Sleep = (ms) => (ms > 0 ? delay(ms) : Promise.resolve());

/** What the limiter has done so far: counts, not timings, so tests can assert them on a noisy machine. */
export interface RateLimiterStats {
  /** Permits handed out. */
  granted: number;
  /** Permits that had to wait for the bucket to refill. */
  delayed: number;
  /** Sum of the waits imposed, by the limiter's own clock. */
  waitedMs: number;
  /** Most permits scheduled within any 1,000 ms window (half-open), by the limiter's clock. */
  peakPerSecond: number;
}

/** Settings of a token bucket. */
export interface TokenBucketOptions {
  /** Sustained permits per second. */
  ratePerSecond: number;
  /** Permits available at once after a quiet spell; default 1 (smooth pacing, no burst). */
  burst?: number;
  clock?: Clock;
  sleep?: Sleep;
}

/**
 * A token bucket shared by every call a reporter makes (Stripe's basic limit counts all calls).
 * Callers that find it empty take a token on credit and wait until it would have refilled, so waits
 * are first come, first served and no caller polls. Any 1 s window holds at most `burst + ratePerSecond` permits.
 * @example const bucket = new TokenBucket({ ratePerSecond: 25 }); await bucket.take();
 */
export class TokenBucket {
  private readonly rate: number;
  private readonly burst: number;
  private readonly clock: Clock;
  private readonly sleep: Sleep;
  private tokens: number;
  private updatedAt: number;
  private readonly recent: number[] = [];
  private readonly counters: RateLimiterStats = { granted: 0, delayed: 0, waitedMs: 0, peakPerSecond: 0 };

  constructor(opts: TokenBucketOptions) {
    if (!(opts.ratePerSecond > 0) || !Number.isFinite(opts.ratePerSecond))
      throw new RangeError(`ratePerSecond must be > 0, got ${opts.ratePerSecond}`);
    const burst = opts.burst ?? 1;
    if (!Number.isInteger(burst) || burst < 1) throw new RangeError(`burst must be a whole number >= 1, got ${burst}`);
    this.rate = opts.ratePerSecond;
    this.burst = burst;
    this.clock = opts.clock ?? systemClock;
    this.sleep = opts.sleep ?? realSleep;
    this.tokens = burst;
    this.updatedAt = this.clock.now();
  }

  /** Resolves when the caller may make one call. */
  take(): Promise<void> {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + (Math.max(0, now - this.updatedAt) * this.rate) / 1000);
    this.updatedAt = now;
    this.tokens -= 1;
    const waitMs = this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate);
    this.record(now + waitMs, waitMs);
    return waitMs === 0 ? Promise.resolve() : this.sleep(waitMs);
  }

  /** Counters since construction. */
  stats(): RateLimiterStats {
    return { ...this.counters };
  }

  private record(scheduledAt: number, waitMs: number): void {
    this.counters.granted += 1;
    if (waitMs > 0) {
      this.counters.delayed += 1;
      this.counters.waitedMs += waitMs;
    }
    // Scheduled times never decrease (credit is handed out in order), so a sliding window suffices.
    while (this.recent.length > 0 && (this.recent[0] ?? 0) <= scheduledAt - 1000) this.recent.shift();
    this.recent.push(scheduledAt);
    this.counters.peakPerSecond = Math.max(this.counters.peakPerSecond, this.recent.length);
  }
}
