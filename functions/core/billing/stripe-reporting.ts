import { createHash } from 'node:crypto';
import { type FieldError, ValidationError } from '../../../contract/errors.js';
import { METERS, type Meter } from '../../../contract/meters.js';

/**
 * The pure half of reporting usage to Stripe Billing Meters: which meters exist, how a meter event is
 * named so that sending it twice cannot bill twice, how Stripe's answers are classified, and how long
 * to wait before trying again. The adapter (`adapters/stripe-meter-reporter.ts`) does the I/O.
 */

/** How one of our meters is configured on Stripe. A meter cannot change after creation (only its name). */
export interface StripeMeterSpec {
  meter: Meter;
  eventName: string;
  formula: 'sum' | 'last';
  displayName: string;
  /** Short code used inside meter event identifiers. */
  code: string;
}

/** Payload keys our meters use: Stripe's defaults, so `customer_mapping` and `value_settings` stay plain. */
export const CUSTOMER_PAYLOAD_KEY = 'stripe_customer_id';
export const VALUE_PAYLOAD_KEY = 'value';

/** Our three meters on Stripe; one definition used by `ensureMeters`, the reporter and the nightly close. */
export const STRIPE_METERS: Readonly<Record<Meter, StripeMeterSpec>> = {
  api_calls: { meter: 'api_calls', eventName: 'serenity_api_calls', formula: 'sum', displayName: 'Serenity API calls', code: 'api' },
  active_users: {
    meter: 'active_users',
    eventName: 'serenity_active_users',
    formula: 'last',
    displayName: 'Serenity active users',
    code: 'users',
  },
  protected_files: {
    meter: 'protected_files',
    eventName: 'serenity_protected_files',
    formula: 'last',
    displayName: 'Serenity protected files',
    code: 'files',
  },
};

/** Stripe's limit on `identifier` and `event_name`. */
export const MAX_IDENTIFIER_LENGTH = 100;
/** Highest revision an identifier can carry (keeps identifiers within 100 characters). */
export const MAX_REVISION = 999_999;

/** One meter event as the reporter sends it. `value` may be negative (a correction of a `sum` meter). */
export interface MeterEventToSend {
  identifier: string;
  eventName: string;
  stripeCustomerId: string;
  value: number;
  /** Unix seconds. Stripe accepts the past 35 days up to 5 minutes ahead. */
  timestamp: number;
}

/** The billable fact an identifier is derived from. */
export interface MeterEventIdentity {
  /** Our customer id (up to 256 characters), not Stripe's. */
  customerId: string;
  meter: Meter;
  /** UTC day, `YYYY-MM-DD`. */
  day: string;
  /** 0 for the first report of the day; a correction sent later gets the next revision. */
  revision: number;
}

const RAW_CUSTOMER = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * A deterministic Stripe meter event identifier, at most 100 characters.
 * Short, plain customer ids are kept readable; others are replaced by `h:` and their SHA-256 (base64url).
 * A readable segment never contains `:`, so it can never equal a hashed one: distinct inputs give distinct identifiers.
 * @example meterEventIdentifier({ customerId: 'acme', meter: 'api_calls', day: '2026-03-09', revision: 0 }) // 'srn:api:2026-03-09:r0:acme'
 */
export function meterEventIdentifier(identity: MeterEventIdentity): string {
  const { customerId, meter, day, revision } = identity;
  const errors: FieldError[] = [];
  if (typeof customerId !== 'string' || customerId.length < 1 || customerId.length > 256) {
    errors.push({ field: 'customerId', message: 'must be 1-256 characters' });
  }
  if (!METERS.includes(meter)) errors.push({ field: 'meter', message: `must be one of ${METERS.join(', ')}` });
  if (!isUtcDay(day)) errors.push({ field: 'day', message: 'must be a UTC day, YYYY-MM-DD' });
  if (!Number.isInteger(revision) || revision < 0 || revision > MAX_REVISION) {
    errors.push({ field: 'revision', message: `must be a whole number 0-${MAX_REVISION}` });
  }
  if (errors.length) throw new ValidationError(errors);
  const customer = RAW_CUSTOMER.test(customerId) ? customerId : `h:${sha256(customerId)}`;
  return `srn:${STRIPE_METERS[meter].code}:${day}:r${revision}:${customer}`;
}

/**
 * The Idempotency-Key for sending one meter event: derived from its identifier, so any retry (in this
 * process or a later run within Stripe's 24 h key window) replays the first answer instead of executing again.
 */
export function meterEventIdempotencyKey(identifier: string): string {
  return /^[\x21-\x7e]{1,100}$/.test(identifier) ? `srn-mev:${identifier}` : `srn-mev#${sha256(identifier)}`;
}

/** The Idempotency-Key for one meter event stream request: derived from the identifiers it carries, in order. */
export function streamRequestIdempotencyKey(identifiers: readonly string[]): string {
  return `srn-mes:${sha256(identifiers.join('\n'))}`;
}

/** C0 controls and DEL, which no text field of a meter event may hold. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the pattern names the control characters a meter event's text fields refuse
const CONTROL_CHARACTER = /[\x00-\x1f\x7f]/;

/** Every problem with one meter event before it is sent (an empty list means it may be sent). */
export function validateMeterEvent(event: MeterEventToSend): FieldError[] {
  if (event === null || typeof event !== 'object') return [{ field: 'event', message: 'must be an object' }];
  const errors: FieldError[] = [];
  const text = (field: keyof MeterEventToSend, value: unknown, max: number) => {
    if (typeof value !== 'string' || value.length < 1 || value.length > max || CONTROL_CHARACTER.test(value)) {
      errors.push({ field, message: `must be 1-${max} characters without control characters` });
    }
  };
  text('identifier', event.identifier, MAX_IDENTIFIER_LENGTH);
  text('eventName', event.eventName, MAX_IDENTIFIER_LENGTH);
  text('stripeCustomerId', event.stripeCustomerId, 255);
  if (!Number.isSafeInteger(event.value)) errors.push({ field: 'value', message: 'must be a whole number (negative for corrections)' });
  if (!Number.isSafeInteger(event.timestamp) || event.timestamp < 0) errors.push({ field: 'timestamp', message: 'must be Unix seconds' });
  return errors;
}

/** Why Stripe will never accept an event as sent. A closed set; `message` on the outcome keeps Stripe's words. */
export type PermanentReason =
  | 'unknown_customer'
  | 'missing_customer'
  | 'no_meter'
  | 'meter_inactive'
  | 'timestamp_out_of_window'
  | 'invalid_value'
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

/** What became of one meter event. Never an exception: every event gets exactly one outcome. */
export type MeterEventOutcome =
  | {
      identifier: string;
      outcome: 'delivered';
      attempts: number;
      /** `created`: stored by this call; `replayed`: an idempotent replay of an earlier call that stored it; `already_held`: Stripe held the identifier already. */
      via: 'created' | 'replayed' | 'already_held';
    }
  | { identifier: string; outcome: 'accepted_async'; attempts: number }
  | { identifier: string; outcome: 'permanent'; reason: PermanentReason; message: string; status?: number; attempts: number }
  | { identifier: string; outcome: 'failed_transient'; reason: TransientReason | 'rate_limited'; message: string; attempts: number };

/** The port the nightly close reports through; the Stripe adapter implements it. */
export interface MeterEventReporter {
  /** One outcome per event, in input order. Rejects only for misuse, never for a per-event problem. */
  report(events: readonly MeterEventToSend[]): Promise<MeterEventOutcome[]>;
}

function isUtcDay(day: unknown): day is string {
  if (typeof day !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(day)) return false;
  const ms = Date.parse(`${day}T00:00:00Z`);
  // Date.parse accepts 2026-02-30 on some engines and rolls it over; the round trip catches that.
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 10) === day;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}
