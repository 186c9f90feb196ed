import { z } from 'zod';
import { type FaultController, faultSpecSchema } from './faults.js';
import type { IdempotencyStore } from './idempotency.js';
import { toIso } from './ids.js';
import type { RequestRecorder } from './request-log.js';
import type { StripeState } from './state.js';
import type { ClockControl } from './test-clock.js';
import type { RecordedMeterEvent } from './types.js';
import type { WebhookSender } from './webhooks.js';

/** Narrows the accepted-events view for assertions. */
export interface MeterEventFilter {
  eventName?: string;
  customerId?: string;
  identifier?: string;
  /** Include events cancelled by an adjustment; default true. */
  includeCancelled?: boolean;
}

/** Everything the control surface can read or reset. */
export interface ControlParts {
  state: StripeState;
  clock: ClockControl;
  faults: FaultController;
  idempotency: IdempotencyStore;
  recorder: RequestRecorder;
  webhooks: WebhookSender;
}

const clockBody = z.strictObject({
  at: z.union([z.number(), z.string()]).optional(),
  advanceMs: z.number().optional(),
  reset: z.boolean().optional(),
});
const settingsBody = z.strictObject({
  latencyMs: z.number().min(0).optional(),
  rateLimitPerSecond: z.number().int().min(1).nullable().optional(),
  concurrencyCheck: z.boolean().optional(),
});
const webhookEndpointBody = z.strictObject({ url: z.url(), secret: z.string().startsWith('whsec_') }).nullable();
const faultsBody = z.union([faultSpecSchema, z.array(faultSpecSchema), z.strictObject({ faults: z.array(faultSpecSchema) })]);

/** Copies of accepted events, oldest first, narrowed by `filter`. */
export function filterEvents(state: StripeState, filter: MeterEventFilter = {}): RecordedMeterEvent[] {
  return state.events
    .filter(
      (e) =>
        (filter.eventName === undefined || e.eventName === filter.eventName) &&
        (filter.customerId === undefined || e.customerId === filter.customerId) &&
        (filter.identifier === undefined || e.identifier === filter.identifier) &&
        (filter.includeCancelled !== false || e.cancelledAtMs === null),
    )
    .map((e) => ({ ...e, payload: { ...e.payload } }));
}

/** Wipes accounts, keys, faults and logs; the clock is left alone (it has its own reset). */
export function resetAll(parts: ControlParts): void {
  parts.state.reset();
  parts.idempotency.clear();
  parts.faults.clear();
  parts.recorder.clear();
  parts.webhooks.reset();
}

/**
 * The `/_test/...` HTTP surface, so a separate process (the CLI, the local stack) can steer the
 * server the way in-process tests do. JSON in, JSON out; unknown fields are rejected.
 */
export function makeControl(parts: ControlParts) {
  const clockView = () => ({ now_ms: parts.clock.now(), now: toIso(parts.clock.now()) });
  const faultsView = () => ({ pending: parts.faults.pending(), settings: parts.faults.settings() });
  return async (method: string, url: URL, raw: string): Promise<{ status: number; body: unknown }> => {
    try {
      const body: unknown = raw.trim() === '' ? {} : JSON.parse(raw);
      const q = url.searchParams;
      switch (`${method} ${url.pathname}`) {
        case 'GET /_test/health':
          return ok({ ok: true });
        case 'GET /_test/meter_events':
          return ok({
            data: filterEvents(parts.state, {
              eventName: q.get('event_name') ?? undefined,
              customerId: q.get('customer') ?? undefined,
              identifier: q.get('identifier') ?? undefined,
              includeCancelled: q.get('include_cancelled') !== 'false',
            }),
          });
        case 'GET /_test/error_reports':
          return ok({ data: parts.state.errorReports.map((r) => ({ ...r })) });
        case 'POST /_test/webhook_endpoint':
          parts.webhooks.setEndpoint(webhookEndpointBody.parse(body));
          return ok({ ok: true });
        case 'GET /_test/webhook_deliveries':
          return ok({ data: parts.webhooks.deliveries() });
        case 'GET /_test/requests':
          return ok({ data: parts.recorder.log() });
        case 'GET /_test/stats':
          return ok(parts.recorder.stats());
        case 'GET /_test/faults':
          return ok(faultsView());
        case 'POST /_test/faults': {
          const parsed = faultsBody.parse(body);
          parts.faults.inject(Array.isArray(parsed) ? parsed : 'faults' in parsed ? parsed.faults : [parsed]);
          return ok(faultsView());
        }
        case 'DELETE /_test/faults':
          parts.faults.clear();
          return ok(faultsView());
        case 'POST /_test/settings': {
          const s = settingsBody.parse(body);
          if (s.latencyMs !== undefined) parts.faults.setLatency(s.latencyMs);
          if (s.rateLimitPerSecond !== undefined) parts.faults.setRateLimit(s.rateLimitPerSecond);
          if (s.concurrencyCheck !== undefined) parts.faults.setConcurrencyCheck(s.concurrencyCheck);
          return ok(faultsView());
        }
        case 'GET /_test/clock':
          return ok(clockView());
        case 'POST /_test/clock': {
          const c = clockBody.parse(body);
          if (c.reset) parts.clock.reset();
          if (c.at !== undefined) parts.clock.set(c.at);
          if (c.advanceMs !== undefined) parts.clock.advance(c.advanceMs);
          return ok(clockView());
        }
        case 'POST /_test/reset':
          resetAll(parts);
          return ok({ ok: true });
        default:
          return {
            status: 404,
            body: { error: { type: 'invalid_request_error', message: `No control endpoint ${method} ${url.pathname}` } },
          };
      }
    } catch (error) {
      const message = error instanceof z.ZodError ? z.prettifyError(error) : error instanceof Error ? error.message : String(error);
      return { status: 400, body: { error: { type: 'invalid_request_error', message } } };
    }
  };
}

function ok(body: unknown): { status: number; body: unknown } {
  return { status: 200, body };
}
