import { createHash } from 'node:crypto';
import { type FieldError, ValidationError } from '../../../contract/errors.js';
import { METERS, type Meter } from '../../../contract/meters.js';
import type { PermanentReason, TransientReason } from './stripe-failures.js';

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

/**
 * Largest magnitude of a value we send: 15 digits. Stripe refuses values of more than 15 significant
 * digits since API version 2026-04-22.dahlia; counting every digit (not only the significant ones) keeps
 * us inside the rule however Stripe counts trailing zeros.
 */
export const MAX_METER_VALUE = 999_999_999_999_999;

/** Whether Stripe takes `value` as a meter event's value: a whole number of at most 15 digits. */
export function isSendableValue(value: number): boolean {
  return Number.isSafeInteger(value) && Math.abs(value) <= MAX_METER_VALUE;
}

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
 * The identifier of a meter event's `n`th resend (`n` ≥ 1): its first identifier with `:g<n>`. Used once
 * the first one's 24-hour window at Stripe has passed and Stripe's summary shows the event uncounted, so
 * a copy Stripe may still receive late cannot be taken for the resend. At most 100 characters.
 * @example resendIdentifier('srn:api:2026-03-09:r0:acme', 1) // 'srn:api:2026-03-09:r0:acme:g1'
 */
export function resendIdentifier(identifier: string, n: number): string {
  const base = identifier.replace(/:g\d+$/, '');
  return `${base}:g${n}`;
}

/** What a meter event identifier says of the ledger record it was sent for (`parseMeterEventIdentifier`). */
export type ParsedIdentifier =
  | { meter: Meter; day: string; revision: number; customerId: string }
  | { meter: Meter; day: string; revision: number; customerHash: string };

/**
 * The ledger record key an identifier of ours names (the inverse of `meterEventIdentifier`, any `:g<n>` resend
 * suffix dropped), or undefined for one we did not make. A hashed customer id comes back as its hash only.
 * @example parseMeterEventIdentifier('srn:api:2026-03-09:r0:acme:g1') // { meter: 'api_calls', day: '2026-03-09', revision: 0, customerId: 'acme' }
 */
export function parseMeterEventIdentifier(identifier: string): ParsedIdentifier | undefined {
  const m = /^srn:([a-z]+):(\d{4}-\d{2}-\d{2}):r(\d{1,6}):(h:[A-Za-z0-9_-]{43}|[A-Za-z0-9._-]{1,64})(?::g\d+)?$/.exec(identifier);
  if (!m) return undefined;
  const meter = METERS.find((k) => STRIPE_METERS[k].code === m[1]);
  if (!meter || !isUtcDay(m[2])) return undefined;
  const base = { meter, day: m[2]!, revision: Number(m[3]) };
  const customer = m[4]!;
  return customer.startsWith('h:') ? { ...base, customerHash: customer.slice(2) } : { ...base, customerId: customer };
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
  else if (!isSendableValue(event.value))
    errors.push({ field: 'value', message: 'must have at most 15 digits (Stripe refuses more since API version 2026-04-22)' });
  if (!Number.isSafeInteger(event.timestamp) || event.timestamp < 0) errors.push({ field: 'timestamp', message: 'must be Unix seconds' });
  return errors;
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

/** A question to Stripe's meter event summaries: one customer and meter over `[startSec, endSec)`, minute-aligned. */
export interface CountedQuery {
  meter: Meter;
  stripeCustomerId: string;
  startSec: number;
  endSec: number;
}

/** The port the nightly close reports through; the Stripe adapter implements it. */
export interface MeterEventReporter {
  /** One outcome per event, in input order. Rejects only for misuse, never for a per-event problem. */
  report(events: readonly MeterEventToSend[]): Promise<MeterEventOutcome[]>;
  /**
   * What Stripe's meter event summary holds for the query (its formula applied). Needed to settle records
   * pending past Stripe's 24-hour identifier window; a reporter without it leaves them for a person.
   */
  counted?(q: CountedQuery): Promise<number>;
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
