import { invalidParam, invalidRequest, missingParam } from './errors.js';
import { checkAllowed, group, optionalInteger, optionalString, type Params, requiredString, stringMap } from './form-params.js';
import { toIso, toSeconds } from './ids.js';
import { checkMeterEvent, type RuleViolation } from './meter-rules.js';
import type { Route } from './router.js';
import { DAY_MS, type StripeState } from './state.js';
import type { RecordedMeterEvent } from './types.js';

/** Window after Stripe receives an event during which it can still be cancelled. */
export const CANCEL_WINDOW_MS = DAY_MS;

/** v1 meter events and meter event adjustments (cancel by identifier). */
export function meterEventRoutes(state: StripeState): Route[] {
  return [
    {
      method: 'POST',
      pattern: '/v1/billing/meter_events',
      auth: 'secret',
      concurrencyKey: ({ form }) => concurrencyKeyFor(state, optionalText(form.event_name), form.payload),
      handle: ({ form, nowMs }) => {
        checkAllowed(form, { event_name: true, payload: 'any', identifier: true, timestamp: true, expand: 'any' });
        const eventName = requiredString(form, 'event_name');
        const payload = stringMap(form, 'payload');
        if (Object.keys(payload).length === 0) throw missingParam('payload');
        const outcome = checkMeterEvent(
          state,
          { eventName, payload, identifier: optionalString(form, 'identifier'), timestampSec: optionalInteger(form, 'timestamp') },
          nowMs,
          'v1',
        );
        if (!outcome.ok) throw violationError(outcome.violation);
        return { body: v1MeterEventObject(state.recordEvent(outcome.event)) };
      },
    },
    {
      method: 'POST',
      pattern: '/v1/billing/meter_event_adjustments',
      auth: 'secret',
      handle: ({ form, nowMs }) => {
        checkAllowed(form, { event_name: true, type: true, cancel: { identifier: true }, expand: 'any' });
        const eventName = requiredString(form, 'event_name');
        const type = requiredString(form, 'type');
        // Stripe only offers cancel-by-identifier; cancelling a time range is "not supported yet".
        if (type !== 'cancel') throw invalidParam('Invalid type: must be cancel', 'type');
        const identifier = requiredString(group(form, 'cancel'), 'identifier', 'cancel[identifier]');
        const event = state.lastEventWithIdentifier(identifier);
        if (!event || event.eventName !== eventName) {
          throw invalidRequest(
            `No meter event with identifier '${identifier}' was found for event_name '${eventName}'.`,
            'cancel[identifier]',
          );
        }
        if (event.cancelledAtMs !== null) {
          throw invalidRequest(`The meter event with identifier '${identifier}' has already been cancelled.`, 'cancel[identifier]');
        }
        if (nowMs - event.receivedAtMs >= CANCEL_WINDOW_MS) {
          throw invalidRequest(
            `Meter events can only be cancelled within 24 hours of Stripe receiving them; '${identifier}' was received at ${toIso(event.receivedAtMs)}.`,
            'cancel[identifier]',
          );
        }
        event.cancelledAtMs = nowMs;
        return {
          body: {
            object: 'billing.meter_event_adjustment',
            cancel: { identifier },
            event_name: eventName,
            livemode: false,
            // Stripe answers "pending" and applies the cancel asynchronously; here it is applied at once.
            status: 'pending',
            type: 'cancel',
          },
        };
      },
    },
  ];
}

/** The Stripe `billing.meter_event` (v1) object. */
export function v1MeterEventObject(e: RecordedMeterEvent): Record<string, unknown> {
  return {
    object: 'billing.meter_event',
    created: toSeconds(e.receivedAtMs),
    event_name: e.eventName,
    identifier: e.identifier,
    livemode: false,
    payload: e.payload,
    timestamp: e.timestamp,
  };
}

/** Turns a broken rule into Stripe's 400; a held identifier also says "do not retry". */
export function violationError(v: RuleViolation) {
  return invalidRequest(v.message, v.param, v.duplicate ? { 'Stripe-Should-Retry': 'false' } : {});
}

/**
 * `event_name|customer` for the one-call-per-customer-per-meter rule. An event name maps to
 * exactly one meter, so it stands in for the meter; unknown names fall back to the default key.
 */
export function concurrencyKeyFor(state: StripeState, eventName: string | undefined, payload: unknown): string | null {
  if (eventName === undefined || payload === null || typeof payload !== 'object') return null;
  const customerKey = state.meterForEventName(eventName)?.customerKey ?? 'stripe_customer_id';
  const customer = (payload as Params)[customerKey];
  return typeof customer === 'string' ? `${eventName}|${customer}` : null;
}

function optionalText(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
