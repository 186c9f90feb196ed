import { newId, toSeconds } from './ids.js';
import { DAY_MS, MINUTE_MS, type StripeState } from './state.js';
import type { EventSource, RecordedMeterEvent } from './types.js';

/** Longest `event_name` and `identifier` Stripe accepts on a meter event. */
export const MAX_NAME_LENGTH = 100;
/** How far back an event may be dated: "the past 35 calendar days", applied here as a rolling 35 x 24 h. */
export const MAX_PAST_MS = 35 * DAY_MS;
/** How far ahead an event may be dated, to absorb clock drift. */
export const MAX_FUTURE_MS = 5 * MINUTE_MS;

/** Most significant digits a meter event's value may have (Stripe, since API version 2026-04-22.dahlia). */
export const MAX_SIGNIFICANT_DIGITS = 15;

/**
 * Significant digits of a whole number written in decimal: without its sign, leading zeros and trailing
 * zeros (`1000` has 1, `1203` has 4, `0` has 0).
 */
export function significantDigits(whole: string): number {
  return whole.replace(/^-/, '').replace(/^0+/, '').replace(/0+$/, '').length;
}

/** A meter event after its wire format (form or JSON) has been decoded. */
export interface MeterEventInput {
  eventName: string;
  payload: Record<string, string>;
  identifier?: string;
  /** Unix seconds; the receive time is used when absent. */
  timestampSec?: number;
}

/**
 * Why an event was refused. `code` comes from Stripe's error-report enum where one fits
 * (no_meter, archived_meter, timestamp_*, meter_event_*); the others are this server's own names.
 */
export interface RuleViolation {
  code: string;
  message: string;
  param: string;
  /** The identifier is already held: Stripe marks this answer `Stripe-Should-Retry: false`. */
  duplicate: boolean;
}

/** Either the event to store or the first rule it breaks. */
export type RuleOutcome = { ok: true; event: Omit<RecordedMeterEvent, 'seq'> } | { ok: false; violation: RuleViolation };

/** Applies Stripe's meter event rules in one place so v1, v2 and the stream cannot drift apart. */
export function checkMeterEvent(state: StripeState, input: MeterEventInput, nowMs: number, source: EventSource): RuleOutcome {
  const fail = (code: string, message: string, param: string, duplicate = false): RuleOutcome => ({
    ok: false,
    violation: { code, message, param, duplicate },
  });
  const { eventName, payload } = input;
  if (eventName.length > MAX_NAME_LENGTH) {
    return fail('event_name_too_long', `event_name must be at most ${MAX_NAME_LENGTH} characters.`, 'event_name');
  }
  if (input.identifier !== undefined && input.identifier.length > MAX_NAME_LENGTH) {
    return fail('identifier_too_long', `identifier must be at most ${MAX_NAME_LENGTH} characters.`, 'identifier');
  }
  // Checked before the meter and time rules so that a retry of an already-accepted event is
  // recognised as a duplicate even if the meter or the time window changed since.
  if (input.identifier !== undefined && state.heldIdentifier(input.identifier, nowMs)) {
    return fail('duplicate_identifier', `An event already exists with identifier ${input.identifier}.`, 'identifier', true);
  }
  const meter = state.meterForEventName(eventName);
  if (!meter) return fail('no_meter', `No active meter was found for event_name '${eventName}'.`, 'event_name');
  if (meter.status !== 'active') {
    return fail('archived_meter', `The meter ${meter.id} for event_name '${eventName}' is inactive and accepts no events.`, 'event_name');
  }
  const timestampSec = input.timestampSec ?? toSeconds(nowMs);
  if (timestampSec * 1000 < nowMs - MAX_PAST_MS) {
    return fail('timestamp_too_far_in_past', 'The event timestamp must be within the past 35 calendar days.', 'timestamp');
  }
  if (timestampSec * 1000 > nowMs + MAX_FUTURE_MS) {
    return fail('timestamp_in_future', 'The event timestamp must not be more than 5 minutes in the future.', 'timestamp');
  }
  const customerParam = `payload[${meter.customerKey}]`;
  const customerId = payload[meter.customerKey];
  if (customerId === undefined || customerId === '') {
    return fail(
      'meter_event_no_customer_defined',
      `The payload must contain ${customerParam}, the meter's customer mapping key.`,
      customerParam,
    );
  }
  if (!state.customers.has(customerId)) {
    return fail('meter_event_customer_not_found', `No such customer: '${customerId}'`, customerParam);
  }
  const valueParam = `payload[${meter.valueKey}]`;
  const rawValue = payload[meter.valueKey];
  let value: number | null = null;
  if (rawValue === undefined || rawValue === '') {
    // A count meter counts events; only sum and last need a value to aggregate.
    if (meter.formula !== 'count') {
      return fail('meter_event_invalid_value', `The payload must contain ${valueParam}, the meter's value key.`, valueParam);
    }
  } else {
    // Whole numbers only; negative ones are allowed because Stripe documents them as usage corrections.
    if (!/^-?\d+$/.test(rawValue)) {
      return fail('meter_event_invalid_value', `${valueParam} must be a whole number, got '${rawValue}'.`, valueParam);
    }
    // Since API version 2026-04-22.dahlia Stripe refuses values of more than 15 significant digits.
    if (significantDigits(rawValue) > MAX_SIGNIFICANT_DIGITS) {
      return fail(
        'meter_event_value_too_many_digits',
        `${valueParam} must have at most ${MAX_SIGNIFICANT_DIGITS} significant digits, got '${rawValue}'.`,
        valueParam,
      );
    }
    value = Number(rawValue);
    if (!Number.isSafeInteger(value)) {
      return fail('meter_event_value_too_many_digits', `${valueParam} has too many digits.`, valueParam);
    }
  }
  return {
    ok: true,
    event: {
      identifier: input.identifier ?? newId('bmes_', 24),
      eventName,
      meterId: meter.id,
      customerId,
      value,
      timestamp: timestampSec,
      receivedAtMs: nowMs,
      payload: { ...payload },
      source,
      cancelledAtMs: null,
    },
  };
}
