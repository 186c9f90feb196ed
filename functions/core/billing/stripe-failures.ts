/**
 * How a Stripe call failed, and whether and when to try it again: the classification of the SDK's errors
 * (permanent, transient, rate limited) and the reporter's retry policy with its backoff.
 */
/** Why Stripe will never accept an event as sent. A closed set; `message` on the outcome keeps Stripe's words. */
export type PermanentReason =
  | 'unknown_customer'
  | 'missing_customer'
  | 'no_meter'
  | 'meter_inactive'
  | 'timestamp_out_of_window'
  | 'invalid_value'
  | 'value_too_many_digits'
  | 'identifier_too_long'
  | 'identifier_conflict'
  | 'invalid_event'
  | 'authentication'
  | 'permission'
  | 'not_found'
  | 'invalid_request';

/** Why a call failed in a way that waiting can cure. */
export type TransientReason = 'server_error' | 'timeout' | 'connection' | 'conflict' | 'session_expired' | 'should_retry';

/** What one Stripe answer means for the event it carried. */
export type StripeCallClass =
  | { kind: 'delivered'; duplicate: boolean }
  | { kind: 'retry_rate_limited'; shouldRetry?: boolean; message: string }
  | { kind: 'retry_transient'; reason: TransientReason; shouldRetry?: boolean; message: string }
  | { kind: 'permanent'; reason: PermanentReason; message: string; status?: number };

/** The fields of a failed Stripe call that classification reads; built from an SDK error by `stripeFailureOf`. */
export interface StripeFailure {
  /** HTTP status; absent when no answer arrived (timeout, reset, refused). */
  status?: number;
  /** The SDK's error class name, e.g. `StripeRateLimitError`, `StripeConnectionError`. */
  type?: string;
  /** Stripe's `error.type`, e.g. `invalid_request_error`, `api_error`, `idempotency_error`, `temporary_session_expired`. */
  rawType?: string;
  code?: string;
  param?: string;
  message: string;
  /** The `Stripe-Should-Retry` header, when sent. */
  shouldRetry?: boolean;
  /** Low-level network code such as `ETIMEDOUT` or `ECONNRESET`. */
  networkCode?: string;
}

/** Reads a `StripeFailure` from whatever a Stripe SDK call rejected with (structurally; core never imports the SDK). */
export function stripeFailureOf(error: unknown): StripeFailure {
  const e = (error ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const headers = (e.headers ?? {}) as Record<string, unknown>;
  const header = str(headers['stripe-should-retry']) ?? str(headers['Stripe-Should-Retry']);
  const detail = (e.detail ?? {}) as Record<string, unknown>;
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  // A raw Node error keeps its network code in `code`; an SDK error keeps Stripe's error code there.
  const networkCode = str(detail.code) ?? (status === undefined && /^E[A-Z]+$/.test(str(e.code) ?? '') ? str(e.code) : undefined);
  return {
    ...(status !== undefined ? { status } : {}),
    ...(str(e.type) ? { type: str(e.type) } : {}),
    ...(str(e.rawType) ? { rawType: str(e.rawType) } : {}),
    ...(str(e.code) && str(e.code) !== networkCode ? { code: str(e.code) } : {}),
    ...(str(e.param) ? { param: str(e.param) } : {}),
    message: str(e.message) ?? String(error),
    ...(header === 'true' || header === 'false' ? { shouldRetry: header === 'true' } : {}),
    ...(networkCode ? { networkCode } : {}),
  };
}

/**
 * Classifies a failed Stripe call. Keys on the status, `Stripe-Should-Retry` and the documented
 * duplicate-identifier text; codes and messages only refine the reason of a permanent failure.
 */
export function classifyStripeFailure(f: StripeFailure): StripeCallClass {
  const message = f.message;
  const retry = f.shouldRetry === undefined ? {} : { shouldRetry: f.shouldRetry };
  if (f.status !== undefined && f.status >= 200 && f.status < 300) return { kind: 'delivered', duplicate: false };
  // Stripe already holds an event with this identifier: the fact is billed, so this is a success.
  if (f.status === 400 && /already exists with identifier/i.test(message)) return { kind: 'delivered', duplicate: true };
  // The SDK also raises a 400 with code rate_limit (and v2's error type rate_limit) as a rate-limit error.
  if (f.status === 429 || f.code === 'rate_limit' || f.rawType === 'rate_limit' || f.type === 'StripeRateLimitError') {
    return { kind: 'retry_rate_limited', ...retry, message };
  }
  if (f.rawType === 'temporary_session_expired' || f.code === 'billing_meter_event_session_expired') {
    return { kind: 'retry_transient', reason: 'session_expired', message };
  }
  if (f.status === undefined) {
    const timeout = f.networkCode === 'ETIMEDOUT' || /timeout/i.test(message);
    return { kind: 'retry_transient', reason: timeout ? 'timeout' : 'connection', ...retry, message };
  }
  if (f.status >= 500) return { kind: 'retry_transient', reason: 'server_error', ...retry, message };
  // 409: the same idempotency key is still running (or a lock conflict); the SDK retries these too.
  if (f.status === 409) return { kind: 'retry_transient', reason: 'conflict', ...retry, message };
  if (f.shouldRetry === true) return { kind: 'retry_transient', reason: 'should_retry', shouldRetry: true, message };
  return { kind: 'permanent', reason: permanentReason(f), message, status: f.status };
}

/** Classifies whatever a Stripe SDK call rejected with. */
export function classifyStripeError(error: unknown): StripeCallClass {
  return classifyStripeFailure(stripeFailureOf(error));
}

function permanentReason(f: StripeFailure): PermanentReason {
  const m = f.message;
  const code = f.code ?? '';
  if (f.rawType === 'idempotency_error' || f.type === 'StripeIdempotencyError') return 'identifier_conflict';
  if (f.status === 401) return 'authentication';
  if (f.status === 403) return 'permission';
  if (code === 'meter_event_customer_not_found' || /no such customer/i.test(m)) return 'unknown_customer';
  if (code === 'meter_event_no_customer_defined') return 'missing_customer';
  if (code === 'archived_meter' || /\binactive\b|\barchived\b/i.test(m)) return 'meter_inactive';
  if (code === 'no_meter' || /no (active )?meter/i.test(m)) return 'no_meter';
  if (code.startsWith('timestamp_') || f.param === 'timestamp' || /timestamp/i.test(m)) return 'timestamp_out_of_window';
  if (code.startsWith('meter_event_') && /value/.test(code)) return 'invalid_value';
  if (/^payload\[value\]$|^payload\.value$/.test(f.param ?? '')) return 'invalid_value';
  if (f.status === 404) return 'not_found';
  return 'invalid_request';
}

/** Exponential backoff bounds for one kind of failure. */
export interface Backoff {
  baseMs: number;
  capMs: number;
}

/** How often and how patiently to retry. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  transient: Backoff;
  rateLimited: Backoff;
}

/** Six attempts; rate limits back off from 1 s (up to 30 s), other transient failures from 250 ms (up to 10 s). */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 6,
  transient: { baseMs: 250, capMs: 10_000 },
  rateLimited: { baseMs: 1_000, capMs: 30_000 },
};

/**
 * "Full jitter" backoff: a uniformly random wait in `[0, min(cap, base * 2^retry))`, so that clients
 * throttled together do not retry together. `retry` counts from 0 for the first retry.
 * @example backoffDelayMs(2, { baseMs: 250, capMs: 10_000 }, () => 0.5) // 500
 */
export function backoffDelayMs(retry: number, backoff: Backoff, random: () => number): number {
  const ceiling = Math.min(backoff.capMs, backoff.baseMs * 2 ** Math.max(0, retry));
  return Math.floor(Math.min(Math.max(random(), 0), 1 - Number.EPSILON) * ceiling);
}

/** Whether to try a call again after `attemptsMade` attempts ended in `result`, and after how long. */
export type RetryDecision =
  | { retry: true; delayMs: number }
  | { retry: false; because: 'done' | 'permanent' | 'stripe_should_retry_false' | 'attempts_exhausted' };

/**
 * Decides the next step. `Stripe-Should-Retry: false` always stops; an expired stream session is
 * retried at once (the caller opens a new session first); everything else transient waits with full jitter.
 */
export function retryDecision(result: StripeCallClass, attemptsMade: number, policy: RetryPolicy, random: () => number): RetryDecision {
  switch (result.kind) {
    case 'delivered':
      return { retry: false, because: 'done' };
    case 'permanent':
      return { retry: false, because: 'permanent' };
    case 'retry_rate_limited':
    case 'retry_transient': {
      if (result.shouldRetry === false) return { retry: false, because: 'stripe_should_retry_false' };
      if (attemptsMade >= policy.maxAttempts) return { retry: false, because: 'attempts_exhausted' };
      if (result.kind === 'retry_transient' && result.reason === 'session_expired') return { retry: true, delayMs: 0 };
      const backoff = result.kind === 'retry_rate_limited' ? policy.rateLimited : policy.transient;
      return { retry: true, delayMs: backoffDelayMs(attemptsMade - 1, backoff, random) };
    }
    default: {
      const unreachable: never = result;
      throw new Error(`unknown call class ${JSON.stringify(unreachable)}`);
    }
  }
}
