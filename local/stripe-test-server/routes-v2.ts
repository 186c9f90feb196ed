import { invalidParam, unknownParam } from './errors.js';
import { newId, toIso } from './ids.js';
import { checkMeterEvent, type MeterEventInput } from './meter-rules.js';
import type { Route } from './router.js';
import { concurrencyKeyFor, violationError } from './routes-meter-events.js';
import { MINUTE_MS, type StripeState } from './state.js';
import type { ErrorReport, RecordedMeterEvent } from './types.js';
import type { WebhookSender } from './webhooks.js';

/** Lifetime of a meter event stream token. */
export const SESSION_TTL_MS = 15 * MINUTE_MS;
/** Most events one stream request may carry. */
export const MAX_STREAM_EVENTS = 100;

const EVENT_KEYS = new Set(['event_name', 'payload', 'identifier', 'timestamp']);

/** v2 meter events: synchronous create, stream session, and the high-throughput stream. */
export function v2Routes(state: StripeState, webhooks?: WebhookSender): Route[] {
  return [
    {
      method: 'POST',
      pattern: '/v2/billing/meter_events',
      auth: 'secret',
      concurrencyKey: ({ json }) => {
        const body = asRecord(json);
        return body ? concurrencyKeyFor(state, typeof body.event_name === 'string' ? body.event_name : undefined, body.payload) : null;
      },
      handle: ({ json, nowMs }) => {
        const decoded = decodeV2Event(json);
        if (!decoded.ok) throw decoded.error;
        const outcome = checkMeterEvent(state, decoded.input, nowMs, 'v2');
        if (!outcome.ok) throw violationError(outcome.violation);
        return { body: v2MeterEventObject(state.recordEvent(outcome.event)) };
      },
    },
    {
      method: 'POST',
      pattern: '/v2/billing/meter_event_session',
      auth: 'secret',
      handle: ({ json, nowMs }) => {
        const extra = Object.keys(asRecord(json) ?? {})[0];
        if (extra !== undefined) throw unknownParam(extra);
        const session = { id: newId('mes_sess_', 24), token: newId('mes_tok_', 40), createdMs: nowMs, expiresAtMs: nowMs + SESSION_TTL_MS };
        state.sessions.set(session.token, session);
        return {
          body: {
            id: session.id,
            object: 'v2.billing.meter_event_session',
            authentication_token: session.token,
            created: toIso(session.createdMs),
            expires_at: toIso(session.expiresAtMs),
            livemode: false,
          },
        };
      },
    },
    {
      method: 'POST',
      pattern: '/v2/billing/meter_event_stream',
      auth: 'session',
      // Only the envelope is checked while the caller waits; each event is validated afterwards and a
      // bad one becomes an error report instead of an HTTP error, as on Stripe.
      handle: ({ json, nowMs }) => {
        const body = asRecord(json);
        const events = body?.events;
        if (!Array.isArray(events) || events.length === 0) throw invalidParam('events must be a non-empty array.', 'events');
        if (events.length > MAX_STREAM_EVENTS) {
          throw invalidParam(`events supports up to ${MAX_STREAM_EVENTS} events per request.`, 'events');
        }
        const extra = Object.keys(body ?? {}).find((k) => k !== 'events');
        if (extra !== undefined) throw unknownParam(extra);
        const rejected = events.flatMap((raw) => ingestStreamEvent(state, raw, nowMs) ?? []);
        // Sent after this answer, signed, to the account's endpoint (webhooks.ts).
        if (rejected.length > 0) webhooks?.reportRejected(rejected);
        return { body: {} };
      },
    },
  ];
}

/** The Stripe `v2.billing.meter_event` object. */
export function v2MeterEventObject(e: RecordedMeterEvent): Record<string, unknown> {
  return {
    object: 'v2.billing.meter_event',
    created: toIso(e.receivedAtMs),
    event_name: e.eventName,
    identifier: e.identifier,
    livemode: false,
    payload: e.payload,
    timestamp: toIso(e.timestamp * 1000),
  };
}

/** Validates one stream event after the envelope: stored, or its error report returned. */
function ingestStreamEvent(state: StripeState, raw: unknown, nowMs: number): ErrorReport | undefined {
  const decoded = decodeV2Event(raw);
  const named = asRecord(raw);
  const eventName = typeof named?.event_name === 'string' ? named.event_name : null;
  const identifier = typeof named?.identifier === 'string' ? named.identifier : null;
  if (!decoded.ok) {
    return state.recordErrorReport({
      code: 'invalid_event',
      message: decoded.error.message,
      eventName,
      identifier,
      receivedAtMs: nowMs,
      source: 'v2_stream',
    });
  }
  const outcome = checkMeterEvent(state, decoded.input, nowMs, 'v2_stream');
  if (outcome.ok) {
    state.recordEvent(outcome.event);
    return undefined;
  }
  const { code, message } = outcome.violation;
  return state.recordErrorReport({ code, message, eventName, identifier, receivedAtMs: nowMs, source: 'v2_stream' });
}

type Decoded = { ok: true; input: MeterEventInput } | { ok: false; error: ReturnType<typeof invalidParam> };

/** Checks the JSON shape of one v2 event: strings everywhere, an ISO-8601 timestamp. */
function decodeV2Event(raw: unknown): Decoded {
  const fail = (message: string, param: string): Decoded => ({ ok: false, error: invalidParam(message, param) });
  const body = asRecord(raw);
  if (!body) return fail('Each meter event must be a JSON object.', 'event');
  const extra = Object.keys(body).find((k) => !EVENT_KEYS.has(k));
  if (extra !== undefined) return { ok: false, error: unknownParam(extra) };
  if (typeof body.event_name !== 'string' || body.event_name === '')
    return fail('event_name is required and must be a string.', 'event_name');
  const payloadObject = asRecord(body.payload);
  if (!payloadObject) return fail('payload is required and must be an object of strings.', 'payload');
  const payload: Record<string, string> = {};
  for (const [key, value] of Object.entries(payloadObject)) {
    // v2 payload values are strings on the wire (`"value": "25"`); a JSON number is a client bug.
    if (typeof value !== 'string') return fail(`payload.${key} must be a string.`, `payload.${key}`);
    payload[key] = value;
  }
  if (body.identifier !== undefined && typeof body.identifier !== 'string') return fail('identifier must be a string.', 'identifier');
  let timestampSec: number | undefined;
  if (body.timestamp !== undefined) {
    const ms = typeof body.timestamp === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(body.timestamp) ? Date.parse(body.timestamp) : NaN;
    if (!Number.isFinite(ms)) return fail('timestamp must be an ISO-8601 date-time string.', 'timestamp');
    timestampSec = Math.floor(ms / 1000);
  }
  return { ok: true, input: { eventName: body.event_name, payload, identifier: body.identifier, timestampSec } };
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
