import { MeterEventGuardError } from '../../../contract/errors.js';
import { MAX_IDENTIFIER_LENGTH, type MeterEventToSend, validateMeterEvent } from './stripe-reporting.js';

/**
 * The last check before a meter event leaves for Stripe, on every path (v1 and the v2 stream): what Stripe
 * would refuse, synchronously (v1) or after answering `{}` (the stream, whose refusals arrive hours later
 * as webhooks). Pure; the clock is handed in.
 */

/** How far back Stripe accepts a meter event's timestamp: 35 calendar days. */
export const GUARD_MAX_PAST_SEC = 35 * 86_400;
/** How far ahead Stripe accepts one: 5 minutes. */
export const GUARD_MAX_FUTURE_SEC = 5 * 60;

/** Why the guard refused an event; the ledger keeps it as the record's `lastError`. */
export type GuardReason = MeterEventGuardError['reason'];

/**
 * The guard's verdict on one event at `nowSec` (Unix seconds): undefined when it may go, else a
 * `MeterEventGuardError` naming every field at fault, its `reason` the first rule broken (value, identifier,
 * timestamp window, then any other shape problem).
 * - value: a whole number of at most 15 digits (Stripe refuses more than 15 significant digits since API
 *   version 2026-04-22; every digit is counted, so a trailing zero cannot tip it);
 * - identifier and event name: 1-100 characters, no control characters;
 * - timestamp: within the past 35 days and at most 5 minutes ahead (`nowSec` undefined leaves the window to
 *   Stripe: the adapter's v1 calls, judged synchronously, on a pacing clock that is not the business clock).
 * @example guardMeterEvent({ identifier: 'srn:api:2026-03-09:r0:acme', eventName: 'serenity_api_calls', stripeCustomerId: 'cus_1', value: 1e15, timestamp: 1773097200 }, 1773144000)?.reason // 'value_too_many_digits'
 */
export function guardMeterEvent(event: MeterEventToSend, nowSec: number | undefined): MeterEventGuardError | undefined {
  const errors = validateMeterEvent(event);
  const byField = new Set(errors.map((e) => e.field));
  if (byField.has('event')) return new MeterEventGuardError('invalid_event', errors);
  if (nowSec !== undefined && !byField.has('timestamp')) {
    if (event.timestamp < nowSec - GUARD_MAX_PAST_SEC)
      errors.push({ field: 'timestamp', message: `must be within the past 35 days (is ${nowSec - event.timestamp} s old)` });
    else if (event.timestamp > nowSec + GUARD_MAX_FUTURE_SEC)
      errors.push({ field: 'timestamp', message: `must be at most 5 minutes ahead (is ${event.timestamp - nowSec} s ahead)` });
  }
  if (errors.length === 0) return undefined;
  const fields = new Set(errors.map((e) => e.field));
  const reason: GuardReason = fields.has('value')
    ? Number.isInteger(event.value)
      ? 'value_too_many_digits'
      : 'invalid_event'
    : tooLong(event.identifier) || tooLong(event.eventName)
      ? 'identifier_too_long'
      : fields.has('timestamp') && Number.isSafeInteger(event.timestamp)
        ? 'timestamp_out_of_window'
        : 'invalid_event';
  return new MeterEventGuardError(reason, errors, { identifier: String(event.identifier) });
}

const tooLong = (text: unknown) => typeof text === 'string' && text.length > MAX_IDENTIFIER_LENGTH;
