/** Maps over items with at most `limit` calls in flight, keeping the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

/** Runs `fn` over `items` with at most `limit` in flight, for side effects only. */
export async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  await mapLimit(items, limit, fn);
}

/** How a retry loop waits: bounded exponential backoff with full jitter, clock and randomness injected. */
export interface Backoff {
  /** Attempts in all, the first included; the loop gives up after the last. */
  attempts: number;
  baseMs: number;
  capMs: number;
  sleep: (ms: number) => Promise<void>;
  /** A number in [0, 1). */
  random: () => number;
}

/** Real time and Math.random: what production uses (tests pass their own sleep). */
export const DEFAULT_BACKOFF: Backoff = {
  // At most 1.55 s of waiting between 6 attempts (each up to 3 SDK tries): a throttled step gives up in about
  // 10 s at worst, inside the consumer's 30 s, and the record is then retried later by SQS (EVENT_QUEUE).
  attempts: 6,
  baseMs: 25,
  capMs: 1000,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  random: Math.random,
};

/**
 * The wait before retry `retry` (1 for the first retry): uniform in [0, min(cap, base * 2^retry)).
 * Full jitter spreads clients that were throttled together, so they do not retry together.
 */
export function backoffDelay(retry: number, b: Pick<Backoff, 'baseMs' | 'capMs' | 'random'>): number {
  return Math.floor(b.random() * Math.min(b.capMs, b.baseMs * 2 ** retry));
}

/**
 * Calls `fn` until it succeeds, `retryable` says no, or `b.attempts` are spent; waits with `backoffDelay`
 * between attempts. The last error is rethrown as it came: the caller decides what a failure means.
 */
export async function withBackoff<T>(fn: (attempt: number) => Promise<T>, retryable: (err: unknown) => boolean, b: Backoff): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt + 1 >= b.attempts || !retryable(err)) throw err;
      await b.sleep(backoffDelay(attempt + 1, b));
    }
  }
}
