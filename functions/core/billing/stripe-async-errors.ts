import { auditEntry } from '../shared/audit-entries.js';
import type { AuditLog, LedgerPages, LedgerRecord, LedgerStore } from '../shared/ports.js';
import { parseMeterEventIdentifier } from './stripe-reporting.js';

/**
 * Stripe's asynchronous refusals of meter events (the v2 stream answers `{}` and validates later): the
 * webhook's error report, read as plain data, and the ledger records it names, marked in error with
 * Stripe's reason so that reconcile lists them. Stripe sends samples only: a refused event it does not
 * sample stays `sent` in the ledger, and reconcile finds it anyway, as Stripe holding less than was sent.
 */

/** The two thin events Stripe sends for meter events it refused after accepting them. */
export const ASYNC_ERROR_EVENT_TYPES = ['v1.billing.meter.error_report_triggered', 'v1.billing.meter.no_meter_found'] as const;
export type AsyncErrorEventType = (typeof ASYNC_ERROR_EVENT_TYPES)[number];

/** One sampled refusal: Stripe's error code and message, and the identifier of the meter event refused. */
export interface AsyncErrorSample {
  code: string;
  message: string;
  identifier: string;
}

/** An error report as fetched from Stripe (`/v2/core/events/{id}`), reduced to what marking needs. */
export interface AsyncErrorReport {
  eventId: string;
  type: AsyncErrorEventType;
  /** Refusals in Stripe's validation window, sampled or not. */
  errorCount: number;
  samples: AsyncErrorSample[];
}

/** What marking one report did. */
export interface AsyncErrorMarking {
  eventId: string;
  /** Records now in error under Stripe's reason. */
  marked: number;
  /** Records this event had marked already (Stripe delivers a webhook at least once). */
  alreadyMarked: number;
  /** Sampled identifiers no record answers to (not ours, a hashed customer id, or a superseded identifier). */
  unresolved: string[];
  /** Refusals Stripe counted but did not sample: reconcile finds them as `not_in_stripe`. */
  unsampled: number;
}

/**
 * The ledger error an asynchronous refusal settles a record under. Stripe's codes for a cause that can be
 * fixed (a customer mapped, a meter set up or reactivated) map to the synchronous ones, which the close and
 * `reconcile --fix` send again (`RESENDABLE_ERRORS`); any other (a value, a timestamp) stays for a person.
 */
export function ledgerErrorOf(code: string): string {
  switch (code) {
    case 'meter_event_customer_not_found':
      return 'unknown_customer';
    case 'meter_event_no_customer_defined':
      return 'missing_customer';
    case 'no_meter':
      return 'no_meter';
    case 'archived_meter':
      return 'meter_inactive';
    default:
      return `stripe_async:${code}`;
  }
}

/**
 * The error report in a fetched Stripe event's `data` (pure): every sample with a string identifier, in order.
 * Throws a plain `Error` naming the field for a payload that is not an error report (Stripe changed its shape).
 */
export function asyncErrorReportOf(event: { id: string; type: AsyncErrorEventType; data?: unknown }): AsyncErrorReport {
  const reason = (event.data as { reason?: { error_count?: unknown; error_types?: unknown } } | undefined)?.reason;
  if (!reason || !Array.isArray(reason.error_types)) throw new Error(`event ${event.id}: data.reason.error_types is missing`);
  const samples: AsyncErrorSample[] = [];
  let counted = 0;
  for (const t of reason.error_types as { code?: unknown; error_count?: unknown; sample_errors?: unknown }[]) {
    const code = typeof t?.code === 'string' ? t.code : 'unknown';
    counted += typeof t?.error_count === 'number' ? t.error_count : 0;
    for (const s of Array.isArray(t?.sample_errors)
      ? (t.sample_errors as { error_message?: unknown; request?: { identifier?: unknown } }[])
      : []) {
      const identifier = s?.request?.identifier;
      if (typeof identifier !== 'string') continue;
      samples.push({ code, message: typeof s.error_message === 'string' ? s.error_message : code, identifier });
    }
  }
  const errorCount = typeof reason.error_count === 'number' ? reason.error_count : counted;
  return { eventId: event.id, type: event.type, errorCount: Math.max(errorCount, samples.length), samples };
}

/** A record after Stripe refused it asynchronously (pure): in error under `ledgerErrorOf(code)`, the refusal kept beside it. */
export function markAsyncError(r: LedgerRecord, sample: AsyncErrorSample, eventId: string, nowMs: number): LedgerRecord {
  return {
    ...r,
    state: 'error',
    lastError: ledgerErrorOf(sample.code),
    errorDetail: `Stripe refused it after accepting it (${sample.code}): ${sample.message}`,
    asyncError: { code: sample.code, message: sample.message, eventId, reportedAt: new Date(nowMs).toISOString() },
  };
}

/**
 * Marks the ledger records an error report samples. A record is found by its identifier's key, and marked
 * only while it still carries that identifier (a resend under a newer one is judged on its own).
 */
export async function recordAsyncErrors(
  report: AsyncErrorReport,
  deps: { ledger: Pick<LedgerStore, 'update'> & Pick<LedgerPages, 'record'> },
  nowMs: number,
): Promise<AsyncErrorMarking> {
  const out: AsyncErrorMarking = { eventId: report.eventId, marked: 0, alreadyMarked: 0, unresolved: [], unsampled: 0 };
  const changed = new Map<string, LedgerRecord>();
  for (const sample of report.samples) {
    const key = parseMeterEventIdentifier(sample.identifier);
    const record = key && 'customerId' in key ? await deps.ledger.record(key.customerId, key) : undefined;
    if (!record || record.identifier !== sample.identifier) {
      out.unresolved.push(sample.identifier);
      continue;
    }
    if (record.asyncError?.eventId === report.eventId || changed.has(record.identifier)) {
      out.alreadyMarked++;
      continue;
    }
    changed.set(record.identifier, markAsyncError(record, sample, report.eventId, nowMs));
  }
  if (changed.size > 0) await deps.ledger.update([...changed.values()]);
  out.marked = changed.size;
  out.unsampled = Math.max(0, report.errorCount - report.samples.length);
  return out;
}

/** What one verified webhook carried: a meter error report (fetched in full from Stripe), or a type we do not act on. */
export type ReceivedWebhook = { kind: 'async_errors'; report: AsyncErrorReport } | { kind: 'ignored'; eventId: string; type: string };

/** Stripe's webhooks, verified (the port `functions/adapters/stripe/stripe-webhooks.ts` implements). */
export interface StripeWebhooks {
  /** Verifies the signature over the exact body and reads the event; throws `WebhookSignatureError` when it does not verify. */
  receive(rawBody: string | Uint8Array, signature: string | undefined): Promise<ReceivedWebhook>;
}

/** What the endpoint answers Stripe with (and the audit record counts). */
export type WebhookHandled =
  | { eventId: string; type: string; ignored: true }
  | ({ type: AsyncErrorEventType; ignored: false } & AsyncErrorMarking);

/** Most identifiers one audit record lists (a report samples a few; the counts are always whole). */
const AUDIT_IDENTIFIERS = 50;

/**
 * A verified webhook, acted on: an error report marks the ledger records it names (`recordAsyncErrors`)
 * and is audited with its counts; any other type is acknowledged and left alone.
 */
export async function handleStripeWebhook(
  received: ReceivedWebhook,
  deps: { ledger: Pick<LedgerStore, 'update'> & Pick<LedgerPages, 'record'>; audit: AuditLog; newId: () => string; requestId: string },
  nowMs: number,
): Promise<WebhookHandled> {
  if (received.kind === 'ignored') return { eventId: received.eventId, type: received.type, ignored: true };
  const { report } = received;
  const marking = await recordAsyncErrors(report, deps, nowMs);
  await deps.audit.record(
    auditEntry(deps.newId(), nowMs, {
      action: 'stripe.async_errors',
      actor: 'stripe',
      counts: {
        marked: marking.marked,
        alreadyMarked: marking.alreadyMarked,
        unresolved: marking.unresolved.length,
        unsampled: marking.unsampled,
      },
      details: {
        requestId: deps.requestId,
        eventId: report.eventId,
        type: report.type,
        errorCount: report.errorCount,
        samples: report.samples.slice(0, AUDIT_IDENTIFIERS),
        unresolved: marking.unresolved.slice(0, AUDIT_IDENTIFIERS),
      },
    }),
  );
  return { ...marking, type: report.type, ignored: false };
}
