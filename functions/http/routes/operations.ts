import { ValidationError } from '../../../contract/errors.js';
import { recentRuns } from '../../core/close/recent-runs.js';
import { replayQuarantine } from '../../core/ingest/replay.js';
import { auditEntry } from '../../core/shared/audit-entries.js';
import type { QuarantineItem, QuarantineReason } from '../../core/shared/ports.js';
import type { Services } from '../../runtime/services.js';
import { authorize } from '../auth.js';
import { pageOf } from '../paging.js';
import { callerOf, jsonBody } from '../request.js';
import { json } from '../responses.js';
import type { Route } from '../router.js';

const REASONS: readonly QuarantineReason[] = ['unknown_customer', 'invalid', 'malformed_message'];
const ID = /^[^#\s]{1,256}$/;

/** GET /v1/close-runs?limit=: the newest close runs, newest first, with their progress (admin). */
export const listCloseRuns: Route<Services> = async ({ event }, s) => {
  await authorize(event, s, ['admin']);
  const { limit } = pageOf(event.queryStringParameters ?? {});
  const today = new Date(s.clock.now()).toISOString().slice(0, 10);
  return json(200, { runs: await recentRuns(s.rollups, today, limit) });
};

/**
 * GET /v1/quarantine?reason=&customer=&limit=&cursor=: quarantined items a page at a time (admin). Only what
 * an operator needs to judge an item: never its event or raw payload (stored redacted, but still a customer's data).
 */
export const listQuarantine: Route<Services> = async ({ event }, s) => {
  await authorize(event, s, ['admin']);
  const q = event.queryStringParameters ?? {};
  const filter = quarantineFilterOf(q);
  const page = await s.quarantine.page(filter, pageOf(q));
  return json(200, { items: page.items.map(summaryOf), ...(page.cursor ? { cursor: page.cursor } : {}) });
};

/**
 * POST /v1/quarantine/replay {reason?, customer?}: re-checks the matching items and re-enqueues those that now
 * pass (an unknown customer since registered); the rest stay with why. Audited as the CLI's replay is. 200 `{replayed, kept}`.
 */
export const postReplay: Route<Services> = async ({ event }, s) => {
  const caller = await authorize(event, s, ['admin']);
  const parsed = jsonBody(event);
  if ('invalid' in parsed) return parsed.invalid;
  const body = parsed.body ?? {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new ValidationError([{ field: 'body', message: 'must be a JSON object' }]);
  const filter = quarantineFilterOf(body as Record<string, unknown>);
  const out = await replayQuarantine(filter, { ...s, customers: (ids) => s.registry.customers(ids) });
  await s.audit.record(
    auditEntry(s.newId(), s.clock.now(), {
      action: 'replay',
      actor: caller.principal,
      ...(filter.customerId ? { customerId: filter.customerId } : {}),
      ...callerOf(event, s.config),
      counts: { replayed: out.replayed, kept: out.kept.length },
      details: { ...(filter.reason ? { reason: filter.reason } : {}), ...(filter.customerId ? { customer: filter.customerId } : {}) },
    }),
  );
  return json(200, { replayed: out.replayed, kept: out.kept });
};

/** POST /v1/dlq/redrive: moves dead-lettered events back to the event queue (safe: the consumer dedupes); audited. 200 `{moved}`. */
export const postRedrive: Route<Services> = async ({ event }, s) => {
  const caller = await authorize(event, s, ['admin']);
  const { moved } = await s.queue.redrive();
  await s.audit.record(
    auditEntry(s.newId(), s.clock.now(), {
      action: 'dlq.redrive',
      actor: caller.principal,
      ...callerOf(event, s.config),
      counts: { moved },
    }),
  );
  return json(200, { moved });
};

/**
 * GET /v1/audit?day=YYYY-MM-DD&actor=&action=&customer=&limit=&cursor=: one day's trail, newest first, filtered
 * (admin). `day` is required: the trail is partitioned by day, and a day is what one search reads at most.
 */
export const searchAudit: Route<Services> = async ({ event }, s) => {
  await authorize(event, s, ['admin']);
  const q = event.queryStringParameters ?? {};
  const errors: { field: string; message: string }[] = [];
  const day = q.day;
  if (day === undefined || !/^\d{4}-\d{2}-\d{2}$/.test(day) || new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10) !== day)
    errors.push({ field: 'day', message: 'is required: a UTC day, YYYY-MM-DD' });
  for (const field of ['actor', 'action', 'customer'] as const) {
    const v = q[field];
    if (v !== undefined && (v.length === 0 || v.length > 256)) errors.push({ field, message: 'must be 1-256 characters' });
  }
  if (errors.length > 0) throw new ValidationError(errors);
  const page = await s.audit.search(
    {
      day: day!,
      ...(q.actor !== undefined ? { actor: q.actor } : {}),
      ...(q.action !== undefined ? { action: q.action } : {}),
      ...(q.customer !== undefined ? { customerId: q.customer } : {}),
    },
    pageOf(q),
  );
  return json(200, { entries: page.items, ...(page.cursor ? { cursor: page.cursor } : {}) });
};

/** The `reason` and `customer` of a quarantine listing or replay, each checked and named when bad. */
function quarantineFilterOf(input: Record<string, unknown>): { reason?: QuarantineReason; customerId?: string } {
  const errors: { field: string; message: string }[] = [];
  const { reason, customer } = input;
  if (reason !== undefined && !REASONS.includes(reason as QuarantineReason))
    errors.push({ field: 'reason', message: `must be one of ${REASONS.join(', ')}` });
  if (customer !== undefined && (typeof customer !== 'string' || !ID.test(customer)))
    errors.push({ field: 'customer', message: 'must be a customer id: 1-256 characters without "#" or whitespace' });
  if (errors.length > 0) throw new ValidationError(errors);
  return {
    ...(reason !== undefined ? { reason: reason as QuarantineReason } : {}),
    ...(customer !== undefined ? { customerId: customer as string } : {}),
  };
}

function summaryOf(i: QuarantineItem) {
  const { customerId, key, reason, errors, replayable, origin, quarantinedAt, attempts, lastError } = i;
  return {
    customerId,
    key,
    reason,
    errors,
    replayable,
    origin,
    quarantinedAt,
    attempts,
    ...(lastError !== undefined ? { lastError } : {}),
  };
}
