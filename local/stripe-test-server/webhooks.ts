import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { noSuch } from './errors.js';
import { newId, toIso, toSeconds } from './ids.js';
import type { Route } from './router.js';
import type { StripeState } from './state.js';
import type { ClockControl } from './test-clock.js';
import type { ErrorReport, WebhookDelivery, WebhookEndpoint } from './types.js';

/**
 * Stripe's asynchronous meter errors as an event destination receives them: a thin event notification
 * (`v2.core.event`, no data), signed with the endpoint's secret, POSTed to the endpoint; the full event,
 * with its `data`, served at `GET /v2/core/events/{id}` for the SDK's `fetchEvent()`. Shapes from the
 * SDK's own types (stripe@23, `V1BillingMeterErrorReportTriggeredEvent`, `V1BillingMeterNoMeterFoundEvent`)
 * and docs.stripe.com/api/v2/core/events/event-types.
 */

/** The codes of Stripe's error-report enum (the SDK's `ErrorType.Code`): only these are sent by webhook. */
export const STRIPE_ERROR_REPORT_CODES: ReadonlySet<string> = new Set([
  'archived_meter',
  'meter_event_customer_not_found',
  'meter_event_dimension_count_too_high',
  'meter_event_invalid_value',
  'meter_event_no_customer_defined',
  'meter_event_value_too_many_digits',
  'missing_dimension_payload_keys',
  'no_meter',
  'timestamp_in_future',
  'timestamp_too_far_in_past',
]);

/** Sample errors per error type in one report. Stripe says "a list of sample errors" and no more; this server's choice. */
export const MAX_SAMPLE_ERRORS = 10;
/** Delivery attempts per event before it is given up (Stripe retries for up to 3 days; a test has no 3 days). */
const DELIVERY_ATTEMPTS = 3;
const RETRY_DELAY_MS = 50;

/** A `v2.core.event` as the server keeps it: the thin notification plus the `data` a fetch adds. */
export interface StoredEvent {
  id: string;
  object: 'v2.core.event';
  type: 'v1.billing.meter.error_report_triggered' | 'v1.billing.meter.no_meter_found';
  livemode: false;
  created: string;
  related_object?: { id: string; type: 'billing.meter'; url: string };
  data: {
    developer_message_summary: string;
    reason: {
      error_count: number;
      error_types: { code: string; error_count: number; sample_errors: { error_message: string; request: { identifier: string } }[] }[];
    };
    validation_start: string;
    validation_end: string;
  };
}

/**
 * The `Stripe-Signature` header of a webhook: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body" keyed by the
 * whole secret>`, as Stripe signs (docs.stripe.com/webhooks#verify-manually). Written here from the spec, not
 * with the SDK, so that the SDK's check on our side is a real check.
 */
export function signatureHeader(body: string, secret: string, timestampSec: number): string {
  const v1 = createHmac('sha256', secret).update(`${timestampSec}.${body}`, 'utf8').digest('hex');
  return `t=${timestampSec},v1=${v1}`;
}

/** Builds, stores and delivers the meter error events of one account. */
export class WebhookSender {
  private endpoint: WebhookEndpoint | null = null;
  private readonly events = new Map<string, StoredEvent>();
  private readonly log: WebhookDelivery[] = [];
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly state: StripeState,
    private readonly clock: ClockControl,
  ) {}

  /** Where events go, and the secret they are signed with; null stops sending (events are still stored). */
  setEndpoint(endpoint: WebhookEndpoint | null): void {
    this.endpoint = endpoint ? { ...endpoint } : null;
  }

  /**
   * Turns the error reports of one stream request into events (one `error_report_triggered` per meter,
   * one `no_meter_found` for events naming no meter), stores them and sends each to the endpoint after the
   * request has been answered, as Stripe validates after answering `{}`. Codes outside Stripe's enum
   * (this server's `duplicate_identifier`, `invalid_event`) are reports only, never webhooks.
   */
  reportRejected(reports: readonly ErrorReport[]): StoredEvent[] {
    const groups = new Map<string, ErrorReport[]>();
    for (const r of reports) {
      if (!STRIPE_ERROR_REPORT_CODES.has(r.code)) continue;
      const meter = r.code === 'no_meter' || r.eventName === null ? undefined : this.state.meterForEventName(r.eventName);
      const key = meter ? meter.id : '';
      groups.set(key, [...(groups.get(key) ?? []), r]);
    }
    const made = [...groups].map(([meterId, group]) => this.store(meterId || undefined, group));
    for (const event of made) this.track(this.deliver(event));
    return made;
  }

  /** A stored event, for `GET /v2/core/events/{id}`. */
  event(id: string): StoredEvent | undefined {
    return this.events.get(id);
  }

  /** Every delivery attempt, oldest first. */
  deliveries(): WebhookDelivery[] {
    return this.log.map((d) => ({ ...d }));
  }

  /** Every event made, oldest first. */
  allEvents(): StoredEvent[] {
    return [...this.events.values()].map((e) => structuredClone(e));
  }

  /** Resolves once every delivery started so far has ended (delivered or given up). */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Forgets events and deliveries; the endpoint is configuration and stays. */
  reset(): void {
    this.events.clear();
    this.log.length = 0;
  }

  private store(meterId: string | undefined, group: readonly ErrorReport[]): StoredEvent {
    const nowMs = this.clock.now();
    const byCode = new Map<string, ErrorReport[]>();
    for (const r of group) byCode.set(r.code, [...(byCode.get(r.code) ?? []), r]);
    const event: StoredEvent = {
      id: newId('evt_test_', 44),
      object: 'v2.core.event',
      type: meterId ? 'v1.billing.meter.error_report_triggered' : 'v1.billing.meter.no_meter_found',
      livemode: false,
      created: toIso(nowMs),
      ...(meterId ? { related_object: { id: meterId, type: 'billing.meter' as const, url: `/v1/billing/meters/${meterId}` } } : {}),
      data: {
        developer_message_summary: `${group.length} meter event(s) failed validation: ${[...byCode.keys()].join(', ')}`,
        reason: {
          error_count: group.length,
          error_types: [...byCode].map(([code, rs]) => ({
            code,
            error_count: rs.length,
            sample_errors: rs
              .filter((r) => r.identifier !== null)
              .slice(0, MAX_SAMPLE_ERRORS)
              .map((r) => ({ error_message: r.message, request: { identifier: r.identifier! } })),
          })),
        },
        validation_start: toIso(Math.min(...group.map((r) => r.receivedAtMs))),
        validation_end: toIso(nowMs),
      },
    };
    this.events.set(event.id, event);
    return event;
  }

  private async deliver(event: StoredEvent): Promise<void> {
    // Answer the stream request first: the event leaves after it, as Stripe's validation runs after its `{}`.
    await sleep(0);
    const endpoint = this.endpoint;
    if (!endpoint) return;
    const { data: _data, ...thin } = event;
    const body = JSON.stringify(thin);
    for (let attempt = 1; attempt <= DELIVERY_ATTEMPTS; attempt++) {
      const signature = signatureHeader(body, endpoint.secret, toSeconds(this.clock.now()));
      const entry: WebhookDelivery = {
        eventId: event.id,
        type: event.type,
        url: endpoint.url,
        attempt,
        status: null,
        atMs: this.clock.now(),
      };
      try {
        const res = await fetch(endpoint.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': signature },
          body,
        });
        entry.status = res.status;
        await res.arrayBuffer();
      } catch (err) {
        entry.error = (err as Error).message;
      }
      this.log.push(entry);
      if (entry.status !== null && entry.status >= 200 && entry.status < 300) return;
      if (attempt < DELIVERY_ATTEMPTS) await sleep(RETRY_DELAY_MS * attempt);
    }
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }
}

/** `GET /v2/core/events/:id`: the full event, `data` included, as the SDK's `fetchEvent()` reads it. */
export function eventRoutes(sender: WebhookSender): Route[] {
  return [
    {
      method: 'GET',
      pattern: '/v2/core/events/:id',
      auth: 'secret',
      handle: ({ pathParams }) => {
        const event = sender.event(pathParams.id ?? '');
        if (!event) throw noSuch('event', pathParams.id ?? '');
        return { body: structuredClone(event) };
      },
    },
  ];
}
