import {
  classifyStripeError,
  type RetryDecision,
  type RetryPolicy,
  retryDecision,
  type StripeCallClass,
} from '../../core/billing/stripe-failures.js';
import type { Sleep, TokenBucket } from './stripe-rate-limiter.js';

/** Answers the runner has seen, by class. */
export interface CallCounters {
  /** Calls started (each attempt is one call; the SDK's own one-off resend of a reset socket is not seen here). */
  calls: number;
  /** Calls that were second or later attempts. */
  retries: number;
  ok: number;
  /** 400 "An event already exists with identifier": counted as delivered. */
  duplicate: number;
  rateLimited: number;
  transient: number;
  sessionExpired: number;
  permanent: number;
}

/** The end of one logical call after its retries. */
export type CallResult<T> =
  | { ok: true; value: T; attempts: number }
  /** `result` may still be `delivered` (duplicate identifier): the call was refused because the work was done before. */
  | { ok: false; result: StripeCallClass; attempts: number; because: Exclude<RetryDecision, { retry: true }>['because'] };

/** Hooks for one logical call. */
export interface CallHooks {
  /** Runs before a retry of a call whose stream session expired (to open a new one). */
  onSessionExpired?(): void;
}

/**
 * Runs one logical Stripe call with the shared rate limiter, classification and full-jitter backoff.
 * The callback must send the same request (same Idempotency-Key) on every attempt.
 */
export class StripeCallRunner {
  private readonly counters: CallCounters = {
    calls: 0,
    retries: 0,
    ok: 0,
    duplicate: 0,
    rateLimited: 0,
    transient: 0,
    sessionExpired: 0,
    permanent: 0,
  };

  constructor(
    private readonly limiter: TokenBucket,
    private readonly policy: RetryPolicy,
    private readonly sleep: Sleep,
    private readonly random: () => number,
  ) {}

  /** Calls `send` until it succeeds, fails for good, or the policy gives up; never throws what `send` throws. */
  async run<T>(send: (attempt: number) => Promise<T>, hooks: CallHooks = {}): Promise<CallResult<T>> {
    for (let attempt = 1; ; attempt += 1) {
      await this.limiter.take();
      this.counters.calls += 1;
      if (attempt > 1) this.counters.retries += 1;
      let result: StripeCallClass;
      try {
        const value = await send(attempt);
        this.counters.ok += 1;
        return { ok: true, value, attempts: attempt };
      } catch (error) {
        result = classifyStripeError(error);
      }
      this.count(result);
      const next = retryDecision(result, attempt, this.policy, this.random);
      if (!next.retry) {
        return { ok: false, result, attempts: attempt, because: next.because };
      }
      if (result.kind === 'retry_transient' && result.reason === 'session_expired') hooks.onSessionExpired?.();
      await this.sleep(next.delayMs);
    }
  }

  /** Counts one call that bypassed `run` (e.g. opening a stream session) after taking a permit itself. */
  countCall(): void {
    this.counters.calls += 1;
  }

  /** Counters since construction. */
  stats(): CallCounters {
    return { ...this.counters };
  }

  private count(result: StripeCallClass): void {
    switch (result.kind) {
      case 'delivered':
        this.counters.duplicate += 1;
        return;
      case 'retry_rate_limited':
        this.counters.rateLimited += 1;
        return;
      case 'retry_transient':
        if (result.reason === 'session_expired') this.counters.sessionExpired += 1;
        else this.counters.transient += 1;
        return;
      case 'permanent':
        this.counters.permanent += 1;
        return;
      default: {
        const unreachable: never = result;
        throw new Error(`unknown call class ${JSON.stringify(unreachable)}`);
      }
    }
  }
}
